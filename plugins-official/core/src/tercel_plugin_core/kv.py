"""The KV store tasks: `tercel.core.kv.Set`, `Get`, `GetKeys` and `Delete`.

Kestra's `io.kestra.plugin.core.kv.*`, over the namespace KV store the run context offers
(`ctx.kv`). Values keep their types (the store serializes with Ion): a datetime set here is a
datetime when `Get` or the `{{ kv('key') }}` function reads it back.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field
from tercel_sdk import (
    Duration,
    Example,
    Output,
    Property,
    RunContext,
    RunnableTask,
    TaskFailed,
    format_duration,
    parse_duration,
)

from ._coerce import to_text
from ._namespaces import target_namespace

__all__ = [
    "KV_TYPES",
    "Delete",
    "DeleteOutput",
    "Get",
    "GetKeys",
    "GetKeysOutput",
    "GetOutput",
    "KVType",
    "Set",
    "convert_kv_value",
]

KVType = Literal["STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION", "JSON"]
"""Kestra's KV types, the values of `kvType`."""
KV_TYPES: tuple[str, ...] = ("STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION", "JSON")

_INTEGER = re.compile(r"[+-]?\d+")




def _missing(key: str, namespace: str) -> TaskFailed:
    return TaskFailed(
        f"No value found for key '{key}' in namespace '{namespace}' and `errorOnMissing` is set to true"
    )


# ------------------------------------------------------------------------------ conversion


def _text_of(value: Any) -> str:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return format_duration(value)
    return to_text(value)


def _bad(kv_type: str, value: Any, hint: str) -> ValueError:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return ValueError(f"kvType {kv_type}: cannot convert {text} ({type(value).__name__}) {hint}")


def _to_number(value: Any) -> int | float | Decimal:
    if isinstance(value, bool):
        raise _bad("NUMBER", value, "to a number (a boolean is not a number)")
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, str):
        text = value.strip()
        if _INTEGER.fullmatch(text):
            return int(text)
        try:
            number = float(text)
        except ValueError:
            raise _bad("NUMBER", value, "to a number") from None
        if math.isfinite(number):
            return number
    raise _bad("NUMBER", value, "to a number")


def _to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _bad("BOOLEAN", value, "to a boolean (expected true or false)")


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _bad("DATETIME", value, "to a datetime (expected ISO 8601, e.g. 2024-05-01T10:00:00Z)") from None
    else:
        raise _bad("DATETIME", value, "to a datetime (expected ISO 8601, e.g. 2024-05-01T10:00:00Z)")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text)
        except ValueError:
            try:
                return datetime.fromisoformat(text).date()
            except ValueError:
                pass
    raise _bad("DATE", value, "to a date (expected ISO 8601, e.g. 2024-05-01)")


def _to_duration(value: Any) -> timedelta:
    try:
        return parse_duration(value.strip() if isinstance(value, str) else value)
    except ValueError:
        raise _bad("DURATION", value, "to a duration (expected ISO 8601, e.g. PT5M or P1D)") from None


def _to_json(value: Any) -> Any:
    if not isinstance(value, str):
        return value  # already structured (a map, a list, a number...)
    try:
        return json.loads(value)
    except ValueError as exc:
        raise _bad("JSON", value, f"to JSON ({exc})") from None


_CONVERTERS = {
    "STRING": _text_of,
    "NUMBER": _to_number,
    "BOOLEAN": _to_boolean,
    "DATETIME": _to_datetime,
    "DATE": _to_date,
    "DURATION": _to_duration,
    "JSON": _to_json,
}


def convert_kv_value(value: Any, kv_type: str) -> Any:
    """Convert a rendered value to one of Kestra's KV types; ValueError says why it cannot.

    Text is parsed (`"42"` → 42, `"true"` → True, `"2024-05-01T10:00:00Z"` → a datetime,
    `"PT5M"` → a timedelta, `'{"a": 1}'` → a dict); a value that already has the type is kept.
    A datetime without a zone is taken as UTC.
    """
    try:
        convert = _CONVERTERS[kv_type]
    except KeyError:
        raise ValueError(f"unknown kvType {kv_type!r}: use one of {', '.join(KV_TYPES)}") from None
    if value is None:
        raise ValueError(f"kvType {kv_type}: the value is null")
    return convert(value)


# ------------------------------------------------------------------------------------- Set


