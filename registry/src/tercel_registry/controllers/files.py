"""`/files/<sha256>/<filename>`: the uploaded files, and `<filename>.metadata` (PEP 658), counted.

The digest picks the file and the filename must be its own: a URL names exactly one file, and
the name in it is only ever compared, never used as a path.
"""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import File

from .._registry import Registry

__all__ = ["FilesController"]


class FilesController(Controller):
    path = "/files"
    opt = {"errors": "text"}
    include_in_schema = False

    @get("/{sha256:str}/{filename:str}", sync_to_thread=True)
    def download(self, registry: NamedDependency[Registry], sha256: FromPath[str], filename: FromPath[str]) -> File:
        found = registry.download(sha256, filename)
        return File(
            found.path, filename=found.filename, media_type=found.media_type,
            headers={"Cache-Control": "public, max-age=31536000, immutable"},  # releases never change
        )
