r"""Typed values and row files in Amazon Ion, so types survive from one task to the next.

A datetime stays a datetime, a `Decimal` a `Decimal`, bytes stay bytes, a date a date. Everything
this module returns is a *plain* Python value (dict, list, str, int, float, bool, None, Decimal,
bytes, datetime, date, time, timedelta), never one of amazon.ion's ``IonPy*`` wrappers.

Type mapping (Python -> Ion -> what comes back):

* None -> ``null`` -> None (every typed ``null.<type>`` reads as None too);
* bool, int, str -> bool, int, string -> the same (Ion symbols read as str);
* float -> float with an exponent (``1.5e0``), ``nan``, ``+inf``, ``-inf`` -> float;
* Decimal -> decimal (``1.50``, ``1.``, ``1d+3``) -> Decimal with its exponent;
* bytes, bytearray, memoryview -> blob ``{{base64}}`` -> bytes (clobs read as bytes too);
* aware datetime -> timestamp with its offset -> datetime with a fixed-offset ``timezone``;
* naive datetime -> timestamp with the unknown offset ``-00:00`` -> naive datetime;
* date -> day-precision timestamp -> date (year and month precision read as dates too);
* time -> ``time::"12:30:00"`` -> time; timedelta -> ``duration::"PT1H30M"`` -> timedelta;
* list, tuple -> list -> list (s-expressions read as lists);
* dict or any Mapping with str keys -> struct -> dict (the last of duplicate fields wins).

Sets, non-string keys, NaN/infinite Decimals and other types raise `IonEncodeError`, naming the
type and where it sits (``rows[3].when``). Offsets that are not whole minutes (historic local
mean time) cannot be written in Ion, so such datetimes are written as the same instant in UTC.
Fractions of a second beyond microseconds are truncated on read (Python cannot hold them).

Row files hold one top-level value per line (usually a struct, but any value is allowed, as in
Kestra's ``.ion`` files). Our writer emits Ion *text* made of JSON-compatible tokens plus a few
Ion-only ones, and marks the file with a header line; `read_rows` parses marked files with the C
``json`` module (about 3-5x faster than amazon.ion) and hands anything else, or anything the fast
path does not fully understand, to amazon.ion's reader, so every valid Ion stream is readable.

How the fast path stays exact (see `_parse_chunk`):

* JSON strings never contain raw control characters (``json`` escapes them), so raw TABs, which
  are whitespace to Ion, can bracket the Ion-only tokens we write without any string scanning:
  ``\t<timestamp>\t`` for datetimes, ``\t\t<token>\t\t`` for everything else JSON lacks (most
  decimals, dates, ``nan``/``inf``, blobs, annotated times and durations, huge ints). (Vertical
  tab and form feed are Ion whitespace too, but ion-c rejects them after a timestamp.)
  ``str.split`` finds the tokens, datetimes are converted in bulk by ``datetime.fromisoformat``,
  and each token is replaced by a placeholder constant that the JSON parser hands to
  ``parse_constant``, which returns the values in order: ``Infinity`` for timestamps,
  ``-Infinity`` for the other tokens;
* a chunk is only accepted if those constants did not occur in the input, and every placeholder
  was consumed as a value (one that landed inside a string, in a file we did not write, leaves
  values unconsumed); JSON's ``NaN`` (a symbol in Ion) is refused;
* JSON numbers keep their Ion meaning: with an exponent a float, with only a fraction a decimal
  (C's ``float`` parses them when the chunk has no bare fraction at all, even inside strings);
  surrogate escapes (invalid in Ion) send the chunk to amazon.ion;
* a chunk the bulk path declines is read line by line (a line of ours is one value), and
  anything that is not one-value-per-line goes to amazon.ion for the rest of the stream.

Valid Ion is therefore never misread. (A file carrying our header but written by hand could get
a few *invalid* timestamp spellings, such as ``+0100`` offsets, accepted by the fast path.)
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from itertools import chain, repeat
from operator import attrgetter
from typing import IO, Any, BinaryIO

__all__ = [
    "IonDecodeError",
    "IonEncodeError",
    "IonError",
    "dumps",
    "loads",
    "read_rows",
    "read_rows_file",
    "write_rows",
    "write_rows_file",
]


class IonError(Exception):
    """Base class of this module's errors (the SDK does not depend on tercel's core errors)."""


class IonEncodeError(IonError):
    """A value cannot be written as Ion; `path` says where it is, `type_name` what it is."""

    def __init__(self, message: str, *, path: str = "", type_name: str = "") -> None:
        self.path = path
        self.type_name = type_name
        super().__init__(f"{path}: {message}" if path else message)


class IonDecodeError(IonError):
    """Data is not valid Ion (or not what was expected); `line` is 1-based when known."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}" if line is not None else message)


