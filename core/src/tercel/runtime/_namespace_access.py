"""`ctx.namespace_files`: the SDK's `NamespaceFilesAccess` for one task run.

A task reaches the files of its flow's namespace, or of a child namespace with `namespace=`
(the rule `Runtime.check_file_access` applies to every file a flow reads); anything else is
refused before the storage is touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from tercel_sdk import NamespaceFile

from tercel.errors import TercelError
from tercel.storage import NamespaceFileError, NamespaceFileInfo, NamespaceFiles

if TYPE_CHECKING:
    from ._runtime import Runtime

__all__ = ["NamespaceAccessDenied", "NamespaceFilesForTask"]


class NamespaceAccessDenied(TercelError):
    """A flow asked for the KV or files of a namespace it may not use."""


def _sdk_file(info: NamespaceFileInfo) -> NamespaceFile:
    return NamespaceFile(path=info.path, size=info.size, uri=info.uri)


class NamespaceFilesForTask:
    """The namespace files a task run may use: its flow's namespace and that namespace's children."""

    def __init__(self, runtime: Runtime, namespace: str) -> None:
        self._runtime = runtime
        self._namespace = namespace
        self._files = NamespaceFiles(runtime.storage)

    def __repr__(self) -> str:
        return f"NamespaceFilesForTask({self._namespace!r})"

    def _target(self, namespace: str | None) -> str:
        """The namespace to use, after checking the flow may use it."""
        if namespace is None:
            return self._namespace
        if not isinstance(namespace, str) or not namespace.strip():
            raise NamespaceFileError(f"`namespace` must name a namespace, got {namespace!r}")
        target = namespace.strip()
        self._files.root_uri(target)  # validates the name first
        self._runtime.check_namespace_access(self._namespace, target, "files")
        return target

    def list(self, prefix: str = "", *, namespace: str | None = None) -> list[NamespaceFile]:
        return [_sdk_file(info) for info in self._files.list(self._target(namespace), prefix)]

    def read(self, path: str, *, namespace: str | None = None) -> bytes:
        return self._files.get(self._target(namespace), path)

    def exists(self, path: str, *, namespace: str | None = None) -> bool:
        return self._files.exists(self._target(namespace), path)

    def write(
        self, path: str, data: bytes | Path | BinaryIO, *, namespace: str | None = None, overwrite: bool = True
    ) -> NamespaceFile:
        return _sdk_file(self._files.put(self._target(namespace), path, data, overwrite=overwrite))

    def delete(self, path: str, *, namespace: str | None = None) -> bool:
        return self._files.delete(self._target(namespace), path)
