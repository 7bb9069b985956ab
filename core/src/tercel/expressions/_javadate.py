"""Java `DateTimeFormatter` patterns and Kestra's named formats, in pure Python.

Kestra flows format dates with Java patterns (`yyyy-MM-dd'T'HH:mm:ss.SSSXXX`, `EEE`, `MMM`,
`a`, `z`, quoted literals, `[optional]` sections) or named formats (`iso`, `sql`,
`iso_date_time`, ...). `strftime` speaks neither, so this module interprets the patterns itself,
English (US) names only. Patterns are tokenized once and cached.
"""

from __future__ import annotations

import datetime as dt
import re
from calendar import monthrange
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._errors import ExpressionError

__all__ = [
    "add_to_datetime",
    "epoch_micros",
    "format_datetime",
    "resolve_zone",
    "to_datetime",
]

UTC = dt.UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")  # fmt: skip
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_QUARTERS = ("1st", "2nd", "3rd", "4th")

# Full names Java prints for `zzzz`; other zones fall back to their abbreviation.
_ZONE_LONG_NAMES = {
    "UTC": "Coordinated Universal Time",
    "GMT": "Greenwich Mean Time",
    "BST": "British Summer Time",
    "CET": "Central European Standard Time",
    "CEST": "Central European Summer Time",
    "EET": "Eastern European Standard Time",
    "EEST": "Eastern European Summer Time",
    "WET": "Western European Standard Time",
    "WEST": "Western European Summer Time",
    "EST": "Eastern Standard Time",
    "EDT": "Eastern Daylight Time",
    "CST": "Central Standard Time",
    "CDT": "Central Daylight Time",
    "MST": "Mountain Standard Time",
    "MDT": "Mountain Daylight Time",
    "PST": "Pacific Standard Time",
    "PDT": "Pacific Daylight Time",
    "JST": "Japan Standard Time",
    "IST": "India Standard Time",
}
# Abbreviations accepted when *parsing* (`z`); ambiguous ones take their most common meaning.
_ZONE_ABBREVIATIONS = {
    "UTC": 0, "UT": 0, "GMT": 0, "Z": 0, "BST": 60, "CET": 60, "CEST": 120, "EET": 120,
    "EEST": 180, "WET": 0, "WEST": 60, "EST": -300, "EDT": -240, "CST": -360, "CDT": -300,
    "MST": -420, "MDT": -360, "PST": -480, "PDT": -420, "JST": 540, "IST": 330,
}  # fmt: skip

_OFFSET_RE = re.compile(r"^(?:UTC|GMT|UT)?([+-])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?$")


def resolve_zone(name: str) -> dt.tzinfo:
    """A Java `ZoneId` string (`Europe/Paris`, `UTC`, `Z`, `+02:00`, `GMT+2`) as a tzinfo."""
    if not isinstance(name, str) or not name:
        raise ExpressionError(f"invalid time zone {name!r}")
    if name == "Z":
        return UTC
    match = _OFFSET_RE.match(name)
    if match:
        sign = -1 if match.group(1) == "-" else 1
        delta = dt.timedelta(
            hours=int(match.group(2)),
            minutes=int(match.group(3) or 0),
            seconds=int(match.group(4) or 0),
        )
        return dt.timezone(sign * delta) if delta else UTC
    return _zoneinfo(name)


@lru_cache(maxsize=256)
def _zoneinfo(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ExpressionError(f"unknown time zone '{name}'") from None


# --------------------------------------------------------------------------------------------
# Converting inputs
# --------------------------------------------------------------------------------------------


def to_datetime(
    value: Any, zone: dt.tzinfo | None = None, existing_format: str | None = None
) -> dt.datetime:
    """Kestra's date coercion: an aware datetime from a datetime, date, ISO string or epoch.

    Naive values are read in `zone` (UTC if none), a bare date at noon like Kestra, and numbers
    are epoch *seconds* like Kestra's `Long` handling.
    """
    zone = zone or UTC
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(12), tzinfo=zone)
    if isinstance(value, bool):
        raise ExpressionError(f"cannot use boolean {value!r} as a date")
    if isinstance(value, (int, float, Decimal)):
        micros = int(Decimal(str(value)) * 1_000_000)
        return (_EPOCH + dt.timedelta(microseconds=micros)).astimezone(zone)
    if isinstance(value, str):
        text = value.strip()
        if existing_format is not None:
            return parse_datetime(text, existing_format, zone)
        return _parse_iso(text, zone)
    raise ExpressionError(f"cannot use a value of type {type(value).__name__} as a date")


