"""The executor's decisions: a pure state machine over an execution.

Given an execution and an event (start, a task started, a task result, a retry due, kill) and
the current time, `Executor` updates the execution and returns a `Step`: the task runs it changed
and the effects for the caller to carry out (dispatch a task run to a worker, wake up later for a
retry, cancel a running task, log, announce the end). It does no I/O and reads no clock; ids and
rendering come in through `Ports`, so it is tested without a database or a worker.

Flowable tasks decide what their children are (`FlowableTask.resolve`); the executor only
creates what they ask for and settles states upwards until nothing moves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from tercel_sdk import (
    INHERIT,
    FlowableResult,
    NextTaskRun,
    Property,
    State,
    SubflowRequest,
    TaskRunView,
    is_truthy,
    parse_duration,
)
from tercel_sdk._flowable import block_state, resolve_sequential

from tercel.flows import Flow, TaskNode

from ._model import Attempt, Execution, RunState, TaskRun
from ._variables import stringify_value

__all__ = [
    "Cancel",
    "Delay",
    "Dispatch",
    "Executor",
    "Finished",
    "FlowableTimer",
    "KillSubflows",
    "LogEffect",
    "Ports",
    "StartSubflows",
    "Step",
    "TaskResult",
]

ROOT = "\0root"


@dataclass(frozen=True)
class Dispatch:
    """Send this task run's attempt to a worker."""

    task_run_id: str
    attempt: int


@dataclass(frozen=True)
class Delay:
    """Call `retry_due(task_run_id)` after `seconds`."""

    seconds: float
    task_run_id: str


@dataclass(frozen=True)
class SlaTimer:
    """Call `sla_due(sla_id)` after `seconds` (a MAX_DURATION SLA)."""

    seconds: float
    sla_id: str


@dataclass(frozen=True)
class FlowableTimer:
    """Call `wake(task_run_id)` after `seconds` (a flowable asked to be resolved again)."""

    seconds: float
    task_run_id: str


@dataclass(frozen=True)
class StartSubflows:
    """Create and start executions of other flows for a flowable, all or none.

    The caller reports back with `subflows_started(task_run_id, started, error)`, and later,
    for each one that `wait`s, with `subflow_ended(task_run_id, result)` when it ends.
    """

    task_run_id: str
    children: tuple[tuple[str, SubflowRequest], ...]


@dataclass(frozen=True)
class KillSubflows:
    """Kill the running executions this execution started (Subflow, ForEachItem)."""


@dataclass(frozen=True)
class Cancel:
    """Kill the running attempt of this task run."""

    task_run_id: str


@dataclass(frozen=True)
class LogEffect:
    task_run_id: str | None
    task_id: str | None
    level: str
    message: str


@dataclass(frozen=True)
class Finished:
    state: State


@dataclass(frozen=True)
class TaskResult:
    """What a worker reports for one attempt."""

    task_run_id: str
    attempt: int
    state: State
    started_at: datetime
    ended_at: datetime
    outputs: dict[str, Any] | None = None
    error: str | None = None
    metrics: list[dict[str, Any]] = field(default_factory=list)
    log_file: str | None = None
    updates: dict[str, Any] | None = None
    """Changes the task asked for (labels, setVariables, unsetVariables, exit); applied on success."""


KILL_STATE_KEY = "__killState"


@dataclass
class Step:
    """What one decision changed and what the caller must now do."""

    changed: dict[str, TaskRun] = field(default_factory=dict)
    effects: list[Any] = field(default_factory=list)
    header_changed: bool = False
    removed: list[str] = field(default_factory=list)
    """Task runs dropped from the execution (a restart drops the `errors` runs)."""

    @property
    def finished(self) -> bool:
        return any(isinstance(e, Finished) for e in self.effects)


class Ports(Protocol):
    """What the executor needs from the outside, all deterministic."""

    def task_class(self, node: TaskNode) -> type: ...
    def render(
        self, execution: Execution, task_run: TaskRun | None, value: Any, variables: Mapping[str, Any] | None = None
    ) -> Any: ...
    def new_id(self) -> str: ...


_ACTIVE = (State.RUNNING, State.PAUSED)
"""Execution states in which task runs move on (a PAUSED execution still finishes what runs)."""


class ExecutorError(Exception):
    """An event that does not fit the execution (unknown task run...)."""


