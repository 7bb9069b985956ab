"""The scheduler over a real runtime, on SQLite and PostgreSQL: executions created from flows'
Schedule triggers, with Kestra's semantics. Time is driven by the test (`clock`), except in the
one test where a schedule fires for real."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tercel.engine import Execution
from tercel.plugins import PluginManager
from tercel.runtime import Runtime
from tercel.scheduler import Scheduler
from tercel.settings import Settings
from tercel_sdk import State

NS = "tests.scheduler"


def flow(flow_id: str, trigger: str, *, tasks: str | None = None, extra: str = "") -> str:
    body = tasks or """
  - id: hello
    type: tercel.core.Return
    format: "run of {{ trigger.date }}"
"""
    return f"id: {flow_id}\nnamespace: {NS}\n{extra}\ntasks:{body}\ntriggers:\n{trigger}"


def every_10_minutes(**props: Any) -> str:
    lines = ["  - id: schedule", "    type: io.kestra.plugin.core.trigger.Schedule", '    cron: "*/10 * * * *"']
    lines += [f"    {k}: {v}" for k, v in props.items()]
    return "\n".join(lines) + "\n"


def executions(rt: Runtime, flow_id: str) -> list[Execution]:
    """The flow's executions, in the order of their scheduled dates."""
    found = [rt.get_execution(h["id"]) for h in rt.db.executions.find(namespace=NS, flow_id=flow_id, limit=1000)]
    return sorted((e for e in found if e is not None), key=lambda e: (e.trigger or {}).get("date") or datetime.min.replace(tzinfo=UTC))


def dates(rt: Runtime, flow_id: str) -> list[datetime]:
    return [e.trigger["date"] for e in executions(rt, flow_id) if e.trigger]


async def finish(rt: Runtime, created: list[Execution]) -> list[Execution]:
    return [await rt.wait(ex.id, timeout=30) for ex in created]


async def run_until_idle(rt: Runtime, scheduler: Scheduler, limit: int = 20) -> list[Execution]:
    """Tick, let what was created end, tick again, … until a tick creates nothing."""
    done: list[Execution] = []
    for _ in range(limit):
        created = await scheduler.tick()
        if not created:
            return done
        done += await finish(rt, created)
    raise AssertionError("the scheduler kept creating executions")


async def wait_state(rt: Runtime, execution_id: str, state: State, timeout: float = 20) -> None:
    for _ in range(int(timeout / 0.05)):
        ex = rt.get_execution(execution_id)
        if ex is not None and ex.state.current is state:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"execution {execution_id} never reached {state}")


async def wait_ended(rt: Runtime, execution_id: str, timeout: float = 30) -> None:
    for _ in range(int(timeout / 0.02)):
        ex = rt.get_execution(execution_id)
        if ex is not None and ex.state.current.is_terminated:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"execution {execution_id} did not end")


def at(hour: int, minute: int, second: int = 0, day: int = 7) -> datetime:
    return datetime(2030, 1, day, hour, minute, second, tzinfo=UTC)


# -- for real --------------------------------------------------------------------------------------


async def test_a_schedule_with_seconds_fires_for_real(runtime: Runtime) -> None:
    runtime.deploy_flow(flow("every_second", """\
  - id: tick
    type: tercel.core.trigger.Schedule
    cron: "* * * * * *"
    withSeconds: true
"""))
    async with Scheduler(runtime, interval=0.2):
        ended: list[Execution] = []
        for _ in range(200):
            ended = [e for e in executions(runtime, "every_second") if e.state.current.is_terminated]
            if len(ended) >= 2:
                break
            await asyncio.sleep(0.05)
    assert len(ended) >= 2, "a schedule every second did not fire twice within 10 seconds"
    fired = dates(runtime, "every_second")
    assert len(fired) == len(set(fired)), "a date fired twice"
    for ex in ended[:2]:
        assert ex.state.current is State.SUCCESS
        when = ex.trigger["date"]
        assert when.microsecond == 0
        assert ex.task_runs[0].outputs["value"].startswith(f"run of {when.isoformat()[:19]}")
        assert 0 <= (ex.state.start_date - when).total_seconds() < 3  # created on time, not before
        assert ex.trigger["next"] == when + timedelta(seconds=1)


# -- what an execution sees --------------------------------------------------------------------


