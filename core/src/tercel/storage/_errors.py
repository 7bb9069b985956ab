"""Errors of internal storage; all are `TercelError`s so callers can catch them together."""

from __future__ import annotations

from tercel.errors import TercelError

__all__ = ["FileNotFoundInStorage", "StorageError"]


class StorageError(TercelError):
    """A storage operation was refused (bad URI, path trick) or failed (the OS error is the cause)."""


class FileNotFoundInStorage(StorageError):
    """No file at this URI (it was never written, was deleted, or is a directory prefix)."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        super().__init__(f"no file in internal storage at {uri}")
