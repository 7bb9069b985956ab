"""How values become text: the string form Kestra prints, and JSON that keeps types readable.

Kestra prints `null` as nothing, booleans as `true`/`false`, maps and lists as JSON and dates
as ISO-8601; Python's `str()` would print `None`, `True` and `{'a': 1}`. Every place that turns
a value into text (output, `~`, `join`, `string`, `toJson`) goes through here so they agree.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import math
import uuid
from collections.abc import Mapping, Set
from decimal import Decimal
from enum import Enum
from typing import Any

from jinja2.runtime import Undefined

__all__ = ["iso_format", "to_display", "to_json", "to_plain"]

_encode_str = json.encoder.encode_basestring  # type: ignore[attr-defined]


def iso_format(value: dt.datetime | dt.date | dt.time) -> str:
    """ISO-8601, with `Z` for UTC like Java's `Instant.toString()`."""
    text = value.isoformat()
    if text.endswith("+00:00"):
        text = text[:-6] + "Z"
    return text


def _decimal_text(value: Decimal) -> str:
    """A decimal as plain digits (no exponent), like `BigDecimal.toPlainString()`."""
    if not value.is_finite():
        return str(value)
    return format(value, "f")


def to_display(value: Any) -> str:
    """The text Kestra renders for a value inside `{{ }}`."""
    if type(value) is str:
        return value
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return float.__repr__(value)
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return iso_format(value)
    if isinstance(value, (Mapping, list, tuple, Set)):
        return to_json(value)
    if isinstance(value, Enum):
        return to_display(value.value)
    return str(value)


def to_plain(value: Any) -> Any:
    """A JSON-compatible copy: dates become ISO strings, decimals floats/ints, sets lists."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, Mapping):
        return {str(k) if not isinstance(k, str) else k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, Set)):
        return [to_plain(v) for v in value]
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.to_integral_value():
            return int(value)
        return float(value)
    return _scalar_to_json_value(value)


def _scalar_to_json_value(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return iso_format(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Enum):
        return to_plain(value.value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    dump = getattr(type(value), "model_dump", None)
    if callable(dump):
        return to_plain(value.model_dump(mode="python"))  # type: ignore[attr-defined]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_plain(dataclasses.asdict(value))
    return str(value)


def to_json(value: Any) -> str:
    """Compact JSON like Jackson writes it; decimals stay exact numbers, dates ISO strings."""
    out: list[str] = []
    _write_json(value, out)
    return "".join(out)


def _write_json(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(_encode_str(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(float.__repr__(value) if math.isfinite(value) else "null")
    elif isinstance(value, Decimal):
        out.append(str(value) if value.is_finite() else "null")
    elif isinstance(value, Undefined):
        value._fail_with_undefined_error()
    elif isinstance(value, Mapping):
        out.append("{")
        first = True
        for key, item in value.items():
            if not first:
                out.append(",")
            first = False
            out.append(_encode_str(key if isinstance(key, str) else to_display(key)))
            out.append(":")
            _write_json(item, out)
        out.append("}")
    elif isinstance(value, (list, tuple, Set)):
        out.append("[")
        first = True
        for item in value:
            if not first:
                out.append(",")
            first = False
            _write_json(item, out)
        out.append("]")
    else:
        _write_json(_scalar_to_json_value(value), out)
