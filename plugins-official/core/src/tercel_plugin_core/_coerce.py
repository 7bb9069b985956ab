"""Kestra's value conversions shared by the core types: truthiness and loop-value text.

Kept in one place so `If`, `Fail` and `ForEach` agree with each other and with Kestra.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

from pydantic import WithJsonSchema

__all__ = ["ConditionValue", "is_truthy", "to_text", "to_value_string"]

ConditionValue = Annotated[
    Any, WithJsonSchema({"type": ["boolean", "string", "number", "null"]})
]
"""A condition as written in YAML: a boolean, a string, a number (usually an expression)."""

_FALSE_TEXT = frozenset({"false", "0", "-0", ""})


def is_truthy(value: Any) -> bool:
    """Kestra's boolean coercion of a rendered condition.

    Kestra renders a condition to text and treats `false`, `0`, `-0`, the empty string (after
    trimming) and null as false, everything else as true. tercel renders to typed values, so a
    bool is itself, a number is false when zero, and text follows Kestra's rule. `False` with a
    capital letter is false too: it is what a Python value renders to, never a meaningful "true".
    """
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        return value != 0
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE_TEXT
    return True


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def to_value_string(value: Any) -> str:
    """The text of a loop value, as Kestra stores `taskrun.value`: text as-is, else compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def to_text(value: Any) -> str:
    """Text of a rendered value for a log line or a message (None is the empty string)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return to_value_string(value)
    return str(value)
