"""Pause: stop an execution until someone (or a timer) resumes it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, model_validator
from tercel_sdk import (
    Duration,
    Example,
    FlowableContext,
    FlowableResult,
    FlowableTask,
    Property,
    State,
    TaskList,
    block_state,
    format_duration,
    resolve_sequential,
)

__all__ = ["Pause"]


class Pause(FlowableTask):
    """Pause the execution until it is resumed, by a person, by another flow or by a timer.

    The task run and the execution become PAUSED; tasks already running elsewhere (another
    branch of a Parallel) finish, nothing after the Pause starts. Resume with `tercel executions
    resume`, the API (`POST /api/v1/executions/{id}/resume`) or a `Resume` task, giving values for
    the `onResume` inputs: they are checked like flow inputs and become `outputs.<id>.onResume`.
    With `pauseDuration` the execution also goes on by itself once that time is over, as
    `behavior` says (RESUME, or end the task WARNING, FAILED or CANCELLED). With `timeout`
    (and no `pauseDuration`) a resume must come in time or the task fails.
    """

    type_name = "tercel.core.Pause"
    type_aliases = ("io.kestra.plugin.core.flow.Pause", "io.kestra.core.tasks.flows.Pause")
    type_title = "Pause the execution until it is resumed."
    type_examples = (
        Example(
            title="Wait for a manual approval with a reason.",
            full=True,
            code="""\
id: human_in_the_loop
namespace: company.team

tasks:
  - id: wait_for_approval
    type: tercel.core.Pause
    onResume:
      - id: approved
        type: BOOLEAN
        defaults: true
      - id: reason
        type: STRING
        defaults: Well-deserved vacation

  - id: log
    type: tercel.core.Log
    message: "Approved: {{ outputs.wait_for_approval.onResume.approved }} ({{ outputs.wait_for_approval.onResume.reason }})"
""",
        ),
        Example(
            title="Wait five minutes, then go on with a warning.",
            full=True,
            code="""\
id: pause_warn
namespace: company.team

tasks:
  - id: pause
    type: tercel.core.Pause
    pauseDuration: PT5M
    behavior: WARN

  - id: after
    type: tercel.core.Log
    message: the pause is over
""",
        ),
    )

    pause_duration: Duration | None = Field(
        default=None, description="Go on by itself after this long (as `behavior` says); without it, wait for a resume."
    )
    delay: Duration | None = Field(default=None, description="Deprecated name of `pauseDuration`.")
    behavior: Property[Literal["RESUME", "WARN", "FAIL", "CANCEL"]] = Field(
        default=Property.of("RESUME"),
        description="What happens when `pauseDuration` is over: go on, or end the task WARNING, FAILED or CANCELLED.",
    )
    on_resume: list[dict[str, Any]] | None = Field(
        default=None,
        description="Inputs asked for on resume (declared like flow inputs); seen as `outputs.<id>.onResume`.",
        json_schema_extra={"x-tercel-kind": "inputs"},
    )
    tasks: TaskList | None = Field(default=None, description="Deprecated: tasks to run after the resume.")

    @model_validator(mode="after")
    def _check(self) -> Pause:
        if self.pause_duration is not None and self.delay is not None:
            raise ValueError("give `pauseDuration` or its deprecated name `delay`, not both")
        for i, decl in enumerate(self.on_resume or ()):
            if not isinstance(decl, dict) or not isinstance(decl.get("id"), str) or not decl.get("type"):
                raise ValueError(f"onResume[{i}] must declare an input with an `id` and a `type`")
        return self

    def _duration(self) -> timedelta | None:
        return self.pause_duration if self.pause_duration is not None else self.delay

    def resolve(self, ctx: FlowableContext) -> FlowableResult:
        run = ctx.task_run
        own = dict(run.outputs or {})
        if run.state is State.PAUSED:
            return self._waiting(ctx, own)
        if "resumed" not in own:  # first time here: pause
            limit = self._duration() or self.timeout_duration()
            return FlowableResult(state=State.PAUSED, wake_after=limit)
        if self.tasks:
            nexts = resolve_sequential(ctx, self.tasks, self.errors, self.finally_)
            if nexts:
                return FlowableResult(next=nexts)
            return FlowableResult(state=block_state(ctx, self.tasks, self.errors, self.finally_))
        return FlowableResult(state=State.SUCCESS)

    def timeout_duration(self) -> timedelta | None:
        """The deprecated `timeout`: a resume must come before it (a literal duration here)."""
        raw = self.timeout.raw if self.timeout is not None else None
        if raw is None:
            return None
        if isinstance(raw, timedelta):
            return raw
        from tercel_sdk import parse_duration

        return parse_duration(str(raw))

    def _waiting(self, ctx: FlowableContext, own: dict[str, Any]) -> FlowableResult:
        """Woken while PAUSED: the pause's time may be over."""
        duration = self._duration()
        limit = duration or self.timeout_duration()
        since = ctx.task_run.state_since
        if limit is None or since is None:
            return FlowableResult(state=State.PAUSED)
        due = since + limit
        if ctx.now < due:
            return FlowableResult(state=State.PAUSED, wake_after=due - ctx.now)
        if duration is None:
            return FlowableResult(
                state=State.FAILED, error=f"the execution was not resumed within the timeout of {format_duration(limit)}"
            )
        behavior = ctx.render(self.behavior)
        if behavior == "RESUME":
            defaults = {d["id"]: d.get("defaults") for d in self.on_resume or ()}
            own.update(onResume=defaults, resumed={"by": None, "on": ctx.now})
            if self.tasks:
                nexts = resolve_sequential(ctx, self.tasks, self.errors, self.finally_)
                return FlowableResult(next=nexts, outputs=own, state=None if nexts else State.SUCCESS)
            return FlowableResult(state=State.SUCCESS, outputs=own)
        state = {"WARN": State.WARNING, "FAIL": State.FAILED, "CANCEL": State.CANCELLED}[behavior]
        why = f"the pause of {format_duration(limit)} is over (behavior {behavior})"
        return FlowableResult(state=state, outputs=own, error=why if state is State.FAILED else None)
