"""The runnable types Log, Return, OutputValues, Fail and Sleep through the real engine
(`tercel_sdk.testing.run_task`): real templating, real logs and metrics, validation at save."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from tercel_sdk import Property, TaskFailed
from tercel_sdk.testing import Sandbox, run_task, validate


def problems(spec: dict[str, Any]) -> list[str]:
    """What saving a flow with this one task reports."""
    return validate(json.dumps({"id": "f", "namespace": "company.team", "tasks": [spec]}))


# ------------------------------------------------------------------------------------ Log


def test_log_one_message_at_info_by_default():
    result = run_task("tercel.core.Log", {"message": "hello {{ vars.name }}"}, variables={"name": "world"})
    assert result.assert_success().logs == [("INFO", "hello world")]


@pytest.mark.parametrize("level", ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"])
def test_log_each_message_at_the_level(level):
    result = run_task(
        "io.kestra.plugin.core.log.Log", {"level": level, "message": ["one", "{{ vars.n }}"]}, variables={"n": 2}
    )
    assert result.assert_success().logs == [(level, "one"), (level, "2")]
    assert result.messages(level) == ["one", "2"]


def test_log_level_may_be_an_expression():
    result = run_task("tercel.core.Log", {"level": "{{ vars.lvl }}", "message": "boom"}, variables={"lvl": "ERROR"})
    assert result.logs == [("ERROR", "boom")]


def test_log_text_that_looks_like_json_stays_one_line():
    result = run_task("tercel.core.Log", {"message": "{{ inputs.body }}"}, inputs={"body": '["a", 1]'})
    assert result.logs == [("INFO", '["a", 1]')]


@pytest.mark.parametrize(
    "spec",
    [
        {"id": "l", "type": "tercel.core.Log"},
        {"id": "l", "type": "tercel.core.Log", "message": "x", "level": "WARNING"},
        {"id": "l", "type": "tercel.core.Log", "message": {"a": 1}},
    ],
)
def test_log_validation(task, spec):
    with pytest.raises(ValidationError):
        task(spec)
    assert problems(spec), "refused when the flow is saved too"


# --------------------------------------------------------------------------------- Return


def test_return_renders_format_and_records_metrics():
    result = run_task("io.kestra.core.tasks.debugs.Return", {"format": "{{ task.id }} > x"})
    assert result.assert_success().outputs == {"value": "task > x"}
    assert ("DEBUG", "task > x") in result.logs
    assert [(m["name"], m["type"]) for m in result.metrics] == [("length", "counter"), ("duration", "timer")]
    assert result.metric("length") == len("task > x")


def test_return_renders_typed_values_as_text():
    assert run_task("tercel.core.Return", {"format": "{{ inputs.n }}"}, inputs={"n": 42}).outputs == {"value": "42"}


def test_return_without_format_returns_none():
    result = run_task("tercel.core.Return")
    assert result.assert_success().outputs.get("value") is None
    assert result.metric("length") == 0


# --------------------------------------------------------------------------- OutputValues


def test_output_values_keep_their_types():
    when = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    result = run_task(
        "io.kestra.plugin.core.output.OutputValues",
        {"values": {"when": "{{ inputs.when }}", "n": "{{ inputs.n }}", "text": "hi {{ inputs.name }}", "literal": [1, 2], "flag": True}},
        inputs={"when": when, "n": 7, "name": "ada"},
    )
    values = result.assert_success().outputs["values"]
    assert values == {"when": when, "n": 7, "text": "hi ada", "literal": [1, 2], "flag": True}
    assert isinstance(values["when"], datetime)


def test_output_values_empty():
    assert run_task("tercel.core.OutputValues").outputs["values"] == {}


# ----------------------------------------------------------------------------------- Fail


def test_fail_without_condition_always_fails():
    run_task("tercel.core.Fail").assert_failed(match=r"^Task failure$")


def test_fail_uses_the_rendered_error_message():
    result = run_task("io.kestra.core.tasks.executions.Fail", {"errorMessage": "bad {{ vars.v }}"}, variables={"v": 3})
    result.assert_failed(match=r"^bad 3$")


@pytest.mark.parametrize("condition", ["true", "yes", True, 1, "{{ vars.c }}"])
def test_fail_when_condition_is_true(condition):
    run_task("tercel.core.Fail", {"condition": condition}, variables={"c": "fail"}).assert_failed()


@pytest.mark.parametrize("condition", ["false", "0", "-0", "", " False ", False, 0, "{{ vars.c }}", "{{ vars.n }}"])
def test_fail_passes_when_condition_is_false(condition):
    result = run_task("io.kestra.plugin.core.execution.Fail", {"condition": condition}, variables={"c": False, "n": None})
    assert result.assert_success().outputs == {}


def test_fail_with_a_null_condition_is_unconditional():
    run_task("tercel.core.Fail", {"condition": None}).assert_failed()


# ---------------------------------------------------------------------------------- Sleep


def test_sleep_waits_for_the_duration():
    start = time.perf_counter()
    result = run_task("io.kestra.plugin.core.flow.Sleep", {"duration": "PT0.15S"})
    assert time.perf_counter() - start >= 0.15
    assert result.assert_success().logs == [("INFO", "Waiting for PT0.15S")]


def test_sleep_duration_may_be_an_expression():
    result = run_task("tercel.core.Sleep", {"duration": "{{ inputs.d }}"}, inputs={"d": timedelta(milliseconds=10)})
    assert result.assert_success().logs == [("INFO", "Waiting for PT0.01S")]


class _CancellableContext:
    """Just what Sleep uses of a RunContext, with `is_cancelled()` turned on by the test: the
    engine cannot show this path alone (its kill also cancels the task's coroutine)."""

    def __init__(self) -> None:
        self.cancelled = False
        self.logger = type("Logger", (), {"info": lambda self, *args: None})()

    def render(self, value: Any) -> Any:
        return value.coerce(value.raw) if isinstance(value, Property) else value

    def is_cancelled(self) -> bool:
        return self.cancelled


def test_sleep_stops_when_the_task_run_is_cancelled(task):
    ctx = _CancellableContext()
    sleep = task({"id": "s", "type": "tercel.core.Sleep", "duration": "PT1H"})

    async def scenario() -> None:
        job = asyncio.create_task(sleep.run(ctx))
        await asyncio.sleep(0.05)
        ctx.cancelled = True
        await asyncio.wait_for(job, timeout=2)

    start = time.perf_counter()
    with pytest.raises(TaskFailed, match="killed or timed out"):
        asyncio.run(scenario())
    assert time.perf_counter() - start < 2


async def test_sleep_stops_at_once_when_the_execution_is_killed():
    async with Sandbox() as tercel:
        sleeping = tercel.start("id: s\nnamespace: company.team\ntasks:\n  - id: s\n    type: tercel.core.Sleep\n    duration: PT1H\n")
        await tercel.until(sleeping, lambda r: any(t["state"]["current"] == "RUNNING" for t in r.task_runs))
        start = time.perf_counter()
        tercel.kill(sleeping)
        killed = await tercel.wait(sleeping, timeout=5)
    assert time.perf_counter() - start < 1
    assert killed.state == "KILLED" and killed.task_run("s")["state"]["current"] == "KILLED"


def test_a_timeout_stops_a_sleep():
    start = time.perf_counter()
    result = run_task("tercel.core.Sleep", {"duration": "PT1H", "timeout": "PT0.2S"})
    result.assert_failed(match="timed out after PT0.2S")
    assert time.perf_counter() - start < 5


def test_sleep_refuses_a_negative_duration():
    run_task("tercel.core.Sleep", {"duration": "-PT1S"}).assert_failed(match="negative")


@pytest.mark.parametrize("duration", ["5 seconds", None])
def test_sleep_validation(task, duration):
    with pytest.raises(ValidationError):
        task({"id": "s", "type": "tercel.core.Sleep", "duration": duration})


def test_a_duration_that_is_not_iso_8601_is_refused_when_the_flow_is_saved():
    problems = validate("id: f\nnamespace: t\ntasks:\n  - id: s\n    type: tercel.core.Sleep\n    duration: 5 seconds\n")
    assert len(problems) == 1 and "not an ISO 8601 duration: '5 seconds'" in str(problems[0]), problems
    assert "tasks[0].duration" in str(problems[0])
    # an expression is rendered first, and checked when the task runs
    run_task("tercel.core.Sleep", {"duration": "{{ '5 seconds' }}"}).assert_failed(match="not an ISO 8601 duration: '5 seconds'")
