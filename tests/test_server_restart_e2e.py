"""Stopping and starting the real server: missed schedules recovered as each trigger says, and an
execution running at a graceful stop (SIGINT) finished after the restart, nothing lost."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from server_support import PRESET, Server, deploy, execution_in, sse, until

EVERY_2_S = """\
id: {policy}
namespace: e2e.recover
tasks:
  - id: r
    type: tercel.core.Return
    format: "{{{{ trigger.date }}}}"
triggers:
  - id: every_2_s
    type: tercel.core.trigger.Schedule
    cron: "*/2 * * * * *"
    withSeconds: true
    recoverMissedSchedules: {policy}
"""
POLICIES = ("ALL", "LAST", "NONE")
TWO_S = timedelta(seconds=2)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _now() -> datetime:
    return datetime.now(UTC)


def _scheduled(client: httpx.Client, flow_id: str) -> list[tuple[datetime, datetime]]:
    """(trigger.date, creation date) of every execution of a flow, by trigger date."""
    found = client.get("/executions/search", params={"namespace": "e2e.recover", "flowId": flow_id, "size": 500}).json()
    assert not found["more"]
    return sorted((_when(ex["trigger"]["date"]), _when(ex["state"]["histories"][0]["date"])) for ex in found["results"])


def _every_2_s(dates: list[datetime]) -> bool:
    return all(b - a == TWO_S for a, b in itertools.pairwise(dates))


def test_a_restart_recovers_the_missed_schedules_as_each_trigger_says(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    for policy in POLICIES:
        (flows / f"{policy.lower()}.yaml").write_text(EVERY_2_S.format(policy=policy))
    home = tmp_path / "home"
    args = ("--flows-dir", str(flows))

    first = Server(home, PRESET, args)
    try:
        with first.client() as client:
            def quiet() -> bool:
                """Each schedule ran and none runs now, and the next date is more than a second away: a
                stop now leaves no execution half run, so each trigger decides at its first look."""
                found = client.get("/executions/search", params={"namespace": "e2e.recover", "size": 500}).json()["results"]
                ran = {ex["flowId"] for ex in found}
                ended = all(ex["state"]["current"] == "SUCCESS" for ex in found)
                return ran == set(POLICIES) and ended and 0.1 < time.time() % 2 < 0.7

            until(quiet, within=20, what="a first run of each schedule")
    finally:
        assert first.stop() == 0, first.text()
    stopped = _now()
    time.sleep(7)  # the schedules' dates of these seconds are missed

    restarted = _now()
    second = Server(home, PRESET, args)
    try:
        up = _now()
        with second.client() as client:
            def caught_up() -> dict[str, list[tuple[datetime, datetime]]] | None:
                runs = {p: _scheduled(client, p) for p in POLICIES}
                return runs if all(runs[p][-1][0] > up + timedelta(seconds=1) for p in POLICIES) else None

            runs = until(caught_up, within=30, what="every schedule going on after the restart")
    finally:
        assert second.stop() == 0, second.text()

    looked: datetime | None = None  # the scheduler's first look after the restart (at the latest)
    recovered: datetime | None = None  # the date LAST recovered (at or before that look)
    for policy in POLICIES:  # in this order: ALL tells when the scheduler first looked, LAST what it recovered
        before = [date for date, created in runs[policy] if created < restarted]
        after = [date for date, created in runs[policy] if created >= restarted]
        created_at = dict(runs[policy])
        assert before and max(before) <= stopped, (policy, before, stopped)
        # the dates missed for sure: after the last one run, before the second server was started
        missed = []
        date = max(before) + TWO_S
        while date < restarted:
            missed.append(date)
            date += TWO_S
        assert len(missed) >= 3, (policy, before, restarted)
        assert len(set(after)) == len(after), (policy, after)  # once per date
        if policy == "ALL":  # every missed date, one after the other, then the schedule goes on
            assert after[: len(missed)] == missed and _every_2_s(after), (after, missed)
            looked = created_at[missed[0]]
        elif policy == "LAST":  # one execution, for the latest date at the first look; none for the others
            assert looked is not None and missed[-1] <= after[0] <= looked, (after, missed, looked)
            assert not set(missed[:-1]) & set(after), (after, missed)
            recovered = after[0]
        else:  # NONE: nothing of the downtime; the first date after the restart
            assert looked is not None and recovered is not None, "ALL and LAST are checked first"
            assert restarted < after[0] <= looked + TWO_S and after[0] > recovered, (after, restarted, looked, recovered)
            assert not set(missed) & set(after), (after, missed)


SLOW = """\
id: slow
namespace: e2e.shutdown
tasks:
  - id: before
    type: tercel.core.Return
    format: first
  - id: nap
    type: tercel.core.Sleep
    duration: PT3S
  - id: after
    type: tercel.core.Return
    format: "{{ outputs.before.value }} then last"
