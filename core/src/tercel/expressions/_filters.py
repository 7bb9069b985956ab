"""Kestra's filters and tests, with Pebble's names, argument order and null handling.

Pebble filters return null for a null input instead of failing, treat `"12" | number` as a parse,
`capitalize` leaves the rest of the word alone, `replace` takes a map, `split` a Java regex, and
`default` also replaces empty strings and collections. Jinja's own filters are kept where Kestra
has no opinion (`map`, `select`, `sum`, ...), minus those that could be used to allocate
unbounded memory (`center`, `format`, `batch`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Set
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from jinja2 import Undefined

from ._convert import iso_format, to_display, to_json, to_plain
from ._environment import MAX_SEQUENCE_LENGTH, MAX_STRING_LENGTH
from ._errors import ExpressionError, SandboxViolation
from ._javadate import (
    add_to_datetime,
    epoch_micros,
    format_datetime,
    resolve_zone,
    to_datetime,
)

__all__ = ["BUILTIN_FILTERS", "BUILTIN_TESTS", "REMOVED_JINJA_FILTERS"]

#: Jinja filters dropped because they can amplify a small template into huge memory use.
REMOVED_JINJA_FILTERS = ("center", "format", "batch", "urlize", "xmlattr", "pprint")

# ---------------------------------------------------------------------------------------------
# dates
# ---------------------------------------------------------------------------------------------


def _zone(name: str | None) -> dt.tzinfo | None:
    return resolve_zone(name) if name is not None else None


def date(
    value: Any,
    format: str | None = None,
    timeZone: str | None = None,
    existingFormat: str | None = None,
    locale: str | None = None,
) -> str | None:
    """Format a date with a Java pattern or a named format, in `timeZone` if given."""
    if value is None:
        return None
    zone = _zone(timeZone)
    moment = to_datetime(value, zone, existingFormat)
    if zone is not None:
        moment = moment.astimezone(zone)
    return format_datetime(moment, format)


def date_add(
    value: Any,
    amount: int,
    unit: str,
    format: str | None = None,
    timeZone: str | None = None,
    existingFormat: str | None = None,
    locale: str | None = None,
) -> dt.datetime | str | None:
    """Add `amount` `unit`s (a ChronoUnit name); a datetime, or a string if `format` is given."""
    if value is None:
        return None
    zone = _zone(timeZone)
    moment = to_datetime(value, zone, existingFormat)
    if zone is not None:
        moment = moment.astimezone(zone)
    moment = add_to_datetime(moment, amount, unit)
    return format_datetime(moment, format) if format is not None else moment


def _timestamp(divisor: int, multiplier: int = 1) -> Callable[..., int | None]:
    def convert(
        value: Any,
        timeZone: str | None = None,
        existingFormat: str | None = None,
    ) -> int | None:
        if value is None:
            return None
        micros = epoch_micros(to_datetime(value, _zone(timeZone), existingFormat))
        return micros * multiplier // divisor

    return convert


# ---------------------------------------------------------------------------------------------
# serialization
# ---------------------------------------------------------------------------------------------


def to_ion(value: Any) -> str:
    """Ion text of a value (decimals and timestamps keep their types)."""
    from amazon.ion import simpleion

    try:
        return simpleion.dumps(_ion_ready(value), binary=False, omit_version_marker=True)
    except Exception as exc:
        raise ExpressionError(f"cannot write {type(value).__name__} as Ion: {exc}") from None


def _ion_ready(value: Any) -> Any:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if value is None or isinstance(value, (str, bool, int, float, Decimal, dt.datetime, bytes)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _ion_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, Set)):
        return [_ion_ready(v) for v in value]
    if isinstance(value, dt.date):
        from amazon.ion.core import Timestamp, TimestampPrecision

        return Timestamp(value.year, value.month, value.day, precision=TimestampPrecision.DAY)
    return to_plain(value)


@lru_cache(maxsize=256)
def _jq_program(expression: str) -> Any:
    import jq

    try:
        return jq.compile(expression)
    except ValueError as exc:
        raise ExpressionError(f"invalid jq expression '{expression}': {exc}") from None


def jq_filter(value: Any, expression: str) -> list[Any] | None:
    """Apply a jq program; like Kestra, always a *list* of results (use `| first`)."""
    if value is None:
        return None
    if not isinstance(expression, str):
        raise ExpressionError("jq() expects the jq expression as a string")
    text = value if isinstance(value, str) else to_json(value)
    program = _jq_program(expression)
    results: list[Any] = []
    try:
        for item in program.input_text(text):
            results.append(item)
            if len(results) > MAX_SEQUENCE_LENGTH:
                raise SandboxViolation(f"jq produced more than {MAX_SEQUENCE_LENGTH} results")
    except ValueError as exc:
        raise ExpressionError(f"jq expression '{expression}' failed: {exc}") from None
    return results


def _yaml_ready(value: Any) -> Any:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if value is None or isinstance(value, (str, bool, int, float, Decimal)):
        return value
    if isinstance(value, Mapping):
        return {
            to_display(k) if not isinstance(k, str) else k: _yaml_ready(v) for k, v in value.items()
        }
    if isinstance(value, (list, tuple, Set)):
        return [_yaml_ready(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return iso_format(value)
    return to_plain(value)


def to_yaml(value: Any) -> str:
    """YAML text of a value, block style, the way Kestra's `yaml` filter writes it."""
    if value is None:
        return "null"
    from ruamel.yaml import YAML

    writer = YAML(typ="safe", pure=True)
    writer.default_flow_style = False
    writer.allow_unicode = True
    writer.width = 1 << 16
    writer.indent(mapping=2, sequence=4, offset=2)  # list items indented, like Kestra's output
    writer.representer.add_representer(
        Decimal,
        lambda representer, number: representer.represent_scalar(
            "tag:yaml.org,2002:float", format(number, "f")
        ),
    )
    out = io.StringIO()
    writer.dump(_yaml_ready(value), out)
    text = out.getvalue()
    return text[: -len("...\n")] if text.endswith("\n...\n") else text


