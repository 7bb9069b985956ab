"""`tercel.core.Fail` (Kestra's `io.kestra.plugin.core.execution.Fail`)."""

from __future__ import annotations

from pydantic import Field
from tercel_sdk import Example, Property, RunContext, RunnableTask, TaskFailed

from ._coerce import ConditionValue, is_truthy

__all__ = ["Fail"]


class Fail(RunnableTask):
    """Fail the task, and so the execution, on purpose.

    Without `condition` the task always fails; with one it fails only when the condition is
    true (Kestra's coercion: `false`, `0`, `-0`, an empty string and null are false) and
    succeeds otherwise. The task run's error is `errorMessage`. Use it in a `Switch` branch, or
    to stop a flow when a value is not what it should be.
    """

    type_name = "tercel.core.Fail"
    aliases = ("io.kestra.plugin.core.execution.Fail", "io.kestra.core.tasks.executions.Fail")
    title = "Fail the execution."
    examples = (
        Example(
            title="Fail on a Switch branch.",
            full=True,
            code="""\
id: fail_on_switch
namespace: company.team

inputs:
  - id: param
    type: STRING
    required: true

tasks:
  - id: switch
    type: tercel.core.Switch
    value: "{{ inputs.param }}"
    cases:
      case1:
        - id: case1
          type: tercel.core.Log
          message: Case 1
      case2:
        - id: case2
          type: tercel.core.Log
          message: Case 2
      notexist:
        - id: fail
          type: tercel.core.Fail
          errorMessage: "The value {{ inputs.param }} is not supported"
    defaults:
      - id: default
        type: tercel.core.Log
        message: default
""",
        ),
        Example(
            title="Fail on a condition.",
            full=True,
            code="""\
id: fail_on_condition
namespace: company.team

inputs:
  - id: param
    type: STRING
    required: true

tasks:
  - id: before
    type: tercel.core.Log
    message: I'm before the fail on condition
  - id: fail
    type: tercel.core.Fail
    condition: '{{ inputs.param == "fail" }}'
  - id: after
    type: tercel.core.Log
    message: I'm after the fail on condition
""",
        ),
    )

    condition: Property[ConditionValue] | None = Field(
        default=None,
        description="Fail only when this is true (false, 0, -0, '' and null are false); "
        "without it the task always fails.",
    )
    error_message: Property[str] = Field(
        default=Property("Task failure", str), description="The error of the failed task run."
    )

    def run(self, ctx: RunContext) -> None:
        if self.condition is not None and not is_truthy(ctx.render(self.condition)):
            return None
        raise TaskFailed(ctx.render(self.error_message))
