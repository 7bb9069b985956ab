"""Flow-level features: retry, afterExecution, SLA, concurrency, taskCache, outputs, pluginDefaults,
TemplatedTask."""

from __future__ import annotations

from pathlib import Path

import pytest
from tercel.runtime import Runtime
from tercel_sdk import State


async def test_flow_retry_failed_task_retries_in_the_same_task_run_until_it_succeeds(kestra, runtime: Runtime) -> None:
    flow = kestra.register(runtime, "flow_retry_failed_task")
    ex = runtime.create_execution(flow)
    await kestra.until(
        runtime, ex.id,
        lambda e: any(t.task_id == "load" and t.attempts and t.attempts[0].state.current is State.FAILED for t in e.task_runs),
        "had a failed attempt of load",
    )
    runtime.kv.set("company.team", "warehouse_up", True)  # the warehouse is back before the retry
    done = await runtime.wait(ex.id, timeout=20)
    assert done.state.current is State.SUCCESS
    assert kestra.trace(done.to_dict(), "flow_retry_failed_task") == [
        "extract SUCCESS x1",
        "load SUCCESS x2",
        "report SUCCESS x1",
    ]
    load = done.task_runs[1]
    assert [a.state.current for a in load.attempts] == [State.FAILED, State.SUCCESS]
    assert done.task_runs[2].outputs == {"value": "extracted and loaded"}


def test_flow_retry_failed_task_runs_the_errors_once_the_attempts_run_out(kestra) -> None:
    result = kestra.run("flow_retry_failed_task")
    assert result.state == "FAILED"
    assert kestra.trace(result.execution, "flow_retry_failed_task") == [
        "extract SUCCESS x1",
        "load FAILED x3",
        "alert SUCCESS x1",
    ]
    assert result.task_run("load")["error"] == "warehouse down"
    assert result.outputs("alert") == {"value": "load failed 1 time(s)"}


@pytest.mark.parametrize(("fail", "state", "expected"), [
    (False, "SUCCESS", [
        "work SUCCESS x1", "result SUCCESS x1", "cleanup SUCCESS x1",
        "on_success SUCCESS x1", "on_failure SKIPPED x0", "broken_notifier FAILED x1",
    ]),
    (True, "FAILED", [
        "work FAILED x1", "on_error SUCCESS x1", "cleanup SUCCESS x1",
        "on_success SKIPPED x0", "on_failure SUCCESS x1", "broken_notifier FAILED x1",
    ]),
])
def test_after_execution_sees_the_final_state_and_cannot_change_it(kestra, fail: bool, state: str, expected: list[str]) -> None:
    result = kestra.run("after_execution", {"fail": fail})
    assert result.state == state  # the failing broken_notifier does not turn SUCCESS into FAILED
    assert kestra.trace(result.execution, "after_execution") == expected
    if fail:
        assert result.outputs("on_error") == {"value": "handled work failed"}
        assert result.outputs("on_failure") == {"value": "Oh no, after_execution failed"}
    else:
        assert result.outputs("on_success") == {"value": "after_execution finished successfully"}


@pytest.mark.parametrize(("inputs", "state", "labels", "expected"), [
    ({}, "SUCCESS", {}, ["mytask SUCCESS x1", "sleepyhead SUCCESS x1", "after SUCCESS x1"]),
    ({"output": "other output"}, "FAILED", {"sla": "miss", "reason": "outputMismatch"},
     ["mytask SUCCESS x1", "sleepyhead SUCCESS x1", "after SUCCESS x1"]),
    ({"sleep": "PT30S"}, "CANCELLED", {"sla": "miss", "reason": "durationExceeded"},
     ["mytask SUCCESS x1", "sleepyhead KILLED x1"]),
], ids=["met", "assertion-missed", "duration-exceeded"])
def test_sla_assertion_and_max_duration(kestra, inputs: dict[str, str], state: str, labels: dict[str, str], expected: list[str]) -> None:
    result = kestra.run("sla", inputs)
    assert result.state == state
    assert result.execution["labels"] == labels
    assert kestra.trace(result.execution, "sla") == expected