class Set(RunnableTask):
    """Create or modify a key-value pair in the KV store.

    `value` is rendered and keeps its type: a number stays a number, a datetime a datetime, a
    map a map. With `kvType`, the rendered value is converted to that type first (text like
    `"42"`, `"true"`, `"2024-05-01T10:00:00Z"`, `"PT5M"` or a JSON document is parsed) and the
    task fails with the reason when it cannot be. The pair goes to the flow's namespace unless
    `namespace` names another. With `overwrite: false` the task fails when the key already holds
    a value; with `ttl` the pair expires after that duration (it then reads as absent).

    Like Kestra's task, it has no outputs: read the value with `tercel.core.kv.Get` or the
    `{{ kv('key') }}` function.
    """

    type_name = "tercel.core.kv.Set"
    type_aliases = ("io.kestra.plugin.core.kv.Set",)
    type_title = "Create or modify a key-value pair."
    type_examples = (
        Example(
            title="Store the last processed date, typed, and read it back with the kv() function.",
            full=True,
            code="""\
id: kv_store_set
namespace: company.team

tasks:
  - id: kv_set
    type: tercel.core.kv.Set
    key: last_processed
    value: "{{ execution.startDate }}"
    kvType: DATETIME

  - id: log_it
    type: tercel.core.Log
    message: "Last processed at {{ kv('last_processed') }}"
""",
        ),
        Example(
            title="Store a JSON document in another namespace for one day, never replacing it.",
            full=True,
            code="""\
id: kv_store_set_options
namespace: company.team

tasks:
  - id: kv_set
    type: tercel.core.kv.Set
    key: daily_config
    value: '{"retries": 3, "regions": ["eu", "us"]}'
    kvType: JSON
    namespace: company.shared
    overwrite: false
    ttl: P1D
""",
        ),
    )

    key: Property[str] = Field(description="The key to set the value for.")
    value: Property[Any] = Field(
        description="The value to map to the key; rendered, it keeps its type (number, datetime, map...)."
    )
    namespace: Property[str] | None = Field(
        default=None,
        description="The namespace in which the KV pair is stored; by default the flow's namespace.",
    )
    overwrite: Property[bool] = Field(
        default=Property(True, bool),
        description="Whether to overwrite or fail if a value for the given key already exists.",
    )
    ttl: Property[Duration] | None = Field(
        default=None,
        description="Time to live of the pair (ISO 8601 duration, e.g. P1D); without it the pair never expires.",
    )
    kv_type: Property[KVType] | None = Field(
        default=None,
        description=(
            "Convert the rendered value to this type before storing it: STRING, NUMBER, BOOLEAN, "
            "DATETIME, DATE, DURATION or JSON. Without it the rendered value is stored as is."
        ),
    )
    kv_description: Property[str] | None = Field(
        default=None,
        description="A description of the KV pair (accepted for Kestra compatibility; not stored yet).",
    )

    def run(self, ctx: RunContext) -> None:
        namespace = target_namespace(ctx, self.namespace)
        key = ctx.render(self.key)
        value = ctx.render(self.value)
        if self.kv_type is not None:
            kv_type = ctx.render(self.kv_type)
            try:
                value = convert_kv_value(value, kv_type)
            except ValueError as exc:
                raise TaskFailed(f"Cannot set value for key '{key}': {exc}") from None
        ttl = ctx.render(self.ttl) if self.ttl is not None else None
        if ttl is not None and ttl <= timedelta(0):
            raise TaskFailed(f"ttl must be a positive duration, got {format_duration(ttl)}")
        overwrite = ctx.render(self.overwrite)
        if not overwrite and key in ctx.kv.keys(key, namespace=namespace):
            raise TaskFailed(
                f"Cannot set value for key '{key}' in namespace '{namespace}'. "
                "Key already exists and `overwrite` is set to `false`."
            )
        # the store checks `overwrite` again, atomically: a pair written in between still fails
        ctx.kv.set(key, value, ttl=ttl, overwrite=overwrite, namespace=namespace)
        expiry = f", expires in {format_duration(ttl)}" if ttl is not None else ""
        ctx.logger.debug(f"Set KV key '{key}' in namespace '{namespace}'{expiry}")


# ------------------------------------------------------------------------------------- Get


class GetOutput(Output):
    """What `Get` produces."""

    value: Any = Field(
        default=None,
        description="The value of the key, with the type it was stored with; null when there is none.",
    )


