"""The night is a tercel flow: `tercel server --with-registry` schedules `system.nightly`, and when
its Schedule trigger fires, the nightly runs as a task and its results reach the registry.

The server runs in this process (the app `tercel server local --with-registry` serves, under
uvicorn on a loopback port) with the scheduler's clock driven by the test: it starts two seconds
before 02:00 and runs at the real pace, so the trigger fires within seconds, not at 2 am.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from nightly_support import build_plugin, shout_test
from registry_support import free_port

pytestmark = pytest.mark.slow

USER, PASSWORD = "ops", "nightly-pass"


class InProcessServer:
    """The server's app with a driven clock, under uvicorn in a thread."""

    def __init__(self, home: Path, clock: Any) -> None:
        from tercel_server import ServerConfig, create_app

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = ServerConfig.load(
            home=home, port=self.port, with_registry=True, basic_auth_username=USER, basic_auth_password=PASSWORD,
        )
        self.server = uvicorn.Server(uvicorn.Config(create_app(config, clock=clock), host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[InProcessServer, datetime]]:
    home = tmp_path / "home"
    plugin = build_plugin(tmp_path / "dist", "nsnightly", "1.0.0", {"test_shout.py": shout_test("tercel_plugin_nsnightly")})
    imported = subprocess.run(
        [sys.executable, "-m", "tercel", "registry", "import", str(plugin.wheel), str(plugin.sdist)],
        capture_output=True, text=True, env={"TERCEL_HOME": str(home), "PATH": "/usr/bin:/bin"}, timeout=300,
    )
    assert imported.returncode == 0, imported.stderr
    today = datetime.now(UTC).date()
    start = datetime(today.year, today.month, today.day, 1, 59, 58, tzinfo=UTC)
    began = time.monotonic()
    server = InProcessServer(home, lambda: start + timedelta(seconds=time.monotonic() - began))
    try:
        yield server, start
    finally:
        server.stop()


def test_the_scheduled_flow_runs_the_nightly_when_its_trigger_fires(served: tuple[InProcessServer, datetime]) -> None:
    server, start = served
    night = start.date().isoformat()
    api = httpx.Client(base_url=f"{server.url}/api/v1", auth=(USER, PASSWORD), timeout=30)
    flow = api.get("/flows/system/nightly")
    assert flow.status_code == 200, flow.text
    assert [(t["type"], t["cron"]) for t in flow.json()["triggers"]] == [("tercel.core.trigger.Schedule", "0 2 * * *")]

    def executions() -> list[dict[str, Any]]:
        return api.get("/executions/search", params={"namespace": "system", "flowId": "nightly"}).json()["results"]

    deadline = time.monotonic() + 240
    while not (found := executions()) or found[0]["state"]["current"] not in ("SUCCESS", "FAILED", "WARNING"):
        assert time.monotonic() < deadline, f"the nightly did not run to its end: {found}"
        time.sleep(0.5)
    execution = api.get(f"/executions/{found[0]['id']}").json()
    assert execution["state"]["current"] == "SUCCESS", api.get(f"/logs/{execution['id']}").text
    assert execution["trigger"]["id"] == "every_night"
    assert "02:00:00" in str(execution["trigger"]), execution["trigger"]
    run = execution["taskRunList"][0]["outputs"]
    assert run["night"] == night and run["total"] == 1
    # the execution shows the run's progress like any other flow's logs
    logs = " ".join(entry["message"] for entry in api.get(f"/logs/{execution['id']}").json())
    assert "tercel-plugin-nsnightly 1.0.0" in logs and "passed" in logs

    # and the registry this server serves has the night's result
    results = httpx.get(f"{server.url}/registry/api/v1/nightly/runs/{night}/results", params={"details": "false"}, timeout=30).json()
    rows = results["results"] if isinstance(results, dict) else results
    assert [(r["plugin"], r["version"], r["status"]) for r in rows] == [("tercel-plugin-nsnightly", "1.0.0", "passed")]
    catalog = httpx.get(f"{server.url}/registry/api/v1/plugins/tercel-plugin-nsnightly", timeout=30).json()
    assert catalog["versions"][0]["nightly"]["status"] == "passed"
    assert len(executions()) == 1  # one night, one execution
