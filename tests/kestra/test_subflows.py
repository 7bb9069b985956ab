"""Subflows combined with retries, loops and ForEachItem."""

from __future__ import annotations

import io

from tercel.runtime import Runtime
from tercel_sdk import State, ion

PARENT, CHILD = "subflow_retry_parent", "subflow_retry_child"


async def _child_id(kestra, runtime: Runtime, parent_id: str) -> str:
    parent = await kestra.until(
        runtime, parent_id,
        lambda ex: bool(ex.task_runs and (ex.task_runs[0].outputs or {}).get("executionId")),
        "started its subflow",
    )
    return str(parent.task_runs[0].outputs["executionId"])


async def test_a_task_retried_inside_a_subflow_lets_the_parent_succeed(kestra, runtime: Runtime) -> None:
    kestra.register(runtime, CHILD)
    parent_flow = kestra.register(runtime, PARENT)
    parent = runtime.create_execution(parent_flow, {"order": "42"})
    child_id = await _child_id(kestra, runtime, parent.id)
    # the first attempt of `flaky` fails; the upstream system becomes ready before the retry
    await kestra.until(
        runtime, child_id,
        lambda ex: any(t.task_id == "flaky" and t.attempts and t.attempts[0].state.current is State.FAILED for t in ex.task_runs),
        "had a failed attempt of flaky",
    )
    runtime.kv.set("company.team", "upstream_ready", True)
    done = await runtime.wait(parent.id, timeout=30)
    child = await runtime.wait(child_id, timeout=30)

    assert child.state.current is State.SUCCESS
    assert kestra.trace(child.to_dict(), CHILD) == ["fetch SUCCESS x1", "flaky SUCCESS x2", "process SUCCESS x1"]
    flaky = next(t for t in child.task_runs if t.task_id == "flaky")
    assert [a.state.current for a in flaky.attempts] == [State.FAILED, State.SUCCESS]
    assert child.outputs == {"result": "order 42 processed"}
    assert child.labels["system.correlationId"] == parent.id

    assert done.state.current is State.SUCCESS
    assert kestra.trace(done.to_dict(), PARENT) == ["call SUCCESS", "report SUCCESS x1"]
    assert done.task_runs[0].outputs == {"executionId": child_id, "state": "SUCCESS", "outputs": {"result": "order 42 processed"}}
    assert done.task_runs[1].outputs == {"value": "order 42 processed (SUCCESS)"}


async def test_a_subflow_that_runs_out_of_attempts_fails_the_parent_and_runs_its_errors(kestra, runtime: Runtime) -> None:
    kestra.register(runtime, CHILD)
    parent_flow = kestra.register(runtime, PARENT)
    parent = runtime.create_execution(parent_flow, {"order": "7"})
    child_id = await _child_id(kestra, runtime, parent.id)
    done = await runtime.wait(parent.id, timeout=30)
    child = await runtime.wait(child_id, timeout=30)

    assert child.state.current is State.FAILED
    assert kestra.trace(child.to_dict(), CHILD) == ["fetch SUCCESS x1", "flaky FAILED x3"]
    assert done.state.current is State.FAILED
    assert kestra.trace(done.to_dict(), PARENT) == ["call FAILED", "alert SUCCESS x1"]
    assert done.task_runs[0].outputs["state"] == "FAILED"
    assert done.task_runs[1].outputs == {"value": "subflow FAILED"}


def test_subflow_with_transmit_failed_false_inside_a_foreach(kestra) -> None:
    result = kestra.run("subflow_transmit_failed_false", subflows=["subflow_validate_child"])
    assert result.state == "SUCCESS"
    assert kestra.trace(result.execution, "subflow_transmit_failed_false") == [
        "each SUCCESS",
        "call[1] SUCCESS",
        "call[2] SUCCESS",
        "call[3] SUCCESS",
        "summary SUCCESS x1",
    ]
    assert [result.outputs("call", v)["state"] for v in ("1", "2", "3")] == ["SUCCESS", "FAILED", "SUCCESS"]
    assert result.outputs("call", "3")["outputs"] == {"doubled": 6}
    assert len({result.outputs("call", v)["executionId"] for v in ("1", "2", "3")}) == 3
    assert result.outputs("summary") == {"value": "SUCCESS FAILED SUCCESS / 6"}


def test_for_each_item_over_a_written_file_merges_the_subflow_outputs(kestra) -> None:
    result = kestra.run("for_each_item_merge", subflows=["for_each_item_child"])
    assert result.state == "SUCCESS"
    assert kestra.trace(result.execution, "for_each_item_merge") == [
        "write SUCCESS x1",
        "each SUCCESS",
        "each_split SUCCESS x1",
        "each_items SUCCESS x1",
        "each_merge SUCCESS x1",
        "batches SUCCESS x1",
        "merged SUCCESS x1",
    ]
    assert result.outputs("batches") == {"value": "3 batches, 3 succeeded"}
    merged = result.outputs("merged")["value"]
    rows = list(ion.read_rows(io.BytesIO(merged.encode("utf-8"))))
    assert rows == [{"text": "ALPHA\nBETA"}, {"text": "GAMMA\nDELTA"}, {"text": "EPSILON"}]
