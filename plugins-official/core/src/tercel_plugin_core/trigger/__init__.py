"""Trigger types: `tercel.core.trigger.Schedule`, `ScheduleOnDates`, `NamespaceFiles`,
`FileWatch`, `Flow` and `Webhook`.

`Schedule` and `ScheduleOnDates` are Kestra's `io.kestra.plugin.core.trigger.*` schedules. They
only compute dates, purely (`next_date`, `previous_date`, `event`): the scheduler that comes with
the server decides, from the dates and what it remembers, which executions to create (missed
schedules, backfills, no overlap, `stopAfter`, conditions).

The cron dialect is Kestra's exactly (cron-utils with Kestra's definition): 5 fields
(`minute hour day-of-month month day-of-week`), or 6 with `withSeconds: true` (seconds first);
`*`, values, ranges `a-b`, steps `*/n`, `a/n`, `a-b/n` and lists; month names `JAN`-`DEC`
and day names `SUN`-`SAT`; day of week 0-7 where both 0 and 7 are Sunday; the nicknames
`@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight` and `@hourly`. Values out
of range are errors (no `L`, `W`, `#` or `?`, which Kestra does not accept either). When both
the day of month and the day of week are restricted, a day matching either one matches, as in
Unix cron. Dates are computed in the trigger's `timezone`: on a daylight-saving jump forward, a
time that does not exist fires at the same offset after the jump (02:30 becomes 03:30); on a
jump back, a time that happens twice fires once, the first time.

`NamespaceFiles` is a polling trigger: every `interval` it looks at the files of a namespace and
starts an execution with the new or changed ones (or moves or deletes them as it picks them up).
`FileWatch` (in `_file_watch`) is the realtime one: its listener starts one execution per file
created, changed or deleted in a local folder an administrator allowed.

`Flow` starts a flow when executions of other flows end (Kestra's flow trigger, `preconditions`
included): the scheduler hands it each ended execution; what it decides from it (which
preconditions an execution meets, the time window) is pure, here, and the progress of its
preconditions is kept by the scheduler in the store. `Webhook` only declares a webhook: the
server fires it when its URL is called.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from tercel_sdk import (
    Duration,
    Example,
    PollingTrigger,
    Property,
    ScheduleTrigger,
    State,
    Trigger,
    TriggerEvent,
    is_truthy,
)

from tercel_plugin_core.condition import optional_fields_schema

from ._file_watch import FileWatch

__all__ = [
    "DEFAULT_FLOW_STATES",
    "Cron",
    "CronError",
    "ExecutionFilter",
    "FileWatch",
    "Flow",
    "Label",
    "NamespaceFiles",
    "PreconditionFilter",
    "Preconditions",
    "RecoverMissedSchedules",
    "Schedule",
    "ScheduleBackfill",
    "ScheduleOnDates",
    "TimeWindow",
    "UpstreamFlow",
    "Webhook",
    "parse_cron",
]

RecoverMissedSchedules = Literal["ALL", "LAST", "NONE"]
"""What the scheduler does with dates missed while it was down (or the trigger was busy)."""

# ------------------------------------------------------------------------------------- cron


class CronError(ValueError):
    """A cron expression that Kestra's cron dialect does not accept; says what and where."""


_NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {name: i for i, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1
)}
_DAYS = {name: i for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
# (name, lowest, highest, names)
_SECOND = ("second", 0, 59, None)
_FIELDS = (
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day of month", 1, 31, None),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
_HORIZON_YEARS = 10  # like Kestra: a schedule with no date within ten years never fires again


def _field_value(text: str, spec: tuple[str, int, int, dict[str, int] | None], expression: str) -> int:
    name, low, high, names = spec
    upper = text.upper()
    if names is not None and upper in names:
        return names[upper]
    if not text.isdigit():
        raise CronError(f"invalid {name} {text!r} in cron {expression!r}")
    value = int(text)
    if not low <= value <= high:
        raise CronError(f"{name} {value} is out of range {low}-{high} in cron {expression!r}")
    return value


def _parse_field(text: str, spec: tuple[str, int, int, dict[str, int] | None], expression: str) -> tuple[list[int], bool]:
    """The sorted values a field allows, and whether it was written as `*` (unrestricted)."""
    name, low, high, _ = spec
    values: set[int] = set()
    star = text.startswith("*")
    for part in text.split(","):
        if not part:
            raise CronError(f"empty item in the {name} field {text!r} of cron {expression!r}")
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"invalid step {step_text!r} in the {name} field of cron {expression!r}")
            step = int(step_text)
        if base == "*":
            first, last = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            first, last = _field_value(a, spec, expression), _field_value(b, spec, expression)
            if first > last:
                raise CronError(f"range {base!r} of the {name} field goes backwards in cron {expression!r}")
        else:
            first = _field_value(base, spec, expression)
            last = high if slash else first
        values.update(range(first, last + 1, step))
    if name == "day of week" and 7 in values:  # both 0 and 7 are Sunday
        values.discard(7)
        values.add(0)
    return sorted(values), star


class Cron:
    """A parsed cron expression; `next_after` and `previous_before` compute its dates."""

    __slots__ = ("_dom_star", "_dow_star", "days", "expression", "hours", "minutes", "months", "seconds", "weekdays", "with_seconds")

    def __init__(self, expression: str, *, with_seconds: bool = False) -> None:
        if not isinstance(expression, str) or not expression.strip():
            raise CronError("the cron expression is empty")
        self.expression = expression
        self.with_seconds = with_seconds
        text = expression.strip()
        if text.startswith("@"):
            nickname = _NICKNAMES.get(text.lower())
            if nickname is None:
                raise CronError(
                    f"unknown cron nickname {text!r}: use one of {', '.join(sorted(_NICKNAMES))}"
                )
            text = ("0 " if with_seconds else "") + nickname
        parts = text.split()
        wanted = 6 if with_seconds else 5
        if len(parts) != wanted:
            hint = (
                " (withSeconds is true: seconds come first)" if with_seconds
                else " (6 fields need `withSeconds: true`)" if len(parts) == 6 else ""
            )
            raise CronError(f"cron {expression!r} has {len(parts)} fields, {wanted} expected{hint}")
        if with_seconds:
            self.seconds, _ = _parse_field(parts[0], _SECOND, expression)
            parts = parts[1:]
        else:
            self.seconds = [0]
        self.minutes, _ = _parse_field(parts[0], _FIELDS[0], expression)
        self.hours, _ = _parse_field(parts[1], _FIELDS[1], expression)
        self.days, self._dom_star = _parse_field(parts[2], _FIELDS[2], expression)
        self.months, _ = _parse_field(parts[3], _FIELDS[3], expression)
        self.weekdays, self._dow_star = _parse_field(parts[4], _FIELDS[4], expression)

    def __repr__(self) -> str:
        return f"Cron({self.expression!r}, with_seconds={self.with_seconds})"

    def _day_matches(self, day: date) -> bool:
        dom = day.day in self.days
        dow = day.isoweekday() % 7 in self.weekdays
        if self._dom_star and self._dow_star:
            return True
        if self._dom_star:
            return dow
        if self._dow_star:
            return dom
        return dom or dow  # both restricted: either one, as in Unix cron

    @staticmethod
    def _next_in(values: list[int], current: int) -> int | None:
        i = bisect.bisect_left(values, current)
        return values[i] if i < len(values) else None

    def first_at_or_after(self, start: datetime) -> datetime | None:
        """The first wall-clock time (naive) the expression matches at or after `start`."""
        t = start.replace(microsecond=0) if start.microsecond == 0 else start.replace(microsecond=0) + timedelta(seconds=1)
        limit = start.year + _HORIZON_YEARS
        while t.year <= limit:
            if t.month not in self.months:
                month = self._next_in(self.months, t.month)
                t = datetime(t.year, month, 1) if month is not None else datetime(t.year + 1, self.months[0], 1)
                continue
            if not self._day_matches(t.date()):
                t = datetime(t.year, t.month, t.day) + timedelta(days=1)
                continue
            if t.hour not in self.hours:
                hour = self._next_in(self.hours, t.hour)
                if hour is None:
                    t = datetime(t.year, t.month, t.day) + timedelta(days=1)
                else:
                    t = t.replace(hour=hour, minute=0, second=0)
                continue
            if t.minute not in self.minutes:
                minute = self._next_in(self.minutes, t.minute)
                if minute is None:
                    t = t.replace(minute=0, second=0) + timedelta(hours=1)
                else:
                    t = t.replace(minute=minute, second=0)
                continue
            if t.second not in self.seconds:
                second = self._next_in(self.seconds, t.second)
                if second is None:
                    t = t.replace(second=0) + timedelta(minutes=1)
                else:
                    t = t.replace(second=second)
                continue
            return t
        return None

    def next_after(self, after: datetime, tz: ZoneInfo) -> datetime | None:
        """The first date strictly after the instant `after`, in `tz` (None within ten years)."""
        if after.tzinfo is None:
            raise ValueError(f"naive datetime {after!r}: give a timezone-aware one")
        step = timedelta(seconds=1) if self.with_seconds else timedelta(minutes=1)
        local = after.astimezone(tz).replace(tzinfo=None)
        base = local.replace(microsecond=0) if self.with_seconds else local.replace(second=0, microsecond=0)
        candidate = self.first_at_or_after(base + step)
        while candidate is not None:
            instant = _instant(candidate, tz)
            if instant > after:
                return instant
            # a time repeated by a jump back (its first pass is before `after`) or shifted by a
            # jump forward onto an earlier instant: look further
            candidate = self.first_at_or_after(candidate + step)
        return None

    def previous_before(self, before: datetime, tz: ZoneInfo) -> datetime | None:
        """The last date strictly before the instant `before`, in `tz` (None within ten years)."""
        if before.tzinfo is None:
            raise ValueError(f"naive datetime {before!r}: give a timezone-aware one")
        span = timedelta(seconds=2) if self.with_seconds else timedelta(minutes=2)
        horizon = timedelta(days=366 * _HORIZON_YEARS)
        while span <= horizon * 2:
            found = self.next_after(before - span - timedelta(microseconds=1), tz)
            if found is not None and found < before:
                last = found
                while (following := self.next_after(last, tz)) is not None and following < before:
                    last = following
                return last
            span *= 4
        return None

    def dates(self, after: datetime, tz: ZoneInfo) -> Iterator[datetime]:
        """Every date strictly after `after`, in order."""
        current = self.next_after(after, tz)
        while current is not None:
            yield current
            current = self.next_after(current, tz)


def _instant(local: datetime, tz: ZoneInfo) -> datetime:
    """A naive wall-clock time in `tz` as an aware datetime: the first of two when a jump back
    repeats it, shifted by the jump when a jump forward skips it."""
    aware = local.replace(tzinfo=tz)  # fold=0: the earlier offset
    return aware.astimezone(UTC).astimezone(tz)


@lru_cache(maxsize=1024)
def parse_cron(expression: str, with_seconds: bool = False) -> Cron:
    """A parsed `Cron` (cached); `CronError` says what is wrong."""
    return Cron(expression, with_seconds=with_seconds)


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name like 'Europe/Paris', 'America/New_York' or 'UTC'"
        ) from None


def _check_zone(value: str) -> str:
    _zone(value)
    return value


# ----------------------------------------------------------------------------------- shared


class Label(BaseModel):
    """A label as Kestra also writes them: `{key: …, value: …}`."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    key: str
    value: str


Labels = dict[str, str] | list[Label]


def _labels(value: Labels | None) -> dict[str, str]:
    if not value:
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return {item.key: item.value for item in value}


def _aware(value: datetime, tz: ZoneInfo) -> datetime:
    """A datetime in `tz`: a naive one is read as a wall-clock time of `tz`."""
    if value.tzinfo is None:
        return _instant(value, tz)
    return value.astimezone(tz)


class ScheduleBackfill(BaseModel):
    """Kestra's `backfill`: create the executions of every date from `start` (to `end`)."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, defer_build=True
    )

    start: datetime = Field(description="The first date to backfill from (ISO 8601; without an offset, in the trigger's timezone).")
    end: datetime | None = Field(default=None, description="The last date to backfill (inclusive); by default, when the scheduler first sees the backfill.")
    inputs: dict[str, Any] | None = Field(default=None, description="Inputs of the backfilled executions, over the trigger's own `inputs`.")
    labels: Labels | None = Field(default=None, description="Labels added to the backfilled executions.")

    @model_validator(mode="after")
    def _ordered(self) -> ScheduleBackfill:
        if self.end is not None and self.start.tzinfo is not None and self.end.tzinfo is not None and self.end < self.start:
            raise ValueError("backfill `end` is before `start`")
        return self

    def label_map(self) -> dict[str, str]:
        return _labels(self.labels)


# --------------------------------------------------------------------------------- Schedule

