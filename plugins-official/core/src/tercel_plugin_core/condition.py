"""Trigger conditions: `tercel.core.condition.*`, Kestra's `io.kestra.plugin.core.condition.*`.

A condition is a small pure predicate a trigger's `conditions` list holds; all of them must hold
for the trigger to fire. The scheduler evaluates them with a condition context that offers:

- `variables`: the expression context (`trigger.date`, `trigger.next`, `trigger.previous` for
  a schedule, `flow`, …);
- `render(value)`: render a property (a `Property` is coerced to its type) in that context;
- `test(definition)`: evaluate a nested condition definition (what `Not` and `Or` use).

The date conditions read their `date` property, `{{ trigger.date }}` by default: for a
`Schedule` that is the date being scheduled, in the trigger's time zone. They are what Kestra
calls schedule conditions (`schedule_condition = True`): a `Schedule` evaluates those.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator
from tercel_sdk import Condition, ConditionContext, Example, Property

__all__ = [
    "CONDITION_TYPES",
    "Condition",
    "ConditionContext",
    "DateTimeBetween",
    "DayInMonth",
    "DayOfWeek",
    "DayWeek",
    "DayWeekInMonth",
    "Expression",
    "Not",
    "Or",
    "TimeBetween",
    "Weekend",
    "parse_date",
]

DayOfWeek = Literal["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
DayInMonth = Literal["FIRST", "SECOND", "THIRD", "FOURTH", "LAST"]
_WEEKDAYS: tuple[str, ...] = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
_TRIGGER_DATE = "{{ trigger.date }}"
_ZONE_SUFFIX = re.compile(r"\[[^\]]*\]$")


def parse_date(value: Any) -> datetime:
    """A rendered date (ISO 8601 text or a date/datetime) as a datetime; naive means UTC.

    Accepts what Kestra's DateUtils does: `2024-05-01T10:00:00+02:00`, with a `Z`, with a
    `[Europe/Paris]` zone suffix, or a bare date (`2024-05-01`, midnight).
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        text = _ZONE_SUFFIX.sub("", str(value or "").strip())
        if not text:
            raise ValueError("the date to test is empty (is `trigger.date` set? conditions on dates need a schedule)")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 date or datetime") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _aliases(name: str, *legacy: str) -> tuple[str, ...]:
    return (
        f"io.kestra.plugin.core.condition.{name}",
        f"io.kestra.plugin.core.condition.{name}Condition",
        *(f"io.kestra.core.models.conditions.types.{old}" for old in (legacy or (f"{name}Condition",))),
    )


def _example(title: str, condition: str, cron: str = "0 11 * * *") -> Example:
    return Example(
        title=title,
        full=True,
        code=f"""\
id: conditional_schedule
namespace: company.team

tasks:
  - id: log
    type: tercel.core.Log
    message: "scheduled for {{{{ trigger.date }}}}"

triggers:
  - id: schedule
    type: tercel.core.trigger.Schedule
    cron: "{cron}"
    conditions:
{condition}""",
    )


class _DateCondition(Condition):
    schedule_condition: ClassVar[bool] = True

    date: Property[str] = Field(
        default=_TRIGGER_DATE,
        description="The date to test: any expression or ISO 8601 datetime; the trigger's date by default.",
    )

    def _date(self, ctx: ConditionContext) -> datetime:
        return parse_date(ctx.render(self.date))


class DayWeek(_DateCondition):
    """Hold on one day of the week."""

    type_name: ClassVar[str] = "tercel.core.condition.DayWeek"
    type_aliases: ClassVar[tuple[str, ...]] = _aliases("DayWeek")
    type_title: ClassVar[str] = "Allow events on a day of the week."
    type_examples: ClassVar[tuple[Example, ...]] = (
        _example("Run only on Mondays at 11:00.", "      - type: io.kestra.plugin.core.condition.DayWeek\n        dayOfWeek: MONDAY\n"),
    )

    day_of_week: Property[DayOfWeek] = Field(description="The day of the week (`MONDAY` … `SUNDAY`).")

    def test(self, ctx: ConditionContext) -> bool:
        return _WEEKDAYS[self._date(ctx).weekday()] == ctx.render(self.day_of_week)