# ---------------------------------------------------------------------------------------------
# collections
# ---------------------------------------------------------------------------------------------


def first(value: Any) -> Any:
    """The first item (or character); null for an empty or null value."""
    if value is None:
        return None
    for item in value:
        return item
    return None


def last(value: Any) -> Any:
    """The last item (or character); null for an empty or null value."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        value = list(value)
    if not isinstance(value, (str, list, tuple)):
        value = list(value)
    return value[-1] if value else None


def keys(value: Any) -> list[Any] | None:
    """A map's keys, or a list's indices."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return list(value.keys())
    return list(range(len(value)))


def values(value: Any) -> list[Any] | None:
    """A map's values (a list stays a list)."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return list(value.values())
    return list(value)


def length(value: Any) -> int:
    """Size of a string or collection; 0 for null."""
    if value is None:
        return 0
    try:
        return len(value)
    except TypeError:
        return len(list(value))


def chunk(value: Any, size: int) -> list[list[Any]] | None:
    """Split a list into lists of `size` items (the last one may be shorter)."""
    if value is None:
        return None
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise ExpressionError(f"chunk() expects a positive size, got {size!r}")
    items = list(value)
    return [items[i : i + size] for i in range(0, len(items), size)]


def distinct(value: Any) -> list[Any] | None:
    """The items without duplicates, first occurrence kept."""
    if value is None:
        return None
    seen: set[Any] = set()
    unhashable: list[Any] = []
    out: list[Any] = []
    for item in value:
        try:
            if item in seen:
                continue
            seen.add(item)
        except TypeError:
            if item in unhashable:
                continue
            unhashable.append(item)
        out.append(item)
    return out


def reverse(value: Any) -> Any:
    """A reversed string or list."""
    if value is None:
        return None
    if isinstance(value, str):
        return value[::-1]
    return list(reversed(list(value)))


def rsort(value: Any) -> list[Any] | None:
    """The items sorted in descending order."""
    if value is None:
        return None
    try:
        return sorted(value, reverse=True)
    except TypeError as exc:
        raise ExpressionError(f"rsort(): {exc}") from None


def merge(value: Any, other: Any) -> Any:
    """Two lists concatenated, or two maps merged (the right one wins)."""
    if value is None:
        return other
    if other is None:
        return value
    if isinstance(value, Mapping) and isinstance(other, Mapping):
        return {**value, **other}
    if isinstance(value, Mapping) or isinstance(other, Mapping):
        raise ExpressionError("merge() needs two lists or two maps")
    return [*value, *other]


def join(value: Any, separator: str = "") -> str | None:
    """The items as text, separated by `separator`."""
    if value is None:
        return None
    return to_display(separator).join(to_display(item) for item in value)


def slice_filter(value: Any, fromIndex: int = 0, toIndex: int | None = None) -> Any:
    """Pebble's `slice(fromIndex, toIndex)`: items (or characters) `fromIndex <= i < toIndex`."""
    if value is None:
        return None
    if not isinstance(value, (str, list, tuple)):
        value = list(value)
    return value[fromIndex:toIndex]


