"""The trigger types (`tercel.core.trigger.*`) and condition types (`tercel.core.condition.*`).

The cron dialect is checked against Kestra's rules and against a brute-force minute-by-minute
search; dates around daylight-saving changes are pinned. Conditions are evaluated with the real
expression engine; the NamespaceFiles trigger is checked over real namespace files
(`tercel_sdk.testing.Sandbox.poll`). The end of the file runs the documented example flows
through the real scheduler (`Sandbox.scheduler`), with a clock the test drives.
"""

from __future__ import annotations

import itertools
import re
import types
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from ruamel.yaml import YAML
from tercel_plugin_core import condition, trigger
from tercel_plugin_core.condition import CONDITION_TYPES, parse_date
from tercel_plugin_core.trigger import (
    CronError,
    NamespaceFiles,
    Schedule,
    ScheduleOnDates,
    parse_cron,
)
from tercel_sdk import Property
from tercel_sdk.manifest import describe_type
from tercel_sdk.testing import Sandbox

UTC_ZONE = ZoneInfo("UTC")
PARIS = ZoneInfo("Europe/Paris")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def schedule(**props: Any) -> Schedule:
    return Schedule.model_validate({"id": "s", "type": "tercel.core.trigger.Schedule", **props})


# ------------------------------------------------------------------------------------- cron


@pytest.mark.parametrize(
    ("cron", "after", "expected"),
    [
        ("*/15 * * * *", utc(2030, 1, 7, 8, 7), utc(2030, 1, 7, 8, 15)),
        ("*/15 * * * *", utc(2030, 1, 7, 8, 15), utc(2030, 1, 7, 8, 30)),  # strictly after
        ("0 11 * * 1", utc(2030, 1, 7, 11, 0), utc(2030, 1, 14, 11, 0)),
        ("30 6 * * *", utc(2030, 1, 7, 23, 59, 59), utc(2030, 1, 8, 6, 30)),
        ("5/20 * * * *", utc(2030, 1, 7, 8, 26), utc(2030, 1, 7, 8, 45)),  # from 5, every 20
        ("1-10/3 0 * * *", utc(2030, 1, 7, 0, 4), utc(2030, 1, 7, 0, 7)),
        ("0 0 1 JAN,jul *", utc(2030, 2, 1), utc(2030, 7, 1)),
        ("0 9 * * MON-FRI", utc(2030, 1, 11, 9, 0), utc(2030, 1, 14, 9, 0)),  # Fri -> Mon
        ("0 0 * * 7", utc(2030, 1, 7), utc(2030, 1, 13)),  # 7 is Sunday
        ("0 0 * * 0", utc(2030, 1, 7), utc(2030, 1, 13)),  # and so is 0
        ("0 0 13 * 5", utc(2030, 1, 7), utc(2030, 1, 11)),  # the 13th OR a Friday, as in Unix cron
        ("0 0 13 * 5", utc(2030, 1, 12), utc(2030, 1, 13)),
        ("0 0 29 2 *", utc(2030, 1, 1), utc(2032, 2, 29)),
        ("@hourly", utc(2030, 1, 7, 8, 0), utc(2030, 1, 7, 9, 0)),
        ("@daily", utc(2030, 1, 7, 8, 0), utc(2030, 1, 8)),
        ("@midnight", utc(2030, 1, 7, 8, 0), utc(2030, 1, 8)),
        ("@weekly", utc(2030, 1, 7, 8, 0), utc(2030, 1, 13)),
        ("@monthly", utc(2030, 1, 7, 8, 0), utc(2030, 2, 1)),
        ("@yearly", utc(2030, 1, 7, 8, 0), utc(2031, 1, 1)),
        ("@annually", utc(2030, 1, 7, 8, 0), utc(2031, 1, 1)),
    ],
)
def test_cron_next_dates(cron: str, after: datetime, expected: datetime) -> None:
    assert parse_cron(cron).next_after(after, UTC_ZONE) == expected
    assert schedule(cron=cron).next_date(after) == expected


def test_six_fields_with_seconds() -> None:
    s = schedule(cron="*/10 * * * * *", withSeconds=True)
    assert s.next_date(utc(2030, 1, 7, 8, 0, 4)) == utc(2030, 1, 7, 8, 0, 10)
    assert s.next_date(utc(2030, 1, 7, 8, 0, 50)) == utc(2030, 1, 7, 8, 1, 0)
    assert s.previous_date(utc(2030, 1, 7, 8, 0, 10)) == utc(2030, 1, 7, 8, 0, 0)
    assert schedule(cron="@hourly", withSeconds=True).next_date(utc(2030, 1, 7, 8, 0, 1)) == utc(2030, 1, 7, 9)
    assert schedule(cron="30 15 10 * * *", withSeconds=True).next_date(utc(2030, 1, 7)) == utc(2030, 1, 7, 10, 15, 30)


