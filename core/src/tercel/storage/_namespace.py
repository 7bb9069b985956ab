"""Namespace files: the file tree each namespace keeps (scripts, SQL, configuration).

Kestra's layout, so a storage folder moves between the two unchanged: the file ``scripts/etl.py``
of namespace ``company.team`` is ``tercel:///company/team/_files/scripts/etl.py``. `NamespaceFiles`
is the one place that knows it; the run context (`ctx.namespace_files`), the namespace tasks and
the server API all go through it.

Paths are relative and ``/``-separated (``scripts/etl.py``). They are validated before they
reach the storage, and every error names the path and what is wrong with it: a leading ``/``,
``..`` or ``.``, an empty segment, a backslash, NUL or another control character, a reserved
name. Folders exist only through the files in them (as in an object store): deleting the last
file of a folder makes the folder disappear.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from tercel.storage._base import InternalStorage, PutData
from tercel.storage._errors import FileNotFoundInStorage, StorageError
from tercel.storage._uri import TEMP_PREFIX, split_uri, to_uri

__all__ = [
    "FILES_FOLDER",
    "NamespaceFileError",
    "NamespaceFileExists",
    "NamespaceFileInfo",
    "NamespaceFileNotFound",
    "NamespaceFiles",
    "check_namespace_path",
]

FILES_FOLDER = "_files"
"""The folder under a namespace's storage prefix that holds its files."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class NamespaceFileError(StorageError):
    """A namespace-file operation was refused: an invalid path or namespace."""


class NamespaceFileExists(NamespaceFileError):
    """`put(..., overwrite=False)` found a file already there."""

    def __init__(self, namespace: str, path: str) -> None:
        self.namespace = namespace
        self.path = path
        super().__init__(
            f"namespace file {path!r} already exists in namespace {namespace!r} (overwrite is off)"
        )


class NamespaceFileNotFound(FileNotFoundInStorage):
    """No such file in the namespace (never written, deleted, or a folder)."""

    def __init__(self, namespace: str, path: str, uri: str) -> None:
        self.namespace = namespace
        self.path = path
        self.uri = uri
        StorageError.__init__(self, f"no namespace file {path!r} in namespace {namespace!r}")


@dataclass(frozen=True, slots=True)
class NamespaceFileInfo:
    """One file of a namespace."""

    path: str
    """Relative to the namespace root, ``/``-separated (``scripts/etl.py``)."""
    uri: str
    """Its ``tercel:///`` URI in internal storage (what tasks pass around)."""
    size: int
    modified: datetime
    """Last modification, tz-aware UTC."""

    @property
    def name(self) -> str:
        """The file name, the last segment of `path`."""
        return self.path.rsplit("/", 1)[-1]


def check_namespace_path(path: object, *, folder: bool = False) -> str:
    """Validate a namespace file path and return it.

    With `folder=True` the path names a folder: a trailing ``/`` is dropped and ``""`` (the
    namespace root) is allowed. Raises `NamespaceFileError` naming the path and the problem.
    """
    what = "folder" if folder else "file"
    if not isinstance(path, str):
        raise NamespaceFileError(f"a namespace {what} path must be text, not {type(path).__name__}")

    def bad(reason: str) -> NamespaceFileError:
        return NamespaceFileError(f"invalid namespace {what} path {path!r}: {reason}")

    if "\x00" in path or _CONTROL.search(path):
        raise bad("NUL and control characters are not allowed")
    if "\\" in path:
        raise bad("backslashes are not allowed; separate folders with '/'")
    if path.startswith("/"):
        raise bad("it must be relative to the namespace root (no leading '/')")
    text = path
    if folder:
        if text.endswith("/"):
            text = text[:-1]
        if not text:
            return ""
    elif not text:
        raise bad("it is empty")
    elif text.endswith("/"):
        raise bad("it ends with '/', which names a folder, not a file")
    for segment in text.split("/"):
        if not segment:
            raise bad("empty segments ('//') are not allowed")
        if segment in (".", ".."):
            raise bad(f"{segment!r} segments are not allowed")
        if segment.startswith(TEMP_PREFIX):
            raise bad(f"names starting with {TEMP_PREFIX!r} are reserved")
    return text


def _namespace_segments(namespace: object) -> list[str]:
    if not isinstance(namespace, str) or not namespace:
        raise NamespaceFileError(f"a namespace is required, got {namespace!r}")
    parts = namespace.split(".")
    if any(not part for part in parts):
        raise NamespaceFileError(f"invalid namespace {namespace!r}: it has an empty part")
    if any("/" in part or "\\" in part or _CONTROL.search(part) for part in parts):
        raise NamespaceFileError(
            f"invalid namespace {namespace!r}: use dot-separated parts of letters, digits, '_' and '-'"
        )
    return parts