def split(value: Any, delimiter: str, limit: int | None = None) -> list[str] | None:
    """Java's `String.split(regex, limit)`: positive limit caps the parts, 0 drops trailing
    empty strings, negative keeps them."""
    if value is None:
        return None
    text = to_display(value)
    limit = 0 if limit is None else int(limit)
    regex = _regex(delimiter)
    if not text:
        return [""]
    parts: list[str] = []
    start = 0
    for match in regex.finditer(text):
        if limit > 0 and len(parts) == limit - 1:
            break
        if match.end() == 0:  # no leading empty string for a zero-width match at the start
            continue
        parts.append(text[start : match.start()])
        start = match.end()
    parts.append(text[start:])
    if limit == 0:
        while parts and parts[-1] == "":
            parts.pop()
    return parts


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ExpressionError(f"invalid regular expression '{pattern}': {exc}") from None


# ---------------------------------------------------------------------------------------------
# strings
# ---------------------------------------------------------------------------------------------


def _text_filter(function: Callable[[str], Any]) -> Callable[[Any], Any]:
    """A string filter that passes null through and reads other values as their text."""

    def apply(value: Any) -> Any:
        if value is None:
            return None
        return function(value if isinstance(value, str) else to_display(value))

    apply.__name__ = function.__name__
    apply.__doc__ = function.__doc__
    return apply


def _capitalize(text: str) -> str:
    """First character upper-cased, the rest untouched (Pebble, unlike Jinja)."""
    return text[:1].upper() + text[1:]


def _title(text: str) -> str:
    """First character of every word upper-cased, the rest untouched."""
    return re.sub(r"(^|\s)(\S)", lambda m: m.group(1) + m.group(2).upper(), text)