# The first line of everything our writer produces. A file that starts with exactly these bytes
# is read by the fast path; the marker is only looked for at offset 0, where no user value can be.
_HEADER = "$ion_1_0 // tercel ion-lines 1\n"
_HEADER_B = _HEADER.encode("ascii")

_BATCH_ROWS = 2048  # rows formatted before one write() call
_READ_BLOCK = 1 << 20  # bytes read per fast-path chunk
_KEY_CACHE_MAX = 50_000

# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------

_encode_str: Callable[[str], str] = json.encoder.encode_basestring  # type: ignore[attr-defined]
_float_repr = float.__repr__
_b64encode = base64.b64encode
_SPECIAL_FLOATS = {"nan": "\t\tnan\t\t", "inf": "\t\t+inf\t\t", "-inf": "\t\t-inf\t\t"}
_UTC = UTC


def _fmt_float(value: float) -> str:
    text = _float_repr(value)
    if "e" in text:
        return text
    if "n" in text:  # nan, inf, -inf
        return _SPECIAL_FLOATS[text]
    return text + "e0"  # without an exponent Ion would read a decimal


def _fmt_decimal(value: Decimal) -> str:
    text = str(value)
    if "E" in text:
        return "\t\t" + text.replace("E", "d") + "\t\t"
    if "." in text:
        return text  # JSON-compatible; `_parse_float` reads a bare fraction as a Decimal
    if not value.is_finite():
        raise ValueError(f"Ion decimals cannot be {text}")
    return "\t\t" + text + ".\t\t"  # Decimal('1') is the decimal `1.`, not the int `1`


# isoformat() costs ~2 us per aware datetime here, the whole budget of a row; building the text
# from a per-minute prefix cache and a per-tzinfo offset cache costs a third of that.
_OFFSETS: dict[Any, str] = {None: "-00:00\t"}  # fixed-offset tzinfo -> "+02:00\t"; naive
_MINUTES: dict[int, str] = {}  # minutes since 0001-01-01 -> "\tYYYY-MM-DDTHH:MM:"
_TWO_DIGITS = [f"{i:02d}" for i in range(62)]
_CACHE_MAX = 100_000


def _fmt_datetime(value: datetime) -> str:
    offset = _OFFSETS.get(value.tzinfo)
    if offset is None:
        return _fmt_datetime_slow(value)
    key = (value.toordinal() * 24 + value.hour) * 60 + value.minute
    prefix = _MINUTES.get(key)
    if prefix is None:
        if len(_MINUTES) >= _CACHE_MAX:
            _MINUTES.clear()
        prefix = _MINUTES[key] = (
            f"\t{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:"
        )
    micro = value.microsecond
    if micro:
        return prefix + _TWO_DIGITS[value.second] + "." + str(micro + 1_000_000)[1:] + offset
    return prefix + _TWO_DIGITS[value.second] + offset


def _fmt_datetime_slow(value: datetime) -> str:
    tzinfo = value.tzinfo
    offset = value.utcoffset()
    if offset is None:  # a tzinfo that does not know its offset: a local time
        return "\t" + value.replace(tzinfo=None).isoformat() + "-00:00\t"
    if offset % timedelta(minutes=1):
        # Sub-minute offsets (local mean time) have no Ion form: keep the instant, in UTC.
        try:
            return "\t" + value.astimezone(_UTC).isoformat() + "\t"
        except OverflowError:
            raise IonEncodeError(f"{value!r} is before year 1 in UTC: it has no Ion form") from None
    text = value.isoformat()
    if type(tzinfo) is timezone and len(_OFFSETS) < 1000:
        _OFFSETS[tzinfo] = text[-6:] + "\t"  # a fixed offset: cache its text
    return "\t" + text + "\t"


def _fmt_date(value: date) -> str:
    return "\t\t" + value.isoformat() + "\t\t"


def _fmt_time(value: time) -> str:
    return '\t\ttime::"' + value.isoformat() + '"\t\t'


def _fmt_timedelta(value: timedelta) -> str:
    return '\t\tduration::"' + _format_duration(value) + '"\t\t'


