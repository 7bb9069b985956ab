"""The flowable-task protocol: pure decisions over child task runs.

A flowable task (Sequential, Parallel, If, ForEach, …) receives a `FlowableContext` describing
its own task run and its children and returns a `FlowableResult`: which child task runs to
create next and, once finished, its own final state. The helpers here implement Kestra's
sequential and parallel semantics with `errors` and `finally`, so most flowables are a few lines.

A flowable over many children (a loop over thousands of values) need not read them all at every
decision: the engine's context is also an `IncrementalFlowableContext`, which finds the children
of one value and tells which children changed since the flowable last asked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar, runtime_checkable

from ._property import Property
from ._states import State

__all__ = [
    "INHERIT",
    "FlowableContext",
    "FlowableResult",
    "IncrementalFlowableContext",
    "NextTaskRun",
    "SubflowRequest",
    "TaskRunView",
    "block_state",
    "resolve_parallel",
    "resolve_sequential",
]

T = TypeVar("T")


class _Inherit:
    def __repr__(self) -> str:
        return "INHERIT"


INHERIT: Any = _Inherit()
"""Default `value` of a new child task run: the parent's own value (how loops pass theirs down)."""


@dataclass(frozen=True)
class TaskRunView:
    """A read-only view of a task run, what flowables decide on."""

    id: str
    task_id: str
    parent_task_run_id: str | None
    value: Any
    iteration: int | None
    state: State
    outputs: Mapping[str, Any] = field(default_factory=dict)
    state_since: datetime | None = None
    """When the task run entered its current state (a Pause counts its duration from it)."""
    phases_done: tuple[str, ...] = ()
    """The `work` phases of this flowable that ended (see `FlowableResult.work`)."""


@dataclass(frozen=True)
class NextTaskRun:
    """A child task run to create: which task (from the flowable's children) and with what value."""

    task: Mapping[str, Any]
    value: Any = INHERIT
    iteration: int | None = None


@dataclass(frozen=True)
class SubflowRequest:
    """An execution of another flow to start for this flowable (Subflow, ForEachItem).

    The engine starts it in the same transaction as the decision; when it ends (and `wait` is
    set) its state and outputs come back through `FlowableTask.subflow_ended`, then the flowable
    is resolved again.
    """

    namespace: str
    flow_id: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    revision: int | None = None
    wait: bool = True
    iteration: int | None = None
    outputs: Mapping[str, Any] | None = None
    """Kestra's deprecated Subflow `outputs`: expressions rendered in the child's context at its end."""
    schedule_delay: timedelta | None = None
    """Start the child this long after it is created (Kestra's `scheduleDate`)."""
    outputs_uri: str | None = None
    """Where (a `tercel://` URI of this execution) the engine writes the child's flow outputs as
    Ion when it ends: how ForEachItem merges many subflows' outputs without keeping them all."""


@dataclass(frozen=True)
class FlowableResult:
    """What a flowable decided: new children to create, its state when done, its outputs.

    `error` explains a FAILED state that no child caused (e.g. a Switch with no matching case);
    the engine logs it and keeps it on the task run.
    """

    next: Sequence[NextTaskRun] = ()
    state: State | None = None
    outputs: Mapping[str, Any] | None = None
    error: str | None = None
    wake_after: timedelta | None = None
    """Resolve me again after this long, even if nothing else happens (polling loops)."""
    work: str | None = None
    """Run this flowable's `work(ctx, phase)` on a worker (I/O a decision cannot do: preparing
    a working directory, splitting a file), merge what it returns into the task run's outputs,
    then resolve again; `ctx.task_run.phases_done` then lists the phase."""
    subflows: Sequence[SubflowRequest] = ()
    """Executions of other flows to start now (see `SubflowRequest`)."""


@runtime_checkable
class FlowableContext(Protocol):
    """What a flowable sees: its task run, its child task runs, and rendering."""

    @property
    def task_run(self) -> TaskRunView: ...

    def children(self) -> list[TaskRunView]:
        """Direct child task runs of this flowable's task run, in creation order."""
        ...

    def render(self, value: Property[T] | Any, variables: Mapping[str, Any] | None = None) -> Any:
        """Render a property in the flowable's own context (`taskrun.value` included);
        `variables` are laid over it (a mapping over a mapping merges one level deep)."""
        ...

    @property
    def now(self) -> datetime:
        """The engine's time for this decision (use it, never the clock: decisions stay pure)."""
        ...


@runtime_checkable
class IncrementalFlowableContext(FlowableContext, Protocol):
    """A `FlowableContext` that also answers in time proportional to what is asked, not to
    the number of children: what a loop over many values needs so that each decision costs
    the same at its 10,000th iteration as at its first.

    The engine's context implements it; a flowable checks `isinstance(ctx,
    IncrementalFlowableContext)` and otherwise decides from `children()` (test doubles and
    other contexts written against `FlowableContext` keep working). Both ways must give the
    same decisions: what a flowable keeps between two resolves is only a memo of its children.
    """

    def children_with_value(self, value: Any) -> list[TaskRunView]:
        """The direct children whose value equals `value`, in creation order: the task runs
        of one loop iteration (a loop value is stored as text, see `NextTaskRun`), found
        without looking at the others."""
        ...

    def changed_children(self) -> list[TaskRunView] | None:
        """The direct children created or ended (in a terminated state) since the previous
        call for this task run, oldest change first (a child may appear twice); None when the
        engine cannot tell: on the first call, and on the first call after the execution was
        loaded again (another process, another executor) or restarted.

        A flowable that keeps what it learned from its children between two resolves looks
        only at these; on None it starts over from `children()`. Call it once per resolve:
        a second call in the same resolve returns what changed in between (usually nothing).
        """
        ...