def _slugify(text: str) -> str:
    """Lower-case ASCII words joined by dashes: `Hello World!` -> `hello-world`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _substring(before: bool, last_occurrence: bool) -> Callable[[Any, str], str | None]:
    def apply(value: Any, separator: str) -> str | None:
        if value is None:
            return None
        text = to_display(value)
        if separator is None or separator == "":
            return "" if before != last_occurrence else text
        index = text.rfind(separator) if last_occurrence else text.find(separator)
        if index < 0:
            return text if before else ""
        return text[:index] if before else text[index + len(separator) :]

    return apply


def abbreviate(value: Any, length: int) -> str | None:
    """Shorten to `length` characters, ending with `...` when cut."""
    if value is None:
        return None
    text = to_display(value)
    if len(text) <= length:
        return text
    if length <= 3:
        return text[:length]
    return text[: length - 3] + "..."


def _check_length(size: int) -> None:
    if size > MAX_STRING_LENGTH:
        raise SandboxViolation(f"the result would exceed {MAX_STRING_LENGTH} characters")


def replace(
    value: Any, old: Any, new: Any = None, count: int | None = None, regexp: bool = False
) -> Any:
    """Pebble's `replace({'a': 'b'}, regexp=false)` (lists and maps too) or Jinja's `replace(old, new)`."""
    if value is None:
        return None
    if isinstance(old, Mapping):
        pairs = [(to_display(k), to_display(v)) for k, v in old.items()]
        return _replace_deep(value, pairs, bool(regexp or new))
    if new is None:
        raise ExpressionError("replace() expects a map of replacements or (old, new)")
    text, old_text, new_text = to_display(value), to_display(old), to_display(new)
    occurrences = text.count(old_text) if old_text else len(text) + 1
    if count is not None:
        occurrences = min(occurrences, count)
    _check_length(len(text) + occurrences * (len(new_text) - len(old_text)))
    return text.replace(old_text, new_text, -1 if count is None else count)


def _replace_deep(value: Any, pairs: list[tuple[str, str]], regexp: bool) -> Any:
    if isinstance(value, Mapping):
        return {k: _replace_deep(v, pairs, regexp) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_replace_deep(v, pairs, regexp) for v in value]
    text = to_display(value)
    for old, new in pairs:
        if regexp:
            text = _regex(old).sub(new.replace("$", "\\"), text)
        else:
            occurrences = text.count(old) if old else len(text) + 1
            _check_length(len(text) + occurrences * (len(new) - len(old)))
            text = text.replace(old, new)
        _check_length(len(text))
    return text


def starts_with(value: Any, prefix: Any) -> bool:
    """Whether the text starts with `prefix`."""
    return value is not None and to_display(value).startswith(to_display(prefix))


def ends_with(value: Any, suffix: Any) -> bool:
    """Whether the text ends with `suffix`."""
    return value is not None and to_display(value).endswith(to_display(suffix))


def _as_bytes(value: Any) -> bytes:
    return bytes(value) if isinstance(value, (bytes, bytearray)) else to_display(value).encode()


def base64encode(value: Any) -> str | None:
    """Base64 of the UTF-8 text (or bytes)."""
    return None if value is None else base64.b64encode(_as_bytes(value)).decode("ascii")


def base64decode(value: Any) -> str | None:
    """Decode base64 into UTF-8 text."""
    if value is None:
        return None
    try:
        return base64.b64decode(_as_bytes(value), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ExpressionError(f"invalid base64 value: {exc}") from None


def _digest(name: str) -> Callable[[Any], str | None]:
    def apply(value: Any) -> str | None:
        return None if value is None else hashlib.new(name, _as_bytes(value)).hexdigest()

    apply.__name__ = name
    return apply


def _url_quote(text: str) -> str:
    return quote_plus(text, safe="*").replace("~", "%7E")


def urlencode(value: Any) -> str | None:
    """`application/x-www-form-urlencoded` text like Java's `URLEncoder`; a map becomes `a=1&b=2`."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return "&".join(
            f"{_url_quote(to_display(k))}={_url_quote(to_display(v))}" for k, v in value.items()
        )
    return _url_quote(to_display(value))


def urldecode(value: Any) -> str | None:
    """Decode `application/x-www-form-urlencoded` text."""
    return None if value is None else unquote_plus(to_display(value))


_ESCAPES = {"single": ("'", "\\'"), "double": ('"', '\\"'), "shell": ("'", "'\\''")}


def escape_char(value: Any, type: str) -> Any:
    """Escape quotes for `single`, `double` or `shell` (single-quoted) strings, deeply."""
    if value is None:
        return None
    try:
        old, new = _ESCAPES[str(type).lower()]
    except KeyError:
        raise ExpressionError("escapeChar() type must be 'single', 'double' or 'shell'") from None
    return _escape_deep(value, old, new)


def _escape_deep(value: Any, old: str, new: str) -> Any:
    if isinstance(value, Mapping):
        return {k: _escape_deep(v, old, new) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_escape_deep(v, old, new) for v in value]
    return to_display(value).replace(old, new)


def _line_separator(text: str) -> str:
    for separator in ("\r\n", "\n\r", "\n", "\r"):
        if separator in text:
            return separator
    return "\n"


def _indent(value: Any, amount: int, prefix: str, leading_newline: bool) -> Any:
    if value is None:
        return None
    text = to_display(value)
    if not text:
        return text
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ExpressionError(f"indent amount must be a non-negative integer, got {amount!r}")
    newline = _line_separator(text)
    pad = to_display(prefix) * amount
    if leading_newline:
        text = newline + text
    _check_length(len(text) + text.count(newline) * len(pad))
    return text.replace(newline, newline + pad)


