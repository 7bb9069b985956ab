"""The registry mounted under a prefix of another Litestar app (what `tercel server local
--with-registry` does), served by uvicorn on loopback: every route works under `/registry`,
the host's authentication leaves the registry to its own tokens, and uv installs through the
prefixed index. Links are relative or prefix-aware, so nothing points outside the prefix."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
import uvicorn
from litestar import Litestar, get
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import (
    AbstractAuthenticationMiddleware,
    AuthenticationResult,
    DefineMiddleware,
)
from registry_support import free_port, plugin_wheel, upload, uv
from tercel_registry import Registry, RegistryConfig, RegistryMount

NAME = "tercel-plugin-mounted"


class HostAuth(AbstractAuthenticationMiddleware):
    """The host app's own authentication: one fixed password, nothing else."""

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        if connection.headers.get("authorization") == "Basic host-secret":
            return AuthenticationResult(user="host", auth="basic")
        raise NotAuthorizedException("the host wants its own credentials")


@get("/api/v1/health")
async def host_health() -> dict[str, str]:
    return {"host": "ok"}


class Hosted:
    def __init__(self, home: Path) -> None:
        self.config = RegistryConfig.load(home=home, max_upload_size="64KB")
        registry = Registry(self.config).open()
        self.token, _ = registry.tokens.create("ci", ["tercel-plugin-*"])
        registry.close()
        mount = RegistryMount(self.config, path="/registry")
        self.app = Litestar(
            route_handlers=[host_health, mount.router],
            lifespan=[mount.lifespan],
            middleware=[DefineMiddleware(HostAuth, exclude=[mount.auth_exclude])],
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "the host app did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture(scope="module")
def hosted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosted]:
    host = Hosted(tmp_path_factory.mktemp("mount") / "registry")
    yield host
    host.stop()


def test_the_registry_works_under_a_prefix(hosted: Hosted, tmp_path: Path) -> None:
    base = f"{hosted.url}/registry"
    assert httpx.get(f"{hosted.url}/api/v1/health").status_code == 401  # the host's own routes keep their auth
    assert httpx.get(f"{hosted.url}/api/v1/health", headers={"Authorization": "Basic host-secret"}).json() == {"host": "ok"}
    assert httpx.get(f"{base}/api/v1/health").json() == {"status": "ok"}

    wheel = plugin_wheel(tmp_path / "dist", NAME, "1.0.0", summary="Lives under a prefix.")
    done = upload(base, wheel, hosted.token)
    assert done.status_code == 200, done.text
    assert upload(base, wheel, hosted.token).status_code == 409
    assert upload(base, wheel, None).status_code == 401  # the registry's answer, not the host's

    moved = httpx.get(f"{base}/simple/Tercel_Plugin_Mounted")
    assert moved.status_code == 301 and moved.headers["location"] == f"/registry/simple/{NAME}/"
    assert httpx.get(base).headers["location"] == "/registry/"
    page = httpx.get(f"{base}/simple/{NAME}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}).json()
    url = urljoin(f"{base}/simple/{NAME}/", page["files"][0]["url"])
    assert url.startswith(f"{base}/files/") and httpx.get(url).content == wheel.read_bytes()
    version = httpx.get(f"{base}/api/v1/plugins/{NAME}/versions/1.0.0").json()
    assert version["files"][0]["url"] == url  # absolute, with the prefix

    target = tmp_path / "target"
    installed = uv(tmp_path / "uv", "pip", "install", "--python", sys.executable, "--index-url", f"{base}/simple/",
                   "--target", target, "--no-deps", f"{NAME}==1.0.0")
    assert installed.returncode == 0, installed.stderr
    assert (target / "tercel_plugin_mounted" / "tercel-manifest.json").is_file()

    for path in ("/", f"/plugins/{NAME}/", "/types/io.tercel.mounted.Fetch/"):
        answer = httpx.get(f"{base}{path}")
        assert answer.status_code == 200, (path, answer.text)
        for href in answer.text.split('href="')[1:]:
            target_url = urljoin(f"{base}{path}", href.split('"', 1)[0].replace("&amp;", "&"))
            assert target_url.startswith(f"{base}/"), (path, target_url)
            assert httpx.get(target_url, follow_redirects=True).status_code == 200, target_url


def test_uploads_above_the_limit_are_refused(hosted: Hosted, tmp_path: Path) -> None:
    base = f"{hosted.url}/registry"
    big = tmp_path / "tercel_plugin_big-1.0.0-py3-none-any.whl"
    big.write_bytes(b"PK" + bytes(100 * 1024))
    refused = upload(base, big, hosted.token)
    assert refused.status_code == 400, refused.text
    assert "the registry accepts files up to 64" in refused.text
    huge = tmp_path / "tercel_plugin_huge-1.0.0-py3-none-any.whl"
    huge.write_bytes(bytes(2 * 1024 * 1024))
    try:
        too_large = upload(base, huge, hosted.token)
    except httpx.HTTPError:  # the server may answer and close before the body is all sent
        return
    assert too_large.status_code == 413, too_large.text
    assert "larger than this registry accepts" in too_large.text
