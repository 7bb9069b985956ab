"""The HTTP call this plugin makes, shared by its task{% if cookiecutter.include_trigger %} and its trigger{% endif %}.

Standard library only: a plugin's dependencies land in every environment it is installed in,
so it adds one only when it earns its place. A GET, `http(s)://` only (a flow must not make
the worker read its own files through `file://`), the body read up to a limit, and every
failure turned into a `TaskFailed` that says what the server answered, without the query
string (where API keys often travel).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tercel_sdk import TaskFailed

__all__ = ["Response", "get", "redact"]

USER_AGENT = "{{ cookiecutter.__distribution }}/{{ cookiecutter.__version }}"
TIMEOUT = 30.0
"""Seconds to wait for the server (to connect, then between two reads)."""


@dataclass(frozen=True)
class Response:
    """One answer: where it came from, its status, media type and raw body."""

    url: str
    status: int
    content_type: str
    charset: str
    body: bytes

    def decoded(self) -> Any:
        """The body as a flow wants it: JSON as values, anything else as text."""
        text = self.body.decode(self.charset, errors="replace")
        if self.content_type == "application/json" or self.content_type.endswith("+json"):
            try:
                return json.loads(text)
            except ValueError as exc:
                raise TaskFailed(f"GET {redact(self.url)} answered invalid JSON: {exc}") from None
        return text


def redact(url: str) -> str:
    """`scheme://host/path` of a URL: what is safe to log or put in an error."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def get(
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    max_bytes: int = 1 << 20,
) -> Response:
    """GET `url` with these query parameters and headers; a `TaskFailed` unless it succeeds."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TaskFailed(f"`url` must be an http:// or https:// URL, got {url!r}")
    if params:
        query = urllib.parse.urlencode(dict(params))
        url = urllib.parse.urlunsplit(parts._replace(query=f"{parts.query}&{query}" if parts.query else query))
    request = urllib.request.Request(
        url, headers={"User-Agent": USER_AGENT, "Accept": "application/json, */*;q=0.5", **dict(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            body = answer.read(max_bytes + 1)
            status = answer.status
            content_type = answer.headers.get_content_type()
            charset = answer.headers.get_content_charset() or "utf-8"
    except urllib.error.HTTPError as exc:
        detail = exc.read(500).decode("utf-8", errors="replace").strip()
        message = f"GET {redact(url)} answered {exc.code} {exc.reason}"
        raise TaskFailed(f"{message}: {detail}" if detail else message) from None
    except (urllib.error.URLError, OSError) as exc:
        raise TaskFailed(f"GET {redact(url)} failed: {getattr(exc, 'reason', exc)}") from None
    if len(body) > max_bytes:
        raise TaskFailed(f"GET {redact(url)}: the body is larger than maxBytes ({max_bytes:,} bytes)")
    return Response(url, status, content_type, charset, body)
