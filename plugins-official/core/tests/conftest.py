"""Test doubles for the engine side of the SDK contracts, until `tercel_sdk.testing` exists.

`FlowSim` plays the engine for one flowable: it is the `FlowableContext` (its task run, its
children, rendering), creates exactly the child runs `resolve` returns, and finishes them one
at a time with the states a test chooses. `IncrementalFlowSim` is also an
`IncrementalFlowableContext` (children of one value, children changed since the last ask), as
the engine's context is; the `sim` fixture runs each test with both, since a flowable must
decide the same either way. `FakeRunContext` is a `RunContext` for runnable
tasks: it records logs and metrics. Both render `{{ dotted.name }}` expressions from a dict of
variables (typed when the whole string is one expression), enough for decision tests; real
templating is covered by the flow tests over `tercel_sdk.testing`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from tercel_sdk import (
    INHERIT,
    FlowableResult,
    FlowableTask,
    Property,
    RunnableTask,
    State,
    TaskRunView,
)

_EXPR = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")


def _lookup(path: str, variables: Mapping[str, Any]) -> Any:
    value: Any = variables
    for part in path.split("."):
        value = value[part]
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def render_value(value: Any, variables: Mapping[str, Any]) -> Any:
    """Render `{{ a.b }}` expressions anywhere in a value; a lone expression keeps its type."""
    if isinstance(value, str):
        whole = _EXPR.fullmatch(value.strip())
        if whole:
            return _lookup(whole.group(1), variables)
        return _EXPR.sub(lambda m: _text(_lookup(m.group(1), variables)), value)
    if isinstance(value, dict):
        return {k: render_value(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, variables) for v in value]
    return value


def _render(value: Any, variables: Mapping[str, Any]) -> Any:
    if isinstance(value, Property):
        return value.coerce(render_value(value.raw, variables))
    return render_value(value, variables)


Outcome = Callable[[TaskRunView], State] | Mapping[Any, State] | None


class FlowSim:
    """The engine's side of one flowable task run (a `FlowableContext`)."""


    @property
    def now(self) -> datetime:
        """A fixed engine time: decisions must not read the clock."""
        from datetime import datetime

        return datetime(2026, 1, 1, tzinfo=UTC)
    def __init__(
        self, task: FlowableTask, *, value: Any = None, variables: Mapping[str, Any] | None = None
    ) -> None:
        self.task = task
        self.variables = dict(variables or {})
        self.task_run = TaskRunView(
            id="parent",
            task_id=task.id,
            parent_task_run_id=None,
            value=value,
            iteration=None,
            state=State.RUNNING,
            outputs={},
        )
        self.runs: list[TaskRunView] = []
        self.created: list[tuple[str, Any, int | None]] = []
        self.max_running = 0
        self.resolve_calls = 0

    # -- FlowableContext
    def children(self) -> list[TaskRunView]:
        return list(self.runs)

    def render(self, value: Any) -> Any:
        return _render(value, self.variables)

    # -- engine
    def step(self) -> FlowableResult:
        """Call `resolve` once and create the child runs it returns (never twice the same)."""
        self.resolve_calls += 1
        result = self.task.resolve(self)
        assert isinstance(result, FlowableResult)
        assert not (result.next and result.state is not None), "next is only allowed while running"
        if result.outputs:
            self.task_run = replace(self.task_run, outputs={**self.task_run.outputs, **result.outputs})
        existing = {(r.task_id, _hashable(r.value)) for r in self.runs}
        for nxt in result.next:
            value = self.task_run.value if nxt.value is INHERIT else nxt.value
            key = (nxt.task["id"], _hashable(value))
            assert key not in existing, f"resolve returned an existing task run again: {key}"
            existing.add(key)
            self.runs.append(
                TaskRunView(
                    id=f"run-{len(self.runs)}",
                    task_id=nxt.task["id"],
                    parent_task_run_id=self.task_run.id,
                    value=value,
                    iteration=nxt.iteration,
                    state=State.RUNNING,
                )
            )
            self.created.append((nxt.task["id"], value, nxt.iteration))
            self._changed(self.runs[-1])
        self.max_running = max(self.max_running, len(self.running()))
        return result

    def running(self) -> list[TaskRunView]:
        return [r for r in self.runs if not r.state.is_terminated]

    def finish(self, run: TaskRunView, state: State) -> None:
        self.runs = [replace(r, state=state) if r.id == run.id else r for r in self.runs]
        self._changed(next(r for r in self.runs if r.id == run.id))

    def _changed(self, run: TaskRunView) -> None:
        """A child was created or changed state (what an incremental context reports)."""

    def run(self, outcome: Outcome = None, *, max_steps: int = 10_000) -> FlowableResult:
        """Drive to the end: resolve, finish the oldest running child, again; the final result."""
        for _ in range(max_steps):
            result = self.step()
            if result.state is not None:
                return result
            running = self.running()
            assert running, "stuck: nothing runs and resolve gave no final state"
            self.finish(running[0], _outcome(outcome, running[0]))
        raise AssertionError("too many steps")

    def ids(self) -> list[str]:
        return [task_id for task_id, _, _ in self.created]