_SCHEDULE_EXAMPLES = (
    Example(
        title="Run a flow every 15 minutes.",
        full=True,
        code="""\
id: scheduled_flow
namespace: company.team

tasks:
  - id: log
    type: tercel.core.Log
    message: "Scheduled for {{ trigger.date ?? execution.startDate }}"

triggers:
  - id: every_15_minutes
    type: tercel.core.trigger.Schedule
    cron: "*/15 * * * *"
""",
    ),
    Example(
        title="Every day at 9:00 in New York; stop scheduling after a failed run.",
        full=True,
        code="""\
id: business_critical_flow
namespace: company.team

tasks:
  - id: important_task
    type: io.kestra.plugin.core.log.Log
    message: "if this run fails, the schedule is disabled until someone fixes it"

triggers:
  - id: daily
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 * * *"
    timezone: America/New_York
    stopAfter:
      - FAILED
""",
    ),
    Example(
        title="The first Monday of each month at 11:00, with the runs of 2024 backfilled.",
        full=True,
        code="""\
id: monthly_report
namespace: company.team

inputs:
  - id: region
    type: STRING
    defaults: EMEA

tasks:
  - id: report
    type: tercel.core.Log
    message: "report of {{ trigger.date | date('yyyy-MM') }} for {{ inputs.region }}"

triggers:
  - id: first_monday
    type: tercel.core.trigger.Schedule
    cron: "0 11 * * 1"
    conditions:
      - type: io.kestra.plugin.core.condition.DayWeekInMonth
        dayOfWeek: MONDAY
        dayInMonth: FIRST
    backfill:
      start: 2024-01-01T00:00:00Z
      end: 2024-12-31T23:59:59Z
      labels:
        backfill: "true"
""",
    ),
    Example(
        title="Every 10 seconds (6 fields with `withSeconds`), skipping the runs missed while the server was down.",
        full=True,
        code="""\
id: heartbeat
namespace: company.team

tasks:
  - id: beat
    type: tercel.core.Log
    message: "beat at {{ trigger.date }}, next at {{ trigger.next }}"

triggers:
  - id: every_10_seconds
    type: tercel.core.trigger.Schedule
    cron: "*/10 * * * * *"
    withSeconds: true
    recoverMissedSchedules: NONE
""",
    ),
)


class Schedule(ScheduleTrigger):
    """Schedule a flow with a cron expression.

    The scheduler remembers, per trigger id, the last date it scheduled: after downtime it
    creates the missed executions as `recoverMissedSchedules` says (`ALL` by default, `LAST`, or
    `NONE`), and a `backfill` creates the executions of past dates. Runs of one trigger never
    overlap: while its execution runs, the next date waits for it to end (the same applies
    during backfills). Changing the trigger id makes it a new schedule, starting from now.

    Executions see `trigger.date` (the scheduled date), `trigger.next` and `trigger.previous`
    (the next and previous dates, with the conditions applied), in the trigger's `timezone`.
    `conditions` (e.g. `io.kestra.plugin.core.condition.DayWeekInMonth`) filter the dates; their
    `date` defaults to `{{ trigger.date }}`.
    """

    type_name: ClassVar[str] = "tercel.core.trigger.Schedule"
    type_aliases: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.trigger.Schedule",
        "io.kestra.core.models.triggers.types.Schedule",
    )
    type_title: ClassVar[str] = "Schedule a flow with a cron expression."
    type_examples: ClassVar[tuple[Example, ...]] = _SCHEDULE_EXAMPLES

    cron: str = Field(
        description=(
            "A Unix cron expression with 5 fields (minutes precision), or 6 with `withSeconds: true` "
            "(seconds first); or a nickname: `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, "
            "`@midnight`, `@hourly`. Both 0 and 7 mean Sunday."
        )
    )
    with_seconds: bool = Field(default=False, description="The cron expression has a 6th field, for seconds, first.")
    timezone: str = Field(
        default="Etc/UTC",
        description="The IANA time zone (`Europe/Paris`) the cron expression is read in; dates are given in it.",
    )
    inputs: dict[str, Any] | None = Field(
        default=None, description="Inputs of the scheduled executions; may use `{{ trigger.date }}`."
    )
    labels: Labels | None = Field(default=None, description="Labels added to the scheduled executions; may use `{{ trigger.date }}`.")
    backfill: ScheduleBackfill | None = Field(
        default=None, description="Create the executions of the dates from `start` to `end` (each with its own date)."
    )
    recover_missed_schedules: RecoverMissedSchedules | None = Field(
        default=None,
        description=(
            "Dates missed while the scheduler was down or the previous run still ran: `ALL` creates "
            "them all (one after the other), `LAST` only the last one, `NONE` none. Default `ALL`."
        ),
    )
    late_maximum_delay: Duration | None = Field(  # type: ignore[assignment]
        default=None,
        description="Skip a scheduled date that could not start within this delay (not during a backfill).",
    )

    _cron: Cron | None = PrivateAttr(default=None)

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        return _check_zone(value)

    @model_validator(mode="after")
    def _check_cron(self) -> Schedule:
        try:
            self._cron = parse_cron(self.cron, self.with_seconds)
        except CronError as exc:
            raise ValueError(str(exc)) from None
        return self

    @property
    def tz(self) -> ZoneInfo:
        return _zone(self.timezone)

    @property
    def compiled(self) -> Cron:
        if self._cron is None:
            self._cron = parse_cron(self.cron, self.with_seconds)
        return self._cron

    def next_date(self, after: datetime) -> datetime | None:
        return self.compiled.next_after(after, self.tz)

    def previous_date(self, before: datetime) -> datetime | None:
        """The last date strictly before `before`."""
        return self.compiled.previous_before(before, self.tz)

    def backfill_window(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The backfill's first and last dates (aware, in the timezone), `end` defaulting to `now`."""
        if self.backfill is None:
            return None
        start = _aware(self.backfill.start, self.tz)
        end = _aware(self.backfill.end, self.tz) if self.backfill.end is not None else now.astimezone(self.tz)
        return start, end

    def event(self, date: datetime) -> TriggerEvent:
        date = date.astimezone(self.tz)
        return TriggerEvent(
            variables={"date": date, "next": self.next_date(date), "previous": self.previous_date(date)},
            labels=_labels(self.labels),
            inputs=dict(self.inputs) if self.inputs else None,
            scheduled_date=date,
        )


class ScheduleOnDates(ScheduleTrigger):
    """Schedule a flow on a list of dates.

    For calendars a cron expression cannot say. Each date fires once; `trigger.date` is the
    date, in the trigger's `timezone`. Missed dates are recovered as `recoverMissedSchedules`
    says, and runs never overlap, as with `Schedule`.
    """

    type_name: ClassVar[str] = "tercel.core.trigger.ScheduleOnDates"
    type_aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.core.trigger.ScheduleOnDates",)
    type_title: ClassVar[str] = "Schedule a flow on specific dates."
    type_examples: ClassVar[tuple[Example, ...]] = (
        Example(
            title="Run a flow on three dates of the closing calendar.",
            full=True,
            code="""\
id: quarter_closing
namespace: company.finance

tasks:
  - id: close
    type: tercel.core.Log
    message: "closing run of {{ trigger.date }}"

triggers:
  - id: closing_days
    type: io.kestra.plugin.core.trigger.ScheduleOnDates
    timezone: Europe/Paris
    dates:
      - 2026-03-31T18:00:00+02:00
      - 2026-06-30T18:00:00+02:00
      - 2026-09-30T18:00:00
""",
        ),
    )

    dates: list[datetime] = Field(
        min_length=1,
        description="The dates to fire at (ISO 8601; without an offset, in the trigger's timezone).",
    )
    timezone: str = Field(default="Etc/UTC", description="The IANA time zone of dates without an offset, and of `trigger.date`.")
    inputs: dict[str, Any] | None = Field(default=None, description="Inputs of the scheduled executions; may use `{{ trigger.date }}`.")
    labels: Labels | None = Field(default=None, description="Labels added to the scheduled executions.")
    recover_missed_schedules: RecoverMissedSchedules | None = Field(
        default=None, description="Dates missed while the scheduler was down: `ALL` (default), `LAST` or `NONE`."
    )

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        return _check_zone(value)

    @property
    def tz(self) -> ZoneInfo:
        return _zone(self.timezone)

    def _sorted(self) -> list[datetime]:
        tz = self.tz
        return sorted({_aware(d, tz).replace(microsecond=0) for d in self.dates})

    def next_date(self, after: datetime) -> datetime | None:
        return next((d for d in self._sorted() if d > after), None)

    def previous_date(self, before: datetime) -> datetime | None:
        earlier = [d for d in self._sorted() if d < before]
        return earlier[-1] if earlier else None

    def event(self, date: datetime) -> TriggerEvent:
        date = date.astimezone(self.tz)
        return TriggerEvent(
            variables={"date": date},
            labels=_labels(self.labels),
            inputs=dict(self.inputs) if self.inputs else None,
            scheduled_date=date,
        )


# --------------------------------------------------------------------------- NamespaceFiles

_NAMESPACE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_-]*(\.[a-zA-Z0-9][a-zA-Z0-9_-]*)*")


