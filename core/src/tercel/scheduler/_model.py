"""What the scheduler remembers of a trigger, as plain values (no I/O).

`TriggerState` is the scheduler's view of one row of the store's ``triggers`` table
(`tercel.store._triggers.TriggerRecord`); `to_record`/`from_record` convert between the two.
A Flow trigger's `Progress` (which of its preconditions were met, in which window) is kept in
the row's context, so it survives restarts and every process shares it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from tercel_sdk import ion

from tercel.engine import iso
from tercel.store._triggers import TriggerRecord

__all__ = ["Backfill", "Progress", "TriggerState", "definition_fingerprint", "from_record", "to_record"]


def _date(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Backfill:
    """A backfill in progress: the dates from `current` to `end` get their executions.

    `resume` is the regular date that was next when the backfill began (Kestra's
    `previousNextExecutionDate`): the schedule goes on from it once the backfill is over.
    `source` says who started it: the flow's `backfill` property (``flow``) or the API (``api``).
    """

    current: datetime
    end: datetime
    resume: datetime | None = None
    inputs: dict[str, Any] | None = None
    labels: dict[str, str] | None = None
    paused: bool = False
    source: str = "flow"
    start: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "start": iso(self.start),
            "current": iso(self.current),
            "end": iso(self.end),
            "resume": iso(self.resume),
            "inputs": self.inputs,
            "labels": self.labels,
            "paused": self.paused,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Backfill:
        current = _date(data.get("current"))
        end = _date(data.get("end"))
        assert current is not None and end is not None, data
        return cls(
            current=current,
            end=end,
            resume=_date(data.get("resume")),
            inputs=data.get("inputs"),
            labels=data.get("labels"),
            paused=bool(data.get("paused")),
            source=str(data.get("source") or "flow"),
            start=_date(data.get("start")),
        )


@dataclass(frozen=True)
class Progress:
    """How far a Flow trigger's preconditions got: the window (`start`, `end`; None for a
    sliding window), when each precondition (by key) was last met in it, and the outputs of the
    upstream executions that met one (`{namespace: {flowId: outputs}}`). `window` is the
    fingerprint of the window's definition: when it changes, the progress starts again."""

    window: str
    start: datetime | None = None
    end: datetime | None = None
    met: dict[str, datetime] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)

    def holds(self, now: datetime) -> bool:
        """`now` is in the window (a sliding window always holds)."""
        return self.start is None or self.end is None or self.start <= now < self.end

    def to_json(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "start": iso(self.start),
            "end": iso(self.end),
            "met": {key: iso(when) for key, when in self.met.items()},
            # outputs keep their types (dates, decimals…): Ion text, as in an execution record
            "outputs": {"$ion": ion.dumps(self.outputs).decode("utf-8")} if self.outputs else {},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Progress:
        outputs = data.get("outputs") or {}
        if isinstance(outputs, Mapping) and set(outputs) == {"$ion"}:
            outputs = ion.loads(str(outputs["$ion"]).encode("utf-8"))
        met = {str(k): _date(v) for k, v in (data.get("met") or {}).items()}
        return cls(
            window=str(data.get("window") or ""),
            start=_date(data.get("start")),
            end=_date(data.get("end")),
            met={k: v for k, v in met.items() if v is not None},
            outputs=dict(outputs),
        )


@dataclass(frozen=True)
class TriggerState:
    """One trigger's state. `definition` is None until the scheduler first saw the trigger.

    `date` is the last date scheduled, `next_date` the next one to evaluate (for a polling
    trigger: when to check next). `execution_id` is the execution it started that has not ended
    yet, and `execution_state` that execution's state when the row was read (None when it is gone).
    A realtime trigger's listener runs in one scheduler process at a time: `listener` names it
    and `listener_until` ends its lease, which it renews while it runs.
    """

    namespace: str
    flow_id: str
    trigger_id: str
    type: str
    date: datetime | None = None
    next_date: datetime | None = None
    disabled: bool = False
    execution_id: str | None = None
    backfill: Backfill | None = None
    definition: str | None = None
    backfill_key: str | None = None
    memory: dict[str, Any] = field(default_factory=dict)
    execution_state: str | None = None
    updated: datetime | None = field(default=None, compare=False)
    progress: Progress | None = None
    # a realtime trigger's listener: the scheduler process running it, until when it may
    listener: str | None = None
    listener_until: datetime | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.namespace, self.flow_id, self.trigger_id)

    @property
    def locked(self) -> bool:
        """An execution it started has not ended: it does not fire again until it has."""
        return self.execution_id is not None

    def to_dict(self) -> dict[str, Any]:
        """Kestra's trigger JSON (`/api/v1/triggers`), dates as ISO text."""
        return {
            "namespace": self.namespace,
            "flowId": self.flow_id,
            "triggerId": self.trigger_id,
            "type": self.type,
            "date": iso(self.date),
            "nextExecutionDate": iso(self.next_date),
            "executionId": self.execution_id,
            "executionCurrentState": self.execution_state if self.execution_id else None,
            "disabled": self.disabled,
            "backfill": None if self.backfill is None else self.backfill.to_json(),
            "updatedDate": iso(self.updated),
            "workerId": self.listener,
        }


