"""Debug tasks: `tercel.core.Return` and the deprecated `tercel.core.Echo` (Kestra's `debug` group)."""

from __future__ import annotations

import time

from pydantic import Field
from tercel_sdk import Example, LogLevel, MetricDoc, Output, Property, RunContext, RunnableTask

__all__ = ["Echo", "Return", "ReturnOutput"]


class ReturnOutput(Output):
    """What `Return` produces."""

    value: str | None = Field(default=None, description="The rendered `format`.")


class Return(RunnableTask):
    """Render a template and return it as the output `value`.

    Handy to inspect a value while building a flow (the rendered text is also logged at
    DEBUG) or to compute a small string other tasks use, like a header or a file name.
    """

    type_name = "tercel.core.Return"
    type_aliases = ("io.kestra.plugin.core.debug.Return", "io.kestra.core.tasks.debugs.Return")
    type_title = "Return a rendered value."
    type_examples = (
        Example(
            title="Return a value built from the context.",
            full=True,
            code="""\
id: debug_value
namespace: company.team

tasks:
  - id: return
    type: tercel.core.Return
    format: "{{ task.id }} > {{ taskrun.startDate }}"

  - id: use_it
    type: tercel.core.Log
    message: "The value was: {{ outputs.return.value }}"
""",
        ),
    )
    type_metrics = (
        MetricDoc(name="length", type="counter", description="Length of the rendered value."),
        MetricDoc(name="duration", type="timer", unit="seconds", description="Time spent rendering."),
    )

    format: Property[str] | None = Field(default=None, description="The template to render.")

    def run(self, ctx: RunContext) -> ReturnOutput:
        start = time.perf_counter()
        value = ctx.render(self.format) if self.format is not None else None
        if value is not None:
            ctx.logger.debug(value)
        ctx.metric("length", len(value or ""))
        ctx.metric("duration", time.perf_counter() - start, type="timer")
        return ReturnOutput(value=value)


class Echo(RunnableTask):
    """Log a rendered message (Kestra's deprecated `Echo`; prefer `tercel.core.Log`).

    Kept so Kestra flows that still use it run unchanged.
    """

    type_name = "tercel.core.Echo"
    type_aliases = ("io.kestra.plugin.core.debug.Echo", "io.kestra.core.tasks.debugs.Echo")
    type_title = "Log a message (deprecated, use Log)."
    type_examples = (
        Example(
            title="Log the flow's id.",
            full=True,
            code="""\
id: echo
namespace: company.team

tasks:
  - id: echo
    type: tercel.core.Echo
    level: WARN
    format: "{{ flow.id }} is still using Echo"
""",
        ),
    )

    format: Property[str] = Field(description="The message to log.")
    level: Property[LogLevel] = Field(default=Property.of("INFO"), description="The log level.")

    def run(self, ctx: RunContext) -> None:
        message = ctx.render(self.format)
        {
            "TRACE": ctx.logger.trace,
            "DEBUG": ctx.logger.debug,
            "INFO": ctx.logger.info,
            "WARN": ctx.logger.warning,
            "ERROR": ctx.logger.error,
        }[ctx.render(self.level)](message)