def _ids(tasks: Sequence[Mapping[str, Any]] | None) -> list[str]:
    return [t["id"] for t in tasks or () if not t.get("disabled")]


def _enabled(tasks: Sequence[Mapping[str, Any]] | None) -> list[Mapping[str, Any]]:
    return [t for t in tasks or () if not t.get("disabled")]


def _value_matches(run: TaskRunView, value: Any) -> bool:
    return value is INHERIT or run.value == value


def _runs_for(
    children: Sequence[TaskRunView], tasks: Sequence[Mapping[str, Any]] | None, value: Any
) -> list[TaskRunView]:
    ids = set(_ids(tasks))
    return [r for r in children if r.task_id in ids and _value_matches(r, value)]


def _latest(runs: Sequence[TaskRunView]) -> dict[str, TaskRunView]:
    """The latest run of each task id (a restarted task has several)."""
    out: dict[str, TaskRunView] = {}
    for r in runs:
        out[r.task_id] = r
    return out


def _sequential_block(
    block: Sequence[Mapping[str, Any]], runs: Sequence[TaskRunView], value: Any
) -> tuple[list[NextTaskRun], bool, bool]:
    """Next of a sequential block: (next runs, block finished, block failed)."""
    tasks = _enabled(block)
    if not tasks:
        return [], True, False
    latest = _latest(runs)
    if any(not r.state.is_terminated for r in latest.values()):
        return [], False, False
    if any(r.state.is_failed for r in latest.values()):
        return [], True, True
    for task in tasks:
        if task["id"] not in latest:
            return [NextTaskRun(task, value)], False, False
    return [], True, False


def _parallel_block(
    block: Sequence[Mapping[str, Any]], runs: Sequence[TaskRunView], value: Any, concurrency: int
) -> tuple[list[NextTaskRun], bool, bool]:
    tasks = _enabled(block)
    if not tasks:
        return [], True, False
    latest = _latest(runs)
    failed = any(r.state.is_failed for r in latest.values())
    running = sum(1 for r in latest.values() if not r.state.is_terminated)
    if failed:
        return [], running == 0, True
    missing = [t for t in tasks if t["id"] not in latest]
    if not missing:
        return [], running == 0, False
    room = len(missing) if concurrency <= 0 else max(concurrency - running, 0)
    return [NextTaskRun(t, value) for t in missing[:room]], False, False


def _with_handlers(
    main: tuple[list[NextTaskRun], bool, bool],
    children: Sequence[TaskRunView],
    errors: Sequence[Mapping[str, Any]] | None,
    finally_: Sequence[Mapping[str, Any]] | None,
    value: Any,
) -> list[NextTaskRun]:
    nexts, done, failed = main
    if not done:
        return nexts
    if failed and _enabled(errors):
        err_next, err_done, _ = _sequential_block(errors or (), _runs_for(children, errors, value), value)
        if not err_done:
            return err_next
    fin_next, _, _ = _sequential_block(finally_ or (), _runs_for(children, finally_, value), value)
    return fin_next


def resolve_sequential(
    ctx: FlowableContext,
    tasks: Sequence[Mapping[str, Any]],
    errors: Sequence[Mapping[str, Any]] | None = None,
    finally_: Sequence[Mapping[str, Any]] | None = None,
    *,
    value: Any = INHERIT,
) -> list[NextTaskRun]:
    """Kestra's sequential semantics: one task after the other; on a failure stop, run
    `errors` in order, then `finally` in order (also after success)."""
    children = ctx.children()
    main = _sequential_block(tasks, _runs_for(children, tasks, value), value)
    return _with_handlers(main, children, errors, finally_, value)


def resolve_parallel(
    ctx: FlowableContext,
    tasks: Sequence[Mapping[str, Any]],
    errors: Sequence[Mapping[str, Any]] | None = None,
    finally_: Sequence[Mapping[str, Any]] | None = None,
    *,
    concurrency: int = 0,
    value: Any = INHERIT,
) -> list[NextTaskRun]:
    """All tasks at once (at most `concurrency` running, 0 = no limit); after a failure no new
    task starts, the running ones finish, then `errors` and `finally` run in order."""
    children = ctx.children()
    main = _parallel_block(tasks, _runs_for(children, tasks, value), value, concurrency)
    return _with_handlers(main, children, errors, finally_, value)


def block_state(
    ctx: FlowableContext,
    tasks: Sequence[Mapping[str, Any]],
    errors: Sequence[Mapping[str, Any]] | None = None,
    finally_: Sequence[Mapping[str, Any]] | None = None,
    *,
    value: Any = INHERIT,
    parallel: bool = False,
) -> State | None:
    """The state of a block once everything in it is done, else None.

    Kestra's rule: the worst state of the children (KILLED > FAILED > WARNING > SUCCESS);
    `errors` handle a failure but do not turn it into a success.
    """
    children = ctx.children()
    main_runs = _runs_for(children, tasks, value)
    main = (
        _parallel_block(tasks, main_runs, value, 0)
        if parallel
        else _sequential_block(tasks, main_runs, value)
    )
    if _with_handlers(main, children, errors, finally_, value):
        return None
    nexts, done, failed = main
    if nexts or not done:
        return None
    states = [r.state for r in _latest(main_runs).values()]
    if failed:
        err_runs = _runs_for(children, errors, value)
        if any(not r.state.is_terminated for r in err_runs):
            return None
        states += [r.state for r in _latest(err_runs).values()]
    fin_runs = _runs_for(children, finally_, value)
    if any(not r.state.is_terminated for r in fin_runs):
        return None
    states += [r.state for r in _latest(fin_runs).values()]
    return State.worst(states)