def _parse_iso(text: str, zone: dt.tzinfo) -> dt.datetime:
    """ISO-8601 in the shapes Java prints, including `...Z[Europe/Paris]` and nanoseconds."""
    region: dt.tzinfo | None = None
    if text.endswith("]") and "[" in text:
        text, _, zone_id = text[:-1].partition("[")
        region = resolve_zone(zone_id)
    # Python keeps microseconds: drop digits 7-9 of a nanosecond fraction.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ExpressionError(f"cannot parse '{text}' as an ISO-8601 date") from None
    if len(text) == 10 and "T" not in text and " " not in text:  # a bare date: noon, like Kestra
        parsed = parsed.replace(hour=12)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=region or zone)
    return parsed.astimezone(region) if region is not None else parsed


def epoch_micros(value: dt.datetime) -> int:
    """Exact microseconds since the epoch (no float rounding)."""
    return (value - _EPOCH) // dt.timedelta(microseconds=1)


# --------------------------------------------------------------------------------------------
# dateAdd
# --------------------------------------------------------------------------------------------

_TIME_UNITS = {
    "MICROS": dt.timedelta(microseconds=1),
    "MILLIS": dt.timedelta(milliseconds=1),
    "SECONDS": dt.timedelta(seconds=1),
    "MINUTES": dt.timedelta(minutes=1),
    "HOURS": dt.timedelta(hours=1),
    "HALF_DAYS": dt.timedelta(hours=12),
}
_DATE_UNITS_DAYS = {"DAYS": 1, "WEEKS": 7}
_DATE_UNITS_MONTHS = {
    "MONTHS": 1,
    "YEARS": 12,
    "DECADES": 120,
    "CENTURIES": 1200,
    "MILLENNIA": 12000,
}


