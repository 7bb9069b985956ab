"""A small HTTP API on loopback, standing in for the service the plugin talks to.

Tests never leave the machine: point the task at `api.url`, shape the answers with
`api.documents`, and look at what was asked in `api.requests`. Nor do they touch a tercel of
yours: the `TERCEL_*` settings of the shell (a database URL, a storage path) are ignored.

    GET /documents/<name>   the JSON document `api.documents[name]` (404 if there is none)
    GET /echo               the query parameters and headers of the request, as JSON
    GET /text               a plain-text body
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest


class FakeApi:
    """The server and what it serves; `url` is its base URL (`http://127.0.0.1:<port>`)."""

    def __init__(self) -> None:
        self.documents: dict[str, Any] = {"city": {"name": "Paris", "temperature": 21.5}}
        self.requests: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str]) -> tuple[int, str, bytes]:
        """Status, media type and body for one GET."""
        self.requests.append({"path": path, "query": query, "headers": headers})
        if path == "/echo":
            return 200, "application/json", json.dumps({"query": query, "headers": headers}).encode()
        if path == "/text":
            return 200, "text/plain; charset=utf-8", b"plain text"
        name = path.removeprefix("/documents/")
        if path.startswith("/documents/") and name in self.documents:
            return 200, "application/json", json.dumps(self.documents[name]).encode()
        return 404, "application/json", json.dumps({"error": f"nothing at {path}"}).encode()


def _handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, content_type, body = api.answer(parts.path, dict(parse_qsl(parts.query)), headers)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

    return Handler


@pytest.fixture(scope="session")
def api() -> Iterator[FakeApi]:
    with FakeApi() as server:
        yield server


@pytest.fixture(autouse=True)
def _no_tercel_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine of `tercel_sdk.testing` runs on a throwaway home, whatever the shell says."""
    for name in [n for n in os.environ if n.startswith("TERCEL_")]:
        monkeypatch.delenv(name)