class DayWeekInMonth(_DateCondition):
    """Hold on the first, second, third, fourth or last given day of the week of its month."""

    type_name: ClassVar[str] = "tercel.core.condition.DayWeekInMonth"
    type_aliases: ClassVar[tuple[str, ...]] = _aliases("DayWeekInMonth")
    type_title: ClassVar[str] = "Allow events on a day of the week relative to the month (first, last, …)."
    type_examples: ClassVar[tuple[Example, ...]] = (
        _example(
            "Run only on the first Monday of the month at 11:00.",
            "      - type: io.kestra.plugin.core.condition.DayWeekInMonth\n        dayOfWeek: MONDAY\n        dayInMonth: FIRST\n",
        ),
    )

    day_of_week: Property[DayOfWeek] = Field(description="The day of the week (`MONDAY` … `SUNDAY`).")
    day_in_month: Property[DayInMonth] = Field(description="Which one in the month: `FIRST`, `SECOND`, `THIRD`, `FOURTH` or `LAST`.")

    def test(self, ctx: ConditionContext) -> bool:
        day = self._date(ctx).date()
        weekday = _WEEKDAYS.index(ctx.render(self.day_of_week))
        which = ctx.render(self.day_in_month)
        first = day.replace(day=1)
        first_match = first + timedelta(days=(weekday - first.weekday()) % 7)
        if which == "LAST":
            next_month = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
            last_day = next_month - timedelta(days=1)
            wanted = last_day - timedelta(days=(last_day.weekday() - weekday) % 7)
        else:
            wanted = first_match + timedelta(weeks=("FIRST", "SECOND", "THIRD", "FOURTH").index(which))
        return day == wanted


class Weekend(_DateCondition):
    """Hold on Saturdays and Sundays."""

    type_name: ClassVar[str] = "tercel.core.condition.Weekend"
    type_aliases: ClassVar[tuple[str, ...]] = _aliases("Weekend")
    type_title: ClassVar[str] = "Allow events on weekends."
    type_examples: ClassVar[tuple[Example, ...]] = (
        _example("Run at 11:00 on weekends only.", "      - type: io.kestra.plugin.core.condition.Weekend\n"),
    )

    def test(self, ctx: ConditionContext) -> bool:
        return self._date(ctx).weekday() >= 5


def _seconds_of_day(value: time | datetime, fallback_offset: timedelta | None) -> float:
    """Kestra's OffsetTime order: the time of day minus its offset (no wrapping at midnight)."""
    moment = value.timetz() if isinstance(value, datetime) else value
    offset = moment.utcoffset() if moment.tzinfo is not None else fallback_offset
    seconds = moment.hour * 3600 + moment.minute * 60 + moment.second + moment.microsecond / 1e6
    return seconds - (offset.total_seconds() if offset else 0.0)


class TimeBetween(_DateCondition):
    """Hold when the time of day of `date` is after `after` and before `before` (exclusive).

    Times are ISO 8601 with an offset (`16:00:00+02:00`), compared as instants of the day like
    Kestra does; a time written without an offset is read at the offset of the date tested.
    """

    type_name: ClassVar[str] = "tercel.core.condition.TimeBetween"
    type_aliases: ClassVar[tuple[str, ...]] = _aliases("TimeBetween")
    type_title: ClassVar[str] = "Allow events between two times of day."
    type_examples: ClassVar[tuple[Example, ...]] = (
        _example(
            "Run every 5 minutes between 16:00 and 20:00 (UTC+2).",
            '      - type: io.kestra.plugin.core.condition.TimeBetween\n        after: "16:00:00+02:00"\n        before: "20:00:00+02:00"\n',
            cron="*/5 * * * *",
        ),
    )

    after: Property[time] | None = Field(default=None, description="The time of day must be after this one.")
    before: Property[time] | None = Field(default=None, description="The time of day must be before this one.")

    @model_validator(mode="after")
    def _one_bound(self) -> TimeBetween:
        if self.after is None and self.before is None:
            raise ValueError("give `after`, `before` or both")
        return self

    def test(self, ctx: ConditionContext) -> bool:
        current = self._date(ctx)
        offset = current.utcoffset()
        value = _seconds_of_day(current, offset)
        after = ctx.render(self.after) if self.after is not None else None
        before = ctx.render(self.before) if self.before is not None else None
        if after is not None and not value > _seconds_of_day(after, offset):
            return False
        return not (before is not None and not value < _seconds_of_day(before, offset))


