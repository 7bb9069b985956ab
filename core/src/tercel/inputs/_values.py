"""Small value helpers shared by the input kinds: display, ISO 8601 durations, plain types.

Declarations come from ruamel.yaml in round-trip mode, so their scalars are subclasses
(`ScalarInt`, `ScalarFloat`, `TimeStamp`, `CommentedMap`, ...). Typed input values end up
in the execution record and in expressions, so everything leaving this package goes
through `plain()` first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

__all__ = [
    "MISSING",
    "article",
    "format_duration",
    "is_expression",
    "parse_duration",
    "plain",
    "scalar_text",
    "show",
    "utc",
]


class _Missing:
    """Marks "no value at all", which is not the same as an explicit `null`."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()

_SHOW_LIMIT = 80


def show(value: Any) -> str:
    """Render a value for an error message: strings quoted, others as a user would write them."""
    if isinstance(value, str):
        text = repr(str(value))
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, bytes | bytearray | memoryview):
        text = f"<{len(value)} bytes>"
    elif isinstance(value, datetime):
        text = value.isoformat().replace("+00:00", "Z")
    elif isinstance(value, date | time):
        text = value.isoformat()
    elif isinstance(value, timedelta):
        text = format_duration(value)
    elif isinstance(value, int | float):
        text = repr(value)
    else:
        try:
            text = json.dumps(plain(value), default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(value)
    if len(text) > _SHOW_LIMIT:
        text = text[: _SHOW_LIMIT - 1] + "…"
    return text


def article(type_name: str) -> str:
    """`a STRING`, `an INT`: type names are read as words (and URI as "you-are-eye")."""
    return "an" if type_name in ("INT", "ENUM", "EMAIL", "ARRAY") else "a"


def plain(value: Any) -> Any:
    """Deep-convert YAML/JSON-ish values to built-in types (drops ruamel's subclasses)."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, datetime):
        return datetime(
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond,
            tzinfo=value.tzinfo,
            fold=value.fold,
        )
    if isinstance(value, Mapping):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def scalar_text(value: Any) -> str | None:
    """The text of a scalar as a user typed it (`true`, `3`, `1.5`); None for non-scalars.

    SELECT/ENUM values are strings in Kestra, but YAML turns `values: [1, 2]` into numbers;
    this keeps `1` and `"1"` the same choice.
    """
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(plain(value))
    return None


def is_expression(value: Any) -> bool:
    """Whether a `defaults` value is a Jinja template to render rather than a literal."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


_NUMBER = r"\d+(?:[.,]\d+)?"
_DURATION = re.compile(
    rf"(?P<sign>[-+])?P(?:(?P<weeks>{_NUMBER})W)?(?:(?P<days>{_NUMBER})D)?"
    rf"(?:T(?:(?P<hours>{_NUMBER})H)?(?:(?P<minutes>{_NUMBER})M)?(?:(?P<seconds>{_NUMBER})S)?)?",
    re.IGNORECASE,
)
_CALENDAR_DURATION = re.compile(r"[-+]?P(?:\d+Y|[^T]*\d+M)", re.IGNORECASE)


def parse_duration(text: str) -> timedelta:
    """Parse an ISO 8601 duration (`PT1H30M`, `P2DT3H`, `-PT5.5S`) into a timedelta.

    Years and months are refused: they have no fixed length, so a timedelta cannot hold
    them (Java's `Duration.parse`, which Kestra uses, refuses them too).
    """
    raw = text.strip()
    match = _DURATION.fullmatch(raw)
    units = ("weeks", "days", "hours", "minutes", "seconds")
    if match is None or not any(match.group(u) for u in units) or raw.upper().endswith("T"):
        if _CALENDAR_DURATION.match(raw):
            raise ValueError("years and months have no fixed length; use days, e.g. P30D")
        raise ValueError("")  # the caller already says what a duration looks like
    amounts = {u: float(match.group(u).replace(",", ".")) for u in units if match.group(u)}
    result = timedelta(**amounts)
    return -result if match.group("sign") == "-" else result


def format_duration(value: timedelta) -> str:
    """Format a timedelta as ISO 8601 (`P1DT2H30M`, `PT0.5S`, `PT0S`)."""
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if micros < 0 else ""
    days, micros = divmod(abs(micros), 86_400 * 1_000_000)
    hours, micros = divmod(micros, 3_600 * 1_000_000)
    minutes, micros = divmod(micros, 60 * 1_000_000)
    seconds, micros = divmod(micros, 1_000_000)
    out = f"{sign}P{days}D" if days else f"{sign}P"
    clock = ""
    if hours:
        clock += f"{hours}H"
    if minutes:
        clock += f"{minutes}M"
    if seconds or micros:
        clock += (f"{seconds}.{micros:06d}".rstrip("0") if micros else str(seconds)) + "S"
    if clock:
        out += "T" + clock
    elif not days:
        out += "T0S"
    return out


def utc(value: datetime) -> datetime:
    """An aware datetime moved to UTC, as a plain `datetime` (Kestra keeps an `Instant`)."""
    return plain(value.astimezone(UTC))
