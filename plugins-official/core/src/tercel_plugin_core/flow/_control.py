"""Sleep and the flowables that arrange child tasks (sequences, branches, loops, DAGs).

The flowables only decide: each `resolve` looks at the child task runs and returns the next
ones to create and, once everything is done, the final state. The sequential and parallel
semantics with `errors` and `finally` come from the SDK helpers, so the types stay small.
The loops (ForEach, EachSequential, EachParallel) keep a frontier per task run, so that with
the engine's `IncrementalFlowableContext` a decision reads only the children that changed:
a loop of 10,000 iterations costs 10,000 times one iteration, not 10,000².
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any, TypeGuard

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    PrivateAttr,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from tercel_sdk import (
    Duration,
    Example,
    FlowableContext,
    FlowableResult,
    FlowableTask,
    IncrementalFlowableContext,
    NextTaskRun,
    Output,
    Property,
    RunContext,
    RunnableTask,
    State,
    TaskFailed,
    TaskList,
    TaskMap,
    TaskRunView,
    TaskSlot,
    TaskSpec,
    block_state,
    format_duration,
    is_truthy,
    resolve_parallel,
    resolve_sequential,
)

from .._coerce import ConditionValue, to_value_string

__all__ = [
    "AllowFailure",
    "CheckFrequency",
    "Dag",
    "DagTask",
    "EachParallel",
    "EachSequential",
    "ForEach",
    "If",
    "IfOutput",
    "LoopUntil",
    "Parallel",
    "Sequential",
    "Sleep",
    "Switch",
    "SwitchOutput",
]

_CANCEL_POLL_SECONDS = 0.2
"""How often `Sleep` checks `ctx.is_cancelled()` (the worker may also cancel the coroutine)."""

TaskSpecs = Sequence[Mapping[str, Any]]


def _block_result(
    ctx: FlowableContext,
    tasks: TaskSpecs,
    errors: TaskSpecs | None,
    finally_: TaskSpecs | None,
    *,
    parallel: bool = False,
    concurrency: int = 0,
    outputs: Mapping[str, Any] | None = None,
) -> FlowableResult:
    """Next child runs of one block with its handlers, or its final state once all is done."""
    if parallel:
        nexts = resolve_parallel(ctx, tasks, errors, finally_, concurrency=concurrency)
    else:
        nexts = resolve_sequential(ctx, tasks, errors, finally_)
    if nexts:
        return FlowableResult(next=nexts, outputs=outputs)
    state = block_state(ctx, tasks, errors, finally_, parallel=parallel)
    return FlowableResult(state=state, outputs=outputs)


# --------------------------------------------------------------------------------------- Sleep


class Sleep(RunnableTask):
    """Wait for a duration before going on.

    The duration is an ISO 8601 duration (`PT5S`, `PT1M30S`). Waiting does not hold a worker
    thread, and a killed or timed-out task run stops waiting at once.
    """

    type_name = "tercel.core.Sleep"
    type_aliases = ("io.kestra.plugin.core.flow.Sleep",)
    type_title = "Pause for a duration."
    type_examples = (
        Example(
            title="Wait five seconds between two tasks.",
            full=True,
            code="""\
id: sleep
namespace: company.team

tasks:
  - id: before
    type: tercel.core.Log
    message: Going to sleep
  - id: sleep
    type: tercel.core.Sleep
    duration: PT5S
  - id: after
    type: tercel.core.Log
    message: Awake again
""",
        ),
    )

    duration: Property[Duration] = Field(description="How long to wait, e.g. PT5S.")

    async def run(self, ctx: RunContext) -> None:
        duration: timedelta = ctx.render(self.duration)
        if duration < timedelta(0):
            raise TaskFailed(f"duration must not be negative, got {format_duration(duration)}")
        ctx.logger.info(f"Waiting for {format_duration(duration)}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + duration.total_seconds()
        while True:
            if ctx.is_cancelled():
                raise TaskFailed("Sleep interrupted: the task run was killed or timed out")
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            await asyncio.sleep(min(remaining, _CANCEL_POLL_SECONDS))


# ---------------------------------------------------------------------- Sequential / Parallel


class Sequential(FlowableTask):
    """Run tasks one after the other.

    On a failure the next tasks do not run; `errors` run in order, then `finally` (which also
    runs after a success). The task ends in the worst state of its children.
    """

    type_name = "tercel.core.Sequential"
    type_aliases = ("io.kestra.plugin.core.flow.Sequential", "io.kestra.core.tasks.flows.Sequential")
    type_title = "Run tasks one after the other."
    type_examples = (
        Example(
            title="Group tasks, with their own error handler.",
            full=True,
            code="""\
id: sequential
namespace: company.team

tasks:
  - id: sequential
    type: tercel.core.Sequential
    tasks:
      - id: first
        type: tercel.core.Return
        format: "{{ task.id }} > {{ taskrun.startDate }}"
      - id: second
        type: tercel.core.Return
        format: "{{ task.id }} > {{ taskrun.id }}"
    errors:
      - id: on_error
        type: tercel.core.Log
        level: ERROR
        message: Something went wrong in the group
  - id: last
    type: tercel.core.Return
    format: "{{ task.id }} > {{ taskrun.startDate }}"
""",
        ),
    )

    tasks: TaskList = Field(min_length=1, description="The tasks to run, in order.")

    def resolve(self, ctx: FlowableContext) -> FlowableResult:
        return _block_result(ctx, self.tasks, self.errors, self.finally_)


class Parallel(FlowableTask):
    """Run tasks at the same time.

    At most `concurrent` tasks run at once (0: no limit). After a failure no new task starts;
    the running ones finish, then `errors` and `finally` run in order.
    """

    type_name = "tercel.core.Parallel"
    type_aliases = ("io.kestra.plugin.core.flow.Parallel", "io.kestra.core.tasks.flows.Parallel")
    type_title = "Run tasks in parallel."
    type_examples = (
        Example(
            title="Run six tasks, at most three at a time.",
            full=True,
            code="""\
