"""Kestra's `pluginDefaults`: default property values per type (or type prefix), optionally forced."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

__all__ = ["apply_plugin_defaults"]


def _matches(entry_type: str, names: Iterable[str]) -> bool:
    """Kestra matches a default's `type` as the full type name or a dotted prefix of it."""
    return any(n == entry_type or n.startswith(entry_type.rstrip(".") + ".") for n in names)


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`extra` wins; nested mappings are merged key by key."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def apply_plugin_defaults(task: dict[str, Any], names: Iterable[str], defaults: list[dict[str, Any]]) -> dict[str, Any]:
    """The task with matching defaults applied: the task's own values win unless `forced`."""
    names = list(names)
    result = dict(task)
    for entry in defaults:
        if not _matches(str(entry.get("type", "")), names):
            continue
        values = entry.get("values") or {}
        result = _merge(result, values) if entry.get("forced") else _merge(values, result)
    return result