async def test_executions_see_the_trigger_variables_inputs_and_labels(runtime: Runtime, clock: Any) -> None:
    runtime.deploy_flow(flow(
        "report",
        """\
  - id: morning
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "30 9 * * *"
    timezone: Europe/Paris
    inputs:
      day: "{{ trigger.date | date('yyyy-MM-dd') }}"
      count: 3
    labels:
      kind: scheduled
      slot: "{{ trigger.date | date('HH:mm') }}"
""",
        extra="labels:\n  team: data\ninputs:\n  - id: day\n    type: STRING\n  - id: count\n    type: INT\n",
        tasks="""
  - id: hello
    type: tercel.core.Return
    format: "{{ inputs.day }} {{ trigger.date }} < {{ trigger.next }}, after {{ trigger.previous }}"
""",
    ))
    scheduler = Scheduler(runtime, clock=clock)
    assert await scheduler.tick() == []
    clock.set(at(8, 30, 0))  # 09:30 in Paris
    [created] = await scheduler.tick()
    [ex] = await finish(runtime, [created])
    paris = ZoneInfo("Europe/Paris")
    assert ex.state.current is State.SUCCESS
    assert ex.trigger["date"] == datetime(2030, 1, 7, 9, 30, tzinfo=paris)
    assert ex.trigger["date"].utcoffset() == timedelta(hours=1)  # in the trigger's timezone
    assert ex.trigger["next"] == datetime(2030, 1, 8, 9, 30, tzinfo=paris)
    assert ex.trigger["previous"] == datetime(2030, 1, 6, 9, 30, tzinfo=paris)
    assert ex.trigger["id"] == "morning"
    assert ex.inputs == {"day": "2030-01-07", "count": 3}
    assert ex.labels == {"team": "data", "kind": "scheduled", "slot": "09:30", "system.correlationId": ex.id}
    assert ex.task_runs[0].outputs == {
        "value": "2030-01-07 2030-01-07T09:30:00+01:00 < 2030-01-08T09:30:00+01:00, after 2030-01-06T09:30:00+01:00"
    }
    [state] = scheduler.triggers(NS, "report")
    assert state.date == at(8, 30) and state.next_date == at(8, 30, day=8)


async def test_inputs_that_do_not_fit_make_a_failed_execution_and_stop_after_applies(runtime: Runtime, clock: Any) -> None:
    runtime.deploy_flow(flow(
        "bad_inputs",
        every_10_minutes(inputs="{count: not-a-number}", stopAfter="[FAILED]"),
        extra="inputs:\n  - id: count\n    type: INT\n",
    ))
    scheduler = Scheduler(runtime, clock=clock)
    await scheduler.tick()
    clock.set(at(8, 10))
    [created] = await scheduler.tick()
    stored = runtime.get_execution(created.id)
    assert stored is not None and stored.state.current is State.FAILED
    assert "count" in (stored.error or "") and "cannot start" in (stored.error or "")
    assert any("cannot start" in line["message"] for line in runtime.logs(created.id))
    [state] = scheduler.triggers(NS, "bad_inputs")
    assert state.disabled and not state.locked
    clock.set(at(8, 20))
    assert await scheduler.tick() == []


# -- no overlap ----------------------------------------------------------------------------------

PAUSING = """
  - id: wait
    type: tercel.core.Pause
"""


@pytest.mark.parametrize(
    ("policy", "expected"),
    [(None, [(8, 10), (8, 20), (8, 30)]), ("LAST", [(8, 10), (8, 30)]), ("NONE", [(8, 10)])],
)
async def test_a_run_never_overlaps_the_next_one_waits_for_it(
    runtime: Runtime, clock: Any, policy: str | None, expected: list[tuple[int, int]]
) -> None:
    props = {"recoverMissedSchedules": policy} if policy else {}
    runtime.deploy_flow(flow("slow", every_10_minutes(**props), tasks=PAUSING))
    scheduler = Scheduler(runtime, clock=clock)
    await scheduler.tick()
    clock.set(at(8, 10))
    [first] = await scheduler.tick()
    await wait_state(runtime, first.id, State.PAUSED)
    for minute in (20, 30, 35):  # 08:20 and 08:30 come while the 08:10 run still waits
        clock.set(at(8, minute))
        assert await scheduler.tick() == []
    [state] = scheduler.triggers(NS, "slow")
    assert state.execution_id == first.id and state.execution_state == "PAUSED"
    runtime.resume_execution(first.id)
    await runtime.wait(first.id, timeout=30)
    for _ in range(5):  # what waited now runs, one at a time
        created = await scheduler.tick()
        if not created:
            break
        for ex in created:
            await wait_state(runtime, ex.id, State.PAUSED)
            runtime.resume_execution(ex.id)
            await runtime.wait(ex.id, timeout=30)
    assert dates(runtime, "slow") == [at(h, m) for h, m in expected]
    [state] = scheduler.triggers(NS, "slow")
    assert state.next_date == at(8, 40) and not state.locked