@pytest.mark.parametrize(
    ("cron", "with_seconds", "message"),
    [
        ("", False, "empty"),
        ("* * *", False, "3 fields, 5 expected"),
        ("0 * * * * *", False, "6 fields need `withSeconds: true`"),
        ("* * * * *", True, "5 fields, 6 expected"),
        ("60 * * * *", False, "minute 60 is out of range 0-59"),
        ("* 24 * * *", False, "hour 24 is out of range 0-23"),
        ("* * 0 * *", False, "day of month 0 is out of range 1-31"),
        ("* * * 13 *", False, "month 13 is out of range 1-12"),
        ("* * * * 8", False, "day of week 8 is out of range 0-7"),
        ("* * * * MON#2", False, "invalid day of week 'MON#2'"),
        ("* * L * *", False, "invalid day of month 'L'"),
        ("* * ? * *", False, "invalid day of month '?'"),
        ("*/0 * * * *", False, "invalid step '0'"),
        ("10-5 * * * *", False, "goes backwards"),
        ("1,,2 * * * *", False, "empty item"),
        ("@every_minute", False, "unknown cron nickname"),
    ],
)
def test_cron_errors_say_what_is_wrong(cron: str, with_seconds: bool, message: str) -> None:
    with pytest.raises(CronError, match=re.escape(message)):
        parse_cron(cron, with_seconds)
    with pytest.raises(ValidationError, match=r"cron|empty"):
        schedule(cron=cron, withSeconds=with_seconds)


def _brute(cron: str, start: datetime, minutes: int) -> list[datetime]:
    c = parse_cron(cron)
    out = []
    t = start
    for _ in range(minutes):
        t += timedelta(minutes=1)
        if (
            t.minute in c.minutes and t.hour in c.hours and t.month in c.months and c._day_matches(t.date())
        ):
            out.append(t)
    return out


@pytest.mark.parametrize(
    "cron",
    ["*/7 * * * *", "0 */5 * * *", "13 2,14 * * 1-5", "0 0 1,15 * 3", "*/20 8-10 * JAN,FEB SAT,SUN", "59 23 31 * *"],
)
def test_next_and_previous_agree_with_a_minute_by_minute_search(cron: str) -> None:
    start = utc(2030, 1, 1)
    expected = _brute(cron, start, 60 * 24 * 40)
    c = parse_cron(cron)
    found = list(itertools.islice(c.dates(start, UTC_ZONE), len(expected)))
    assert found == expected
    for a, b in itertools.pairwise(expected):
        assert c.previous_before(b, UTC_ZONE) == a


def test_daylight_saving_changes() -> None:
    s = schedule(cron="30 2 * * *", timezone="Europe/Paris")
    # 2030-03-31: 02:00 jumps to 03:00, 02:30 does not exist: it fires at 03:30, once
    spring = s.next_date(datetime(2030, 3, 30, 12, tzinfo=PARIS))
    assert spring == datetime(2030, 3, 31, 3, 30, tzinfo=PARIS) and spring.utcoffset() == timedelta(hours=2)
    assert s.next_date(spring) == datetime(2030, 4, 1, 2, 30, tzinfo=PARIS)
    # 2030-10-27: 03:00 goes back to 02:00, 02:30 happens twice: it fires once, the first time
    autumn = s.next_date(datetime(2030, 10, 26, 12, tzinfo=PARIS))
    assert autumn.utcoffset() == timedelta(hours=2) and autumn.hour == 2 and autumn.minute == 30
    following = s.next_date(autumn)
    assert following.date() == date(2030, 10, 28)
    # an hourly schedule keeps one run per wall-clock hour across both changes
    hourly = schedule(cron="0 * * * *", timezone="Europe/Paris")
    runs = list(itertools.islice(parse_cron("0 * * * *").dates(datetime(2030, 3, 31, 0, 30, tzinfo=PARIS), PARIS), 4))
    assert [r.hour for r in runs] == [1, 3, 4, 5]
    assert hourly.previous_date(datetime(2030, 3, 31, 3, 0, tzinfo=PARIS)) == datetime(2030, 3, 31, 1, 0, tzinfo=PARIS)


def test_a_schedule_without_a_date_in_ten_years_ends() -> None:
    assert parse_cron("0 0 31 2 *").next_after(utc(2030, 1, 1), UTC_ZONE) is None
    assert parse_cron("0 0 31 2 *").previous_before(utc(2030, 1, 1), UTC_ZONE) is None


# -------------------------------------------------------------------------------- Schedule


def test_schedule_event_gives_date_next_previous_in_its_timezone_and_its_inputs_and_labels() -> None:
    s = schedule(
        cron="0 9 * * *", timezone="America/New_York",
        inputs={"day": "{{ trigger.date }}"}, labels=[{"key": "kind", "value": "daily"}],
    )
    when = s.next_date(utc(2030, 1, 7))
    assert when == datetime(2030, 1, 7, 9, tzinfo=ZoneInfo("America/New_York"))
    event = s.event(when.astimezone(UTC))
    assert event.variables == {
        "date": when,
        "next": datetime(2030, 1, 8, 9, tzinfo=ZoneInfo("America/New_York")),
        "previous": datetime(2030, 1, 6, 9, tzinfo=ZoneInfo("America/New_York")),
    }
    assert event.variables["date"].utcoffset() == timedelta(hours=-5)
    assert event.inputs == {"day": "{{ trigger.date }}"} and event.labels == {"kind": "daily"}
    assert event.scheduled_date == when


