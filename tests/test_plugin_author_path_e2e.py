"""A plugin author's whole path, with real parts only: from `tercel plugins new` to flows on a server.

Bake a new plugin, change its task (and regenerate its manifest, as its own test says), run its
tests, build it, publish it to a running registry with a token, install it from the registry into a
running server through the server's API, run a flow using it through the API and see the output;
then publish 1.1.0 with changed behaviour and run a flow pinning 1.0.0 beside one using 1.1.0.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_support import PRESET, YAML, Registry, Server, deploy, execution_in, free_port

pytestmark = pytest.mark.slow

UV = Path(sys.executable).parent / "uv"


@pytest.fixture()
def api_source() -> Iterator[str]:
    """A JSON API on loopback for the plugin's Fetch task to read."""

    class Quotes(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"quote": "Simple is better than complex.", "path": self.path}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Quotes)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _run(args: list[str | Path], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TERCEL_") and k != "PYTHONPATH"}
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, env={**clean, **(env or {})}, timeout=600)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done


def _release(project: Path, version: str, tercel: list[str]) -> list[Path]:
    """What the author does for a release: set the version (the task reports it), regenerate the
    manifest, run the tests, build the wheel and the sdist."""
    pyproject = project / "pyproject.toml"
    pyproject.write_text(re.sub(r'(?m)^version = "[^"]+"', f'version = "{version}"', pyproject.read_text()))
    task = project / "src" / "tercel_plugin_quotes" / "fetch.py"
    text = re.sub(r'RELEASE = "[^"]*"\n', "", task.read_text())
    # the change: every answer says which release made it (a new output)
    text = text.replace(
        "    size: int = Field(description=\"Size of the body in bytes.\")\n",
        "    size: int = Field(description=\"Size of the body in bytes.\")\n"
        "    release: str = Field(default=RELEASE, description=\"The plugin release that fetched it.\")\n",
    )
    text = text.replace("__all__ = [", f'RELEASE = "{version}"\n\n__all__ = [', 1)
    task.write_text(text)
    src = {"PYTHONPATH": str(project / "src")}
    _run([*tercel[:1], "-m", "tercel_sdk.manifest", "tercel_plugin_quotes.plugin", "--write"], project, src)
    tests = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], project, src)
    assert " passed" in tests.stdout and "failed" not in tests.stdout, tests.stdout
    out = project / "dist" / version
    _run([UV, "build", "--out-dir", out], project)
    return sorted(p for p in out.iterdir() if p.name.endswith((".whl", ".tar.gz")))


def test_from_template_to_two_releases_running_side_by_side_on_a_server(tmp_path: Path, api_source: str) -> None:
    registry = Registry(tmp_path / "registry-home")
    server = None
    try:
        tercel = [sys.executable, "-m", "tercel"]
        # 1. bake: the name is free in the registry
        baked = _run([*tercel, "plugins", "new", "quotes", "--no-input", "--no-trigger", "--output-dir", tmp_path,
                      "--registry", registry.url], tmp_path)
        project = tmp_path / "tercel-plugin-quotes"
        assert (project / "pyproject.toml").is_file() and "cd " in baked.stdout, baked.stdout
        token = registry.cli("registry", "token", "create", "author", "--scope", "tercel-plugin-quotes").stdout.strip().splitlines()[-1]

        # 2. change, test, build and publish 1.0.0
        files = _release(project, "1.0.0", tercel)
        assert {f.suffix for f in files} == {".whl", ".gz"}
        _run([*tercel, "plugins", "publish", *files, "--registry", registry.url, "--token", token], tmp_path)

        # 3. a running server installs it from the registry, through its API, and runs a flow with it
        server = Server(tmp_path / "server-home", PRESET)
        index = f"{registry.url}/simple/"
        with server.client() as api:
            installed = api.post("/plugins/versions", json={"requirement": "tercel-plugin-quotes==1.0.0", "indexUrl": index})
            assert installed.status_code == 201, installed.text
            flow = (
                "id: quotes\nnamespace: team\ntasks:\n"
                f"  - id: fetch\n    type: io.tercel.quotes.Fetch\n    url: {api_source}/today\n"
            )
            deploy(api, flow)
            first = api.post("/executions/team/quotes").json()
            done = execution_in(api, first["id"], "SUCCESS", "FAILED", within=60)
            assert done["state"]["current"] == "SUCCESS", api.get(f"/logs/{first['id']}").text
            outputs = done["taskRunList"][0]["outputs"]
            assert outputs["body"] == {"quote": "Simple is better than complex.", "path": "/today"}
            assert outputs["release"] == "1.0.0" and outputs["status"] == 200

            # 4. 1.1.0 changes what it returns; a flow pins 1.0.0 beside a task on the newest
            files = _release(project, "1.1.0", tercel)
            _run([*tercel, "plugins", "publish", *files, "--registry", registry.url, "--token", token], tmp_path)
            newer = api.post("/plugins/versions", json={"requirement": "tercel-plugin-quotes", "indexUrl": index})
            assert newer.status_code == 201 and newer.json()["version"] == "1.1.0", newer.text
            both = (
                "id: quotes\nnamespace: team\ntasks:\n"
                f"  - id: pinned\n    type: io.tercel.quotes.Fetch\n    version: 1.0.0\n    url: {api_source}/pinned\n"
                f"  - id: newest\n    type: io.tercel.quotes.Fetch\n    url: {api_source}/newest\n"
            )
            saved = api.put("/flows/team/quotes", content=both, headers=YAML)
            assert saved.status_code == 200, saved.text
            second = api.post("/executions/team/quotes").json()
            done = execution_in(api, second["id"], "SUCCESS", "FAILED", within=60)
            assert done["state"]["current"] == "SUCCESS", api.get(f"/logs/{second['id']}").text
            releases = {t["taskId"]: (t["outputs"]["release"], t["outputs"]["body"]["path"]) for t in done["taskRunList"]}
            assert releases == {"pinned": ("1.0.0", "/pinned"), "newest": ("1.1.0", "/newest")}
            assert done["plugins"]["io.tercel.quotes.Fetch"] == {
                "distribution": "tercel-plugin-quotes", "version": "1.0.0", "tasks": {"newest": "1.1.0"},
            }
    finally:
        if server is not None:
            server.stop()
        registry.stop()
