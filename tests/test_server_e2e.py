"""The real `tercel server local` process on a free loopback port, driven over HTTP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from e2e_support import ROOT
from server_support import Server


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


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tercel", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **env}, timeout=120)


FLOW_A = "id: a\nnamespace: ci\ninputs:\n  - id: n\n    type: INT\ntasks:\n  - id: log\n    type: tercel.core.Log\n    message: \"n is {{ inputs.n }}\"\n  - id: check\n    type: tercel.core.Fail\n    condition: \"{{ inputs.n > 5 }}\"\n    errorMessage: too big\n"
FLOW_B = "id: b\nnamespace: ci\ntasks:\n  - id: r\n    type: tercel.core.Return\n    format: b\n"


def test_ci_deploy_and_trigger_with_a_token(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"TERCEL_HOME": str(home), "TERCEL_BASIC_AUTH_USERNAME": "ops", "TERCEL_BASIC_AUTH_PASSWORD": "pw"}
    server = Server(home, env)
    try:
        created = _cli("server", "token", "create", "ci", env={"TERCEL_HOME": str(home)})
        assert created.returncode == 0 and created.stdout.startswith("tcl_")
        client_env = {"TERCEL_API_TOKEN": created.stdout.strip(), "TERCEL_SERVER_URL": server.url,
                      "TERCEL_BASIC_AUTH_USERNAME": "", "TERCEL_BASIC_AUTH_PASSWORD": ""}
        flows = tmp_path / "flows"
        flows.mkdir()
        (flows / "a.yaml").write_text(FLOW_A)
        (flows / "b.yaml").write_text(FLOW_B)
        (flows / "broken.yaml").write_text("id: broken\nnamespace: ci\ntasks:\n  - id: x\n    type: tercel.core.Nope\n")
        refused = _cli("flows", "deploy", str(flows), env=client_env)
        assert refused.returncode == 1 and "broken.yaml:5:5" in refused.stderr and "nothing was deployed" in refused.stderr
        assert httpx.get(f"{server.url}/api/v1/flows/ci/a", auth=("ops", "pw")).status_code == 404
        (flows / "broken.yaml").unlink()
        dry = _cli("flows", "deploy", str(flows), "--dry-run", env=client_env)
        assert dry.returncode == 0 and "would be created: ci.a" in dry.stdout
        assert httpx.get(f"{server.url}/api/v1/flows/ci/a", auth=("ops", "pw")).status_code == 404
        first = _cli("flows", "deploy", str(flows), env=client_env)
        assert first.returncode == 0 and "2 created" in first.stdout, first.stderr
        (flows / "b.yaml").write_text(FLOW_B.replace("format: b", "format: bb"))
        second = _cli("flows", "deploy", str(flows), "--diff", env=client_env)
        assert "updated: ci.b" in second.stdout and "-    format: b\n+    format: bb" in second.stdout
        assert "1 updated, 1 unchanged" in second.stdout.replace("0 created, ", "")
        ok = _cli("executions", "trigger", "ci", "a", "--input", "n=3", "--follow", env=client_env)
        assert ok.returncode == 0, ok.stderr
        assert "n is 3" in ok.stderr and "ended SUCCESS" in ok.stderr
        bad = _cli("executions", "trigger", "ci", "a", "--input", "n=9", "--follow", env=client_env)
        assert bad.returncode == 1 and "too big" in bad.stderr and "ended FAILED" in bad.stderr
        invalid = _cli("executions", "trigger", "ci", "a", "--input", "n=x", env=client_env)
        assert invalid.returncode == 1 and "inputs.n" in invalid.stderr
        assert _cli("server", "token", "revoke", "ci", env={"TERCEL_HOME": str(home)}).returncode == 0
        revoked = _cli("executions", "trigger", "ci", "b", env=client_env)
        assert revoked.returncode == 1 and "401" in revoked.stderr
    finally:
        server.stop()


def test_flows_dir_watch_keeps_the_server_in_sync(tmp_path: Path) -> None:
    home = tmp_path / "home"
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "b.yaml").write_text(FLOW_B)
    env = {"TERCEL_BASIC_AUTH_USERNAME": "ops", "TERCEL_BASIC_AUTH_PASSWORD": "pw"}
    server = Server(home, env, args=("--flows-dir", str(flows), "--watch"))
    auth = ("ops", "pw")

    def revision() -> int | None:
        answer = httpx.get(f"{server.url}/api/v1/flows/ci/b", auth=auth)
        return answer.json()["revision"] if answer.status_code == 200 else None

    def eventually(expected: int | None) -> None:
        deadline = time.monotonic() + 15
        while revision() != expected:
            assert time.monotonic() < deadline, f"revision {revision()} != {expected}"
            time.sleep(0.2)

    try:
        eventually(1)
        (flows / "b.yaml").write_text(FLOW_B.replace("format: b", "format: changed"))
        eventually(2)
        (flows / "b.yaml").write_text("id: b\nnamespace: ci\ntasks: [broken\n")  # kept at its last good revision
        time.sleep(2.5)
        assert revision() == 2
        (flows / "b.yaml").unlink()
        eventually(None)
    finally:
        server.stop()


def test_a_scheduled_flow_runs_in_the_server(tmp_path: Path) -> None:
    home = tmp_path / "home"
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "tick.yaml").write_text(
        "id: tick\nnamespace: sched\ntasks:\n  - id: r\n    type: tercel.core.Return\n    format: \"{{ trigger.date }}\"\n"
        "triggers:\n  - id: every_second\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"* * * * * *\"\n    withSeconds: true\n"
    )
    server = Server(home, {"TERCEL_BASIC_AUTH_USERNAME": "ops", "TERCEL_BASIC_AUTH_PASSWORD": "pw"}, args=("--flows-dir", str(flows)))
    try:
        deadline = time.monotonic() + 20
        found: list[dict] = []  # type: ignore[type-arg]
        while time.monotonic() < deadline and len(found) < 2:
            found = httpx.get(f"{server.url}/api/v1/executions/search?namespace=sched&state=SUCCESS", auth=("ops", "pw")).json()["results"]
            time.sleep(0.3)
        assert len(found) >= 2, server.output.read_text()
        assert all(ex["trigger"]["date"] for ex in found)
    finally:
        server.stop()


def test_a_webhook_call_starts_a_flow_that_reads_its_body(tmp_path: Path) -> None:
    flow = (
        "id: hooked\nnamespace: e2e\ntasks:\n  - id: greet\n    type: tercel.core.Return\n"
        "    format: \"hello {{ trigger.body.name }} ({{ trigger.headers['x-source'][0] }})\"\n"
        "triggers:\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: e2e-key-123\n    wait: true\n"
    )
    server = Server(tmp_path / "home", {"TERCEL_BASIC_AUTH_USERNAME": "ops", "TERCEL_BASIC_AUTH_PASSWORD": "pw"})
    try:
        created = httpx.post(f"{server.url}/api/v1/flows", content=flow, headers={"content-type": "application/x-yaml"}, auth=("ops", "pw"))
        assert created.status_code == 200, created.text
        url = f"{server.url}/api/v1/executions/webhook/e2e/hooked"
        done = httpx.post(f"{url}/e2e-key-123", json={"name": "Ada"}, headers={"X-Source": "ci"}, timeout=60)  # no credentials
        assert done.status_code == 200, done.text
        assert done.json()["state"]["current"] == "SUCCESS"
        assert done.json()["taskRunList"][0]["outputs"]["value"] == "hello Ada (ci)"
        assert done.json()["trigger"]["body"] == {"name": "Ada"}
        wrong = httpx.post(f"{url}/e2e-key-124", json={"name": "Eve"}, timeout=10)
        assert wrong.status_code == 404
        found = httpx.get(f"{server.url}/api/v1/executions/search?namespace=e2e", auth=("ops", "pw")).json()
        assert found["total"] == 1
    finally:
        server.stop()
