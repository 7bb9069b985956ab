"""Execution tasks (Kestra's `execution` group): Fail, Assert, Labels, SetVariables,
UnsetVariables, Exit, and the ones acting on other executions: Kill, Resume, PurgeExecutions.

Kill, Resume and PurgeExecutions go through `ctx.executions`, which keeps a flow to the
executions of its own namespace and its children.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field
from tercel_sdk import (
    Example,
    MetricDoc,
    Output,
    Property,
    RunContext,
    RunnableTask,
    TaskFailed,
    is_truthy,
)

from ._coerce import ConditionValue

__all__ = [
    "Assert",
    "Exit",
    "Fail",
    "Kill",
    "Labels",
    "PurgeExecutions",
    "PurgeExecutionsOutput",
    "Resume",
    "SetVariables",
    "UnsetVariables",
]


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

    This task run, its parents and the execution take `state` at once and nothing new starts.
    Task runs still running (in a parallel branch, say) are killed only when `state` is KILLED;
    otherwise they are left to finish on their own (Kestra's behaviour).
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


# ------------------------------------------------------------- acting on other executions


def render_optional(ctx: RunContext, prop: Property[Any] | None) -> Any:
    """The rendered value of an optional property, None when it is not set.

    A property that is set but renders to blank text fails the task: `executionId: "{{ x }}"`
    with `x` empty must not silently mean "the current execution", nor a blank `namespace`
    "every namespace".
    """
    if prop is None:
        return None
    value = ctx.render(prop)
    if isinstance(value, str):
        value = value.strip()
    if value is None or value == "":
        raise TaskFailed(f"`{prop.name}` rendered to an empty value ({prop.raw!r}): give a value or leave the property out")
    return value


def render_dates(
    ctx: RunContext, start: Property[datetime] | None, end: Property[datetime]
) -> tuple[datetime | None, datetime]:
    """`startDate` and `endDate` as aware datetimes (a date without an offset is UTC)."""
    end_at = _aware(ctx.render(end))
    start_at = _aware(ctx.render(start)) if start is not None else None
    if start_at is not None and start_at >= end_at:
        raise TaskFailed(
            f"`startDate` ({start_at.isoformat()}) must be before `endDate` ({end_at.isoformat()})"
        )
    return start_at, end_at


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def target_execution(
    ctx: RunContext,
    namespace: Property[str] | None,
    flow_id: Property[str] | None,
    execution_id: Property[str] | None,
) -> str:
    """The execution a task acts on, from Kestra's `namespace`/`flowId`/`executionId` trio.

    Without `executionId`, the current execution (and then `namespace`/`flowId` make no sense).
    With it, `namespace` and `flowId` are both given or both left out; given, the execution must
    be one of that flow. Whether the flow may reach the execution at all (its namespace or a
    child) is `ctx.executions`' rule.
    """
    ns = render_optional(ctx, namespace)
    flow = render_optional(ctx, flow_id)
    target = render_optional(ctx, execution_id)
    if target is None:
        if ns is not None or flow is not None:
            raise TaskFailed(
                "`namespace` and `flowId` are only used with `executionId`: without it the task acts on "
                "the current execution"
            )
        return ctx.execution_id
    target = str(target)
    if (ns is None) != (flow is None):
        raise TaskFailed("`namespace` and `flowId` go together: with `executionId`, set both of them or neither")
    if ns is not None:
        found = ctx.executions.get(target)  # type: ignore[attr-defined]
        if (found["namespace"], found["flowId"]) != (ns, flow):
            raise TaskFailed(
                f"execution {target} is not an execution of flow {ns}.{flow}: "
                f"it belongs to {found['namespace']}.{found['flowId']}"
            )
    return target


class Kill(RunnableTask):
    """Kill an execution: the current one by default, or the one `executionId` names.

    Killing the current execution ends it KILLED at once: task runs still running (in a
    parallel branch, say) are killed and nothing new starts. Another execution, of the flow's
    namespace or of a child namespace, is killed the same way; with `propagateKill` the subflow
    executions it started are killed too. An execution that already ended is left as it is
    (the task logs it and succeeds).
    """

    type_name = "tercel.core.Kill"
    type_aliases = ("io.kestra.plugin.core.execution.Kill",)
    type_title = "Kill an execution."
    type_examples = (
        Example(
            title="Kill the current execution when an input asks for it.",
            full=True,
            code="""\
id: conditional_kill
namespace: company.team