id: parallel
namespace: company.team

tasks:
  - id: parallel
    type: tercel.core.Parallel
    concurrent: 3
    tasks:
      - id: t1
        type: tercel.core.Sleep
        duration: PT1S
      - id: t2
        type: tercel.core.Sleep
        duration: PT1S
      - id: t3
        type: tercel.core.Sleep
        duration: PT1S
      - id: t4
        type: tercel.core.Sleep
        duration: PT1S
      - id: t5
        type: tercel.core.Sleep
        duration: PT1S
      - id: t6
        type: tercel.core.Sleep
        duration: PT1S
  - id: last
    type: tercel.core.Log
    message: All done
""",
        ),
    )

    tasks: TaskList = Field(min_length=1, description="The tasks to run in parallel.")
    concurrent: int = Field(
        default=0, ge=0, description="How many tasks may run at once; 0 means no limit."
    )

    def resolve(self, ctx: FlowableContext) -> FlowableResult:
        return _block_result(
            ctx, self.tasks, self.errors, self.finally_, parallel=True, concurrency=self.concurrent
        )


# ------------------------------------------------------------------------------ If / Switch


class IfOutput(Output):
    """What `If` records: the branch it took, so it never changes during the run."""

    evaluation_result: bool = Field(description="The condition, coerced to a boolean.")


class If(FlowableTask):
    """Run `then` when a condition is true, else `else`.

    The condition is rendered and coerced like Kestra does: `false`, `0`, `-0`, an empty
    string and null are false; everything else is true. It is evaluated once, when the task
    starts, and kept as the output `evaluationResult`, so the branch cannot change midway even
    if what the condition reads does. A false condition without `else` simply succeeds.
    """

    type_name = "tercel.core.If"
    type_aliases = ("io.kestra.plugin.core.flow.If", "io.kestra.core.tasks.flows.If")
    type_title = "Branch on a condition."
    type_examples = (
        Example(
            title="Run one branch or the other depending on an input.",
            full=True,
            code="""\
id: if
namespace: company.team

inputs:
  - id: string
    type: STRING
    required: true

tasks:
  - id: if
    type: tercel.core.If
    condition: "{{ inputs.string == 'Condition' }}"
    then:
      - id: when_true
        type: tercel.core.Log
        message: Condition was true
    else:
      - id: when_false
        type: tercel.core.Log
        message: Condition was false
""",
        ),
    )

    condition: Property[ConditionValue] = Field(
        description="The condition; false, 0, -0, '' and null are false, anything else is true."
    )
    then: TaskList = Field(min_length=1, description="The tasks to run when the condition is true.")
    else_: TaskList | None = Field(
        default=None, alias="else", description="The tasks to run when the condition is false."
    )

    @classmethod
    def output_model(cls) -> type[Output] | None:
        return IfOutput

    def resolve(self, ctx: FlowableContext) -> FlowableResult:
        pinned = ctx.task_run.outputs.get("evaluationResult")
        outputs: dict[str, Any] | None = None
        if isinstance(pinned, bool):
            result = pinned
        else:
            result = is_truthy(ctx.render(self.condition))
            outputs = {"evaluationResult": result}
        branch = self.then if result else (self.else_ or [])
        return _block_result(ctx, branch, self.errors, self.finally_, outputs=outputs)


def _key_text(key: Any) -> str:
    """A `cases` key as text, the way YAML read by Kestra makes it (`200:` is "200")."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)


class SwitchOutput(Output):
    """What `Switch` records: the rendered value and whether `defaults` ran."""

    value: str = Field(description="The rendered value.")
    defaults: bool = Field(description="True when no case matched (the `defaults` branch).")


