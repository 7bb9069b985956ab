"""The scheduler: runs next to a `Runtime`, fires schedule triggers and checks polling triggers.

It reads the latest revision of every live flow (`runtime.db.flows.list()`, again every
`flows_interval` seconds or as soon as `flows_changed()` is called), keeps the schedule and
polling triggers it finds, and every `interval` seconds (or sooner, when a date is due or an
execution it started ended) asks the pure decisions of `_decide` what to do with each.

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
import inspect
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tercel_sdk import State

from tercel.errors import TercelError

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
from ._model import TriggerState, blank_state, definition_fingerprint, from_record, to_record

if TYPE_CHECKING:
    from tercel.engine import Execution
    from tercel.flows import Flow
    from tercel.runtime import Runtime
    from tercel.store._connection import Conn

__all__ = ["Scheduler"]

log = logging.getLogger("tercel.scheduler")

Key = tuple[str, str, str]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Entry:
    """One schedule or polling trigger of a live flow, loaded and validated."""

    flow: Flow
    spec: dict[str, Any]
    trigger: Any
    kind: str  # "schedule" or "polling"
    definition: str
    conditions: list[dict[str, Any]]

    @property
    def key(self) -> Key:
        return (self.flow.namespace, self.flow.id, self.trigger.id)

    @property
    def type_name(self) -> str:
        return str(self.spec.get("type"))


@dataclass
class _LoadedFlow:
    revision: int
    entries: list[_Entry]
    trigger_ids: set[str] | None  # None: the flow could not be loaded (its rows are kept)


class Scheduler:
    """Fires the schedule and polling triggers of the flows a runtime stores."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        clock: Callable[[], datetime] | None = None,
        interval: float = 1.0,
        flows_interval: float = 5.0,
        grace: float = GRACE.total_seconds(),
    ) -> None:
        self.runtime = runtime
        self._clock = clock or _utcnow
        self._interval = interval
        self._flows_interval = flows_interval
        self._grace = timedelta(seconds=grace)
        self._conditions = Conditions(runtime.plugins, runtime.expressions)
        self._flows: dict[tuple[str, str], _LoadedFlow] = {}
        self._entries: dict[Key, _Entry] = {}
        self._states: dict[Key, TriggerState] = {}
        self._seen: set[Key] = set()  # triggers looked at since start: missed dates are recovered once
        self._dirty = True
        self._last_refresh = float("-inf")
        self._polls: dict[Key, asyncio.Task[Any]] = {}
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
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._running = True
        self._listen()
        self._dirty = True
        self._task = asyncio.create_task(self._run(), name="tercel-scheduler")

    async def stop(self) -> None:
        """Stop the loop and wait for the checks under way; nothing is left half done."""
        self._running = False
        if self._wake is not None:
            self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=30)
        polls = list(self._polls.values())
        if polls:
            await asyncio.wait(polls, timeout=30)
        self._polls.clear()

    def _listen(self) -> None:
        if self._listening:
            return
        self._listening = True
        self.runtime.add_finished_listener(self._on_finished)
        self.runtime.add_flow_listener(self.flows_changed)

    def _on_finished(self, ex: Execution) -> None:
        """An execution ended in this process: if a trigger of ours waits for it, look now."""
        trigger = ex.trigger or {}
        if self._running and (ex.namespace, ex.flow_id, trigger.get("id")) in self._entries:
            self._poke()

    def flows_changed(self, *_: Any) -> None:
        """Flows were saved or deleted: read them again before the next look (thread-safe)."""
        self._dirty = True
        self._poke()

    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is None or wake is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            wake.set()
        else:
            loop.call_soon_threadsafe(wake.set)

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
        self._entries = {entry.key: entry for loaded in live.values() for entry in loaded.entries}
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
            flow = load_flow(record.source, self.runtime.plugins, name=name)
        except Exception as exc:
            log.error("flow %s revision %s cannot be loaded, its triggers wait: %s", name, record.revision, exc)
            if known is not None:
                return _LoadedFlow(record.revision, known.entries, known.trigger_ids)
            return _LoadedFlow(record.revision, [], None)
        flow.revision = record.revision
        entries: list[_Entry] = []
        ids: set[str] = set()
        for spec in flow.spec.get("triggers") or ():
            if not isinstance(spec, Mapping) or not isinstance(spec.get("id"), str):
                continue
            ids.add(spec["id"])
            entry = self._entry(flow, dict(spec))
            if entry is not None:
                entries.append(entry)
        return _LoadedFlow(record.revision, entries, ids)

    def _entry(self, flow: Flow, spec: dict[str, Any]) -> _Entry | None:
        from tercel_sdk import PollingTrigger, ScheduleTrigger

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
        else:
            return None  # Flow, Webhook, realtime triggers: not the scheduler's
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
        if self._dirty or time.monotonic() - self._last_refresh >= self._flows_interval:
            self.refresh()

    # -- one look ------------------------------------------------------------------------------

    async def tick(self, *, wait_polls: bool = True) -> list[Execution]:
        """Look at every trigger once at `clock()`; returns the executions created by schedules
        (and by the polling checks when `wait_polls`, which waits for them to end)."""
        self._refresh_if_due()
        now = self._clock()
        rows = {row.key: row for row in self.runtime.db.triggers.list()}
        created: list[Execution] = []
        polls: list[asyncio.Task[Any]] = []
        for entry in list(self._entries.values()):
            row = rows.get(entry.key)
            state = from_record(row) if row is not None else blank_state(*entry.key, entry.type_name)
            try:
                if entry.kind == "schedule":
                    ex = self._tick_schedule(entry, state, now)
                    if ex is not None:
                        created.append(ex)
                elif entry.key not in self._polls:
                    task = self._start_poll(entry, state, now)
                    if task is not None:
                        polls.append(task)
            except Exception:
                log.exception("trigger '%s' of flow %s.%s: the scheduler failed to handle it", *entry.key[2:], *entry.key[:2])
        if wait_polls and polls:
            for result in await asyncio.gather(*polls, return_exceptions=True):
                if isinstance(result, list):
                    created.extend(result)
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

    def _functions(self, flow_namespace: str) -> dict[str, Callable[..., Any]]:
        """`secret()` and `kv()` for the flow's namespace (the execution-bound ones need an execution)."""
        runtime = self.runtime

        def secret(name: str) -> str:
            value = runtime.secrets.get(flow_namespace, str(name))
            runtime.masker.add(value)
            return value

        def kv(key: str, namespace: str | None = None, errorOnMissing: bool = True) -> Any:
            target = namespace or flow_namespace
            value = runtime.kv.get(target, str(key))
            if value is None and errorOnMissing:
                raise TercelError(f"kv key {key!r} not found in namespace {target!r}")
            return value

        return {"secret": secret, "kv": kv}

    def _variables(self, flow: Flow, **extra: Any) -> dict[str, Any]:
        from tercel.expressions import CONTEXT_FUNCTIONS_KEY

        return {
            "flow": {"id": flow.id, "namespace": flow.namespace, "revision": flow.revision, "tenantId": None},
            "vars": flow.variables,
            "envs": dict(self.runtime.envs),
            "labels": flow.labels,
            CONTEXT_FUNCTIONS_KEY: self._functions(flow.namespace),
            **extra,
        }

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

    def _create(self, entry: _Entry, fire: Fire, conn: Conn) -> Execution:
        """Create the execution of one firing in `conn`'s transaction: queued to start, or, when
        its inputs or the trigger's conditions fail, stored FAILED with the reason."""
        from tercel.runtime._runtime import new_id

        flow = entry.flow
        variables = dict(fire.event.variables)
        trigger_vars = {**variables, "id": entry.trigger.id, "type": entry.type_name}
        context = self._variables(flow, trigger=variables)
        where = f"trigger '{entry.trigger.id}' of flow {flow.namespace}.{flow.id}"
        execution_id = new_id()
        labels = self._render_labels(fire.event.labels, context, where)
        if fire.backfill is not None:
            labels.update(self._render_labels(fire.backfill.labels, context, where))
        labels["system.correlationId"] = execution_id
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

    # -- polling triggers ----------------------------------------------------------------------

    def _start_poll(self, entry: _Entry, state: TriggerState, now: datetime) -> asyncio.Task[Any] | None:
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
        self._states[entry.key] = saved
        if plan.stopped:
            log.info("trigger '%s' of flow %s.%s is disabled: its execution ended in a state of stopAfter", entry.key[2], *entry.key[:2])
        if not plan.due:
            return None
        task = asyncio.create_task(self._poll(entry, saved, now), name=f"tercel-poll-{'.'.join(entry.key)}")
        self._polls[entry.key] = task
        task.add_done_callback(lambda _t, key=entry.key: self._polls.pop(key, None))
        return task

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

    # -- administration (what the API's trigger endpoints call) ---------------------------------

    def triggers(self, namespace: str | None = None, flow_id: str | None = None) -> list[TriggerState]:
        """The stored state of every trigger (of a namespace, of a flow)."""
        return [from_record(row) for row in self.runtime.db.triggers.list(namespace, flow_id)]

    def _entry_for(self, namespace: str, flow_id: str, trigger_id: str) -> _Entry:
        key = (namespace, flow_id, trigger_id)
        if key not in self._entries:
            self.refresh()
        entry = self._entries.get(key)
        if entry is None:
            raise TercelError(f"flow {namespace}.{flow_id} has no schedule or polling trigger {trigger_id!r}")
        return entry

    def _change(self, entry: _Entry, change: Callable[[TriggerState], TriggerState]) -> TriggerState:
        db = self.runtime.db
        with db.transaction() as conn:
            db.triggers.lock(conn, *entry.key)
            row = db.triggers.get(*entry.key, conn=conn)
            current = from_record(row) if row is not None else self._first_state(entry)
            new = from_record(db.triggers.save(to_record(change(current)), conn=conn))
        self._states[entry.key] = new
        self._poke()
        return new

    def _first_state(self, entry: _Entry) -> TriggerState:
        """The state of a trigger not looked at yet, as its first look would make it."""
        blank = blank_state(*entry.key, entry.type_name)
        now = self._clock()
        if entry.kind == "schedule":
            return decide_schedule(entry.trigger, blank, now, definition=entry.definition, accept=self._accept(entry)).state
        return plan_poll(entry.trigger, blank, now, definition=entry.definition).state

    def set_disabled(self, namespace: str, flow_id: str, trigger_id: str, disabled: bool) -> TriggerState:
        """Disable a trigger, or enable it again (it then goes on from now: the dates missed
        while it was disabled are not created)."""
        entry = self._entry_for(namespace, flow_id, trigger_id)
        if disabled:
            return self._change(entry, lambda s: replace(s, disabled=True))
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