async def test_concurrency_fail_fails_the_execution_over_the_limit_without_running_it(kestra, runtime: Runtime) -> None:
    flow = kestra.register(runtime, "concurrency_fail")
    running = [runtime.create_execution(flow) for _ in range(2)]
    for ex in running:
        await kestra.until(
            runtime, ex.id,
            lambda e: bool(e.task_runs) and e.task_runs[0].state.current is State.RUNNING,
            "started its task",
        )
    third = await runtime.wait(runtime.create_execution(flow).id, timeout=20)
    assert third.state.current is State.FAILED
    assert third.task_runs == []
    assert State.RUNNING not in [s for s, _ in third.state.histories]
    for ex in running:
        done = await runtime.wait(ex.id, timeout=20)
        assert done.state.current is State.SUCCESS
        assert kestra.trace(done.to_dict(), "concurrency_fail") == ["work SUCCESS x1"]


def test_task_cache_reuses_the_outputs_for_the_same_rendered_task(kestra, tmp_path: Path) -> None:
    first = kestra.run("task_cache", {"key": "products"}, home=tmp_path)
    again = kestra.run("task_cache", {"key": "products"}, home=tmp_path)
    other = kestra.run("task_cache", {"key": "orders"}, home=tmp_path)
    for result in (first, again, other):
        assert result.state == "SUCCESS"
        assert kestra.trace(result.execution, "task_cache") == ["refresh SUCCESS x1", "snapshot SUCCESS x1", "compare SUCCESS x1"]
    assert first.outputs("snapshot") == {"value": first.id}
    assert first.outputs("compare") == {"value": "fresh"}
    # same inputs: `snapshot` is skipped and gives what it gave in the first execution
    assert again.outputs("snapshot") == {"value": first.id}
    assert again.outputs("compare") == {"value": "cached"}
    # another key renders another task: no cache entry for it
    assert other.outputs("snapshot") == {"value": other.id}
    assert other.outputs("compare") == {"value": "fresh"}


def test_flow_outputs_labels_variables_and_plugin_defaults(kestra) -> None:
    result = kestra.run("flow_outputs_defaults", {"name": "Ada", "count": 3})
    assert result.state == "SUCCESS"
    assert kestra.trace(result.execution, "flow_outputs_defaults") == [
        "hello SUCCESS x1",
        "defaulted SUCCESS x1",
        "warn SUCCESS x1",
        "numbers SUCCESS x1",
        "label SUCCESS x1",
    ]
    assert result.outputs("hello") == {"value": "Hello Ada"}
    assert result.outputs("defaulted") == {"value": "default format for defaulted"}
    assert [(e["level"], e["message"]) for e in result.logs if e.get("task_id") == "warn"] == [("WARN", "Hello Ada")]
    assert result.execution["labels"] == {"team": "data", "greeted": "ada"}
    assert result.flow_outputs == {
        "message": "Hello Ada",
        "doubled": 6,
        "summary": {"name": "Ada", "default": "default format for defaulted"},
    }


def test_templated_task_inside_a_foreach_becomes_a_return(kestra) -> None:
    result = kestra.run("templated_task", {"mode": "return"})
    assert result.state == "SUCCESS"
    assert kestra.trace(result.execution, "templated_task") == [
        "each SUCCESS",
        "dynamic[x] SUCCESS x1",
        "dynamic[y] SUCCESS x1",
        "after SUCCESS x1",
    ]
    assert result.outputs("dynamic", "x") == {"value": "x in return mode"}
    assert result.outputs("dynamic", "y") == {"value": "y in return mode"}


def test_templated_task_inside_a_foreach_becomes_a_log(kestra) -> None:
    result = kestra.run("templated_task", {"mode": "log"})
    assert result.state == "SUCCESS"
    assert kestra.trace(result.execution, "templated_task") == [
        "each SUCCESS",
        "dynamic[x] SUCCESS x1",
        "dynamic[y] SUCCESS x1",
        "after SUCCESS x1",
    ]
    assert result.messages("dynamic", level="INFO") == ["x in log mode", "y in log mode"]
    assert result.outputs("dynamic", "x") == {}
    assert result.outputs("after") == {"value": "log done"}