inputs:
  - id: shouldKill
    type: BOOLEAN
    defaults: false

tasks:
  - id: kill
    type: tercel.core.Kill
    runIf: "{{ inputs.shouldKill }}"

  - id: after
    type: tercel.core.Log
    message: Not killed
""",
        ),
        Example(
            title="Kill another execution of the namespace, but not its subflows.",
            full=True,
            code="""\
id: kill_other
namespace: company.team

inputs:
  - id: executionId
    type: STRING

tasks:
  - id: kill
    type: tercel.core.Kill
    executionId: "{{ inputs.executionId }}"
    propagateKill: false
""",
        ),
    )

    execution_id: Property[str] | None = Field(
        default=None,
        description="The execution to kill (of the flow's namespace or a child); by default the current one.",
    )
    propagate_kill: Property[bool] = Field(
        default=Property.of(True),
        description="Also kill the subflow executions the killed execution started.",
    )

    async def run(self, ctx: RunContext) -> None:
        propagate = ctx.render(self.propagate_kill)
        target = render_optional(ctx, self.execution_id)
        if target is None or target == ctx.execution_id:
            # a kill request like any other: this task ends SUCCESS, what else runs is killed
            ctx.logger.info(f"Killing the current execution {ctx.execution_id}")
            ctx.executions.kill(ctx.execution_id, propagate=propagate)
            return
        target = str(target)
        if ctx.executions.kill(target, propagate=propagate) is False:
            state = ctx.executions.get(target)["state"]  # type: ignore[attr-defined]
            ctx.logger.info(f"Execution {target} already ended {state}: nothing to kill")
            return
        subflows = " and the subflow executions it started" if propagate else ""
        ctx.logger.info(f"Kill requested for execution {target}{subflows}")


class Resume(RunnableTask):
    """Resume a paused execution, answering its Pause task's `onResume` inputs.

    The execution is the one `executionId` names (of the flow's namespace or a child); with
    `namespace` and `flowId` the task also checks it is an execution of that flow, as Kestra
    does. Without `executionId` it is the current execution, which only makes sense when a
    Pause in another branch (of a Parallel) paused it. `inputs` are validated against the
    Pause task's `onResume` declarations; the task fails, saying why, if the execution is not
    paused or the inputs do not fit.
    """

    type_name = "tercel.core.Resume"
    type_aliases = ("io.kestra.plugin.core.execution.Resume",)
    type_title = "Resume a paused execution."
    type_examples = (
        Example(
            title="Approve a paused execution of another flow from an automated check.",
            full=True,
            code="""\
id: auto_approve
namespace: company.team

inputs:
  - id: executionId
    type: STRING

tasks:
  - id: resume
    type: tercel.core.Resume
    namespace: company.team
    flowId: approval
    executionId: "{{ inputs.executionId }}"
    inputs:
      approved: true
      comment: Checked by the automated review
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
        description="The paused execution to resume (of the flow's namespace or a child); by default the current one.",
    )
    inputs: Property[dict[str, Any]] | None = Field(
        default=None, description="Values for the Pause task's `onResume` inputs, by input id."
    )

    async def run(self, ctx: RunContext) -> None:
        target = target_execution(ctx, self.namespace, self.flow_id, self.execution_id)
        inputs = ctx.render(self.inputs) if self.inputs is not None else None
        ctx.executions.resume(target, inputs or None)
        ctx.logger.info(f"Resumed execution {target}")


EndedState = Literal[
    "SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "CANCELED", "RETRIED", "SKIPPED", "RESUBMITTED"
]
"""The states an execution can be purged in: ended ones (CANCELED is Kestra's spelling)."""


class PurgeExecutionsOutput(Output):
    """What `PurgeExecutions` produces."""

    executions_count: int = Field(default=0, description="The number of executions deleted.")
    logs_count: int = Field(default=0, description="The number of log entries deleted.")
    storages_count: int = Field(default=0, description="The number of files deleted from internal storage.")
    metrics_count: int = Field(
        default=0,
        description="Always 0: metrics are part of the execution record here, and go with it (Kestra counts them apart).",
    )


