"""The core types through the SDK's testing harness: one task with `run_task`, whole flows
(`tests/flows/*.yaml`) with `run_flow`, on the real engine and real templating.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from tercel_sdk import testing

FLOWS = Path(__file__).parent / "flows"
# ----------------------------------------------------------------------------------- helpers


def _pair(entry: Any) -> tuple[str, str]:
    if isinstance(entry, dict):
        level, message = entry.get("level"), entry.get("message")
    else:
        level, message = entry[0], entry[-1]
    level = str(getattr(level, "name", level)).upper()
    return ("WARN" if level == "WARNING" else level), str(message)


def log_pairs(logs: Any) -> list[tuple[str, str]]:
    """Logs as (LEVEL, message), from `TaskResult.logs` tuples or `FlowResult.logs` dicts."""
    return [_pair(e) for e in logs]


def metric_names(metrics: list[dict[str, Any]]) -> set[str]:
    return {m["name"] for m in metrics}


def flow(name: str, inputs: dict[str, Any] | None = None) -> Any:
    return testing.run_flow(FLOWS / f"{name}.yaml", inputs)


def runs(result: Any, task_id: str) -> list[dict[str, Any]]:
    return [r for r in result.task_runs if r["taskId"] == task_id]


def ids(result: Any) -> list[str]:
    return [r["taskId"] for r in result.task_runs]


def state(run: dict[str, Any]) -> str:
    return str(run["state"]["current"])


# ---------------------------------------------------------------------------------- run_task


def test_run_task_log():
    result = testing.run_task(
        "tercel.core.Log", {"message": ["a", "{{ vars.x }}"], "level": "WARN"}, variables={"x": 1}
    )
    assert result.state == "SUCCESS"
    assert log_pairs(result.logs)[-2:] == [("WARN", "a"), ("WARN", "1")]


def test_run_task_return_by_kestra_name():
    result = testing.run_task(
        "io.kestra.plugin.core.debug.Return", {"format": "{{ inputs.n * 2 }}"}, inputs={"n": 21}
    )
    assert result.state == "SUCCESS"
    assert result.outputs["value"] == "42"
    assert {"length", "duration"} <= metric_names(result.metrics)


def test_run_task_output_values_keep_types():
    result = testing.run_task(
        "tercel.core.OutputValues", {"values": {"now": "{{ now() }}", "n": "{{ 1 + 1 }}"}}
    )
    assert result.state == "SUCCESS"
    assert isinstance(result.outputs["values"]["now"], datetime)
    assert result.outputs["values"]["n"] == 2


def test_run_task_fail():
    result = testing.run_task(
        "tercel.core.Fail", {"errorMessage": "no {{ vars.x }}"}, variables={"x": "way"}
    )
    assert result.state == "FAILED"
    assert "no way" in str(result.error)


def test_run_task_fail_condition_false():
    result = testing.run_task(
        "io.kestra.core.tasks.executions.Fail", {"condition": "{{ vars.x }}"}, variables={"x": False}
    )
    assert result.state == "SUCCESS"


def test_run_task_sleep():
    start = time.perf_counter()
    assert testing.run_task("tercel.core.Sleep", {"duration": "PT0.1S"}).state == "SUCCESS"
    assert time.perf_counter() - start >= 0.1


def test_run_task_return_without_format():
    result = testing.run_task("tercel.core.Return")
    assert result.state == "SUCCESS"
    assert result.outputs.get("value") is None


# ---------------------------------------------------------------------------------- run_flow


@pytest.mark.parametrize(
    ("name", "inputs", "expected"),
    [
        ("log_levels", None, "SUCCESS"),
        ("outputs", None, "SUCCESS"),
        ("fail_handlers", None, "FAILED"),
        ("fail_condition", None, "SUCCESS"),
        ("fail_condition", {"param": "fail"}, "FAILED"),
        ("parallel", None, "SUCCESS"),
        ("if_else", None, "SUCCESS"),
        ("if_else", {"string": "other"}, "SUCCESS"),
        ("switch", None, "SUCCESS"),
        ("switch", {"string": "nope"}, "SUCCESS"),
        ("switch_no_match", None, "FAILED"),
        ("foreach", None, "SUCCESS"),
        ("foreach_types", None, "SUCCESS"),
        ("foreach_failure", None, "FAILED"),
        ("sleep", None, "SUCCESS"),
        ("kestra_names", None, "SUCCESS"),
    ],
)
def test_flow_final_state(name, inputs, expected):
    assert flow(name, inputs).state == expected


def test_every_flow_file_is_covered():
    covered = {
        "log_levels", "outputs", "fail_handlers", "fail_condition", "parallel", "if_else", "switch",
        "switch_no_match", "foreach", "foreach_types", "foreach_failure", "sleep", "kestra_names",
    }  # fmt: skip
    assert {p.stem for p in FLOWS.glob("*.yaml")} == covered


def test_log_levels_flow():
    result = flow("log_levels")
    pairs = log_pairs(result.logs)
    assert ("INFO", "hello from log_levels") in pairs
    assert ("WARN", "first line") in pairs and ("WARN", "second from many") in pairs
    assert ("DEBUG", "[1, 2]") in pairs


def test_outputs_flow_passes_typed_values():
    result = flow("outputs", {"name": "ada"})
    assert result.outputs("greet")["value"] == "hello ada"
    values = result.outputs("out")["values"]
    assert values["greeting"] == "hello ada"
    assert values["count"] == 42
    assert isinstance(values["started"], datetime)
    assert values["nested"] == {"list": [1, "two"]}
    assert result.outputs("use")["value"] == "hello ada x43"


def test_fail_handlers_flow_runs_errors_then_finally():
    result = flow("fail_handlers")
    assert ids(result) == ["group", "ok", "boom", "on_error", "cleanup"]
    assert state(runs(result, "boom")[0]) == "FAILED"
    assert state(runs(result, "group")[0]) == "FAILED"
    assert state(runs(result, "cleanup")[0]) == "SUCCESS"
    assert ("ERROR", "handled") in log_pairs(result.logs)


def test_fail_condition_flow():
    ok = flow("fail_condition")
    assert ids(ok) == ["before", "fail", "after"]
    failed = flow("fail_condition", {"param": "fail"})
    assert ids(failed) == ["before", "fail"]
    assert state(runs(failed, "fail")[0]) == "FAILED"


def test_parallel_flow_respects_concurrent():
    start = time.perf_counter()
    result = flow("parallel")
    assert time.perf_counter() - start >= 0.35  # 4 sleeps of 0.2 s, 2 at a time
    assert ids(result)[-1] == "last"
    assert all(state(r) == "SUCCESS" for r in result.task_runs)


@pytest.mark.parametrize(("string", "branch"), [("Condition", "when_true"), ("other", "when_false")])
def test_if_flow(string, branch):
    result = flow("if_else", {"string": string})
    assert ids(result) == ["if", branch, "no_else"]
    assert result.outputs(branch)["value"] == f"Condition was {(branch == 'when_true' and 'true') or 'false'}"
    assert result.outputs("if")["evaluationResult"] is (branch == "when_true")
    assert state(runs(result, "no_else")[0]) == "SUCCESS"


@pytest.mark.parametrize(
    ("string", "branch", "defaults"),
    [("FIRST", "first", False), ("SECOND", "second", False), ("other", "default", True)],
)
def test_switch_flow(string, branch, defaults):
    result = flow("switch", {"string": string})
    assert ids(result) == ["switch", branch]
    assert result.outputs("switch") == {"value": string, "defaults": defaults}


def test_switch_without_match_fails_and_stops_the_flow():
    result = flow("switch_no_match")
    assert ids(result) == ["switch"]


def test_foreach_flow_values_iterations_and_parent_value():
    result = flow("foreach")
    before = runs(result, "before_if")
    assert [(r["value"], r["iteration"]) for r in before] == [("value 1", 0), ("value 2", 1), ("value 3", 2)]
    assert result.outputs("before_if", value="value 1")["value"] == "Before if value 1 #0"
    after = runs(result, "after_if")
    assert len(after) == 1
    assert after[0]["value"] == "value 2"  # inherited from the loop through the If
    assert result.outputs("after_if", value="value 2")["value"] == "After if value 2"
    assert [r["value"] for r in runs(result, "if")] == ["value 1", "value 2", "value 3"]


def test_foreach_flow_value_types_and_json():
    result = flow("foreach_types")
    assert [r["value"] for r in runs(result, "echo")] == ["1", "two", '{"k":"v"}']
    assert [r["iteration"] for r in runs(result, "echo")] == [0, 1, 2]
    assert result.outputs("echo", value='{"k":"v"}')["value"] == '{"k":"v"}'
    assert [r["value"] for r in runs(result, "echo_json")] == ["x", "y"]


def test_foreach_flow_failure_stops_and_handles_once():
    result = flow("foreach_failure")
    assert [r["value"] for r in runs(result, "check")] == ["1", "2"]
    assert [r["value"] for r in runs(result, "after_check")] == ["1"]
    (on_error,) = runs(result, "on_error")
    (cleanup,) = runs(result, "cleanup")
    assert on_error["value"] is None and cleanup["value"] is None
    assert state(runs(result, "for_each")[0]) == "FAILED"


def test_kestra_names_flow_runs_every_alias():
    result = flow("kestra_names")
    assert {state(r) for r in result.task_runs} == {"SUCCESS"}
    assert result.outputs("new_outputs", value="a")["values"] == {"v": "a"}
    assert result.outputs("old_return")["value"] == "old"
