"""Executions and task runs in memory, and their Kestra-shaped JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tercel_sdk import State, TaskRunView

__all__ = ["Attempt", "Execution", "RunState", "TaskRun", "iso"]


def iso(dt: datetime | None) -> str | None:
    """Kestra's date format: ISO 8601 UTC with a Z."""
    if dt is None:
        return None
    return dt.isoformat().replace("+00:00", "Z")


def _parse_dt(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _value_key(value: Any) -> tuple[Any] | None:
    """A task run's value as an index key, or None for a value that cannot be hashed."""
    try:
        hash(value)
    except TypeError:
        return None
    return (value,)


@dataclass(slots=True)
class RunState:
    """A state and how it got there."""

    current: State
    histories: list[tuple[State, datetime]] = field(default_factory=list)

    @classmethod
    def new(cls, state: State, now: datetime) -> RunState:
        return cls(state, [(state, now)])

    def to(self, state: State, now: datetime) -> None:
        if state is self.current and self.histories:
            return
        self.current = state
        self.histories.append((state, now))

    @property
    def start_date(self) -> datetime | None:
        return self.histories[0][1] if self.histories else None

    @property
    def end_date(self) -> datetime | None:
        return self.histories[-1][1] if self.current.is_terminated and self.histories else None

    def to_dict(self) -> dict[str, Any]:
        start, end = self.start_date, self.end_date
        out: dict[str, Any] = {
            "current": self.current.value,
            "histories": [{"state": s.value, "date": iso(d)} for s, d in self.histories],
            "startDate": iso(start),
        }
        if end is not None and start is not None:
            out["endDate"] = iso(end)
            out["duration"] = (end - start).total_seconds()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunState:
        return cls(
            State(data["current"]),
            [(State(h["state"]), _parse_dt(h["date"])) for h in data.get("histories", ())],  # type: ignore[misc]
        )


@dataclass(slots=True)
class Attempt:
    state: RunState
    metrics: list[dict[str, Any]] = field(default_factory=list)
    log_file: str | None = None
    """With `logToFile`, where this attempt's logs are (a `tercel://` URI)."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state.to_dict(), "metrics": list(self.metrics)}
        if self.log_file:
            out["logFile"] = self.log_file
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attempt:
        return cls(RunState.from_dict(data["state"]), list(data.get("metrics", ())), data.get("logFile"))


@dataclass(slots=True)
class TaskRun:
    id: str
    execution_id: str
    namespace: str
    flow_id: str
    task_id: str
    parent_task_run_id: str | None
    value: Any
    iteration: int | None
    state: RunState
    attempts: list[Attempt] = field(default_factory=list)
    outputs: dict[str, Any] | None = None
    error: str | None = None
    phases_done: list[str] = field(default_factory=list)
    """A flowable's `work` phases that ended (WorkingDirectory setup, ForEachItem split…)."""
    work_pending: str | None = None
    """The `work` phase a worker runs for this flowable right now."""

    def view(self) -> TaskRunView:
        histories = self.state.histories
        return TaskRunView(
            self.id, self.task_id, self.parent_task_run_id, self.value, self.iteration,
            self.state.current, self.outputs or {},
            histories[-1][1] if histories else None, tuple(self.phases_done),
        )

    def to_dict(self) -> dict[str, Any]:
        """Kestra's task run JSON; `outputs` keep Python types (the codec handles them)."""
        return {
            "id": self.id,
            "executionId": self.execution_id,
            "namespace": self.namespace,
            "flowId": self.flow_id,
            "taskId": self.task_id,
            "parentTaskRunId": self.parent_task_run_id,
            "value": self.value,
            "iteration": self.iteration,
            "state": self.state.to_dict(),
            "attempts": [a.to_dict() for a in self.attempts],
            "outputs": self.outputs if self.outputs is not None else {},
            "error": self.error,
            **({"work": {"done": list(self.phases_done), "pending": self.work_pending}} if self.phases_done or self.work_pending else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskRun:
        return cls(
            id=data["id"],
            execution_id=data["executionId"],
            namespace=data["namespace"],
            flow_id=data["flowId"],
            task_id=data["taskId"],
            parent_task_run_id=data.get("parentTaskRunId"),
            value=data.get("value"),
            iteration=data.get("iteration"),
            state=RunState.from_dict(data["state"]),
            attempts=[Attempt.from_dict(a) for a in data.get("attempts", ())],
            outputs=data.get("outputs") or None,
            error=data.get("error"),
            phases_done=list((data.get("work") or {}).get("done") or ()),
            work_pending=(data.get("work") or {}).get("pending"),
        )


@dataclass(slots=True)
class Execution:
    id: str
    namespace: str
    flow_id: str
    flow_revision: int
    state: RunState
    labels: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    task_runs: list[TaskRun] = field(default_factory=list)
    plugins: dict[str, dict[str, str]] = field(default_factory=dict)
    trigger: dict[str, Any] | None = None
    error: str | None = None
    original_id: str | None = None
    """The first execution of a chain of flow-level retries (CREATE_NEW_EXECUTION)."""
    attempt_number: int = 1
    original_start: datetime | None = None
    """When the first execution of the chain started (a retry's `maxDuration` counts from it)."""
    version: int = 0
    outputs_revision: int = field(default=0, repr=False)
    """Bumped whenever a task run's outputs change (`outputs_changed`): lets callers cache `outputs.*`."""
    # In-memory indexes, rebuilt by `reindex` (call it after replacing or dropping task runs);
    # `add` and the methods below keep them up to date, so no lookup walks every task run.
    _index: dict[str, TaskRun] = field(default_factory=dict, repr=False)
    _order: dict[str, int] = field(default_factory=dict, repr=False)
    _children: dict[str | None, list[TaskRun]] = field(default_factory=dict, repr=False)
    _by_value: dict[tuple[str | None, Any], list[TaskRun]] = field(default_factory=dict, repr=False)
    _changes: dict[str, list[TaskRun]] = field(default_factory=dict, repr=False)
    live_outputs: Any = field(default=None, repr=False, compare=False)
    """The `outputs` map kept up to date as outputs change (see `outputs_map`); None until used."""

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        self._index = {}
        self._order = {}
        self._children = {}
        self._by_value = {}
        self._changes = {}  # whoever tracked changes starts over (`take_changes` says None)
        self.live_outputs = None
        for tr in self.task_runs:
            self._register(tr)

    def _register(self, tr: TaskRun) -> None:
        self._order[tr.id] = len(self._index)
        self._index[tr.id] = tr
        self._children.setdefault(tr.parent_task_run_id, []).append(tr)
        key = _value_key(tr.value)
        if key is not None:
            self._by_value.setdefault((tr.parent_task_run_id, key), []).append(tr)

    def add(self, tr: TaskRun) -> None:
        self.task_runs.append(tr)
        self._register(tr)
        self._changed(tr)
        if tr.outputs:
            self.outputs_changed(tr)

    def task_run(self, task_run_id: str) -> TaskRun:
        return self._index[task_run_id]

    def find(self, task_run_id: str) -> TaskRun | None:
        return self._index.get(task_run_id)

    def order(self, tr: TaskRun) -> int:
        """Where a task run stands in `task_runs` (its creation order)."""
        return self._order[tr.id]

    def children(self, parent_id: str | None) -> list[TaskRun]:
        return self._children.get(parent_id, [])

    def children_with_value(self, parent_id: str | None, value: Any) -> list[TaskRun]:
        """The children of `parent_id` whose value equals `value`, in creation order (indexed)."""
        key = _value_key(value)
        if key is None:  # not hashable: not indexed, compared one by one
            return [tr for tr in self.children(parent_id) if tr.value == value]
        return self._by_value.get((parent_id, key), [])

    def outputs_changed(self, tr: TaskRun) -> None:
        """Call after changing `tr.outputs`: bumps `outputs_revision`, updates `live_outputs`."""
        self.outputs_revision += 1
        if self.live_outputs is not None:
            self.live_outputs.changed(tr, self.outputs_revision)

    def task_run_ended(self, tr: TaskRun) -> None:
        """Call when a task run reaches a terminated state (its parent's `take_changes` sees it)."""
        self._changed(tr)
        self._changes.pop(tr.id, None)  # an ended flowable decides nothing more

    def take_changes(self, parent_id: str) -> list[TaskRun] | None:
        """The children of `parent_id` created or ended since the previous call, or None on
        the first call for this in-memory execution (and after `reindex`): the changes are
        tracked from then on. What `IncrementalFlowableContext.changed_children` answers."""
        changes = self._changes.get(parent_id)
        self._changes[parent_id] = []
        return changes

    def _changed(self, tr: TaskRun) -> None:
        if tr.parent_task_run_id is not None:
            changes = self._changes.get(tr.parent_task_run_id)
            if changes is not None:
                changes.append(tr)

    def parents(self, tr: TaskRun) -> list[TaskRun]:
        """Ancestors of a task run, the direct parent first."""
        out = []
        current = tr
        while current.parent_task_run_id is not None:
            current = self._index[current.parent_task_run_id]
            out.append(current)
        return out

    def header_dict(self) -> dict[str, Any]:
        """The execution JSON without its task runs (what the store keeps as the header)."""
        return {
            "id": self.id,
            "namespace": self.namespace,
            "flowId": self.flow_id,
            "flowRevision": self.flow_revision,
            "labels": dict(self.labels),
            "inputs": self.inputs,
            "outputs": self.outputs,
            "variables": self.variables,
            "state": self.state.to_dict(),
            "plugins": self.plugins,
            "trigger": self.trigger,
            "error": self.error,
            "originalId": self.original_id or self.id,
            "metadata": {
                "attemptNumber": self.attempt_number,
                "originalCreatedDate": iso(self.original_start or self.state.start_date),
            },
            "startDate": iso(self.state.start_date),
            "endDate": iso(self.state.end_date),
        }

    def to_dict(self) -> dict[str, Any]:
        """Kestra's execution JSON (values still Python-typed; see `to_json_ready`)."""
        out = self.header_dict()
        out["taskRunList"] = [tr.to_dict() for tr in self.task_runs]
        return out

    @classmethod
    def from_dicts(cls, header: dict[str, Any], task_runs: list[dict[str, Any]], version: int = 0) -> Execution:
        return cls(
            id=header["id"],
            namespace=header["namespace"],
            flow_id=header["flowId"],
            flow_revision=header.get("flowRevision", 1),
            state=RunState.from_dict(header["state"]),
            labels=dict(header.get("labels") or {}),
            inputs=dict(header.get("inputs") or {}),
            outputs=dict(header.get("outputs") or {}),
            variables=dict(header.get("variables") or {}),
            task_runs=[TaskRun.from_dict(t) for t in task_runs],
            plugins=dict(header.get("plugins") or {}),
            trigger=header.get("trigger"),
            error=header.get("error"),
            original_id=header.get("originalId") if header.get("originalId") != header["id"] else None,
            attempt_number=int((header.get("metadata") or {}).get("attemptNumber", 1)),
            original_start=_parse_dt((header.get("metadata") or {}).get("originalCreatedDate")),
            version=version,
        )
