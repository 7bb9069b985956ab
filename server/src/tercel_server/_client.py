"""A small client of the API, for the CLI's CI/CD commands (`tercel flows deploy`,
`tercel executions trigger`). Credentials come from the environment, never from arguments (which
leak into shell history and process lists)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
from tercel.errors import TercelError

__all__ = ["ApiClient", "ClientError"]


class ClientError(TercelError):
    """The server refused a request or could not be reached; the message says why."""

    def __init__(self, message: str, details: list[Any] | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.details = details or []
        self.status = status


def _auth_from_env() -> httpx.Auth | dict[str, str] | None:
    token = os.environ.get("TERCEL_API_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    user, password = os.environ.get("TERCEL_BASIC_AUTH_USERNAME"), os.environ.get("TERCEL_BASIC_AUTH_PASSWORD")
    if user and password:
        return httpx.BasicAuth(user, password)
    return None


class ApiClient:
    """`/api/v1` of one server; `TERCEL_API_TOKEN` (or the basic-auth variables) authenticates."""

    def __init__(self, url: str | None = None, *, timeout: float = 60.0) -> None:
        base = (url or os.environ.get("TERCEL_SERVER_URL") or "http://127.0.0.1:8080").rstrip("/")
        auth = _auth_from_env()
        headers = auth if isinstance(auth, dict) else {}
        self.url = base
        self._http = httpx.Client(
            base_url=f"{base}/api/v1", auth=auth if isinstance(auth, httpx.Auth) else None, headers=headers, timeout=timeout
        )

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ClientError(f"cannot reach {self.url}: {exc}") from None
        if response.status_code >= 400:
            try:
                body = response.json()
                message, details = body.get("message", response.text), body.get("details")
            except ValueError:
                message, details = response.text, None
            if response.status_code == 401:
                message += " (set TERCEL_API_TOKEN, or TERCEL_BASIC_AUTH_USERNAME and TERCEL_BASIC_AUTH_PASSWORD)"
            raise ClientError(f"{method} {path}: {response.status_code} {message}", details, response.status_code)
        return response

    def validate(self, source: str) -> list[dict[str, Any]]:
        return self.request("POST", "/flows/validate", content=source, headers={"content-type": "application/x-yaml"}).json()

    def flow_source(self, namespace: str, flow_id: str) -> str | None:
        try:
            return self.request("GET", f"/flows/{namespace}/{flow_id}", headers={"Accept": "application/x-yaml"}).text
        except ClientError as exc:
            if exc.status == 404:
                return None
            raise

    def create_flow(self, source: str) -> dict[str, Any]:
        return self.request("POST", "/flows", content=source, headers={"content-type": "application/x-yaml"}).json()

    def update_flow(self, namespace: str, flow_id: str, source: str) -> dict[str, Any]:
        return self.request("PUT", f"/flows/{namespace}/{flow_id}", content=source, headers={"content-type": "application/x-yaml"}).json()

    def trigger(self, namespace: str, flow_id: str, inputs: dict[str, Any], labels: dict[str, str], *, wait: bool = False) -> dict[str, Any]:
        params: dict[str, Any] = {"labels": [f"{k}:{v}" for k, v in labels.items()]}
        if wait:
            params["wait"] = "true"
        return self.request("POST", f"/executions/{namespace}/{flow_id}", json=inputs, params=params, timeout=None if wait else 60.0).json()

    def execution(self, execution_id: str) -> dict[str, Any]:
        return self.request("GET", f"/executions/{execution_id}").json()

    def follow_logs(self, execution_id: str) -> Iterator[dict[str, Any]]:
        """The execution's log entries as they come, until it ends (Server-Sent Events)."""
        try:
            with self._http.stream("GET", f"/logs/{execution_id}/follow", timeout=None) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ClientError(f"following logs: {response.status_code} {response.text}", status=response.status_code)
                for line in response.iter_lines():
                    if line.startswith("data:"):
                        yield json.loads(line[5:])
        except httpx.HTTPError as exc:
            raise ClientError(f"lost the log stream of {execution_id}: {exc}") from None