class IncrementalFlowSim(FlowSim):
    """A `FlowSim` that is an `IncrementalFlowableContext` too, like the engine's context."""

    def __init__(self, task: FlowableTask, **kwargs: Any) -> None:
        super().__init__(task, **kwargs)
        self._changes: list[TaskRunView] | None = None  # None: not asked yet

    def children_with_value(self, value: Any) -> list[TaskRunView]:
        return [r for r in self.runs if r.value == value]

    def changed_children(self) -> list[TaskRunView] | None:
        changes, self._changes = self._changes, []
        return changes

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
        if key in outcome:
            return outcome[key]
    return State.SUCCESS


class _Logger:
    def __init__(self, records: list[tuple[str, str]]) -> None:
        self.records = records

    def _log(self, level: str, message: str, *args: Any) -> None:
        self.records.append((level, message % args if args else message))

    def trace(self, message: str, *args: Any) -> None:
        self._log("TRACE", message, *args)

    def debug(self, message: str, *args: Any) -> None:
        self._log("DEBUG", message, *args)

    def info(self, message: str, *args: Any) -> None:
        self._log("INFO", message, *args)

    def warning(self, message: str, *args: Any) -> None:
        self._log("WARN", message, *args)

    warn = warning

    def error(self, message: str, *args: Any) -> None:
        self._log("ERROR", message, *args)


class FakeRunContext:
    """A `RunContext` for runnable-task tests: renders, records logs and metrics, can be cancelled."""

    execution_id = "execution"
    namespace = "company.team"
    flow_id = "flow"
    task_id = "task"
    task_run_id = "task-run"
    attempt = 1

    def __init__(self, variables: Mapping[str, Any] | None = None) -> None:
        self._variables = dict(variables or {})
        self.logs: list[tuple[str, str]] = []
        self.metrics: list[tuple[str, float, str]] = []
        self.cancelled = False
        self.logger = _Logger(self.logs)

    @property
    def variables(self) -> Mapping[str, Any]:
        return self._variables

    def render(self, value: Any) -> Any:
        return _render(value, self._variables)

    def render_string(self, template: str) -> str:
        return _text(render_value(template, self._variables))

    def metric(
        self, name: str, value: float, *, type: str = "counter", tags: Mapping[str, str] | None = None
    ) -> None:
        self.metrics.append((name, value, type))

    def is_cancelled(self) -> bool:
        return self.cancelled


@pytest.fixture(params=[FlowSim, IncrementalFlowSim], ids=["plain", "incremental"])
def sim(request: pytest.FixtureRequest) -> Callable[..., FlowSim]:
    """Build a `FlowSim` from a task given as a flow dict (each test runs with both kinds)."""

    def make(task: dict[str, Any], **kwargs: Any) -> FlowSim:
        return request.param(load_task(task), **kwargs)

    return make


@pytest.fixture
def sim_kinds() -> tuple[type[FlowSim], type[IncrementalFlowSim]]:
    """Both kinds of `FlowSim`, for tests that compare them."""
    return FlowSim, IncrementalFlowSim


@pytest.fixture
def run_ctx() -> Callable[..., FakeRunContext]:
    return FakeRunContext


def load_task(spec: dict[str, Any]) -> Any:
    """Instantiate a task from its flow dict, by tercel or Kestra type name."""
    from tercel_plugin_core.plugin import tercel_task_types

    by_name = {name: cls for cls in tercel_task_types() for name in cls.all_names()}
    cls = by_name[spec["type"]]
    assert issubclass(cls, FlowableTask | RunnableTask)
    return cls.model_validate(spec)


@pytest.fixture
def task() -> Callable[[dict[str, Any]], Any]:
    return load_task