# -- downtime -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "recovered"),
    [(None, [(8, 20), (8, 30), (8, 40)]), ("ALL", [(8, 20), (8, 30), (8, 40)]), ("LAST", [(8, 40)]), ("NONE", [])],
)
async def test_missed_schedules_are_recovered_after_a_restart(
    settings: Settings, plugins: PluginManager, clock: Any, policy: str | None, recovered: list[tuple[int, int]]
) -> None:
    props = {"recoverMissedSchedules": policy} if policy else {}
    async with Runtime(settings, plugins=plugins) as rt:
        rt.deploy_flow(flow("downtime", every_10_minutes(**props)))
        scheduler = Scheduler(rt, clock=clock)
        await scheduler.tick()
        clock.set(at(8, 10))
        await finish(rt, await scheduler.tick())
        assert dates(rt, "downtime") == [at(8, 10)]
    # the server is down from 08:10 to 08:45: 08:20, 08:30 and 08:40 are missed
    clock.set(at(8, 45))
    async with Runtime(settings, plugins=plugins) as rt:
        scheduler = Scheduler(rt, clock=clock)
        await run_until_idle(rt, scheduler)
        assert dates(rt, "downtime") == [at(8, 10)] + [at(h, m) for h, m in recovered]
        assert all(e.state.current is State.SUCCESS for e in executions(rt, "downtime"))
        [state] = scheduler.triggers(NS, "downtime")
        assert state.next_date == at(8, 50)
        clock.set(at(8, 50))  # and the schedule goes on
        assert [e.trigger["date"] for e in await scheduler.tick()] == [at(8, 50)]


# -- backfill --------------------------------------------------------------------------------------


async def test_a_backfill_creates_the_past_executions_each_with_its_date(runtime: Runtime, clock: Any) -> None:
    runtime.deploy_flow(flow(
        "hourly",
        """\
  - id: hourly
    type: tercel.core.trigger.Schedule
    cron: "0 * * * *"
    inputs:
      source: schedule
    backfill:
      start: 2030-01-07T04:00:00Z
      end: 2030-01-07T06:30:00Z
      inputs:
        source: backfill
      labels:
        reason: outage
""",
        extra="inputs:\n  - id: source\n    type: STRING\n",
    ))
    scheduler = Scheduler(runtime, clock=clock)
    done = await run_until_idle(runtime, scheduler)
    assert [e.trigger["date"] for e in done] == [at(4, 0), at(5, 0), at(6, 0)]
    for ex in done:
        assert ex.inputs == {"source": "backfill"}
        assert ex.labels["reason"] == "outage" and ex.labels["system.correlationId"] == ex.id
        assert ex.task_runs[0].outputs["value"] == f"run of {ex.trigger['date'].isoformat().replace('+00:00', 'Z')}"
    [state] = scheduler.triggers(NS, "hourly")
    assert state.backfill is None and state.next_date == at(9, 0)
    # a new scheduler (a restart) does not backfill again; the schedule goes on with its own inputs
    scheduler = Scheduler(runtime, clock=clock)
    assert await scheduler.tick() == []
    clock.set(at(9, 0))
    [regular] = await finish(runtime, await scheduler.tick())
    assert regular.inputs == {"source": "schedule"} and "reason" not in regular.labels


