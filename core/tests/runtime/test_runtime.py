"""The runtime (executor + worker over the store's queue) on both backends, end to end in-process."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tercel.flows import load_flow
from tercel.plugins import PluginManager
from tercel.runtime import Runtime
from tercel.settings import Settings
from tercel_sdk import State

PLUGINS = PluginManager().discover()

FLOW = """
id: mixed
namespace: tests.runtime
inputs:
  - id: n
    type: INT
    defaults: 3
tasks:
  - id: first
    type: tercel.core.Return
    format: "{{ inputs.n * 2 }}"
  - id: branches
    type: tercel.core.Parallel
    tasks:
      - id: left
        type: tercel.core.Return
        format: left
      - id: right
        type: tercel.core.Sleep
        duration: PT0.05S
  - id: loop
    type: tercel.core.ForEach
    concurrencyLimit: 2
    values: "{{ range(1, inputs.n) }}"
    tasks:
      - id: square
        type: tercel.core.Return
        format: "{{ taskrun.value | int * taskrun.value | int }}"
outputs:
  - id: doubled
    type: INT
    value: "{{ outputs.first.value }}"
  - id: last_square
    type: STRING
    value: "{{ outputs.square['3'].value }}"
"""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    url = None if request.param == "sqlite" else request.getfixturevalue("pg_module_url")
    return Settings(home=tmp_path / "home", database_url=url)


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    async with Runtime(settings, plugins=PLUGINS) as rt:
        yield rt


async def test_a_flow_runs_to_its_end_with_typed_outputs(runtime: Runtime) -> None:
    flow = runtime.register_flow(load_flow(FLOW, PLUGINS))
    ex = runtime.create_execution(flow, {"n": "3"})
    done = await runtime.wait(ex.id, timeout=60)
    assert done.state.current is State.SUCCESS, [tr.error for tr in done.task_runs]
    assert done.outputs == {"doubled": 6, "last_square": "9"}
    squares = [tr for tr in done.task_runs if tr.task_id == "square"]
    assert sorted(tr.outputs["value"] for tr in squares) == ["1", "4", "9"]
    # what is stored is what the engine had
    stored = runtime.get_execution(ex.id)
    assert stored is not None and stored.to_dict() == done.to_dict()
    logs = runtime.logs(ex.id)
    assert any("ended SUCCESS" in entry["message"] for entry in logs)


async def test_flow_revisions_are_stored(runtime: Runtime) -> None:
    first = runtime.register_flow(load_flow(FLOW, PLUGINS))
    again = runtime.register_flow(load_flow(FLOW, PLUGINS))
    changed = runtime.register_flow(load_flow(FLOW.replace("defaults: 3", "defaults: 4"), PLUGINS))
    assert (first.revision, again.revision, changed.revision) == (1, 1, 2)
    ex = runtime.create_execution(changed)
    done = await runtime.wait(ex.id, timeout=60)
    assert done.flow_revision == 2 and done.inputs == {"n": 4}


async def test_kill_stops_a_running_execution(runtime: Runtime) -> None:
    flow = runtime.register_flow(load_flow("id: k\nnamespace: t\ntasks:\n  - id: long\n    type: tercel.core.Sleep\n    duration: PT60S\n  - id: never\n    type: tercel.core.Log\n    message: x\n", PLUGINS))
    ex = runtime.create_execution(flow)
    for _ in range(100):
        await asyncio.sleep(0.05)
        current = runtime.get_execution(ex.id)
        if current and current.task_runs and current.task_runs[0].state.current is State.RUNNING:
            break
    runtime.kill(ex.id)
    done = await runtime.wait(ex.id, timeout=20)
    assert done.state.current is State.KILLED
    assert [tr.task_id for tr in done.task_runs] == ["long"]
    assert done.task_runs[0].state.current is State.KILLED


async def test_a_task_handed_back_at_shutdown_runs_after_restart(settings: Settings) -> None:
    flow_src = "id: r\nnamespace: t\ntasks:\n  - id: wait\n    type: tercel.core.Sleep\n    duration: PT0.5S\n  - id: after\n    type: tercel.core.Return\n    format: done\n"
    async with Runtime(settings, plugins=PLUGINS) as first:
        flow = first.register_flow(load_flow(flow_src, PLUGINS))
        ex = first.create_execution(flow)
        await asyncio.sleep(0.2)  # the Sleep is running when the process stops
    async with Runtime(settings, plugins=PLUGINS) as second:
        done = await second.wait(ex.id, timeout=30)
    assert done.state.current is State.SUCCESS
    assert [tr.task_id for tr in done.task_runs] == ["wait", "after"]
    assert done.task_runs[1].outputs == {"value": "done"}


async def test_flow_retry_create_new_execution_chains_executions(runtime: Runtime) -> None:
    flow = runtime.register_flow(load_flow(
        "id: chain\nnamespace: t\nretry:\n  type: constant\n  interval: PT0.1S\n  maxAttempts: 3\n  behavior: CREATE_NEW_EXECUTION\n"
        "inputs:\n  - id: n\n    type: INT\n    defaults: 7\n"
        "tasks:\n  - id: boom\n    type: tercel.core.Fail\n    errorMessage: \"attempt {{ execution.id }}\"\n",
        PLUGINS,
    ))
    first = runtime.create_execution(flow, {"n": "5"}, labels={"run": "x"})
    done = await runtime.wait(first.id, timeout=30)
    assert done.state.current is State.FAILED
    chain = []
    for _ in range(200):
        chain = [h for h in runtime.db.executions.find(flow_id="chain", limit=10)]
        if len(chain) == 3 and all(h["state"]["current"] == "FAILED" for h in chain):
            break
        await asyncio.sleep(0.05)
    assert len(chain) == 3, chain
    by_attempt = {h["metadata"]["attemptNumber"]: h for h in chain}
    assert sorted(by_attempt) == [1, 2, 3]
    assert {h["originalId"] for h in chain} == {first.id}
    third = runtime.get_execution(by_attempt[3]["id"])
    assert third is not None and third.inputs == {"n": 5} and third.labels == {"run": "x"}


async def test_concurrency_queue_runs_executions_one_at_a_time(runtime: Runtime) -> None:
    flow = runtime.register_flow(load_flow(
        "id: one_at_a_time\nnamespace: t\nconcurrency:\n  limit: 1\n  behavior: QUEUE\n"
        "tasks:\n  - id: wait\n    type: tercel.core.Sleep\n    duration: PT0.3S\n",
        PLUGINS,
    ))
    executions = [runtime.create_execution(flow) for _ in range(3)]
    done = [await runtime.wait(e.id, timeout=30) for e in executions]
    assert [d.state.current for d in done] == [State.SUCCESS] * 3
    spans = sorted((d.state.histories[-2][1], d.state.end_date) for d in done)  # RUNNING -> SUCCESS
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end, "a queued execution started while another one was running"
    assert sum(State.QUEUED in [s for s, _ in d.state.histories] for d in done) == 2


async def test_concurrency_cancel_refuses_extra_executions(runtime: Runtime) -> None:
    flow = runtime.register_flow(load_flow(
        "id: single\nnamespace: t\nconcurrency:\n  limit: 1\n  behavior: CANCEL\n"
        "tasks:\n  - id: wait\n    type: tercel.core.Sleep\n    duration: PT0.5S\n",
        PLUGINS,
    ))
    first = runtime.create_execution(flow)
    for _ in range(100):
        current = runtime.get_execution(first.id)
        if current is not None and current.state.current is State.RUNNING:
            break
        await asyncio.sleep(0.02)
    second = await runtime.wait(runtime.create_execution(flow).id, timeout=30)
    assert second.state.current is State.CANCELLED and "concurrency limit" in (second.error or "")
    assert (await runtime.wait(first.id, timeout=30)).state.current is State.SUCCESS


async def test_max_duration_sla_cancels_a_slow_execution(runtime: Runtime) -> None:
    flow = runtime.register_flow(load_flow(
        "id: sla\nnamespace: t\nsla:\n  - id: quick\n    type: MAX_DURATION\n    duration: PT0.3S\n    behavior: CANCEL\n    labels:\n      sla: miss\n"
        "tasks:\n  - id: slow\n    type: tercel.core.Sleep\n    duration: PT30S\n  - id: never\n    type: tercel.core.Log\n    message: x\n",
        PLUGINS,
    ))
    done = await runtime.wait(runtime.create_execution(flow).id, timeout=30)
    assert done.state.current is State.CANCELLED
    assert done.labels == {"sla": "miss"}
    assert [tr.task_id for tr in done.task_runs] == ["slow"] and done.task_runs[0].state.current is State.KILLED
    assert any("SLA 'quick' missed" in entry["message"] for entry in runtime.logs(done.id))


RESTARTABLE = """
id: restartable
namespace: tests.restart
tasks:
  - id: first
    type: tercel.core.Return
    format: "{{ execution.id }}"
  - id: check
    type: tercel.core.Fail
    condition: "{{ kv('broken', errorOnMissing=false) ?? false }}"
    errorMessage: still broken
  - id: last
    type: tercel.core.Return
    format: done
