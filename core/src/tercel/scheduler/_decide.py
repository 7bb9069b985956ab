"""The scheduler's decisions, pure: a trigger's definition, its state and `now` in, the new
state and the execution to create (if any) out. No database, no clock, no I/O.

A schedule trigger is anything with `next_date(after)` and `event(date)` (the SDK's
`ScheduleTrigger`); these are read too when present: `previous_date(before)`,
`recover_missed_schedules` (`ALL`, `LAST`, `NONE`), `late_maximum_delay` (a timedelta),
`backfill` (with `start`, `end`, `inputs`, `labels`, and the trigger's `backfill_window(now)`),
`disabled` and `stop_after`. Conditions come in as `accept(date) -> bool`, which may raise when
a condition cannot be evaluated.

The rules, Kestra's:

- A new trigger's first date is the first one after now (it never fires for the past, except
  for a `backfill`). When what decides the dates changes (cron, timezone, conditions…), the
  next date is computed afresh from now.
- Runs of one trigger never overlap: while the execution it started has not ended, nothing
  fires; the dates that came meanwhile wait for it to end.
- Dates that were missed, because the scheduler was down (`recovering`, on its first look at a
  trigger) or the trigger was busy, are created as `recoverMissedSchedules` says: `ALL` (the
  default) one after the other, `LAST` only the latest, `NONE` none. A date less than `grace`
  late is not missed, it is on time.
- When the execution ends in a state of `stopAfter`, the trigger is disabled. A disabled
  trigger lets its dates pass without executions (nothing piles up for when it is enabled).
- A backfill creates the executions of its dates first, one after the other, then the schedule
  goes on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from tercel_sdk import State, TriggerEvent

from ._model import Backfill, TriggerState

__all__ = [
    "GRACE",
    "Accept",
    "Fire",
    "Outcome",
    "PollPlan",
    "ScheduleLike",
    "backfill_state",
    "decide_schedule",
    "enable",
    "next_accepted",
    "plan_poll",
    "previous_accepted",
    "release",
]

Accept = Callable[[datetime], bool]

#: How late a date may be and still count as on time (not missed) when recovering.
GRACE = timedelta(seconds=1)
#: How many dates the conditions may refuse in a row before the search gives up (the date
#: found then is checked again when it is due, and skipped if the conditions still refuse it).
MAX_CANDIDATES = 1000
_TICK = timedelta(microseconds=1)


class ScheduleLike(Protocol):
    def next_date(self, after: datetime) -> datetime | None: ...

    def event(self, date: datetime) -> TriggerEvent: ...


@dataclass(frozen=True)
class Fire:
    """An execution to create for `date`.

    `event` carries the trigger's variables (`trigger.*`), inputs and labels, unrendered;
    `backfill` the backfill the date belongs to (its inputs and labels are added). `error` says
    the conditions could not be evaluated: the execution is created FAILED with it, as Kestra
    does, so the failure is seen instead of retried every second.
    """

    date: datetime
    event: TriggerEvent
    backfill: Backfill | None = None
    error: str | None = None


@dataclass(frozen=True)
class Outcome:
    """The new state, and what happened: `fire` to create, the execution `released` (ended),
    whether `stopAfter` just disabled the trigger, dates `skipped`."""

    state: TriggerState
    fire: Fire | None = None
    released: str | None = None
    stopped: bool = False
    skipped: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class PollPlan:
    """For a polling trigger: the new state and whether to check now (`due`: the state claims
    the check, its next date moved one interval ahead, so no other scheduler checks too)."""

    state: TriggerState
    due: bool = False
    released: str | None = None
    stopped: bool = False


# -- dates ---------------------------------------------------------------------------------------


def next_accepted(trigger: ScheduleLike, after: datetime, accept: Accept | None = None) -> datetime | None:
    """The first date strictly after `after` that the conditions accept."""
    candidate = trigger.next_date(after)
    if accept is None:
        return candidate
    for _ in range(MAX_CANDIDATES):
        if candidate is None:
            return None
        try:
            if accept(candidate):
                return candidate
        except Exception:
            return candidate  # cannot tell now: it is checked again when due
        candidate = trigger.next_date(candidate)
    return candidate


def previous_accepted(
    trigger: Any, before: datetime, accept: Accept | None = None, *, floor: datetime | None = None
) -> datetime | None:
    """The last date strictly before `before` the conditions accept (not before `floor`);
    None when the trigger cannot tell its previous dates."""
    previous = getattr(trigger, "previous_date", None)
    if previous is None:
        return None
    candidate = previous(before)
    for _ in range(MAX_CANDIDATES):
        if candidate is None or (floor is not None and candidate < floor):
            return None
        try:
            if accept is None or accept(candidate):
                return candidate
        except Exception:
            return candidate
        candidate = previous(candidate)
    return None


def _last_due(trigger: ScheduleLike, first: datetime, now: datetime, accept: Accept | None) -> datetime:
    """The latest accepted date at or before `now`, `first` (a due date) at the earliest."""
    latest = previous_accepted(trigger, now + _TICK, accept, floor=first)
    if latest is not None:
        return latest
    if getattr(trigger, "previous_date", None) is not None:
        return first
    last = first
    for _ in range(100_000):  # a trigger that only knows how to go forward
        following = next_accepted(trigger, last, accept)
        if following is None or following > now:
            break
        last = following
    return last


def _event(trigger: ScheduleLike, date: datetime, following: datetime | None, accept: Accept | None) -> TriggerEvent:
    """The trigger's event for `date`, with `next`/`previous` that respect the conditions."""
    event = trigger.event(date)
    if accept is None:
        return event
    variables = dict(event.variables)
    if "next" in variables and following is not None:
        variables["next"] = following
    if "previous" in variables:
        previous = previous_accepted(trigger, date, accept)
        if previous is not None:
            variables["previous"] = previous
    return replace(event, variables=variables)


