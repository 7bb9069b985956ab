"""Retry policies: delays, when to stop, and parsing Kestra's `retry:` block."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError
from tercel_sdk import ConstantRetry, ExponentialRetry, RandomRetry, Retry

RETRY = TypeAdapter(Retry)
S = timedelta(seconds=1)


def parse(data: dict[str, Any]) -> Any:
    return RETRY.validate_python(data)


# -- delays ---------------------------------------------------------------------------------------


def test_constant_waits_the_same_interval() -> None:
    policy = parse({"type": "constant", "interval": "PT10S", "maxAttempts": 10})
    assert isinstance(policy, ConstantRetry)
    assert [policy.delay(n) for n in range(1, 6)] == [10 * S] * 5


def test_exponential_multiplies_by_the_factor() -> None:
    policy = parse({"type": "exponential", "interval": "PT1S", "maxAttempts": 10})
    assert isinstance(policy, ExponentialRetry)
    assert policy.delay_factor == 2.0
    assert [policy.delay(n) for n in range(1, 6)] == [S, 2 * S, 4 * S, 8 * S, 16 * S]
    assert policy.delay(0) == S


def test_exponential_with_a_factor_and_a_cap() -> None:
    policy = parse(
        {"type": "exponential", "interval": "PT2S", "delayFactor": 3, "maxInterval": "PT30S",
         "maxAttempts": 10}
    )  # fmt: skip
    assert [policy.delay(n) for n in range(1, 6)] == [2 * S, 6 * S, 18 * S, 30 * S, 30 * S]


def test_exponential_with_a_fractional_factor() -> None:
    policy = parse({"type": "exponential", "interval": "PT1S", "delayFactor": 1.5,
                    "maxAttempts": 5})  # fmt: skip
    assert policy.delay(3) == timedelta(seconds=2.25)


def test_exponential_does_not_overflow_after_many_attempts() -> None:
    capped = parse({"type": "exponential", "interval": "PT1S", "maxInterval": "PT1H",
                    "maxAttempts": 5000})  # fmt: skip
    assert capped.delay(60) == timedelta(hours=1)
    assert capped.delay(2000) == timedelta(hours=1)
    assert capped.next_delay(4000, timedelta(days=3)) == timedelta(hours=1)
    uncapped = parse({"type": "exponential", "interval": "PT1S", "maxDuration": "P1D"})
    assert uncapped.delay(2000) == timedelta.max
    assert uncapped.next_delay(60, timedelta(minutes=1)) is None


def test_random_stays_within_the_bounds() -> None:
    policy = parse({"type": "random", "minInterval": "PT1S", "maxInterval": "PT5S",
                    "maxAttempts": 3})  # fmt: skip
    assert isinstance(policy, RandomRetry)
    rng = random.Random(7)
    delays = [policy.delay(n, rng) for n in range(200)]
    assert all(S <= d <= 5 * S for d in delays)
    assert len(set(delays)) > 100  # really random
    assert policy.delay(1) >= S  # without an rng: the module's


def test_random_with_a_seeded_rng_is_reproducible() -> None:
    policy = parse({"type": "random", "minInterval": "PT1S", "maxInterval": "PT2M",
                    "maxAttempts": 3})  # fmt: skip
    first = [policy.delay(n, random.Random(42)) for n in range(5)]
    again = [policy.delay(n, random.Random(42)) for n in range(5)]
    assert first == again
    assert policy.next_delay(1, timedelta(0), random.Random(42)) == first[0]


def test_random_with_swapped_bounds_uses_them_in_order() -> None:
    policy = parse({"type": "random", "minInterval": "PT9S", "maxInterval": "PT3S",
                    "maxAttempts": 3})  # fmt: skip
    rng = random.Random(1)
    assert all(3 * S <= policy.delay(1, rng) <= 9 * S for _ in range(50))


def test_random_with_equal_bounds_is_constant() -> None:
    policy = parse({"type": "random", "minInterval": "PT4S", "maxInterval": "PT4S",
                    "maxAttempts": 3})  # fmt: skip
    assert policy.delay(1, random.Random(0)) == 4 * S


# -- next_delay: when to stop ---------------------------------------------------------------------


def test_max_attempts_counts_the_first_attempt() -> None:
    policy = parse({"type": "constant", "interval": "PT1S", "maxAttempts": 3})
    assert policy.next_delay(1, timedelta(0)) == S
    assert policy.next_delay(2, timedelta(seconds=10)) == S
    assert policy.next_delay(3, timedelta(seconds=20)) is None
    assert policy.next_delay(4, timedelta(seconds=30)) is None


def test_max_attempts_one_never_retries() -> None:
    policy = parse({"type": "constant", "interval": "PT1S", "maxAttempts": 1})
    assert policy.next_delay(1, timedelta(0)) is None


def test_max_duration_stops_when_the_next_attempt_would_start_too_late() -> None:
    policy = parse({"type": "constant", "interval": "PT10S", "maxDuration": "PT1M"})
    assert policy.next_delay(1, timedelta(0)) == 10 * S
    assert policy.next_delay(5, timedelta(seconds=50)) == 10 * S  # starts exactly at the limit
    assert policy.next_delay(6, timedelta(seconds=51)) is None
    assert policy.next_delay(100, timedelta(seconds=40)) == 10 * S  # no attempt limit


def test_max_duration_with_exponential_delays() -> None:
    policy = parse({"type": "exponential", "interval": "PT1S", "maxDuration": "PT10S"})
    elapsed, attempts, waits = timedelta(0), 1, []
    while (wait := policy.next_delay(attempts, elapsed)) is not None:
        waits.append(wait)
        elapsed += wait
        attempts += 1
    assert waits == [S, 2 * S, 4 * S]  # 1 + 2 + 4 = 7; one more (8 s) would end at 15 s


def test_both_limits_the_first_reached_wins() -> None:
    policy = parse({"type": "constant", "interval": "PT1S", "maxAttempts": 3, "maxDuration": "PT5S"})
    assert policy.next_delay(3, timedelta(0)) is None  # attempts
    assert policy.next_delay(1, timedelta(seconds=4, milliseconds=1)) is None  # duration
    assert policy.next_delay(2, timedelta(seconds=4)) == S


def test_without_a_limit_it_never_retries() -> None:
    for data in (
        {"type": "constant", "interval": "PT1S"},
        {"type": "exponential", "interval": "PT1S"},
        {"type": "random", "minInterval": "PT1S", "maxInterval": "PT2S"},
    ):
        assert parse(data).next_delay(1, timedelta(0)) is None


# -- parsing ----------------------------------------------------------------------------------------


def test_yaml_like_dict_with_camel_case_keys() -> None:
    policy = parse(
        {
            "type": "exponential",
            "interval": "PT1S",
            "maxInterval": "PT1M",
            "delayFactor": 4,
            "maxAttempts": 5,
            "maxDuration": "PT1H",
            "warningOnRetry": True,
            "behavior": "CREATE_NEW_EXECUTION",
        }
    )
    assert policy == ExponentialRetry(
        type="exponential",
        interval=S,
        max_interval=timedelta(minutes=1),
        delay_factor=4.0,
        max_attempts=5,
        max_duration=timedelta(hours=1),
        warning_on_retry=True,
        behavior="CREATE_NEW_EXECUTION",
    )
    assert policy.model_dump(by_alias=True, exclude_defaults=True) == {
        "type": "exponential",
        "interval": "PT1S",
        "maxInterval": "PT1M",
        "delayFactor": 4.0,
        "maxAttempts": 5,
        "maxDuration": "PT1H",
        "warningOnRetry": True,
        "behavior": "CREATE_NEW_EXECUTION",
    }


def test_defaults() -> None:
    policy = parse({"type": "constant", "interval": 5})
    assert policy.interval == 5 * S
    assert policy.max_attempts is None
    assert policy.max_duration is None
    assert policy.warning_on_retry is False
    assert policy.behavior == "RETRY_FAILED_TASK"


def test_the_type_picks_the_policy() -> None:
    assert type(parse({"type": "constant", "interval": "PT1S"})) is ConstantRetry
    assert type(parse({"type": "exponential", "interval": "PT1S"})) is ExponentialRetry
    assert type(parse({"type": "random", "minInterval": "PT1S", "maxInterval": "PT2S"})) is RandomRetry


def test_round_trip_through_json() -> None:
    policy = parse({"type": "random", "minInterval": "PT1S", "maxInterval": "PT2.5S",
                    "maxAttempts": 2})  # fmt: skip
    assert RETRY.validate_json(RETRY.dump_json(policy, by_alias=True)) == policy


@pytest.mark.parametrize(
    ("data", "loc", "error_type"),
    [
        ({"type": "linear", "interval": "PT1S"}, (), "union_tag_invalid"),
        ({"interval": "PT1S"}, (), "union_tag_not_found"),
        ({"type": "constant"}, ("constant", "interval"), "missing"),
        ({"type": "constant", "interval": "soon"}, ("constant", "interval"), "value_error"),
        ({"type": "constant", "interval": "PT1S", "maxAttempts": 0}, ("constant", "maxAttempts"), "greater_than_equal"),
        ({"type": "constant", "interval": "PT1S", "maxAttemps": 3}, ("constant", "maxAttemps"), "extra_forbidden"),
        ({"type": "exponential", "interval": "PT1S", "delayFactor": 0}, ("exponential", "delayFactor"), "greater_than"),
        ({"type": "random", "maxInterval": "PT1S"}, ("random", "minInterval"), "missing"),
        ({"type": "constant", "interval": "PT1S", "behavior": "AGAIN"}, ("constant", "behavior"), "literal_error"),
    ],
)  # fmt: skip
def test_bad_policies_are_validation_errors(
    data: dict[str, Any], loc: tuple[str, ...], error_type: str
) -> None:
    with pytest.raises(ValidationError) as info:
        parse(data)
    (error,) = info.value.errors()
    assert error["type"] == error_type
    assert error["loc"] == loc


def test_an_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(ValidationError) as info:
        parse({"type": "linear", "interval": "PT1S"})
    message = str(info.value)
    assert "'linear'" in message
    for known in ("constant", "exponential", "random"):
        assert known in message
