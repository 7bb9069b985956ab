"""`tercel.core.OutputValues` (Kestra's `io.kestra.plugin.core.output.OutputValues`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from tercel_sdk import Example, Output, Property, RunContext, RunnableTask

__all__ = ["OutputValues", "OutputValuesOutput"]


class OutputValuesOutput(Output):
    """What `OutputValues` produces."""

    values: dict[str, Any] = Field(default_factory=dict, description="The rendered values, by name.")


class OutputValues(RunnableTask):
    """Output one or more values for downstream tasks.

    Each value is rendered and keeps its type: a number stays a number and a date a date, so
    `{{ outputs.my_task.values.my_name }}` gives downstream tasks the value itself, not its text.
    """

    type_name = "tercel.core.OutputValues"
    type_aliases = (
        "io.kestra.plugin.core.output.OutputValues",
        "io.kestra.core.tasks.outputs.OutputValues",
    )
    type_title = "Output values."
    type_examples = (
        Example(
            title="Output values and use them in a later task.",
            full=True,
            code="""\
id: outputs_flow
namespace: company.team

tasks:
  - id: output_values
    type: tercel.core.OutputValues
    values:
      taskrun_data: "{{ task.id }} > {{ taskrun.startDate }}"
      execution_data: "{{ flow.id }} > {{ execution.startDate }}"
      count: 42

  - id: log_values
    type: tercel.core.Log
    message: |
      Got the following outputs from the previous task:
      {{ outputs.output_values.values.taskrun_data }}
      {{ outputs.output_values.values.execution_data }}
      {{ outputs.output_values.values.count }}
""",
        ),
    )

    values: Property[dict[str, Any]] | None = Field(
        default=None, description="The values to output, by name; each may be an expression."
    )

    def run(self, ctx: RunContext) -> OutputValuesOutput:
        values = ctx.render(self.values) if self.values is not None else None
        return OutputValuesOutput(values=dict(values or {}))