def _folder(text: str | None) -> str:
    """A folder of a namespace as a prefix: no leading `/`, one trailing `/` ('' for the root)."""
    cleaned = (text or "").strip().strip("/")
    if ".." in cleaned.split("/"):
        raise ValueError(f"invalid folder {text!r}: '..' is not allowed")
    return cleaned + "/" if cleaned else ""


class NamespaceFiles(PollingTrigger):
    """Start an execution when files appear in a namespace's files.

    Every `interval`, the trigger lists the files of the namespace under `from` (all of them by
    default) whose path matches `regExp`. With `action: NONE` it starts an execution for the
    files that are new or changed since it last looked (it remembers their size and a digest);
    with `MOVE` it moves every matching file into `moveDirectory` and starts an execution with
    them; with `DELETE` it copies every matching file into internal storage for the execution
    and deletes it. At most `maxFiles` files go to one execution; the others wait for the next
    check. Like every trigger it never overlaps itself: while its execution runs, it waits.

    The execution sees `trigger.files`: a list of `{path, name, size, uri}`, `uri` being where
    a task reads the file (`{{ read(trigger.files[0].uri) }}`).
    """

    type_name: ClassVar[str] = "tercel.core.trigger.NamespaceFiles"
    type_title: ClassVar[str] = "Start an execution when files appear in a namespace."
    type_examples: ClassVar[tuple[Example, ...]] = (
        Example(
            title="Process each CSV file uploaded under `inbox/`, then move it to `processed/`.",
            full=True,
            code="""\
id: process_uploads
namespace: company.team

tasks:
  - id: each
    type: tercel.core.ForEach
    values: "{{ trigger.files | jq('.[].uri') }}"
    tasks:
      - id: show
        type: tercel.core.Log
        message: "{{ read(taskrun.value) }}"

triggers:
  - id: inbox
    type: tercel.core.trigger.NamespaceFiles
    interval: PT30S
    from: inbox
    regExp: ".*\\\\.csv"
    action: MOVE
    moveDirectory: processed
""",
        ),
    )

    namespace: Property[str] | None = Field(
        default=None, description="The namespace whose files are watched: the flow's (default) or one of its children."
    )
    from_: Property[str] = Field(default="", alias="from", description="The folder to watch (and its sub-folders); the whole namespace by default.")
    reg_exp: Property[str] | None = Field(
        default=None, description="A regular expression the whole path (from the namespace root, no leading `/`) must match."
    )
    action: Literal["NONE", "MOVE", "DELETE"] = Field(
        default="NONE",
        description="`NONE`: leave the files, fire for new or changed ones; `MOVE`: move them to `moveDirectory`; `DELETE`: delete them once copied for the execution.",
    )
    move_directory: Property[str] | None = Field(default=None, description="Where `action: MOVE` moves the files (a folder of the same namespace).")
    max_files: int = Field(default=25, ge=1, description="The most files one execution gets.")

    @model_validator(mode="after")
    def _needs_directory(self) -> NamespaceFiles:
        if self.action == "MOVE" and self.move_directory is None:
            raise ValueError("`action: MOVE` needs a `moveDirectory`")
        return self

    def evaluate(self, ctx: Any) -> TriggerEvent | None:
        """Look at the files once; an event with `files` when there is something to process.

        `ctx` is the scheduler's trigger context: `namespace`, `render`, `namespace_files`,
        `put_file(data, name)`, `memory` (a dict kept between checks) and `logger`.
        """
        namespace = None
        if self.namespace is not None:
            namespace = (ctx.render(self.namespace) or "").strip() or None
            if namespace is not None and not _NAMESPACE.fullmatch(namespace):
                raise ValueError(f"`namespace`: invalid namespace {namespace!r}")
        prefix = _folder(ctx.render(self.from_))
        pattern = re.compile(ctx.render(self.reg_exp)) if self.reg_exp is not None else None
        target = _folder(ctx.render(self.move_directory)) if self.move_directory is not None else None
        files = ctx.namespace_files.list(prefix, namespace=namespace)
        files = [
            f for f in files
            if (pattern is None or pattern.fullmatch(f.path.lstrip("/")))
            and not (target and f.path.lstrip("/").startswith(target))
        ]
        if self.action == "NONE":
            picked = self._changed(ctx, files, namespace)
        else:
            picked = files[: self.max_files]
        if not picked:
            return None
        out: list[dict[str, Any]] = []
        for f in picked:
            path = f.path.lstrip("/")
            name = path.rsplit("/", 1)[-1]
            uri = f.uri
            if self.action == "MOVE":
                assert target is not None
                moved = ctx.namespace_files.write(
                    target + path[len(prefix):], ctx.namespace_files.read(path, namespace=namespace), namespace=namespace
                )
                ctx.namespace_files.delete(path, namespace=namespace)
                path, uri = moved.path.lstrip("/"), moved.uri
            elif self.action == "DELETE":
                uri = ctx.put_file(ctx.namespace_files.read(path, namespace=namespace), name)
                ctx.namespace_files.delete(path, namespace=namespace)
            out.append({"path": path, "name": name, "size": f.size, "uri": uri})
        if len(files) > len(picked) and self.action != "NONE":
            ctx.logger.info("%d more files wait for the next check (maxFiles is %d)", len(files) - len(picked), self.max_files)
        return TriggerEvent(variables={"files": out})

    def _changed(self, ctx: Any, files: list[Any], namespace: str | None) -> list[Any]:
        seen: Mapping[str, str] = ctx.memory.get("seen") or {}
        current: dict[str, str] = {}
        changed = []
        for f in files:
            digest = hashlib.sha256(ctx.namespace_files.read(f.path, namespace=namespace)).hexdigest()
            fingerprint = f"{f.size}:{digest}"
            if seen.get(f.path) != fingerprint:
                changed.append((f, fingerprint))
            else:
                current[f.path] = fingerprint
        picked = changed[: self.max_files]
        for f, fingerprint in picked:
            current[f.path] = fingerprint
        # files that went away are forgotten (one that comes back fires again); files over
        # maxFiles stay unseen, for the next check
        ctx.memory["seen"] = current
        return [f for f, _ in picked]


