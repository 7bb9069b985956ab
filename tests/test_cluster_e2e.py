"""A cluster on one machine: `tercel server webserver`, `executor`, two `worker`s and `scheduler`
as separate processes over the real PostgreSQL server and one shared storage folder, each with a
TERCEL_HOME of its own. Driven over HTTP through the webserver only."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from e2e_support import ROOT
from sqlalchemy import make_url

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PG_URL = os.environ.get("TERCEL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
AUTH = ("ops", "cluster-pw")
YAML = {"content-type": "application/x-yaml"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def database() -> Iterator[str]:
    """A schema of its own in the test database: the cluster's tables and nothing else."""
    libpq = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        admin = psycopg.connect(libpq, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        pytest.fail(f"PostgreSQL is not reachable at {make_url(PG_URL)!s} ({exc})", pytrace=False)
    schema = f"tercel_cluster_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


class Cluster:
    def __init__(self, tmp: Path, database: str) -> None:
        self.tmp = tmp
        self.env = {
            **os.environ, "TERCEL_DATABASE_URL": database, "TERCEL_STORAGE_PATH": str(tmp / "shared-storage"),
            "TERCEL_BASIC_AUTH_USERNAME": AUTH[0], "TERCEL_BASIC_AUTH_PASSWORD": AUTH[1],
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/api/v1"

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        role = name.rstrip("0123456789")
        log = open(self.tmp / f"{name}.log", "wb")  # noqa: SIM115 - the process holds it
        proc = subprocess.Popen(
            [sys.executable, "-m", "tercel", "server", role, *args], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
            env={**self.env, "TERCEL_HOME": str(self.tmp / f"home-{name}")},
        )
        self.procs[name] = proc
        return proc

    def output(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.tmp.glob("*.log")))

    def wait_started(self, name: str, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise AssertionError(f"{name} exited: {self.output()}")
            if text in (self.tmp / f"{name}.log").read_text(errors="replace"):
                return
            time.sleep(0.05)
        raise AssertionError(f"{name} did not start: {self.output()}")

    def stop(self, name: str) -> int:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGINT)
        return proc.wait(timeout=60)

    def stop_all(self) -> None:
        for name, proc in list(self.procs.items()):
            try:
                self.stop(name)
            except subprocess.TimeoutExpired:
                proc.kill()

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url}{path}", auth=AUTH, timeout=60, **kwargs)

    def until(self, what: Callable[[], Any], timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = what()
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting:\n{self.output()}")


@pytest.fixture
def cluster(tmp_path: Path, database: str) -> Iterator[Cluster]:
    c = Cluster(tmp_path, database)
    try:
        c.start("webserver", "--port", str(c.port))
        c.until(lambda: _healthy(c.url), timeout=60)
        for name in ("executor", "worker1", "worker2", "scheduler"):
            c.start(name)
        for name in ("executor", "worker1", "worker2", "scheduler"):
            c.wait_started(name, "running over postgresql")
        yield c
    finally:
        c.stop_all()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


TWO_TASKS = """\
id: two
namespace: cluster
inputs:
  - id: who
    type: STRING
tasks:
  - id: greet
    type: tercel.core.Return
    format: "hello {{ inputs.who }}"
  - id: shout
    type: tercel.core.Return
    format: "{{ outputs.greet.value | upper }}"
"""

AFTER_TWO = """\
id: after
namespace: cluster
tasks:
  - id: saw
    type: tercel.core.Return
    format: "{{ trigger.executionId }}"
triggers:
  - id: on_two
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: cluster
        flowId: two
"""

TICK = """\
id: tick
namespace: cluster
tasks:
  - id: r
    type: tercel.core.Return
    format: "{{ trigger.date }}"
triggers:
  - id: every_second
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "* * * * * *"
    withSeconds: true
"""

INBOX = """\
id: inbox
namespace: cluster
tasks:
  - id: got
    type: tercel.core.Return
    format: "{{ trigger.files[0].path }}: {{ read(trigger.files[0].uri) }}"
triggers:
  - id: files
    type: tercel.core.trigger.NamespaceFiles
    interval: PT1S
    from: inbox
    action: DELETE
"""

SLOW = """\
id: slow
namespace: cluster
tasks:
  - id: nap
    type: tercel.core.Sleep
    duration: PT2S
  - id: done
    type: tercel.core.Return
    format: woke
"""


def test_a_cluster_of_processes_runs_flows_triggers_and_schedules(cluster: Cluster) -> None:
    for source in (TWO_TASKS, AFTER_TWO, TICK, INBOX, SLOW):
        created = cluster.api("POST", "/flows", content=source, headers=YAML)
        assert created.status_code == 200, created.text
    # an execution created by the API process, run by the executor and the workers
    answer = cluster.api("POST", "/executions/cluster/two?wait=true", files={"who": (None, "cluster")})
    assert answer.status_code == 200, answer.text
    done = answer.json()
    assert done["state"]["current"] == "SUCCESS", done
    assert [tr["outputs"]["value"] for tr in done["taskRunList"]] == ["hello cluster", "HELLO CLUSTER"]
    # its end, heard by the executor process, fires the Flow trigger
    after = cluster.until(lambda: cluster.api("GET", "/executions/search?namespace=cluster&flowId=after&state=SUCCESS").json()["results"])
    full = cluster.api("GET", f"/executions/{after[0]['id']}").json()
    assert full["taskRunList"][0]["outputs"]["value"] == done["id"]
    # the scheduler process fires the schedule
    ticks = cluster.until(lambda: len(cluster.api("GET", "/executions/search?namespace=cluster&flowId=tick&state=SUCCESS").json()["results"]) >= 2)
    assert ticks
    # the scheduler queues the polling trigger's checks; a worker runs them
    uploaded = cluster.api("POST", "/namespaces/cluster/files?path=inbox/a.txt", files={"fileContent": ("a.txt", b"alpha")})
    assert uploaded.status_code == 200, uploaded.text
    [got] = cluster.until(lambda: cluster.api("GET", "/executions/search?namespace=cluster&flowId=inbox&state=SUCCESS").json()["results"])
    full = cluster.api("GET", f"/executions/{got['id']}").json()
    assert full["taskRunList"][0]["outputs"]["value"] == "inbox/a.txt: alpha"
    # a worker stopped while its task runs hands it back; another worker finishes it
    assert cluster.stop("worker2") == 0  # worker1 alone takes the task run
    started = cluster.api("POST", "/executions/cluster/slow").json()
    cluster.until(lambda: _running_task(cluster, started["id"], "nap"))
    cluster.start("worker2")
    cluster.wait_started("worker2", "running over postgresql")
    assert cluster.stop("worker1") == 0
    ended = cluster.until(
        lambda: (e := cluster.api("GET", f"/executions/{started['id']}").json())["state"]["current"] in ("SUCCESS", "FAILED") and e,
        timeout=90,
    )
    assert ended["state"]["current"] == "SUCCESS", ended
    nap = next(tr for tr in ended["taskRunList"] if tr["taskId"] == "nap")
    assert len(nap["attempts"]) >= 1 and ended["taskRunList"][-1]["outputs"]["value"] == "woke"
    # every process stops gracefully
    for name in list(cluster.procs):
        assert cluster.stop(name) == 0, cluster.output()


def _running_task(cluster: Cluster, execution_id: str, task_id: str) -> bool:
    ex = cluster.api("GET", f"/executions/{execution_id}").json()
    return any(tr["taskId"] == task_id and tr["state"]["current"] == "RUNNING" for tr in ex.get("taskRunList") or ())

