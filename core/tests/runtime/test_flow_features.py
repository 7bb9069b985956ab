"""Flow-level features through the real engine, worker, store and storage (tercel_sdk.testing)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from tercel_sdk import Output, Property, RunnableTask, TaskWarning
from tercel_sdk.testing import run_flow, run_task


class PutKV(RunnableTask):
    """Store a value in the namespace's KV store."""

    type_name = "tests.PutKV"
    key: Property[str]
    value: Property[Any]
    ttl: str | None = None

    def run(self, ctx: Any) -> None:
        from tercel_sdk import parse_duration

        ctx.kv.set(ctx.render(self.key), ctx.render(self.value), ttl=parse_duration(self.ttl) if self.ttl else None)


class Typed(Output):
    when: datetime
    day: date
    amount: Decimal
    span: timedelta
    raw: bytes


class MakeTyped(RunnableTask):
    """Outputs values JSON cannot keep."""

    type_name = "tests.MakeTyped"

    def run(self, ctx: Any) -> Typed:
        return Typed(
            when=datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
            day=date(2024, 2, 29),
            amount=Decimal("12.50"),
            span=timedelta(hours=1, minutes=30),
            raw=b"\x00\x01",
        )


class TypeNames(Output):
    names: dict[str, str]


class Inspect(RunnableTask):
    """Reports the Python types of what it receives."""

    type_name = "tests.Inspect"
    values: Property[dict[str, Any]]

    def run(self, ctx: Any) -> TypeNames:
        return TypeNames(names={k: type(v).__name__ for k, v in ctx.render(self.values).items()})


class FilesAndMetrics(RunnableTask):
    """Writes a file, reads it back, counts."""

    type_name = "tests.FilesAndMetrics"

    class Out(Output):
        uri: str
        workdir_existed: bool

    def run(self, ctx: Any) -> Out:
        path = ctx.working_dir / "data.txt"
        path.write_text("payload")
        uri = ctx.put_file(path, "data.txt")
        assert ctx.read_file(uri) == b"payload"
        ctx.metric("rows", 3)
        ctx.metric("rows", 2)
        ctx.metric("took", 0.5, type="timer", tags={"step": "x"})
        ctx.logger.debug("debug line")
        ctx.logger.info("info line")
        return self.Out(uri=uri, workdir_existed=path.exists())


class Warns(RunnableTask):
    type_name = "tests.Warns"

    def run(self, ctx: Any) -> None:
        raise TaskWarning("half done", outputs={"done": 1})


class SlowAsync(RunnableTask):
    type_name = "tests.SlowAsync"

    async def run(self, ctx: Any) -> None:
        await asyncio.sleep(30)


TYPES = [PutKV, MakeTyped, Inspect, FilesAndMetrics, Warns, SlowAsync]


def test_typed_values_survive_between_tasks() -> None:
    result = run_flow(
        "id: typed\nnamespace: t\ntasks:\n"
        "  - id: make\n    type: tests.MakeTyped\n"
        "  - id: check\n    type: tests.Inspect\n    values:\n"
        "      when: \"{{ outputs.make.when }}\"\n      day: \"{{ outputs.make.day }}\"\n"
        "      amount: \"{{ outputs.make.amount }}\"\n      span: \"{{ outputs.make.span }}\"\n      raw: \"{{ outputs.make.raw }}\"\n",
        types=TYPES,
    )
    assert result.state == "SUCCESS"
    outputs = result.outputs("make")
    assert outputs["when"] == datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    assert outputs["amount"] == Decimal("12.50") and outputs["day"] == date(2024, 2, 29)
    assert result.outputs("check")["names"] == {"when": "datetime", "day": "date", "amount": "Decimal", "span": "timedelta", "raw": "bytes"}


def test_kv_written_by_a_task_is_read_by_an_expression() -> None:
    result = run_flow(
        "id: kv\nnamespace: team.a\ntasks:\n"
        "  - id: put\n    type: tests.PutKV\n    key: answer\n    value: 42\n"
        "  - id: read\n    type: tercel.core.Return\n    format: \"{{ kv('answer') + 1 }} {{ kv('missing', errorOnMissing=false) ?? 'none' }}\"\n"
        "  - id: strict\n    type: tercel.core.Return\n    format: \"{{ kv('missing') }}\"\n    allowFailure: true\n",
        types=TYPES,
    )
    assert result.outputs("read")["value"] == "43 none"
    assert result.task_run("strict")["state"]["current"] == "WARNING"
    assert "missing" in result.task_run("strict")["error"]


