"""`tercel.core.Log` (Kestra's `io.kestra.plugin.core.log.Log`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from tercel_sdk import Example, LogLevel, Property, RunContext, RunnableTask

from ._coerce import to_text

__all__ = ["Log"]


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
