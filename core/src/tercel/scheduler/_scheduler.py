"""The scheduler: runs next to a `Runtime`, fires schedule triggers, has polling triggers
checked by workers, runs the listeners of realtime triggers and starts the flows whose Flow
triggers an ended execution satisfies.

It reads the latest revision of every live flow (`runtime.db.flows.list()`, again every
`flows_interval` seconds or as soon as `flows_changed()` is called), keeps the schedule,
polling and Flow triggers it finds, and every `interval` seconds (or sooner, when a date is due
or an execution it started ended) asks the pure decisions of `_decide` what to do with each.
Webhooks are not its own (the server fires them). A polling check that is due is claimed and
queued for a worker in one transaction (`Runtime.job_handlers["poll"]`: the scheduler of the
worker's process runs it), so a slow check never holds the scheduler up.

A realtime trigger's listener (`RealtimeTrigger.events(ctx)`, an async iterator) runs as a task
of the scheduler for as long as the trigger is enabled: each event it yields creates one
execution, in one transaction with the trigger's `memory` (so after a crash the listener goes
on from the last event handed over, and none is lost or doubled). A listener that fails is
started again after a pause that doubles up to a minute. However many schedulers run, one
listens: it holds a lease on the trigger's row, renewed while it runs and released at stop
(a process that died loses it when it runs out, and another scheduler takes over).

Flow triggers hear the states executions reach through the store's queue: the scheduler tells
the runtime which states its Flow triggers and `stopAfter`s listen to (`runtime.announced_states`),
the runtime queues each reaching of one in the transaction that stores it, and a scheduler (of
any process, `schedules=False` too) takes it from the queue. So an execution's end is never lost
to a crash, and when a state is heard twice (a crash before its job was acknowledged) the Flow
trigger still creates one execution: its id is derived from the trigger and what it heard.
For each state reached, the Flow triggers of the other flows that listen to it evaluate their
conditions, record the preconditions it meets (the progress is stored in the trigger's row, so
restarts and other processes see it) and start their flow when everything is met (`_flow`).
The `stopAfter` of a trigger that is not a schedule or polling one (Flow, Webhook, realtime)
is applied there too: when an execution it started ends in one of those states, it is disabled.
A process that ends executions but runs no scheduler loop uses `Scheduler(runtime,
schedules=False)`: it hears the states, and serves the trigger administration.

A decision that creates an execution or changes the trigger's state is taken again inside one
transaction that holds the trigger's lock (`TriggerRepository.lock`) and reads its row afresh;
the execution is created and the row saved in that same transaction. So however many schedulers
run (one per process, on PostgreSQL), a date fires once, and a crash leaves either both or
neither. Time comes from the `clock` given (a `now()` callable), so tests drive it.

    scheduler = Scheduler(runtime)
    await scheduler.start()      # after runtime.start()
    ...
    await scheduler.stop()       # before runtime.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import logging
import os
import socket
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tercel_sdk import State

from tercel.errors import TercelError
from tercel.runtime._runtime import set_soon

from ._conditions import ConditionError, Conditions
from ._context import TriggerContext
from ._decide import (
    GRACE,
    Accept,
    Fire,
    Outcome,
    backfill_state,
    decide_schedule,
    enable,
    plan_poll,
)
from ._flow import (
    CORRELATION_ID,
    decide_flow,
    execution_variables,
    listens,
    stop_after,
    trigger_variables,
)
from ._model import TriggerState, blank_state, definition_fingerprint, from_record, to_record

if TYPE_CHECKING:
    from tercel.engine import Execution
    from tercel.flows import Flow
    from tercel.runtime import Runtime
    from tercel.store._connection import Conn

__all__ = ["Scheduler"]

log = logging.getLogger("tercel.scheduler")

Key = tuple[str, str, str]

#: How long a realtime listener's claim on its trigger lasts without being renewed (seconds).
LISTENER_LEASE = 30.0
#: The longest pause before a failed realtime listener is started again (seconds).
LISTENER_MAX_BACKOFF = 60.0
#: The states every reaching of which is queued for the Flow triggers (and `stopAfter`s), known
#: to this process or not yet: the end states, and PAUSED.
_ALWAYS_ANNOUNCED = frozenset({*(s.value for s in State if s.is_terminated), State.PAUSED.value})


def _utcnow() -> datetime:
    return datetime.now(UTC)


# the scheduler that hears the ended executions of each runtime: one only, or a Flow trigger
# would start its flow once per scheduler
_HEARING: weakref.WeakKeyDictionary[Any, Scheduler] = weakref.WeakKeyDictionary()


@dataclass
class _Entry:
    """One schedule, polling, realtime or Flow trigger of a live flow, loaded and validated."""

    flow: Flow
    spec: dict[str, Any]
    trigger: Any
    kind: str  # "schedule", "polling", "realtime" or "flow"
    definition: str
    conditions: list[dict[str, Any]]

    @property
    def key(self) -> Key:
        return (self.flow.namespace, self.flow.id, self.trigger.id)

    @property
    def type_name(self) -> str:
        return str(self.spec.get("type"))


@dataclass
class _Listener:
    """A realtime trigger's listener running in this process."""

    entry: _Entry
    task: asyncio.Task[Any]
    renewed: float  # time.monotonic() of the last renewal of its lease
    stopping: bool = False


@dataclass
class _LoadedFlow:
    revision: int
    entries: list[_Entry]
    trigger_ids: set[str] | None  # None: the flow could not be loaded (its rows are kept)
    # the `stopAfter` of its triggers the scheduler does not fire itself (Flow, Webhook…):
    # trigger id -> (type, states)
    stops: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)  # trigger id -> type, every trigger