# ------------------------------------------------------------------------------------- Flow


class _Part(BaseModel):
    """A nested part of a trigger definition (camelCase in YAML, nothing unknown accepted)."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, defer_build=True,
        json_schema_extra=optional_fields_schema,
    )


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _java_text(value: Any) -> str | None:
    """A value as Kestra compares it (`String.valueOf`): `true`, not `True`; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    return str(value)


def _execution_of(variables: Mapping[str, Any]) -> Mapping[str, Any]:
    """The upstream execution a Flow trigger evaluates (`execution` in its context)."""
    execution = variables.get("execution")
    if not isinstance(execution, Mapping) or "namespace" not in execution:
        raise ValueError("there is no upstream execution to test here: this works on a Flow trigger only")
    return execution


_TERMINATED = tuple(s.value for s in State if s.is_terminated)
DEFAULT_FLOW_STATES: tuple[str, ...] = (*_TERMINATED, State.PAUSED.value)
"""The states a Flow trigger listens to when `states` is not given (Kestra's: ended or paused)."""

WindowType = Literal["DURATION_WINDOW", "SLIDING_WINDOW", "DAILY_TIME_DEADLINE", "DAILY_TIME_WINDOW"]
_DAY = timedelta(days=1)
# what each window type needs, and what it must not have (Kestra's TimeWindowValidation)
_WINDOW_NEEDS: dict[str, tuple[str, ...]] = {
    "DURATION_WINDOW": (),
    "SLIDING_WINDOW": (),
    "DAILY_TIME_DEADLINE": ("deadline",),
    "DAILY_TIME_WINDOW": ("start_time", "end_time"),
}
_WINDOW_REFUSES: dict[str, tuple[str, ...]] = {
    "DURATION_WINDOW": ("deadline", "start_time", "end_time"),
    "SLIDING_WINDOW": ("deadline", "start_time", "end_time", "window_advance"),
    "DAILY_TIME_DEADLINE": ("window", "window_advance", "start_time", "end_time"),
    "DAILY_TIME_WINDOW": ("window", "window_advance", "deadline"),
}


def _window_schema(schema: dict[str, Any]) -> None:
    """The type-specific rules in the JSON Schema too, so a flow is refused when it is saved."""
    optional_fields_schema(schema)
    schema["allOf"] = [
        {
            "if": {"properties": {"type": {"const": kind}}, "required": ["type"]},
            "then": {"required": [to_camel(name) for name in needs]},
        }
        for kind, needs in _WINDOW_NEEDS.items() if needs
    ]