class NamespaceFiles:
    """The files of every namespace, over an internal storage.

    `put(..., overwrite=False)` checks and writes in two steps: two writers racing for the same
    new path may both pass the check (the last write wins, as with `overwrite=True`).
    """

    def __init__(self, storage: InternalStorage) -> None:
        self.storage = storage

    def __repr__(self) -> str:
        return f"NamespaceFiles({self.storage!r})"

    # -- URIs ----------------------------------------------------------------------------------
    def root_uri(self, namespace: str) -> str:
        """The folder URI under which a namespace's files live (ends with ``/``)."""
        return self._uri(_namespace_segments(namespace), "") + "/"

    def uri(self, namespace: str, path: str) -> str:
        """The ``tercel:///`` URI of a namespace file (validated; the file need not exist)."""
        return self._uri(_namespace_segments(namespace), check_namespace_path(path))

    def _uri(self, ns_segments: list[str], path: str) -> str:
        segments = [*ns_segments, FILES_FOLDER, *(path.split("/") if path else ())]
        uri = to_uri(segments)
        try:
            split_uri(uri)  # the storage's own limits: name and path lengths
        except StorageError as exc:
            raise NamespaceFileError(f"invalid namespace file path {path!r}: {exc}") from None
        return uri

    def _base_path(self, namespace: str) -> str:
        return "/".join([*_namespace_segments(namespace), FILES_FOLDER]) + "/"

    # -- reading -------------------------------------------------------------------------------
    def list(self, namespace: str, prefix: str = "") -> list[NamespaceFileInfo]:
        """Every file under the folder `prefix` (``""``: all), recursively, sorted by path."""
        folder = check_namespace_path(prefix, folder=True)
        base = self._base_path(namespace)
        ns_segments = _namespace_segments(namespace)
        listed = self.storage.list(self._uri(ns_segments, folder) + "/")
        wanted = base + folder + "/" if folder else base
        return [
            NamespaceFileInfo(path=info.path[len(base):], uri=info.uri, size=info.size, modified=info.modified)
            for info in listed
            if info.path.startswith(wanted)
        ]

    def info(self, namespace: str, path: str) -> NamespaceFileInfo:
        """Size and modification time of one file; `NamespaceFileNotFound` if there is none."""
        uri = self.uri(namespace, path)
        for found in self.storage.list(uri):
            if found.uri == uri:
                return NamespaceFileInfo(path=path, uri=uri, size=found.size, modified=found.modified)
        raise NamespaceFileNotFound(namespace, path, uri)

    def exists(self, namespace: str, path: str) -> bool:
        """Whether a *file* exists at `path` (a folder is not a file)."""
        return self.storage.exists(self.uri(namespace, path))

    def open(self, namespace: str, path: str) -> BinaryIO:
        """Open a file for reading; `NamespaceFileNotFound` if there is none."""
        uri = self.uri(namespace, path)
        try:
            return self.storage.open(uri)
        except FileNotFoundInStorage:
            raise NamespaceFileNotFound(namespace, path, uri) from None

    def get(self, namespace: str, path: str) -> bytes:
        """The whole file; `NamespaceFileNotFound` if there is none."""
        with self.open(namespace, path) as fp:
            return fp.read()

    read = get

    # -- writing -------------------------------------------------------------------------------
    def put(self, namespace: str, path: str, data: PutData, *, overwrite: bool = True) -> NamespaceFileInfo:
        """Create or replace a file; with `overwrite=False` an existing one is `NamespaceFileExists`."""
        uri = self.uri(namespace, path)
        if not overwrite and self.storage.exists(uri):
            raise NamespaceFileExists(namespace, path)
        self.storage.put(uri, data)
        return self.info(namespace, path)

    def delete(self, namespace: str, path: str) -> bool:
        """Delete one file; False if there was none."""
        return self.storage.delete(self.uri(namespace, path))

    def delete_folder(self, namespace: str, folder: str) -> int:
        """Delete every file under `folder` (recursively) and return how many."""
        name = check_namespace_path(folder, folder=True)
        if not name:
            raise NamespaceFileError(
                f"invalid namespace folder path {folder!r}: it names the namespace root; "
                "name a folder (delete files one by one to empty a whole namespace)"
            )
        return self.storage.delete_prefix(self._uri(_namespace_segments(namespace), name) + "/")