def indent(value: Any, amount: int, prefix: str = " ") -> Any:
    """Indent every line but the first by `amount` x `prefix` (Kestra's `indent`)."""
    return _indent(value, amount, prefix, leading_newline=False)


def nindent(value: Any, amount: int, prefix: str = " ") -> Any:
    """A newline, then every line indented by `amount` x `prefix` (Kestra's `nindent`)."""
    return _indent(value, amount, prefix, leading_newline=True)


# ---------------------------------------------------------------------------------------------
# numbers and types
# ---------------------------------------------------------------------------------------------


def number(value: Any, type: str | None = None) -> Any:
    """Parse text as a number: INT, LONG, BIGINTEGER, FLOAT, DOUBLE, BIGDECIMAL, or inferred."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ExpressionError("number() cannot convert a boolean")
    text = value.strip() if isinstance(value, str) else to_display(value)
    kind = (type or "").upper()
    try:
        if kind in ("INT", "LONG", "BIGINTEGER", "INTEGER"):
            return int(text, 0) if text.lower().startswith(("0x", "-0x")) else int(Decimal(text))
        if kind in ("FLOAT", "DOUBLE"):
            return float(text)
        if kind == "BIGDECIMAL":
            return Decimal(text)
        if kind:
            raise ExpressionError(
                f"number() type must be INT, LONG, FLOAT, DOUBLE, BIGDECIMAL or BIGINTEGER, got '{type}'"
            )
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        if re.fullmatch(r"[+-]?0[xX][0-9a-fA-F]+", text):
            return int(text, 16)
        return float(text)
    except (ValueError, InvalidOperation):
        raise ExpressionError(f"'{text}' is not a number") from None


_NUMBER_PATTERN = re.compile(r"^(?P<prefix>(?:'[^']*'|[^#0,.'])*)(?P<body>[#0,.]+)(?P<suffix>.*)$")


def number_format(value: Any, pattern: str) -> str | None:
    """Java `DecimalFormat` basics: `#,##0.00`, `#.##`, `0000`, `0.0%`, quoted literals; HALF_EVEN."""
    if value is None:
        return None
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise ExpressionError(f"numberFormat(): '{value}' is not a number") from None
    match = _NUMBER_PATTERN.match(str(pattern).split(";")[0])
    if match is None:
        raise ExpressionError(f"unsupported number format '{pattern}'")
    prefix, suffix = (
        re.sub(r"'([^']*)'", r"\1", match.group(name)) for name in ("prefix", "suffix")
    )
    if "%" in prefix + suffix:
        amount *= 100
    elif "\u2030" in prefix + suffix:
        amount *= 1000
    integer_part, _, fraction_part = match.group("body").partition(".")
    grouping = len(integer_part) - integer_part.rfind(",") - 1 if "," in integer_part else 0
    min_integer = integer_part.count("0")
    min_fraction, max_fraction = fraction_part.count("0"), len(fraction_part)
    rounded = amount.quantize(Decimal(1).scaleb(-max_fraction), rounding=ROUND_HALF_EVEN)
    digits = format(abs(rounded), "f")
    whole, _, fraction = digits.partition(".")
    fraction = fraction[:max_fraction]
    while len(fraction) > min_fraction and fraction.endswith("0"):
        fraction = fraction[:-1]
    whole = whole.lstrip("0").rjust(min_integer, "0")
    if grouping:
        groups = []
        while len(whole) > grouping:
            groups.insert(0, whole[-grouping:])
            whole = whole[:-grouping]
        whole = ",".join([whole, *groups]) if whole else ",".join(groups)
    text = whole + ("." + fraction if fraction else "")
    if not text:
        text = "0"
    sign = "-" if rounded < 0 else ""
    return f"{sign}{prefix}{text}{suffix}"


def class_name(value: Any) -> str | None:
    """The Java class name Kestra would report (`java.lang.String`, ...); Python's otherwise."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "java.lang.Boolean"
    if isinstance(value, int):
        if -(2**31) <= value < 2**31:
            return "java.lang.Integer"
        return "java.lang.Long" if -(2**63) <= value < 2**63 else "java.math.BigInteger"
    if isinstance(value, dt.datetime):
        return "java.time.ZonedDateTime" if value.tzinfo else "java.time.LocalDateTime"
    for python_type, java_name in _JAVA_NAMES:
        if isinstance(value, python_type):
            return java_name
    return f"{type(value).__module__}.{type(value).__qualname__}"