def test_error_logs_and_tasks_with_state_in_error_handlers() -> None:
    result = run_flow(
        "id: errs\nnamespace: t\ntasks:\n"
        "  - id: bad\n    type: tercel.core.Fail\n    errorMessage: disk full\n"
        "errors:\n"
        "  - id: report\n    type: tercel.core.Return\n"
        "    format: \"{{ errorLogs()[0].taskId }}: {{ errorLogs()[0].message }} / {{ tasksWithState('FAILED') | length }}\"\n",
    )
    assert result.state == "FAILED"
    assert result.outputs("report")["value"] == "bad: disk full / 1"


def test_log_level_filters_files_metrics_and_workdir_cleanup() -> None:
    result = run_flow("id: m\nnamespace: t\ntasks:\n  - id: fm\n    type: tests.FilesAndMetrics\n    logLevel: INFO\n", types=TYPES)
    assert result.state == "SUCCESS"
    out = result.outputs("fm")
    assert out["uri"].startswith("tercel:///t/m/executions/") and result.read(out["uri"]) == b"payload"
    messages = result.messages("fm")
    assert "info line" in messages and "debug line" not in messages
    metrics = result.task_run("fm")["attempts"][0]["metrics"]
    assert [(m["name"], m["type"], m["value"]) for m in metrics] == [("rows", "counter", 3.0), ("rows", "counter", 2.0), ("took", "timer", 0.5)]


def test_task_warning_keeps_outputs_and_ends_warning() -> None:
    result = run_task(Warns)
    assert result.state == "WARNING" and result.outputs == {"done": 1} and result.error == "half done"


def test_async_task_timeout_with_retry_makes_two_timed_out_attempts() -> None:
    result = run_flow(
        "id: to\nnamespace: t\ntasks:\n  - id: slow\n    type: tests.SlowAsync\n    timeout: PT0.2S\n"
        "    retry:\n      type: constant\n      interval: PT0.1S\n      maxAttempts: 2\n",
        types=TYPES,
    )
    assert result.state == "FAILED"
    run = result.task_run("slow")
    assert [a["state"]["current"] for a in run["attempts"]] == ["FAILED", "FAILED"]
    assert "timed out after PT0.2S" in run["error"]


def test_nested_errors_inside_a_foreach_inside_parallel() -> None:
    result = run_flow(
        "id: nest\nnamespace: t\ntasks:\n"
        "  - id: par\n    type: tercel.core.Parallel\n    tasks:\n"
        "      - id: loop\n        type: tercel.core.ForEach\n        values: [\"a\", \"b\"]\n        tasks:\n"
        "          - id: maybe\n            type: tercel.core.Fail\n            condition: \"{{ taskrun.value == 'b' }}\"\n            errorMessage: \"b is bad\"\n"
        "        errors:\n          - id: loop_handler\n            type: tercel.core.Log\n            message: \"handled {{ tasksWithState('FAILED') | length }}\"\n"
        "      - id: other\n        type: tercel.core.Return\n        format: fine\n"
        "finally:\n  - id: always\n    type: tercel.core.Log\n    message: bye\n",
    )
    assert result.state == "FAILED"
    states = {(t["taskId"], t["value"]): t["state"]["current"] for t in result.task_runs}
    assert states[("maybe", "a")] == "SUCCESS" and states[("maybe", "b")] == "FAILED"
    assert states[("loop_handler", None)] == "SUCCESS"
    assert states[("other", None)] == "SUCCESS" and states[("always", None)] == "SUCCESS"
    assert states[("loop", None)] == "FAILED" and states[("par", None)] == "FAILED"
    assert "handled 1" in result.messages("loop_handler")


def test_after_execution_sees_the_final_state() -> None:
    result = run_flow(
        "id: ae\nnamespace: t\ntasks:\n  - id: boom\n    type: tercel.core.Fail\n"
        "afterExecution:\n  - id: notify\n    type: tercel.core.Return\n    format: \"ended {{ execution.state }}\"\n",
    )
    assert result.state == "FAILED"
    assert result.outputs("notify")["value"] == "ended FAILED"


def test_loop_outputs_are_keyed_by_value() -> None:
    result = run_flow(
        "id: lo\nnamespace: t\ntasks:\n"
        "  - id: each\n    type: tercel.core.ForEach\n    values: [\"x\", \"y\"]\n    tasks:\n"
        "      - id: up\n        type: tercel.core.Return\n        format: \"{{ taskrun.value | upper }}\"\n"
        "  - id: join\n    type: tercel.core.Return\n    format: \"{{ outputs.up['x'].value }}{{ outputs.up['y'].value }}\"\n",
    )
    assert result.outputs("join")["value"] == "XY"


