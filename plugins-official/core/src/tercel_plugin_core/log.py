"""The log tasks: `tercel.core.Log`, `tercel.core.log.Fetch` and `tercel.core.PurgeLogs`.

Kestra's `io.kestra.plugin.core.log.*`. Fetch and PurgeLogs read and delete stored logs through
`ctx.executions`, which keeps a flow to the executions of its namespace and its children.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field
from tercel_sdk import (
    Example,
    LogLevel,
    Output,
    Property,
    RunContext,
    RunnableTask,
    TaskFailed,
    ion,
)

from ._coerce import to_text

__all__ = ["Fetch", "FetchOutput", "Log", "PurgeLogs", "PurgeLogsOutput"]


class Log(RunnableTask):
    """Log one or more messages at a given level.

    `message` is a string or a list of strings; each is rendered and logged on its own line,
    in order. `level` is the level of the emitted lines (the task's `logLevel` still decides
    which lines are kept).
    """

    type_name = "tercel.core.Log"
    type_aliases = ("io.kestra.plugin.core.log.Log", "io.kestra.core.tasks.log.Log")
    type_title = "Log a message."
    type_examples = (
        Example(
            title="Log a message with expressions, at DEBUG level.",
            full=True,
            code="""\
id: send_logs
namespace: company.team

tasks:
  - id: hello
    type: tercel.core.Log
    level: DEBUG
    message: "{{ task.id }} started at {{ taskrun.startDate }}"
""",
        ),
        Example(
            title="Log several messages, one line each.",
            full=True,
            code="""\
id: hello_world
namespace: company.team

tasks:
  - id: greeting
    type: tercel.core.Log
    message:
      - The team wishes you a great day
      - If you need some help, reach out on the forum
""",
        ),
    )

    message: Property[str | list[str]] = Field(
        description="One or more messages to log: a string or a list of strings, each rendered."
    )
    level: Property[LogLevel] = Field(
        default=Property("INFO", LogLevel),
        description="The level of the logged lines: TRACE, DEBUG, INFO, WARN or ERROR.",
    )

    def run(self, ctx: RunContext) -> None:
        level = ctx.render(self.level)
        emit = {
            "TRACE": ctx.logger.trace,
            "DEBUG": ctx.logger.debug,
            "INFO": ctx.logger.info,
            "WARN": ctx.logger.warn,
            "ERROR": ctx.logger.error,
        }[level]
        for message in self._messages(ctx):
            emit(message)

    def _messages(self, ctx: RunContext) -> list[str]:
        # Each item is rendered on its own, like Kestra: a rendered string that happens to look
        # like a JSON array is logged as text, never split into several lines.
        raw: Any = self.message.raw
        items = raw if isinstance(raw, list) else [raw]
        name = self.message.name or "message"
        return [ctx.render(Property(m, str, name)) if isinstance(m, str) else to_text(m) for m in items]


# ---------------------------------------------------------------------------------- Fetch


class FetchOutput(Output):
    """What `Fetch` produces."""

    uri: str = Field(description="The internal storage URI of the Ion file holding the log entries, one struct a row.")
    size: int = Field(description="The number of log entries fetched (rows of the file).")


class Fetch(RunnableTask):
    """Fetch the logs of an execution into an Ion file of internal storage.

    By default the logs of the current execution (everything logged before this task asked);
    `executionId` names another execution of the flow's namespace or of one of its children.
    Each row is one entry: `namespace`, `flowId`, `executionId`, `taskId`, `taskRunId`,
    `attemptNumber`, `timestamp` (a datetime), `level` and `message` (entries of the execution
    itself, not of a task, have no task keys). `level` is the lowest level kept; `tasksId`
    keeps only the entries of those tasks, task after task.

    As in Kestra, `namespace` and `flowId` go together and only with `executionId`: they make
    the target explicit, and the task fails if the execution is not one of that flow.
    """

    type_name = "tercel.core.log.Fetch"
    type_aliases = ("io.kestra.plugin.core.log.Fetch", "io.kestra.core.tasks.log.Fetch")
    type_title = "Fetch execution logs to a file."
    type_examples = (
        Example(
            title="Fetch the ERROR logs of the current execution.",
            full=True,
            code="""\
id: fetch_logs
namespace: company.team

tasks:
  - id: hello
    type: tercel.core.Log
    message: Hello World!

  - id: error_message
    type: tercel.core.Log
    level: ERROR
    message: This is an error message

  - id: fetch
    type: tercel.core.log.Fetch
    level: ERROR

  - id: count
    type: tercel.core.Log
    message: "{{ outputs.fetch.size }} error(s), stored in {{ outputs.fetch.uri }}"
""",
        ),
        Example(
            title="Fetch the INFO logs of one task of another execution, when a flow ends.",
            full=True,
            code="""\
id: collect_logs
namespace: company.team

inputs:
  - id: executionId
    type: STRING

tasks:
  - id: fetch
    type: tercel.core.log.Fetch
    namespace: company.team.etl
    flowId: nightly
    executionId: "{{ inputs.executionId }}"
    level: INFO
    tasksId:
      - extract