def test_schedule_properties_are_checked() -> None:
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        schedule(cron="@daily", timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="recoverMissedSchedules"):
        schedule(cron="@daily", recoverMissedSchedules="SOME")
    with pytest.raises(ValidationError, match="backfill `end` is before `start`"):
        schedule(cron="@daily", backfill={"start": "2030-01-02T00:00:00Z", "end": "2030-01-01T00:00:00Z"})
    s = schedule(cron="@daily", lateMaximumDelay="PT5M", stopAfter=["FAILED"], recoverMissedSchedules="LAST")
    assert s.late_maximum_delay == timedelta(minutes=5) and s.stop_after == ["FAILED"]
    assert s.timezone == "Etc/UTC"


def test_a_backfill_window_reads_dates_without_offset_in_the_timezone() -> None:
    s = schedule(cron="@daily", timezone="Europe/Paris", backfill={"start": "2030-01-01T00:00:00", "labels": {"why": "replay"}})
    now = utc(2030, 1, 5, 12)
    start, end = s.backfill_window(now)
    assert start == datetime(2030, 1, 1, tzinfo=PARIS) and end == now
    assert s.backfill is not None and s.backfill.label_map() == {"why": "replay"}
    assert schedule(cron="@daily").backfill_window(now) is None


def test_schedule_on_dates() -> None:
    s = ScheduleOnDates.model_validate({
        "id": "d", "type": "io.kestra.plugin.core.trigger.ScheduleOnDates", "timezone": "Europe/Paris",
        "dates": ["2030-06-30T18:00:00+02:00", "2030-03-31T18:00:00", "2030-06-30T16:00:00Z"],
    })
    assert s.next_date(utc(2030, 1, 1)) == datetime(2030, 3, 31, 18, tzinfo=PARIS)
    assert s.next_date(datetime(2030, 3, 31, 18, tzinfo=PARIS)) == utc(2030, 6, 30, 16)  # the same instant, once
    assert s.next_date(utc(2030, 6, 30, 16)) is None
    assert s.previous_date(utc(2030, 6, 30, 16)) == datetime(2030, 3, 31, 18, tzinfo=PARIS)
    assert s.event(utc(2030, 6, 30, 16)).variables == {"date": datetime(2030, 6, 30, 18, tzinfo=PARIS)}
    with pytest.raises(ValidationError, match="at least 1"):
        ScheduleOnDates.model_validate({"id": "d", "type": "x", "dates": []})


# --------------------------------------------------------------------------- NamespaceFiles


FILES = "tercel:///tests/_files/"


async def poll(tercel: Sandbox, props: dict[str, Any]) -> Any:
    """One check of a NamespaceFiles trigger watching namespace `tests` (the sandbox keeps its
    memory from one check to the next, as the scheduler does); its event."""
    return (await tercel.poll(NamespaceFiles, props)).event


def files_of(tercel: Sandbox) -> set[str]:
    return {uri[len(FILES):] for uri in tercel.files(FILES)}


async def test_namespace_files_fires_for_new_and_changed_files_only() -> None:
    async with Sandbox(namespace_files={"tests": {"inbox/a.csv": "1", "inbox/b.txt": "2", "other/c.csv": "3"}}) as tercel:
        w = {"from": "inbox", "regExp": r".*\.csv", "interval": "PT30S"}
        assert NamespaceFiles.model_validate({"id": "w", "type": "tercel.core.trigger.NamespaceFiles", **w}).interval == timedelta(seconds=30)
        event = await poll(tercel, w)
        assert event is not None
        assert event.variables == {"files": [{"path": "inbox/a.csv", "name": "a.csv", "size": 1, "uri": FILES + "inbox/a.csv"}]}
        assert await poll(tercel, w) is None  # nothing new
        tercel.put_namespace_file("tests", "inbox/a.csv", "12")  # changed
        tercel.put_namespace_file("tests", "inbox/d.csv", "4")
        event = await poll(tercel, w)
        assert event is not None and [f["path"] for f in event.variables["files"]] == ["inbox/a.csv", "inbox/d.csv"]
        tercel.delete_namespace_file("tests", "inbox/a.csv")
        assert await poll(tercel, w) is None
        tercel.put_namespace_file("tests", "inbox/a.csv", "12")  # came back: new again
        assert await poll(tercel, w) is not None
        assert files_of(tercel) == {"inbox/a.csv", "inbox/b.txt", "inbox/d.csv", "other/c.csv"}  # NONE leaves them


async def test_namespace_files_hands_at_most_max_files_to_one_execution() -> None:
    async with Sandbox(namespace_files={"tests": {f"f{i}.csv": "x" for i in range(5)}}) as tercel:
        batches = []
        while (event := await poll(tercel, {"maxFiles": 2})) is not None:
            batches.append([f["path"] for f in event.variables["files"]])
    assert batches == [["f0.csv", "f1.csv"], ["f2.csv", "f3.csv"], ["f4.csv"]]