errors:
  - id: alert
    type: tercel.core.Log
    message: failed
"""


async def test_restart_reruns_the_failed_task_in_the_same_execution(runtime: Runtime) -> None:
    from tercel.errors import TercelError

    runtime.kv.set("tests.restart", "broken", True)
    flow = runtime.register_flow(load_flow(RESTARTABLE, PLUGINS))
    ex = runtime.create_execution(flow)
    failed = await runtime.wait(ex.id, timeout=20)
    assert failed.state.current is State.FAILED
    assert [t.task_id for t in failed.task_runs] == ["first", "check", "alert"]
    runtime.kv.set("tests.restart", "broken", False)
    runtime.restart_execution(ex.id)
    restarted = runtime.get_execution(ex.id)
    assert restarted is not None and restarted.state.current in (State.RESTARTED, State.RUNNING)
    done = await runtime.wait(ex.id, timeout=20)
    assert done.state.current is State.SUCCESS
    assert [(t.task_id, len(t.attempts)) for t in done.task_runs] == [("first", 1), ("check", 2), ("last", 1)]
    assert done.labels["system.restarted"] == "true"
    assert (failed.attempt_number, done.attempt_number) == (1, 2)  # Kestra's metadata.attemptNumber
    assert done.to_dict()["metadata"]["attemptNumber"] == 2
    stored = runtime.get_execution(ex.id)
    assert stored is not None and [t.task_id for t in stored.task_runs] == ["first", "check", "last"]
    with pytest.raises(TercelError, match="no failed task run"):
        runtime.restart_execution(ex.id)


async def test_replay_starts_a_new_execution_from_a_task_run(runtime: Runtime) -> None:
    from tercel.errors import TercelError

    flow = runtime.register_flow(load_flow(RESTARTABLE, PLUGINS))
    ex = runtime.create_execution(flow)
    done = await runtime.wait(ex.id, timeout=20)
    assert done.state.current is State.SUCCESS
    check = done.task_runs[1]
    replay = runtime.replay_execution(ex.id, check.id)
    assert replay.id != ex.id
    again = await runtime.wait(replay.id, timeout=20)
    assert again.state.current is State.SUCCESS
    assert [(t.task_id, len(t.attempts)) for t in again.task_runs] == [("first", 1), ("check", 2), ("last", 1)]
    assert again.task_runs[0].outputs == {"value": ex.id}  # copied, not run again
    assert again.original_id == ex.id
    assert again.attempt_number == done.attempt_number + 1
    fresh = runtime.replay_execution(ex.id)
    from_start = await runtime.wait(fresh.id, timeout=20)
    assert from_start.task_runs[0].outputs == {"value": fresh.id}
    with pytest.raises(TercelError, match="no task run 'nope'"):
        runtime.replay_execution(ex.id, "nope")
