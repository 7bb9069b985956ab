"""The runnable types' `run`, over the `FakeRunContext` double (literal and simple expressions)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from tercel_plugin_core.debug import ReturnOutput
from tercel_plugin_core.output import OutputValuesOutput
from tercel_sdk import TaskFailed

# ------------------------------------------------------------------------------------ Log


def test_log_one_message_at_info_by_default(task, run_ctx):
    ctx = run_ctx({"name": "world"})
    assert task({"id": "l", "type": "tercel.core.Log", "message": "hello {{ name }}"}).run(ctx) is None
    assert ctx.logs == [("INFO", "hello world")]


@pytest.mark.parametrize("level", ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"])
def test_log_each_message_at_the_level(task, run_ctx, level):
    ctx = run_ctx({"n": 2})
    t = task({"id": "l", "type": "io.kestra.plugin.core.log.Log", "level": level, "message": ["one", "{{ n }}"]})
    t.run(ctx)
    assert ctx.logs == [(level, "one"), (level, "2")]


def test_log_level_may_be_an_expression(task, run_ctx):
    ctx = run_ctx({"lvl": "ERROR"})
    task({"id": "l", "type": "tercel.core.Log", "level": "{{ lvl }}", "message": "boom"}).run(ctx)
    assert ctx.logs == [("ERROR", "boom")]


def test_log_text_that_looks_like_json_stays_one_line(task, run_ctx):
    ctx = run_ctx({"body": '["a", 1]'})
    task({"id": "l", "type": "tercel.core.Log", "message": "{{ body }}"}).run(ctx)
    assert ctx.logs == [("INFO", '["a", 1]')]


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


# --------------------------------------------------------------------------------- Return


def test_return_renders_format_and_records_metrics(task, run_ctx):
    ctx = run_ctx({"task": {"id": "ret"}})
    out = task({"id": "ret", "type": "io.kestra.core.tasks.debugs.Return", "format": "{{ task.id }} > x"}).run(ctx)
    assert out == ReturnOutput(value="ret > x")
    assert out.model_dump(by_alias=True) == {"value": "ret > x"}
    assert ("DEBUG", "ret > x") in ctx.logs
    assert [(name, kind) for name, _, kind in ctx.metrics] == [("length", "counter"), ("duration", "timer")]
    assert ctx.metrics[0][1] == len("ret > x")


def test_return_renders_typed_values_as_text(task, run_ctx):
    out = task({"id": "ret", "type": "tercel.core.Return", "format": "{{ n }}"}).run(run_ctx({"n": 42}))
    assert out.value == "42"


def test_return_without_format_returns_none(task, run_ctx):
    ctx = run_ctx()
    assert task({"id": "ret", "type": "tercel.core.Return"}).run(ctx).value is None
    assert ctx.metrics[0][:2] == ("length", 0)


# --------------------------------------------------------------------------- OutputValues


def test_output_values_keep_their_types(task, run_ctx):
    when = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    ctx = run_ctx({"when": when, "n": 7, "name": "ada"})
    t = task(
        {
            "id": "out",
            "type": "io.kestra.plugin.core.output.OutputValues",
            "values": {"when": "{{ when }}", "n": "{{ n }}", "text": "hi {{ name }}", "literal": [1, 2], "flag": True},
        }
    )
    out = t.run(ctx)
    assert isinstance(out, OutputValuesOutput)
    assert out.values == {"when": when, "n": 7, "text": "hi ada", "literal": [1, 2], "flag": True}
    assert isinstance(out.values["when"], datetime)


def test_output_values_empty(task, run_ctx):
    assert task({"id": "out", "type": "tercel.core.OutputValues"}).run(run_ctx()).values == {}


# ----------------------------------------------------------------------------------- Fail


def test_fail_without_condition_always_fails(task, run_ctx):
    with pytest.raises(TaskFailed, match=r"^Task failure$"):
        task({"id": "f", "type": "tercel.core.Fail"}).run(run_ctx())


def test_fail_uses_the_rendered_error_message(task, run_ctx):
    t = task({"id": "f", "type": "io.kestra.core.tasks.executions.Fail", "errorMessage": "bad {{ v }}"})
    with pytest.raises(TaskFailed, match=r"^bad 3$"):
        t.run(run_ctx({"v": 3}))


@pytest.mark.parametrize("condition", ["true", "yes", True, 1, "{{ c }}"])
def test_fail_when_condition_is_true(task, run_ctx, condition):
    with pytest.raises(TaskFailed):
        task({"id": "f", "type": "tercel.core.Fail", "condition": condition}).run(run_ctx({"c": "fail"}))


@pytest.mark.parametrize("condition", ["false", "0", "-0", "", " False ", False, 0, "{{ c }}", "{{ n }}"])
def test_fail_passes_when_condition_is_false(task, run_ctx, condition):
    t = task({"id": "f", "type": "io.kestra.plugin.core.execution.Fail", "condition": condition})
    assert t.run(run_ctx({"c": False, "n": None})) is None


def test_fail_with_a_null_condition_is_unconditional(task, run_ctx):
    t = task({"id": "f", "type": "tercel.core.Fail", "condition": None})
    with pytest.raises(TaskFailed):
        t.run(run_ctx())


# ---------------------------------------------------------------------------------- Sleep


def test_sleep_waits_for_the_duration(task, run_ctx):
    ctx = run_ctx()
    t = task({"id": "s", "type": "io.kestra.plugin.core.flow.Sleep", "duration": "PT0.15S"})
    start = time.perf_counter()
    assert asyncio.run(t.run(ctx)) is None
    assert time.perf_counter() - start >= 0.15
    assert ctx.logs == [("INFO", "Waiting for PT0.15S")]


def test_sleep_duration_may_be_an_expression(task, run_ctx):
    t = task({"id": "s", "type": "tercel.core.Sleep", "duration": "{{ d }}"})
    assert asyncio.run(t.run(run_ctx({"d": timedelta(milliseconds=10)}))) is None


def test_sleep_stops_when_the_task_run_is_cancelled(task, run_ctx):
    ctx = run_ctx()
    t = task({"id": "s", "type": "tercel.core.Sleep", "duration": "PT1H"})

    async def scenario() -> None:
        job = asyncio.create_task(t.run(ctx))
        await asyncio.sleep(0.05)
        ctx.cancelled = True
        await asyncio.wait_for(job, timeout=2)

    start = time.perf_counter()
    with pytest.raises(TaskFailed, match="killed or timed out"):
        asyncio.run(scenario())
    assert time.perf_counter() - start < 2


def test_sleep_is_cancellable_as_an_asyncio_task(task, run_ctx):
    t = task({"id": "s", "type": "tercel.core.Sleep", "duration": "PT1H"})

    async def scenario() -> None:
        job = asyncio.create_task(t.run(run_ctx()))
        await asyncio.sleep(0.05)
        job.cancel()
        await job

    start = time.perf_counter()
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(scenario())
    assert time.perf_counter() - start < 1


def test_sleep_refuses_a_negative_duration(task, run_ctx):
    with pytest.raises(TaskFailed, match="negative"):
        asyncio.run(task({"id": "s", "type": "tercel.core.Sleep", "duration": "-PT1S"}).run(run_ctx()))


@pytest.mark.parametrize("duration", ["5 seconds", None])
def test_sleep_validation(task, duration):
    with pytest.raises(ValidationError):
        task({"id": "s", "type": "tercel.core.Sleep", "duration": duration})