def from_record(record: TriggerRecord) -> TriggerState:
    context = record.context or {}
    return TriggerState(
        namespace=record.namespace,
        flow_id=record.flow_id,
        trigger_id=record.trigger_id,
        type=record.type,
        date=record.date,
        next_date=record.next_date,
        disabled=record.disabled,
        execution_id=record.execution_id,
        backfill=None if record.backfill is None else Backfill.from_json(record.backfill),
        definition=context.get("definition"),
        backfill_key=context.get("backfillKey"),
        memory=dict(context.get("memory") or {}),
        execution_state=record.execution_state,
        updated=record.updated,
        progress=Progress.from_json(context["preconditions"]) if context.get("preconditions") else None,
        listener=(context.get("listener") or {}).get("owner"),
        listener_until=_date((context.get("listener") or {}).get("until")),
    )


def to_record(state: TriggerState) -> TriggerRecord:
    context: dict[str, Any] = {}
    if state.definition is not None:
        context["definition"] = state.definition
    if state.backfill_key is not None:
        context["backfillKey"] = state.backfill_key
    if state.memory:
        context["memory"] = state.memory
    if state.progress is not None:
        context["preconditions"] = state.progress.to_json()
    if state.listener is not None:
        context["listener"] = {"owner": state.listener, "until": iso(state.listener_until)}
    return TriggerRecord(
        namespace=state.namespace,
        flow_id=state.flow_id,
        trigger_id=state.trigger_id,
        type=state.type,
        date=state.date,
        next_date=state.next_date,
        disabled=state.disabled,
        execution_id=state.execution_id,
        backfill=None if state.backfill is None else state.backfill.to_json(),
        context=context,
        updated=state.updated,
        execution_state=state.execution_state,
    )


def blank_state(namespace: str, flow_id: str, trigger_id: str, type_name: str) -> TriggerState:
    """The state of a trigger the scheduler has never seen."""
    return TriggerState(namespace, flow_id, trigger_id, type_name)


# properties that do not change which dates a trigger fires at: editing them keeps its schedule
_NOT_DATES = frozenset({
    "id", "type", "description", "version", "disabled", "inputs", "labels", "backfill", "stopAfter",
    "recoverMissedSchedules", "lateMaximumDelay", "logLevel", "logToFile", "workerGroup",
    "failOnTriggerError",
})


def definition_fingerprint(spec: Mapping[str, Any]) -> str:
    """A digest of what in a trigger's definition decides its dates (cron, timezone, dates,
    conditions, interval…): when it changes, the trigger's next date is computed afresh."""
    relevant = {k: v for k, v in spec.items() if k not in _NOT_DATES}
    text = json.dumps(relevant, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def with_memory(state: TriggerState, memory: Mapping[str, Any]) -> TriggerState:
    return replace(state, memory=dict(memory))
