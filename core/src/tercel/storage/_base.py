"""The internal-storage contract every backend (local folder, S3, ...) implements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

__all__ = ["FileInfo", "InternalStorage", "PutData"]

PutData = bytes | bytearray | memoryview | BinaryIO | Path
"""What `InternalStorage.put` accepts: bytes, a binary file object (read to its end), or a path."""


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One stored file, as `InternalStorage.list` reports it."""

    uri: str
    """Canonical ``tercel:///`` URI."""
    path: str
    """The decoded path under the storage root, ``/``-separated (``company/team/flow/...``)."""
    size: int
    modified: datetime
    """Last modification, tz-aware UTC."""

    @property
    def name(self) -> str:
        """The file name, the last segment of `path`."""
        return self.path.rsplit("/", 1)[-1]


@runtime_checkable
class InternalStorage(Protocol):
    """Where task outputs, execution inputs, namespace files and KV values live as files.

    URIs are ``tercel:///<namespace as path>/...`` (``kestra:///`` accepted on input); every
    method validates them and raises `StorageError` for path tricks. Writes are atomic: a reader
    sees the old file or the new one, never a mix, whatever concurrent writers do.
    """

    def put(self, uri: str, data: PutData) -> str:
        """Store `data` at `uri` (replacing any file there) and return the canonical URI."""
        ...

    def open(self, uri: str) -> BinaryIO:
        """Open the file for reading; `FileNotFoundInStorage` if there is none."""
        ...

    def get_bytes(self, uri: str) -> bytes:
        """The whole file; `FileNotFoundInStorage` if there is none."""
        ...

    def exists(self, uri: str) -> bool:
        """Whether a *file* exists at `uri` (a folder prefix is not a file)."""
        ...

    def size(self, uri: str) -> int:
        """The file's size in bytes; `FileNotFoundInStorage` if there is none."""
        ...

    def delete(self, uri: str) -> bool:
        """Delete one file; False if there was none."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete every file under `prefix` (whole path segments) and return how many."""
        ...

    def list(self, prefix: str) -> list[FileInfo]:
        """Every file under `prefix` (whole path segments, recursive), sorted by path."""
        ...

    def local_path(self, uri: str) -> Path:
        """A local file with the content, for zero-copy reads; do not write to it."""
        ...
