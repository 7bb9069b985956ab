"""The registry as the nightly sees it: its catalog, its files, and its nightly results API.

One `httpx.Client` shared by the runner's threads. Errors are sorted by what the runner can do
about them: a registry that does not answer (or answers 5xx after a few tries) is
`RegistryUnavailable`, one that refuses the token or a request is `RegistryRefused`; both stop
the run. A 409 on posting a result is not an error: another runner recorded it first.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from .errors import NightlyError, RegistryRefused, RegistryUnavailable

__all__ = ["DownloadError", "RegistryClient"]

_TRIES = 3
_PAGE = 100


class DownloadError(NightlyError):
    """A file of a plugin version could not be fetched or does not match its sha256."""


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300]
    if isinstance(body, Mapping):
        return str(body.get("message") or body.get("detail") or body)[:300]
    return str(body)[:300]


class RegistryClient:
    """The registry's HTTP API (`base` is its root URL, the token is sent as a Bearer)."""

    def __init__(self, base: str, token: str, *, timeout: float = 60) -> None:
        self.base = base.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base, timeout=timeout, follow_redirects=True,
            transport=httpx.HTTPTransport(retries=2),  # connection attempts only
            headers={"Accept": "application/json", "User-Agent": "tercel-nightly"},
        )
        self._auth = {"Authorization": f"Bearer {token}"}

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------------------ plumbing

    def _request(
        self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None,
        auth: bool = False, allow: tuple[int, ...] = (),
    ) -> httpx.Response:
        """The answer, retried on 5xx and dropped connections; `allow` lists the client-error
        statuses the caller handles itself."""
        what = f"{method} {self.base}{path}"
        for attempt in range(_TRIES):
            try:
                response = self._http.request(
                    method, path, json=json, params=params, headers=self._auth if auth else None,
                )
            except httpx.HTTPError as exc:
                if attempt + 1 == _TRIES:
                    raise RegistryUnavailable(f"{what}: the registry does not answer ({exc})") from None
            else:
                if response.status_code < 400 or response.status_code in allow:
                    return response
                if response.status_code < 500:
                    hint = ""
                    if response.status_code in (401, 403) and auth:
                        hint = " (the token needs the scope 'nightly')"
                    raise RegistryRefused(
                        f"{what}: {response.status_code} {_detail(response)}{hint}", response.status_code,
                    )
                if attempt + 1 == _TRIES:
                    raise RegistryUnavailable(f"{what}: {response.status_code} {_detail(response)}")
            time.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise RegistryUnavailable(
                f"{response.request.method} {response.request.url}: the answer is not JSON "
                f"(is {self.base} a tercel registry?)"
            ) from None

    # ------------------------------------------------------------------------------- catalog

    def plugin_names(self) -> list[str]:
        """Every plugin of the catalog, page after page."""
        names: list[str] = []
        page = 1
        while True:
            body = self._json(self._request("GET", "/api/v1/plugins", params={"size": _PAGE, "page": page}))
            found = [str(p["name"]) for p in body.get("results") or ()]
            names += [n for n in found if n not in names]
            if not found or len(names) >= int(body.get("total") or 0) or len(found) < _PAGE:
                return names
            page += 1

    def plugin(self, name: str) -> dict[str, Any] | None:
        """A plugin with its versions (newest first), or None if the registry has no such plugin."""
        response = self._request("GET", f"/api/v1/plugins/{quote(name)}", allow=(404,))
        return None if response.status_code == 404 else self._json(response)

    def version(self, name: str, version: str) -> dict[str, Any]:
        """A version: its files (URLs and sha256) and its requirements."""
        return self._json(self._request("GET", f"/api/v1/plugins/{quote(name)}/versions/{quote(version)}"))

    def download(self, url: str, dest: Path, sha256: str | None) -> Path:
        """Fetch a file to `dest`, checking its sha256 as it streams in."""
        digest = hashlib.sha256()
        try:
            with self._http.stream("GET", url, headers={"Accept": "*/*"}) as response:
                if response.status_code != 200:
                    raise DownloadError(f"GET {url}: {response.status_code}")
                with open(dest, "wb") as out:
                    for chunk in response.iter_bytes():
                        digest.update(chunk)
                        out.write(chunk)
        except httpx.HTTPError as exc:
            raise DownloadError(f"GET {url}: {exc}") from None
        if sha256 and digest.hexdigest() != sha256.lower():
            dest.unlink(missing_ok=True)
            raise DownloadError(f"{dest.name} does not match its sha256 (expected {sha256}, got {digest.hexdigest()})")
        return dest

    # ------------------------------------------------------------------------------- nightly

    def results(self, night: str) -> list[dict[str, Any]]:
        """What this night already has (none when the night has no run yet)."""
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            response = self._request(
                "GET", f"/api/v1/nightly/runs/{night}/results", params={"page": page, "size": _PAGE},
                auth=True, allow=(404,),
            )
            if response.status_code == 404:
                return found
            body = self._json(response)
            items = body if isinstance(body, list) else (body.get("results") or body.get("items") or [])
            new = [r for r in items if r not in found]
            found += new
            total = body.get("total") if isinstance(body, Mapping) else None
            if not new or total is None or len(found) >= int(total):
                return found
            page += 1

    def start_run(self, night: str, body: Mapping[str, Any]) -> None:
        self._request("PUT", f"/api/v1/nightly/runs/{night}", json=dict(body), auth=True)

    def post_result(self, night: str, body: Mapping[str, Any]) -> str | None:
        """None when recorded; the registry's reason when it did not take it (409: the night
        already has this result, or its run has finished)."""
        response = self._request(
            "POST", f"/api/v1/nightly/runs/{night}/results", json=dict(body), auth=True, allow=(409,),
        )
        return _detail(response) if response.status_code == 409 else None

    def finish_run(self, night: str, finished_at: str) -> None:
        self._request("PATCH", f"/api/v1/nightly/runs/{night}", json={"finishedAt": finished_at}, auth=True)
