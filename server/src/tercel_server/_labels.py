"""Execution labels sent to the API: Kestra's list of `{"key", "value"}` (or a plain object),
checked, and merged with the labels only tercel may set (`system.*`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["SYSTEM_PREFIX", "LabelsError", "parse_labels", "replace_labels"]

SYSTEM_PREFIX = "system."


class LabelsError(ValueError):
    """The labels sent are not usable; the message says which and why."""


def parse_labels(body: Any) -> dict[str, str]:
    """`[{"key": "team", "value": "data"}, ...]` or `{"team": "data"}` → a dict. Keys are
    non-empty text; values text (numbers and booleans are written as text); `system.` keys and a
    key given twice are refused."""
    if isinstance(body, Mapping):
        pairs = list(body.items())
    elif isinstance(body, list):
        pairs = []
        for index, item in enumerate(body):
            if not isinstance(item, Mapping) or "key" not in item or "value" not in item:
                raise LabelsError(f"label #{index} must be an object with a 'key' and a 'value', got {item!r}")
            pairs.append((item["key"], item["value"]))
    else:
        raise LabelsError('send the labels as a list [{"key": "team", "value": "data"}] or an object {"team": "data"}')
    out: dict[str, str] = {}
    for key, value in pairs:
        if not isinstance(key, str) or not key.strip():
            raise LabelsError(f"a label key must be non-empty text, got {key!r}")
        if key.startswith(SYSTEM_PREFIX):
            raise LabelsError(f"label {key!r}: labels starting with {SYSTEM_PREFIX!r} are set by tercel only")
        if key in out:
            raise LabelsError(f"label {key!r} is given twice")
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = str(value)
        if not isinstance(value, str):
            raise LabelsError(f"label {key!r}: the value must be text, got {type(value).__name__}")
        out[key] = value
    return out


def replace_labels(current: Mapping[str, str], new: Mapping[str, str]) -> dict[str, str]:
    """The execution's labels after a change: its `system.` labels kept, every other one replaced."""
    kept = {k: v for k, v in current.items() if k.startswith(SYSTEM_PREFIX)}
    return {**kept, **new}
