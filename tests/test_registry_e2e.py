"""The plugin author's and the operator's path through tercel's registry, with real processes.

A real `tercel registry serve` on loopback; `tercel registry token create` scoped to one plugin;
`tercel plugins publish` of a wheel and its sdist (and what the registry refuses, with why);
`tercel plugins search` and `info`; `tercel plugins install` of two versions from the registry
into environments of their own, and a flow using each. Then `tercel server local --with-registry`
serves the registry and the API in one process, and the official plugins are imported into it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from e2e_support import ROOT, Cli
from plugin_wheels import (
    HELLO,
    HELLO_TYPE,
    build_hello_plugin,
    build_hello_sdist,
    build_twin_wheels,
    build_wheel,
)
from server_support import PRESET, Registry, Server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    home = tmp_path_factory.mktemp("registry") / "home"
    home.mkdir()
    served = Registry(home)
    yield served
    served.stop()


def test_publish_search_info_and_install_two_versions_from_the_registry(registry: Registry, tmp_path: Path) -> None:
    created = registry.cli("registry", "token", "create", "ci", "--scope", "tercel-plugin-hello*")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1].strip()
    dist = tmp_path / "dist"
    wheel = build_hello_plugin(dist, "1.0.0")
    sdist = build_hello_sdist(dist, "1.0.0")

    cli = Cli(tmp_path / "home", tmp_path)
    target = ("--registry", registry.url, "--token", token)
    published = cli("plugins", "publish", str(wheel), str(sdist), *target)
    assert published.returncode == 0, published.stderr
    assert f"published {wheel.name} to {registry.url}" in published.stdout and sdist.name in published.stdout

    # releases are immutable
    again = cli("plugins", "publish", str(wheel), *target)
    assert again.returncode == 1 and "409" in again.stderr and "immutable" in again.stderr
    # what is not a plugin the registry can document is refused, saying why
    twin = build_twin_wheels(tmp_path / "twin").plugin_v1  # ships no manifest
    scoped = cli("plugins", "publish", str(twin), *target)
    assert scoped.returncode == 1 and "403" in scoped.stderr and "tercel-plugin-hello*" in scoped.stderr
    everything = registry.cli("registry", "token", "create", "all", "--scope", "*").stdout.strip().splitlines()[-1].strip()
    refused = cli("plugins", "publish", str(twin), "--registry", registry.url, "--token", everything)
    assert refused.returncode == 1 and "400" in refused.stderr and "tercel-manifest.json" in refused.stderr
    plain = build_wheel(tmp_path / "plain", "plain-lib", "1.0", {"plain_lib/__init__.py": ""})
    not_plugin = cli("plugins", "publish", str(plain), "--registry", registry.url, "--token", everything)
    assert not_plugin.returncode == 1 and "tercel.plugins" in not_plugin.stderr
    # a revoked token publishes nothing
    assert registry.cli("registry", "token", "revoke", "all").returncode == 0
    revoked = cli("plugins", "publish", str(build_hello_plugin(tmp_path / "v2", "2.0.0")), "--registry", registry.url, "--token", everything)
    assert revoked.returncode == 1 and ("401" in revoked.stderr or "403" in revoked.stderr)

    newer = build_hello_plugin(tmp_path / "dist11", "1.1.0", word="hi")
    assert cli("plugins", "publish", str(newer), *target).returncode == 0

    found = cli("plugins", "search", "hello", "--registry", registry.url)
    assert found.returncode == 0 and HELLO in found.stdout and "1.1.0" in found.stdout, found.stdout + found.stderr
    info = cli("plugins", "info", HELLO, "--registry", registry.url)
    assert info.returncode == 0 and "1.0.0" in info.stdout and "1.1.0" in info.stdout, info.stdout + info.stderr
    version = cli("plugins", "info", f"{HELLO}==1.0.0", "--registry", registry.url, "--json")
    assert HELLO_TYPE in {t["type"] for t in json.loads(version.stdout)["types"]}, version.stdout

    # install from the registry: the newest, and an older one beside it
    latest = cli("plugins", "install", HELLO, "--registry", registry.url)
    assert latest.returncode == 0 and f"installed {HELLO} 1.1.0" in latest.stdout, latest.stderr
    older = cli("plugins", "install", f"{HELLO}==1.0.0", env={"TERCEL_REGISTRY_URL": registry.url})
    assert older.returncode == 0 and f"installed {HELLO} 1.0.0" in older.stdout, older.stderr
    flow = cli.flow("hello.yaml", (
        "id: hello\nnamespace: team\ntasks:\n"
        f"  - id: old\n    type: {HELLO_TYPE}\n    version: 1.0.0\n    name: world\n"
        f"  - id: new\n    type: {HELLO_TYPE}\n    name: world\n"
    ))
    rc, ex, err = cli.run_json(str(flow))
    assert rc == 0, err
    outputs = {t["taskId"]: t["outputs"]["greeting"] for t in ex["taskRunList"]}
    assert outputs == {"old": "hello world from 1.0.0", "new": "hi world from 1.1.0"}


def test_the_server_serves_the_registry_too_and_the_official_plugins_import(tmp_path: Path) -> None:
    home = tmp_path / "home"
    imported = subprocess.run(
        [sys.executable, "-m", "tercel", "registry", "import", str(ROOT / "plugins-official")],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "TERCEL_HOME": str(home)}, timeout=600,
    )
    assert imported.returncode == 0, imported.stderr
    assert "tercel-plugin-core 1.0.0" in imported.stdout
    server = Server(home, PRESET, ("--with-registry",))
    try:
        started = time.monotonic()
        page = httpx.get(f"{server.url}/registry/simple/tercel-plugin-core/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}, timeout=10)
        assert page.status_code == 200, page.text
        files = page.json()["files"]
        assert {f["filename"] for f in files} >= {"tercel_plugin_core-1.0.0-py3-none-any.whl", "tercel_plugin_core-1.0.0.tar.gz"}
        catalog = httpx.get(f"{server.url}/registry/api/v1/plugins/tercel-plugin-core/versions/1.0.0", timeout=10).json()
        assert "tercel.core.Log" in {t["type"] for t in catalog["types"]}
        with server.client() as api:  # the orchestration API beside it
            assert api.get("/health").status_code == 200
        assert time.monotonic() - started < 30
    finally:
        server.stop()