class Switch(FlowableTask):
    """Run the tasks of the case matching a value, else the `defaults`.

    `value` is rendered to text and compared with the keys of `cases`. With no matching case the
    `defaults` run; with no matching case and no `defaults` the task fails, as in Kestra. The
    value is rendered once and kept as the output `value`, so the branch never changes midway.
    """

    type_name = "tercel.core.Switch"
    type_aliases = ("io.kestra.plugin.core.flow.Switch", "io.kestra.core.tasks.flows.Switch")
    type_title = "Branch on a value."
    type_examples = (
        Example(
            title="Pick a branch from an input.",
            full=True,
            code="""\
id: switch
namespace: company.team

inputs:
  - id: string
    type: STRING
    required: true

tasks:
  - id: switch
    type: tercel.core.Switch
    value: "{{ inputs.string }}"
    cases:
      FIRST:
        - id: first
          type: tercel.core.Return
          format: "{{ task.id }} > {{ taskrun.startDate }}"
      SECOND:
        - id: second
          type: tercel.core.Return
          format: "{{ task.id }} > {{ taskrun.startDate }}"
    defaults:
      - id: default
        type: tercel.core.Return
        format: "{{ task.id }} > {{ taskrun.startDate }}"
""",
        ),
    )

    value: Property[str] = Field(description="The value to match against the keys of `cases`.")
    cases: TaskMap | None = Field(
        default=None, description="Tasks to run, by the value that selects them."
    )
    defaults: TaskList | None = Field(
        default=None, description="Tasks to run when no case matches the value."
    )

    @field_validator("cases", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        # YAML reads `200:` or `true:` as a number or a bool; a case key is always text.
        if isinstance(value, Mapping):
            return {_key_text(k): v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _has_a_branch(self) -> Switch:
        if not self.cases and not self.defaults:
            raise ValueError("a Switch needs at least one of `cases` or `defaults`")
        if self.value.raw in ("", None):
            raise ValueError("`value` must not be empty")
        return self

    @classmethod
    def output_model(cls) -> type[Output] | None:
        return SwitchOutput

    def resolve(self, ctx: FlowableContext) -> FlowableResult:
        pinned = ctx.task_run.outputs
        cases = self.cases or {}
        outputs: dict[str, Any] | None = None
        if isinstance(pinned.get("value"), str) and "defaults" in pinned:
            value: str = pinned["value"]
        else:
            value = ctx.render(self.value)
            outputs = {"value": value, "defaults": value not in cases}
        branch = cases.get(value)
        if branch is None:
            if self.defaults is None:
                # Kestra ends such a Switch FAILED; the outputs say why (`defaults: true`).
                return FlowableResult(state=State.FAILED, outputs=outputs)
            branch = self.defaults
        return _block_result(ctx, branch, self.errors, self.finally_, outputs=outputs)


# ----------------------------------------------------------------------------------- ForEach


@dataclass
class _Progress:
    """Where one sequential block (an iteration, `errors`, `finally`) stands."""

    next_task: Mapping[str, Any] | None = None
    started: bool = False
    running: bool = False
    done: bool = False
    failed: bool = False
    states: list[State] = field(default_factory=list)


def _enabled(tasks: TaskSpecs | None) -> list[Mapping[str, Any]]:
    return [t for t in tasks or () if not t.get("disabled")]


def _progress(tasks: Sequence[Mapping[str, Any]], runs: Sequence[TaskRunView]) -> _Progress:
    """The SDK's sequential rule on pre-grouped runs (one pass over the children per resolve)."""
    latest: dict[str, TaskRunView] = {}
    for run in runs:
        latest[run.task_id] = run  # a restarted task has several runs: the last one counts
    states = [r.state for r in latest.values()]
    started = bool(latest)
    if any(not s.is_terminated for s in states):
        return _Progress(started=started, running=True, states=states)
    if any(s.is_failed for s in states):
        return _Progress(started=started, done=True, failed=True, states=states)
    for task in tasks:
        if task["id"] not in latest:
            return _Progress(next_task=task, started=started, states=states)
    return _Progress(started=started, done=True, states=states)


_STARTING = _Progress(started=True, running=True)
"""A unit just started: its first task run is being created."""

_FRONTIERS_KEPT = 1024
"""Frontiers kept per loop task (the oldest goes first; a loop whose frontier went reads all
its children once to build it again)."""


@dataclass
class _Units:
    """The units of one loop task run, each a sequential block started with its first task.

    ForEach has a unit per value (its `tasks`, in order); EachSequential and EachParallel have
    a unit per (value, task) pair (`per_task`), values first. Units are started in order.
    """

    values: list[str]
    tasks: list[Mapping[str, Any]]
    per_task: bool
    _task_index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._task_index = {t["id"]: i for i, t in enumerate(self.tasks)}

    @property
    def count(self) -> int:
        if not self.tasks:
            return 0
        return len(self.values) * (len(self.tasks) if self.per_task else 1)

    def iteration(self, unit: int) -> int:
        return unit // len(self.tasks) if self.per_task else unit

    def value(self, unit: int) -> str:
        return self.values[self.iteration(unit)]

    def block(self, unit: int) -> list[Mapping[str, Any]]:
        return [self.tasks[unit % len(self.tasks)]] if self.per_task else self.tasks

    def unit_of(self, run: TaskRunView, positions: Mapping[str, int]) -> int | None:
        """The unit a child task run belongs to, or None (a handler, another value)."""
        task = self._task_index.get(run.task_id)
        iteration = positions.get(to_value_string(run.value)) if task is not None else None
        if iteration is None:
            return None
        return iteration * len(self.tasks) + task if self.per_task else iteration

    def progress(self, unit: int, runs: Sequence[TaskRunView]) -> _Progress:
        ids = {t["id"] for t in self.block(unit)}
        return _progress(self.block(unit), [r for r in runs if r.task_id in ids])


@dataclass
class _Frontier:
    """How far one loop task run got: a memo of its children, kept between two resolves.

    A resolve reads only the units whose task runs changed since the previous one (the
    context's `changed_children`), so each decision costs the same at the last iteration as
    at the first. Whenever the context cannot tell what changed (a first resolve, a reload, a
    restart, a context that is not an `IncrementalFlowableContext`) the frontier is built
    afresh from all the children, so it never decides differently from a full reading.
    """

    values: list[str]
    """The loop values it was built for (the frontier starts over if they were rendered again)."""
    positions: dict[str, int]
    """Index of each value."""
    count: int
    """How many units the loop has."""
    cursor: int = 0
    """Units before it were all started."""
    ahead: set[int] = field(default_factory=set)
    """Units at or after the cursor that have task runs already (seen when built afresh)."""
    active: dict[int, _Progress] = field(default_factory=dict)
    """Started units not done yet."""
    running: set[int] = field(default_factory=set)
    """Active units with a task run not terminated yet."""
    waiting: set[int] = field(default_factory=set)
    """Active units whose next task must start."""
    worst: State = State.SUCCESS
    """The worst state of the done units (`State.worst` of all their task runs)."""
    failed: bool = False
    """A done unit failed."""

    def update(self, unit: int, progress: _Progress) -> None:
        """What one unit's task runs say now."""
        if unit >= self.cursor:
            self.ahead.add(unit)
        self.running.discard(unit)
        self.waiting.discard(unit)
        if progress.done:
            self.active.pop(unit, None)
            self.worst = State.worst([self.worst, *progress.states])
            self.failed = self.failed or progress.failed
            return
        self.active[unit] = progress
        (self.running if progress.running else self.waiting).add(unit)

    def next_unstarted(self) -> int | None:
        while self.cursor in self.ahead:
            self.ahead.discard(self.cursor)
            self.cursor += 1
        return self.cursor if self.cursor < self.count else None

    def start(self, unit: int) -> None:
        """The unit at the cursor starts (its first task run is asked for)."""
        self.cursor = unit + 1
        self.active[unit] = _STARTING
        self.running.add(unit)


class _Loop(FlowableTask):
    """What ForEach, EachSequential and EachParallel share: rendering their values once and
    keeping a frontier per task run (`_Units`, `_Frontier`)."""

    _values: dict[str, list[str]] = PrivateAttr(default_factory=dict)
    _frontiers: dict[str, _Frontier] = PrivateAttr(default_factory=dict)

    def _frontier(self, ctx: FlowableContext, units: _Units) -> _Frontier:
        """The frontier of this task run, brought up to date with its children."""
        run_id = ctx.task_run.id
        changed = ctx.changed_children() if _incremental(ctx) else None
        frontier = self._frontiers.get(run_id)
        if changed is None or frontier is None or frontier.values is not units.values:
            return self._build_frontier(ctx, units)
        assert _incremental(ctx)  # only an incremental context knows what changed
        touched = {unit for run in changed if (unit := units.unit_of(run, frontier.positions)) is not None}
        for unit in sorted(touched):
            frontier.update(unit, units.progress(unit, ctx.children_with_value(units.value(unit))))
        return frontier

    def _build_frontier(self, ctx: FlowableContext, units: _Units) -> _Frontier:
        """A frontier from all the children (one pass), kept for the next resolves."""
        frontier = _Frontier(units.values, {v: i for i, v in enumerate(units.values)}, units.count)
        by_unit: dict[int, list[TaskRunView]] = {}
        for run in ctx.children():
            unit = units.unit_of(run, frontier.positions)
            if unit is not None:
                by_unit.setdefault(unit, []).append(run)
        for unit in sorted(by_unit):
            frontier.update(unit, units.progress(unit, by_unit[unit]))
        self._frontiers[ctx.task_run.id] = frontier
        if len(self._frontiers) > _FRONTIERS_KEPT:
            self._frontiers.pop(next(iter(self._frontiers)))
        return frontier

    def _start(self, frontier: _Frontier, units: _Units, room: int) -> list[NextTaskRun]:
        """Start up to `room` units, in order."""
        nexts: list[NextTaskRun] = []
        while room > 0 and (unit := frontier.next_unstarted()) is not None:
            frontier.start(unit)
            first = units.block(unit)[0]
            nexts.append(NextTaskRun(first, value=units.value(unit), iteration=units.iteration(unit)))
            room -= 1
        return nexts

    def _ended(self, ctx: FlowableContext, result: FlowableResult) -> FlowableResult:
        """`result`, forgetting the frontier once the loop has its final state."""
        if result.state is not None:
            self._frontiers.pop(ctx.task_run.id, None)
        return result


_INCREMENTAL: dict[type, bool] = {}


def _incremental(ctx: FlowableContext) -> TypeGuard[IncrementalFlowableContext]:
    """`isinstance(ctx, IncrementalFlowableContext)`, remembered per type (a Protocol check is slow)."""
    known = _INCREMENTAL.get(type(ctx))
    if known is None:
        known = _INCREMENTAL[type(ctx)] = isinstance(ctx, IncrementalFlowableContext)
    return known


def _runs_with_value(ctx: FlowableContext, value: Any) -> list[TaskRunView]:
    """The children whose value is `value` (all the children when the context cannot tell)."""
    if _incremental(ctx):
        return ctx.children_with_value(value)
    return ctx.children()


class ForEach(_Loop):
    """Run a group of tasks for each value of a list.

    `values` is a list, or a JSON array as text, or an expression rendering to either. Duplicate
    values are run once and null values are refused, as in Kestra. For each value the `tasks`
    run one after the other; their task runs carry the value as `taskrun.value` (text as-is,
    anything else as JSON) and its index as `taskrun.iteration`. Nested tasks read it as
    `parent.taskrun.value`.

    Up to `concurrencyLimit` iterations run at once (1: one after the other, 0: all at once);
    wrap the tasks in a `Parallel` to run them in parallel inside an iteration. After a failure
    no new task starts; the running ones finish, then `errors` and `finally` run once each.
    """

    type_name = "tercel.core.ForEach"
    type_aliases = ("io.kestra.plugin.core.flow.ForEach",)
    type_title = "Run tasks for each value of a list."
    type_examples = (
        Example(
            title=(
                "`taskrun.value` is the value of the direct children (`before_if`, `if`); a "
                "task nested deeper (`after_if`) reads it as `parent.taskrun.value`."
            ),
            full=True,
            code="""\
id: for_loop_example
namespace: company.team

tasks:
  - id: for_each
    type: tercel.core.ForEach
    values: ["value 1", "value 2", "value 3"]
    tasks:
      - id: before_if
        type: tercel.core.Return
        format: "Before if {{ taskrun.value }}"
      - id: if
        type: tercel.core.If
        condition: '{{ taskrun.value == "value 2" }}'
        then:
          - id: after_if
            type: tercel.core.Return
            format: "After if {{ parent.taskrun.value }}"
""",
        ),
        Example(
            title="Two iterations at a time, over a YAML list.",
            full=True,
            code="""\
id: for_each_value
namespace: company.team

tasks:
  - id: for_each
    type: tercel.core.ForEach
    values:
      - value 1
      - value 2
      - value 3
      - value 4
    concurrencyLimit: 2
    tasks:
      - id: return
        type: tercel.core.Return
        format: "{{ task.id }} with value '{{ taskrun.value }}' (iteration {{ taskrun.iteration }})"
""",
        ),
        Example(
            title="Run the tasks of each iteration in parallel, two iterations at a time.",
            full=True,
            code="""\
id: parallel_tasks_example
namespace: company.team

tasks:
  - id: for_each
    type: tercel.core.ForEach
    values: [1, 2, 3, 4, 5, 6]
    concurrencyLimit: 2
    tasks:
      - id: parallel
        type: tercel.core.Parallel
        tasks:
          - id: log
            type: tercel.core.Log
            message: Processing {{ parent.taskrun.value }}
          - id: sleep
            type: tercel.core.Sleep
            duration: PT1S
""",
        ),
    )

    values: Property[list[Any] | str] = Field(
        description="The values to iterate over: a list, a JSON array, or an expression."
    )
    concurrency_limit: int = Field(
        default=1,
        ge=0,
        description="How many iterations may run at once: 1 runs them one after the other, "
        "0 runs them all at once.",
    )
    tasks: TaskList = Field(min_length=1, description="The tasks to run for each value, in order.")

    @field_validator("values")
    @classmethod
    def _no_literal_null(cls, value: Property[Any]) -> Property[Any]:
        return _refuse_literal_null(value, "values")

    def resolve(self, ctx: FlowableContext) -> FlowableResult:
        values = _values_once(self._values, ctx, self.values, "values")
        units = _Units(values, _enabled(self.tasks), per_task=False)
        loop = self._frontier(ctx, units)
        if loop.failed:
            # stop: nothing new starts, the running task runs finish first
            if loop.running:
                return FlowableResult()
        else:
            # advance the running iterations, then start new ones while there is room
            nexts = [
                NextTaskRun(task, value=units.value(unit), iteration=unit)
                for unit in sorted(loop.waiting)
                if (task := loop.active[unit].next_task) is not None  # always, when waiting
            ]
            limit = self.concurrency_limit
            nexts += self._start(loop, units, units.count if limit == 0 else limit - len(loop.active))
            if nexts:
                return FlowableResult(next=nexts)
            if loop.active or loop.next_unstarted() is not None:
                return FlowableResult()

        states = [loop.worst, *(s for p in loop.active.values() for s in p.states)]
        errors, finally_ = _enabled(self.errors), _enabled(self.finally_)
        handlers = [errors] if loop.failed and errors else []
        handlers.append(finally_)
        runs = _runs_with_value(ctx, None)  # the handlers' task runs have no value
        for block in handlers:
            ids = {t["id"] for t in block}
            handler = _progress(block, [r for r in runs if r.task_id in ids])
            if handler.next_task is not None:
                return FlowableResult(next=[NextTaskRun(handler.next_task, value=None)])
            if not handler.done:
                return FlowableResult()
            states += handler.states
        return self._ended(ctx, FlowableResult(state=State.worst(states)))


def _refuse_literal_null(value: Property[Any], name: str) -> Property[Any]:
    """A literal list of loop values may not hold null (Kestra refuses it too)."""
    if isinstance(value.raw, list) and any(v is None for v in value.raw):
        raise ValueError(f"{name} must not contain null")
    return value


def _values_once(cache: dict[str, list[str]], ctx: FlowableContext, prop: Property[Any], name: str) -> list[str]:
    """The loop values of this task run, rendered once: the loop keeps the values it started with."""
    run_id = ctx.task_run.id
    values = cache.get(run_id)
    if values is None:
        values = cache[run_id] = _loop_values(ctx, prop, name)
        if len(cache) > 1024:  # bounded: one entry per running loop is all that is needed
            cache.pop(next(iter(cache)))
    return values


def _loop_values(ctx: FlowableContext, prop: Property[Any], name: str) -> list[str]:
    """The distinct values of a loop property as text, in order: a list, or a JSON array."""
    rendered = ctx.render(prop.raw)
    if isinstance(rendered, str):
        try:
            rendered = json.loads(rendered)
        except ValueError:
            raise TaskFailed(
                f"{name} must render to a list or a JSON array, got {_preview(rendered)}"
            ) from None
    if isinstance(rendered, Mapping):
        raise TaskFailed(f"{name} must be a list, not a map: {_preview(rendered)}")
    if not isinstance(rendered, list | tuple):
        raise TaskFailed(f"{name} must be a list, got {_preview(rendered)}")
    out: list[str] = []
    seen: set[str] = set()
    for item in rendered:
        if item is None:
            raise TaskFailed(f"found a null value inside the iteration values {_preview(rendered)}")
        text = to_value_string(item)
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def _preview(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _handlers_result(
    children: Sequence[TaskRunView],
    failed: bool,
    states: list[State],
    errors: TaskSpecs | None,
    finally_: TaskSpecs | None,
) -> FlowableResult:
    """Once the main block is done: `errors` in order (after a failure), then `finally` in
    order, then the worst state of everything that ran. Handlers inherit the parent's value."""
    errors, finally_ = _enabled(errors), _enabled(finally_)
    error_ids, finally_ids = {t["id"] for t in errors}, {t["id"] for t in finally_}
    handlers = []
    if failed and errors:
        handlers.append((errors, [r for r in children if r.task_id in error_ids]))
    handlers.append((finally_, [r for r in children if r.task_id in finally_ids]))
    states = list(states)
    for block, runs in handlers:
        handler = _progress(block, runs)
        if handler.next_task is not None:
            return FlowableResult(next=[NextTaskRun(handler.next_task)])
        if not handler.done:
            return FlowableResult()
        states += handler.states
    return FlowableResult(state=State.worst(states))


# ------------------------------------------------------------------------------ AllowFailure


class AllowFailure(FlowableTask):
    """Run tasks one after the other and let the block fail without failing the flow.

    As in `Sequential`, a failure stops the block (the next tasks do not run) and `errors` then
    `finally` run in order. But where a `Sequential` would end FAILED, an `AllowFailure` ends
    WARNING, so the tasks after it run and the execution ends WARNING. A killed block stays
    KILLED.
    """

    type_name = "tercel.core.AllowFailure"
    type_aliases = (
        "io.kestra.plugin.core.flow.AllowFailure",
        "io.kestra.core.tasks.flows.AllowFailure",
    )
    type_title = "Let a block of tasks fail without stopping the flow."
    type_examples = (
        Example(
            title="A failing best-effort block; the flow goes on and ends WARNING.",
            full=True,
            code="""\
id: allow_failure
namespace: company.team

tasks:
  - id: best_effort
    type: tercel.core.AllowFailure
    tasks:
      - id: ko
        type: tercel.core.Fail
        errorMessage: This step is flaky
      - id: not_run
        type: tercel.core.Log
        message: Skipped, the block stopped at the failure
    errors:
      - id: on_error
        type: tercel.core.Log
        level: WARN
        message: The best-effort block failed
  - id: last
    type: tercel.core.Return
    format: "{{ task.id }} > {{ taskrun.startDate }}"
""",
        ),
    )

    tasks: TaskList = Field(min_length=1, description="The tasks to run, in order.")

    def resolve(self, ctx: FlowableContext) -> FlowableResult:
        result = _block_result(ctx, self.tasks, self.errors, self.finally_)
        if result.state is State.FAILED:
            return FlowableResult(state=State.WARNING, outputs=result.outputs)
        return result


# ---------------------------------------------------------------- EachSequential / EachParallel


class _Each(_Loop):
    """What EachSequential and EachParallel share: the values, and a unit per (value, task)."""

    value: Property[list[Any] | str] = Field(
        description="The values to iterate over: a list, a JSON array as text, or an expression."
    )
    tasks: TaskList = Field(min_length=1, description="The tasks to run for each value.")

    @field_validator("value")
    @classmethod
    def _no_literal_null(cls, value: Property[Any]) -> Property[Any]:
        return _refuse_literal_null(value, "value")

    def _resolve_each(self, ctx: FlowableContext, concurrency: int) -> FlowableResult:
        """Run the (value, task) pairs in the order Kestra does, at most `concurrency` at once
        (1: in order, 0: all at once)."""
        values = _values_once(self._values, ctx, self.value, "value")
        units = _Units(values, _enabled(self.tasks), per_task=True)
        loop = self._frontier(ctx, units)
        running = len(loop.running)
        if running and (loop.failed or concurrency == 1):
            return FlowableResult()  # after a failure nothing new starts; the running finish
        if not loop.failed:
            nexts = self._start(loop, units, units.count if concurrency <= 0 else concurrency - running)
            if nexts:
                return FlowableResult(next=nexts)
            if running:
                return FlowableResult()
        runs = _runs_with_value(ctx, ctx.task_run.value)  # the handlers inherit this run's value
        return self._ended(ctx, _handlers_result(runs, loop.failed, [loop.worst], self.errors, self.finally_))


class EachSequential(_Each):
    """Run a group of tasks for each value of a list, everything one after the other.

    Kestra's legacy loop (prefer `ForEach`). `value` is a list, a JSON array as text, or an
    expression rendering to either; duplicates run once and null values are refused. For each
    value in turn, the `tasks` run one after the other with the value as `taskrun.value` (text
    as-is, anything else as JSON) and its index as `taskrun.iteration`. A failure stops the
    loop; `errors` then `finally` run once each.
    """

    type_name = "tercel.core.EachSequential"
    type_aliases = (
        "io.kestra.plugin.core.flow.EachSequential",
        "io.kestra.core.tasks.flows.EachSequential",
    )
    type_title = "Run tasks for each value of a list, one after the other (legacy)."
    type_examples = (
        Example(
            title="Two tasks for each of three values, all in order.",
            full=True,
            code="""\
id: each_sequential
namespace: company.team

tasks:
  - id: each
    type: tercel.core.EachSequential
    value: ["value 1", "value 2", "value 3"]
    tasks:
      - id: first
        type: tercel.core.Return
        format: "{{ task.id }} with value '{{ taskrun.value }}'"
      - id: second
        type: tercel.core.Return
        format: "{{ task.id }} with value '{{ taskrun.value }}'"
  - id: last
    type: tercel.core.Return
    format: "{{ task.id }} > {{ taskrun.startDate }}"
""",
        ),
        Example(
            title="Iterate over a JSON array of objects; nested tasks read `parent.taskrun.value`.",
            full=True,
            code="""\
id: each_sequential_json
namespace: company.team

tasks:
  - id: each
    type: tercel.core.EachSequential
    value: '[{"name": "a"}, {"name": "b"}]'
    tasks:
      - id: group
        type: tercel.core.Sequential
        tasks:
          - id: log
            type: tercel.core.Log
            message: "{{ fromJson(parent.taskrun.value).name }}"
""",
        ),
    )

    def resolve(self, ctx: FlowableContext) -> FlowableResult:
        return self._resolve_each(ctx, 1)


class EachParallel(_Each):
    """Run a group of tasks for each value of a list, everything in parallel.

    Kestra's legacy parallel loop (prefer `ForEach` with `concurrencyLimit`). `value` is read as
    for `EachSequential`. Every task of every value starts at once, in no guaranteed order (3
    values and 2 tasks: 6 task runs in parallel), at most `concurrent` at a time (0: no limit);
    wrap the tasks in a `Sequential` to keep them in order within a value. After a failure no new
    task starts; the running ones finish, then `errors` and `finally` run once each.
    """

    type_name = "tercel.core.EachParallel"
    type_aliases = (
        "io.kestra.plugin.core.flow.EachParallel",
        "io.kestra.core.tasks.flows.EachParallel",
    )
    type_title = "Run tasks for each value of a list, in parallel (legacy)."
    type_examples = (
        Example(
            title="One task for each value, all at once.",
            full=True,
            code="""\
id: each_parallel
namespace: company.team

tasks:
  - id: each
    type: tercel.core.EachParallel
    value: '["value 1", "value 2", "value 3"]'
    tasks:
      - id: each_value
        type: tercel.core.Return
        format: "{{ task.id }} with current value '{{ taskrun.value }}'"
""",
        ),
        Example(
            title="Keep the tasks of a value in order, two values at a time.",
            full=True,
            code="""\
id: each_parallel_sequential
namespace: company.team

tasks:
  - id: each
    type: tercel.core.EachParallel
    value: ["value 1", "value 2", "value 3", "value 4"]
    concurrent: 2
    tasks:
      - id: sequence
        type: tercel.core.Sequential
        tasks:
          - id: first
            type: tercel.core.Log
            message: "first {{ parent.taskrun.value }}"
          - id: second
            type: tercel.core.Log
            message: "second {{ parent.taskrun.value }}"
""",
        ),
    )

    concurrent: int = Field(
        default=0, ge=0, description="How many task runs may run at once; 0 means no limit."
    )

    def resolve(self, ctx: FlowableContext) -> FlowableResult:
        return self._resolve_each(ctx, self.concurrent)


# --------------------------------------------------------------------------------------- Dag


class DagTask(BaseModel):
    """One node of a `Dag`: a task and the ids of the tasks it waits for."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, defer_build=True
    )

    task: TaskSpec = Field(description="The task.")
    depends_on: list[str] | None = Field(
        default=None,
        description="Ids of tasks of the same Dag that must end in SUCCESS or WARNING first.",
    )


class Dag(FlowableTask):
    """Run tasks in the order their dependencies give, as many at once as possible.

    Each entry of `tasks` is a task and the ids of the tasks of this Dag it `dependsOn`. A task
    starts once all its dependencies ended in SUCCESS or WARNING (a skipped or disabled
    dependency counts as done), at most `concurrent` at a time (0: no limit). After a failure no
    new task starts; the running ones finish, then `errors` and `finally` run in order. A
    dependency on an unknown task or a cycle fails the Dag task run before anything starts.
    """

    type_name = "tercel.core.Dag"
    type_aliases = ("io.kestra.plugin.core.flow.Dag", "io.kestra.core.tasks.flows.Dag")
    type_title = "Run tasks as a graph of dependencies."
    type_examples = (
        Example(
            title="Five tasks whose order comes from their dependencies.",
            full=True,
            code="""\
id: dag
namespace: company.team

tasks:
  - id: dag
    type: tercel.core.Dag
    tasks:
      - task:
          id: task1
          type: tercel.core.Log
          message: task 1
      - task:
          id: task2
          type: tercel.core.Log
          message: task 2
        dependsOn:
          - task1
      - task:
          id: task3
          type: tercel.core.Log
          message: task 3
        dependsOn:
          - task1
      - task:
          id: task4
          type: tercel.core.Log
          message: task 4
        dependsOn:
          - task2
      - task:
          id: task5
          type: tercel.core.Log
          message: task 5
        dependsOn:
          - task4
          - task3
""",
        ),
    )

    tasks: Annotated[list[DagTask], TaskSlot("wrapped", key="task", depends_on="dependsOn")] = Field(
        min_length=1, description="The tasks of the graph, each with the ids it depends on."
    )
    concurrent: int = Field(
        default=0, ge=0, description="How many tasks may run at once; 0 means no limit."
    )

    _graph_checked: bool = PrivateAttr(default=False)

    def _check_graph(self) -> None:
        """Refuse a dependency on an unknown task and a cycle, naming them."""
        deps = {str(n.task.get("id")): list(n.depends_on or ()) for n in self.tasks}
        for task_id, needs in deps.items():
            for need in needs:
                if need not in deps:
                    known = ", ".join(repr(k) for k in deps)
                    raise TaskFailed(
                        f"task {task_id!r} depends on unknown task {need!r} "
                        f"(the tasks of this Dag are {known})"
                    )
        done: set[str] = set()
        for start in deps:
            path: list[str] = []
            on_path: set[str] = set()
            stack: list[tuple[str, int]] = [(start, 0)]
            while stack:
                node, i = stack.pop()
                if i == 0:
                    if node in done:
                        continue
                    path.append(node)
                    on_path.add(node)
                needs = deps[node]
                if i < len(needs):
                    stack.append((node, i + 1))
                    nxt = needs[i]
                    if nxt in on_path:
                        cycle = [*path[path.index(nxt) :], nxt]
                        raise TaskFailed(
                            "the dependencies form a cycle: "
                            + " -> ".join(cycle)
                            + " (each task depends on the next)"
                        )
                    if nxt not in done:
                        stack.append((nxt, 0))
                else:
                    path.pop()
                    on_path.discard(node)
                    done.add(node)

    def resolve(self, ctx: FlowableContext) -> FlowableResult:
        if not self._graph_checked:
            self._check_graph()  # raises TaskFailed: the engine fails this task run with it
            self._graph_checked = True
        nodes = [n for n in self.tasks if not n.task.get("disabled")]
        disabled = {n.task.get("id") for n in self.tasks if n.task.get("disabled")}
        main_ids = {n.task["id"] for n in nodes}
        children = ctx.children()
        latest = {r.task_id: r for r in children if r.task_id in main_ids}
        states = [r.state for r in latest.values()]
        running = sum(1 for s in states if not s.is_terminated)
        failed = any(s.is_failed for s in states)
        if failed:
            if running:
                return FlowableResult()  # nothing new starts; the running ones finish
            return _handlers_result(children, True, states, self.errors, self.finally_)

        def met(need: str) -> bool:
            run = latest.get(need)
            return need in disabled or (run is not None and run.state.is_success_like)

        missing = [n for n in nodes if n.task["id"] not in latest]
        ready = [n for n in missing if all(met(d) for d in n.depends_on or ())]
        room = len(ready) if self.concurrent == 0 else self.concurrent - running
        if ready and room > 0:
            return FlowableResult(next=[NextTaskRun(n.task) for n in ready[:room]])
        if running:
            return FlowableResult()
        if missing:
            # a dependency ended in a state that is neither a success nor a failure
            blocked = ", ".join(repr(n.task["id"]) for n in missing)
            return FlowableResult(
                state=State.FAILED,
                error=f"tasks {blocked} can never start: a dependency did not succeed",
            )
        return _handlers_result(children, False, states, self.errors, self.finally_)


class CheckFrequency(BaseModel):
    """How often `LoopUntil` runs again, and when it gives up."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, defer_build=True)

    interval: Duration = Field(default=timedelta(minutes=1), description="Wait between two iterations.")
    max_iterations: PositiveInt | None = Field(default=None, description="Stop after this many iterations.")
    max_duration: Duration | None = Field(default=None, description="Stop once the loop ran this long.")


class LoopUntil(FlowableTask):
    """Run tasks again and again until a condition is true (polling a job, an API, a file).

    After each iteration (all its tasks done) `condition` is rendered with Kestra's truthiness;
    true ends the loop in SUCCESS. Otherwise the loop waits `checkFrequency.interval` and runs
    the tasks again, unless `maxIterations` or `maxDuration` is reached: then it ends in SUCCESS,
    or FAILED with `failOnMaxReached`. Children see `outputs.<this id>.iterationCount` and
    `taskrun.iteration`. A failing child ends the loop (after `errors`/`finally`).
    """

    type_name = "tercel.core.LoopUntil"
    type_aliases = ("io.kestra.plugin.core.flow.LoopUntil", "io.kestra.plugin.core.flow.WaitFor")
    type_title = "Repeat tasks until a condition is true."
    type_examples = (
        Example(
            title="Run a task until it returns a specific value.",
            full=True,
            code="""\
id: loop_until
namespace: company.team

tasks:
  - id: loop
    type: tercel.core.LoopUntil
    condition: "{{ outputs.return.value == '4' }}"
    checkFrequency:
      interval: PT0.1S
      maxIterations: 10
    tasks:
      - id: return
        type: tercel.core.Return
        format: "{{ outputs.loop.iterationCount }}"
""",
        ),
    )

    condition: Property[ConditionValue] = Field(description="Ends the loop when true, checked after each iteration.")
    tasks: TaskList = Field(min_length=1, description="The tasks of one iteration, in order.")
    check_frequency: CheckFrequency = Field(default_factory=CheckFrequency, description="Interval and limits.")
    fail_on_max_reached: bool = Field(default=False, description="End FAILED (not SUCCESS) when a limit is reached.")

    def resolve(self, ctx: FlowableContext) -> FlowableResult:
        own = dict(ctx.task_run.outputs or {})
        iteration = int(own.get("iterationCount") or 0)
        now = ctx.now
        if iteration == 0:
            return self._start(1, {"startedAt": now})
        tasks, errors, finally_ = _enabled(self.tasks), _enabled(self.errors), _enabled(self.finally_)
        main_ids = {t["id"] for t in tasks}
        children = ctx.children()
        current = [r for r in children if r.task_id in main_ids and r.iteration == iteration]
        progress = _progress(tasks, current)
        if progress.running:
            return FlowableResult()
        if progress.next_task is not None and not progress.failed:
            return FlowableResult(next=[NextTaskRun(progress.next_task, iteration=iteration)])
        if progress.failed:
            return self._handlers(children, errors, finally_, [*progress.states])
        if is_truthy(ctx.render(self.condition)):
            return self._handlers(children, [], finally_, [State.SUCCESS])
        started = own.get("startedAt") or now
        limits = self.check_frequency
        if (limits.max_iterations is not None and iteration >= limits.max_iterations) or (
            limits.max_duration is not None and now - started >= limits.max_duration
        ):
            final = State.FAILED if self.fail_on_max_reached else State.SUCCESS
            result = self._handlers(children, [], finally_, [final])
            if result.state is State.FAILED and not result.error:
                result = FlowableResult(next=result.next, state=result.state, outputs=result.outputs,
                                        error=f"the condition was still false after {iteration} iteration(s)")
            return result
        due = own.get("nextIterationAt")
        if due is None:
            due = now + limits.interval
            return FlowableResult(outputs={**own, "nextIterationAt": due}, wake_after=limits.interval)
        if now < due:
            return FlowableResult(wake_after=due - now)
        own.pop("nextIterationAt", None)
        return self._start(iteration + 1, own)

    def _start(self, iteration: int, own: dict[str, Any]) -> FlowableResult:
        first = _enabled(self.tasks)[0]
        return FlowableResult(
            next=[NextTaskRun(first, iteration=iteration)],
            outputs={**own, "iterationCount": iteration},
        )

    def _handlers(self, children: list[TaskRunView], errors: list[Mapping[str, Any]], finally_: list[Mapping[str, Any]], states: list[State]) -> FlowableResult:
        """`errors` (after a failure) then `finally`, once; then the loop's final state."""
        states = list(states)
        for block in (errors, finally_):
            if not block:
                continue
            ids = {t["id"] for t in block}
            progress = _progress(block, [r for r in children if r.task_id in ids])
            if progress.next_task is not None and not progress.failed and not progress.running:
                return FlowableResult(next=[NextTaskRun(progress.next_task, value=None)])
            if not progress.done:
                return FlowableResult()
            states += progress.states
        return FlowableResult(state=State.worst(states))
