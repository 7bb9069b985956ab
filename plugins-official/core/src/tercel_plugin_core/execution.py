"""Execution tasks (Kestra's `execution` group): Fail, Assert, Labels, SetVariables, UnsetVariables, Exit."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from tercel_sdk import Example, MetricDoc, Property, RunContext, RunnableTask, TaskFailed, is_truthy

from ._coerce import ConditionValue

__all__ = ["Assert", "Exit", "Fail", "Labels", "SetVariables", "UnsetVariables"]


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


def _full(flow: str) -> tuple[Example, ...]:
    return (Example(title="Example", full=True, code=flow),)


class Labels(RunnableTask):
    """Add or replace labels of the current execution (a map, or a list of key/value pairs).

    Labels set here are visible to the next tasks as `{{ labels.name }}` and on the execution.
    Keys starting with `system.` are reserved.
    """

    type_name = "tercel.core.Labels"
    type_aliases = ("io.kestra.plugin.core.execution.Labels",)
    type_title = "Set execution labels."
    type_examples = _full("""\
id: labels
namespace: company.team

tasks:
  - id: label
    type: tercel.core.Labels
    labels:
      customer: "{{ flow.namespace }}"
      priority: high
""")

    labels: Property[dict[str, str] | list[dict[str, str]]] = Field(description="Labels to set: a map, or a list of `{key, value}`.")

    def run(self, ctx: RunContext) -> None:
        value = ctx.render(self.labels)
        if isinstance(value, list):
            try:
                value = {str(item["key"]): str(item["value"]) for item in value}
            except (KeyError, TypeError):
                raise TaskFailed("labels in list form need a `key` and a `value` in each item") from None
        ctx.update_labels({str(k): "" if v is None else str(v) for k, v in value.items()})


class SetVariables(RunnableTask):
    """Set execution variables, read by the next tasks as `{{ vars.name }}` (types kept)."""

    type_name = "tercel.core.SetVariables"
    type_aliases = ("io.kestra.plugin.core.execution.SetVariables",)
    type_title = "Set execution variables."
    type_examples = _full("""\
id: set_variables
namespace: company.team

variables:
  name: World

tasks:
  - id: set
    type: tercel.core.SetVariables
    variables:
      name: Tercel
  - id: hello
    type: tercel.core.Log
    message: "Hello {{ vars.name }}"
""")

    variables: Property[dict[str, Any]] = Field(description="The variables to set.")
    overwrite: Property[bool] = Field(default=Property.of(True), description="Replace variables that already exist; false fails the task instead.")

    def run(self, ctx: RunContext) -> None:
        values = ctx.render(self.variables)
        if not ctx.render(self.overwrite):
            existing = sorted(set(values) & set(ctx.variables.get("vars", {})))
            if existing:
                raise TaskFailed(f"variables {', '.join(existing)} already exist and `overwrite` is false")
        ctx.set_variables(values)


class UnsetVariables(RunnableTask):
    """Remove execution variables."""

    type_name = "tercel.core.UnsetVariables"
    type_aliases = ("io.kestra.plugin.core.execution.UnsetVariables",)
    type_title = "Unset execution variables."
    type_examples = _full("""\
id: unset_variables
namespace: company.team

tasks:
  - id: set
    type: tercel.core.SetVariables
    variables:
      token: temporary
  - id: unset
    type: tercel.core.UnsetVariables
    variables:
      - token
""")

    variables: Property[list[str]] = Field(description="Names of the variables to remove.")
    ignore_missing: Property[bool] = Field(default=Property.of(False), description="Do not fail when a variable does not exist.")

    def run(self, ctx: RunContext) -> None:
        names = ctx.render(self.variables)
        if not ctx.render(self.ignore_missing):
            missing = sorted(set(names) - set(ctx.variables.get("vars", {})))
            if missing:
                raise TaskFailed(f"variables {', '.join(missing)} do not exist (set `ignoreMissing: true` to allow it)")
        ctx.unset_variables(list(names))


class Exit(RunnableTask):
    """End the execution now, in the given state.

    Nothing new starts once this task succeeds. Task runs still running (in a parallel branch,
    say) are killed only when `state` is KILLED; otherwise they finish and the execution then
    ends in `state`, whatever they ended in.
    """

    type_name = "tercel.core.Exit"
    type_aliases = ("io.kestra.plugin.core.execution.Exit",)
    type_title = "Exit the execution."
    type_examples = _full("""\
id: exit
namespace: company.team

inputs:
  - id: state
    type: SELECT
    values: [CONTINUE, END]
    defaults: CONTINUE

tasks:
  - id: if
    type: tercel.core.If
    condition: "{{ inputs.state == 'CONTINUE' }}"
    then:
      - id: hello
        type: tercel.core.Log
        message: I'm continuing
    else:
      - id: exit
        type: tercel.core.Exit
        state: KILLED
  - id: end
    type: tercel.core.Log
    message: I'm ending
""")

    state: Property[Literal["SUCCESS", "WARNING", "KILLED", "FAILED", "CANCELED", "CANCELLED"]] = Field(
        default=Property.of("SUCCESS"), description="The state the execution ends in."
    )

    def run(self, ctx: RunContext) -> None:
        ctx.exit_execution(ctx.render(self.state))