class FileOps(RunnableTask):
    """Exercises the RunContext's file operations."""

    type_name = "tests.FileOps"

    class Out(Output):
        size: int
        existed: bool
        deleted: bool
        deleted_again: bool
        exists_after: bool
        other_namespace_error: str

    def run(self, ctx: Any) -> Out:
        uri = ctx.put_file(b"12345", "five.bin")
        size, existed = ctx.file_size(uri), ctx.file_exists(uri)
        deleted, deleted_again = ctx.delete_file(uri), ctx.delete_file(uri)
        try:
            ctx.delete_file("tercel:///other/ns/flow/x.txt")
            error = ""
        except Exception as exc:
            error = str(exc)
        return self.Out(size=size, existed=existed, deleted=deleted, deleted_again=deleted_again,
                        exists_after=ctx.file_exists(uri), other_namespace_error=error)


def test_file_operations_stay_inside_the_flows_namespace() -> None:
    result = run_task(FileOps)
    assert result.state == "SUCCESS", result.error
    out = result.outputs
    # outputs are camelCase in flows, like every other property name
    assert (out["size"], out["existed"], out["deleted"], out["deletedAgain"], out["existsAfter"]) == (5, True, True, False, False)
    assert "another namespace" in out["otherNamespaceError"]


def test_log_to_file_keeps_the_task_logs_in_a_file_of_the_attempt() -> None:
    result = run_flow(
        "id: lf\nnamespace: t\ntasks:\n  - id: quiet\n    type: tercel.core.Log\n    logToFile: true\n    message: [one, two]\n"
        "  - id: loud\n    type: tercel.core.Log\n    message: three\n",
    )
    assert result.state == "SUCCESS"
    attempt = result.task_run("quiet")["attempts"][0]
    text = result.read(attempt["logFile"]).decode()
    assert text.splitlines()[0].endswith("INFO one") and text.splitlines()[1].endswith("INFO two")
    assert result.messages("quiet") == []  # not in the log table
    assert result.messages("loud") == ["three"]
    assert "logFile" not in result.task_run("loud")["attempts"][0]


class Counter(RunnableTask):
    """Counts how often it really ran (in a KV value), to see cache hits."""

    type_name = "tests.Counter"
    label: Property[str]

    class Out(Output):
        runs: int
        label: str

    def run(self, ctx: Any) -> Out:
        runs = (ctx.kv.get("runs") or 0) + 1
        ctx.kv.set("runs", runs)
        return self.Out(runs=runs, label=ctx.render(self.label))


def test_task_cache_reuses_outputs_for_identical_inputs_until_the_ttl() -> None:
    from pathlib import Path
    from tempfile import TemporaryDirectory

    source = (
        "id: cached\nnamespace: t\ninputs:\n  - id: day\n    type: STRING\n"
        "tasks:\n  - id: count\n    type: tests.Counter\n    label: \"{{ inputs.day }}\"\n    taskCache:\n      enabled: true\n      ttl: PT1H\n"
    )
    with TemporaryDirectory() as home:
        first = run_flow(source, {"day": "mon"}, types=[Counter], home=Path(home))
        again = run_flow(source, {"day": "mon"}, types=[Counter], home=Path(home))
        other = run_flow(source, {"day": "tue"}, types=[Counter], home=Path(home))
    assert first.outputs("count") == {"runs": 1, "label": "mon"}
    assert again.outputs("count") == {"runs": 1, "label": "mon"}  # reused, not run
    assert "outputs reused from the task cache" in again.messages("count")
    assert other.outputs("count") == {"runs": 2, "label": "tue"}  # other inputs: a miss


def test_current_each_output_and_parent_in_nested_loops() -> None:
    result = run_flow(
        "id: each_out\nnamespace: t\ntasks:\n"
        "  - id: loop\n    type: tercel.core.ForEach\n    values: [\"a\", \"b\"]\n    tasks:\n"
        "      - id: first\n        type: tercel.core.Return\n        format: \"v={{ taskrun.value }}\"\n"
        "      - id: second\n        type: tercel.core.Return\n        format: \"{{ currentEachOutput(outputs.first).value }}\"\n"
        "  - id: nested\n    type: tercel.core.ForEach\n    values: [\"x\", \"y\"]\n    tasks:\n"
        "      - id: inner\n        type: tercel.core.ForEach\n        values: [\"1\", \"2\"]\n        tasks:\n"
        "          - id: leaf\n            type: tercel.core.Return\n            format: \"{{ parent.taskrun.value }}{{ taskrun.value }}\"\n"
        "          - id: use\n            type: tercel.core.Return\n            format: \"{{ currentEachOutput(outputs.leaf).value }} {{ parents | length }}\"\n",
    )
    assert result.state == "SUCCESS"
    assert [r["outputs"]["value"] for r in result.task_runs if r["taskId"] == "second"] == ["v=a", "v=b"]
    assert [r["outputs"]["value"] for r in result.task_runs if r["taskId"] == "use"] == ["x1 1", "x2 1", "y1 1", "y2 1"]