_JAVA_NAMES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (str, "java.lang.String"),
    (float, "java.lang.Double"),
    (Decimal, "java.math.BigDecimal"),
    (dt.date, "java.time.LocalDate"),
    (dt.time, "java.time.LocalTime"),
    (Mapping, "java.util.LinkedHashMap"),
    ((list, tuple), "java.util.ArrayList"),
)


def _is_empty(value: Any) -> bool:
    if value is None or isinstance(value, Undefined):
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (Mapping, list, tuple, Set)):
        return len(value) == 0
    return False


def default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """`default_value` when the value is undefined, null, blank or an empty collection (Pebble)."""
    if _is_empty(value) or (boolean and not value):
        return default_value
    return value


def to_string(value: Any) -> str:
    """The text Kestra renders for the value."""
    return to_display(value)


# ---------------------------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------------------------


def test_empty(value: Any) -> bool:
    """Null, a blank string or an empty collection."""
    return _is_empty(value)


def test_null(value: Any) -> bool:
    """Exactly null."""
    return value is None


def test_iterable(value: Any) -> bool:
    """A list or a map (text is not iterable in Kestra)."""
    return isinstance(value, (Mapping, list, tuple, Set)) or (
        isinstance(value, Iterable) and not isinstance(value, (str, bytes))
    )


def test_json(value: Any) -> bool:
    """Text that parses as JSON."""
    if not isinstance(value, str):
        return False
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


BUILTIN_FILTERS: dict[str, Callable[..., Any]] = {
    "date": date,
    "dateAdd": date_add,
    "timestamp": _timestamp(1_000_000),
    "timestampMilli": _timestamp(1_000),
    "timestampMicro": _timestamp(1),
    "timestampNano": _timestamp(1, 1_000),
    "toJson": to_json,
    "json": to_json,
    "jsonEncode": to_json,
    "tojson": to_json,
    "toIon": to_ion,
    "jq": jq_filter,
    "yaml": to_yaml,
    "first": first,
    "last": last,
    "keys": keys,
    "values": values,
    "length": length,
    "count": length,
    "chunk": chunk,
    "distinct": distinct,
    "reverse": reverse,
    "rsort": rsort,
    "merge": merge,
    "join": join,
    "slice": slice_filter,
    "split": split,
    "slugify": _text_filter(_slugify),
    "substringBefore": _substring(before=True, last_occurrence=False),
    "substringAfter": _substring(before=False, last_occurrence=False),
    "substringBeforeLast": _substring(before=True, last_occurrence=True),
    "substringAfterLast": _substring(before=False, last_occurrence=True),
    "abbreviate": abbreviate,
    "capitalize": _text_filter(_capitalize),
    "title": _text_filter(_title),
    "upper": _text_filter(str.upper),
    "lower": _text_filter(str.lower),
    "trim": _text_filter(str.strip),
    "replace": replace,
    "startsWith": starts_with,
    "endsWith": ends_with,
    "string": to_string,
    "base64encode": base64encode,
    "base64decode": base64decode,
    "sha1": _digest("sha1"),
    "sha256": _digest("sha256"),
    "sha512": _digest("sha512"),
    "md5": _digest("md5"),
    "urlencode": urlencode,
    "urldecode": urldecode,
    "escapeChar": escape_char,
    "indent": indent,
    "nindent": nindent,
    "number": number,
    "numberFormat": number_format,
    "numberformat": number_format,
    "className": class_name,
    "default": default,
    "d": default,
    "raw": lambda value: value,
}

BUILTIN_TESTS: dict[str, Callable[..., bool]] = {
    "empty": test_empty,
    "null": test_null,
    "iterable": test_iterable,
    "json": test_json,
}