class Get(RunnableTask):
    """Get the value of a key from the KV store.

    The value comes back with the type it was stored with (a datetime stays a datetime). When
    the key has no value (never set, deleted or expired) the output `value` is null, or the task
    fails if `errorOnMissing` is true. The `{{ kv('key') }}` function reads the same store inside
    any expression.
    """

    type_name = "tercel.core.kv.Get"
    type_aliases = ("io.kestra.plugin.core.kv.Get",)
    type_title = "Get the value of a key-value pair."
    type_examples = (
        Example(
            title="Get the value of `my_variable` in the `dev` namespace and fail if it is not there.",
            full=True,
            code="""\
id: kv_store_get
namespace: company.team

tasks:
  - id: kv_get
    type: tercel.core.kv.Get
    key: my_variable
    namespace: dev # the flow's namespace is used by default
    errorOnMissing: true

  - id: log_it
    type: tercel.core.Log
    message: "my_variable is {{ outputs.kv_get.value }}"
""",
        ),
    )

    key: Property[str] = Field(description="The key for which to get the value.")
    namespace: Property[str] | None = Field(
        default=None, description="The namespace from which to get the value; by default the flow's namespace."
    )
    error_on_missing: Property[bool] = Field(
        default=Property(False, bool),
        description="Whether to fail if there is no value for the given key.",
    )

    def run(self, ctx: RunContext) -> GetOutput:
        namespace = target_namespace(ctx, self.namespace)
        key = ctx.render(self.key)
        value = ctx.kv.get(key, namespace=namespace)
        # a stored null reads like a missing key: only the key list tells them apart
        if value is None and ctx.render(self.error_on_missing) and key not in ctx.kv.keys(key, namespace=namespace):
            raise _missing(key, namespace)
        return GetOutput(value=value)


# --------------------------------------------------------------------------------- GetKeys


class GetKeysOutput(Output):
    """What `GetKeys` produces."""

    keys: list[str] = Field(default_factory=list, description="The keys found, sorted.")


class GetKeys(RunnableTask):
    """List the keys of the KV store that start with a prefix.

    Only live keys are listed (expired pairs are not), sorted, from the flow's namespace or the
    one given. Without `prefix`, every key of the namespace is listed.
    """

    type_name = "tercel.core.kv.GetKeys"
    type_aliases = ("io.kestra.plugin.core.kv.GetKeys",)
    type_title = "List the keys that start with a prefix."
    type_examples = (
        Example(
            title="Get the keys that start with `my_var` and loop over them.",
            full=True,
            code="""\
id: kv_store_getkeys
namespace: company.team

tasks:
  - id: kv_getkeys
    type: tercel.core.kv.GetKeys
    prefix: my_var
    namespace: dev # the flow's namespace is used by default

  - id: each_key
    type: tercel.core.ForEach
    values: "{{ outputs.kv_getkeys.keys }}"
    tasks:
      - id: log_key
        type: tercel.core.Log
        message: "{{ taskrun.value }} = {{ kv(taskrun.value, namespace='dev') }}"
""",
        ),
    )

    prefix: Property[str] | None = Field(
        default=None, description="Only list the keys starting with this prefix; all keys without it."
    )
    namespace: Property[str] | None = Field(
        default=None, description="The namespace whose keys are listed; by default the flow's namespace."
    )

    def run(self, ctx: RunContext) -> GetKeysOutput:
        namespace = target_namespace(ctx, self.namespace)
        prefix = ctx.render(self.prefix) if self.prefix is not None else None
        return GetKeysOutput(keys=sorted(ctx.kv.keys(prefix or None, namespace=namespace)))


# ---------------------------------------------------------------------------------- Delete


class DeleteOutput(Output):
    """What `Delete` produces."""

    deleted: bool = Field(default=False, description="Whether the key had a value that was deleted.")


class Delete(RunnableTask):
    """Delete a key-value pair from the KV store.

    The output `deleted` tells whether the key had a (live) value. A missing key is not an error
    unless `errorOnMissing` is true.
    """

    type_name = "tercel.core.kv.Delete"
    type_aliases = ("io.kestra.plugin.core.kv.Delete",)
    type_title = "Delete a key-value pair."
    type_examples = (
        Example(
            title="Delete a KV pair.",
            full=True,
            code="""\
id: kv_store_delete
namespace: company.team

tasks:
  - id: kv_delete
    type: tercel.core.kv.Delete
    key: my_variable
    namespace: dev # the flow's namespace is used by default

  - id: log_it
    type: tercel.core.Log
    message: "deleted: {{ outputs.kv_delete.deleted }}"
""",
        ),
    )

    key: Property[str] = Field(description="The key whose value is deleted.")
    namespace: Property[str] | None = Field(
        default=None, description="The namespace of the pair; by default the flow's namespace."
    )
    error_on_missing: Property[bool] = Field(
        default=Property(False, bool),
        description="Whether to fail if there is no value for the given key.",
    )

    def run(self, ctx: RunContext) -> DeleteOutput:
        namespace = target_namespace(ctx, self.namespace)
        key = ctx.render(self.key)
        deleted = ctx.kv.delete(key, namespace=namespace)
        if not deleted and ctx.render(self.error_on_missing):
            raise _missing(key, namespace)
        return DeleteOutput(deleted=deleted)
