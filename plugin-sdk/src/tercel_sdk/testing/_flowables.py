"""The engine's side of one flowable task run (`FlowableSim`, `IncrementalFlowableSim`), to
test a flowable's `resolve` decisions child by child, without an engine.

Only the expression language comes from the core (rendering is the real one); children are
created and ended by the test, so every decision can be checked in isolation.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from .._flowable import INHERIT, FlowableResult, TaskRunView
from .._property import Property
from .._states import State
from .._task import FlowableTask

__all__ = ["FlowableSim", "IncrementalFlowableSim", "Outcome"]


_ENGINE: Any = None


def _expressions() -> Any:
    global _ENGINE
    if _ENGINE is None:
        from tercel.expressions import ExpressionEngine

        _ENGINE = ExpressionEngine()
    return _ENGINE


def _stored_value(value: Any) -> Any:
    """How the engine keeps a child's loop value: text as it is, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, default=str, separators=(",", ":"), ensure_ascii=False)


Outcome = Callable[[TaskRunView], State] | Mapping[Any, State] | None
"""How `FlowableSim.run` ends each child: a function of the child, a mapping by
`(task_id, value)` or `task_id` (default SUCCESS), or None (all SUCCESS)."""


class FlowableSim:
    """The engine's side of one flowable task run, to test `resolve` decisions in isolation.

    It is the `FlowableContext` the task decides with (its task run, its children, rendering
    with the real expression language over `variables`, a fixed `now`); `step()` resolves
    once and creates exactly the child runs returned (the same one twice is an error), and
    the test ends children in the states it chooses (`finish`), or lets `run()` drive to the
    end. `IncrementalFlowableSim` is also an `IncrementalFlowableContext`, as the engine's is:
    a flowable must decide the same with both.

        sim = FlowableSim(MyLoop.model_validate({"id": "loop", "type": "x.MyLoop", ...}))
        assert sim.run({"check": State.FAILED}).state is State.FAILED
        assert sim.ids() == ["check", "on_error"]
    """

    def __init__(
        self,
        task: FlowableTask,
        *,
        value: Any = None,
        variables: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> None:
        self.task = task
        self.variables = dict(variables or {})
        self._now = now or datetime(2026, 1, 1, tzinfo=UTC)
        self.task_run = TaskRunView(
            id="parent", task_id=task.id, parent_task_run_id=None, value=value, iteration=None,
            state=State.RUNNING, outputs={},
        )
        self.runs: list[TaskRunView] = []
        """Every child created, in creation order, with its current state."""
        self.created: list[tuple[str, Any, int | None]] = []
        """(task id, value, iteration) of each child, in creation order."""
        self.max_running = 0
        """The most children running at once so far."""
        self.resolve_calls = 0

    # -- FlowableContext
    @property
    def now(self) -> datetime:
        """A fixed engine time: decisions must not read the clock."""
        return self._now

    def children(self) -> list[TaskRunView]:
        return list(self.runs)

    def render(self, value: Any, variables: Mapping[str, Any] | None = None) -> Any:
        context = {**self.variables, **dict(variables or {})}
        if isinstance(value, Property):
            return value.coerce(_expressions().render_value(value.raw, context))
        return _expressions().render_value(value, context)

    # -- the engine
    def step(self) -> FlowableResult:
        """Resolve once and create the child runs it returns."""
        self.resolve_calls += 1
        result = self.task.resolve(self)
        if not isinstance(result, FlowableResult):
            raise AssertionError(f"{type(self.task).__name__}.resolve returned {result!r}, not a FlowableResult")
        if result.next and result.state is not None:
            raise AssertionError(f"resolve returned children to create and a final state ({result.state}) at once")
        if result.outputs:
            self.task_run = replace(self.task_run, outputs={**self.task_run.outputs, **result.outputs})
        existing = {(r.task_id, _hashable(r.value)) for r in self.runs}
        for nxt in result.next:
            value = self.task_run.value if nxt.value is INHERIT else _stored_value(nxt.value)
            key = (nxt.task["id"], _hashable(value))
            if key in existing:
                raise AssertionError(f"resolve created task run {key[0]!r} (value {value!r}) a second time")
            existing.add(key)
            run = TaskRunView(
                id=f"run-{len(self.runs)}", task_id=nxt.task["id"], parent_task_run_id=self.task_run.id,
                value=value, iteration=nxt.iteration, state=State.RUNNING, state_since=self._now,
            )
            self.runs.append(run)
            self.created.append((run.task_id, value, nxt.iteration))
            self._changed(run)
        self.max_running = max(self.max_running, len(self.running()))
        return result

    def running(self) -> list[TaskRunView]:
        return [r for r in self.runs if not r.state.is_terminated]

    def finish(
        self,
        run: TaskRunView | str,
        state: State = State.SUCCESS,
        value: Any = INHERIT,
        *,
        outputs: Mapping[str, Any] | None = None,
    ) -> TaskRunView:
        """End a running child: the one given, or the running child of that task id (and
        `value`, for a loop); `outputs` replace its outputs."""
        if isinstance(run, str):
            matching = [r for r in self.running() if r.task_id == run and (value is INHERIT or r.value == value)]
            if len(matching) != 1:
                raise AssertionError(f"{len(matching)} running task runs of {run!r}" + ("" if value is INHERIT else f" with value {value!r}"))
            run = matching[0]
        ended = replace(run, state=state, outputs=dict(outputs or run.outputs))
        self.runs = [ended if r.id == run.id else r for r in self.runs]
        self._changed(ended)
        return ended

    def run(self, outcome: Outcome = None, *, max_steps: int = 10_000) -> FlowableResult:
        """Resolve, end the oldest running child as `outcome` says, again, until the flowable
        gives its final state; that last result."""
        for _ in range(max_steps):
            result = self.step()
            if result.state is not None:
                return result
            running = self.running()
            if not running:
                raise AssertionError(f"stuck: nothing runs and resolve gave no final state (created: {self.ids()})")
            self.finish(running[0], _outcome(outcome, running[0]))
        raise AssertionError(f"no final state after {max_steps} steps")

    def ids(self) -> list[str]:
        """Task ids of the children, in creation order."""
        return [task_id for task_id, _, _ in self.created]

    def pairs(self) -> list[tuple[str, Any]]:
        """(task id, value) of the children, in creation order."""
        return [(task_id, value) for task_id, value, _ in self.created]

    def next_ids(self) -> list[str]:
        """Resolve once; the ids of the children it created."""
        return [n.task["id"] for n in self.step().next]

    def _changed(self, run: TaskRunView) -> None:
        """A child was created or ended (what an incremental context reports)."""


class IncrementalFlowableSim(FlowableSim):
    """A `FlowableSim` that is also an `IncrementalFlowableContext`, like the engine's."""

    def __init__(self, task: FlowableTask, **kwargs: Any) -> None:
        super().__init__(task, **kwargs)
        self._changes: list[TaskRunView] | None = None  # None: not asked yet

    def children_with_value(self, value: Any) -> list[TaskRunView]:
        return [r for r in self.runs if r.value == value]

    def changed_children(self) -> list[TaskRunView] | None:
        changes, self._changes = self._changes, []
        return changes

    def forget(self) -> None:
        """Forget what was reported, as after the execution was loaded again elsewhere: the
        next `changed_children()` is None."""
        self._changes = None

    def _changed(self, run: TaskRunView) -> None:
        if self._changes is not None:
            self._changes.append(run)


def _hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, dict | list) else value


def _outcome(outcome: Outcome, run: TaskRunView) -> State:
    if outcome is None:
        return State.SUCCESS
    if callable(outcome):
        return outcome(run)
    for key in ((run.task_id, run.value), run.task_id):
        with contextlib.suppress(TypeError):
            if key in outcome:
                return outcome[key]
    return State.SUCCESS