class _Ctx:
    """The (Incremental)FlowableContext the executor hands to a flowable task."""

    __slots__ = ("_ex", "_executor", "_now", "_tr")

    def __init__(self, executor: Executor, execution: Execution, tr: TaskRun | None, now: datetime | None = None) -> None:
        self._executor = executor
        self._ex = execution
        self._tr = tr
        self._now = now

    @property
    def now(self) -> datetime:
        assert self._now is not None
        return self._now

    @property
    def task_run(self) -> TaskRunView:
        assert self._tr is not None
        return self._tr.view()

    def children(self) -> list[TaskRunView]:
        return [c.view() for c in self._ex.children(self._tr.id if self._tr else None)]

    def children_with_value(self, value: Any) -> list[TaskRunView]:
        return [c.view() for c in self._ex.children_with_value(self._tr.id if self._tr else None, value)]

    def changed_children(self) -> list[TaskRunView] | None:
        changes = self._ex.take_changes(self._tr.id) if self._tr else None
        return None if changes is None else [c.view() for c in changes]

    def render(self, value: Any, variables: Mapping[str, Any] | None = None) -> Any:
        render = self._executor.ports.render
        if isinstance(value, Property):
            return value.coerce(render(self._ex, self._tr, value.raw, variables) if variables else render(self._ex, self._tr, value.raw))
        return render(self._ex, self._tr, value, variables) if variables else render(self._ex, self._tr, value)