def _fmt_bytes(value: bytes) -> str:
    return "\t\t{{" + _b64encode(value).decode("ascii") + "}}\t\t"


def _fmt_int(value: int) -> str:
    return int.__repr__(value)


def _fmt_dict(value: dict[str, Any]) -> str:
    keys = _KEYS
    fmt = _FMT
    return "{" + ",".join([keys[k] + fmt[type(v)](v) for k, v in value.items()]) + "}"


def _fmt_list(value: list[Any] | tuple[Any, ...]) -> str:
    fmt = _FMT
    return "[" + ",".join([fmt[type(v)](v) for v in value]) + "]"


# Exact-type dispatch for the fast path; anything missing (subclasses, new keys, errors) is
# redone by `_encode_slow`, which knows every supported type and reports where a problem is.
_FMT: dict[type, Callable[[Any], str]] = {
    str: _encode_str,
    int: int.__repr__,
    float: _fmt_float,
    bool: {True: "true", False: "false"}.__getitem__,
    type(None): {None: "null"}.__getitem__,
    dict: _fmt_dict,
    list: _fmt_list,
    tuple: _fmt_list,
    datetime: _fmt_datetime,
    date: _fmt_date,
    Decimal: _fmt_decimal,
    bytes: _fmt_bytes,
    time: _fmt_time,
    timedelta: _fmt_timedelta,
}
# '"name":' for each field name seen; filled by the slow path, shared by all writers.
_KEYS: dict[str, str] = {}


def _format_duration(value: timedelta) -> str:
    """ISO 8601 duration, exact to the microsecond (`P1DT2H`, `-PT0.5S`, `PT0S`)."""
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if micros < 0 else ""
    seconds, micro = divmod(abs(micros), 1_000_000)
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    out = sign + "P" + (f"{days}D" if days else "")
    clock = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if seconds or micro or not (days or clock):
        clock += str(seconds) + (f".{micro:06d}".rstrip("0") if micro else "") + "S"
    return out + ("T" + clock if clock else "")


_DURATION_RE = re.compile(
    r"([-+]?)P(?!$)(?:([-+]?\d+)D)?(?:T(?=[-+\d])(?:([-+]?\d+)H)?(?:([-+]?\d+)M)?"
    r"(?:([-+]?)(\d+)(?:[.,](\d+))?S)?)?",
    re.IGNORECASE,
)


def _parse_duration(text: str) -> timedelta:
    """Read an ISO 8601 / java.time.Duration text (`PT1H30M`, `P1DT2H`, `PT-1.5S`)."""
    m = _DURATION_RE.fullmatch(text)
    if m is None:
        raise ValueError(f"not an ISO 8601 duration: {text!r}")
    sign, days, hours, minutes, sec_sign, secs, frac = m.groups()
    micros = int(secs or 0) * 1_000_000 + (int(frac[:6].ljust(6, "0")) if frac else 0)
    if sec_sign == "-":
        micros = -micros
    micros += ((int(days or 0) * 24 + int(hours or 0)) * 60 + int(minutes or 0)) * 60_000_000
    result = timedelta(microseconds=micros)
    return -result if sign == "-" else result


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SID_LIKE = re.compile(r"\$[0-9]+")


