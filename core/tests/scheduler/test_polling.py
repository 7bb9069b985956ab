"""Polling triggers over a real runtime: `tercel.core.trigger.NamespaceFiles` watching the
namespace files of internal storage, checked every `interval` of the test's clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tercel.engine import Execution
from tercel.runtime import Runtime
from tercel.scheduler import Scheduler
from tercel.storage import NamespaceFiles
from tercel_sdk import State

NS = "tests.polling"


def watching(flow_id: str, **props: str) -> str:
    props = {"interval": "PT30S", **props}
    options = "".join(f"    {k}: {v}\n" for k, v in props.items())
    return f"""\
id: {flow_id}
namespace: {NS}
tasks:
  - id: each
    type: tercel.core.ForEach
    values: "{{{{ trigger.files | jq('.[].uri') }}}}"
    tasks:
      - id: content
        type: tercel.core.Return
        format: "{{{{ read(taskrun.value) }}}}"
triggers:
  - id: inbox
    type: tercel.core.trigger.NamespaceFiles
    from: inbox
{options}"""


async def check(runtime: Runtime, scheduler: Scheduler) -> list[Execution]:
    return [await runtime.wait(ex.id, timeout=30) for ex in await scheduler.tick()]


def contents(ex: Execution) -> list[str]:
    return sorted(tr.outputs["value"] for tr in ex.task_runs if tr.task_id == "content" and tr.outputs)


async def test_new_and_changed_files_start_an_execution_every_interval(runtime: Runtime, clock: Any) -> None:
    files = NamespaceFiles(runtime.storage)
    runtime.deploy_flow(watching("watch", regExp='".*\\\\.csv"'))
    scheduler = Scheduler(runtime, clock=clock)
    assert await check(runtime, scheduler) == []  # checked at once: nothing there
    files.put(NS, "inbox/a.csv", b"alpha")
    files.put(NS, "inbox/notes.txt", b"ignored")
    clock.advance(seconds=10)
    assert await check(runtime, scheduler) == []  # not before the interval
    clock.advance(seconds=20)
    [ex] = await check(runtime, scheduler)
    assert ex.state.current is State.SUCCESS
    assert [f["path"] for f in ex.trigger["files"]] == ["inbox/a.csv"]
    assert ex.trigger["id"] == "inbox" and ex.labels["system.correlationId"] == ex.id
    assert contents(ex) == ["alpha"]
    clock.advance(seconds=30)
    assert await check(runtime, scheduler) == []  # seen already
    files.put(NS, "inbox/a.csv", b"alpha v2")
    files.put(NS, "inbox/b.csv", b"beta")
    clock.advance(seconds=30)
    [ex] = await check(runtime, scheduler)
    assert contents(ex) == ["alpha v2", "beta"]
    [state] = scheduler.triggers(NS, "watch")
    assert state.memory["seen"].keys() == {"inbox/a.csv", "inbox/b.csv"}  # remembered in the store


async def test_move_hands_the_files_over_and_waits_for_the_execution(runtime: Runtime, clock: Any) -> None:
    files = NamespaceFiles(runtime.storage)
    pausing = watching("mover", action="MOVE", moveDirectory="done")
    pausing = pausing.replace("tasks:\n  - id: each", "tasks:\n  - id: hold\n    type: tercel.core.Pause\n  - id: each", 1)
    runtime.deploy_flow(pausing)
    scheduler = Scheduler(runtime, clock=clock)
    files.put(NS, "inbox/one.csv", b"1")
    [created] = await scheduler.tick()
    assert [f["path"] for f in created.trigger["files"]] == ["done/one.csv"]
    assert [f.path for f in files.list(NS)] == ["done/one.csv"]
    files.put(NS, "inbox/two.csv", b"2")
    for _ in range(3):  # the execution waits on its Pause: the trigger does not check again
        clock.advance(seconds=30)
        assert await scheduler.tick() == []
    assert files.exists(NS, "inbox/two.csv")
    done = await _resume_until_done(runtime, created.id)
    assert contents(done) == ["1"]
    clock.advance(seconds=30)
    [second] = await scheduler.tick()
    assert [f["path"] for f in second.trigger["files"]] == ["done/two.csv"]
    await _resume_until_done(runtime, second.id)


async def test_delete_copies_the_files_for_the_execution(runtime: Runtime, clock: Any) -> None:
    files = NamespaceFiles(runtime.storage)
    runtime.deploy_flow(watching("deleter", action="DELETE", interval="PT1M"))
    scheduler = Scheduler(runtime, clock=clock)
    files.put(NS, "inbox/x.csv", b"payload")
    [ex] = await check(runtime, scheduler)
    assert not files.exists(NS, "inbox/x.csv")
    assert contents(ex) == ["payload"]
    clock.advance(minutes=1)
    assert await check(runtime, scheduler) == []


async def test_a_failing_check_is_logged_and_retried_or_fails_an_execution(runtime: Runtime, clock: Any) -> None:
    runtime.deploy_flow(watching("broken", namespace='"other.team"'))  # not its namespace: refused
    runtime.deploy_flow(watching("loud", namespace='"other.team"', failOnTriggerError="true"))
    scheduler = Scheduler(runtime, clock=clock)
    created = await scheduler.tick()
    assert [ex.flow_id for ex in created] == ["loud"]
    assert created[0].state.current is State.FAILED and "may not use the files" in (created[0].error or "")
    [broken] = scheduler.triggers(NS, "broken")
    assert broken.next_date == clock.now + timedelta(seconds=30) and not broken.locked  # tried again later


async def _resume_until_done(runtime: Runtime, execution_id: str) -> Execution:
    import asyncio

    for _ in range(400):
        ex = runtime.get_execution(execution_id)
        assert ex is not None
        if ex.state.current.is_terminated:
            return ex
        if ex.state.current is State.PAUSED:
            runtime.resume_execution(execution_id)
        await asyncio.sleep(0.05)
    raise AssertionError(f"execution {execution_id} did not end")