class TimeWindow(_Part):
    """Kestra's `timeWindow`: the period in which every precondition must be met.

    - `DURATION_WINDOW` (default): consecutive windows of `window` (default one day), aligned on
      midnight and shifted by `windowAdvance` (`window: PT6H` gives 00:00-06:00, 06:00-12:00, …;
      `windowAdvance: PT3H` makes it 03:00-09:00, …).
    - `SLIDING_WINDOW`: the last `window` (default one day) up to now.
    - `DAILY_TIME_DEADLINE`: from midnight until `deadline`, each day.
    - `DAILY_TIME_WINDOW`: from `startTime` until `endTime`, each day (an `endTime` before the
      `startTime` ends the next day).

    Times of day are read in `timezone` (default UTC).
    """

    model_config = ConfigDict(json_schema_extra=_window_schema)

    type: WindowType = Field(default="DURATION_WINDOW", description="`DURATION_WINDOW` (default), `SLIDING_WINDOW`, `DAILY_TIME_DEADLINE` or `DAILY_TIME_WINDOW`.")
    window: Duration | None = Field(  # type: ignore[assignment]
        default=None, description="The length of the window (`DURATION_WINDOW`, `SLIDING_WINDOW`); one day by default."
    )
    window_advance: Duration | None = Field(  # type: ignore[assignment]
        default=None, description="How far after midnight the windows start (`DURATION_WINDOW` only)."
    )
    deadline: time | None = Field(default=None, description="The time of day the preconditions must be met by (`DAILY_TIME_DEADLINE`).")
    start_time: time | None = Field(default=None, description="The time of day the window opens (`DAILY_TIME_WINDOW`).")
    end_time: time | None = Field(default=None, description="The time of day the window closes (`DAILY_TIME_WINDOW`).")
    timezone: str | None = Field(default=None, description="The IANA time zone of the times of day and of midnight; UTC by default.")

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str | None) -> str | None:
        return None if value is None else _check_zone(value)

    @field_validator("deadline", "start_time", "end_time")
    @classmethod
    def _local_time(cls, value: time | None) -> time | None:
        if value is not None and value.tzinfo is not None:
            raise ValueError("give a time of day without an offset; `timezone` says where it is")
        return value

    @model_validator(mode="after")
    def _fits_its_type(self) -> TimeWindow:
        missing = [to_camel(n) for n in _WINDOW_NEEDS[self.type] if getattr(self, n) is None]
        if missing:
            raise ValueError(f"a {self.type} time window needs {' and '.join(f'`{m}`' for m in missing)}")
        extra = [to_camel(n) for n in _WINDOW_REFUSES[self.type] if getattr(self, n) is not None]
        if extra:
            raise ValueError(f"{', '.join(f'`{e}`' for e in extra)} cannot be used with a {self.type} time window")
        if self.window is not None and self.window <= timedelta(0):
            raise ValueError("`window` must be a positive duration")
        if self.window_advance is not None and self.window_advance < timedelta(0):
            raise ValueError("`windowAdvance` must not be negative")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return _zone(self.timezone or "Etc/UTC")

    @property
    def sliding(self) -> timedelta | None:
        """For a `SLIDING_WINDOW`, how far back it looks; None for the other types."""
        return (self.window or _DAY) if self.type == "SLIDING_WINDOW" else None

    def fingerprint(self) -> str:
        """Changes when the window's definition does (its progress then starts again)."""
        return _digest(self.model_dump(mode="json"))

    def _at(self, day: date, moment: time) -> datetime:
        return _instant(datetime.combine(day, moment), self.tz).astimezone(UTC)

    def bounds(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The window `now` falls in, as UTC instants `[start, end)`; None for a sliding window.

        For the daily types the window is today's, even when `now` is outside it (the caller
        tells by comparing).
        """
        if self.type == "SLIDING_WINDOW":
            return None
        today = now.astimezone(self.tz).date()
        midnight = self._at(today, time(0))
        if self.type == "DAILY_TIME_DEADLINE":
            assert self.deadline is not None
            return midnight, self._at(today, self.deadline)
        if self.type == "DAILY_TIME_WINDOW":
            assert self.start_time is not None and self.end_time is not None
            start, end = self._at(today, self.start_time), self._at(today, self.end_time)
            if end <= start:  # overnight: it closes the next day
                if now < end:
                    start = self._at(today - _DAY, self.start_time)
                else:
                    end = self._at(today + _DAY, self.end_time)
            return start, end
        window = self.window or _DAY
        base = midnight + (self.window_advance or timedelta(0))
        if window >= _DAY:
            start = base if now >= base else base - _DAY
        else:
            start = base + window * ((now - base) // window)
        return start, start + window


class UpstreamFlow(_Part):
    """A flow whose execution must end as described (Kestra's precondition `flows` item)."""

    namespace: str = Field(description="The namespace of the flow.")
    flow_id: str | None = Field(default=None, description="The flow; any flow of the namespace when not given.")
    states: list[State] | None = Field(default=None, description="The states its execution must end in; any of the trigger's `states` when not given.")
    labels: dict[str, Any] | None = Field(default=None, description="Labels its execution must carry (each key with this value).")

    def key(self) -> str:
        return "flow." + _digest(self.model_dump(mode="json", by_alias=True))

    def matches(self, execution: Mapping[str, Any]) -> bool:
        if execution.get("namespace") != self.namespace:
            return False
        if self.flow_id is not None and execution.get("flowId") != self.flow_id:
            return False
        if self.states is not None and str(execution.get("state")) not in {s.value for s in self.states}:
            return False
        if self.labels:
            have = execution.get("labels") or {}
            return all(have.get(k) == _java_text(v) for k, v in self.labels.items())
        return True


FilterField = Literal["FLOW_ID", "NAMESPACE", "STATE", "EXPRESSION"]
FilterType = Literal[
    "EQUAL_TO", "NOT_EQUAL_TO", "IN", "NOT_IN", "IS_TRUE", "IS_FALSE", "IS_NULL", "IS_NOT_NULL",
    "STARTS_WITH", "ENDS_WITH", "REGEX", "CONTAINS",
]


class PreconditionFilter(_Part):
    """One test of a `where` filter: a field of the execution (or an expression) against a value."""

    model_config = ConfigDict(
        json_schema_extra=lambda schema: optional_fields_schema(schema, extra={
            "if": {"properties": {"type": {"enum": ["IN", "NOT_IN"]}}, "required": ["type"]},
            "then": {"required": ["values"]},
            "else": {"required": ["value"]},
        })
    )

    field: FilterField = Field(description="What is tested: `FLOW_ID`, `NAMESPACE`, `STATE`, or `EXPRESSION` (the rendered `value`).")
    type: FilterType = Field(
        description=(
            "The test: `EQUAL_TO`, `NOT_EQUAL_TO`, `IN`, `NOT_IN`, `IS_TRUE`, `IS_FALSE`, `IS_NULL`, "
            "`IS_NOT_NULL`, `STARTS_WITH`, `ENDS_WITH`, `REGEX` (the whole value), `CONTAINS`."
        )
    )
    value: str | None = Field(default=None, description="The value to test against (for `EXPRESSION`, the expression); every type but `IN` and `NOT_IN` needs it.")
    values: list[str] | None = Field(default=None, description="The values of `IN` and `NOT_IN`.")

    @model_validator(mode="after")
    def _has_its_value(self) -> PreconditionFilter:
        if self.type in ("IN", "NOT_IN"):
            if self.values is None:
                raise ValueError(f"`values` cannot be null for type {self.type}")
        elif self.value is None:
            raise ValueError(f"`value` cannot be null for type {self.type}")
        if self.type == "REGEX" and self.field != "EXPRESSION" and self.value is not None:
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {self.value!r}: {exc}") from None
        return self

    def test(self, execution: Mapping[str, Any], render: Any) -> bool:
        if self.field == "EXPRESSION":
            actual = _java_text(render(self.value))
        else:
            actual = _java_text(execution.get({"FLOW_ID": "flowId", "NAMESPACE": "namespace", "STATE": "state"}[self.field]))
        value = self.value
        kind = self.type
        if kind == "EQUAL_TO":
            return value == actual
        if kind == "NOT_EQUAL_TO":
            return value != actual
        if kind == "IN":
            return actual in (self.values or ())
        if kind == "NOT_IN":
            return actual not in (self.values or ())
        if kind == "IS_TRUE":
            return is_truthy(actual)
        if kind == "IS_FALSE":
            return not is_truthy(actual)
        if kind == "IS_NULL":
            return actual is None
        if kind == "IS_NOT_NULL":
            return actual is not None
        if actual is None or value is None:
            return False
        if kind == "STARTS_WITH":
            return actual.startswith(value)
        if kind == "ENDS_WITH":
            return actual.endswith(value)
        if kind == "REGEX":
            return re.fullmatch(value, actual) is not None
        return value in actual  # CONTAINS


class ExecutionFilter(_Part):
    """A precondition met by an execution that passes its filters (Kestra's `where` item)."""

    id: str = Field(min_length=1, description="The id of this precondition, unique among the `where` items.")
    operand: Literal["AND", "OR"] = Field(default="AND", description="`AND`: every filter must hold (default); `OR`: one is enough.")
    filters: list[PreconditionFilter] = Field(min_length=1, description="The filters.")

    def key(self) -> str:
        return f"where.{self.id}." + _digest(self.model_dump(mode="json", by_alias=True))

    def test(self, execution: Mapping[str, Any], render: Any) -> bool:
        results = (f.test(execution, render) for f in self.filters)
        return any(results) if self.operand == "OR" else all(results)


class Preconditions(_Part):
    """Kestra's `preconditions`: upstream executions to see, all within one time window.

    Each item of `flows` and of `where` is a precondition; the trigger fires when the last of
    them is met (the execution that meets it starts the flow), all within the `timeWindow`.
    What was met so far is stored, so it survives restarts and every scheduler shares it. With
    `resetOnSuccess` (the default) it starts from nothing again after firing; without, every
    execution that meets one of them again fires again while the window lasts.
    """

    model_config = ConfigDict(
        json_schema_extra=lambda schema: optional_fields_schema(
            schema, extra={"anyOf": [{"required": ["flows"]}, {"required": ["where"]}]}
        )
    )

    id: str = Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$", description="The id of the preconditions (their progress is stored under it).")
    time_window: TimeWindow = Field(default_factory=TimeWindow, description="The window in which every precondition must be met; one day from midnight by default.")
    reset_on_success: bool = Field(default=True, description="Start from nothing again once the trigger fired (default); `false` fires again on each new match within the window.")
    flows: list[UpstreamFlow] | None = Field(default=None, description="Upstream flows whose executions must end as described.")
    where: list[ExecutionFilter] | None = Field(default=None, description="Filters some execution must pass.")

    @model_validator(mode="after")
    def _something_to_wait_for(self) -> Preconditions:
        if not self.flows and not self.where:
            raise ValueError("preconditions need `flows` or `where`")
        ids = [w.id for w in self.where or ()]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate `where` id {duplicates[0]!r}")
        return self

    def checks(self) -> dict[str, UpstreamFlow | ExecutionFilter]:
        """Every precondition by a key that stays the same while its definition does."""
        out: dict[str, UpstreamFlow | ExecutionFilter] = {}
        for item in [*(self.flows or ()), *(self.where or ())]:
            out.setdefault(item.key(), item)
        return out


_FLOW_EXAMPLES = (
    Example(
        title=(
            "Run `transform` each time `extract` succeeds, passing on its `date` output "
            "(`extract` declares `outputs: [{id: date, type: STRING, value: ...}]`)."
        ),
        full=True,
        code="""\
id: transform
namespace: company.team

inputs:
  - id: date
    type: STRING
    defaults: "2025-01-01"

tasks:
  - id: log
    type: tercel.core.Log
    message: "extract {{ trigger.executionId }} is done; transforming up to {{ inputs.date }}"

triggers:
  - id: after_extract
    type: tercel.core.trigger.Flow
    inputs:
      date: "{{ trigger.outputs.date }}"
    preconditions:
      id: extract
      flows:
        - namespace: company.team
          flowId: extract
          states: [SUCCESS]
""",
    ),
    Example(
        title="Alert on every failed or killed execution of the `company` namespaces.",
        full=True,
        code="""\
id: alert_on_failure
namespace: system

tasks:
  - id: alert
    type: io.kestra.plugin.core.log.Log
    level: ERROR
    message: "{{ trigger.namespace }}.{{ trigger.flowId }} ended {{ trigger.state }} ({{ trigger.executionId }})"

triggers:
  - id: on_failure
    type: io.kestra.plugin.core.trigger.Flow
    states: [FAILED, KILLED]
    preconditions:
      id: company
      where:
        - id: company_namespaces
          filters:
            - field: NAMESPACE
              type: STARTS_WITH
              value: company
""",
    ),
    Example(
        title="Build the silver layer once both bronze flows succeeded, by 9:00 (Paris time) each day.",
        full=True,
        code="""\
id: silver_layer
namespace: company.team

tasks:
  - id: transform
    type: tercel.core.Log
    message: "orders from {{ trigger.outputs['company.team'].bronze_orders ?? 'no outputs' }}"

triggers:
  - id: bronze_done
    type: tercel.core.trigger.Flow
    preconditions:
      id: bronze
      timeWindow:
        type: DAILY_TIME_DEADLINE
        deadline: "09:00:00"
        timezone: Europe/Paris
      flows:
        - namespace: company.team
          flowId: bronze_orders
          states: [SUCCESS]
        - namespace: company.team
          flowId: bronze_customers
          states: [SUCCESS]
""",
    ),
    Example(
        title="With conditions: after each failure of `payroll` in production; stop listening after a failed alert.",
        full=True,
        code="""\
id: payroll_alert
namespace: company.team

tasks:
  - id: alert
    type: tercel.core.Log
    message: "payroll failed at {{ trigger.firstFailedTaskId }}"

triggers:
  - id: payroll_failed
    type: tercel.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: company.team
        flowId: payroll
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in: [FAILED]
      - type: io.kestra.plugin.core.condition.ExecutionLabels
        labels:
          env: prod
    stopAfter: [FAILED]
""",
    ),
)


class Flow(Trigger):
    """Start a flow when executions of other flows end.

    Whenever an execution ends (in one of `states`: by default any end state, and `PAUSED`),
    every flow with a `Flow` trigger looks at it: when the trigger's `conditions` all hold (e.g.
    `ExecutionStatus`, `ExecutionFlow`, `ExecutionNamespace`, `ExecutionLabels`,
    `ExecutionOutputs`, `Expression`, `Not`, `Or`) and its `preconditions` are met, an execution
    of this flow starts. A flow never triggers itself. A Flow trigger needs `conditions` or
    `preconditions`: without them it would start on every execution of every flow.

    The execution sees `trigger.executionId`, `trigger.namespace`, `trigger.flowId`,
    `trigger.flowRevision`, `trigger.state`, `trigger.startDate`, `trigger.endDate`,
    `trigger.executionLabels`, `trigger.firstFailedTaskId`, `trigger.lastTaskId` (of the
    execution that triggered it, the last one with preconditions) and `trigger.outputs`: its
    flow outputs, plus with preconditions the outputs of every upstream execution that met one,
    under `trigger.outputs['<namespace>'].<flowId>`. `inputs` and `labels` are rendered with
    these, and with the upstream `execution`, `outputs`, `labels` and `inputs`.

    `stopAfter` disables the trigger when an execution it started ends in one of its states.
    """

    type_name: ClassVar[str] = "tercel.core.trigger.Flow"
    type_aliases: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.trigger.Flow",
        "io.kestra.core.models.triggers.types.Flow",
    )
    type_title: ClassVar[str] = "Start a flow when executions of other flows end."
    type_examples: ClassVar[tuple[Example, ...]] = _FLOW_EXAMPLES
    listens_to_executions: ClassVar[bool] = True
    """The scheduler hands it every ended execution (see `tercel.scheduler`)."""
    model_config = ConfigDict(
        json_schema_extra=lambda schema: optional_fields_schema(
            schema, extra={"anyOf": [{"required": ["conditions"]}, {"required": ["preconditions"]}]}
        )
    )

    inputs: dict[str, Any] | None = Field(
        default=None,
        description="Inputs of the started execution; may use `{{ trigger.outputs.<name> }}` and the other `trigger.*` variables.",
    )
    states: list[State] | None = Field(
        default=None,
        description="The states of upstream executions the trigger looks at; by default every end state, and `PAUSED`.",
    )
    preconditions: Preconditions | None = Field(
        default=None, description="Upstream executions that must all be seen within a time window before the flow starts."
    )
    labels: Labels | None = Field(default=None, description="Labels added to the started executions; may use `{{ trigger.* }}`.")

    @model_validator(mode="after")
    def _listens_to_something(self) -> Flow:
        if not self.conditions and self.preconditions is None:
            raise ValueError(
                "a Flow trigger needs `conditions` or `preconditions`: without them it would start "
                "on every execution of every flow"
            )
        if self.states is not None and State.CREATED in self.states:
            raise ValueError("a Flow trigger cannot listen to CREATED: it reacts to state changes")
        return self

    @property
    def listened_states(self) -> frozenset[str]:
        return frozenset(s.value for s in self.states) if self.states is not None else frozenset(DEFAULT_FLOW_STATES)

    def listens_to(self, state: str) -> bool:
        """Whether an upstream execution in `state` is looked at."""
        return str(state) in self.listened_states

    def precondition_results(self, ctx: Any) -> dict[str, bool] | None:
        """Which preconditions the upstream execution (`ctx.variables['execution']`) meets, by
        key; None without preconditions. `ctx` renders `where` expressions."""
        if self.preconditions is None:
            return None
        execution = _execution_of(ctx.variables)
        out: dict[str, bool] = {}
        for key, check in self.preconditions.checks().items():
            out[key] = check.matches(execution) if isinstance(check, UpstreamFlow) else check.test(execution, ctx.render)
        return out

    def event(self, variables: Mapping[str, Any]) -> TriggerEvent:
        """The firing with the `trigger.*` variables the scheduler computed."""
        return TriggerEvent(variables=dict(variables), labels=_labels(self.labels), inputs=dict(self.inputs) if self.inputs else None)


