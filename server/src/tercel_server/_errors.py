"""How errors become HTTP answers: one JSON shape, the status a client can act on.

`{"message": …, "details": [...]}`; flow problems come with their positions (`path`, `line`,
`column`, `hint`), so an editor can point at them. Nothing internal leaks: an unexpected error
is a 500 with a reference to the server log.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException
from tercel.errors import ProblemsError, TercelError

__all__ = ["ApiError", "Conflict", "NotFound", "exception_handlers"]

log = logging.getLogger("tercel.server")


class ApiError(TercelError):
    """An error with its HTTP status."""

    status_code = 400

    def __init__(self, message: str, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or []


class NotFound(ApiError):
    status_code = 404


class Conflict(ApiError):
    status_code = 409


def _json(status: int, message: str, details: list[Any] | None = None, headers: dict[str, str] | None = None) -> Response[Any]:
    body: dict[str, Any] = {"message": message}
    if details:
        body["details"] = details
    return Response(body, status_code=status, media_type=MediaType.JSON, headers=headers)


def _problems(_: Request[Any, Any, Any], exc: ProblemsError) -> Response[Any]:
    return _json(422, exc.summary, [p.to_dict() for p in exc.problems])


def _api(_: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    return _json(exc.status_code, str(exc), exc.details)


def _tercel(_: Request[Any, Any, Any], exc: TercelError) -> Response[Any]:
    return _json(422, str(exc))


def _http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    details = exc.extra if isinstance(exc.extra, list) else ([exc.extra] if exc.extra else None)
    return _json(exc.status_code, str(exc.detail), details, headers=exc.headers)


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    ref = uuid.uuid4().hex[:12]
    log.exception("unexpected error %s on %s %s", ref, request.method, request.url.path)
    return _json(500, f"internal error (reference {ref} in the server log)")


exception_handlers: dict[type[Exception], Any] = {
    ProblemsError: _problems,
    ApiError: _api,
    TercelError: _tercel,
    HTTPException: _http,
    Exception: _internal,
}
