"""The files folder: uploaded bytes kept under their SHA-256, written atomically.

A file's path is made of its digest only (`ab/cd/abcd…`), never of the name a client sent, so no
upload can write outside the folder or over another file; the same bytes are kept once. A write
goes to a temporary file in the folder, is flushed to disk, then renamed into place: a reader
sees the whole file or none, even if the registry is killed mid-write.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path

from ._errors import StoreError

__all__ = ["FileStore"]

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class FileStore:
    """Content-addressed files under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._incoming = root / ".incoming"

    def put(self, data: bytes, sha256: str | None = None) -> str:
        """Keep `data`; answers its path relative to the folder (to store in the database)."""
        digest = hashlib.sha256(data).hexdigest()
        if sha256 is not None and sha256 != digest:
            raise StoreError(f"refusing to store bytes whose sha256 is {digest} under {sha256}")
        relative = f"{digest[:2]}/{digest[2:4]}/{digest}"
        target = self.root / relative
        if target.is_file() and target.stat().st_size == len(data):
            return relative
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._incoming.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self._incoming, prefix=digest[:12] + ".")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.chmod(tmp, 0o644)
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            raise StoreError(f"cannot write {target} in the registry's files folder: {exc.strerror or exc}") from exc
        return relative

    def path(self, relative: str) -> Path:
        """The absolute path of a stored file (refuses what is not one of this folder's paths)."""
        parts = relative.split("/")
        if len(parts) != 3 or not _DIGEST.match(parts[2]) or parts[0] != parts[2][:2] or parts[1] != parts[2][2:4]:
            raise StoreError(f"{relative!r} is not a path of the registry's files folder")
        return self.root / relative