# ---------------------------------------------------------------------------------- Webhook

# a literal key: one path segment of the URL, printable, not blank (an expression is checked
# once rendered)
_KEY = r"^[^/\x00-\x1f\x7f]*[^/\s][^/\x00-\x1f\x7f]*$"



def _check_key(key: str) -> str:
    if not key.strip():
        raise ValueError("the webhook key is blank")
    if len(key) > 256:
        raise ValueError(f"the webhook key has {len(key)} characters, at most 256 are allowed")
    if "/" in key:
        raise ValueError("the webhook key cannot contain '/': it is one segment of the URL")
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise ValueError("the webhook key cannot contain control characters")
    return key


WebhookKey = Annotated[
    str,
    AfterValidator(_check_key),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 256, "pattern": _KEY}),
]

_WEBHOOK_EXAMPLES = (
    Example(
        title=(
            "Start the flow from `POST /api/v1/executions/webhook/company.team/webhook_flow/4wjtkzwVGBM9yKnjm3yv8r`; "
            "the JSON body is `trigger.body`."
        ),
        full=True,
        code="""\
id: webhook_flow
namespace: company.team

tasks:
  - id: hello
    type: tercel.core.Log
    message: "called with {{ trigger.body }} and {{ trigger.parameters }}"

triggers:
  - id: webhook
    type: tercel.core.trigger.Webhook
    key: 4wjtkzwVGBM9yKnjm3yv8r
""",
    ),
    Example(
        title="Only for the calls whose body says `hello: world`, with the key kept as a secret.",
        full=True,
        code="""\
id: conditional_webhook
namespace: company.team

tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "hello {{ trigger.body.hello }}"

triggers:
  - id: webhook
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{ secret('WEBHOOK_KEY') }}"
    conditions:
      - type: io.kestra.plugin.core.condition.Expression
        expression: "{{ trigger.body.hello == 'world' }}"
""",
    ),
    Example(
        title="Answer the call with the flow's outputs once it ended; a query parameter becomes an input.",
        full=True,
        code="""\
id: greet
namespace: company.team

inputs:
  - id: name
    type: STRING
    defaults: world

tasks:
  - id: greeting
    type: tercel.core.Return
    format: "hello {{ inputs.name }}"

outputs:
  - id: greeting
    type: STRING
    value: "{{ outputs.greeting.value }}"

triggers:
  - id: webhook
    type: tercel.core.trigger.Webhook
    key: greet-2f6b1c
    wait: true
    returnOutputs: true
    inputs:
      name: "{{ trigger.parameters.name[0] ?? 'world' }}"
""",
    ),
)