async def test_namespace_files_move_and_delete() -> None:
    async with Sandbox(namespace_files={"tests": {"inbox/a.csv": "hello", "inbox/sub/b.csv": "world"}}) as tercel:
        move = {"from": "inbox", "action": "MOVE", "moveDirectory": "inbox/done"}
        event = await poll(tercel, move)
        assert event is not None
        assert [(f["path"], f["uri"]) for f in event.variables["files"]] == [
            ("inbox/done/a.csv", FILES + "inbox/done/a.csv"),
            ("inbox/done/sub/b.csv", FILES + "inbox/done/sub/b.csv"),
        ]
        assert files_of(tercel) == {"inbox/done/a.csv", "inbox/done/sub/b.csv"}
        assert await poll(tercel, move) is None  # not picked up again
        tercel.put_namespace_file("tests", "drop/c.csv", "!")
        check = await tercel.poll(NamespaceFiles, {"from": "drop", "action": "DELETE"}, trigger_id="drop")
        assert check.event is not None
        [picked] = check.event.variables["files"]
        assert "drop/c.csv" not in files_of(tercel) and check.files[picked["uri"]] == b"!"
    with pytest.raises(ValidationError, match="needs a `moveDirectory`"):
        NamespaceFiles.model_validate({"id": "w", "type": "tercel.core.trigger.NamespaceFiles", "action": "MOVE"})


# ------------------------------------------------------------------------------ conditions

_CONDITIONS = {name: cls for cls in CONDITION_TYPES for name in cls.all_names()}


class Ctx:
    """A condition context over the real expression engine."""

    def __init__(self, variables: Mapping[str, Any]) -> None:
        from tercel.expressions import ExpressionEngine

        self.variables = variables
        self._engine = ExpressionEngine()

    def render(self, value: Any) -> Any:
        if isinstance(value, Property):
            return value.coerce(self._engine.render_value(value.raw, self.variables))
        return self._engine.render_value(value, self.variables)

    def test(self, definition: Mapping[str, Any]) -> bool:
        return check(definition, self.variables)


def check(definition: Mapping[str, Any], variables: Mapping[str, Any]) -> bool:
    cls = _CONDITIONS[definition["type"]]
    return cls.model_validate(dict(definition)).test(Ctx(variables))


def on(when: datetime) -> dict[str, Any]:
    return {"trigger": {"date": when}}


@pytest.mark.parametrize(
    ("day", "holds"),
    [(datetime(2030, 1, 7, 11, tzinfo=PARIS), True), (datetime(2030, 1, 8, 11, tzinfo=PARIS), False)],
)
def test_day_week(day: datetime, holds: bool) -> None:
    assert check({"type": "io.kestra.plugin.core.condition.DayWeek", "dayOfWeek": "MONDAY"}, on(day)) is holds
    assert check({"type": "io.kestra.core.models.conditions.types.DayWeekCondition", "dayOfWeek": "MONDAY"}, on(day)) is holds


def test_day_week_reads_the_local_date_of_the_trigger_date() -> None:
    # 2030-01-07 23:30 UTC is already Tuesday in Paris: the trigger's timezone decides
    assert check({"type": "tercel.core.condition.DayWeek", "dayOfWeek": "TUESDAY"}, on(datetime(2030, 1, 8, 0, 30, tzinfo=PARIS)))
    assert check({"type": "tercel.core.condition.DayWeek", "dayOfWeek": "MONDAY", "date": "2030-01-07"}, {})


@pytest.mark.parametrize(
    ("which", "day_of_week", "dates"),
    [
        ("FIRST", "MONDAY", [date(2030, 1, 7), date(2030, 2, 4), date(2030, 4, 1)]),
        ("SECOND", "MONDAY", [date(2030, 1, 14)]),
        ("THIRD", "FRIDAY", [date(2030, 1, 18)]),
        ("FOURTH", "SUNDAY", [date(2030, 1, 27)]),
        ("LAST", "MONDAY", [date(2030, 1, 28), date(2030, 2, 25), date(2030, 12, 30)]),
        ("LAST", "FRIDAY", [date(2030, 5, 31)]),
    ],
)
def test_day_week_in_month(which: str, day_of_week: str, dates: list[date]) -> None:
    spec = {"type": "io.kestra.plugin.core.condition.DayWeekInMonth", "dayOfWeek": day_of_week, "dayInMonth": which}
    matching = {
        d for d in (date(2030, 1, 1) + timedelta(days=i) for i in range(365))
        if check(spec, on(datetime(d.year, d.month, d.day, 11, tzinfo=UTC)))
    }
    assert set(dates) <= matching
    assert len(matching) == 12  # one per month


def test_weekend() -> None:
    spec = {"type": "io.kestra.plugin.core.condition.Weekend"}
    assert [check(spec, on(utc(2030, 1, d, 12))) for d in range(7, 14)] == [False] * 5 + [True, True]


def test_time_between_is_exclusive_and_compares_instants_of_the_day() -> None:
    spec = {"type": "io.kestra.plugin.core.condition.TimeBetween", "after": "16:00:00+02:00", "before": "20:00:00+02:00"}
    assert check(spec, on(datetime(2030, 6, 3, 18, tzinfo=PARIS)))  # 18:00+02:00
    assert not check(spec, on(datetime(2030, 6, 3, 16, tzinfo=PARIS)))  # equal: not after
    assert check(spec, on(utc(2030, 6, 3, 14, 30)))  # 14:30Z is 16:30+02:00
    assert not check(spec, on(utc(2030, 6, 3, 18, 30)))
    only_after = {"type": "tercel.core.condition.TimeBetween", "after": "08:00:00"}  # no offset: the date's own
    assert check(only_after, on(datetime(2030, 1, 7, 9, tzinfo=PARIS)))
    assert not check(only_after, on(datetime(2030, 1, 7, 7, tzinfo=PARIS)))
    with pytest.raises(ValidationError, match="give `after`, `before` or both"):
        check({"type": "tercel.core.condition.TimeBetween"}, {})