async def test_a_backfill_through_the_api(runtime: Runtime, clock: Any) -> None:
    runtime.deploy_flow(flow("api_backfill", every_10_minutes(), extra="inputs:\n  - id: why\n    type: STRING\n    defaults: normal\n"))
    scheduler = Scheduler(runtime, clock=clock)
    await scheduler.tick()
    state = scheduler.backfill(NS, "api_backfill", "schedule", at(7, 35), at(7, 50), inputs={"why": "replay"}, labels={"by": "api"})
    assert state.backfill is not None and state.backfill.source == "api"
    done = await run_until_idle(runtime, scheduler)
    assert [e.trigger["date"] for e in done] == [at(7, 40), at(7, 50)]
    assert all(e.inputs == {"why": "replay"} and e.labels["by"] == "api" for e in done)
    with pytest.raises(Exception, match="has no trigger 'nope'"):
        scheduler.backfill(NS, "api_backfill", "nope", at(7, 0))


# -- stopAfter, disabling ------------------------------------------------------------------------


async def test_stop_after_disables_the_trigger_until_it_is_enabled_again(runtime: Runtime, clock: Any) -> None:
    runtime.deploy_flow(flow("fragile", every_10_minutes(stopAfter="[FAILED]"), tasks="""
  - id: boom
    type: tercel.core.Fail
    errorMessage: "the source is down"
"""))
    scheduler = Scheduler(runtime, clock=clock)
    await scheduler.tick()
    clock.set(at(8, 10))
    [failed] = await finish(runtime, await scheduler.tick())
    assert failed.state.current is State.FAILED
    assert await scheduler.tick() == []
    [state] = scheduler.triggers(NS, "fragile")
    assert state.disabled and not state.locked
    for minute in (20, 30):
        clock.set(at(8, minute))
        assert await scheduler.tick() == []
    clock.set(at(8, 35))
    enabled = scheduler.set_disabled(NS, "fragile", "schedule", False)
    assert not enabled.disabled and enabled.next_date == at(8, 40)  # missed dates are not recovered
    clock.set(at(8, 40))
    assert [e.trigger["date"] for e in await scheduler.tick()] == [at(8, 40)]


async def test_disabled_triggers_and_disabled_flows_do_not_fire(runtime: Runtime, clock: Any) -> None:
    runtime.deploy_flow(flow("off", every_10_minutes(disabled="true")))
    runtime.deploy_flow(flow("flow_off", every_10_minutes(), extra="disabled: true"))
    runtime.deploy_flow(flow("on", every_10_minutes()))
    scheduler = Scheduler(runtime, clock=clock)
    await scheduler.tick()
    clock.set(at(8, 10))
    assert [e.flow_id for e in await scheduler.tick()] == ["on"]


# -- conditions ------------------------------------------------------------------------------------


async def test_conditions_pick_the_dates(runtime: Runtime, clock: Any) -> None:
    runtime.deploy_flow(flow("first_monday", """\
  - id: monthly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 * * *"
    conditions:
      - type: io.kestra.plugin.core.condition.DayWeekInMonth
        dayOfWeek: MONDAY
        dayInMonth: FIRST
      - type: io.kestra.plugin.core.condition.Not
        conditions:
          - type: io.kestra.plugin.core.condition.Weekend
"""))
    clock.set(datetime(2029, 12, 31, 12, 0, tzinfo=UTC))
    scheduler = Scheduler(runtime, clock=clock)
    await scheduler.tick()
    [state] = scheduler.triggers(NS, "first_monday")
    assert state.next_date == datetime(2030, 1, 7, 9, 0, tzinfo=UTC)  # Jan 1 2030 is a Tuesday
    day = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
    while day < datetime(2030, 2, 10, tzinfo=UTC):
        clock.set(day)
        await finish(runtime, await scheduler.tick())
        day += timedelta(days=1)
    fired = executions(runtime, "first_monday")
    assert [e.trigger["date"] for e in fired] == [datetime(2030, 1, 7, 9, 0, tzinfo=UTC), datetime(2030, 2, 4, 9, 0, tzinfo=UTC)]
    assert fired[0].trigger["next"] == datetime(2030, 2, 4, 9, 0, tzinfo=UTC)  # the conditions apply to it
    assert fired[1].trigger["previous"] == datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


