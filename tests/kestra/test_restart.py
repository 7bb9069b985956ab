"""Restart of a failed execution and replay from a task run (Runtime.restart/replay_execution)."""

from __future__ import annotations

from tercel.runtime import Runtime
from tercel_sdk import State


async def test_restart_of_a_failed_foreach_reruns_only_what_failed(kestra, runtime: Runtime) -> None:
    flow = kestra.register(runtime, "restart_foreach")
    ex = runtime.create_execution(flow)
    failed = await runtime.wait(ex.id, timeout=20)
    assert failed.state.current is State.FAILED
    assert kestra.trace(failed.to_dict(), "restart_foreach") == [
        "prepare SUCCESS x1",
        "items FAILED",
        "process[a] SUCCESS x1",
        "done[a] SUCCESS x1",
        "process[b] FAILED x1",
        "alert SUCCESS x1",
    ]
    assert failed.task_runs[-1].outputs == {"value": "cannot process b"}

    runtime.kv.set("company.team", "fixed", True)
    runtime.restart_execution(ex.id)
    done = await runtime.wait(ex.id, timeout=20)
    assert done.id == ex.id
    assert done.state.current is State.SUCCESS
    assert [s for s, _ in done.state.histories] == [
        State.CREATED, State.RUNNING, State.FAILED, State.RESTARTED, State.RUNNING, State.SUCCESS,
    ]
    assert done.labels["system.restarted"] == "true"
    # the errors' task run is gone; "b" has a second attempt; "c" and publish ran once
    assert kestra.trace(done.to_dict(), "restart_foreach") == [
        "prepare SUCCESS x1",
        "items SUCCESS",
        "process[a] SUCCESS x1",
        "done[a] SUCCESS x1",
        "process[b] SUCCESS x2",
        "done[b] SUCCESS x1",
        "process[c] SUCCESS x1",
        "done[c] SUCCESS x1",
        "publish SUCCESS x1",
    ]
    process_b = next(t for t in done.task_runs if t.task_id == "process" and t.value == "b")
    assert [a.state.current for a in process_b.attempts] == [State.FAILED, State.SUCCESS]
    # `prepare` was not run again: its output is still the one of the first run
    assert done.task_runs[-1].outputs == {"value": f"3 published, prepared in {ex.id}"}


async def _fail_then_restart(kestra, runtime: Runtime, parent: str) -> tuple[str, object]:
    kestra.register(runtime, "restart_subflow_child")
    flow = kestra.register(runtime, parent)
    ex = runtime.create_execution(flow)
    failed = await runtime.wait(ex.id, timeout=20)
    assert failed.state.current is State.FAILED
    assert kestra.trace(failed.to_dict(), parent) == ["call FAILED"]
    first_child = str(failed.task_runs[0].outputs["executionId"])
    runtime.kv.set("company.team", "child_fixed", True)
    runtime.restart_execution(ex.id)
    done = await runtime.wait(ex.id, timeout=20)
    assert done.state.current is State.SUCCESS
    assert kestra.trace(done.to_dict(), parent) == ["call SUCCESS", "use SUCCESS x1"]
    return first_child, done


async def test_restart_with_new_execution_restart_behavior_starts_a_new_subflow_execution(kestra, runtime: Runtime) -> None:
    first_child, done = await _fail_then_restart(kestra, runtime, "restart_subflow_new_execution")
    second_child = done.task_runs[0].outputs["executionId"]
    assert second_child != first_child
    assert done.task_runs[1].outputs == {"value": f"made by {second_child}"}
    old = runtime.get_execution(first_child)
    assert old is not None and old.state.current is State.FAILED  # left as it was
    new = runtime.get_execution(second_child)
    assert new is not None and new.state.current is State.SUCCESS


async def test_restart_with_the_default_restart_behavior_restarts_the_failed_subflow_execution(kestra, runtime: Runtime) -> None:
    first_child, done = await _fail_then_restart(kestra, runtime, "restart_subflow_retry_failed")
    assert done.task_runs[0].outputs["executionId"] == first_child
    child = runtime.get_execution(first_child)
    assert child is not None and child.state.current is State.SUCCESS
    assert child.labels.get("system.restarted") == "true"
    assert kestra.trace(child.to_dict(), "restart_subflow_child") == ["check SUCCESS x2", "produce SUCCESS x1"]
    assert done.task_runs[1].outputs == {"value": f"made by {first_child}"}


async def test_replay_from_the_failed_task_with_the_fixed_revision(kestra, runtime: Runtime) -> None:
    broken = kestra.register(runtime, "replay_demo")
    ex = runtime.create_execution(broken)
    failed = await runtime.wait(ex.id, timeout=20)
    assert failed.state.current is State.FAILED
    assert kestra.trace(failed.to_dict(), "replay_demo") == ["download SUCCESS x1", "validate FAILED x1"]
    assert "Schema validation failed - unexpected number of columns" in (failed.task_runs[1].error or "")

    fixed = kestra.register(runtime, "replay_demo", kestra.source("replay_demo").replace("{{ 8 == 5 }}", "{{ 8 >= 5 }}"))
    assert (broken.revision, fixed.revision) == (1, 2)
    replay = runtime.replay_execution(ex.id, failed.task_runs[1].id, revision=fixed.revision)
    assert replay.id != ex.id
    again = await runtime.wait(replay.id, timeout=20)
    assert again.state.current is State.SUCCESS
    assert again.flow_revision == 2
    assert again.original_id == ex.id
    assert kestra.trace(again.to_dict(), "replay_demo") == [
        "download SUCCESS x1", "validate SUCCESS x2", "notify SUCCESS x1",
    ]
    # `download` was copied, not run again: its output names the first execution
    assert again.task_runs[0].outputs == {"value": f"orders of {ex.id}"}
    assert [a.state.current for a in again.task_runs[1].attempts] == [State.FAILED, State.SUCCESS]
    # the replayed execution is left as it was
    original = runtime.get_execution(ex.id)
    assert original is not None and original.state.current is State.FAILED
    assert kestra.trace(original.to_dict(), "replay_demo") == ["download SUCCESS x1", "validate FAILED x1"]

    # a replay without a task run starts over: everything runs again in the new execution
    fresh = runtime.replay_execution(ex.id, revision=fixed.revision)
    from_start = await runtime.wait(fresh.id, timeout=20)
    assert from_start.state.current is State.SUCCESS
    assert kestra.trace(from_start.to_dict(), "replay_demo") == [
        "download SUCCESS x1", "validate SUCCESS x1", "notify SUCCESS x1",
    ]
    assert from_start.task_runs[0].outputs == {"value": f"orders of {fresh.id}"}