""",
        ),
    )

    namespace: Property[str] | None = Field(
        default=None,
        description="The namespace of the execution's flow; only with `executionId` and `flowId`, checked against the execution.",
    )
    flow_id: Property[str] | None = Field(
        default=None,
        description="The id of the execution's flow; only with `executionId` and `namespace`, checked against the execution.",
    )
    execution_id: Property[str] | None = Field(
        default=None,
        description="The execution whose logs to fetch (of the flow's namespace or a child); by default the current one.",
    )
    tasks_id: Property[list[str]] | None = Field(
        default=None, description="Keep only the entries of these tasks (by task id); by default every entry."
    )
    task_ids: Property[list[str]] | None = Field(
        default=None, description="Another spelling of `tasksId` (the two lists are joined)."
    )
    level: Property[LogLevel] = Field(
        default=Property("INFO", LogLevel),
        description="The lowest level fetched: TRACE, DEBUG, INFO, WARN or ERROR.",
    )

    async def run(self, ctx: RunContext) -> FetchOutput:
        from .execution import target_execution

        execution_id = target_execution(ctx, self.namespace, self.flow_id, self.execution_id)
        task_ids: list[str] = []
        for prop in (self.tasks_id, self.task_ids):
            if prop is not None:
                task_ids += [str(t) for t in ctx.render(prop) or []]
        level = ctx.render(self.level)
        entries = ctx.executions.logs(execution_id, task_ids=task_ids or None, min_level=level)
        path = ctx.working_dir / "logs.ion"
        size = ion.write_rows_file(path, entries)
        ctx.logger.debug(f"Fetched {size} log entries of execution {execution_id} at level {level} or above")
        return FetchOutput(uri=ctx.put_file(path, f"{self.id}.ion"), size=size)


# ------------------------------------------------------------------------------- PurgeLogs


class PurgeLogsOutput(Output):
    """What `PurgeLogs` produces."""

    count: int = Field(default=0, description="The number of log entries deleted.")


class PurgeLogs(RunnableTask):
    """Delete log entries older than a date (and, optionally, only some levels).

    The entries logged before `endDate` (and at or after `startDate`) by ended executions of
    the flow's namespace and its child namespaces go; `namespace`, `flowId` and `executionId`
    narrow that down, `logLevels` keeps the other levels (list TRACE, DEBUG, INFO and WARN to
    keep the errors). A flow never purges another namespace's logs, and the logs of executions
    still running, paused or queued are left alone. The executions themselves stay: use
    `tercel.core.PurgeExecutions` to delete them with their logs and files.
    """

    type_name = "tercel.core.PurgeLogs"
    type_aliases = ("io.kestra.plugin.core.log.PurgeLogs",)
    type_title = "Purge execution logs."
    type_examples = (
        Example(
            title="Purge the logs of the namespace and its children logged more than a month ago.",
            full=True,
            code="""\
id: purge_logs
namespace: company

tasks:
  - id: purge
    type: tercel.core.PurgeLogs
    endDate: "{{ now() | dateAdd(-1, 'MONTHS') }}"
""",
        ),
        Example(
            title="Purge the logs of one flow older than a week, but keep the errors.",
            full=True,
            code="""\
id: purge_debug_logs
namespace: company.team

tasks:
  - id: purge
    type: tercel.core.PurgeLogs
    namespace: company.team
    flowId: nightly
    endDate: "{{ now() | dateAdd(-7, 'DAYS') }}"
    logLevels:
      - TRACE
      - DEBUG
      - INFO
      - WARN

  - id: report
    type: tercel.core.Log
    message: "{{ outputs.purge.count }} log entries purged"
""",
        ),
    )

    namespace: Property[str] | None = Field(
        default=None,
        description="The namespace whose logs to purge, with its children (the flow's own or a child); "
        "with `flowId`, the flow's namespace. By default the flow's namespace.",
    )
    flow_id: Property[str] | None = Field(
        default=None, description="Purge only the logs of this flow's executions (of `namespace`)."
    )
    execution_id: Property[str] | None = Field(
        default=None, description="Purge only the logs of this execution."
    )
    log_levels: Property[list[LogLevel]] | None = Field(
        default=None, description="Purge only entries at these levels; by default every level."
    )
    start_date: Property[datetime] | None = Field(
        default=None, description="Purge only entries logged at or after this date (ISO 8601)."
    )
    end_date: Property[datetime] = Field(description="Purge the entries logged before this date (ISO 8601).")

    async def run(self, ctx: RunContext) -> PurgeLogsOutput:
        from .execution import render_dates, render_optional

        start, end = render_dates(ctx, self.start_date, self.end_date)
        levels = ctx.render(self.log_levels) if self.log_levels is not None else None
        if levels is not None and not levels:
            raise TaskFailed("`logLevels` is empty: list the levels to purge, or leave it out to purge every level")
        result = ctx.executions.purge(
            namespace=render_optional(ctx, self.namespace),
            flow_id=render_optional(ctx, self.flow_id),
            execution_id=render_optional(ctx, self.execution_id),
            start=start,
            end=end,
            executions=False,
            logs=True,
            files=False,
            log_levels=levels,
        )
        ctx.logger.info(f"Purged {result.logs} log entries logged before {end.isoformat()}")
        return PurgeLogsOutput(count=result.logs)
