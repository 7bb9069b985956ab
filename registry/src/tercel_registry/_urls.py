"""Where the registry's routes are, wherever it is mounted.

The index's own links are relative (`../../files/…` from `/simple/<name>/`), so they work under
any prefix and behind any proxy without configuration. The catalog API gives absolute file URLs
(a client downloads from them without knowing where the document came from): under the
configured public URL, else under the address the request came to plus the mount prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ._store import FileRecord

__all__ = ["Urls", "request_path"]


def request_path(request: Any) -> str:
    """The path the client asked for, as it sent it (Litestar's `url.path` drops a trailing
    slash, which decides how relative links resolve)."""
    raw = request.scope.get("raw_path")
    if raw:
        return raw.decode("latin-1").split("?", 1)[0]
    return str(request.url.path)


def _file_path(f: FileRecord) -> str:
    return f"files/{f.sha256}/{quote(f.filename)}"


@dataclass(frozen=True)
class Urls:
    """The mount's prefix (`""` at the root, `/registry` under tercel server) and public URL."""

    prefix: str
    public_url: str | None = None

    def base(self, request: Any) -> str:
        """The registry's absolute URL, without a trailing slash."""
        if self.public_url:
            return self.public_url
        return str(request.base_url).rstrip("/") + self.prefix

    def index_file(self, f: FileRecord) -> str:
        """A file's URL as a simple API project page (`/simple/<name>/`) links it."""
        if self.public_url:
            return f"{self.public_url}/{_file_path(f)}"
        return f"../../{_file_path(f)}"

    def absolute_file(self, request: Any, f: FileRecord) -> str:
        return f"{self.base(request)}/{_file_path(f)}"