class Scheduler:
    """Fires the schedule, polling, realtime and Flow triggers of the flows a runtime stores.

    With `schedules=False` it runs no loop (nor realtime listeners): it only hears the
    executions the runtime ends (Flow triggers, `stopAfter`), for a process that runs an
    executor but no scheduler.
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        clock: Callable[[], datetime] | None = None,
        interval: float = 1.0,
        flows_interval: float = 5.0,
        grace: float = GRACE.total_seconds(),
        schedules: bool = True,
    ) -> None:
        self.runtime = runtime
        self._schedules = schedules
        self._clock = clock or _utcnow
        self._interval = interval
        self._flows_interval = flows_interval
        self._grace = timedelta(seconds=grace)
        self._conditions = Conditions(runtime.plugins, runtime.expressions)
        self._flows: dict[tuple[str, str], _LoadedFlow] = {}
        self._entries: dict[Key, _Entry] = {}  # schedule and polling triggers: what `tick` looks at
        self._flow_entries: dict[Key, _Entry] = {}  # Flow triggers: what ended executions are shown
        self._realtime: dict[Key, _Entry] = {}  # realtime triggers: whose listeners should run
        self._listeners: dict[Key, _Listener] = {}
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._states_task: asyncio.Task[Any] | None = None
        self._states_wake: asyncio.Event | None = None
        self._stops: dict[Key, tuple[str, tuple[str, ...]]] = {}
        self._states: dict[Key, TriggerState] = {}
        self._seen: set[Key] = set()  # triggers looked at since start: missed dates are recovered once
        self._dirty = True
        self._last_refresh = float("-inf")
        self._stamp: tuple[int, Any] | None = None
        # polling checks queued by this process, until a worker of this process ran them (what
        # `tick(wait_polls=True)` waits for)
        self._polls: dict[Key, asyncio.Future[list[Any]]] = {}
        self._task: asyncio.Task[Any] | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running = False
        self._listening = False

    # -- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> Scheduler:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start the loop (the runtime must be started; stop this before the runtime)."""
        if self._task is not None or self._states_task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._running = True
        self._states_wake = asyncio.Event()
        self._listen()
        # at once, before anything awaits: the runtime learns which states to queue before its
        # executor advances anything
        self.refresh()
        self._states_task = asyncio.create_task(self._hear_states(), name="tercel-flow-triggers")
        if self._schedules:
            self._task = asyncio.create_task(self._run(), name="tercel-scheduler")

    async def stop(self) -> None:
        """Stop the loop and wait for the checks under way; nothing is left half done."""
        self._running = False
        if _HEARING.get(self.runtime) is self:
            del _HEARING[self.runtime]
        if self._wake is not None:
            self._wake.set()
        if self._states_wake is not None:
            self._states_wake.set()
        task, self._task = self._task, None
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=30)
        states_task, self._states_task = self._states_task, None
        if states_task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(states_task, timeout=30)
        self.runtime.db.queue.remove_listener(self._on_queue_put)
        for future in self._polls.values():
            future.cancel()
        self._polls.clear()
        if self.runtime.job_handlers.get("poll") == self._poll_job:
            del self.runtime.job_handlers["poll"]
        listeners = list(self._listeners.values())
        for listener in listeners:
            listener.task.cancel()
        if listeners:
            await asyncio.wait([listener.task for listener in listeners], timeout=30)
        for listener in listeners:  # another scheduler may take them over at once
            with contextlib.suppress(Exception):
                self._release(listener.entry.key)
        self._listeners.clear()

    def _listen(self) -> None:
        other = _HEARING.get(self.runtime)
        if other is not None and other is not self and other._running:
            log.warning("another scheduler already runs on this runtime: this one leaves the Flow triggers to it")
        else:
            _HEARING[self.runtime] = self
        self.runtime.db.queue.add_listener(self._on_queue_put)
        self.runtime.job_handlers.setdefault("poll", self._poll_job)
        if self._listening:
            return
        self._listening = True
        self.runtime.add_finished_listener(self._on_finished)
        self.runtime.add_flow_listener(self.flows_changed)

    def _on_finished(self, ex: Execution) -> None:
        """An execution ended in this process: if a trigger of ours waits for it, look now."""
        if not self._running:
            return
        trigger = ex.trigger or {}
        if (ex.namespace, ex.flow_id, trigger.get("id")) in self._entries:
            self._poke()

    def _on_queue_put(self, topic: str) -> None:
        """A job was queued in this process (any thread): a state to hear wakes the loop."""
        from tercel.runtime._runtime import STATES_TOPIC

        if topic == STATES_TOPIC:
            set_soon(self._loop, self._states_wake)

    def flows_changed(self, *_: Any) -> None:
        """Flows were saved or deleted: read them again before the next look (thread-safe).
        Until then every state is announced, so a new Flow trigger misses nothing."""
        self._dirty = True
        if _HEARING.get(self.runtime) is self:
            self.runtime.announced_states = frozenset(s.value for s in State)
        self._poke()
        set_soon(self._loop, self._states_wake)

    async def _hear_states(self) -> None:
        """Take the states executions reached from the queue and show them to the Flow
        triggers (and `stopAfter`s); acknowledged once handled, so a crash hears them again."""
        from tercel.runtime._runtime import STATES_TOPIC

        assert self._states_wake is not None
        db = self.runtime.db
        while self._running:
            self._states_wake.clear()
            jobs: list[Any] = []
            try:
                self._refresh_if_due()
                jobs = db.queue.claim(STATES_TOPIC, self._owner, limit=64, lease=60.0)
                for job in jobs:
                    self._hear(job)
                if jobs:  # once all are handled (heard twice after a crash: nothing more starts)
                    db.queue.ack([job.id for job in jobs])
            except Exception:
                log.exception("the Flow triggers could not hear the executions' states; they try again")
                jobs = []
            if len(jobs) == 64:
                await asyncio.sleep(0)
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._states_wake.wait(), timeout=min(self._interval, 1.0))

    def _hear(self, job: Any) -> None:
        from tercel_sdk import ion

        event = ion.loads(job.payload)
        if "flowId" in event and not self._may_matter(event):
            return  # no trigger of ours looks at it: the execution is not even read
        ex = self.runtime.get_execution(str(event["execution"]))
        if ex is None:
            return  # deleted since
        if ex.state.current.value != event["state"]:  # it moved on: show it as it was then
            ex = copy.copy(ex)
            ex.state = copy.copy(ex.state)
            ex.state.current = State(event["state"])
        try:
            self._heard(ex, int(event.get("step") or 0))
        except Exception:
            log.exception("the Flow triggers could not look at execution %s", ex.id)

    def _may_matter(self, event: Mapping[str, Any]) -> bool:
        """Whether a state heard may start a flow or disable a trigger (from the event alone)."""
        namespace, flow_id, state = str(event["namespace"]), str(event["flowId"]), str(event["state"])
        stop = self._stops.get((namespace, flow_id, str(event.get("triggerId"))))
        if stop is not None and state in stop[1]:
            return True
        return any(
            not entry.trigger.disabled and (entry.flow.namespace, entry.flow.id) != (namespace, flow_id)
            and entry.trigger.listens_to(state)
            for entry in self._flow_entries.values()
        )

    def _announce(self) -> None:
        """Tell the runtime which states to queue: the end states and PAUSED always (a Flow
        trigger saved in another process a moment ago listens to them by default, and this one
        may not know it yet), and any other a Flow trigger listens to (RUNNING…)."""
        if _HEARING.setdefault(self.runtime, self) is not self:
            return
        states: set[str] = set(_ALWAYS_ANNOUNCED)
        for entry in self._flow_entries.values():
            states |= set(entry.trigger.listened_states)
        self.runtime.announced_states = frozenset(states)

    def _poke(self) -> None:
        set_soon(self._loop, self._wake)

    async def _run(self) -> None:
        assert self._wake is not None
        while self._running:
            self._wake.clear()
            try:
                await self.tick(wait_polls=False)
            except Exception:
                log.exception("the scheduler's look at its triggers failed; it looks again")
            if not self._running:
                break
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._sleep_for())

    def _sleep_for(self) -> float:
        """Seconds until the next due date we know of, at most `interval`."""
        due = None
        for key, state in self._states.items():
            if key not in self._entries or state.locked or state.disabled:
                continue
            if state.backfill is not None and not state.backfill.paused:
                return 0.0
            if state.next_date is not None and (due is None or state.next_date < due):
                due = state.next_date
        if due is None:
            return self._interval
        seconds = (due - self._clock()).total_seconds()
        return max(0.0, min(self._interval, seconds + 0.002))

    # -- flows ---------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the live flows again: new and changed triggers are taken up, the state of
        triggers whose flow was deleted (or that were removed from their flow) is forgotten."""
        self._dirty = False
        self._last_refresh = time.monotonic()
        db = self.runtime.db
        self._stamp = db.flows.stamp()  # before the list: a change made meanwhile is seen next time
        records = db.flows.list()
        live: dict[tuple[str, str], _LoadedFlow] = {}
        for record in records:
            key = (record.namespace, record.flow_id)
            known = self._flows.get(key)
            if known is not None and known.revision == record.revision:
                live[key] = known
                continue
            live[key] = self._load(record, known)
        self._flows = live
        entries = [entry for loaded in live.values() for entry in loaded.entries]
        self._entries = {entry.key: entry for entry in entries if entry.kind in ("schedule", "polling")}
        self._flow_entries = {entry.key: entry for entry in entries if entry.kind == "flow"}
        self._realtime = {entry.key: entry for entry in entries if entry.kind == "realtime"}
        self._stops = {
            (namespace, flow_id, trigger_id): stop
            for (namespace, flow_id), loaded in live.items()
            for trigger_id, stop in loaded.stops.items()
        }
        self._announce()
        for row in db.triggers.list():
            loaded = live.get((row.namespace, row.flow_id))
            if loaded is None:
                # gone from the list: deleted, unless it was created after the list was read
                if db.flows.get(row.namespace, row.flow_id) is None:
                    db.triggers.delete(row.namespace, row.flow_id, row.trigger_id)
                    self._states.pop(row.key, None)
            elif loaded.trigger_ids is not None and row.trigger_id not in loaded.trigger_ids:
                db.triggers.delete(row.namespace, row.flow_id, row.trigger_id)
                self._states.pop(row.key, None)

    def _load(self, record: Any, known: _LoadedFlow | None) -> _LoadedFlow:
        from tercel.flows import load_flow

        name = f"{record.namespace}.{record.flow_id}"
        if "triggers" not in record.source:  # no trigger to look for: no need to parse it
            return _LoadedFlow(record.revision, [], set())
        try:
            flow = load_flow(record.source, self.runtime.plugins, name=name, lock=record.lock)
        except Exception as exc:
            log.error("flow %s revision %s cannot be loaded, its triggers wait: %s", name, record.revision, exc)
            if known is not None:
                return _LoadedFlow(record.revision, known.entries, known.trigger_ids, known.stops, known.types)
            return _LoadedFlow(record.revision, [], None)
        flow.revision = record.revision
        entries: list[_Entry] = []
        ids: set[str] = set()
        stops: dict[str, tuple[str, tuple[str, ...]]] = {}
        types: dict[str, str] = {}
        for spec in flow.spec.get("triggers") or ():
            if not isinstance(spec, Mapping) or not isinstance(spec.get("id"), str):
                continue
            ids.add(spec["id"])
            types[spec["id"]] = str(spec.get("type"))
            entry = self._entry(flow, dict(spec))
            if entry is not None:
                entries.append(entry)
            if (entry is None or entry.kind in ("flow", "realtime")) and isinstance(spec.get("stopAfter"), list) and spec["stopAfter"]:
                stops[spec["id"]] = (str(spec.get("type")), tuple(str(s).upper() for s in spec["stopAfter"]))
        return _LoadedFlow(record.revision, entries, ids, stops, types)

    def _entry(self, flow: Flow, spec: dict[str, Any]) -> _Entry | None:
        from tercel_sdk import PollingTrigger, RealtimeTrigger, ScheduleTrigger

        where = f"trigger '{spec.get('id')}' of flow {flow.namespace}.{flow.id}"
        try:
            cls = self.runtime.plugins.load_class(str(spec.get("type")))
        except Exception as exc:
            log.error("%s cannot be loaded: %s", where, exc)
            return None
        if isinstance(cls, type) and issubclass(cls, ScheduleTrigger):
            kind = "schedule"
        elif isinstance(cls, type) and issubclass(cls, PollingTrigger):
            kind = "polling"
        elif isinstance(cls, type) and issubclass(cls, RealtimeTrigger):
            kind = "realtime"
        elif getattr(cls, "listens_to_executions", False):
            kind = "flow"
        else:
            return None  # a Webhook: the server fires it
        try:
            trigger = cls.model_validate(spec)
        except Exception as exc:
            log.error("%s is invalid, it does not fire: %s", where, exc)
            return None
        if flow.disabled and not trigger.disabled:
            trigger = trigger.model_copy(update={"disabled": True})
        conditions = [dict(c) for c in (trigger.conditions or ())]
        if kind == "schedule":
            kept = []
            for condition in conditions:
                try:
                    if self._conditions.applies_to_schedules(condition):
                        kept.append(condition)
                    else:
                        log.warning("%s: condition %s is not a schedule condition, a Schedule ignores it", where, condition.get("type"))
                except ConditionError:
                    kept.append(condition)  # fails visibly when evaluated
            conditions = kept
        return _Entry(flow, spec, trigger, kind, definition_fingerprint(spec), conditions)

    def _refresh_if_due(self) -> None:
        """Read the flows again when they changed: here (`flows_changed`), in another process
        (the store's stamp moved), or at least every `flows_interval` seconds."""
        due = self._dirty or time.monotonic() - self._last_refresh >= self._flows_interval
        if due or self.runtime.db.flows.stamp() != self._stamp:
            self.refresh()

    # -- one look ------------------------------------------------------------------------------

    async def tick(self, *, wait_polls: bool = True) -> list[Execution]:
        """Look at every trigger once at `clock()`; returns the executions created by schedules
        (and by the polling checks when `wait_polls`, which waits until this process's worker
        ran the checks it queued)."""
        self._refresh_if_due()
        now = self._clock()
        rows = {row.key: row for row in self.runtime.db.triggers.list()}
        created: list[Execution] = []
        polls: list[asyncio.Future[list[Any]]] = []
        for entry in list(self._entries.values()):
            row = rows.get(entry.key)
            state = from_record(row) if row is not None else blank_state(*entry.key, entry.type_name)
            try:
                if entry.kind == "schedule":
                    ex = self._tick_schedule(entry, state, now)
                    if ex is not None:
                        created.append(ex)
                else:
                    future = self._start_poll(entry, state, now)
                    if future is not None:
                        polls.append(future)
            except Exception:
                log.exception("trigger '%s' of flow %s.%s: the scheduler failed to handle it", *entry.key[2:], *entry.key[:2])
        if self._schedules and self._running:
            self._keep_listeners(rows)
        if wait_polls and polls:
            done, _ = await asyncio.wait(polls, timeout=30)
            for future in done:
                if not future.cancelled() and future.exception() is None:
                    created.extend(future.result())
        return created

    def _decide(self, entry: _Entry, state: TriggerState, now: datetime) -> Outcome:
        return decide_schedule(
            entry.trigger,
            state,
            now,
            definition=entry.definition,
            accept=self._accept(entry),
            recovering=entry.key not in self._seen,
            grace=self._grace,
        )

    def _tick_schedule(self, entry: _Entry, state: TriggerState, now: datetime) -> Execution | None:
        key = entry.key
        outcome = self._decide(entry, state, now)
        if outcome.fire is None and outcome.state == state:
            self._seen.add(key)
            self._states[key] = state
            return None
        db = self.runtime.db
        ex = None
        with db.transaction() as conn:
            db.triggers.lock(conn, *key)
            row = db.triggers.get(*key, conn=conn)
            state = from_record(row) if row is not None else blank_state(*key, entry.type_name)
            outcome = self._decide(entry, state, now)  # again, on what the lock protects
            new = outcome.state
            if outcome.fire is not None:
                ex = self._create(entry, outcome.fire, conn)
                new = self._started(entry, new, ex)
            if ex is not None or new != state:
                new = from_record(db.triggers.save(to_record(new), conn=conn))
        self._seen.add(key)
        self._states[key] = new
        self._report(entry, outcome, ex)
        return ex

    def _started(self, entry: _Entry, state: TriggerState, ex: Execution) -> TriggerState:
        """The trigger's state once `ex` exists: it waits for it, unless it never started."""
        if ex.state.current.is_terminated:  # created FAILED (inputs or conditions): nothing to wait for
            stop = {str(s).upper() for s in (entry.trigger.stop_after or ())}
            return replace(state, disabled=state.disabled or ex.state.current.value in stop)
        return replace(state, execution_id=ex.id, execution_state=ex.state.current.value)

    def _report(self, entry: _Entry, outcome: Outcome, ex: Execution | None) -> None:
        name = f"trigger '{entry.key[2]}' of flow {entry.key[0]}.{entry.key[1]}"
        if outcome.stopped:
            log.info("%s is disabled: its execution %s ended in a state of stopAfter", name, outcome.released)
        for date in outcome.skipped:
            log.info("%s: the date %s was missed and is skipped", name, date.isoformat())
        if ex is not None:
            log.info("%s: execution %s created for %s", name, ex.id, outcome.fire.date.isoformat() if outcome.fire else "now")

    # -- conditions and rendering --------------------------------------------------------------

    def _accept(self, entry: _Entry) -> Accept | None:
        if not entry.conditions:
            return None
        base = self._variables(entry.flow)

        def accept(date: datetime) -> bool:
            variables = dict(entry.trigger.event(date).variables)
            context = {**base, "trigger": variables, "schedule": variables}
            return self._conditions.test_all(entry.conditions, context)

        return accept

    def _variables(self, flow: Flow, **extra: Any) -> dict[str, Any]:
        from tercel.runtime import flow_context

        return flow_context(self.runtime, flow, **extra)

    def _render_labels(self, labels: Mapping[str, Any] | None, context: Mapping[str, Any], where: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in (labels or {}).items():
            if str(key).startswith("system."):
                continue  # system labels are tercel's to set
            try:
                rendered = self.runtime.expressions.render_value(value, context, native=False)
            except Exception as exc:
                log.warning("%s: label %r cannot be rendered, it is left out: %s", where, key, exc)
                continue
            if rendered is not None:
                out[str(key)] = str(rendered)
        return out

    # -- executions ----------------------------------------------------------------------------

    def _create(
        self,
        entry: _Entry,
        fire: Fire,
        conn: Conn,
        *,
        context: Mapping[str, Any] | None = None,
        correlation_id: str | None = None,
        execution_id: str | None = None,
    ) -> Execution:
        """Create the execution of one firing in `conn`'s transaction: queued to start, or, when
        its inputs or the trigger's conditions fail, stored FAILED with the reason. `context`
        adds variables its inputs and labels are rendered with; `correlation_id` is the one of
        the execution it follows (its own id by default)."""
        from tercel.runtime._runtime import new_id

        flow = entry.flow
        variables = dict(fire.event.variables)
        trigger_vars = {**variables, "id": entry.trigger.id, "type": entry.type_name}
        context = {**self._variables(flow), **(context or {}), "trigger": variables}
        where = f"trigger '{entry.trigger.id}' of flow {flow.namespace}.{flow.id}"
        execution_id = execution_id or new_id()
        labels = self._render_labels(fire.event.labels, context, where)
        if fire.backfill is not None:
            labels.update(self._render_labels(fire.backfill.labels, context, where))
        labels[CORRELATION_ID] = correlation_id or execution_id
        error = fire.error
        if error is None:
            try:
                inputs: dict[str, Any] = {}
                if fire.event.inputs:
                    inputs.update(self.runtime.expressions.render_value(dict(fire.event.inputs), context))
                if fire.backfill is not None and fire.backfill.inputs:
                    inputs.update(self.runtime.expressions.render_value(dict(fire.backfill.inputs), context))
                return self.runtime.create_execution(
                    flow, inputs, labels=labels, trigger=trigger_vars, execution_id=execution_id,
                    local_files=False, conn=conn,
                )
            except Exception as exc:
                error = f"{where}: the execution cannot start: {self.runtime.masker.mask(str(exc))}"
        return self._failed(flow, execution_id, labels, trigger_vars, error, conn)

    def _failed(
        self, flow: Flow, execution_id: str, labels: dict[str, str], trigger: dict[str, Any], error: str, conn: Conn
    ) -> Execution:
        from tercel.engine import Execution, RunState
        from tercel.runtime._codec import encode_header

        now = _utcnow()
        ex = Execution(
            id=execution_id,
            namespace=flow.namespace,
            flow_id=flow.id,
            flow_revision=flow.revision,
            state=RunState.new(State.CREATED, now),
            labels={**flow.labels, **labels},
            plugins=dict(flow.lock),
            trigger=trigger,
            error=error,
        )
        ex.state.to(State.FAILED, now)
        ex.version = self.runtime.db.executions.create(encode_header(ex), [], conn=conn)
        self.runtime.db.logs.append(
            [{"execution_id": ex.id, "level": "ERROR", "timestamp": now, "message": error}], conn=conn
        )
        log.warning("%s", error)
        return ex

    # -- Flow triggers and stopAfter: what an ended execution sets off -------------------------

    def on_execution_end(self, ex: Execution, *, step: int | None = None) -> list[Execution]:
        """An execution reached its current state (an end, or another state a Flow trigger
        listens to): apply the `stopAfter` of the trigger that started it, and start the flows
        whose Flow triggers it satisfies. `step` (default: how many states it went through)
        makes hearing the same reaching twice start nothing more. Returns the executions created
        (the queue's jobs call it; tests may call it directly)."""
        self._refresh_if_due()
        return self._heard(ex, len(ex.state.histories) if step is None else step)

    def _heard(self, ex: Execution, step: int) -> list[Execution]:
        """`on_execution_end` on flows read lately enough (the queue's loop checks once a batch)."""
        self._apply_stop_after(ex)
        candidates = [
            entry for entry in self._flow_entries.values()
            if not entry.trigger.disabled and listens(entry.trigger, entry.flow.namespace, entry.flow.id, ex)
        ]
        if not candidates:
            return []
        from tercel.engine import outputs_map

        now = self._clock()
        upstream = {
            "execution": execution_variables(ex),
            "labels": dict(ex.labels),
            "inputs": dict(ex.inputs or {}),
            "outputs": outputs_map(ex),
        }
        # `trigger.date`: when the trigger looks at it (the execution just ended), for the date
        # conditions (DayWeek, TimeBetween…); the time windows use the same moment
        seen = {**trigger_variables(ex), "date": now}
        created: list[Execution] = []
        for entry in candidates:
            try:
                started = self._fire_flow(entry, ex, now, upstream, seen, step)
            except Exception:
                log.exception("trigger '%s' of flow %s.%s failed to handle execution %s", entry.key[2], *entry.key[:2], ex.id)
                continue
            if started is not None:
                created.append(started)
        return created

    def _fire_flow(
        self, entry: _Entry, ex: Execution, now: datetime, upstream: Mapping[str, Any], seen: Mapping[str, Any], step: int
    ) -> Execution | None:
        """One Flow trigger and one ended execution: conditions, preconditions, and the
        execution it starts, decided again under the trigger's lock."""
        flow = entry.flow
        where = f"trigger '{entry.trigger.id}' of flow {flow.namespace}.{flow.id}"
        context = {**self._variables(flow), **upstream, "trigger": dict(seen)}
        try:
            if entry.conditions and not self._conditions.test_all(entry.conditions, context):
                return None
            results = entry.trigger.precondition_results(self._conditions.context(context))
        except Exception as exc:
            log.warning(
                "%s: its conditions cannot be evaluated for execution %s, it does not fire: %s",
                where, ex.id, self.runtime.masker.mask(str(exc)),
            )
            return None
        if results is not None and not any(results.values()):
            return None  # this execution meets none of the preconditions: nothing changes
        db = self.runtime.db
        started = None
        execution_id = _derived_id(*entry.key, ex.id, str(ex.state.current.value), str(step))
        with db.transaction() as conn:
            db.triggers.lock(conn, *entry.key)
            if db.executions.get(execution_id, conn=conn) is not None:
                return None  # heard already (the job came back after a crash): it fired then
            row = db.triggers.get(*entry.key, conn=conn)
            state = from_record(row) if row is not None else self._first_state(entry)
            outcome = decide_flow(
                entry.trigger, state, now, results=results, namespace=ex.namespace, flow_id=ex.flow_id, outputs=ex.outputs
            )
            new = outcome.state
            if outcome.fire:
                variables = trigger_variables(ex, outcome.outputs)
                started = self._create(
                    entry, Fire(now, entry.trigger.event(variables)), conn,
                    context=upstream, correlation_id=ex.labels.get(CORRELATION_ID), execution_id=execution_id,
                )
            if started is not None or new != state or row is None:
                new = from_record(db.triggers.save(to_record(new), conn=conn))
        self._states[entry.key] = new
        if started is not None:
            log.info("%s: execution %s created after execution %s of %s.%s", where, started.id, ex.id, ex.namespace, ex.flow_id)
        elif outcome.reason:
            log.debug("%s: execution %s does not fire it (%s)", where, ex.id, outcome.reason)
        return started

    def _apply_stop_after(self, ex: Execution) -> None:
        """The trigger (a Flow, Webhook or realtime one) that started `ex` is disabled when `ex`
        ended in one of its `stopAfter` states (schedules and polling triggers do it themselves)."""
        trigger_id = (ex.trigger or {}).get("id")
        key = (ex.namespace, ex.flow_id, trigger_id)
        stop = self._stops.get(key) if isinstance(trigger_id, str) else None
        ended = str(ex.state.current.value)
        if stop is None or ended not in stop[1]:
            return
        db = self.runtime.db
        with db.transaction() as conn:
            db.triggers.lock(conn, *key)
            row = db.triggers.get(*key, conn=conn)
            state = from_record(row) if row is not None else blank_state(*key, stop[0])
            new, stopped = stop_after(stop[1], state, ended)
            if stopped:
                new = from_record(db.triggers.save(to_record(new), conn=conn))
        self._states[key] = new
        if stopped:
            log.info("trigger '%s' of flow %s.%s is disabled: its execution %s ended %s (stopAfter)", key[2], *key[:2], ex.id, ended)

    # -- polling triggers ----------------------------------------------------------------------

    def _start_poll(self, entry: _Entry, state: TriggerState, now: datetime) -> asyncio.Future[list[Any]] | None:
        """A check that is due is claimed (its next date moved one interval ahead, so no other
        scheduler claims it) and queued for a worker, in one transaction."""
        from tercel_sdk import ion

        from tercel.runtime._runtime import WORKER_TOPIC

        plan = plan_poll(entry.trigger, state, now, definition=entry.definition)
        if not plan.due and plan.state == state:
            self._states[entry.key] = state
            return None
        db = self.runtime.db
        with db.transaction() as conn:  # claim the check (or save what changed) under the lock
            db.triggers.lock(conn, *entry.key)
            row = db.triggers.get(*entry.key, conn=conn)
            current = from_record(row) if row is not None else blank_state(*entry.key, entry.type_name)
            plan = plan_poll(entry.trigger, current, now, definition=entry.definition)
            saved = from_record(db.triggers.save(to_record(plan.state), conn=conn)) if plan.state != current else current
            if plan.due:
                job = {
                    "kind": "poll", "namespace": entry.key[0], "flowId": entry.key[1], "triggerId": entry.key[2],
                    "revision": entry.flow.revision, "definition": entry.definition, "now": now,
                }
                db.queue.put(WORKER_TOPIC, ion.dumps(job), key=".".join(entry.key), conn=conn)
        self._states[entry.key] = saved
        if plan.stopped:
            log.info("trigger '%s' of flow %s.%s is disabled: its execution ended in a state of stopAfter", entry.key[2], *entry.key[:2])
        if not plan.due:
            return None
        self.runtime.job_handlers.setdefault("poll", self._poll_job)  # a scheduler not started (tests)
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        previous = self._polls.get(entry.key)
        if previous is not None and not previous.done():
            previous.cancel()
        self._polls[entry.key] = future
        return future

    async def _poll_job(self, job: Mapping[str, Any]) -> None:
        """A worker runs a queued check (in whichever process): with the trigger's definition
        of when it was queued; a check of a definition changed since is left to the next one."""
        key = (str(job["namespace"]), str(job["flowId"]), str(job["triggerId"]))
        created: list[Any] = []
        try:
            entry = self._entries.get(key)
            if entry is None or entry.definition != job["definition"]:
                self.refresh()
                entry = self._entries.get(key)
            if entry is None or entry.kind != "polling" or entry.definition != job["definition"]:
                log.info("trigger '%s' of flow %s.%s changed or went away: its queued check is skipped", key[2], *key[:2])
                return
            row = self.runtime.db.triggers.get(*key)
            state = from_record(row) if row is not None else blank_state(*key, entry.type_name)
            now = job["now"] if isinstance(job["now"], datetime) else datetime.fromisoformat(str(job["now"]))
            created = await self._poll(entry, state, now)
        finally:
            future = self._polls.get(key)
            if future is not None and not future.done():
                future.set_result(created)
                del self._polls[key]

    async def _poll(self, entry: _Entry, state: TriggerState, now: datetime) -> list[Execution]:
        flow = entry.flow
        where = f"trigger '{entry.trigger.id}' of flow {flow.namespace}.{flow.id}"
        ctx = TriggerContext(
            self.runtime, namespace=flow.namespace, flow_id=flow.id, trigger_id=entry.trigger.id,
            variables=self._variables(flow), memory=state.memory, now=now,
        )
        event, error = None, None
        try:
            evaluate = entry.trigger.evaluate
            if inspect.iscoroutinefunction(evaluate):
                event = await evaluate(ctx)
            else:
                event = await asyncio.to_thread(evaluate, ctx)
            if event is not None and entry.conditions:
                variables = {**self._variables(flow), "trigger": dict(event.variables)}
                if not self._conditions.test_all(entry.conditions, variables):
                    event = None
        except Exception as exc:
            error = f"{where}: the check failed: {self.runtime.masker.mask(str(exc))}"
            log.warning("%s", error)
        db = self.runtime.db
        ex = None
        with db.transaction() as conn:
            db.triggers.lock(conn, *entry.key)
            row = db.triggers.get(*entry.key, conn=conn)
            current = from_record(row) if row is not None else state
            new = replace(current, memory=ctx.memory)
            if event is not None:
                ex = self._create(entry, Fire(now, event), conn)
                new = self._started(entry, replace(new, date=now), ex)
            elif error is not None and entry.trigger.fail_on_trigger_error:
                ex = self._failed(flow, _new_id(), {}, {"id": entry.trigger.id, "type": entry.type_name}, error, conn)
                new = self._started(entry, new, ex)
            if new != current:
                new = from_record(db.triggers.save(to_record(new), conn=conn))
        self._states[entry.key] = new
        if ex is not None:
            log.info("%s: execution %s created", where, ex.id)
        return [ex] if ex is not None else []

    # -- realtime triggers ---------------------------------------------------------------------

    def _keep_listeners(self, rows: Mapping[Key, Any]) -> None:
        """Run a listener for every enabled realtime trigger (one whose flow changed gets a new
        one), stop the others, and renew the leases of those that run."""
        for key, listener in list(self._listeners.items()):
            entry = self._realtime.get(key)
            row = rows.get(key)
            disabled = entry is None or entry.trigger.disabled or (row is not None and row.disabled)
            if listener.stopping:
                continue
            if disabled or listener.entry is not entry:
                listener.stopping = True
                listener.task.cancel()
                if disabled:
                    listener.task.add_done_callback(lambda _t, key=key: self._release_quietly(key))
            elif time.monotonic() - listener.renewed >= LISTENER_LEASE / 3:
                if self._claim(listener.entry):
                    listener.renewed = time.monotonic()
                else:  # another scheduler holds it now (this one was too slow to renew)
                    log.warning("trigger '%s' of flow %s.%s: another scheduler listens now; this one stops", key[2], *key[:2])
                    listener.stopping = True
                    listener.task.cancel()
        for key, entry in self._realtime.items():
            if key in self._listeners or entry.trigger.disabled:
                continue
            row = rows.get(key)
            if row is not None and row.disabled:
                continue
            if not self._claim(entry):
                continue  # another scheduler listens
            task = asyncio.create_task(self._run_listener(entry), name=f"tercel-listen-{'.'.join(key)}")
            self._listeners[key] = _Listener(entry, task, time.monotonic())
            task.add_done_callback(lambda t, key=key: self._listener_ended(key, t))

    def _listener_ended(self, key: Key, task: asyncio.Task[Any]) -> None:
        listener = self._listeners.get(key)
        if listener is not None and listener.task is task:
            del self._listeners[key]
        self._poke()  # start its successor (a new definition) without waiting

    def _claim(self, entry: _Entry) -> bool:
        """Take or renew the lease of `entry`'s listener; False when another process holds it."""
        db = self.runtime.db
        now = _utcnow()
        with db.transaction() as conn:
            db.triggers.lock(conn, *entry.key)
            row = db.triggers.get(*entry.key, conn=conn)
            current = from_record(row) if row is not None else self._first_state(entry)
            held = current.listener not in (None, self._owner)
            if held and current.listener_until is not None and current.listener_until > now:
                return False
            new = replace(current, listener=self._owner, listener_until=now + timedelta(seconds=LISTENER_LEASE))
            self._states[entry.key] = from_record(db.triggers.save(to_record(new), conn=conn))
        return True

    def _release(self, key: Key) -> None:
        db = self.runtime.db
        with db.transaction() as conn:
            db.triggers.lock(conn, *key)
            row = db.triggers.get(*key, conn=conn)
            if row is None:
                return
            current = from_record(row)
            if current.listener == self._owner:
                new = replace(current, listener=None, listener_until=None)
                self._states[key] = from_record(db.triggers.save(to_record(new), conn=conn))

    def _release_quietly(self, key: Key) -> None:
        try:
            self._release(key)
        except Exception:
            log.exception("trigger '%s' of flow %s.%s: its listener's lease could not be released", key[2], *key[:2])

    async def _run_listener(self, entry: _Entry) -> None:
        """Run `entry`'s listener until it is cancelled: each event becomes an execution; a
        listener that fails or ends is started again after a pause (1 s, doubling to a minute)."""
        key = entry.key
        flow = entry.flow
        where = f"trigger '{entry.trigger.id}' of flow {flow.namespace}.{flow.id}"
        pause = 1.0
        while self._running:
            row = self.runtime.db.triggers.get(*key)
            state = from_record(row) if row is not None else self._first_state(entry)
            ctx = TriggerContext(
                self.runtime, namespace=flow.namespace, flow_id=flow.id, trigger_id=entry.trigger.id,
                variables=self._variables(flow), memory=state.memory, now=self._clock(),
            )
            events = entry.trigger.events(ctx)
            try:
                log.info("%s: listening", where)
                async for event in events:
                    if not self._hand_over(entry, ctx, event):
                        return  # disabled, or another scheduler listens now
                    pause = 1.0
                log.warning("%s: its listener ended; it starts again in %.0f s", where, pause)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = f"{where}: the listener failed: {self.runtime.masker.mask(str(exc)) or type(exc).__name__}"
                log.warning("%s; it starts again in %.0f s", error, pause)
                if entry.trigger.fail_on_trigger_error:
                    with self.runtime.db.transaction() as conn:
                        self._failed(flow, _new_id(), {}, {"id": entry.trigger.id, "type": entry.type_name}, error, conn)
            finally:
                close = getattr(events, "aclose", None)
                if close is not None:
                    with contextlib.suppress(Exception):
                        await close()
            await asyncio.sleep(pause)
            pause = min(pause * 2, LISTENER_MAX_BACKOFF)

    def _hand_over(self, entry: _Entry, ctx: TriggerContext, event: Any) -> bool:
        """One event of a listener: its execution (unless the conditions say no) is created with
        the listener's memory in one transaction. False when the listener must stop."""
        flow = entry.flow
        where = f"trigger '{entry.trigger.id}' of flow {flow.namespace}.{flow.id}"
        now = self._clock()
        fire = event is not None
        if fire and entry.conditions:
            variables = {**self._variables(flow), "trigger": dict(event.variables)}
            try:
                fire = self._conditions.test_all(entry.conditions, variables)
            except Exception as exc:
                log.warning("%s: its conditions cannot be evaluated, the event is skipped: %s", where, self.runtime.masker.mask(str(exc)))
                fire = False
        db = self.runtime.db
        ex = None
        with db.transaction() as conn:
            db.triggers.lock(conn, *entry.key)
            row = db.triggers.get(*entry.key, conn=conn)
            current = from_record(row) if row is not None else self._first_state(entry)
            if current.disabled or current.listener != self._owner:
                return False
            new = replace(current, memory=dict(ctx.memory))
            if fire:
                ex = self._create(entry, Fire(now, event), conn)
                new = replace(new, date=now)
                if ex.state.current.is_terminated:  # it could not start: its stopAfter may apply
                    stop = {str(s).upper() for s in (entry.trigger.stop_after or ())}
                    new = replace(new, disabled=new.disabled or ex.state.current.value in stop)
            if new != current:
                new = from_record(db.triggers.save(to_record(new), conn=conn))
        self._states[entry.key] = new
        if ex is not None:
            log.info("%s: execution %s created", where, ex.id)
        return not new.disabled

    # -- administration (what the API's trigger endpoints call) ---------------------------------

    def triggers(self, namespace: str | None = None, flow_id: str | None = None) -> list[TriggerState]:
        """The stored state of every trigger (of a namespace, of a flow)."""
        return [from_record(row) for row in self.runtime.db.triggers.list(namespace, flow_id)]

    def _entry_for(self, namespace: str, flow_id: str, trigger_id: str) -> _Entry:
        key = (namespace, flow_id, trigger_id)
        if key not in self._entries and key not in self._flow_entries and key not in self._realtime:
            self.refresh()
        entry = self._entries.get(key) or self._flow_entries.get(key) or self._realtime.get(key)
        if entry is None:
            type_name = self._type_of(key)
            if type_name is None:
                raise TercelError(f"flow {namespace}.{flow_id} has no trigger {trigger_id!r}")
            raise TercelError(f"trigger {trigger_id!r} of flow {namespace}.{flow_id} is a {type_name}: the scheduler does not fire it")
        return entry

    def _type_of(self, key: Key) -> str | None:
        """The type of any trigger of a live flow (None when the flow has no such trigger)."""
        loaded = self._flows.get(key[:2])
        return None if loaded is None else loaded.types.get(key[2])

    def _change(self, entry: _Entry, change: Callable[[TriggerState], TriggerState]) -> TriggerState:
        return self._change_row(entry.key, lambda: self._first_state(entry), change)

    def _change_row(
        self, key: Key, first: Callable[[], TriggerState], change: Callable[[TriggerState], TriggerState]
    ) -> TriggerState:
        db = self.runtime.db
        with db.transaction() as conn:
            db.triggers.lock(conn, *key)
            row = db.triggers.get(*key, conn=conn)
            current = from_record(row) if row is not None else first()
            new = from_record(db.triggers.save(to_record(change(current)), conn=conn))
        self._states[key] = new
        self._poke()
        return new

    def _first_state(self, entry: _Entry) -> TriggerState:
        """The state of a trigger not looked at yet, as its first look would make it."""
        blank = blank_state(*entry.key, entry.type_name)
        if entry.kind in ("flow", "realtime"):
            return replace(blank, definition=entry.definition)
        now = self._clock()
        if entry.kind == "schedule":
            return decide_schedule(entry.trigger, blank, now, definition=entry.definition, accept=self._accept(entry)).state
        return plan_poll(entry.trigger, blank, now, definition=entry.definition).state

    def set_disabled(self, namespace: str, flow_id: str, trigger_id: str, disabled: bool) -> TriggerState:
        """Disable a trigger, or enable it again (it then goes on from now: the dates missed
        while it was disabled are not created). Any trigger of a flow: for one the scheduler
        does not fire (a Webhook), the flag is stored for whoever fires it to read."""
        key = (namespace, flow_id, trigger_id)
        try:
            entry = self._entry_for(namespace, flow_id, trigger_id)
        except TercelError:
            type_name = self._type_of(key)
            if type_name is None:
                raise
            return self._change_row(key, lambda: blank_state(*key, type_name), lambda s: replace(s, disabled=disabled))
        if disabled:
            return self._change(entry, lambda s: replace(s, disabled=True))
        if entry.kind in ("flow", "realtime"):  # nothing to recompute: it hears what comes next
            return self._change(entry, lambda s: replace(s, disabled=False))
        now = self._clock()
        accept = self._accept(entry) if entry.kind == "schedule" else None
        return self._change(entry, lambda s: enable(entry.trigger, s, now, accept=accept) if s.disabled else s)

    def unlock(self, namespace: str, flow_id: str, trigger_id: str) -> TriggerState:
        """Stop waiting for the trigger's execution (for one stuck): its next date may fire
        while that execution still runs."""
        entry = self._entry_for(namespace, flow_id, trigger_id)
        return self._change(entry, lambda s: replace(s, execution_id=None, execution_state=None))

    def backfill(
        self,
        namespace: str,
        flow_id: str,
        trigger_id: str,
        start: datetime,
        end: datetime | None = None,
        *,
        inputs: Mapping[str, Any] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> TriggerState:
        """Create the executions of a schedule's dates from `start` to `end` (default now),
        one after the other, each with its date, inputs and labels."""
        entry = self._entry_for(namespace, flow_id, trigger_id)
        if entry.kind != "schedule":
            raise TercelError(f"trigger {trigger_id!r} of flow {namespace}.{flow_id} is not a schedule: it cannot be backfilled")
        for name, value in (("start", start), ("end", end)):
            if value is not None and value.tzinfo is None:
                raise TercelError(f"backfill {name} {value.isoformat()} has no time zone")
            try:
                if value is not None:
                    value.astimezone(UTC)
            except OverflowError:
                raise TercelError(f"backfill {name} {value.isoformat()} is out of range: in UTC it falls outside the years 1-9999") from None
        now = self._clock()
        return self._change(
            entry, lambda s: backfill_state(s, now, start, end, inputs=inputs, labels=labels, source="api")
        )

    def cancel_backfill(self, namespace: str, flow_id: str, trigger_id: str) -> TriggerState:
        """Stop a backfill in progress (the executions it created stay)."""
        entry = self._entry_for(namespace, flow_id, trigger_id)
        return self._change(entry, lambda s: replace(s, backfill=None))


def _new_id() -> str:
    from tercel.runtime._runtime import new_id

    return new_id()


def _derived_id(*parts: str) -> str:
    """An execution id (Kestra's form: a UUID in base 62) that `parts` always give."""
    from tercel.runtime._runtime import base62

    return base62(uuid.uuid5(uuid.NAMESPACE_URL, "tercel:" + "\x1f".join(parts)).int)
