"""ISO 8601 durations (`PT1H30M`), the way Kestra writes every timeout, interval and delay."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

__all__ = ["Duration", "format_duration", "parse_duration"]

_ISO = re.compile(
    r"^(?P<sign>[-+])?P(?!$)(?:(?P<weeks>\d+(?:[.,]\d+)?)W)?(?:(?P<days>\d+(?:[.,]\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+(?:[.,]\d+)?)H)?(?:(?P<minutes>\d+(?:[.,]\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?)?$",
    re.IGNORECASE,
)

_MICROS = {
    "weeks": 604_800_000_000,
    "days": 86_400_000_000,
    "hours": 3_600_000_000,
    "minutes": 60_000_000,
    "seconds": 1_000_000,
}


def parse_duration(value: Any) -> timedelta:
    """Parse `PT5M`, `P1DT2H`, `-PT1S`, a number of seconds, or a timedelta.

    Raises ValueError with the accepted forms when the text is not a duration.
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        try:
            return timedelta(seconds=value)
        except (OverflowError, ValueError):  # huge, infinite or NaN
            raise ValueError(f"not a duration: {value!r} (out of range)") from None
    if not isinstance(value, str):
        raise ValueError(f"not a duration: {value!r} (expected an ISO 8601 duration like PT5M)")
    match = _ISO.match(value.strip())
    if not match:
        raise ValueError(
            f"not an ISO 8601 duration: {value!r} (examples: PT30S, PT5M, PT1H30M, P1D)"
        )
    # exact decimal arithmetic: `PT100000000000.000001S` keeps its microsecond
    micros = sum(
        (
            Decimal(text.replace(",", ".")) * _MICROS[unit]
            for unit, text in match.groupdict().items()
            if text and unit != "sign"
        ),
        Decimal(0),
    )
    if match.group("sign") == "-":
        micros = -micros
    try:
        return timedelta(microseconds=int(micros.to_integral_value(ROUND_HALF_EVEN)))
    except OverflowError:
        raise ValueError(f"ISO 8601 duration out of range: {value!r}") from None


def format_duration(value: timedelta) -> str:
    """Format a timedelta as ISO 8601 (`PT1H30M`), the inverse of `parse_duration`.

    Exact to the microsecond at any size (integer arithmetic, no float rounding).
    """
    total = (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if total < 0 else ""
    total_seconds, micros = divmod(abs(total), 1_000_000)
    days, rem = divmod(total_seconds, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, seconds = divmod(rem, 60)
    out = f"{sign}P"
    if days:
        out += f"{days}D"
    time = ""
    if hours:
        time += f"{hours}H"
    if minutes:
        time += f"{minutes}M"
    if seconds or micros or not (days or hours or minutes):
        time += f"{seconds}.{micros:06d}".rstrip("0").rstrip(".") + "S"
    return out + (f"T{time}" if time else "")


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "format": "duration", "examples": ["PT30S", "PT5M"]}),
]
"""A timedelta written in YAML as an ISO 8601 duration."""
