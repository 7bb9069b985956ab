"""The real `tercel server local` process on a free loopback port, driven over HTTP."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from e2e_support import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, home: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        home.mkdir(parents=True, exist_ok=True)
        self.output = home.parent / f"server-{self.port}.log"
        self._log = open(self.output, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tercel", "server", "local", "--port", str(self.port), *args],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT,
            env={**os.environ, "TERCEL_HOME": str(home), **(env or {})},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited: {self.output.read_text()}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"the server did not start: {self.output.read_text()}")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=30)
        finally:
            self._log.close()
        return code


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "home")
    yield srv
    srv.stop()


def test_local_server_generates_credentials_loads_examples_and_runs_them(server: Server) -> None:
    text = server.output.read_text()
    match = re.search(r"username: (\S+)\s+password: (\S+)", text)
    assert match, text
    auth = (match.group(1), match.group(2))
    assert httpx.get(f"{server.url}/api/v1/flows/search").status_code == 401
    flows = httpx.get(f"{server.url}/api/v1/flows/search", auth=auth).json()
    assert {"hello_world", "inputs_and_outputs", "error_handling", "parallel_branches"} <= {f["id"] for f in flows["results"]}
    done = httpx.post(f"{server.url}/api/v1/executions/tutorial/hello_world?wait=true", auth=auth, timeout=60).json()
    assert done["state"]["current"] == "SUCCESS"
    logs = httpx.get(f"{server.url}/api/v1/logs/{done['id']}", auth=auth).json()
    assert logs and all(entry["executionId"] == done["id"] for entry in logs)
    schema = httpx.get(f"{server.url}/api/v1/openapi/openapi.json").json()
    assert "/api/v1/flows" in schema["paths"]


def test_preset_credentials_and_a_restart_keep_everything(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"TERCEL_BASIC_AUTH_USERNAME": "ops", "TERCEL_BASIC_AUTH_PASSWORD": "s3cret"}
    first = Server(home, env)
    try:
        assert "password:" not in first.output.read_text()
        flow = "id: kept\nnamespace: e2e\ntasks:\n  - id: r\n    type: tercel.core.Return\n    format: ok\n"
        created = httpx.post(f"{first.url}/api/v1/flows", content=flow, headers={"content-type": "application/x-yaml"}, auth=("ops", "s3cret"))
        assert created.status_code == 200
        ex = httpx.post(f"{first.url}/api/v1/executions/e2e/kept?wait=true", auth=("ops", "s3cret"), timeout=60).json()
    finally:
        assert first.stop() == 0
    second = Server(home, env)
    try:
        again = httpx.get(f"{second.url}/api/v1/executions/{ex['id']}", auth=("ops", "s3cret")).json()
        assert again["state"]["current"] == "SUCCESS"
        assert httpx.get(f"{second.url}/api/v1/flows/e2e/kept", auth=("ops", "s3cret")).json()["revision"] == 1
    finally:
        second.stop()
