"""The scheduler's decisions, pure: a trigger, its state and `now` in; the new state and the
execution to create out. No database, no clock: time is whatever the test says."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tercel.scheduler import (
    Backfill,
    TriggerState,
    backfill_state,
    blank_state,
    decide_schedule,
    enable,
    plan_poll,
)
from tercel_plugin_core.trigger import Schedule, ScheduleBackfill, ScheduleOnDates
from tercel_sdk import TriggerEvent

T0 = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)  # a Monday
DEF = "definition-1"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@dataclass
class Every:
    """A schedule firing every `minutes` on the minute grid from T0 (what a cron would do)."""

    minutes: int = 10
    id: str = "every"
    disabled: bool = False
    stop_after: list[str] | None = None
    recover_missed_schedules: str | None = None
    late_maximum_delay: timedelta | None = None
    backfill: Any = None
    conditions: list[Any] = field(default_factory=list)

    def next_date(self, after: datetime) -> datetime | None:
        step = timedelta(minutes=self.minutes)
        n = (after - T0) // step + 1
        return T0 + n * step

    def previous_date(self, before: datetime) -> datetime | None:
        step = timedelta(minutes=self.minutes)
        n = -((T0 - before) // step) - 1
        return T0 + n * step

    def event(self, date: datetime) -> TriggerEvent:
        return TriggerEvent(
            variables={"date": date, "next": self.next_date(date), "previous": self.previous_date(date)},
            inputs={"day": "{{ trigger.date }}"},
            labels={"kind": "scheduled"},
        )


def fresh(trigger: Any = None) -> TriggerState:
    return blank_state("ns", "flow", "every", "test.Every")


def seen(next_date: datetime, **changes: Any) -> TriggerState:
    """A trigger already known to the scheduler, its next date `next_date`."""
    return replace(fresh(), definition=DEF, next_date=next_date, **changes)


def running(state: TriggerState, execution_state: str = "RUNNING") -> TriggerState:
    return replace(state, execution_id="ex-1", execution_state=execution_state)


def decide(trigger: Any, state: TriggerState, now: datetime, **kwargs: Any) -> Any:
    return decide_schedule(trigger, state, now, definition=DEF, **kwargs)


# -- first look, firing --------------------------------------------------------------------------


def test_a_new_trigger_starts_after_now_and_fires_nothing_for_the_past() -> None:
    outcome = decide(Every(), fresh(), at(3))
    assert outcome.fire is None
    assert outcome.state.next_date == at(10)
    assert outcome.state.definition == DEF
    assert outcome.state.date is None


def test_a_due_date_fires_with_its_variables_and_the_state_moves_on() -> None:
    outcome = decide(Every(), seen(at(10)), at(10) + timedelta(milliseconds=300))
    assert outcome.fire is not None
    assert outcome.fire.date == at(10)
    assert outcome.fire.event.variables == {"date": at(10), "next": at(20), "previous": at(0)}
    assert outcome.fire.event.inputs == {"day": "{{ trigger.date }}"}
    assert (outcome.state.date, outcome.state.next_date) == (at(10), at(20))


def test_nothing_fires_before_the_date() -> None:
    state = seen(at(10))
    outcome = decide(Every(), state, at(9.99))
    assert outcome.fire is None and outcome.state == state


# -- no overlap ----------------------------------------------------------------------------------


@pytest.mark.parametrize("current", ["CREATED", "RUNNING", "PAUSED", "QUEUED", "RETRYING", "KILLING"])
def test_while_its_execution_has_not_ended_the_next_date_waits(current: str) -> None:
    state = running(seen(at(20), date=at(10)), current)
    outcome = decide(Every(), state, at(25))
    assert outcome.fire is None
    assert outcome.state == state  # still waiting, nothing lost


def test_when_the_execution_ends_the_waiting_date_fires_late() -> None:
    state = running(seen(at(20), date=at(10)), "SUCCESS")
    outcome = decide(Every(), state, at(23))
    assert outcome.released == "ex-1"
    assert outcome.fire is not None and outcome.fire.date == at(20)  # ALL: waited for, not lost
    assert outcome.state.execution_id is None
    assert outcome.state.next_date == at(30)


def test_an_execution_that_is_gone_frees_the_trigger() -> None:
    state = replace(seen(at(20), date=at(10)), execution_id="deleted", execution_state=None)
    outcome = decide(Every(), state, at(20))
    assert outcome.released == "deleted" and outcome.fire is not None


def test_dates_missed_while_busy_follow_recover_missed_schedules() -> None:
    # the 08:10 run took until 08:47: 08:20, 08:30 and 08:40 came meanwhile
    state = running(seen(at(20), date=at(10)), "SUCCESS")
    all_ = decide(Every(), state, at(47))
    assert all_.fire is not None and all_.fire.date == at(20)
    last = decide(Every(recover_missed_schedules="LAST"), state, at(47))
    assert last.fire is not None and last.fire.date == at(40) and last.state.next_date == at(50)
    none = decide(Every(recover_missed_schedules="NONE"), state, at(47))
    assert none.fire is None and none.state.next_date == at(50)
    assert none.skipped == (at(20),)


# -- stopAfter, disabled --------------------------------------------------------------------------


def test_stop_after_disables_the_trigger_when_its_execution_ends_in_one_of_the_states() -> None:
    state = running(seen(at(20), date=at(10)), "FAILED")
    outcome = decide(Every(stop_after=["FAILED"]), state, at(21))
    assert outcome.stopped and outcome.state.disabled and outcome.fire is None
    # another end state leaves it enabled
    ok = decide(Every(stop_after=["FAILED"]), running(seen(at(20), date=at(10)), "SUCCESS"), at(21))
    assert not ok.stopped and not ok.state.disabled and ok.fire is not None


def test_a_disabled_trigger_lets_its_dates_pass_and_enabling_goes_on_from_now() -> None:
    outcome = decide(Every(), seen(at(10), disabled=True), at(35))
    assert outcome.fire is None
    assert outcome.state.next_date == at(40)  # nothing piles up
    definition_disabled = decide(Every(disabled=True), seen(at(10)), at(35))
    assert definition_disabled.fire is None and definition_disabled.state.next_date == at(40)
    enabled = enable(Every(), replace(seen(at(10)), disabled=True), at(57))
    assert not enabled.disabled and enabled.next_date == at(60)


# -- recovery after downtime -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "fired", "next_date"),
    [(None, at(10), at(20)), ("ALL", at(10), at(20)), ("LAST", at(60), at(70)), ("NONE", None, at(70))],
)
def test_recovery_after_downtime(policy: str | None, fired: datetime | None, next_date: datetime) -> None:
    # last fired 08:00, the scheduler was down until 09:05: 08:10 … 09:00 were missed
    state = seen(at(10), date=at(0))
    outcome = decide(Every(recover_missed_schedules=policy), state, at(65), recovering=True)
    assert (outcome.fire.date if outcome.fire else None) == fired
    assert outcome.state.next_date == next_date


def test_all_recovers_every_missed_date_one_after_the_other() -> None:
    trigger = Every(recover_missed_schedules="ALL")
    state = seen(at(10), date=at(0))
    now = at(35)
    fired = []
    recovering = True
    for _ in range(10):
        outcome = decide(trigger, state, now, recovering=recovering)
        recovering = False
        if outcome.fire is None:
            break
        fired.append(outcome.fire.date)
        state = replace(outcome.state, execution_id=f"ex-{len(fired)}", execution_state="SUCCESS")
    assert fired == [at(10), at(20), at(30)]
    assert state.next_date == at(40)


def test_a_date_due_a_moment_ago_is_not_missed_even_with_none() -> None:
    outcome = decide(Every(recover_missed_schedules="NONE"), seen(at(10)), at(10) + timedelta(milliseconds=500), recovering=True)
    assert outcome.fire is not None and outcome.fire.date == at(10)


def test_late_dates_fire_when_not_recovering() -> None:
    # a slow loop is not downtime: the date fires late, whatever the policy
    outcome = decide(Every(recover_missed_schedules="NONE"), seen(at(10)), at(13))
    assert outcome.fire is not None and outcome.fire.date == at(10)


def test_late_maximum_delay_skips_dates_that_could_not_start_in_time() -> None:
    trigger = Every(late_maximum_delay=timedelta(minutes=5))
    outcome = decide(trigger, seen(at(10)), at(27))
    assert outcome.fire is None and outcome.state.next_date == at(30) and outcome.skipped == (at(10),)
    within = decide(trigger, seen(at(10)), at(24))
    assert within.fire is not None and within.fire.date == at(20)


# -- backfill --------------------------------------------------------------------------------------


def test_a_backfill_creates_its_dates_one_after_the_other_then_the_schedule_goes_on() -> None:
    spec = type("Spec", (), {"start": at(-30), "end": at(-10), "inputs": {"source": "backfill"}, "labels": {"reason": "outage"}})()
    trigger = Every(backfill=spec)
    state = seen(at(10), date=at(0))
    fired = []
    now = at(2)
    for _ in range(10):
        outcome = decide(trigger, state, now)
        if outcome.fire is None:
            state = outcome.state
            break
        assert outcome.fire.backfill is not None
        assert outcome.fire.backfill.inputs == {"source": "backfill"}
        assert outcome.fire.backfill.labels == {"reason": "outage"}
        fired.append(outcome.fire.date)
        state = replace(outcome.state, execution_id=f"ex-{len(fired)}", execution_state="RUNNING")
        assert decide(trigger, state, now).fire is None  # never two at once, during backfills too
        state = replace(state, execution_state="SUCCESS")
    assert fired == [at(-30), at(-20), at(-10)]
    assert state.backfill is None and state.backfill_key is not None
    assert state.next_date == at(10)  # the schedule's own next date is untouched
    # a backfill runs once: seen again (a restart, a new revision) it does not start over
    assert decide(trigger, state, at(3)).fire is None
    # a changed backfill is a new one
    spec2 = type("Spec", (), {"start": at(-20), "end": None, "inputs": None, "labels": None})()
    again = decide(Every(backfill=spec2), state, at(3))
    assert again.fire is not None and again.fire.date == at(-20)


def test_a_backfill_stops_at_now_and_an_api_backfill_is_kept_without_a_flow_one() -> None:
    state = backfill_state(seen(at(10)), at(5), at(-10), at(50), inputs={"x": 1})
    assert state.backfill is not None and state.backfill.end == at(5) and state.backfill.source == "api"
    outcome = decide(Every(), state, at(5))
    assert outcome.fire is not None and outcome.fire.date == at(-10) and outcome.fire.backfill is not None
    assert outcome.state.backfill is not None and outcome.state.backfill.current == at(0)
    assert backfill_state(seen(at(10)), at(5), at(6)).backfill is None  # nothing in the past to do


def test_the_flow_backfill_property_with_the_real_schedule() -> None:
    trigger = Schedule.model_validate({
        "id": "daily", "type": "tercel.core.trigger.Schedule", "cron": "0 6 * * *",
        "backfill": {"start": "2030-01-01T00:00:00Z", "labels": [{"key": "backfill", "value": "yes"}]},
    })
    now = datetime(2030, 1, 4, 12, 0, tzinfo=UTC)
    outcome = decide(trigger, fresh(), now)
    assert outcome.state.next_date == datetime(2030, 1, 5, 6, 0, tzinfo=UTC)
    assert outcome.fire is not None and outcome.fire.date == datetime(2030, 1, 1, 6, 0, tzinfo=UTC)
    assert outcome.fire.backfill is not None and outcome.fire.backfill.labels == {"backfill": "yes"}
    assert outcome.state.backfill == Backfill(
        current=datetime(2030, 1, 2, 6, 0, tzinfo=UTC), end=now, labels={"backfill": "yes"},
        source="flow", start=datetime(2030, 1, 1, 0, 0, tzinfo=UTC),
    )
    assert isinstance(trigger.backfill, ScheduleBackfill)


# -- conditions ----------------------------------------------------------------------------------


def test_conditions_filter_dates_and_next_previous_respect_them() -> None:
    # only dates at :00 and :30 pass
    def accept(date: datetime) -> bool:
        return date.minute in (0, 30)

    fresh_outcome = decide(Every(), fresh(), at(1), accept=accept)
    assert fresh_outcome.state.next_date == at(30)
    outcome = decide(Every(), seen(at(30)), at(30), accept=accept)
    assert outcome.fire is not None
    assert outcome.fire.event.variables == {"date": at(30), "next": at(60), "previous": at(0)}
    assert outcome.state.next_date == at(60)


def test_a_date_the_conditions_refuse_when_due_is_skipped() -> None:
    outcome = decide(Every(), seen(at(10)), at(10), accept=lambda d: False)
    assert outcome.fire is None and outcome.skipped == (at(10),)


def test_conditions_that_cannot_be_evaluated_fire_a_failed_execution() -> None:
    def broken(date: datetime) -> bool:
        raise ValueError("kv key 'x' not found")

    outcome = decide(Every(), seen(at(10)), at(10), accept=broken)
    assert outcome.fire is not None and outcome.fire.error is not None
    assert "could not be evaluated" in outcome.fire.error and "kv key 'x'" in outcome.fire.error
    assert outcome.state.next_date == at(20)  # not retried every second


def test_a_changed_definition_starts_again_from_now() -> None:
    state = seen(at(10), date=at(0))
    outcome = decide_schedule(Every(minutes=15), state, at(40), definition="definition-2", recovering=True)
    assert outcome.fire is None
    assert outcome.state.next_date == at(45) and outcome.state.definition == "definition-2"


# -- ScheduleOnDates ---------------------------------------------------------------------------------


def test_schedule_on_dates_fires_each_date_once_then_never_again() -> None:
    trigger = ScheduleOnDates.model_validate({
        "id": "dates", "type": "io.kestra.plugin.core.trigger.ScheduleOnDates",
        "dates": ["2030-01-07T09:00:00Z", "2030-01-07T08:30:00Z"],
    })
    outcome = decide(trigger, fresh(), at(0))
    assert outcome.state.next_date == at(30)
    first = decide(trigger, outcome.state, at(30))
    assert first.fire is not None and first.fire.event.variables == {"date": at(30)}
    second = decide(trigger, first.state, at(60))
    assert second.fire is not None and second.fire.date == at(60)
    assert second.state.next_date is None
    assert decide(trigger, second.state, at(600)).fire is None


# -- polling ---------------------------------------------------------------------------------------


@dataclass
class Poller:
    id: str = "poll"
    interval: timedelta = timedelta(seconds=30)
    disabled: bool = False
    stop_after: list[str] | None = None


def test_a_polling_trigger_checks_at_once_then_every_interval_and_never_while_its_execution_runs() -> None:
    plan = plan_poll(Poller(), fresh(), at(0), definition=DEF)
    assert plan.due and plan.state.next_date == at(0.5)  # claimed: nobody else checks before
    assert not plan_poll(Poller(), plan.state, at(0.25), definition=DEF).due
    assert plan_poll(Poller(), plan.state, at(0.5), definition=DEF).due
    busy = running(plan.state)
    assert not plan_poll(Poller(), busy, at(5), definition=DEF).due
    ended = plan_poll(Poller(stop_after=["SUCCESS"]), replace(busy, execution_state="SUCCESS"), at(5), definition=DEF)
    assert ended.released == "ex-1" and ended.stopped and not ended.due and ended.state.disabled
    assert not plan_poll(Poller(disabled=True), fresh(), at(0), definition=DEF).due
