"""The registry's exception tree, and how an error becomes an HTTP answer.

Every error the registry raises on purpose is a `RegistryError`; those a client causes carry
their HTTP status. The answer's shape follows its audience: JSON (`{"message": …}`) on the
catalog API, plain text on the package-index routes (`/simple/`, `/files/`, `/legacy/`: what
pip, uv and twine print), a small HTML page on the human pages. A route says which through its
``opt={"errors": "json" | "text" | "html"}``. Nothing internal leaks: an unexpected error is a
500 with a reference to the registry's log.
"""

from __future__ import annotations

import html
import logging
import uuid
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException
from tercel.errors import TercelError

__all__ = [
    "ApiError",
    "BadRequest",
    "ConfigError",
    "Conflict",
    "Forbidden",
    "NotAcceptable",
    "NotFound",
    "RegistryError",
    "StoreError",
    "Unauthorized",
    "exception_handlers",
]

log = logging.getLogger("tercel.registry")


class RegistryError(TercelError):
    """The root of the registry's errors: catch this to catch them all."""


class ConfigError(RegistryError):
    """The configuration file or an environment variable is wrong; the message says which."""


class StoreError(RegistryError):
    """The registry's database or files folder refused an operation (the cause is chained)."""


class ApiError(RegistryError):
    """An error a client caused, with the HTTP status that tells it what to do."""

    status_code = 400

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.headers = headers or {}


class BadRequest(ApiError):
    status_code = 400


class Unauthorized(ApiError):
    status_code = 401

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'Basic realm="tercel registry"'})


class Forbidden(ApiError):
    status_code = 403


class NotFound(ApiError):
    status_code = 404


class NotAcceptable(ApiError):
    status_code = 406


class Conflict(ApiError):
    status_code = 409


def _answer(request: Request[Any, Any, Any], status: int, message: str, headers: dict[str, str] | None = None) -> Response[Any]:
    headers = dict(headers or {})
    if "/simple" in request.url.path:
        headers["Vary"] = "Accept"  # the simple API negotiates every answer (PEP 691)
    style = "json"
    handler = request.scope.get("route_handler")
    if handler is not None:
        style = handler.opt.get("errors", "json")
    if style == "text":
        return Response(message + "\n", status_code=status, media_type=MediaType.TEXT, headers=headers)
    if style == "html":
        body = (
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>tercel registry: error</title></head>"
            f"<body><h1>{status}</h1><p>{html.escape(message)}</p></body></html>"
        )
        return Response(body, status_code=status, media_type=MediaType.HTML, headers=headers)
    return Response({"message": message}, status_code=status, media_type=MediaType.JSON, headers=headers)


def _api(request: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    return _answer(request, exc.status_code, str(exc), exc.headers)


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    message = str(exc.detail)
    if exc.status_code == 413:
        message = f"the request is larger than this registry accepts ({message})"
    elif isinstance(exc.extra, list) and exc.extra:  # Litestar's validation errors: what and where
        parts = [f"{e.get('key')}: {e.get('message')}" if isinstance(e, dict) else str(e) for e in exc.extra]
        message += ": " + "; ".join(parts)
    elif exc.extra:
        message += f": {exc.extra}"
    return _answer(request, exc.status_code, message, exc.headers)


def _registry(request: Request[Any, Any, Any], exc: RegistryError) -> Response[Any]:
    ref = uuid.uuid4().hex[:12]
    log.error("registry error %s on %s %s: %s", ref, request.method, request.url.path, exc)
    return _answer(request, 503 if isinstance(exc, StoreError) else 500, f"{exc} (reference {ref})")


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    ref = uuid.uuid4().hex[:12]
    log.exception("unexpected error %s on %s %s", ref, request.method, request.url.path)
    return _answer(request, 500, f"internal error (reference {ref} in the registry's log)")


exception_handlers: dict[type[Exception], Any] = {
    ApiError: _api,
    RegistryError: _registry,
    HTTPException: _http,
    Exception: _internal,
}