def test_date_time_between_is_inclusive() -> None:
    spec = {"type": "io.kestra.plugin.core.condition.DateTimeBetween", "after": "2030-01-01T00:00:00Z", "before": "2030-12-31T23:59:59Z"}
    assert check(spec, on(utc(2030, 1, 1)))
    assert check(spec, on(utc(2030, 12, 31, 23, 59, 59)))
    assert not check(spec, on(utc(2031, 1, 1)))
    assert not check(spec, on(utc(2029, 12, 31, 23, 59, 59)))
    assert check({"type": "tercel.core.condition.DateTimeBetween", "after": "{{ vars.since }}"}, {**on(utc(2030, 5, 1)), "vars": {"since": "2030-04-01T00:00:00+02:00"}})


@pytest.mark.parametrize(
    ("expression", "holds"),
    [("{{ 1 < 2 }}", True), ("{{ 1 > 2 }}", False), ("   ", False), ("false", False), ("no", True), ("{{ trigger.date | date('HH') == '09' }}", True)],
)
def test_expression(expression: str, holds: bool) -> None:
    assert check({"type": "io.kestra.plugin.core.condition.Expression", "expression": expression}, on(utc(2030, 1, 7, 9))) is holds


def test_not_and_or_nest() -> None:
    not_sunday = {"type": "io.kestra.plugin.core.condition.Not", "conditions": [
        {"type": "io.kestra.plugin.core.condition.DayWeek", "dayOfWeek": "SUNDAY"},
    ]}
    monday_or_weekend = {"type": "io.kestra.plugin.core.condition.Or", "conditions": [
        {"type": "io.kestra.plugin.core.condition.DayWeek", "dayOfWeek": "MONDAY"},
        {"type": "io.kestra.plugin.core.condition.Weekend"},
    ]}
    week = [utc(2030, 1, d, 11) for d in range(7, 14)]  # Monday to Sunday
    assert [check(not_sunday, on(d)) for d in week] == [True] * 6 + [False]
    assert [check(monday_or_weekend, on(d)) for d in week] == [True, False, False, False, False, True, True]
    with pytest.raises(ValidationError, match="at least 1"):
        check({"type": "io.kestra.plugin.core.condition.Or", "conditions": []}, {})


def test_dates_are_parsed_like_kestra() -> None:
    assert parse_date("2030-01-07T10:00:00+02:00[Europe/Paris]") == datetime(2030, 1, 7, 8, tzinfo=UTC)
    assert parse_date("2030-01-07T10:00:00Z") == utc(2030, 1, 7, 10)
    assert parse_date("2030-01-07") == utc(2030, 1, 7)
    with pytest.raises(ValueError, match="is not an ISO 8601 date"):
        parse_date("yesterday")
    with pytest.raises(ValueError, match="empty"):
        parse_date("")


EXECUTION_CONDITIONS = (
    condition.ExecutionStatus, condition.ExecutionFlow, condition.ExecutionNamespace,
    condition.ExecutionLabels, condition.ExecutionOutputs,
)


def test_every_condition_has_kestra_aliases_and_only_execution_ones_are_not_for_schedules() -> None:
    for cls in CONDITION_TYPES:
        assert cls.schedule_condition is (cls not in EXECUTION_CONDITIONS), cls
        assert cls.type_name.startswith("tercel.core.condition.")
        assert any(a.startswith("io.kestra.plugin.core.condition.") for a in cls.type_aliases)
    assert issubclass(condition.Expression, condition.Condition)


# ------------------------------------------------------------------------------------- Flow

ANY = [{"type": "io.kestra.plugin.core.condition.Expression", "expression": "true"}]


def flow_trigger(**props: Any) -> trigger.Flow:
    return trigger.Flow.model_validate({"id": "f", "type": "io.kestra.plugin.core.trigger.Flow", **props})


def test_a_flow_trigger_needs_conditions_or_preconditions_and_cannot_listen_to_created() -> None:
    with pytest.raises(ValidationError, match="needs `conditions` or `preconditions`"):
        flow_trigger()
    with pytest.raises(ValidationError, match="cannot listen to CREATED"):
        flow_trigger(conditions=ANY, states=["CREATED", "FAILED"])
    with pytest.raises(ValidationError, match="SUCCEEDED"):
        flow_trigger(conditions=ANY, states=["SUCCEEDED"])