def _terminated(state: str) -> bool:
    try:
        return State(state).is_terminated
    except ValueError:
        return True  # a state this tercel does not know cannot be waited for


# -- decisions -----------------------------------------------------------------------------------


def release(state: TriggerState, trigger: Any) -> tuple[TriggerState, bool]:
    """The execution the trigger waited for ended (or is gone): free the trigger, and disable
    it when the execution ended in one of `stopAfter`'s states. Returns (state, stopped)."""
    ended = state.execution_state
    stop_after = {str(s).upper() for s in (getattr(trigger, "stop_after", None) or ())}
    stopped = ended is not None and ended.upper() in stop_after
    return replace(state, execution_id=None, execution_state=None, disabled=state.disabled or stopped), stopped


def _backfill_key(spec: Any) -> str:
    """A digest of a backfill definition: the same one is run once, a changed one again."""
    if hasattr(spec, "model_dump"):
        data = spec.model_dump(mode="json")
    else:
        data = {name: getattr(spec, name, None) for name in ("start", "end", "inputs", "labels")}
    text = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _labels(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if hasattr(value, "label_map"):
        return value.label_map()
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    return {str(item.key if hasattr(item, "key") else item["key"]): str(item.value if hasattr(item, "value") else item["value"]) for item in value}


def _sync_backfill(trigger: Any, state: TriggerState, now: datetime) -> TriggerState:
    """Start the flow's `backfill` the first time it is seen (a changed one starts again);
    drop a flow backfill in progress whose definition was removed."""
    spec = getattr(trigger, "backfill", None)
    if spec is None:
        if state.backfill is not None and state.backfill.source == "flow":
            return replace(state, backfill=None, backfill_key=None)
        return replace(state, backfill_key=None) if state.backfill_key is not None else state
    key = _backfill_key(spec)
    if key == state.backfill_key:
        return state
    window = trigger.backfill_window(now) if hasattr(trigger, "backfill_window") else (spec.start, spec.end or now)
    start, end = window
    return backfill_state(
        replace(state, backfill_key=key), now, start, end,
        inputs=getattr(spec, "inputs", None), labels=_labels(getattr(spec, "labels", None)), source="flow",
    )


def backfill_state(
    state: TriggerState,
    now: datetime,
    start: datetime,
    end: datetime | None = None,
    *,
    inputs: Mapping[str, Any] | None = None,
    labels: Mapping[str, str] | None = None,
    source: str = "api",
) -> TriggerState:
    """The state with a backfill of the dates from `start` to `end` (default and at most
    `now`: later dates belong to the schedule itself)."""
    last = now if end is None else min(end, now)
    if start > last:
        return replace(state, backfill=None)
    return replace(
        state,
        backfill=Backfill(
            current=start, end=last, inputs=dict(inputs) if inputs else None,
            labels=dict(labels) if labels else None, source=source, start=start,
        ),
    )


def decide_schedule(
    trigger: ScheduleLike,
    state: TriggerState,
    now: datetime,
    *,
    definition: str,
    accept: Accept | None = None,
    recovering: bool = False,
    grace: timedelta = GRACE,
) -> Outcome:
    """What a schedule trigger does at `now`: at most one execution (runs never overlap).

    `definition` is the fingerprint of what decides its dates (`definition_fingerprint`);
    `recovering` is true on the scheduler's first look at the trigger after it started.
    """
    released: str | None = None
    stopped = False
    if state.definition != definition:  # new, or its dates changed: from now on
        state = replace(state, definition=definition, next_date=next_accepted(trigger, now, accept))
        recovering = False

    if state.execution_id is not None:
        if state.execution_state is not None and not _terminated(state.execution_state):
            return Outcome(state)  # it still runs: the next date waits for it
        released = state.execution_id
        state, stopped = release(state, trigger)
        recovering = True  # the dates that came while it ran are missed ones

    state = _sync_backfill(trigger, state, now)

    if getattr(trigger, "disabled", False) or state.disabled:
        if state.next_date is not None and state.next_date <= now:
            state = replace(state, next_date=next_accepted(trigger, now, accept))
        return Outcome(state, released=released, stopped=stopped)

    backfill = state.backfill
    if backfill is not None and not backfill.paused:
        date = next_accepted(trigger, backfill.current - _TICK, accept)
        if date is None or date > backfill.end:
            state = replace(state, backfill=None)
            recovering = True  # the schedule's own dates that came meanwhile
        else:
            following = trigger.next_date(date)
            rest = None if following is None or following > backfill.end else replace(backfill, current=following)
            state = replace(state, date=date, backfill=rest)
            fire = Fire(date, _event(trigger, date, next_accepted(trigger, date, accept), accept), backfill=backfill)
            return Outcome(state, fire, released=released, stopped=stopped)

    due = state.next_date
    if due is None or due > now:
        return Outcome(state, released=released, stopped=stopped)

    skipped: list[datetime] = []
    if recovering and due < now - grace:
        policy = str(getattr(trigger, "recover_missed_schedules", None) or "ALL").upper()
        if policy == "NONE":
            state = replace(state, next_date=next_accepted(trigger, now, accept))
            return Outcome(state, released=released, stopped=stopped, skipped=(due,))
        if policy == "LAST":
            latest = _last_due(trigger, due, now, accept)
            if latest != due:
                skipped.append(due)
            due = latest

    delay = getattr(trigger, "late_maximum_delay", None)
    if isinstance(delay, timedelta) and due + delay < now:
        skipped.append(due)
        later = next_accepted(trigger, now - delay - _TICK, accept)  # the first one still in time
        if later is None or later > now:
            state = replace(state, next_date=later if later is not None else None)
            return Outcome(state, released=released, stopped=stopped, skipped=tuple(skipped))
        due = later

    error = None
    if accept is not None:
        try:
            accepted = accept(due)
        except Exception as exc:
            accepted, error = True, f"the conditions of trigger '{state.trigger_id}' could not be evaluated: {exc}"
        if not accepted:  # the conditions changed their mind since the date was computed
            state = replace(state, next_date=next_accepted(trigger, due, accept))
            return Outcome(state, released=released, stopped=stopped, skipped=(*skipped, due))

    following = next_accepted(trigger, due, accept)
    state = replace(state, date=due, next_date=following)
    fire = Fire(due, _event(trigger, due, following, accept), error=error)
    return Outcome(state, fire, released=released, stopped=stopped, skipped=tuple(skipped))


def plan_poll(trigger: Any, state: TriggerState, now: datetime, *, definition: str) -> PollPlan:
    """Whether a polling trigger checks now (it does when its interval has passed, it is
    enabled and its last execution has ended)."""
    released: str | None = None
    stopped = False
    if state.definition != definition:  # new or changed: check right away
        state = replace(state, definition=definition, next_date=now)
    if state.execution_id is not None:
        if state.execution_state is not None and not _terminated(state.execution_state):
            return PollPlan(state)
        released = state.execution_id
        state, stopped = release(state, trigger)
    if getattr(trigger, "disabled", False) or state.disabled:
        return PollPlan(state, released=released, stopped=stopped)
    if state.next_date is not None and state.next_date > now:
        return PollPlan(state, released=released, stopped=stopped)
    interval = getattr(trigger, "interval", None)
    if not isinstance(interval, timedelta) or interval <= timedelta(0):
        interval = timedelta(minutes=1)
    return PollPlan(replace(state, next_date=now + interval), True, released, stopped)


def enable(trigger: Any, state: TriggerState, now: datetime, *, accept: Accept | None = None) -> TriggerState:
    """Enable a disabled trigger again: it goes on from now (dates missed while it was
    disabled are not recovered, as in Kestra)."""
    if hasattr(trigger, "next_date"):
        return replace(state, disabled=False, next_date=next_accepted(trigger, now, accept))
    return replace(state, disabled=False, next_date=now)