async def test_a_condition_that_cannot_be_evaluated_makes_a_failed_execution(runtime: Runtime, clock: Any) -> None:
    runtime.deploy_flow(flow("needs_kv", every_10_minutes() + """\
    conditions:
      - type: io.kestra.plugin.core.condition.Expression
        expression: "{{ kv('threshold') > 3 }}"
"""))
    scheduler = Scheduler(runtime, clock=clock)
    await scheduler.tick()
    clock.set(at(8, 10))
    [failed] = await scheduler.tick()
    assert failed.state.current is State.FAILED and "threshold" in (failed.error or "")
    runtime.kv.set(NS, "threshold", 5)
    clock.set(at(8, 20))
    [ok] = await finish(runtime, await scheduler.tick())
    assert ok.state.current is State.SUCCESS and ok.trigger["date"] == at(8, 20)
    runtime.kv.set(NS, "threshold", 1)
    clock.set(at(8, 30))
    assert await scheduler.tick() == []


# -- flows change ----------------------------------------------------------------------------------


async def test_flow_changes_are_followed(runtime: Runtime, clock: Any) -> None:
    runtime.deploy_flow(flow("changing", every_10_minutes()))
    scheduler = Scheduler(runtime, clock=clock)
    await scheduler.tick()
    [state] = scheduler.triggers(NS, "changing")
    assert state.next_date == at(8, 10)
    # a new revision with another cron: the next date is computed afresh
    runtime.deploy_flow(flow("changing", every_10_minutes().replace("*/10", "*/15")))
    scheduler.flows_changed()
    clock.set(at(8, 3))
    await scheduler.tick()
    [state] = scheduler.triggers(NS, "changing")
    assert state.next_date == at(8, 15)
    # a revision that only changes the inputs keeps the schedule
    runtime.deploy_flow(flow("changing", every_10_minutes().replace("*/10", "*/15") + "    labels:\n      v: '3'\n"))
    scheduler.flows_changed()
    await scheduler.tick()
    [state] = scheduler.triggers(NS, "changing")
    assert state.next_date == at(8, 15)
    clock.set(at(8, 15))
    [ex] = await finish(runtime, await scheduler.tick())
    assert ex.flow_revision == 3 and ex.labels["v"] == "3"
    # the trigger removed from the flow, then the flow deleted: its state goes
    runtime.deploy_flow(flow("changing", every_10_minutes().replace("id: schedule", "id: renamed")))
    scheduler.flows_changed()
    await scheduler.tick()
    assert [s.trigger_id for s in scheduler.triggers(NS, "changing")] == ["renamed"]
    runtime.db.flows.delete(NS, "changing")
    scheduler.flows_changed()
    await scheduler.tick()
    assert scheduler.triggers(NS, "changing") == []


async def test_unlock_stops_waiting_for_a_stuck_execution(runtime: Runtime, clock: Any) -> None:
    runtime.deploy_flow(flow("stuck", every_10_minutes(), tasks=PAUSING))
    scheduler = Scheduler(runtime, clock=clock)
    await scheduler.tick()
    clock.set(at(8, 10))
    [first] = await scheduler.tick()
    clock.set(at(8, 20))
    assert await scheduler.tick() == []
    assert not scheduler.unlock(NS, "stuck", "schedule").locked
    [second] = await scheduler.tick()
    assert second.trigger["date"] == at(8, 20)
    for ex in (first, second):
        runtime.kill(ex.id)


# -- several schedulers ----------------------------------------------------------------------------


async def test_two_schedulers_on_one_database_never_fire_a_date_twice(settings: Settings, plugins: PluginManager, clock: Any) -> None:
    async with Runtime(settings, plugins=plugins) as one, Runtime(settings, plugins=plugins) as two:
        one.deploy_flow(flow("shared", every_10_minutes()))
        schedulers = [Scheduler(one, clock=clock), Scheduler(two, clock=clock)]
        for scheduler in schedulers:
            await scheduler.tick()
        barrier = threading.Barrier(2)

        def tick_in_thread(scheduler: Scheduler) -> list[str]:
            barrier.wait()  # both look at the same moment
            return [ex.id for ex in asyncio.run(scheduler.tick())]

        for step in range(1, 9):
            clock.set(at(8, 0) + timedelta(minutes=10 * step))
            results = await asyncio.gather(*(asyncio.to_thread(tick_in_thread, s) for s in schedulers))
            created = [i for ids in results for i in ids]
            assert len(created) == 1, f"date {clock.now} fired {len(created)} times"
            await wait_ended(one, created[0])  # either runtime may run it
        assert dates(one, "shared") == [at(8, 0) + timedelta(minutes=10 * i) for i in range(1, 9)]