class PurgeExecutions(RunnableTask):
    """Delete ended executions, with their logs and their files in internal storage.

    The executions that started before `endDate` (and at or after `startDate`) and have ended
    go: those of the flow's namespace and its child namespaces by default, of another `namespace`
    (a child of the flow's) and its children, of one flow (`namespace` + `flowId`) or one
    execution (`executionId`). `states` keeps only executions that ended in those states.
    Executions still running, paused or queued are never deleted, whatever the dates. The
    `purge*` flags choose what goes: with `purgeExecution: false` the executions stay and only
    their logs and/or files are deleted. A flow never purges another namespace's executions.
    """

    type_name = "tercel.core.PurgeExecutions"
    type_aliases = (
        "io.kestra.plugin.core.execution.PurgeExecutions",
        "io.kestra.plugin.core.storage.Purge",
        "io.kestra.core.tasks.storages.Purge",
    )
    type_title = "Purge executions, their logs and files."
    type_examples = (
        Example(
            title="Purge the executions that ended more than a month ago.",
            full=True,
            code="""\
id: purge_executions
namespace: company

tasks:
  - id: purge
    type: tercel.core.PurgeExecutions
    endDate: "{{ now() | dateAdd(-1, 'MONTHS') }}"
    states:
      - KILLED
      - FAILED
      - WARNING
      - SUCCESS

  - id: report
    type: tercel.core.Log
    message: >-
      {{ outputs.purge.executionsCount }} executions, {{ outputs.purge.logsCount }} log entries
      and {{ outputs.purge.storagesCount }} files purged
""",
        ),
        Example(
            title="Free the storage of one flow's executions of last week, keeping their history.",
            full=True,
            code="""\
id: purge_files
namespace: company.team

tasks:
  - id: purge
    type: tercel.core.PurgeExecutions
    namespace: company.team
    flowId: nightly
    startDate: "{{ now() | dateAdd(-14, 'DAYS') }}"
    endDate: "{{ now() | dateAdd(-7, 'DAYS') }}"
    purgeExecution: false
    purgeLog: false
""",
        ),
    )

    namespace: Property[str] | None = Field(
        default=None,
        description="The namespace whose executions to purge, with its children (the flow's own or a child); "
        "with `flowId`, the flow's namespace. By default the flow's namespace.",
    )
    flow_id: Property[str] | None = Field(
        default=None, description="Purge only the executions of this flow (of `namespace`)."
    )
    execution_id: Property[str] | None = Field(
        default=None, description="Purge only this execution (if it ended and matches the other filters)."
    )
    start_date: Property[datetime] | None = Field(
        default=None, description="Purge only executions started at or after this date (ISO 8601)."
    )
    end_date: Property[datetime] = Field(description="Purge the executions started before this date (ISO 8601).")
    states: Property[list[EndedState]] | None = Field(
        default=None,
        description="Purge only executions that ended in these states; by default every ended state.",
    )
    purge_execution: Property[bool] = Field(
        default=Property.of(True), description="Delete the executions themselves (with all their logs)."
    )
    purge_log: Property[bool] = Field(default=Property.of(True), description="Delete the executions' logs.")
    purge_metric: Property[bool] = Field(
        default=Property.of(True),
        description="Accepted for Kestra compatibility: metrics are part of the execution record, and go with it.",
    )
    purge_storage: Property[bool] = Field(
        default=Property.of(True), description="Delete the executions' files from internal storage."
    )
    batch_size: Property[int] = Field(
        default=Property.of(100),
        description="Accepted for Kestra compatibility (at least 1): executions are read and deleted 100 at a time.",
    )

    async def run(self, ctx: RunContext) -> PurgeExecutionsOutput:
        start, end = render_dates(ctx, self.start_date, self.end_date)
        states = ctx.render(self.states) if self.states is not None else None
        if states is not None and not states:
            raise TaskFailed("`states` is empty: list the states to purge, or leave it out to purge every ended execution")
        if ctx.render(self.batch_size) < 1:
            raise TaskFailed("`batchSize` must be at least 1")
        ctx.render(self.purge_metric)
        result = ctx.executions.purge(
            namespace=render_optional(ctx, self.namespace),
            flow_id=render_optional(ctx, self.flow_id),
            execution_id=render_optional(ctx, self.execution_id),
            start=start,
            end=end,
            states=states,
            executions=ctx.render(self.purge_execution),
            logs=ctx.render(self.purge_log),
            files=ctx.render(self.purge_storage),
        )
        ctx.logger.info(
            f"Purged {result.executions} executions, {result.logs} log entries and {result.files} files "
            f"(executions started before {end.isoformat()})"
        )
        return PurgeExecutionsOutput(
            executions_count=result.executions, logs_count=result.logs, storages_count=result.files
        )
