"""Execution records for the store (typed values as Ion) and JSON for the edges.

Inside tercel values keep their Python types; the store holds JSON documents, so typed parts
(inputs, outputs, variables, trigger) travel inside them as Ion text. Only the API/CLI edge turns
values into plain JSON (dates as ISO strings, decimals as numbers, bytes as base64).
"""

from __future__ import annotations

import base64
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from tercel_sdk import format_duration, ion

from tercel.engine import Execution, TaskRun, iso

__all__ = ["decode_execution", "decode_header", "decode_typed", "encode_header", "encode_task_run", "to_json_ready"]

_TYPED_HEADER_KEYS = ("inputs", "outputs", "variables", "trigger")
_ION = "$ion"


def _wrap(value: Any) -> Any:
    if value in (None, {}, []):
        return value
    return {_ION: ion.dumps(value).decode("utf-8")}


def _unwrap(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {_ION}:
        return ion.loads(value[_ION].encode("utf-8"))
    return value


def decode_typed(value: Any) -> Any:
    """A typed part (inputs, outputs, variables, trigger) of a stored header, decoded."""
    return _unwrap(value)


def decode_header(header: dict[str, Any]) -> dict[str, Any]:
    """A stored execution header (as `find` returns it) with its typed parts decoded."""
    from tercel.store import VERSION_KEY

    out = {k: v for k, v in header.items() if k != VERSION_KEY}
    for key in _TYPED_HEADER_KEYS:
        out[key] = _unwrap(out.get(key))
    return out


def encode_header(ex: Execution) -> dict[str, Any]:
    header = ex.header_dict()
    for key in _TYPED_HEADER_KEYS:
        header[key] = _wrap(header.get(key))
    return header


def encode_task_run(tr: TaskRun) -> dict[str, Any]:
    doc = tr.to_dict()
    doc["outputs"] = _wrap(doc.get("outputs"))
    doc["value"] = doc.get("value")
    return doc


def decode_execution(header: dict[str, Any], task_runs: list[dict[str, Any]], version: int) -> Execution:
    header = dict(header)
    for key in _TYPED_HEADER_KEYS:
        header[key] = _unwrap(header.get(key))
    runs = []
    for doc in task_runs:
        doc = dict(doc)
        doc["outputs"] = _unwrap(doc.get("outputs"))
        runs.append(doc)
    return Execution.from_dicts(header, runs, version)


def to_json_ready(value: Any) -> Any:
    """Plain JSON values: what the API and `tercel run --json` print."""
    if isinstance(value, dict):
        return {str(k): to_json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_ready(v) for v in value]
    if isinstance(value, datetime):
        return iso(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent >= 0 and value.adjusted() < 300:
            return int(value)
        number = float(value)
        return number if abs(number) != float("inf") else str(value)  # beyond a float: exact text
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value
