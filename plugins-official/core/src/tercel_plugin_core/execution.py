"""Execution tasks: `tercel.core.Fail` and `tercel.core.Assert` (Kestra's `execution` group)."""

from __future__ import annotations

from pydantic import Field
from tercel_sdk import Example, MetricDoc, Property, RunContext, RunnableTask, TaskFailed

from ._coerce import ConditionValue, is_truthy

__all__ = ["Assert", "Fail"]


class Fail(RunnableTask):
    """Fail the task, and so the execution, on purpose.

    Without `condition` the task always fails; with one it fails only when the condition is
    true (Kestra's coercion: `false`, `0`, `-0`, an empty string and null are false) and
    succeeds otherwise. The task run's error is `errorMessage`. Use it in a `Switch` branch, or
    to stop a flow when a value is not what it should be.
    """

    type_name = "tercel.core.Fail"
    type_aliases = ("io.kestra.plugin.core.execution.Fail", "io.kestra.core.tasks.executions.Fail")
    type_title = "Fail the execution."
    type_examples = (
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


class Assert(RunnableTask):
    """Check conditions on the execution's data; fail the task if any is false.

    Each condition is rendered and coerced to a boolean (Kestra's rule: `false`, `0`, `-0`, an
    empty string and null are false). Every false condition is logged at ERROR, so one run
    reports all of them; the metrics `success` and `failed` count them. `errorMessage` is added
    to the failure message.
    """

    type_name = "tercel.core.Assert"
    type_aliases = ("io.kestra.plugin.core.execution.Assert",)
    type_title = "Assert conditions."
    type_examples = (
        Example(
            title="Check an input and an earlier output.",
            full=True,
            code="""\
id: assert
namespace: company.team

inputs:
  - id: param
    type: STRING

tasks:
  - id: check
    type: tercel.core.Assert
    conditions:
      - "{{ inputs.param == 'ok' }}"
      - "{{ 1 + 1 == 2 }}"
    errorMessage: "the input was not ok"
""",
        ),
    )
    type_metrics = (
        MetricDoc(name="success", type="counter", description="Conditions that held."),
        MetricDoc(name="failed", type="counter", description="Conditions that did not hold."),
    )

    conditions: list[Property[ConditionValue]] = Field(min_length=1, description="Conditions that must all be true.")
    error_message: Property[str] | None = Field(default=None, description="Added to the error when a condition is false.")

    def run(self, ctx: RunContext) -> None:
        failed = 0
        for index, condition in enumerate(self.conditions):
            if is_truthy(ctx.render(condition)):
                continue
            failed += 1
            ctx.logger.error(f"assertion {index + 1} failed: {condition.raw}")
        ctx.metric("success", len(self.conditions) - failed)
        ctx.metric("failed", failed)
        if failed:
            message = f"{failed} of {len(self.conditions)} assertion{'s' if len(self.conditions) > 1 else ''} failed"
            if self.error_message is not None:
                message += f": {ctx.render(self.error_message)}"
            raise TaskFailed(message)