"""
PAUSED = """\
id: paused
namespace: e2e.shutdown
tasks:
  - id: wait
    type: tercel.core.Pause
    onResume:
      - id: answer
        type: INT
  - id: after
    type: tercel.core.Return
    format: "{{ outputs.wait.onResume.answer * 2 }}"
"""


def test_a_graceful_stop_hands_the_running_task_back_and_keeps_the_paused_execution(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = Server(home, PRESET)
    try:
        with first.client() as client:
            deploy(client, SLOW)
            deploy(client, PAUSED)
            paused = client.post("/executions/e2e.shutdown/paused").json()
            execution_in(client, paused["id"], "PAUSED")
            started = client.post("/executions/e2e.shutdown/slow").json()

            def napping() -> dict[str, Any] | None:
                doc = client.get(f"/executions/{started['id']}").json()
                runs = {t["taskId"]: t["state"]["current"] for t in doc["taskRunList"]}
                return doc if runs.get("nap") == "RUNNING" else None

            until(napping, within=20, what="the sleeping task running")
            # a client follows the paused execution live: the stop must not wait for it
            ready, streamed = threading.Event(), []
            watcher = first.client()  # open until the server ends its stream

            def follow() -> None:
                with watcher:
                    streamed.append(sse(watcher, f"/executions/{paused['id']}/follow", within=60, ready=ready))

            follower = threading.Thread(target=follow, daemon=True)
            follower.start()
            assert ready.wait(10)
    finally:
        began = time.monotonic()
        code = first.stop()  # SIGINT while the task sleeps and the stream is open
    assert code == 0, first.text()
    assert time.monotonic() - began < 6, "the stop waited for the open stream"
    follower.join(10)
    assert streamed and streamed[0][-1].data["state"]["current"] == "PAUSED"  # it ended, cleanly

    second = Server(home, PRESET)
    try:
        with second.client() as client:
            done = execution_in(client, started["id"], "SUCCESS", "FAILED", "KILLED", "WARNING", within=30)
            assert done["state"]["current"] == "SUCCESS", done
            runs = done["taskRunList"]
            assert [t["taskId"] for t in runs] == ["before", "nap", "after"]  # each task run once, none lost
            assert all(t["state"]["current"] == "SUCCESS" for t in runs)
            assert len(runs[0]["attempts"]) == 1  # the ended task was not run again
            assert runs[2]["outputs"] == {"value": "first then last"}
            logs = client.get(f"/logs/{started['id']}").json()
            assert any(entry["message"] == f"execution {started['id']} ended SUCCESS" for entry in logs), logs

            assert client.get(f"/executions/{paused['id']}").json()["state"]["current"] == "PAUSED"  # still waiting
            assert client.post(f"/executions/{paused['id']}/resume", json={"answer": 21}).status_code == 200
            resumed = execution_in(client, paused["id"], "SUCCESS", "FAILED", within=30)
            assert resumed["taskRunList"][-1]["outputs"] == {"value": "42"}, resumed
    finally:
        assert second.stop() == 0, second.text()
