"""`tercel.core.Return` (Kestra's `io.kestra.plugin.core.debug.Return`)."""

from __future__ import annotations

import time

from pydantic import Field
from tercel_sdk import Example, MetricDoc, Output, Property, RunContext, RunnableTask

__all__ = ["Return", "ReturnOutput"]


class ReturnOutput(Output):
    """What `Return` produces."""

    value: str | None = Field(default=None, description="The rendered `format`.")


class Return(RunnableTask):
    """Render a template and return it as the output `value`.

    Handy to inspect a value while building a flow (the rendered text is also logged at
    DEBUG) or to compute a small string other tasks use, like a header or a file name.
    """

    type_name = "tercel.core.Return"
    aliases = ("io.kestra.plugin.core.debug.Return", "io.kestra.core.tasks.debugs.Return")
    title = "Return a rendered value."
    examples = (
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
    metrics = (
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
