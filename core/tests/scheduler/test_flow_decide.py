"""Flow triggers, the pure part: an ended execution, a trigger and its state in; whether it fires
and the new state out. No database, no clock: time is whatever the test says. The triggers are
the real `tercel.core.trigger.Flow`; the executions real `Execution` objects."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from tercel.engine import Execution, RunState, TaskRun
from tercel.scheduler import (
    Progress,
    TriggerState,
    blank_state,
    decide_flow,
    execution_variables,
    from_record,
    listens,
    nested_labels,
    stop_after,
    to_record,
    trigger_variables,
)
from tercel_plugin_core.trigger import Flow
from tercel_sdk import State

NS = "company.team"
T0 = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)  # a Monday


def at(minutes: float, *, day: int = 0) -> datetime:
    return T0 + timedelta(days=day, minutes=minutes)


def flow_trigger(**props: Any) -> Flow:
    return Flow.model_validate({"id": "after", "type": "tercel.core.trigger.Flow", **props})


def both(**window: Any) -> Flow:
    """Waits for `bronze_a` and `bronze_b` to succeed."""
    pre: dict[str, Any] = {
        "id": "bronze",
        "flows": [
            {"namespace": NS, "flowId": "bronze_a", "states": ["SUCCESS"]},
            {"namespace": NS, "flowId": "bronze_b", "states": ["SUCCESS"]},
        ],
    }
    if "reset" in window:
        pre["resetOnSuccess"] = window.pop("reset")
    if window:
        pre["timeWindow"] = window
    return flow_trigger(preconditions=pre)


def keys(trigger: Flow) -> list[str]:
    assert trigger.preconditions is not None
    return list(trigger.preconditions.checks())


def state() -> TriggerState:
    return blank_state(NS, "silver", "after", "tercel.core.trigger.Flow")


def ended(trigger: Flow, st: TriggerState, now: datetime, flow_id: str, *, outputs: dict[str, Any] | None = None, ok: bool = True):
    """What the scheduler decides when `flow_id` ends (SUCCESS when `ok`) at `now`."""
    a, b = keys(trigger)
    results = {a: ok and flow_id == "bronze_a", b: ok and flow_id == "bronze_b"}
    return decide_flow(trigger, st, now, results=results, namespace=NS, flow_id=flow_id, outputs=outputs or {})


# -- without preconditions ---------------------------------------------------------------------


def test_without_preconditions_it_fires_with_the_execution_outputs() -> None:
    trigger = flow_trigger(conditions=[{"type": "io.kestra.plugin.core.condition.ExecutionStatus", "in": ["FAILED"]}])
    outcome = decide_flow(trigger, state(), at(5), results=None, namespace=NS, flow_id="a", outputs={"n": 1})
    assert outcome.fire and outcome.outputs == {"n": 1}
    assert outcome.state.date == at(5) and outcome.state.progress is None


def test_a_disabled_trigger_neither_fires_nor_counts() -> None:
    trigger = both()
    off = replace(state(), disabled=True)
    outcome = ended(trigger, off, at(1), "bronze_a")
    assert not outcome.fire and outcome.state == off and outcome.reason == "disabled"
    in_flow = both().model_copy(update={"disabled": True})
    assert ended(in_flow, state(), at(1), "bronze_a").state == state()


# -- preconditions -----------------------------------------------------------------------------


def test_it_fires_when_the_last_precondition_is_met_then_starts_again() -> None:
    trigger = both()
    a, b = keys(trigger)
    first = ended(trigger, state(), at(10), "bronze_a", outputs={"rows": 3})
    assert not first.fire and first.reason == "preconditions not all met yet"
    progress = first.state.progress
    assert progress is not None and set(progress.met) == {a}
    assert (progress.start, progress.end) == (datetime(2030, 1, 7, tzinfo=UTC), datetime(2030, 1, 8, tzinfo=UTC))
    again = ended(trigger, first.state, at(20), "bronze_a", outputs={"rows": 4})  # the same one again
    assert not again.fire and again.state.progress.met[a] == at(20)
    second = ended(trigger, again.state, at(30), "bronze_b", outputs={"rows": 7, "day": "monday"})
    assert second.fire and second.state.date == at(30)
    # its own outputs, and every upstream one under its namespace and flow id
    assert second.outputs == {
        "rows": 7, "day": "monday",
        NS: {"bronze_a": {"rows": 4}, "bronze_b": {"rows": 7, "day": "monday"}},
    }
    assert second.state.progress.met == {} and second.state.progress.outputs == {}  # resetOnSuccess
    assert not ended(trigger, second.state, at(40), "bronze_b").fire  # needs both again
    assert b in ended(trigger, second.state, at(40), "bronze_b").state.progress.met


def test_an_execution_that_meets_none_changes_nothing_and_does_not_fire() -> None:
    trigger = both()
    one = ended(trigger, state(), at(10), "bronze_a")
    failed = ended(trigger, one.state, at(11), "bronze_b", ok=False)
    assert not failed.fire and failed.reason == "no precondition met"
    assert failed.state.progress.met == one.state.progress.met


def test_without_reset_each_new_match_fires_again_within_the_window() -> None:
    trigger = both(reset=False)
    s = ended(trigger, state(), at(10), "bronze_a").state
    fired = ended(trigger, s, at(20), "bronze_b")
    assert fired.fire and len(fired.state.progress.met) == 2
    assert ended(trigger, fired.state, at(30), "bronze_a").fire
    assert not ended(trigger, fired.state, at(30), "bronze_a", ok=False).fire  # it must meet one
    # the next day is a new window: both are needed again
    assert not ended(trigger, fired.state, at(5, day=1), "bronze_a").fire


def test_a_duration_window_ends_and_what_was_met_is_forgotten() -> None:
    trigger = both()  # one day from midnight (UTC)
    late = ended(trigger, state(), at(15 * 60 + 50), "bronze_a")  # 23:50
    next_day = ended(trigger, late.state, at(10, day=1), "bronze_b")  # 08:10 the next day
    assert not next_day.fire
    assert list(next_day.state.progress.met) == [keys(trigger)[1]]
    assert next_day.state.progress.start == datetime(2030, 1, 8, tzinfo=UTC)


def test_duration_windows_are_aligned_on_midnight_and_shifted_by_window_advance() -> None:
    trigger = both(window="PT6H", windowAdvance="PT3H")
    s = ended(trigger, state(), at(0), "bronze_a").state  # 08:00: the 03:00-09:00 window
    assert (s.progress.start, s.progress.end) == (at(-5 * 60), at(60))
    assert not ended(trigger, s, at(61), "bronze_b").fire  # 09:01: the next window
    assert ended(trigger, s, at(59), "bronze_b").fire


def test_a_sliding_window_counts_what_was_met_in_the_last_window() -> None:
    trigger = both(type="SLIDING_WINDOW", window="PT1H")
    s = ended(trigger, state(), at(0), "bronze_a").state
    assert s.progress.start is None and s.progress.end is None
    assert ended(trigger, s, at(50), "bronze_b").fire
    assert not ended(trigger, s, at(70), "bronze_b").fire  # bronze_a is more than an hour old
    renewed = ended(trigger, s, at(50), "bronze_a").state  # met again: the hour counts from then
    assert ended(trigger, renewed, at(70), "bronze_b").fire


def test_a_daily_deadline_ignores_what_ends_after_it() -> None:
    trigger = both(type="DAILY_TIME_DEADLINE", deadline="09:00:00", timezone="Europe/Paris")  # 08:00 UTC in winter
    s = ended(trigger, state(), at(-2 * 60), "bronze_a").state  # 06:00 UTC = 07:00 Paris
    assert s.progress.end == at(0)
    too_late = ended(trigger, s, at(1), "bronze_b")
    assert not too_late.fire and too_late.reason == "outside the time window"
    assert too_late.state.progress is None  # the day's window is over: its progress goes
    assert ended(trigger, s, at(-1), "bronze_b").fire
    tomorrow = ended(trigger, too_late.state, at(-3 * 60, day=1), "bronze_a")
    assert tomorrow.state.progress.start == datetime(2030, 1, 7, 23, tzinfo=UTC)  # Paris midnight


def test_a_daily_time_window_may_end_the_next_day() -> None:
    trigger = both(type="DAILY_TIME_WINDOW", startTime="22:00:00", endTime="06:00:00")
    assert ended(trigger, state(), at(0), "bronze_a").reason == "outside the time window"  # 08:00
    s = ended(trigger, state(), at(14 * 60 + 30), "bronze_a").state  # 22:30
    assert (s.progress.start, s.progress.end) == (at(14 * 60), at(22 * 60))
    assert ended(trigger, s, at(21 * 60), "bronze_b").fire  # 05:00 the next morning


def test_a_changed_window_starts_again_and_a_removed_precondition_is_forgotten() -> None:
    s = ended(both(), state(), at(10), "bronze_a").state
    changed = ended(both(window="PT12H"), s, at(20), "bronze_b")
    assert not changed.fire and list(changed.state.progress.met) == [keys(both())[1]]
    # bronze_b is no longer waited for: bronze_a alone, met before, and met again now, fires
    only_a = flow_trigger(preconditions={"id": "bronze", "flows": [{"namespace": NS, "flowId": "bronze_a", "states": ["SUCCESS"]}]})
    (key,) = keys(only_a)
    assert key == keys(both())[0]  # a precondition's key depends on its definition only
    outcome = decide_flow(only_a, s, at(30), results={key: True}, namespace=NS, flow_id="bronze_a")
    assert outcome.fire


def test_where_filters_and_flows_are_preconditions_alike() -> None:
    trigger = flow_trigger(preconditions={
        "id": "mixed",
        "flows": [{"namespace": NS, "flowId": "extract"}],
        "where": [{"id": "prod", "filters": [{"field": "NAMESPACE", "type": "STARTS_WITH", "value": "company"}]}],
    })
    flow_key, where_key = keys(trigger)
    assert flow_key.startswith("flow.") and where_key.startswith("where.prod.")
    first = decide_flow(trigger, state(), at(1), results={flow_key: True, where_key: True}, namespace=NS, flow_id="extract")
    assert first.fire  # one execution may meet every precondition at once


# -- what an execution looks like, which ones are heard --------------------------------------


def execution(flow_id: str = "extract", status: State = State.SUCCESS, **extra: Any) -> Execution:
    start = T0
    rs = RunState.new(State.CREATED, start)
    rs.to(State.RUNNING, start)
    rs.to(status, start + timedelta(seconds=5))
    runs = [
        TaskRun(
            id=f"t{i}", execution_id="ex1", namespace=NS, flow_id=flow_id, task_id=task_id,
            parent_task_run_id=None, value=None, iteration=None, state=_state(current),
        )
        for i, (task_id, current) in enumerate([("download", State.SUCCESS), ("load", State.FAILED), ("notify", State.SUCCESS)])
    ]
    return Execution(
        id="ex1", namespace=NS, flow_id=flow_id, flow_revision=3, state=rs, task_runs=runs,
        labels={"env": "prod", "team.owner": "ana", "system.correlationId": "c0"},
        outputs={"date": "2030-01-05"}, **extra,
    )


def _state(current: State) -> RunState:
    rs = RunState.new(State.CREATED, T0)
    rs.to(current, T0)
    return rs


def test_trigger_variables_are_kestras() -> None:
    ex = execution(status=State.FAILED)
    variables = trigger_variables(ex)
    assert variables == {
        "executionId": "ex1", "namespace": NS, "flowId": "extract", "flowRevision": 3, "state": "FAILED",
        "startDate": T0, "endDate": T0 + timedelta(seconds=5),
        "executionLabels": {"env": "prod", "team": {"owner": "ana"}},  # nested, no correlation id
        "firstFailedTaskId": "load", "lastTaskId": "notify", "outputs": {"date": "2030-01-05"},
    }
    assert trigger_variables(ex, {"merged": 1})["outputs"] == {"merged": 1}
    view = execution_variables(ex)
    assert view["flowId"] == "extract" and view["state"] == "FAILED" and view["labels"]["env"] == "prod"
    assert view["outputs"] == {"date": "2030-01-05"} and view["originalId"] == "ex1"


def test_nested_labels_keep_the_first_of_two_that_clash() -> None:
    assert nested_labels({"a": "1", "a.b": "2", "c.d.e": "3"}) == {"a": "1", "c": {"d": {"e": "3"}}}
    assert nested_labels({"a.b": "2", "a": "1"}) == {"a": {"b": "2"}}


def test_a_flow_never_hears_itself_and_only_the_states_it_listens_to() -> None:
    trigger = flow_trigger(conditions=[{"type": "io.kestra.plugin.core.condition.Expression", "expression": "true"}])
    assert listens(trigger, NS, "silver", execution())
    assert not listens(trigger, NS, "extract", execution())  # its own flow: never recursive
    assert listens(trigger, NS, "silver", execution(status=State.KILLED))
    only_failed = trigger.model_copy(update={"states": [State.FAILED]})
    assert not listens(only_failed, NS, "silver", execution())
    assert listens(only_failed, NS, "silver", execution(status=State.FAILED))


def test_stop_after_disables_on_one_of_its_states() -> None:
    st = state()
    assert stop_after(["FAILED"], st, "SUCCESS") == (st, False)
    stopped, now_stopped = stop_after(["FAILED", "KILLED"], st, "KILLED")
    assert now_stopped and stopped.disabled
    assert stop_after(["KILLED"], stopped, "KILLED") == (stopped, False)  # already
    assert stop_after(None, st, "FAILED") == (st, False)


def test_progress_round_trips_through_the_store_record_with_typed_outputs() -> None:
    progress = Progress(
        window="w1", start=T0, end=T0 + timedelta(days=1),
        met={"flow.abc": at(5)},
        outputs={NS: {"extract": {"when": at(5), "amount": Decimal("12.50"), "rows": [1, 2]}}},
    )
    st = replace(state(), progress=progress, definition="d1")
    back = from_record(to_record(st))
    assert back == st
    assert back.progress.outputs[NS]["extract"]["amount"] == Decimal("12.50")
    assert to_record(state()).context == {}  # nothing stored without progress
    sliding = Progress(window="w2")
    assert from_record(to_record(replace(state(), progress=sliding))).progress == sliding
    assert sliding.holds(at(99999))


@pytest.mark.parametrize("flow_id", ["bronze_a", "bronze_b"])
def test_either_order_fires(flow_id: str) -> None:
    trigger = both()
    other = "bronze_b" if flow_id == "bronze_a" else "bronze_a"
    s = ended(trigger, state(), at(1), flow_id).state
    assert ended(trigger, s, at(2), other).fire
