"""Internal storage: where task outputs, execution inputs, namespace files and KV values live.

Large data never goes into the execution record (DESIGN §3): tasks write files here and pass
their ``tercel:///`` URIs around. The layout is Kestra's::

    tercel:///<namespace as path>/<flowId>/executions/<executionId>/tasks/<taskId>/<taskRunId>/<file>
    tercel:///<namespace as path>/<flowId>/executions/<executionId>/inputs/<inputName>/<file>
    tercel:///<namespace as path>/_files/<path>                      (namespace files)

``kestra:///`` URIs are accepted wherever a URI is read.
"""

from tercel.storage._base import FileInfo, InternalStorage, PutData
from tercel.storage._errors import FileNotFoundInStorage, StorageError
from tercel.storage._local import LocalStorage
from tercel.storage._namespace import (
    FILES_FOLDER,
    NamespaceFileError,
    NamespaceFileExists,
    NamespaceFileInfo,
    NamespaceFileNotFound,
    NamespaceFiles,
    check_namespace_path,
)
from tercel.storage._uri import (
    KESTRA_SCHEME,
    SCHEME,
    execution_file_uri,
    execution_prefix_uri,
    input_file_uri,
    namespace_file_uri,
    namespace_prefix_uri,
    normalize_uri,
    split_uri,
    to_uri,
)

__all__ = [
    "FILES_FOLDER",
    "KESTRA_SCHEME",
    "SCHEME",
    "FileInfo",
    "FileNotFoundInStorage",
    "InternalStorage",
    "LocalStorage",
    "NamespaceFileError",
    "NamespaceFileExists",
    "NamespaceFileInfo",
    "NamespaceFileNotFound",
    "NamespaceFiles",
    "PutData",
    "StorageError",
    "check_namespace_path",
    "execution_file_uri",
    "execution_prefix_uri",
    "input_file_uri",
    "namespace_file_uri",
    "namespace_prefix_uri",
    "normalize_uri",
    "split_uri",
    "to_uri",
]
