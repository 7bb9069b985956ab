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

__all__ = ["ConditionValue", "to_text", "to_value_string"]

ConditionValue = Annotated[
    Any, WithJsonSchema({"type": ["boolean", "string", "number", "null"]})
]
"""A condition as written in YAML: a boolean, a string, a number (usually an expression)."""



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
