"""Reading what a client sent: JSON bodies and multipart forms, every way they can be wrong a 400
that says what is wrong (never a 500 from deep inside a parser or an encoder).

A JSON text may escape half of a UTF-16 surrogate pair (``"\\ud800"``): it parses, but the result
is not Unicode text, and nothing downstream can store it or send it back (Ion, UTF-8, the JSON
answer itself). So such a body is refused where it comes in, naming where the bad text is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._errors import ApiError

if TYPE_CHECKING:
    from litestar import Request
    from litestar.datastructures import FormMultiDict

__all__ = ["lone_surrogate", "parse_json", "read_form"]


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def lone_surrogate(value: Any) -> str | None:
    """Where `value` (JSON-like: objects, arrays, text) holds a text with a lone surrogate, as a
    path (``$.tasks[0].format``, ``$`` for `value` itself), or None when all its text is Unicode."""
    pending: list[tuple[Any, str]] = [(value, "$")]
    while pending:
        item, path = pending.pop()
        if isinstance(item, str):
            if not _is_text(item):
                return path
        elif isinstance(item, Mapping):
            for key, child in item.items():
                if isinstance(key, str) and not _is_text(key):
                    return f"{path} (a key)"
                pending.append((child, f"{path}.{key}"))
        elif isinstance(item, list | tuple):
            pending.extend((child, f"{path}[{i}]") for i, child in enumerate(item))
    return None


def parse_json(body: bytes | str, what: str = "the body") -> Any:
    """The JSON value of a request body; `ApiError` (400) when it is not valid JSON, nests too
    deeply for the parser, or holds text that is not Unicode."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than Python's stack
        raise ApiError(f"{what} is not valid JSON: {exc}") from None
    where = lone_surrogate(value)
    if where is not None:
        raise ApiError(
            f"{what} is not valid JSON: the text at {where} escapes a lone UTF-16 surrogate (like "
            "\\ud800), which is not a Unicode character"
        )
    return value


async def read_form(request: Request[Any, Any, Any]) -> FormMultiDict:
    """The request's multipart (or urlencoded) form; `ApiError` (400) when a field is not text in
    the charset it names, names no text charset (`base64`), or decodes to what is not Unicode."""
    try:
        form = await request.form()
    except (UnicodeError, LookupError) as exc:
        raise ApiError(f"a field of the form is not text in its charset: {exc}") from None
    for name, value in form.multi_items():
        if lone_surrogate(name) is not None or (isinstance(value, str) and lone_surrogate(value) is not None):
            raise ApiError(
                "a field of the form is not Unicode text: its charset made a lone UTF-16 surrogate of it"
            )
    return form
