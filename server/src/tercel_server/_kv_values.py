"""How a KV PUT body becomes a typed value, and a TTL a duration (see `controllers.kv`).

`application/json`: a JSON value, decimals kept exact. `text/plain` (or no content type): JSON if
it parses as JSON, else an ISO date, a date-time with its offset, or a duration, else the text.
Values nesting deeper than `MAX_DEPTH` and numbers beyond any float are refused.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from tercel_sdk import parse_duration

from ._requests import lone_surrogate

__all__ = ["MAX_DEPTH", "BadValue", "parse_ttl", "parse_value"]


class BadValue(ValueError):
    """The body or the TTL cannot be used; the message says why."""


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})", re.IGNORECASE)
_DURATION = re.compile(r"-?P(?=\d|T\d)[\dYMWD.,]*(T[\dHMS.,]+)?", re.IGNORECASE)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


MAX_DEPTH = 64
"""How deeply a value may nest lists and objects (deeper ones are refused, not stored)."""


class _TooDeep(ValueError):
    pass


def _decimal(text: str) -> Decimal:
    value = Decimal(text)
    if value and not -400 <= value.adjusted() <= 400:  # beyond any float: refused, not stored
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _json_value(text: str) -> Any:
    """A JSON document; decimals kept exact (Decimal), NaN/Infinity refused, nesting bounded, and
    its text Unicode (an escaped lone surrogate, `"\\ud800"`, is refused: no store can hold it)."""
    try:
        value = json.loads(text, parse_float=_decimal, parse_constant=_reject_constant)
    except RecursionError:
        raise _TooDeep(f"the value nests lists or objects more than {MAX_DEPTH} levels deep") from None
    _check_depth(value)
    where = lone_surrogate(value)
    if where is not None:
        raise ValueError(f"the text at {where} escapes a lone UTF-16 surrogate (like \\ud800), which is not a Unicode character")
    return value


def _check_depth(value: Any) -> None:
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise _TooDeep(f"the value nests lists or objects more than {MAX_DEPTH} levels deep")
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)


def parse_value(body: bytes, content_type: str) -> Any:
    """The value a PUT body carries (see the module docstring for the rules)."""
    kind = content_type.split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadValue(f"the value must be UTF-8 text: {exc}") from None
    if kind == "application/json":
        if not text.strip():
            raise BadValue('the body is empty: send the value as JSON (an empty text is "")')
        try:
            return _json_value(text)
        except _TooDeep as exc:
            raise BadValue(str(exc)) from None
        except ValueError as exc:
            raise BadValue(f"the body is not valid JSON: {exc}") from None
    if kind not in ("", "text/plain"):
        raise BadValue(f"send the value as application/json or text/plain, not {kind}")
    if not text.strip():
        if kind == "":
            raise BadValue("the body is empty: send the value (text/plain, or application/json)")
        return text
    try:
        return _json_value(text)
    except _TooDeep as exc:
        raise BadValue(str(exc)) from None
    except ValueError:
        pass
    candidate = text.strip()
    if _DATE.fullmatch(candidate):
        try:
            return date.fromisoformat(candidate)
        except ValueError:
            return text
    if _DATETIME.fullmatch(candidate):
        try:
            return datetime.fromisoformat(candidate.replace("z", "Z").replace("Z", "+00:00"))
        except ValueError:
            return text
    if _DURATION.fullmatch(candidate):
        try:
            return parse_duration(candidate)
        except ValueError:
            return text
    return text


def parse_ttl(value: str | None) -> timedelta | None:
    if value is None or not value.strip():
        return None
    try:
        ttl = parse_duration(value.strip())
    except ValueError as exc:
        raise BadValue(f"invalid ttl {value!r}: {exc}") from None
    if ttl <= timedelta(0):
        raise BadValue(f"invalid ttl {value!r}: it must be a positive duration (like PT1H)")
    return ttl
