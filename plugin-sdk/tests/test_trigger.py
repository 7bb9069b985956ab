"""Trigger base classes: their common fields, and the event a schedule fires."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from tercel_sdk import PollingTrigger, RealtimeTrigger, ScheduleTrigger, Trigger, TriggerEvent


class Hourly(ScheduleTrigger):
    """Fires at the top of every hour."""

    type_name = "tests.sdk.Hourly"

    def next_date(self, after: datetime) -> datetime | None:
        return after.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


class Poll(PollingTrigger):
    type_name = "tests.sdk.Poll"

    path: str

    def evaluate(self, ctx: Any) -> TriggerEvent | None:
        return TriggerEvent(variables={"path": self.path})


class Listen(RealtimeTrigger):
    type_name = "tests.sdk.Listen"

    async def events(self, ctx: Any) -> AsyncIterator[TriggerEvent]:
        yield TriggerEvent(variables={"n": 1})


def hourly(**extra: Any) -> Hourly:
    return Hourly.model_validate({"id": "every-hour", "type": "tests.sdk.Hourly", **extra})


def test_common_fields_and_their_defaults() -> None:
    trigger = hourly()
    assert (trigger.id, trigger.type) == ("every-hour", "tests.sdk.Hourly")
    assert trigger.description is None
    assert trigger.version is None
    assert trigger.disabled is False
    assert trigger.conditions is None
    assert trigger.stop_after is None
    assert trigger.log_level is None
    assert trigger.log_to_file is False
    assert trigger.worker_group is None
    assert trigger.fail_on_trigger_error is False
    assert Hourly.type_kind == "trigger"
    assert isinstance(trigger, Trigger)


def test_kestra_camel_case_names() -> None:
    trigger = hourly(
        description="hourly",
        version="1.0.0",
        disabled=True,
        conditions=[{"type": "tests.sdk.Weekday"}],
        stopAfter=["FAILED"],
        logLevel="DEBUG",
        logToFile=True,
        workerGroup={"key": "eu"},
        failOnTriggerError=True,
    )
    assert trigger.stop_after == ["FAILED"]
    assert trigger.log_level == "DEBUG"
    assert trigger.log_to_file is True
    assert trigger.worker_group == {"key": "eu"}
    assert trigger.fail_on_trigger_error is True
    assert trigger.conditions == [{"type": "tests.sdk.Weekday"}]
    dumped = trigger.model_dump(by_alias=True, exclude_defaults=True)
    assert dumped["stopAfter"] == ["FAILED"]
    assert Hourly.model_validate(dumped) == trigger


@pytest.mark.parametrize(
    ("data", "loc", "error_type"),
    [
        ({"id": "a b", "type": "t"}, ("id",), "string_pattern_mismatch"),
        ({"type": "t"}, ("id",), "missing"),
        ({"id": "a"}, ("type",), "missing"),
        ({"id": "a", "type": "t", "cron": "@hourly"}, ("cron",), "extra_forbidden"),
        ({"id": "a", "type": "t", "logLevel": "LOUD"}, ("logLevel",), "literal_error"),
        ({"id": "a", "type": "t", "stopAfter": "FAILED"}, ("stopAfter",), "list_type"),
        ({"id": "a", "type": "t", "conditions": [1]}, ("conditions", 0), "dict_type"),
    ],
)
def test_the_common_fields_are_validated(
    data: dict[str, Any], loc: tuple[Any, ...], error_type: str
) -> None:
    with pytest.raises(ValidationError) as info:
        Hourly.model_validate(data)
    (error,) = info.value.errors()
    assert (error["loc"], error["type"]) == (loc, error_type)


def test_schedule_event() -> None:
    date = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    trigger = hourly()
    event = trigger.event(date)
    assert event == TriggerEvent(variables={"date": date}, scheduled_date=date)
    assert event.variables["date"] is date
    assert event.labels == {}
    assert event.inputs is None
    assert trigger.next_date(date) == datetime(2024, 5, 1, 11, 0, tzinfo=UTC)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.scheduled_date = None  # type: ignore[misc]


def test_polling_interval_defaults_to_a_minute_and_is_a_duration() -> None:
    poll = Poll.model_validate({"id": "p", "type": "tests.sdk.Poll", "path": "/x"})
    assert poll.interval == timedelta(minutes=1)
    poll = Poll.model_validate({"id": "p", "type": "tests.sdk.Poll", "path": "/x", "interval": "PT30S"})
    assert poll.interval == timedelta(seconds=30)
    assert poll.evaluate(None) == TriggerEvent(variables={"path": "/x"})
    with pytest.raises(ValidationError) as info:
        Poll.model_validate({"id": "p", "type": "tests.sdk.Poll", "path": "/x", "interval": "often"})
    assert info.value.errors()[0]["loc"] == ("interval",)
    assert "'often'" in str(info.value)


def test_polling_trigger_requires_its_own_fields() -> None:
    with pytest.raises(ValidationError) as info:
        Poll.model_validate({"id": "p", "type": "tests.sdk.Poll"})
    assert info.value.errors()[0]["loc"] == ("path",)


async def test_realtime_trigger_yields_events() -> None:
    listen = Listen.model_validate({"id": "l", "type": "tests.sdk.Listen"})
    events = [event async for event in listen.events(None)]
    assert events == [TriggerEvent(variables={"n": 1})]