def test_a_flow_trigger_listens_to_end_states_and_paused_by_default() -> None:
    default = flow_trigger(conditions=ANY)
    assert default.listened_states == {"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "RETRIED", "SKIPPED", "RESUBMITTED", "PAUSED"}
    assert not default.listens_to("RUNNING") and default.listens_to("PAUSED")
    only = flow_trigger(conditions=ANY, states=["FAILED", "WARNING"])
    assert only.listens_to("WARNING") and not only.listens_to("SUCCESS")


def test_preconditions_need_flows_or_where_and_a_kestra_id() -> None:
    with pytest.raises(ValidationError, match="need `flows` or `where`"):
        flow_trigger(preconditions={"id": "p"})
    with pytest.raises(ValidationError, match="String should match pattern"):
        flow_trigger(preconditions={"id": "-p", "flows": [{"namespace": "a"}]})
    with pytest.raises(ValidationError, match="duplicate `where` id 'w'"):
        flow_trigger(preconditions={"id": "p", "where": [
            {"id": "w", "filters": [{"field": "STATE", "type": "EQUAL_TO", "value": "FAILED"}]},
            {"id": "w", "filters": [{"field": "STATE", "type": "EQUAL_TO", "value": "KILLED"}]},
        ]})
    with pytest.raises(ValidationError, match="Field required"):
        flow_trigger(preconditions={"id": "p", "flows": [{"flowId": "no_namespace"}]})


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"type": "DAILY_TIME_DEADLINE"}, "needs `deadline`"),
        ({"type": "DAILY_TIME_WINDOW", "startTime": "06:00:00"}, "needs `endTime`"),
        ({"type": "DAILY_TIME_DEADLINE", "deadline": "09:00:00", "window": "PT1H"}, "`window` cannot be used"),
        ({"type": "SLIDING_WINDOW", "windowAdvance": "PT1H"}, "`windowAdvance` cannot be used"),
        ({"type": "DURATION_WINDOW", "deadline": "09:00:00"}, "`deadline` cannot be used"),
        ({"window": "PT0S"}, "positive"),
        ({"type": "DAILY_TIME_DEADLINE", "deadline": "09:00:00+02:00"}, "without an offset"),
        ({"type": "DAILY_TIME_DEADLINE", "deadline": "09:00:00", "timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"type": "WEEKLY"}, "DURATION_WINDOW"),
    ],
)
def test_time_windows_are_checked_like_kestra(window: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        flow_trigger(preconditions={"id": "p", "flows": [{"namespace": "a"}], "timeWindow": window})


def test_time_window_bounds() -> None:
    def bounds(now: datetime, **window: Any) -> tuple[datetime, datetime] | None:
        return trigger.TimeWindow.model_validate(window).bounds(now)

    now = utc(2030, 1, 7, 13, 23)
    assert bounds(now) == (utc(2030, 1, 7), utc(2030, 1, 8))
    assert bounds(now, window="PT10M") == (utc(2030, 1, 7, 13, 20), utc(2030, 1, 7, 13, 30))
    assert bounds(now, window="PT6H") == (utc(2030, 1, 7, 12), utc(2030, 1, 7, 18))
    assert bounds(utc(2030, 1, 7, 1), window="PT6H", windowAdvance="PT3H") == (utc(2030, 1, 6, 21), utc(2030, 1, 7, 3))
    assert bounds(utc(2030, 1, 7, 1), windowAdvance="PT3H") == (utc(2030, 1, 6, 3), utc(2030, 1, 7, 3))
    assert bounds(now, window="P2D") == (utc(2030, 1, 7), utc(2030, 1, 9))
    assert bounds(now, type="SLIDING_WINDOW") is None
    assert trigger.TimeWindow.model_validate({"type": "SLIDING_WINDOW"}).sliding == timedelta(days=1)
    assert bounds(now, type="DAILY_TIME_WINDOW", startTime="08:00:00", endTime="10:00:00") == (utc(2030, 1, 7, 8), utc(2030, 1, 7, 10))
    # in a time zone, across the change to summer time: midnight and 09:00 are Paris times
    assert bounds(utc(2030, 3, 31, 5), type="DAILY_TIME_DEADLINE", deadline="09:00:00", timezone="Europe/Paris") == (
        utc(2030, 3, 30, 23), utc(2030, 3, 31, 7),
    )
    paris_midnight = bounds(utc(2030, 3, 31, 5), timezone="Europe/Paris")
    assert paris_midnight is not None and paris_midnight[0] == utc(2030, 3, 30, 23)


class FlowCtx:
    """What the scheduler gives `precondition_results`: the upstream execution, rendering."""

    def __init__(self, execution: Mapping[str, Any], **variables: Any) -> None:
        from tercel.expressions import ExpressionEngine

        self.variables = {"execution": execution, **variables}
        self._engine = ExpressionEngine()

    def render(self, value: Any) -> Any:
        return self._engine.render_value(value.raw if isinstance(value, Property) else value, self.variables)


def upstream(**changes: Any) -> dict[str, Any]:
    base = {"id": "e1", "namespace": "company.team", "flowId": "extract", "state": "SUCCESS", "labels": {"env": "prod", "flag": "true"}, "outputs": {}}
    return {**base, **changes}


def test_upstream_flows_match_namespace_flow_states_and_labels() -> None:
    t = flow_trigger(preconditions={"id": "p", "flows": [
        {"namespace": "company.team", "flowId": "extract", "states": ["SUCCESS", "WARNING"], "labels": {"env": "prod", "flag": True}},
        {"namespace": "company.team"},
    ]})
    strict, loose = list(t.precondition_results(FlowCtx(upstream())) or {})
    assert t.precondition_results(FlowCtx(upstream())) == {strict: True, loose: True}
    assert t.precondition_results(FlowCtx(upstream(state="FAILED"))) == {strict: False, loose: True}
    assert t.precondition_results(FlowCtx(upstream(flowId="load"))) == {strict: False, loose: True}
    assert t.precondition_results(FlowCtx(upstream(labels={"env": "prod"}))) == {strict: False, loose: True}
    assert t.precondition_results(FlowCtx(upstream(namespace="company.team.sub"))) == {strict: False, loose: False}
    with pytest.raises(ValueError, match="Flow trigger only"):
        t.precondition_results(FlowCtx({}))
    assert flow_trigger(conditions=ANY).precondition_results(FlowCtx(upstream())) is None


@pytest.mark.parametrize(
    ("filters", "operand", "holds"),
    [
        ([{"field": "NAMESPACE", "type": "STARTS_WITH", "value": "company"}], "AND", True),
        ([{"field": "NAMESPACE", "type": "ENDS_WITH", "value": ".team"}], "AND", True),
        ([{"field": "NAMESPACE", "type": "CONTAINS", "value": "pany.te"}], "AND", True),
        ([{"field": "FLOW_ID", "type": "EQUAL_TO", "value": "extract"}], "AND", True),
        ([{"field": "FLOW_ID", "type": "NOT_EQUAL_TO", "value": "extract"}], "AND", False),
        ([{"field": "STATE", "type": "IN", "values": ["FAILED", "SUCCESS"]}], "AND", True),
        ([{"field": "STATE", "type": "NOT_IN", "values": ["SUCCESS"]}], "AND", False),
        ([{"field": "FLOW_ID", "type": "REGEX", "value": "ext.*"}], "AND", True),
        ([{"field": "FLOW_ID", "type": "REGEX", "value": "ext"}], "AND", False),  # the whole value
        ([{"field": "FLOW_ID", "type": "IS_NOT_NULL", "value": "-"}], "AND", True),
        ([{"field": "EXPRESSION", "type": "IS_TRUE", "value": "{{ labels.env == 'prod' }}"}], "AND", True),
        ([{"field": "EXPRESSION", "type": "IS_FALSE", "value": "{{ execution.state == 'SUCCESS' }}"}], "AND", False),
        ([{"field": "EXPRESSION", "type": "IS_NULL", "value": "{{ null }}"}], "AND", True),
        ([{"field": "STATE", "type": "EQUAL_TO", "value": "FAILED"}, {"field": "FLOW_ID", "type": "EQUAL_TO", "value": "extract"}], "AND", False),
        ([{"field": "STATE", "type": "EQUAL_TO", "value": "FAILED"}, {"field": "FLOW_ID", "type": "EQUAL_TO", "value": "extract"}], "OR", True),
    ],
)
def test_where_filters(filters: list[dict[str, Any]], operand: str, holds: bool) -> None:
    t = flow_trigger(preconditions={"id": "p", "where": [{"id": "w", "operand": operand, "filters": filters}]})
    (result,) = (t.precondition_results(FlowCtx(upstream(), labels={"env": "prod"})) or {}).values()
    assert result is holds


def test_where_filters_need_their_value() -> None:
    with pytest.raises(ValidationError, match="`value` cannot be null for type EQUAL_TO"):
        flow_trigger(preconditions={"id": "p", "where": [{"id": "w", "filters": [{"field": "STATE", "type": "EQUAL_TO"}]}]})
    with pytest.raises(ValidationError, match="`values` cannot be null for type IN"):
        flow_trigger(preconditions={"id": "p", "where": [{"id": "w", "filters": [{"field": "STATE", "type": "IN", "value": "x"}]}]})
    with pytest.raises(ValidationError, match="invalid regular expression"):
        flow_trigger(preconditions={"id": "p", "where": [{"id": "w", "filters": [{"field": "STATE", "type": "REGEX", "value": "("}]}]})


def test_flow_event_carries_inputs_and_labels() -> None:
    t = flow_trigger(conditions=ANY, inputs={"d": "{{ trigger.outputs.date }}"}, labels=[{"key": "from", "value": "{{ trigger.flowId }}"}])
    event = t.event({"executionId": "e1", "outputs": {"date": "2030-01-01"}})
    assert event.inputs == {"d": "{{ trigger.outputs.date }}"} and event.labels == {"from": "{{ trigger.flowId }}"}
    assert event.variables["executionId"] == "e1"


# ---------------------------------------------------------------------------------- Webhook


def webhook(**props: Any) -> trigger.Webhook:
    return trigger.Webhook.model_validate({"id": "w", "type": "io.kestra.plugin.core.trigger.Webhook", **props})


def test_webhook_defaults_and_event() -> None:
    hook = webhook(key="4wjtkzwVGBM9yKnjm3yv8r", inputs={"name": "{{ trigger.body.name }}"})
    assert hook.key.raw == "4wjtkzwVGBM9yKnjm3yv8r" and (hook.wait, hook.return_outputs) == (False, False)
    event = hook.event(body={"name": "ana"}, headers={"x-a": ["1"]}, parameters={"q": ["1", "2"]}, formFields={})
    assert event.variables == {"body": {"name": "ana"}, "headers": {"x-a": ["1"]}, "parameters": {"q": ["1", "2"]}, "formFields": {}}
    assert event.inputs == {"name": "{{ trigger.body.name }}"}
    assert webhook(key="k", wait=True, returnOutputs=True).return_outputs


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("a/b", "cannot contain '/'"),
        ("   ", "blank"),
        ("", "blank"),
        ("x" * 257, "at most 256"),
        ("tab\there", "control characters"),
    ],
)
def test_webhook_keys_are_checked(key: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        webhook(key=key)


def test_webhook_keys_that_fit() -> None:
    for key in ("x" * 256, "with space", "{{ secret('WEBHOOK_KEY') }}", "é-ü_~.!"):
        assert webhook(key=key).key.raw == key
    assert webhook(key="{{ secret('K') }}").key.is_dynamic
    with pytest.raises(ValidationError, match="Field required"):
        webhook()


def test_webhook_refuses_a_multiple_condition() -> None:
    with pytest.raises(ValidationError, match="cannot have a MultipleCondition"):
        webhook(key="k", conditions=[{"type": "io.kestra.plugin.core.condition.MultipleCondition", "id": "m"}])


# ----------------------------------------------------------------------------- manifests, docs

TRIGGER_TYPES = (trigger.Schedule, trigger.ScheduleOnDates, trigger.NamespaceFiles, trigger.Flow, trigger.Webhook)


@pytest.mark.parametrize("cls", [*TRIGGER_TYPES, *CONDITION_TYPES], ids=lambda c: c.type_name)
def test_every_type_describes_itself_with_a_full_example_flow(cls: type) -> None:
    entry = describe_type(cls)
    assert entry["kind"] == ("trigger" if cls in TRIGGER_TYPES else "condition")
    assert entry["title"] and entry["description"] and entry["examples"]
    yaml = YAML(typ="safe")
    for example in entry["examples"]:
        assert example["full"]
        flow = yaml.load(example["code"])
        assert {"id", "namespace", "tasks", "triggers"} <= set(flow)
        written = [t["type"] for t in flow["triggers"]] + [c["type"] for t in flow["triggers"] for c in t.get("conditions", ())]
        assert set(written) & set(cls.all_names()), f"the example of {cls.type_name} does not use it"


def test_kestra_names() -> None:
    assert trigger.Schedule.type_aliases == (
        "io.kestra.plugin.core.trigger.Schedule", "io.kestra.core.models.triggers.types.Schedule",
    )
    assert trigger.ScheduleOnDates.type_aliases == ("io.kestra.plugin.core.trigger.ScheduleOnDates",)
    assert trigger.Flow.type_aliases == ("io.kestra.plugin.core.trigger.Flow", "io.kestra.core.models.triggers.types.Flow")
    assert trigger.Webhook.type_aliases == (
        "io.kestra.plugin.core.trigger.Webhook", "io.kestra.core.models.triggers.types.Webhook",
    )


# ------------------------------------------------------------------ the examples, scheduled for real


async def test_the_documented_examples_run_on_their_schedule() -> None:
    clock = types.SimpleNamespace(now=utc(2030, 1, 7, 8, 50))  # a Monday morning
    fired: dict[str, list[datetime]] = {}
    async with Sandbox() as tercel:
        scheduler = tercel.scheduler(clock=lambda: clock.now)

        async def run_until(until: datetime) -> None:
            """Tick, let what was created end, jump to the next due date, … until `until`."""
            while True:
                created = await scheduler.tick()
                for ex in created:
                    done = await tercel.wait(ex.id, timeout=30)
                    assert done.state in ("SUCCESS", "WARNING"), done.summary()
                    fired.setdefault(done.flow_id, []).append(done.execution["trigger"]["date"])
                if created:
                    continue
                due = [s.next_date for s in scheduler.triggers() if s.next_date is not None and not s.disabled]
                if clock.now >= until or not due:
                    return
                clock.now = min(until, max(clock.now, min(due)))

        for cls in (trigger.Schedule, trigger.ScheduleOnDates, trigger.NamespaceFiles):
            for example in cls.type_examples:
                if "withSeconds" not in example.code:
                    tercel.deploy(example.code)
        await run_until(utc(2030, 1, 7, 14, 0, 5))
        for example in trigger.Schedule.type_examples:
            if "withSeconds" in example.code:
                tercel.deploy(example.code)
        scheduler.flows_changed()
        await run_until(utc(2030, 1, 7, 14, 1, 0))
    # the monthly report: its 2024 backfill (the first Monday of each month), then 2030's
    monthly = fired["monthly_report"]
    assert [d.date() for d in monthly[:3]] == [date(2024, 1, 1), date(2024, 2, 5), date(2024, 3, 4)]
    assert len(monthly) == 13 and monthly[-1] == utc(2030, 1, 7, 11)
    assert fired["business_critical_flow"] == [datetime(2030, 1, 7, 9, tzinfo=ZoneInfo("America/New_York"))]
    assert fired["scheduled_flow"] == [utc(2030, 1, 7, 9) + timedelta(minutes=15 * i) for i in range(21)]
    assert fired["heartbeat"] == [utc(2030, 1, 7, 14, 0, 10) + timedelta(seconds=10 * i) for i in range(6)]
    assert "quarter_closing" not in fired and "process_uploads" not in fired  # 2026 is past; no files
