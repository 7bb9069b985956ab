"""Pause inside loops: manual resumes with onResume inputs, pauseDuration with RESUME and WARN."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tercel.runtime import Runtime
from tercel_sdk import State


def _date(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _paused_run(ex: Any, value: str) -> bool:
    return ex.state.current is State.PAUSED and any(
        t.task_id == "approve" and t.value == value and t.state.current is State.PAUSED for t in ex.task_runs
    )


async def test_pause_inside_a_foreach_waits_for_a_resume_in_every_iteration(kestra, runtime: Runtime) -> None:
    flow = kestra.register(runtime, "pause_in_foreach")
    ex = runtime.create_execution(flow)

    first = await kestra.until(runtime, ex.id, lambda e: _paused_run(e, "a"), "paused in iteration a")
    assert kestra.trace(first.to_dict(), "pause_in_foreach") == ["each RUNNING", "approve[a] PAUSED"]
    runtime.resume_execution(ex.id, {"ok": True})

    second = await kestra.until(runtime, ex.id, lambda e: _paused_run(e, "b"), "paused in iteration b")
    assert kestra.trace(second.to_dict(), "pause_in_foreach") == [
        "each RUNNING", "approve[a] SUCCESS", "act[a] SUCCESS x1", "approve[b] PAUSED",
    ]
    runtime.resume_execution(ex.id, {"ok": "false"})

    done = await runtime.wait(ex.id, timeout=20)
    assert done.state.current is State.SUCCESS
    assert kestra.trace(done.to_dict(), "pause_in_foreach") == [
        "each SUCCESS",
        "approve[a] SUCCESS",
        "act[a] SUCCESS x1",
        "approve[b] SUCCESS",
        "act[b] SUCCESS x1",
        "done SUCCESS x1",
    ]
    outputs = {(t.task_id, t.value): t.outputs for t in done.task_runs}
    assert outputs[("approve", "a")]["onResume"] == {"ok": True}
    assert outputs[("approve", "b")]["onResume"] == {"ok": False}
    assert outputs[("done", None)] == {"value": "a approved=true / b approved=false"}
    assert [s for s, _ in done.state.histories] == [
        State.CREATED, State.RUNNING, State.PAUSED, State.RUNNING, State.PAUSED, State.RUNNING, State.SUCCESS,
    ]


def test_pause_duration_inside_a_foreach_resumes_every_iteration_by_itself(kestra) -> None:
    result = kestra.run("pause_duration_in_foreach")
    assert result.state == "WARNING"
    assert kestra.trace(result.execution, "pause_duration_in_foreach") == [
        "each WARNING",
        "wait[1] SUCCESS",
        "step[1] SUCCESS x1",
        "grace[1] WARNING",
        "wait[2] SUCCESS",
        "step[2] SUCCESS x1",
        "grace[2] WARNING",
        "end SUCCESS x1",
    ]
    for run in result.task_runs:
        if run["taskId"] in ("wait", "grace"):
            states = [h["state"] for h in run["state"]["histories"]]
            assert states[:3] == ["CREATED", "RUNNING", "PAUSED"], states
            paused_at = next(_date(h["date"]) for h in run["state"]["histories"] if h["state"] == "PAUSED")
            assert (_date(run["state"]["endDate"]) - paused_at).total_seconds() >= 0.1
    # each of the four pauses paused the execution, which went on by itself every time
    assert [h["state"] for h in result.execution["state"]["histories"]].count("PAUSED") == 4
    assert result.outputs("end") == {"value": "2 steps"}


def test_pause_behavior_rendered_from_an_input(kestra) -> None:
    result = kestra.run("pause_behavior_from_input", {"behavior": "WARN"})
    assert result.state == "WARNING"
    assert kestra.trace(result.execution, "pause_behavior_from_input") == ["wait WARNING", "after SUCCESS x1"]
