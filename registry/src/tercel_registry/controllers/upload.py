"""`/legacy/`: the upload API twine and `uv publish` speak (PyPI's "legacy" upload).

A multipart form: `:action=file_upload`, the file in the `content` part, and the metadata fields
twine sends (`name`, `version`, `filetype`, digests…). Answers are plain text, like pypiserver's:
twine shows the status line, and the body (the reason) with `--verbose`; 409 means the file
exists (twine's `--skip-existing` knows it), 403 a token outside its scopes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Controller, MediaType, Request, Response, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency

from .._errors import BadRequest
from .._registry import Registry

__all__ = ["UploadController"]


class UploadController(Controller):
    path = "/legacy"
    opt = {"errors": "text"}
    include_in_schema = False

    @post("/", status_code=200)
    async def upload(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry]) -> Response[str]:
        # the token first: a caller without a valid one is refused before its body is read
        token = await asyncio.to_thread(registry.tokens.authenticate, request.headers.get("authorization"))
        try:
            form = await request.form()
        except (UnicodeError, LookupError) as exc:
            raise BadRequest(f"a field of the upload form is not text in its charset: {exc}") from None
        content = form.get("content")
        if not isinstance(content, UploadFile):
            raise BadRequest("the upload has no file: send it in the multipart part named 'content'")
        fields: dict[str, str] = {}
        for key, value in form.multi_items():
            if isinstance(value, str):
                fields.setdefault(key, value)
        data = await content.read()
        record = await asyncio.to_thread(registry.publish, token, fields, content.filename or "", data)
        return Response(
            f"OK: {record.filename} published ({record.version}, sha256 {record.sha256})\n",
            media_type=MediaType.TEXT,
        )