def add_to_datetime(value: dt.datetime, amount: int, unit: str) -> dt.datetime:
    """`ZonedDateTime.plus(amount, ChronoUnit.valueOf(unit))`: time units are exact durations,
    date units move the wall clock (and months clamp to the month's last day)."""
    if isinstance(amount, bool) or not isinstance(amount, (int, float, Decimal)):
        raise ExpressionError(f"dateAdd expects a number as amount, got {amount!r}")
    key = str(unit).upper()
    try:
        if key in _TIME_UNITS or key == "NANOS":
            if key == "NANOS":  # Python has microseconds: whole microseconds only
                delta = dt.timedelta(microseconds=int(amount) // 1000)
            else:
                delta = _TIME_UNITS[key] * int(amount)
            zone = value.tzinfo
            return (value.astimezone(UTC) + delta).astimezone(zone)
        if key in _DATE_UNITS_DAYS:
            return value + dt.timedelta(days=int(amount) * _DATE_UNITS_DAYS[key])
        if key in _DATE_UNITS_MONTHS:
            months = value.month - 1 + int(amount) * _DATE_UNITS_MONTHS[key]
            year, month = value.year + months // 12, months % 12 + 1
            day = min(value.day, monthrange(year, month)[1])
            return value.replace(year=year, month=month, day=day)
    except (OverflowError, ValueError) as exc:
        raise ExpressionError(f"dateAdd out of range: {exc}") from None
    raise ExpressionError(
        f"unknown time unit '{unit}' (use SECONDS, MINUTES, HOURS, DAYS, WEEKS, MONTHS, YEARS, ...)"
    )


# --------------------------------------------------------------------------------------------
# Pattern tokenizing
# --------------------------------------------------------------------------------------------

_LETTERS = set("GuyDMLdQqYwWEecFahKkHmsSAnNVvzOXxZ")
Token = tuple[str, str, int]  # ("lit", text, 0) | ("field", letter, count) | ("opt", "[" or "]", 0)


@lru_cache(maxsize=512)
def _tokenize(pattern: str) -> tuple[Token, ...]:
    tokens: list[Token] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch.isascii() and ch.isalpha():
            j = i
            while j < n and pattern[j] == ch:
                j += 1
            if ch not in _LETTERS:
                raise ExpressionError(
                    f"unknown pattern letter '{ch}' in date format '{pattern}'"
                    " (quote literal text, e.g. 'T')"
                )
            tokens.append(("field", ch, j - i))
            i = j
        elif ch == "'":
            if pattern.startswith("''", i):
                tokens.append(("lit", "'", 0))
                i += 2
                continue
            j, text = i + 1, []
            while True:
                if j >= n:
                    raise ExpressionError(f"unterminated quote in date format '{pattern}'")
                if pattern[j] == "'":
                    if pattern.startswith("''", j):
                        text.append("'")
                        j += 2
                        continue
                    break
                text.append(pattern[j])
                j += 1
            tokens.append(("lit", "".join(text), 0))
            i = j + 1
        elif ch in "[]":
            tokens.append(("opt", ch, 0))
            i += 1
        elif ch in "#{}":
            raise ExpressionError(f"reserved character '{ch}' in date format '{pattern}'")
        else:
            tokens.append(("lit", ch, 0))
            i += 1
    return tuple(tokens)


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------


def _pad(number: int, width: int) -> str:
    text = str(abs(number)).rjust(width, "0")
    return "-" + text if number < 0 else text


def _us_week(value: dt.date) -> tuple[int, int]:
    """(week-based-year, week) with US rules: weeks start on Sunday, week 1 holds January 1."""
    start = value - dt.timedelta(days=(value.weekday() + 1) % 7)  # the Sunday of this week
    end = start + dt.timedelta(days=6)
    if end.year > value.year:
        return end.year, 1
    jan1 = dt.date(value.year, 1, 1)
    first_sunday = jan1 - dt.timedelta(days=(jan1.weekday() + 1) % 7)
    return value.year, (start - first_sunday).days // 7 + 1


def _offset_text(seconds: int, colon: bool, minutes: str, secs: str) -> str:
    """Java's `+HH`, `+HHmm`, `+HH:MM`, `+HHMMss`... with `minutes`/`secs` in {"no","opt","req"}."""
    sign = "-" if seconds < 0 else "+"
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    mins, secs_value = divmod(rest, 60)
    text = f"{sign}{hours:02d}"
    sep = ":" if colon else ""
    if minutes == "req" or (minutes == "opt" and (mins or secs_value)):
        text += f"{sep}{mins:02d}"
        if secs == "req" or (secs == "opt" and secs_value):
            text += f"{sep}{secs_value:02d}"
    return text


_OFFSET_STYLES = {  # count -> (colon, minutes, seconds) for X/x
    1: (False, "opt", "no"),
    2: (False, "req", "no"),
    3: (True, "req", "no"),
    4: (False, "req", "opt"),
    5: (True, "req", "opt"),
}
_X_ZERO = {1: "+00", 2: "+0000", 3: "+00:00", 4: "+0000", 5: "+00:00"}


def _offset_seconds(value: dt.datetime) -> int:
    offset = value.utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _gmt_offset(seconds: int, long: bool) -> str:
    if seconds == 0:
        return "GMT"
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    mins, secs = divmod(rest, 60)
    if long:
        text = f"GMT{sign}{hours:02d}:{mins:02d}"
    else:
        text = f"GMT{sign}{hours}" + (f":{mins:02d}" if mins or secs else "")
    return text + (f":{secs:02d}" if secs else "")


def _zone_id(value: dt.datetime) -> str:
    tz = value.tzinfo
    if isinstance(tz, ZoneInfo):
        return tz.key
    seconds = _offset_seconds(value)
    if seconds == 0:
        return "UTC"
    return _offset_text(seconds, True, "req", "opt")


def _zone_short(value: dt.datetime) -> str:
    tz = value.tzinfo
    if isinstance(tz, dt.timezone) and tz is not UTC:
        return _offset_text(_offset_seconds(value), True, "req", "opt")
    return value.tzname() or _zone_id(value)


def _text(names: tuple[str, ...], index: int, count: int) -> str:
    name = names[index]
    if count <= 3:
        return name[:3]
    if count == 4:
        return name
    return name[0]


def _format_field(value: dt.datetime, letter: str, count: int) -> str:
    if letter in "yu":
        return f"{value.year % 100:02d}" if count == 2 else _pad(value.year, count)
    if letter == "Y":
        year = _us_week(value.date())[0]
        return f"{year % 100:02d}" if count == 2 else _pad(year, count)
    if letter in "ML":
        if count <= 2:
            return _pad(value.month, count)
        return _text(_MONTHS, value.month - 1, count)
    if letter == "d":
        return _pad(value.day, count)
    if letter == "D":
        return _pad(value.timetuple().tm_yday, count)
    if letter in "Qq":
        quarter = (value.month - 1) // 3 + 1
        if count <= 2:
            return _pad(quarter, count)
        return {3: f"Q{quarter}", 4: f"{_QUARTERS[quarter - 1]} quarter"}.get(count, str(quarter))
    if letter == "E":
        return _text(_DAYS, value.weekday(), max(count, 3))
    if letter in "ec":
        if count <= 2:
            return _pad((value.weekday() + 1) % 7 + 1, count)  # US: Sunday is day 1
        return _text(_DAYS, value.weekday(), count)
    if letter == "w":
        return _pad(_us_week(value.date())[1], count)
    if letter == "W":
        first = value.replace(day=1)
        return _pad((value.day - 1 + (first.weekday() + 1) % 7) // 7 + 1, count)
    if letter == "F":
        return _pad((value.day - 1) // 7 + 1, count)
    if letter == "a":
        return "AM" if value.hour < 12 else "PM"
    if letter == "h":
        return _pad((value.hour + 11) % 12 + 1, count)
    if letter == "K":
        return _pad(value.hour % 12, count)
    if letter == "k":
        return _pad(value.hour or 24, count)
    if letter == "H":
        return _pad(value.hour, count)
    if letter == "m":
        return _pad(value.minute, count)
    if letter == "s":
        return _pad(value.second, count)
    if letter == "S":
        return f"{value.microsecond * 1000:09d}"[:count].ljust(count, "0")
    if letter == "n":
        return _pad(value.microsecond * 1000, count)
    if letter == "N":
        nanos = ((value.hour * 60 + value.minute) * 60 + value.second) * 10**9
        return _pad(nanos + value.microsecond * 1000, count)
    if letter == "A":
        millis = ((value.hour * 60 + value.minute) * 60 + value.second) * 1000
        return _pad(millis + value.microsecond // 1000, count)
    if letter == "G":
        return {4: "Anno Domini", 5: "A"}.get(count, "AD")
    if letter == "V":
        return _zone_id(value)
    if letter in "zv":
        short = _zone_short(value)
        return _ZONE_LONG_NAMES.get(short, short) if count >= 4 else short
    seconds = _offset_seconds(value)
    if letter == "O":
        return _gmt_offset(seconds, long=count >= 4)
    if letter == "X":
        return "Z" if seconds == 0 else _offset_text(seconds, *_OFFSET_STYLES[min(count, 5)])
    if letter == "x":
        if seconds == 0:
            return _X_ZERO[min(count, 5)]
        return _offset_text(seconds, *_OFFSET_STYLES[min(count, 5)])
    # letter == "Z"
    if count <= 3:
        return _offset_text(seconds, False, "req", "no")
    if count == 4:
        return _gmt_offset(seconds, long=True)
    return "Z" if seconds == 0 else _offset_text(seconds, True, "req", "opt")


def _format_pattern(value: dt.datetime, pattern: str) -> str:
    out: list[str] = []
    for kind, text, count in _tokenize(pattern):
        if kind == "field":
            out.append(_format_field(value, text, count))
        elif kind == "lit":
            out.append(text)
        # "opt": every field of a date-time is available, so optional sections always print
    return "".join(out)


def _fraction(value: dt.datetime, groups_of_three: bool) -> str:
    if not value.microsecond:
        return ""
    digits = f"{value.microsecond:06d}"
    if groups_of_three and digits.endswith("000"):
        return "." + digits[:3]
    return "." + (digits if groups_of_three else digits.rstrip("0"))


def _local_date(value: dt.datetime) -> str:
    return f"{_pad(value.year, 4)}-{value.month:02d}-{value.day:02d}"


def _local_time(value: dt.datetime) -> str:
    return f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}{_fraction(value, False)}"


def _iso_offset(value: dt.datetime) -> str:
    seconds = _offset_seconds(value)
    return "Z" if seconds == 0 else _offset_text(seconds, True, "req", "opt")


def _region(value: dt.datetime) -> str:
    return f"[{value.tzinfo.key}]" if isinstance(value.tzinfo, ZoneInfo) else ""


def _instant(value: dt.datetime) -> str:
    utc = value.astimezone(UTC)
    return f"{_local_date(utc)}T{utc:%H:%M:%S}{_fraction(utc, True)}Z"


def _week_date(value: dt.datetime) -> str:
    year, week, day = value.isocalendar()
    return f"{_pad(year, 4)}-W{week:02d}-{day}{_iso_offset(value)}"


_NAMED: dict[str, Callable[[dt.datetime], str] | str] = {
    "iso": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
    "iso_sec": "yyyy-MM-dd'T'HH:mm:ssXXX",
    "sql": "yyyy-MM-dd HH:mm:ss.SSSSSS",
    "sql_seq": "yyyy-MM-dd HH:mm:ss",
    "iso_date_time": lambda v: f"{_local_date(v)}T{_local_time(v)}{_iso_offset(v)}{_region(v)}",
    "iso_zoned_date_time": lambda v: (
        f"{_local_date(v)}T{_local_time(v)}{_iso_offset(v)}{_region(v)}"
    ),
    "iso_offset_date_time": lambda v: f"{_local_date(v)}T{_local_time(v)}{_iso_offset(v)}",
    "iso_local_date_time": lambda v: f"{_local_date(v)}T{_local_time(v)}",
    "iso_date": lambda v: f"{_local_date(v)}{_iso_offset(v)}",
    "iso_offset_date": lambda v: f"{_local_date(v)}{_iso_offset(v)}",
    "iso_local_date": _local_date,
    "iso_time": lambda v: f"{_local_time(v)}{_iso_offset(v)}",
    "iso_offset_time": lambda v: f"{_local_time(v)}{_iso_offset(v)}",
    "iso_local_time": _local_time,
    "iso_instant": _instant,
    "iso_ordinal_date": lambda v: f"{_pad(v.year, 4)}-{v.timetuple().tm_yday:03d}{_iso_offset(v)}",
    "iso_week_date": _week_date,
    "basic_iso_date": lambda v: (
        f"{_pad(v.year, 4)}{v.month:02d}{v.day:02d}"
        + ("Z" if _offset_seconds(v) == 0 else _offset_text(_offset_seconds(v), False, "req", "no"))
    ),
    "rfc_1123_date_time": lambda v: (
        _format_pattern(v, "EEE, d MMM yyyy HH:mm:ss ")
        + (
            "GMT"
            if _offset_seconds(v) == 0
            else _offset_text(_offset_seconds(v), False, "req", "no")
        )
    ),
    # Java's localized styles, as the JDK (CLDR) prints them for Locale.US.
    "short": "M/d/yy, h:mm a",
    "medium": "MMM d, y, h:mm:ss a",
    "long": "MMMM d, y 'at' h:mm:ss a z",
    "full": "EEEE, MMMM d, y 'at' h:mm:ss a zzzz",
}


def format_datetime(value: dt.datetime, fmt: str | None = None) -> str:
    """Format an aware datetime with a Java pattern or one of Kestra's named formats."""
    if fmt is None:
        fmt = "iso"
    if not isinstance(fmt, str):
        raise ExpressionError(f"date format must be a string, got {fmt!r}")
    named = _NAMED.get(fmt)
    if named is None:
        return _format_pattern(value, fmt)
    if isinstance(named, str):
        return _format_pattern(value, named)
    return named(value)


# --------------------------------------------------------------------------------------------
# Parsing with a pattern (`existingFormat`)
# --------------------------------------------------------------------------------------------

_MONTH_RE = "|".join(_MONTHS)
_MONTH_SHORT_RE = "|".join(m[:3] for m in _MONTHS)
_DAY_RE = "|".join(_DAYS) + "|" + "|".join(d[:3] for d in _DAYS)
_OFFSET_PARSE_RE = r"Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?"


def _field_regex(letter: str, count: int, group: str) -> str:
    if letter in "yuY":
        body = r"\d{2}" if count == 2 else (r"\d{4}" if count == 4 else r"[+-]?\d{1,9}")
    elif letter in "ML":
        body = {1: r"\d{1,2}", 2: r"\d{2}", 3: _MONTH_SHORT_RE}.get(count, _MONTH_RE)
    elif letter in "dHhKkmsWwFQq":
        body = r"\d{1,2}" if count == 1 else r"\d{2}"
        if letter in "Qq" and count >= 3:
            body = r"Q\d|\d(?:st|nd|rd|th) quarter"
    elif letter == "D":
        body = r"\d{1,3}"
    elif letter == "S":
        body = rf"\d{{{count}}}"
    elif letter in "nNA":
        body = r"\d{1,18}"
    elif letter == "a":
        body = "AM|PM|am|pm"
    elif letter in "Eec":
        body = _DAY_RE if letter == "E" or count >= 3 else r"\d{1,2}"
    elif letter == "G":
        body = "AD|BC|Anno Domini|Before Christ|A|B"
    elif letter in "Xx":
        body = _OFFSET_PARSE_RE
    elif letter == "Z":
        body = _OFFSET_PARSE_RE + r"|GMT(?:[+-]\d{1,2}(?::\d{2})?)?"
    elif letter == "O":
        body = r"GMT(?:[+-]\d{1,2}(?::\d{2}(?::\d{2})?)?)?"
    elif letter == "V":
        body = r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*|Z|[+-]\d{2}:\d{2}"
    else:  # z, v
        body = r"[A-Za-z][A-Za-z0-9_+\-:/]*"
    return f"(?P<{group}>{body})"


@lru_cache(maxsize=256)
def _parse_regex(pattern: str) -> tuple[re.Pattern[str], tuple[tuple[str, str, int], ...]]:
    parts: list[str] = []
    fields: list[tuple[str, str, int]] = []
    for kind, text, count in _tokenize(pattern):
        if kind == "lit":
            parts.append(re.escape(text))
        elif kind == "opt":
            parts.append("(?:" if text == "[" else ")?")
        else:
            group = f"g{len(fields)}"
            fields.append((group, text, count))
            parts.append(_field_regex(text, count, group))
    return re.compile("".join(parts), re.IGNORECASE), tuple(fields)


def _month_number(text: str) -> int:
    if text.isdigit():
        return int(text)
    lowered = text.lower()
    for index, name in enumerate(_MONTHS):
        if name.lower().startswith(lowered[:3]):
            return index + 1
    raise ValueError(text)


def _zone_from_text(letter: str, text: str) -> dt.tzinfo:
    if letter in ("z", "v") and text.upper() in _ZONE_ABBREVIATIONS:
        return dt.timezone(dt.timedelta(minutes=_ZONE_ABBREVIATIONS[text.upper()]))
    if text.upper().startswith("GMT") and len(text) > 3:
        return resolve_zone(text[3:])
    if text.upper() == "GMT":
        return UTC
    return resolve_zone(text)


def parse_datetime(text: str, pattern: str, zone: dt.tzinfo | None = None) -> dt.datetime:
    """Read `text` with a Java pattern; missing date parts default to 1970-01-01, time to 0."""
    if pattern in _NAMED and pattern not in ("iso", "iso_sec", "sql", "sql_seq"):
        return _parse_iso(text, zone or UTC)
    named = _NAMED.get(pattern)
    regex, fields = _parse_regex(named if isinstance(named, str) else pattern)
    match = regex.fullmatch(text)
    if match is None:
        raise ExpressionError(f"cannot parse '{text}' with date format '{pattern}'")
    year, month, day, hour, minute, second, micro = 1970, 1, 1, 0, 0, 0, 0
    pm: bool | None = None
    day_of_year: int | None = None
    parsed_zone: dt.tzinfo | None = None
    try:
        for group, letter, count in fields:
            value = match.group(group)
            if value is None:
                continue
            if letter in "yu":
                year = 2000 + int(value) if count == 2 else int(value)
            elif letter in "ML":
                month = _month_number(value)
            elif letter == "d":
                day = int(value)
            elif letter == "D":
                day_of_year = int(value)
            elif letter in "Hk":
                hour = int(value) % 24
            elif letter in "hK":
                hour = int(value) % 12
            elif letter == "m":
                minute = int(value)
            elif letter == "s":
                second = int(value)
            elif letter == "S":
                micro = int(value.ljust(6, "0")[:6])
            elif letter == "n":
                micro = int(value) // 1000
            elif letter == "a":
                pm = value.upper() == "PM"
            elif letter in "XxZOVzv":
                parsed_zone = _zone_from_text(letter, value)
        if pm is not None:
            hour = hour % 12 + (12 if pm else 0)
        result = dt.datetime(year, month, day, hour, minute, second, micro)
        if day_of_year is not None:
            result = result.replace(month=1, day=1) + dt.timedelta(days=day_of_year - 1)
    except ValueError as exc:
        raise ExpressionError(
            f"cannot parse '{text}' with date format '{pattern}': {exc}"
        ) from None
    return result.replace(tzinfo=parsed_zone or zone or UTC)
