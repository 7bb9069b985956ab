"""ISO 8601 durations: `parse_duration`, `format_duration` and `Duration` in a pydantic model."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from tercel_sdk import Duration, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT0S", timedelta(0)),
        ("PT30S", timedelta(seconds=30)),
        ("PT5M", timedelta(minutes=5)),
        ("PT1H", timedelta(hours=1)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("PT1H30M15S", timedelta(hours=1, minutes=30, seconds=15)),
        ("P1D", timedelta(days=1)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("P2W", timedelta(weeks=2)),
        ("P1W2D", timedelta(days=9)),
        ("PT90M", timedelta(minutes=90)),
        ("PT1.5S", timedelta(seconds=1.5)),
        ("PT0,5S", timedelta(milliseconds=500)),
        ("PT0.000001S", timedelta(microseconds=1)),
        ("PT0.25H", timedelta(minutes=15)),
        ("P1.5D", timedelta(days=1, hours=12)),
        ("P0.5W", timedelta(days=3, hours=12)),
        ("-PT1S", timedelta(seconds=-1)),
        ("-P1DT1H", -timedelta(days=1, hours=1)),
        ("+PT1S", timedelta(seconds=1)),
        ("pt5m", timedelta(minutes=5)),
        ("p1dt2h", timedelta(days=1, hours=2)),
        ("  PT5M\n", timedelta(minutes=5)),
    ],
)
def test_parse_iso(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_parse_is_exact_to_the_microsecond_at_any_size() -> None:
    assert parse_duration("PT100000000000.000001S") == timedelta(
        seconds=100_000_000_000, microseconds=1
    )
    assert parse_duration("P999999999DT23H59M59.999999S") == timedelta.max
    assert parse_duration("-P999999999D") == timedelta.min
    # below a microsecond: rounded half to even, like timedelta itself
    assert parse_duration("PT1.0000005S") == timedelta(seconds=1)
    assert parse_duration("PT1.0000015S") == timedelta(seconds=1, microseconds=2)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, timedelta(0)),
        (90, timedelta(seconds=90)),
        (1.5, timedelta(seconds=1.5)),
        (-2, timedelta(seconds=-2)),
        (timedelta(hours=3), timedelta(hours=3)),
    ],
)
def test_numbers_are_seconds_and_timedeltas_pass_through(value: object, expected: timedelta) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize(
    "text",
    ["", "P", "PT", "-P", "5m", "5 minutes", "1H", "PT1H30", "P1DT", "PT-1S", "P1Y", "P1M",
     "PT1.S", "PT.5S", "P1H", "T1H", "PT1S2M", "PT1SS", "PT 1S"],
)  # fmt: skip
def test_bad_text_is_a_value_error_naming_the_value(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601") as info:
        parse_duration(text)
    assert repr(text) in str(info.value)
    assert "PT5M" in str(info.value)  # it shows what is accepted


@pytest.mark.parametrize("value", [None, True, False, [1], {"seconds": 1}, b"PT1S"])
def test_other_types_are_a_value_error_naming_the_value(value: object) -> None:
    with pytest.raises(ValueError, match="not a duration") as info:
        parse_duration(value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize(
    "value", ["P1000000000D", "-P999999999DT1S", "PT99999999999999999S", float("inf"),
              float("-inf"), float("nan"), 1e300, 10**20],
)  # fmt: skip
def test_out_of_range_is_a_value_error_not_an_overflow(value: object) -> None:
    with pytest.raises(ValueError, match="out of range") as info:
        parse_duration(value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(0), "PT0S"),
        (timedelta(seconds=30), "PT30S"),
        (timedelta(seconds=60), "PT1M"),
        (timedelta(minutes=90), "PT1H30M"),
        (timedelta(hours=1, seconds=5), "PT1H5S"),
        (timedelta(days=1), "P1D"),
        (timedelta(weeks=2), "P14D"),
        (timedelta(days=1, hours=2), "P1DT2H"),
        (timedelta(days=1, microseconds=500_000), "P1DT0.5S"),
        (timedelta(seconds=1.5), "PT1.5S"),
        (timedelta(microseconds=1), "PT0.000001S"),
        (timedelta(milliseconds=10), "PT0.01S"),
        (timedelta(seconds=-1), "-PT1S"),
        (-timedelta(days=1, hours=1, microseconds=250), "-P1DT1H0.00025S"),
        (timedelta.max, "P999999999DT23H59M59.999999S"),
        (timedelta.min, "-P999999999D"),
        (timedelta(days=1_000_000, microseconds=1), "P1000000DT0.000001S"),
    ],
)
def test_format(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text
    assert parse_duration(text) == delta


@given(st.timedeltas(min_value=timedelta.min, max_value=timedelta.max))
@example(timedelta.min)
@example(timedelta.max)
@example(timedelta(days=1_000_000, microseconds=1))
@example(timedelta(seconds=59, microseconds=999_999))
def test_format_then_parse_is_the_identity(delta: timedelta) -> None:
    text = format_duration(delta)
    assert parse_duration(text) == delta
    assert format_duration(parse_duration(text)) == text  # the format is canonical


@given(st.integers(0, 10_000), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))
def test_parse_of_written_parts(days: int, hours: int, minutes: int, seconds: int) -> None:
    text = f"P{days}DT{hours}H{minutes}M{seconds}S"
    expected = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    assert parse_duration(text) == expected
    assert parse_duration("-" + text) == -expected


class Job(BaseModel):
    timeout: Duration
    interval: Duration | None = None


def test_duration_field_accepts_iso_text_numbers_and_timedeltas() -> None:
    assert Job(timeout="PT5M").timeout == timedelta(minutes=5)
    assert Job(timeout=30).timeout == timedelta(seconds=30)
    assert Job(timeout=timedelta(hours=1)).timeout == timedelta(hours=1)
    assert Job(timeout="PT1S", interval=None).interval is None


def test_duration_field_serializes_as_iso_text() -> None:
    job = Job(timeout="PT90M", interval=1.5)
    assert job.model_dump() == {"timeout": "PT1H30M", "interval": "PT1.5S"}
    assert json.loads(job.model_dump_json()) == {"timeout": "PT1H30M", "interval": "PT1.5S"}
    again = Job.model_validate_json(job.model_dump_json())
    assert again == job


def test_duration_field_reads_json() -> None:
    assert Job.model_validate_json('{"timeout": "P1D", "interval": 60}') == Job(
        timeout=timedelta(days=1), interval=timedelta(minutes=1)
    )


def test_duration_field_error_names_the_field_and_the_value() -> None:
    with pytest.raises(ValidationError) as info:
        Job(timeout="5 minutes")
    (error,) = info.value.errors()
    assert error["loc"] == ("timeout",)
    assert "'5 minutes'" in error["msg"]
    assert "ISO 8601" in error["msg"]


def test_duration_json_schema() -> None:
    schema = Job.model_json_schema()
    assert schema["properties"]["timeout"] == {
        "type": "string",
        "format": "duration",
        "examples": ["PT30S", "PT5M"],
        "title": "Timeout",
    }
    assert schema["required"] == ["timeout"]