class DateTimeBetween(_DateCondition):
    """Hold when `date` is between `after` and `before` (both included)."""

    type_name: ClassVar[str] = "tercel.core.condition.DateTimeBetween"
    type_aliases: ClassVar[tuple[str, ...]] = _aliases("DateTimeBetween")
    type_title: ClassVar[str] = "Allow events between two datetimes."
    type_examples: ClassVar[tuple[Example, ...]] = (
        _example(
            "Run every 5 minutes during 2026 only.",
            '      - type: io.kestra.plugin.core.condition.DateTimeBetween\n        after: "2026-01-01T00:00:00Z"\n        before: "2026-12-31T23:59:59Z"\n',
            cron="*/5 * * * *",
        ),
    )

    after: Property[datetime] | None = Field(default=None, description="The date must be at or after this one (ISO 8601; without an offset, UTC).")
    before: Property[datetime] | None = Field(default=None, description="The date must be at or before this one (ISO 8601; without an offset, UTC).")

    @model_validator(mode="after")
    def _one_bound(self) -> DateTimeBetween:
        if self.after is None and self.before is None:
            raise ValueError("give `after`, `before` or both")
        return self

    def test(self, ctx: ConditionContext) -> bool:
        current = self._date(ctx)
        if self.after is not None and current < parse_date(ctx.render(self.after)):
            return False
        return not (self.before is not None and current > parse_date(ctx.render(self.before)))


class Expression(Condition):
    """Hold when an expression renders to something other than blank text or `false`."""

    type_name: ClassVar[str] = "tercel.core.condition.Expression"
    type_aliases: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.condition.Expression",
        "io.kestra.plugin.core.condition.ExpressionCondition",
        "io.kestra.core.models.conditions.types.VariableCondition",
    )
    type_title: ClassVar[str] = "Allow events when an expression is true."
    type_examples: ClassVar[tuple[Example, ...]] = (
        _example(
            "Run every minute while a KV value stays below 10.",
            "      - type: io.kestra.plugin.core.condition.Expression\n        expression: \"{{ kv('average_value') < 10 }}\"\n",
            cron="*/1 * * * *",
        ),
    )
    schedule_condition: ClassVar[bool] = True

    expression: Property[str] = Field(description="The expression; blank text and `false` mean no.")

    def test(self, ctx: ConditionContext) -> bool:
        rendered = ctx.render(self.expression)
        text = "" if rendered is None else str(rendered)
        return not (not text.strip() or text.strip() == "false")


class _Group(Condition):
    schedule_condition: ClassVar[bool] = True

    conditions: list[dict[str, Any]] = Field(min_length=1, description="The conditions (each with its `type`).")


class Not(_Group):
    """Hold when none of its conditions holds."""

    type_name: ClassVar[str] = "tercel.core.condition.Not"
    type_aliases: ClassVar[tuple[str, ...]] = _aliases("Not")
    type_title: ClassVar[str] = "Invert conditions: hold when none of them holds."
    type_examples: ClassVar[tuple[Example, ...]] = (
        _example(
            "Run every day at 11:00 except on Sundays.",
            "      - type: io.kestra.plugin.core.condition.Not\n        conditions:\n          - type: io.kestra.plugin.core.condition.DayWeek\n            dayOfWeek: SUNDAY\n",
        ),
    )

    def test(self, ctx: ConditionContext) -> bool:
        return not any(ctx.test(condition) for condition in self.conditions)


class Or(_Group):
    """Hold when at least one of its conditions holds."""

    type_name: ClassVar[str] = "tercel.core.condition.Or"
    type_aliases: ClassVar[tuple[str, ...]] = _aliases("Or")
    type_title: ClassVar[str] = "Hold when any of the conditions holds."
    type_examples: ClassVar[tuple[Example, ...]] = (
        _example(
            "Run at 11:00 on Mondays and on weekends.",
            "      - type: io.kestra.plugin.core.condition.Or\n        conditions:\n          - type: io.kestra.plugin.core.condition.DayWeek\n            dayOfWeek: MONDAY\n          - type: io.kestra.plugin.core.condition.Weekend\n",
        ),
    )

    def test(self, ctx: ConditionContext) -> bool:
        return any(ctx.test(condition) for condition in self.conditions)


CONDITION_TYPES: tuple[type[Condition], ...] = (
    DayWeek, DayWeekInMonth, Weekend, TimeBetween, DateTimeBetween, Expression, Not, Or,
)
"""Every condition type of this module, for registration."""
