"""The client side of tercel's plugin registry: publish, search, info (standard library only).

Publishing speaks the registry's legacy upload API, the one twine uses, so any index that twine
publishes to works too. Searching and describing read the registry's catalog API. Installing
needs nothing here: the registry's `/simple/` index is handed to the installer.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from tercel.errors import TercelError

__all__ = ["RegistryClient", "RegistryError", "registry_url"]

_TIMEOUT = 120.0


class RegistryError(TercelError):
    """The registry refused or could not be reached; the message says which and why."""


def registry_url(given: str | None = None) -> str:
    """The registry to use: the option, else `TERCEL_REGISTRY_URL`; an error says how to set one."""
    url = (given or os.environ.get("TERCEL_REGISTRY_URL") or "").strip()
    if not url:
        raise RegistryError("no registry: pass --registry URL or set TERCEL_REGISTRY_URL (e.g. http://127.0.0.1:8090)")
    if not url.startswith(("http://", "https://")):
        raise RegistryError(f"the registry URL must be http(s)://…, got {url!r}")
    return url.rstrip("/")


class RegistryClient:
    """One registry: its catalog, its index and its upload endpoint."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.token = token

    @property
    def index_url(self) -> str:
        """The PEP 503 simple index the installers read."""
        return f"{self.url}/simple/"

    # -- catalog -------------------------------------------------------------------------------
    def search(self, words: str, *, size: int = 50) -> dict[str, Any]:
        query = urllib.parse.urlencode({"q": words, "size": size})
        return self._json("GET", f"/api/v1/plugins?{query}")

    def plugin(self, name: str) -> dict[str, Any]:
        return self._json("GET", f"/api/v1/plugins/{urllib.parse.quote(name)}")

    def version(self, name: str, version: str) -> dict[str, Any]:
        return self._json("GET", f"/api/v1/plugins/{urllib.parse.quote(name)}/versions/{urllib.parse.quote(version)}")

    # -- publishing ----------------------------------------------------------------------------
    def upload(self, path: Path) -> str:
        """Publish one wheel or sdist; the registry checks it first and says why it refuses."""
        if not self.token:
            raise RegistryError("publishing needs a token: pass --token or set TERCEL_REGISTRY_TOKEN (`tercel registry token create`)")
        data = path.read_bytes()
        name, version, filetype, pyversion = _describe_file(path, data)
        fields = {
            ":action": "file_upload",
            "protocol_version": "1",
            "name": name,
            "version": version,
            "filetype": filetype,
            "pyversion": pyversion,
            "metadata_version": "2.1",
            "sha256_digest": hashlib.sha256(data).hexdigest(),
        }
        body, content_type = _multipart(fields, ("content", path.name, data))
        auth = base64.b64encode(f"__token__:{self.token}".encode()).decode()
        answer = self._request("POST", "/legacy/", body, {"Content-Type": content_type, "Authorization": f"Basic {auth}"})
        return answer.decode("utf-8", "replace").strip()

    # -- transport -----------------------------------------------------------------------------
    def _json(self, method: str, path: str) -> dict[str, Any]:
        answer = self._request(method, path, None, {"Accept": "application/json"})
        try:
            value = json.loads(answer)
        except ValueError:
            raise RegistryError(f"{self.url}{path} did not answer JSON: is {self.url} a tercel registry?") from None
        if not isinstance(value, dict):
            raise RegistryError(f"{self.url}{path} answered {type(value).__name__}, not an object")
        return value

    def _request(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> bytes:
        request = urllib.request.Request(f"{self.url}{path}", data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            raise RegistryError(f"{method} {self.url}{path}: {exc.code} {_reason(exc)}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RegistryError(f"cannot reach the registry at {self.url}: {reason}") from None


def _reason(exc: urllib.error.HTTPError) -> str:
    """The registry's own words: its JSON `message`/`detail`, else its text, else the status."""
    try:
        text = exc.read().decode("utf-8", "replace").strip()
    except Exception:
        text = ""
    if text.startswith("{"):
        try:
            value = json.loads(text)
            text = str(value.get("message") or value.get("detail") or text)
        except ValueError:
            pass
    return text[:2000] or str(exc.reason)


def _describe_file(path: Path, data: bytes) -> tuple[str, str, str, str]:
    """Name, version, filetype and pyversion of a wheel or sdist, for the upload form."""
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    filename = path.name
    try:
        if filename.endswith(".whl"):
            name, version, _, tags = parse_wheel_filename(filename)
            pyversion = sorted({t.interpreter for t in tags})[0] if tags else "py3"
            return str(name), str(version), "bdist_wheel", pyversion
        if filename.endswith(".tar.gz"):
            name, version = parse_sdist_filename(filename)
            return str(name), str(version), "sdist", "source"
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise RegistryError(f"{path}: {exc}") from None
    raise RegistryError(f"{path}: only wheels (.whl) and sdists (.tar.gz) can be published")


def _multipart(fields: dict[str, str], file: tuple[str, str, bytes]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for key, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        )
    field, filename, data = file
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