class Webhook(Trigger):
    """Start a flow from an HTTP call to its webhook URL.

    The URL is `/api/v1/executions/webhook/{namespace}/{flowId}/{key}` and takes `GET`, `POST`
    and `PUT`. The `key` is the only thing that protects it: treat it as a secret (it may be an
    expression, e.g. `{{ secret('WEBHOOK_KEY') }}`). The execution sees `trigger.body` (a JSON
    body parsed, other text as is), `trigger.headers` and `trigger.parameters` (the query string),
    each header and parameter with the list of its values; `inputs` and `labels` are rendered
    with them, and the call starts nothing when `conditions` do not hold.

    The call answers as soon as the execution is created; with `wait: true` it answers once the
    execution ended, and with `returnOutputs: true` too the answer is the flow's outputs.
    The scheduler does not fire webhooks: the server does, when it is called.
    """

    type_name: ClassVar[str] = "tercel.core.trigger.Webhook"
    type_aliases: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.trigger.Webhook",
        "io.kestra.core.models.triggers.types.Webhook",
    )
    type_title: ClassVar[str] = "Start a flow from an HTTP call to its webhook URL."
    type_examples: ClassVar[tuple[Example, ...]] = _WEBHOOK_EXAMPLES

    key: Property[WebhookKey] = Field(
        description=(
            "The secret last part of the webhook URL: up to 256 characters, no `/`, not blank. "
            "Keep it secret, e.g. `{{ secret('WEBHOOK_KEY') }}`."
        )
    )
    wait: bool = Field(default=False, description="Answer the call once the execution ended, not as soon as it is created.")
    return_outputs: bool = Field(default=False, description="With `wait`, answer with the flow's outputs instead of the execution.")
    inputs: dict[str, Any] | None = Field(
        default=None,
        description="Inputs of the started execution; may use `{{ trigger.body }}`, `{{ trigger.headers }}` and `{{ trigger.parameters }}`.",
    )
    labels: Labels | None = Field(default=None, description="Labels added to the started executions; may use `{{ trigger.* }}`.")

    @model_validator(mode="after")
    def _no_multiple_condition(self) -> Webhook:
        for condition in self.conditions or ():
            if str(condition.get("type", "")).rsplit(".", 1)[-1] in ("MultipleCondition", "MultipleConditionCondition"):
                raise ValueError("a Webhook trigger cannot have a MultipleCondition")
        return self

    def event(
        self,
        *,
        body: Any = None,
        headers: Mapping[str, list[str]] | None = None,
        parameters: Mapping[str, list[str]] | None = None,
        **more: Any,
    ) -> TriggerEvent:
        """The firing for one call: `trigger.body`, `trigger.headers`, `trigger.parameters`
        (and whatever else the server adds, e.g. `parts`, `formFields`), inputs and labels."""
        variables = {"body": body, "headers": dict(headers or {}), "parameters": dict(parameters or {}), **more}
        return TriggerEvent(variables=variables, labels=_labels(self.labels), inputs=dict(self.inputs) if self.inputs else None)