class Executor:
    """Decides how an execution of one flow moves on."""

    def __init__(self, flow: Flow, ports: Ports, *, error_message: Callable[[BaseException], str] | None = None) -> None:
        self.flow = flow
        self.ports = ports
        self._instances: dict[str, Any] = {}
        self._retry_policies: dict[str, Any] = {}
        self._error_message = error_message or (lambda exc: f"{type(exc).__name__}: {exc}")

    # -- events ---------------------------------------------------------------------------
    def start(self, ex: Execution, now: datetime, running: int = 0) -> Step:
        """Start (or leave queued) an execution; `running` counts the flow's other running ones.

        The flow's `concurrency` decides what happens at its `limit`: QUEUE (wait in QUEUED until a
        slot frees), CANCEL (end CANCELLED at once) or FAIL (end FAILED at once).
        """
        step = Step()
        if ex.state.current not in (State.CREATED, State.QUEUED):
            return step
        concurrency = self.flow.spec.get("concurrency") or {}
        limit = concurrency.get("limit")
        if isinstance(limit, int) and running >= limit:
            behavior = str(concurrency.get("behavior", "QUEUE")).upper()
            step.header_changed = True
            if behavior == "QUEUE":
                if ex.state.current is not State.QUEUED:
                    ex.state.to(State.QUEUED, now)
                    step.effects.append(LogEffect(None, None, "INFO", f"queued: {running} execution(s) of this flow already run (concurrency limit {limit})"))
                return step
            final = State.CANCELLED if behavior == "CANCEL" else State.FAILED
            ex.error = f"concurrency limit of {limit} running execution(s) reached (behavior {behavior})"
            ex.state.to(final, now)
            step.effects.append(LogEffect(None, None, "WARN" if final is State.CANCELLED else "ERROR", ex.error))
            step.effects.append(Finished(final))
            return step
        ex.state.to(State.RUNNING, now)
        step.header_changed = True
        for sla in self._slas("MAX_DURATION"):
            step.effects.append(SlaTimer(parse_duration(sla["duration"]).total_seconds(), str(sla["id"])))
        self._settle(ex, now, step, {ROOT})
        return step

    def sla_due(self, ex: Execution, sla_id: str, now: datetime) -> Step:
        """A MAX_DURATION SLA's time is up: if the execution still runs, the SLA is missed."""
        step = Step()
        if ex.state.current not in _ACTIVE:
            return step
        sla = next((s for s in self._slas("MAX_DURATION") if str(s["id"]) == sla_id), None)
        if sla is None:
            return step
        behavior = self._sla_violated(ex, sla, f"the execution ran longer than {sla['duration']}", step)
        if behavior in ("FAIL", "CANCEL"):
            ex.variables[KILL_STATE_KEY] = State.FAILED.value if behavior == "FAIL" else State.CANCELLED.value
            kill = self.kill(ex, now)
            step.changed.update(kill.changed)
            step.effects.extend(kill.effects)
        return step

    def _slas(self, kind: str) -> list[dict[str, Any]]:
        return [s for s in self.flow.spec.get("sla") or () if isinstance(s, dict) and s.get("type") == kind]

    def _sla_violated(self, ex: Execution, sla: dict[str, Any], why: str, step: Step) -> str:
        """Labels and a log for a missed SLA; returns its behavior (FAIL, CANCEL or NONE)."""
        behavior = str(sla.get("behavior", "FAIL")).upper()
        if sla.get("labels"):
            ex.labels.update({str(k): str(v) for k, v in sla["labels"].items()})
        step.header_changed = True
        step.effects.append(LogEffect(None, None, "WARN" if behavior == "NONE" else "ERROR", f"SLA '{sla['id']}' missed: {why} (behavior {behavior})"))
        return behavior

    def task_started(self, ex: Execution, task_run_id: str, attempt: int, at: datetime) -> Step:
        step = Step()
        tr = ex.find(task_run_id)
        if tr is None or tr.state.current.is_terminated:
            return step
        self._open_attempt(tr, attempt, at)
        if tr.state.current is not State.KILLING:
            tr.state.to(State.RUNNING, at)
        step.changed[tr.id] = tr
        return step

    def task_finished(self, ex: Execution, result: TaskResult, now: datetime) -> Step:
        step = Step()
        tr = ex.find(result.task_run_id)
        if tr is None or tr.state.current.is_terminated or result.attempt < len(tr.attempts):
            return step  # a duplicate delivery: already handled
        attempt = self._open_attempt(tr, result.attempt, result.started_at)
        if tr.state.current in (State.CREATED, State.RETRYING, State.RESTARTED):
            tr.state.to(State.RUNNING, result.started_at)
        attempt.state.to(result.state, result.ended_at)
        attempt.metrics = list(result.metrics)
        attempt.log_file = result.log_file
        step.changed[tr.id] = tr
        node = self.flow.tasks[tr.task_id]
        if node.flowable:
            return self._work_finished(ex, tr, result, now, step)
        if result.outputs:
            tr.outputs = dict(result.outputs)
            ex.outputs_changed(tr)
        tr.error = result.error
        if result.state is State.FAILED and ex.state.current in _ACTIVE:
            delay = self._retry_delay(node, tr, result.ended_at)
            if delay is not None:
                tr.state.to(State.RETRYING, result.ended_at)
                step.effects.append(
                    LogEffect(tr.id, tr.task_id, "WARN", f"attempt {len(tr.attempts)} failed; retrying in {delay:g}s")
                )
                step.effects.append(Delay(delay, tr.id))
                return step
        final = result.state
        spec = node.spec
        retry = spec.get("retry") or {}
        if final is State.SUCCESS and len(tr.attempts) > 1 and retry.get("warningOnRetry"):
            final = State.WARNING
        updates = result.updates if result.updates and final.is_success_like and ex.state.current in _ACTIVE else None
        exit_state = State(updates["exit"]) if updates and updates.get("exit") else None
        if exit_state is not None:  # Kestra: the Exit task run ends in the exit state itself
            self._finish(ex, tr, exit_state, result.ended_at, apply_rules=False)
        else:
            self._finish(ex, tr, final, result.ended_at)
        if updates:
            self._apply_updates(ex, tr, updates, now, step)
        self._settle(ex, now, step, {self._parent_key(tr)})
        return step

    def _apply_updates(self, ex: Execution, tr: TaskRun, updates: dict[str, Any], now: datetime, step: Step) -> None:
        """A task changed the execution itself (Labels, SetVariables, UnsetVariables, Exit).

        Exit is Kestra's: KILLED kills what runs (not the subflows); any other state ends the
        Exit task run's parents and the execution in that state at once, and what still runs in
        other branches is left to finish on its own (nothing new starts)."""
        step.header_changed = True
        if updates.get("labels"):
            ex.labels.update({str(k): str(v) for k, v in updates["labels"].items()})
        for name, value in (updates.get("setVariables") or {}).items():
            ex.variables[str(name)] = value
        for name in updates.get("unsetVariables") or ():
            ex.variables.pop(str(name), None)
        if not updates.get("exit"):
            return
        exit_state = State(updates["exit"])
        step.effects.append(LogEffect(tr.id, tr.task_id, "INFO", f"task '{tr.task_id}' ends the execution: {exit_state.value}"))
        if exit_state is State.KILLED:
            kill = self.kill(ex, now, propagate=False)
            step.changed.update(kill.changed)
            step.effects.extend(kill.effects)
            return
        for parent in ex.parents(tr):
            if not parent.state.current.is_terminated:
                self._finish(ex, parent, exit_state, now, apply_rules=False)
                step.changed[parent.id] = parent
        ex.state.to(exit_state, now)
        step.effects.append(Finished(exit_state))

    def _work_finished(self, ex: Execution, tr: TaskRun, result: TaskResult, now: datetime, step: Step) -> Step:
        """A flowable's `work` phase ended on a worker: keep its outputs, resolve it again."""
        phase = tr.work_pending
        tr.work_pending = None
        if phase is not None:
            tr.phases_done.append(phase)
        if result.outputs:
            tr.outputs = {**(tr.outputs or {}), **result.outputs}
            ex.outputs_changed(tr)
        if result.state in (State.FAILED, State.KILLED) and tr.state.current is State.RUNNING and ex.state.current in _ACTIVE:
            tr.error = result.error or f"work phase {phase!r} ended {result.state.value}"
            self._finish(ex, tr, State.FAILED if result.state is State.FAILED else State.KILLED, result.ended_at)
            self._settle(ex, now, step, {self._parent_key(tr)})
            return step
        self._settle(ex, now, step, {tr.id})
        return step

    def subflow_ended(self, ex: Execution, task_run_id: str, result: dict[str, Any], now: datetime) -> Step:
        """An execution a flowable started ended: fold it into the flowable's outputs (the
        flowable's own `subflow_ended`), then let it decide again."""
        step = Step()
        tr = ex.find(task_run_id)
        if tr is None or tr.state.current.is_terminated:
            return step
        node = self.flow.tasks[tr.task_id]
        try:
            tr.outputs = dict(self._instance(node).subflow_ended(dict(tr.outputs or {}), result))
        except Exception as exc:
            self._fail(ex, tr, f"task '{tr.task_id}': {self._error_message(exc)}", now, step)
            self._settle(ex, now, step, {self._parent_key(tr)})
            return step
        ex.outputs_changed(tr)
        step.changed[tr.id] = tr
        child_state = result.get("state")
        level = "INFO" if child_state in ("SUCCESS", "WARNING", None) else "WARN"
        step.effects.append(LogEffect(tr.id, tr.task_id, level, f"subflow execution {result.get('executionId')} ended {child_state}"))
        self._settle(ex, now, step, {tr.id})
        return step

    def resume(self, ex: Execution, now: datetime, inputs: dict[str, Any] | None = None, by: str | None = None) -> Step:
        """Resume a PAUSED execution: every paused task run goes on with `inputs` as its
        `onResume` outputs (already checked against its declarations by the caller)."""
        step = Step()
        if ex.state.current is not State.PAUSED:
            return step
        dirty: set[str] = set()
        for tr in ex.task_runs:
            if tr.state.current is State.PAUSED:
                tr.outputs = {**(tr.outputs or {}), "onResume": dict(inputs or {}), "resumed": {"by": by, "on": now}}
                ex.outputs_changed(tr)
                tr.state.to(State.RUNNING, now)
                step.changed[tr.id] = tr
                step.effects.append(LogEffect(tr.id, tr.task_id, "INFO", f"task '{tr.task_id}' resumed" + (f" by {by}" if by else "")))
                dirty.add(tr.id)
        ex.state.to(State.RUNNING, now)
        step.header_changed = True
        self._settle(ex, now, step, dirty | {ROOT})
        return step

    def wake(self, ex: Execution, task_run_id: str, now: datetime) -> Step:
        """A flowable's timer fired: let it decide again."""
        step = Step()
        tr = ex.find(task_run_id)
        if tr is not None and tr.state.current in _ACTIVE:
            self._settle(ex, now, step, {tr.id})
        return step

    def retry_due(self, ex: Execution, task_run_id: str, now: datetime) -> Step:
        step = Step()
        tr = ex.find(task_run_id)
        if tr is None or tr.state.current is not State.RETRYING:
            return step
        if ex.state.current not in _ACTIVE:
            self._finish(ex, tr, State.KILLED, now)
            step.changed[tr.id] = tr
            self._settle(ex, now, step, {self._parent_key(tr)})
            return step
        step.effects.append(Dispatch(tr.id, len(tr.attempts) + 1))
        return step

    def kill(self, ex: Execution, now: datetime, *, propagate: bool = True) -> Step:
        """Stop everything: runnables are told to stop, flowables end once their children did;
        with `propagate`, the executions this one started (subflows, even ended ones that did
        not wait) are killed too."""
        step = Step()
        if ex.state.current.is_terminated or ex.state.current is State.KILLING:
            return step
        ex.state.to(State.KILLING, now)
        step.header_changed = True
        dirty: set[str] = {ROOT}
        subflows = propagate and any("subflows" in tr.phases_done for tr in ex.task_runs)
        for tr in ex.task_runs:
            if tr.state.current.is_terminated:
                continue
            node = self.flow.tasks.get(tr.task_id)
            if node is not None and node.flowable:
                dirty.add(tr.id)
                if tr.work_pending is not None:
                    step.effects.append(Cancel(tr.id))
                continue
            if tr.state.current is State.RETRYING:  # waiting for its next attempt: nothing runs
                self._finish(ex, tr, State.KILLED, now, apply_rules=False)
            else:  # dispatched: a worker may hold it already, so it is told to stop
                tr.state.to(State.KILLING, now)
                step.effects.append(Cancel(tr.id))
            step.changed[tr.id] = tr
            dirty.add(self._parent_key(tr))
        if subflows:
            step.effects.append(KillSubflows())
        self._settle(ex, now, step, dirty)
        return step

    def restart(self, ex: Execution, now: datetime) -> Step:
        """Run the failed parts of an ended execution again (Kestra's restart, same execution)."""
        from ._restart import prepare_restart

        step = Step()
        step.removed = prepare_restart(self.flow, ex, now, self._instance).removed
        step.changed.update({tr.id: tr for tr in ex.task_runs})
        step.effects.append(LogEffect(None, None, "INFO", f"execution {ex.id} restarted"))
        started = self.start_restarted(ex, now)
        step.changed.update(started.changed)
        step.effects.extend(started.effects)
        step.header_changed = True
        return step

    def start_restarted(self, ex: Execution, now: datetime) -> Step:
        """Start an execution prepared by a restart or a replay: RESTARTED runnables get a new
        attempt, flowables decide again."""
        step = Step()
        if ex.state.current is not State.RESTARTED:
            return step
        ex.state.to(State.RUNNING, now)
        step.header_changed = True
        for sla in self._slas("MAX_DURATION"):
            step.effects.append(SlaTimer(parse_duration(sla["duration"]).total_seconds(), str(sla["id"])))
        for tr in ex.task_runs:
            if tr.state.current is State.RESTARTED and not self._is_flowable(tr.task_id):
                step.effects.append(Dispatch(tr.id, len(tr.attempts) + 1))
                step.changed[tr.id] = tr
        self.resume_all(ex, now, step)
        return step

    def resume_all(self, ex: Execution, now: datetime, step: Step | None = None) -> Step:
        """Re-settle an execution loaded after a restart (nothing is lost, nothing runs twice)."""
        step = step or Step()
        dirty = {ROOT} | {
            tr.id
            for tr in ex.task_runs
            if tr.state.current in _ACTIVE and self._is_flowable(tr.task_id)
        }
        self._settle(ex, now, step, dirty)
        return step

    # -- internals ------------------------------------------------------------------------
    def _is_flowable(self, task_id: str) -> bool:
        node = self.flow.tasks.get(task_id)
        return node is not None and node.flowable

    def _parent_key(self, tr: TaskRun) -> str:
        return tr.parent_task_run_id or ROOT

    def _open_attempt(self, tr: TaskRun, number: int, at: datetime) -> Attempt:
        while len(tr.attempts) < number:
            tr.attempts.append(Attempt(RunState.new(State.RUNNING, at)))
        return tr.attempts[number - 1]

    def _retry_delay(self, node: TaskNode, tr: TaskRun, now: datetime) -> float | None:
        """The task's own `retry`, else the flow's (`behavior: RETRY_FAILED_TASK`, the default)."""
        if node.spec.get("retry"):
            policy = self._task_retry(node)
        else:
            policy = self._flow_retry()
            if policy is not None and policy.behavior != "RETRY_FAILED_TASK":
                policy = None
        if policy is None:
            return None
        first = tr.attempts[0].state.start_date or now
        delay = policy.next_delay(len(tr.attempts), now - first)
        return None if delay is None else max(delay.total_seconds(), 0.0)

    def new_execution_delay(self, ex: Execution, first_start: datetime, now: datetime) -> float | None:
        """After a FAILED execution: seconds before a new one (flow `retry` with
        `behavior: CREATE_NEW_EXECUTION`), or None. Pure: the caller creates it."""
        policy = self._flow_retry()
        if policy is None or policy.behavior != "CREATE_NEW_EXECUTION" or ex.state.current is not State.FAILED:
            return None
        delay = policy.next_delay(ex.attempt_number, now - first_start)
        return None if delay is None else max(delay.total_seconds(), 0.0)

    def _flow_retry(self) -> Any:
        """The flow-level retry policy, parsed once (validation already checked it)."""
        if not hasattr(self, "_flow_retry_policy"):
            raw = self.flow.spec.get("retry")
            policy = None
            if raw:
                from pydantic import TypeAdapter
                from tercel_sdk import Retry

                policy = TypeAdapter(Retry).validate_python(raw)
            self._flow_retry_policy = policy
        return self._flow_retry_policy

    def _task_retry(self, node: TaskNode) -> Any:
        """A task's `retry` policy, parsed from its definition: the task's class may live in a
        plugin host (another version of its plugin), so it is not instantiated here."""
        policy = self._retry_policies.get(node.id)
        if policy is None:
            from pydantic import TypeAdapter
            from tercel_sdk import Retry

            policy = self._retry_policies[node.id] = TypeAdapter(Retry).validate_python(node.spec["retry"])
        return policy

    def _instance(self, node: TaskNode) -> Any:
        inst = self._instances.get(node.id)
        if inst is None:
            cls = self.ports.task_class(node)
            inst = cls.model_validate(node.spec)
            self._instances[node.id] = inst
        return inst

    def _finish(self, ex: Execution, tr: TaskRun, state: State, now: datetime, *, apply_rules: bool = True) -> None:
        if apply_rules:
            spec = self.flow.tasks[tr.task_id].spec
            if state is State.FAILED and spec.get("allowFailure"):
                state = State.WARNING
            elif state is State.WARNING and spec.get("allowWarning"):
                state = State.SUCCESS
        tr.state.to(state, now)
        if tr.attempts and not tr.attempts[-1].state.current.is_terminated:
            tr.attempts[-1].state.to(state, now)  # a flowable's own attempt (subflows) ends with it
        ex.task_run_ended(tr)

    def _fail(self, ex: Execution, tr: TaskRun, message: str, now: datetime, step: Step) -> None:
        tr.error = message
        step.effects.append(LogEffect(tr.id, tr.task_id, "ERROR", message))
        self._finish(ex, tr, State.FAILED, now)
        step.changed[tr.id] = tr

    def _create(self, ex: Execution, nxt: NextTaskRun, parent: TaskRun | None, now: datetime, step: Step, dirty: set[str]) -> None:
        task_id = nxt.task["id"]
        node = self.flow.tasks[task_id]
        if nxt.value is INHERIT:
            value = parent.value if parent is not None else None
        else:
            value = stringify_value(nxt.value)
        iteration = nxt.iteration if nxt.iteration is not None else (parent.iteration if parent is not None else None)
        tr = TaskRun(
            id=self.ports.new_id(),
            execution_id=ex.id,
            namespace=ex.namespace,
            flow_id=ex.flow_id,
            task_id=task_id,
            parent_task_run_id=parent.id if parent is not None else None,
            value=value,
            iteration=iteration,
            state=RunState.new(State.CREATED, now),
        )
        ex.add(tr)
        step.changed[tr.id] = tr
        parent_key = parent.id if parent is not None else ROOT
        run_if = node.spec.get("runIf")
        if run_if is not None:
            try:
                wanted = is_truthy(self.ports.render(ex, tr, run_if))
            except Exception as exc:
                self._fail(ex, tr, f"task '{task_id}' property 'runIf': {self._error_message(exc)}", now, step)
                dirty.add(parent_key)
                return
            if not wanted:
                self._finish(ex, tr, State.SKIPPED, now, apply_rules=False)
                step.effects.append(LogEffect(tr.id, task_id, "INFO", f"task '{task_id}' skipped: runIf is false"))
                dirty.add(parent_key)
                return
        if node.flowable:
            tr.state.to(State.RUNNING, now)
            dirty.add(tr.id)
        else:
            step.effects.append(Dispatch(tr.id, 1))

    def _settle(self, ex: Execution, now: datetime, step: Step, dirty: set[str]) -> None:
        """Let flowables and the flow itself react until nothing moves."""
        guard = 0
        while dirty:
            guard += 1
            if guard > 100_000:  # a flowable that never settles must not hang the executor
                raise ExecutorError("execution does not settle: a flowable task keeps creating task runs")
            key = dirty.pop()
            if key == ROOT:
                self._resolve_root(ex, now, step, dirty)
                continue
            tr = ex.find(key)
            if tr is None or tr.state.current not in _ACTIVE or not self._is_flowable(tr.task_id):
                continue
            self._resolve_flowable(ex, tr, now, step, dirty)

    def _resolve_flowable(self, ex: Execution, tr: TaskRun, now: datetime, step: Step, dirty: set[str]) -> None:
        parent_key = self._parent_key(tr)
        node = self.flow.tasks[tr.task_id]
        if ex.state.current.is_terminated:  # ended by an Exit: what still runs starts nothing new
            return
        stopping = State.KILLED if ex.state.current is State.KILLING else None
        if stopping is not None:  # nothing new starts: end once the children are done
            if tr.work_pending is None and all(c.state.current.is_terminated for c in ex.children(tr.id)):
                self._finish(ex, tr, stopping, now, apply_rules=False)
                step.changed[tr.id] = tr
                dirty.add(parent_key)
                self._unpause(ex, now, step)
            return
        if tr.work_pending is not None:  # a worker does this flowable's work: wait for it
            return
        try:
            task = self._instance(node)
            result = task.resolve(_Ctx(self, ex, tr, now))
            if not isinstance(result, FlowableResult):
                raise TypeError(f"{type(task).__name__}.resolve returned {type(result).__name__}, not FlowableResult")
        except Exception as exc:
            self._fail(ex, tr, f"task '{tr.task_id}': {self._error_message(exc)}", now, step)
            dirty.add(parent_key)
            return
        if result.outputs is not None and result.outputs != tr.outputs:
            tr.outputs = dict(result.outputs)
            ex.outputs_changed(tr)
            step.changed[tr.id] = tr
        if result.state is State.PAUSED:
            self._pause(ex, tr, result, now, step)
            return
        if tr.state.current is State.PAUSED:  # a pause ended by itself (its duration is over)
            tr.state.to(State.RUNNING, now)
            step.changed[tr.id] = tr
            self._unpause(ex, now, step)
        if result.work is not None:
            if result.work in tr.phases_done:
                self._fail(ex, tr, f"task '{tr.task_id}' asked twice for its work phase {result.work!r}", now, step)
                dirty.add(parent_key)
                return
            tr.work_pending = result.work
            step.changed[tr.id] = tr
            step.effects.append(Dispatch(tr.id, len(tr.attempts) + 1))
            return
        if result.subflows:
            self._start_subflows(ex, tr, node, result.subflows, now, step, dirty)
            return
        if result.next:
            for nxt in result.next:
                if nxt.task.get("id") not in self.flow.tasks:
                    self._fail(ex, tr, f"task '{tr.task_id}' asked to run unknown task {nxt.task.get('id')!r}", now, step)
                    dirty.add(parent_key)
                    return
                self._create(ex, nxt, tr, now, step, dirty)
            return
        if result.wake_after is not None and result.state is None:
            step.effects.append(FlowableTimer(max(result.wake_after.total_seconds(), 0.0), tr.id))
        if result.state is not None:
            if result.error:
                tr.error = result.error
                step.effects.append(LogEffect(tr.id, tr.task_id, "ERROR", f"task '{tr.task_id}': {result.error}"))
            self._finish(ex, tr, result.state, now)
            step.changed[tr.id] = tr
            dirty.add(parent_key)

    def _pause(self, ex: Execution, tr: TaskRun, result: FlowableResult, now: datetime, step: Step) -> None:
        if tr.state.current is not State.PAUSED:
            tr.state.to(State.PAUSED, now)
            step.changed[tr.id] = tr
            step.effects.append(LogEffect(tr.id, tr.task_id, "INFO", f"task '{tr.task_id}' paused the execution"))
            if ex.state.current is State.RUNNING:
                ex.state.to(State.PAUSED, now)
                step.header_changed = True
        if result.wake_after is not None:
            step.effects.append(FlowableTimer(max(result.wake_after.total_seconds(), 0.0), tr.id))

    def _unpause(self, ex: Execution, now: datetime, step: Step) -> None:
        """A paused task run went on: the execution runs again once none is paused."""
        if ex.state.current is State.PAUSED and not any(t.state.current is State.PAUSED for t in ex.task_runs):
            ex.state.to(State.RUNNING, now)
            step.header_changed = True

    def _start_subflows(
        self, ex: Execution, tr: TaskRun, node: TaskNode, requests: Any, now: datetime, step: Step, dirty: set[str]
    ) -> None:
        if "subflows" in tr.phases_done:
            self._fail(ex, tr, f"task '{tr.task_id}' asked twice to start its subflow executions", now, step)
            dirty.add(self._parent_key(tr))
            return
        tr.work_pending = "subflows"
        step.changed[tr.id] = tr
        step.effects.append(StartSubflows(tr.id, tuple((self.ports.new_id(), r) for r in requests)))

    def subflows_started(
        self, ex: Execution, task_run_id: str, started: list[dict[str, Any]], error: str | None, now: datetime
    ) -> Step:
        """The executions a flowable asked for exist now (or could not be created: `error`)."""
        step = Step()
        tr = ex.find(task_run_id)
        if tr is None or tr.work_pending != "subflows":
            return step
        tr.work_pending = None
        tr.phases_done.append("subflows")
        if started:  # like Kestra's executable tasks: one attempt, closed when the task run ends
            tr.attempts.append(Attempt(RunState.new(State.RUNNING, now)))
        step.changed[tr.id] = tr
        if ex.state.current is State.KILLING and started:
            step.effects.append(KillSubflows())
        if error is None and tr.state.current in _ACTIVE:
            try:
                tr.outputs = dict(self._instance(self.flow.tasks[tr.task_id]).subflows_started(dict(tr.outputs or {}), started))
                ex.outputs_changed(tr)
            except Exception as exc:
                error = f"task '{tr.task_id}': {self._error_message(exc)}"
        if error is not None and not tr.state.current.is_terminated:
            self._fail(ex, tr, error, now, step)
            self._settle(ex, now, step, {self._parent_key(tr)})
            return step
        self._settle(ex, now, step, {tr.id})  # e.g. `wait: false` ends at once
        return step

    def _resolve_root(self, ex: Execution, now: datetime, step: Step, dirty: set[str]) -> None:
        if ex.state.current is State.KILLING:
            if all(tr.state.current.is_terminated for tr in ex.task_runs):
                final = State(ex.variables.pop(KILL_STATE_KEY, State.KILLED.value))
                ex.state.to(final, now)
                step.header_changed = True
                step.effects.append(Finished(final))
            return
        if ex.state.current not in _ACTIVE:
            return
        ctx = _Ctx(self, ex, None)
        tasks, errors, finally_ = self.flow.block("tasks"), self.flow.block("errors"), self.flow.block("finally")
        nexts = resolve_sequential(ctx, tasks, errors, finally_)
        if nexts:
            for nxt in nexts:
                self._create(ex, nxt, None, now, step, dirty)
            return
        state = block_state(ctx, tasks, errors, finally_)
        if state is None:
            return
        after = self.flow.block("afterExecution")
        if after:
            if ex.variables.get("__finalState") != state.value:
                ex.variables["__finalState"] = state.value
                step.header_changed = True
            nexts = resolve_sequential(ctx, after)
            if nexts:
                for nxt in nexts:
                    self._create(ex, nxt, None, now, step, dirty)
                return
            after_ids = {t["id"] for t in after}
            if any(not tr.state.current.is_terminated for tr in ex.children(None) if tr.task_id in after_ids):
                return
        if state.is_success_like and self.flow.outputs:
            try:
                ex.outputs = self._render_outputs(ex)
            except Exception as exc:
                ex.error = f"flow outputs: {self._error_message(exc)}"
                step.effects.append(LogEffect(None, None, "ERROR", ex.error))
                state = State.FAILED
        for sla in self._slas("EXECUTION_ASSERTION"):
            try:
                held = is_truthy(self.ports.render(ex, None, sla.get("assert")))
                why = f"its assertion {sla.get('assert')!r} is false"
            except Exception as exc:
                held, why = False, f"its assertion could not be evaluated: {self._error_message(exc)}"
            if not held:
                behavior = self._sla_violated(ex, sla, why, step)
                if behavior == "FAIL":
                    state = State.FAILED
                elif behavior == "CANCEL":
                    state = State.CANCELLED
        ex.variables.pop("__finalState", None)
        ex.state.to(state, now)
        step.header_changed = True
        step.effects.append(Finished(state))

    def _render_outputs(self, ex: Execution) -> dict[str, Any]:
        from tercel.inputs import coerce_input

        out: dict[str, Any] = {}
        for decl in self.flow.outputs:
            try:
                value = self.ports.render(ex, None, decl.get("value"))
            except Exception as exc:
                raise type(exc)(f"output '{decl.get('id')}': {exc}") from exc
            if decl.get("type"):
                value = coerce_input({"id": decl["id"], "type": decl["type"]}, value)
            out[str(decl["id"])] = value
        return out