def _join_path(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if isinstance(key, str) and _IDENT.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _encode_slow(value: Any, path: str, active: set[int], depth: int = 0) -> str:
    """Format any supported value, naming the path of whatever cannot be written."""
    if depth > 500:
        raise IonEncodeError("nesting too deep (more than 500 levels)", path=path,
                             type_name=type(value).__name__)
    if type(value).__name__ == "IonPyBool":  # amazon.ion's bools subclass int, not bool
        return "true" if value else "false"
    if value is None or isinstance(value, bool):
        return _FMT[type(None) if value is None else bool](value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise IonEncodeError(
                f"string contains a lone surrogate at index {exc.start}, which Ion cannot hold",
                path=path, type_name=type(value).__name__,
            ) from None
        return _encode_str(str.__str__(value))
    if isinstance(value, int):
        try:
            return int.__repr__(value)
        except ValueError:  # more digits than int->str allows: hex has no such limit
            return "\t\t" + ("-" if value < 0 else "") + hex(abs(value)) + "\t\t"
    if isinstance(value, float):
        return _fmt_float(float(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise IonEncodeError(f"Ion decimals cannot be {value}", path=path,
                                 type_name=type(value).__name__)
        return _fmt_decimal(Decimal(value))
    if isinstance(value, datetime):
        precision = getattr(value, "precision", None)  # amazon.ion's Timestamp
        if precision is not None and int(precision) <= 2:  # year, month or day precision
            return _fmt_date(value.date())
        return _fmt_datetime(datetime(value.year, value.month, value.day, value.hour, value.minute,
                                      value.second, value.microsecond, value.tzinfo,
                                      fold=value.fold))
    if isinstance(value, date):
        return _fmt_date(date(value.year, value.month, value.day))
    if isinstance(value, time):
        return _fmt_time(value)
    if isinstance(value, timedelta):
        return _fmt_timedelta(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return _fmt_bytes(bytes(value))
    if isinstance(value, set | frozenset):
        raise IonEncodeError(
            f"{type(value).__name__} is not supported (Ion has no set type; use a sorted list)",
            path=path, type_name=type(value).__name__,
        )
    if type(value).__name__ in ("SymbolToken", "IonPySymbol"):  # amazon.ion symbols (tuples)
        text = getattr(value, "text", None)
        if not isinstance(text, str):
            raise IonEncodeError("symbol with unknown text", path=path, type_name=type(value).__name__)
        return _encode_slow(text, path, active, depth)
    if isinstance(value, Mapping | list | tuple):
        if id(value) in active:
            raise IonEncodeError("circular reference", path=path, type_name=type(value).__name__)
        active.add(id(value))
        try:
            if isinstance(value, Mapping):
                parts = []
                for key, item in value.items():
                    if not isinstance(key, str):
                        raise IonEncodeError(
                            f"field names must be strings, not {type(key).__name__} ({key!r})",
                            path=path, type_name=type(key).__name__,
                        )
                    child = _join_path(path, key)
                    name = _KEYS.get(key)
                    if name is None:
                        _encode_slow(key, child, active, depth + 1)  # reports lone surrogates
                        name = _key_text(str.__str__(key))
                    parts.append(name + _encode_slow(item, child, active, depth + 1))
                return "{" + ",".join(parts) + "}"
            return "[" + ",".join(
                [_encode_slow(item, f"{path}[{i}]", active, depth + 1) for i, item in enumerate(value)]
            ) + "]"
        finally:
            active.discard(id(value))
    if type(value).__name__ == "IonPyNull":  # amazon.ion's typed nulls
        return "null"
    raise IonEncodeError(
        f"{type(value).__module__}.{type(value).__qualname__} cannot be written as Ion",
        path=path, type_name=type(value).__name__,
    )


def _key_text(name: str) -> str:
    """'"name":' for a field name, cached; TypeError/UnicodeError send the caller to the slow
    path, which reports the problem with its path."""
    if type(name) is not str:
        raise TypeError(name)
    name.encode("utf-8")
    if len(_KEYS) >= _KEY_CACHE_MAX:
        _KEYS.clear()
    # ion-c reads a *string* field name like "$4" as symbol id 4 (the spec says text); a quoted
    # symbol '$4' is read right by everyone (the JSON fast path then declines that line).
    text = _KEYS[name] = ("'" + name + "'" if _SID_LIKE.fullmatch(name) else _encode_str(name)) + ":"
    return text


def _encode_value(value: Any, path: str) -> str:
    try:
        return _FMT[type(value)](value)
    except Exception:
        return _encode_slow(value, path, set())


def _format_column(column: list[Any]) -> list[str]:
    """Texts of one column's values; C-level `map` when the column has a single simple type."""
    types = set(map(type, column))
    if len(types) == 1:
        kind = types.pop()
        if kind is str:
            return list(map(_encode_str, column))
        if kind is int:
            return list(map(int.__repr__, column))
        if kind is float:
            joined = "\x00".join(map(_float_repr, column))
            if "e" not in joined and "n" not in joined:  # no exponent, nan or inf anywhere
                return (joined.replace("\x00", "e0\x00") + "e0").split("\x00")
        return list(map(_FMT[kind], column))
    fmt = _FMT
    return [fmt[type(v)](v) for v in column]


def _format_rows(rows: list[Any], first: int) -> str:
    """The text of a batch of rows, one per line. Dicts that share their keys in the same order
    (the usual table) are formatted by column and interleaved with the field names by
    ``str.join``, which moves nearly all per-value work into C; anything else row by row."""
    try:
        if set(map(type, rows)) == {dict} and rows[0]:
            names = tuple(rows[0])
            shapes = list(map(tuple, rows))  # the same keys in the same order, or row by row
            if shapes.count(names) == len(rows):
                pieces: list[Any] = []
                separator = "{"
                for name in names:
                    pieces.append(repeat(separator + (_KEYS.get(name) or _key_text(name))))
                    pieces.append(_format_column([row[name] for row in rows]))
                    separator = ","
                pieces.append(repeat("}\n"))
                return "".join(chain.from_iterable(zip(*pieces, strict=False)))
    except Exception:
        pass  # a new key, an unusual type, a bad value: the row-wise path sorts it out
    fmt = _FMT
    keys = _KEYS
    lines = []
    for i, row in enumerate(rows, first):
        try:
            if type(row) is dict:
                lines.append("{" + ",".join([keys[k] + fmt[type(v)](v) for k, v in row.items()]) + "}")
            else:
                lines.append(fmt[type(row)](row))
        except Exception:
            lines.append(_encode_slow(row, f"rows[{i}]", set()))
    lines.append("")
    return "\n".join(lines)


def _encode_text(text: str, values: list[Any], first: int, root: str) -> bytes:
    """UTF-8 of `text`; a lone surrogate (the only failure) is reported with its path."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        for i, value in enumerate(values):
            _encode_slow(value, f"{root}[{first + i}]" if root == "rows" else root, set())
        raise  # unreachable: the slow path finds the bad string


def dumps(value: Any) -> bytes:
    """One value as Ion text (our marked one-line format, which `loads` reads fast)."""
    text = _encode_value(value, "value") + "\n"
    return _HEADER_B + _encode_text(text, [value], 0, "value")


def write_rows(rows: Iterable[Any], fp: BinaryIO | IO[bytes]) -> int:
    """Write one Ion value per line (dicts usually, anything allowed) and return how many."""
    write = fp.write
    write(_HEADER_B)
    count = 0
    batch: list[Any] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= _BATCH_ROWS:
            write(_encode_text(_format_rows(batch, count), batch, count, "rows"))
            count += len(batch)
            batch = []
    if batch:
        write(_encode_text(_format_rows(batch, count), batch, count, "rows"))
        count += len(batch)
    return count


def write_rows_file(path: str | os.PathLike[str], rows: Iterable[Any]) -> int:
    """Write `rows` to a file (created or truncated) and return how many were written."""
    with open(path, "wb", buffering=1 << 20) as fp:
        return write_rows(rows, fp)


# ---------------------------------------------------------------------------------------------
# Reading: the fast path
# ---------------------------------------------------------------------------------------------

_DATE_RE = re.compile(r"\d{4}-\d\d-\d\d")
_DECIMAL_RE = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d*(?:[dD][-+]?\d+)?|[dD][-+]?\d+)")
_HEXINT_RE = re.compile(r"-?0x[0-9a-f]+")
_ANNOTATED_RE = re.compile(r'(time|duration)::"([-+.,:0-9A-Za-z]*)"')
# Ion's timestamp grammar: year, month or day precision, or a time with an offset.
_TIMESTAMP_RE = re.compile(
    r"(\d{4})(?:T|-(\d\d)(?:T|-(\d\d)(?:T(?:(\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?"
    r"(Z|[-+]\d\d:\d\d))?)?))"
)
_TOKEN_FLOATS = {"nan": math.nan, "+inf": math.inf, "-inf": -math.inf}
_fromiso = datetime.fromisoformat
_tzinfo_of = attrgetter("tzinfo")
_END = object()


def _convert_timestamp(token: str) -> date | datetime:
    """Any Ion timestamp text, strictly; ValueError if it is not one."""
    m = _TIMESTAMP_RE.fullmatch(token)
    if m is None:
        raise ValueError(f"not an Ion timestamp: {token!r}")
    year, month, day, hour, minute, second, fraction, offset = m.groups()
    if hour is None:
        return date(int(year), int(month or 1), int(day or 1))
    if offset == "Z":
        tzinfo: timezone | None = _UTC
    elif offset == "-00:00":
        tzinfo = None
    else:
        minutes = int(offset[1:3]) * 60 + int(offset[4:6])
        tzinfo = timezone(timedelta(minutes=-minutes if offset[0] == "-" else minutes))
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
                    micro, tzinfo=tzinfo)


def _convert_timestamps(tokens: list[str]) -> list[Any]:
    """Values of the TAB tokens, in bulk through `datetime.fromisoformat` when they all have a
    time of day; `-00:00` (unknown offset) is stripped first so those come back naive."""
    count = len(tokens)
    joined = "\x00".join(tokens)
    if joined.count("T") == count:
        naive = joined.count("-00:00")
        texts = joined.replace("-00:00", "").split("\x00") if naive else tokens
        values = list(map(_fromiso, texts))
        # every result without a tzinfo must be one of the -00:00 ones (no offset is not Ion)
        if len(values) == count and list(map(_tzinfo_of, values)).count(None) == naive:
            return values
    return [_convert_timestamp(token) for token in tokens]


def _convert_token(token: str) -> Any:
    """Value of one FF token in the forms our writer uses; ValueError for anything else."""
    first = token[:1]
    if first == "{":
        if token.startswith("{{") and token.endswith("}}"):
            return base64.b64decode(token[2:-2], validate=True)
    elif first in ("t", "d"):
        m = _ANNOTATED_RE.fullmatch(token)
        if m is not None:
            kind, text = m.groups()
            return time.fromisoformat(text) if kind == "time" else _parse_duration(text)
    elif token in _TOKEN_FLOATS:
        return _TOKEN_FLOATS[token]
    elif _DATE_RE.fullmatch(token):
        return date.fromisoformat(token)
    elif _DECIMAL_RE.fullmatch(token):
        return Decimal(token.replace("d", "E").replace("D", "E"))
    elif _HEXINT_RE.fullmatch(token):
        return int(token, 16)
    else:
        return _convert_timestamp(token)
    raise ValueError(f"not a fast-path token: {token!r}")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is a symbol in Ion, not a number")


def _parse_float(text: str) -> Any:
    # Ion: an exponent makes a float, a bare fraction a decimal.
    if "e" in text or "E" in text:
        return float(text)
    return Decimal(text)


# A number with a fraction but no exponent: an Ion decimal (`1.50`). Searched for in the whole
# text, strings included: when there is none, every JSON number with a fraction or an exponent
# is an Ion float and C's `float` can parse them (a "1.5" inside a string just costs the hook).
_BARE_FRACTION = re.compile(r"\.[0-9]+(?![0-9eE])")


def _parse_constant_with(stamps: Callable[[], Any], others: Callable[[], Any]) -> Callable[[str], Any]:
    def parse_constant(name: str) -> Any:
        if name == "Infinity":
            return stamps()
        if name == "-Infinity":
            return others()
        raise ValueError(f"{name} is a symbol in Ion, not a number")

    return parse_constant


def _exhausted() -> Any:
    raise ValueError("more placeholders than tokens")


def _parse_chunk(chunk: bytes) -> list[Any] | None:
    """Values of the complete lines in `chunk` (it ends with a newline), or None to fall back."""
    try:
        text = chunk.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\\ud" in text or "\\uD" in text:
        return None  # maybe a surrogate escape: JSON accepts them, Ion does not
    try:
        pending: list[Iterator[Any]] = []
        take_other = take_stamp = _exhausted
        n_other = n_stamps = 0
        if "\t\t" in text:
            parts = text.split("\t\t")
            if not len(parts) % 2:
                return None
            tokens = parts[1::2]
            n_other = len(tokens)
            others = iter([_convert_token(token) for token in tokens])
            pending.append(others)
            take_other = others.__next__
            text = "-Infinity".join(parts[0::2])
        if "\t" in text:
            parts = text.split("\t")
            if not len(parts) % 2:
                return None
            tokens = parts[1::2]
            n_stamps = len(tokens)
            stamps = iter(_convert_timestamps(tokens))
            pending.append(stamps)
            take_stamp = stamps.__next__
            text = "Infinity".join(parts[0::2])
        if pending:
            # Our placeholders must be the only such constants (none in the input, and no
            # timestamp placeholder turned into "-Infinity" by a minus sign before it).
            if text.count("Infinity") != n_stamps + n_other or text.count("-Infinity") != n_other:
                return None
            parse_constant = _parse_constant_with(take_stamp, take_other)
        else:
            parse_constant = _reject_constant
        parse_float = float if _BARE_FRACTION.search(text) is None else _parse_float
        decoder = json.JSONDecoder(parse_float=parse_float, parse_constant=parse_constant)
        result: list[Any] = decoder.decode("[" + text[:-1].replace("\n", ",") + "]")
        for values in pending:
            if next(values, _END) is not _END:
                return None  # a placeholder ended up inside a string: not our format
        return result
    except Exception:  # any surprise: amazon.ion decides
        return None


def _read_fast(fp: IO[bytes]) -> Iterator[Any]:
    """Values of a file with our header, a chunk of complete lines at a time."""
    line = 2  # the header is line 1
    buffer = bytearray()
    while True:
        block = fp.read(_READ_BLOCK)
        if block:
            start = len(buffer)
            buffer += block
            cut = buffer.rfind(b"\n", start) + 1
            if cut == 0:
                continue
            chunk = bytes(buffer[:cut])
            del buffer[:cut]
        elif buffer:  # a last line without a newline: not from our writer, but fine
            chunk = bytes(buffer) + b"\n"
            buffer.clear()
        else:
            return
        values = _parse_chunk(chunk)
        if values is not None:
            yield from values
        else:
            taken = yield from _read_lines(chunk, line)
            if taken < len(chunk):
                # Not one value per line after all: amazon.ion reads the rest of the stream.
                yield from _read_ion(_Concat(chunk[taken:] + bytes(buffer), fp),
                                     line=line + chunk.count(b"\n", 0, taken))
                return
        line += chunk.count(b"\n")


def _read_lines(chunk: bytes, line: int) -> Generator[Any, None, int]:
    """A chunk the bulk path declined (a user string containing ``Infinity``, a line we did not
    write...), one line at a time: the fast path, else amazon.ion on that line alone. Returns how
    many bytes were consumed; less than the chunk when a line is not a complete value on its own
    (or could depend on other lines: long strings concatenate, symbol tables carry over)."""
    offset = 0
    for text in chunk[:-1].split(b"\n"):
        text += b"\n"
        values = _parse_chunk(text)
        if values is None:
            if b"'''" in text or b"$ion" in text:
                return offset
            try:
                values = list(_read_ion(io.BytesIO(text), line=line))
            except IonDecodeError:
                return offset
        yield from values
        offset += len(text)
        line += 1
    return offset


# ---------------------------------------------------------------------------------------------
# Reading: amazon.ion (files we did not write, and whatever the fast path declines)
# ---------------------------------------------------------------------------------------------


class _Concat(io.RawIOBase):
    """Bytes already read, then the rest of a stream, as one readable stream."""

    def __init__(self, head: bytes, rest: IO[bytes] | None) -> None:
        self._head = head
        self._pos = 0
        self._rest = rest

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self._pos < len(self._head):
            end = len(self._head) if size is None or size < 0 else self._pos + size
            out = self._head[self._pos : end]
            self._pos += len(out)
            return out
        if self._rest is None:
            return b""
        return self._rest.read(-1 if size is None else size)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _ion_module() -> Any:
    from amazon.ion import simpleion  # imported lazily: the fast path does not need it

    return simpleion


def _timestamp(value: datetime) -> date | datetime:
    precision = getattr(value, "precision", None)
    if precision is not None and int(precision) <= 2:  # YEAR, MONTH, DAY
        return date(value.year, value.month, value.day)
    offset = value.utcoffset()
    return datetime(
        value.year, value.month, value.day, value.hour, value.minute, value.second,
        value.microsecond, tzinfo=None if offset is None else timezone(offset),
    )


def _plain(value: Any) -> Any:
    """amazon.ion's value (bare or IonPy*) as a plain Python value, per the module's mapping."""
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or kind is Decimal:
        return value
    if kind is dict:
        return {k: _plain(v) for k, v in value.items()}
    if kind is list:
        return [_plain(v) for v in value]
    ion_type = getattr(value, "ion_type", None)
    annotations = getattr(value, "ion_annotations", ())
    name = kind.__name__
    if name == "IonPyNull" or value is None:
        return None
    if ion_type is not None:
        type_name = ion_type.name
        if type_name == "BOOL":
            result: Any = bool(value)
        elif type_name == "INT":
            result = int(value)
        elif type_name == "FLOAT":
            result = float(value)
        elif type_name == "DECIMAL":
            result = Decimal(value)
        elif type_name == "TIMESTAMP":
            result = _timestamp(value)
        elif type_name == "SYMBOL":
            result = _symbol_text(value)
        elif type_name == "STRING":
            result = str.__str__(value)
        elif type_name in ("BLOB", "CLOB"):
            result = bytes(value)
        elif type_name in ("LIST", "SEXP"):
            result = [_plain(v) for v in value]
        elif type_name == "STRUCT":
            result = {str(k): _plain(value[k]) for k in value}
        else:  # pragma: no cover - every Ion type is handled above
            raise IonDecodeError(f"unexpected Ion type {type_name}")
    elif isinstance(value, datetime):
        result = _timestamp(value)
    elif isinstance(value, bytes):
        result = bytes(value)
    elif name in ("SymbolToken", "IonPySymbol"):
        result = _symbol_text(value)
    elif isinstance(value, dict):
        result = {str(k): _plain(v) for k, v in value.items()}
    elif isinstance(value, list):
        result = [_plain(v) for v in value]
    else:
        raise IonDecodeError(f"unexpected value from amazon.ion: {name}")
    if annotations and len(annotations) == 1 and type(result) is str:
        return _annotated(_symbol_text(annotations[0]), result)
    return result


def _symbol_text(symbol: Any) -> str:
    text = symbol if isinstance(symbol, str) else getattr(symbol, "text", None)
    if text is None:
        raise IonDecodeError(f"symbol with unknown text (sid {getattr(symbol, 'sid', '?')})")
    return str.__str__(text)


def _annotated(annotation: str, text: str) -> Any:
    """`time::"…"` and `duration::"…"` become time/timedelta; if unparsable, the string stays."""
    try:
        if annotation == "time":
            return time.fromisoformat(text)
        if annotation == "duration":
            return _parse_duration(text)
    except ValueError:
        pass
    return text


_VALUE_MODEL: Any = None
# ion-c refuses strings longer than its text buffer (4 KiB by default: IERR_BUFFER_TOO_SMALL).
# The buffer is reserved lazily, so a large limit costs no memory until a long string comes.
_ION_TEXT_LIMIT = 1 << 28


def _value_model() -> Any:
    global _VALUE_MODEL
    if _VALUE_MODEL is None:
        model = _ion_module().IonPyValueModel
        _VALUE_MODEL = model.MAY_BE_BARE | model.SYMBOL_AS_TEXT | model.STRUCT_AS_STD_DICT
    return _VALUE_MODEL


def _read_ion(fp: IO[bytes], *, line: int | None = None) -> Iterator[Any]:
    """Stream values with amazon.ion. `line` is given when one value is one line (our files)."""
    simpleion = _ion_module()
    index = 0
    try:
        iterator = iter(simpleion.load(fp, single_value=False, parse_eagerly=False,
                                       value_model=_value_model(),
                                       text_buffer_size_limit=_ION_TEXT_LIMIT))
    except Exception as exc:
        raise IonDecodeError(f"not valid Ion: {_describe(exc)}", line=line) from exc
    while True:
        try:
            value = next(iterator)
        except StopIteration:
            return
        except Exception as exc:
            if line is not None:
                raise IonDecodeError(f"not valid Ion: {_describe(exc)}", line=line + index) from exc
            raise IonDecodeError(
                f"not valid Ion after {index} value(s): {_describe(exc)}"
            ) from exc
        try:
            yield _plain(value)
        except IonDecodeError as exc:
            raise IonDecodeError(str(exc), line=None if line is None else line + index) from exc
        index += 1


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ---------------------------------------------------------------------------------------------
# Public reading API
# ---------------------------------------------------------------------------------------------


def _read_exactly(fp: IO[bytes], size: int) -> bytes:
    data = fp.read(size)
    while data and len(data) < size:
        more = fp.read(size - len(data))
        if not more:
            break
        data += more
    return data


def read_rows(fp: BinaryIO | IO[bytes]) -> Iterator[Any]:
    """Stream the values of a row file (or any Ion stream), each as a plain Python value."""
    head = _read_exactly(fp, len(_HEADER_B))
    if head == _HEADER_B:
        return _read_fast(fp)
    return _read_ion(_Concat(head, fp))


def read_rows_file(path: str | os.PathLike[str]) -> Iterator[Any]:
    """Stream the values of a row file; the file is closed when the iterator ends."""
    with open(path, "rb") as fp:
        yield from read_rows(fp)


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """The single Ion value in `data` (text or binary) as a plain Python value."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    data = bytes(data)
    if data.startswith(_HEADER_B):
        body = data[len(_HEADER_B) :]
        if body.endswith(b"\n") and body.count(b"\n") == 1:
            values = _parse_chunk(body)
            if values is not None and len(values) == 1:
                return values[0]
        values = list(_read_ion(io.BytesIO(body), line=2))
    else:
        values = list(_read_ion(io.BytesIO(data)))
    if len(values) != 1:
        raise IonDecodeError(f"expected exactly one Ion value, found {len(values)}")
    return values[0]

