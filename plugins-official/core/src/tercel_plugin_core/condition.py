"""Trigger conditions: `tercel.core.condition.*`, Kestra's `io.kestra.plugin.core.condition.*`.

A condition is a small pure predicate a trigger's `conditions` list holds; all of them must hold
for the trigger to fire. The scheduler evaluates them with a condition context that offers:

- `variables`: the expression context (`trigger.date`, `trigger.next`, `trigger.previous` for
  a schedule, `flow`, …);
- `render(value)`: render a property (a `Property` is coerced to its type) in that context;
- `test(definition)`: evaluate a nested condition definition (what `Not` and `Or` use).

The date conditions read their `date` property, `{{ trigger.date }}` by default: for a
`Schedule` that is the date being scheduled, in the trigger's time zone; for a `Flow` trigger
the moment it looks at the upstream execution (which just ended). They are what Kestra calls schedule conditions
(`schedule_condition = True`): a `Schedule` evaluates those.

The execution conditions (`ExecutionStatus`, `ExecutionFlow`, `ExecutionNamespace`,
`ExecutionLabels`, `ExecutionOutputs`) test the upstream execution a `Flow` trigger looks at:
the context's `execution` variable, a mapping with `id`, `namespace`, `flowId`, `flowRevision`,
`state`, `labels` and `outputs` (and `trigger.outputs` is its outputs). A `Schedule` ignores
them. `Expression`, `Not` and `Or` work on both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from tercel_sdk import Condition, ConditionContext, Example, Property, State, is_truthy

__all__ = [
    "CONDITION_TYPES",
    "Condition",
    "ConditionContext",
    "DateTimeBetween",
    "DayInMonth",
    "DayOfWeek",
    "DayWeek",
    "DayWeekInMonth",
    "ExecutionFlow",
    "ExecutionLabels",
    "ExecutionNamespace",
    "ExecutionOutputs",
    "ExecutionStatus",
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


def optional_fields_schema(schema: dict[str, Any], cls: Any = None, *, extra: Mapping[str, Any] | None = None) -> None:
    """A model's JSON Schema with its optional fields as their type, not `X or null` (leaving
    one out is how YAML says "none"): a flow's mistakes inside them are then reported where
    they are. `extra` is added to the schema (e.g. an `anyOf` of required properties)."""
    for prop in (schema.get("properties") or {}).values():
        branches = prop.get("anyOf")
        if isinstance(branches, list) and len(branches) == 2 and {"type": "null"} in branches:
            (kept,) = [b for b in branches if b != {"type": "null"}]
            if "$ref" in kept or kept.get("type") in ("array", "object"):
                del prop["anyOf"]
                prop.update(kept)
    schema.update(extra or {})


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

    model_config = ConfigDict(json_schema_extra={"anyOf": [{"required": ["after"]}, {"required": ["before"]}]})

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

    model_config = ConfigDict(json_schema_extra={"anyOf": [{"required": ["after"]}, {"required": ["before"]}]})

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
    """Hold when an expression renders to something other than blank text or `false`.

    It sees the trigger's context: on a `Schedule` the date (`trigger.date`…), on a `Flow`
    trigger the upstream execution (`execution`, `labels`, `outputs`, `trigger.*`).
    """

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


# -------------------------------------------------------------------- execution conditions


def upstream(ctx: ConditionContext) -> Mapping[str, Any]:
    """The upstream execution a Flow trigger looks at (the context's `execution`)."""
    execution = ctx.variables.get("execution")
    if not isinstance(execution, Mapping) or "namespace" not in execution or "state" not in execution:
        raise ValueError("this condition tests an execution: use it on a Flow trigger")
    return execution


def _java_text(value: Any) -> str:
    """A label value as Kestra compares it (`String.valueOf`): `true`, not `True`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def _flow_example(title: str, trigger: str, condition: str) -> Example:
    return Example(
        title=title,
        full=True,
        code=f"""\
id: downstream
namespace: company.team

tasks:
  - id: log
    type: tercel.core.Log
    message: "{{{{ trigger.namespace }}}}.{{{{ trigger.flowId }}}} ended {{{{ trigger.state }}}}"

triggers:
  - id: upstream_ended
    type: tercel.core.trigger.Flow
{trigger}    conditions:
{condition}""",
    )


class _ExecutionCondition(Condition):
    schedule_condition: ClassVar[bool] = False


class ExecutionStatus(_ExecutionCondition):
    """Hold when the upstream execution is in one of `in` and in none of `notIn`."""

    type_name: ClassVar[str] = "tercel.core.condition.ExecutionStatus"
    type_aliases: ClassVar[tuple[str, ...]] = _aliases("ExecutionStatus")
    type_title: ClassVar[str] = "Allow executions by their state."
    type_examples: ClassVar[tuple[Example, ...]] = (
        _flow_example(
            "Run when any flow fails or is killed.",
            "",
            "      - type: io.kestra.plugin.core.condition.ExecutionStatus\n        in:\n          - FAILED\n          - KILLED\n",
        ),
    )

    model_config = ConfigDict(json_schema_extra=optional_fields_schema)

    in_: list[State] | None = Field(default=None, alias="in", description="The states allowed (any when not given).")
    not_in: list[State] | None = Field(default=None, description="The states refused.")

    def test(self, ctx: ConditionContext) -> bool:
        state = str(upstream(ctx)["state"])
        if self.in_ is not None and state not in {s.value for s in self.in_}:
            return False
        return not (self.not_in is not None and state in {s.value for s in self.not_in})


class ExecutionFlow(_ExecutionCondition):
    """Hold when the upstream execution is one of the flow `namespace`.`flowId`."""

    type_name: ClassVar[str] = "tercel.core.condition.ExecutionFlow"
    type_aliases: ClassVar[tuple[str, ...]] = _aliases("ExecutionFlow")
    type_title: ClassVar[str] = "Allow the executions of one flow."
    type_examples: ClassVar[tuple[Example, ...]] = (
        _flow_example(
            "Run each time `flow_a` ends successfully.",
            "",
            "      - type: io.kestra.plugin.core.condition.ExecutionFlow\n        namespace: company.team\n        flowId: flow_a\n"
            "      - type: io.kestra.plugin.core.condition.ExecutionStatus\n        in: [SUCCESS]\n",
        ),
    )

    namespace: str = Field(description="The namespace of the flow.")
    flow_id: str = Field(description="The flow.")

    def test(self, ctx: ConditionContext) -> bool:
        execution = upstream(ctx)
        return execution.get("namespace") == self.namespace and execution.get("flowId") == self.flow_id


class ExecutionNamespace(_ExecutionCondition):
    """Hold when the upstream execution's namespace is `namespace`, or starts (`PREFIX`) or ends
    (`SUFFIX`) with it. `prefix: true` is the older way to say `comparison: PREFIX`."""

    type_name: ClassVar[str] = "tercel.core.condition.ExecutionNamespace"
    type_aliases: ClassVar[tuple[str, ...]] = _aliases("ExecutionNamespace")
    type_title: ClassVar[str] = "Allow the executions of a namespace."
    type_examples: ClassVar[tuple[Example, ...]] = (
        _flow_example(
            "Run when a flow of `company.engineering` or of one of its children fails.",
            "    states: [FAILED]\n",
            "      - type: io.kestra.plugin.core.condition.ExecutionNamespace\n        namespace: company.engineering\n        comparison: PREFIX\n",
        ),
    )

    namespace: str = Field(description="The namespace (or its start or end) to compare with.")
    comparison: Literal["EQUALS", "PREFIX", "SUFFIX"] | None = Field(
        default=None, description="`EQUALS` (default), `PREFIX` or `SUFFIX`."
    )
    prefix: bool = Field(default=False, description="Compare as a prefix (used only when `comparison` is not given).")

    def test(self, ctx: ConditionContext) -> bool:
        actual = str(upstream(ctx)["namespace"])
        how = self.comparison or ("PREFIX" if self.prefix else "EQUALS")
        if how == "PREFIX":
            return actual.startswith(self.namespace)
        if how == "SUFFIX":
            return actual.endswith(self.namespace)
        return actual == self.namespace


class _Label(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    key: str
    value: Any


class ExecutionLabels(_ExecutionCondition):
    """Hold when the upstream execution carries every one of `labels` (key and value)."""

    type_name: ClassVar[str] = "tercel.core.condition.ExecutionLabels"
    type_aliases: ClassVar[tuple[str, ...]] = _aliases("ExecutionLabels")
    type_title: ClassVar[str] = "Allow executions by their labels."
    type_examples: ClassVar[tuple[Example, ...]] = (
        _flow_example(
            "Run when a production execution owned by john.doe fails.",
            "    states: [FAILED]\n",
            "      - type: io.kestra.plugin.core.condition.ExecutionLabels\n        labels:\n          owner: john.doe\n          env: prod\n",
        ),
    )

    labels: dict[str, Any] | list[_Label] = Field(
        description="The labels to find, as a mapping or as a list of `{key, value}` (not `system.` ones)."
    )

    @field_validator("labels")
    @classmethod
    def _no_system_labels(cls, value: dict[str, Any] | list[_Label]) -> dict[str, Any] | list[_Label]:
        keys = list(value) if isinstance(value, dict) else [label.key for label in value]
        system = [k for k in keys if str(k).startswith("system.")]
        if system:
            raise ValueError(f"system labels cannot be tested: {system[0]!r}")
        return value

    def pairs(self) -> list[tuple[str, str]]:
        if isinstance(self.labels, dict):
            return [(str(k), _java_text(v)) for k, v in self.labels.items()]
        return [(label.key, _java_text(label.value)) for label in self.labels]

    def test(self, ctx: ConditionContext) -> bool:
        have = upstream(ctx).get("labels") or {}
        return all(key in have and str(have[key]) == value for key, value in self.pairs())


class ExecutionOutputs(_ExecutionCondition):
    """Hold when `expression`, rendered with the upstream execution's outputs as
    `trigger.outputs`, is true. An execution without outputs never holds."""

    type_name: ClassVar[str] = "tercel.core.condition.ExecutionOutputs"
    type_aliases: ClassVar[tuple[str, ...]] = _aliases("ExecutionOutputs")
    type_title: ClassVar[str] = "Allow executions by their outputs."
    type_examples: ClassVar[tuple[Example, ...]] = (
        _flow_example(
            "Run when `flow_a` succeeds with its output `flow_a_output` equal to 'hello'.",
            "    states: [SUCCESS]\n",
            "      - type: io.kestra.plugin.core.condition.ExecutionFlow\n        namespace: company.team\n        flowId: flow_a\n"
            "      - type: io.kestra.plugin.core.condition.ExecutionOutputs\n"
            "        expression: \"{{ trigger.outputs.flow_a_output == 'hello' }}\"\n",
        ),
    )

    expression: Property[bool] = Field(
        description="An expression over `trigger.outputs`; blank, `false`, `0` or `null` mean no."
    )

    def test(self, ctx: ConditionContext) -> bool:
        if not upstream(ctx).get("outputs"):
            return False
        return is_truthy(ctx.render(self.expression.raw))


CONDITION_TYPES: tuple[type[Condition], ...] = (
    DayWeek, DayWeekInMonth, Weekend, TimeBetween, DateTimeBetween, Expression, Not, Or,
    ExecutionStatus, ExecutionFlow, ExecutionNamespace, ExecutionLabels, ExecutionOutputs,
)
"""Every condition type of this module, for registration."""
