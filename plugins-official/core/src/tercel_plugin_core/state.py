"""The state store tasks: `tercel.core.state.Set`, `Get` and `Delete`.

Kestra's older per-flow state store (`io.kestra.plugin.core.state.*`, before that
`io.kestra.core.tasks.states.*`; deprecated there in favour of the KV store). A state is a map
of values, named (`default` unless `name` says otherwise), that `Set` merges new entries into.

tercel has no separate state store: like Kestra since 0.18, a state is one pair of the flow's
namespace KV store, under a reserved key built the way Kestra builds it:

    <flow id>_states_tasks-states_<name>[_<hash of taskrun.value>]   (per flow, the default)
    states_tasks-states_<name>[_<hash of taskrun.value>]             (with `namespace: true`)

The flow id is lowercased (Kestra slugifies it); the hash suffix is present when
`taskrunValue` is true and the task runs with a `taskrun.value` (inside a `ForEach`), and is
the first 16 hex digits of the SHA-256 of the value's text. The map is stored as is (typed, in
Ion), not as JSON text. These keys show up in `tercel.core.kv.GetKeys` like any other.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from pydantic import Field
from tercel_sdk import Example, Output, Property, RunContext, RunnableTask, TaskFailed

from ._coerce import to_value_string

__all__ = [
    "Delete",
    "DeleteOutput",
    "Get",
    "GetOutput",
    "Set",
    "SetOutput",
    "merge_state",
    "state_key",
]

_STATE_FOLDER = "tasks-states"
_NAME = re.compile(r"[a-zA-Z0-9._-]+")
_SLUG_INVALID = re.compile(r"[^a-z0-9._-]+")


def state_key(flow_id: str, name: str, *, shared: bool, taskrun_value: Any = None) -> str:
    """The KV key of a state (see the module docstring for the scheme)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise TaskFailed(
            f"invalid state name {name!r}: use letters, digits, '.', '_' and '-' "
            "(the name is part of a KV key)"
        )
    key = "" if shared else _SLUG_INVALID.sub("-", flow_id.lower()) + "_"
    key += f"states_{_STATE_FOLDER}_{name}"
    if taskrun_value is not None:
        digest = hashlib.sha256(to_value_string(taskrun_value).encode("utf-8")).hexdigest()
        key += "_" + digest[:16]
    return key


def merge_state(current: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Kestra's merge of a state (`MapUtils.merge`): `new` wins, but a null in `new` keeps the
    current value, two maps merge recursively and two lists are joined (new items not already
    in the current list are appended)."""
    result = dict(current)
    for key, new_value in new.items():
        old = result.get(key)
        if new_value is None:
            result[key] = old
        elif old is None:
            result[key] = new_value
        elif isinstance(old, Mapping) and isinstance(new_value, Mapping):
            result[key] = merge_state(old, new_value)
        elif isinstance(old, list | tuple) and isinstance(new_value, list | tuple):
            result[key] = [*old, *(item for item in new_value if item not in old)]
        else:
            result[key] = new_value
    return result


class _StateTask(RunnableTask):
    """The properties every state task shares and how they locate the state."""

    name: Property[str] = Field(default=Property("default", str), description="The name of the state.")
    namespace: Property[bool] = Field(
        default=Property(False, bool),
        description=(
            "Share the state in the namespace. By default a state is isolated by namespace and "
            "flow; true shares it between every flow of the same namespace."
        ),
    )
    taskrun_value: Property[bool] = Field(
        default=Property(True, bool),
        description=(
            "Isolate the state by `taskrun.value`. By default each iteration of a loop has its own "
            "state; false uses the same state for every iteration."
        ),
    )

    def _key(self, ctx: RunContext) -> str:
        value = None
        if ctx.render(self.taskrun_value):
            taskrun = ctx.variables.get("taskrun")
            value = taskrun.get("value") if isinstance(taskrun, Mapping) else None
        return state_key(
            ctx.flow_id, ctx.render(self.name), shared=ctx.render(self.namespace), taskrun_value=value
        )

    def _read(self, ctx: RunContext, key: str) -> dict[str, Any] | None:
        data = ctx.kv.get(key)
        if data is None:
            return None
        if not isinstance(data, Mapping):
            raise TaskFailed(
                f"KV key '{key}' of namespace '{ctx.namespace}' holds a {type(data).__name__}, "
                "not a state (a map): was it overwritten with tercel.core.kv.Set?"
            )
        return dict(data)


# ------------------------------------------------------------------------------------- Set


class SetOutput(Output):
    """What `Set` produces."""

    count: int = Field(default=0, description="The number of entries in the state after the merge.")
    key: str = Field(description="The KV key the state is stored under.")


class Set(_StateTask):
    """Set values in a state of the state store (deprecated in Kestra: prefer the KV store).

    The values of `data` are rendered (keys too) and merged into the current state: a new key
    is added, an existing key is replaced (two maps merge, two lists are joined, a null keeps
    the current value). This is not safe under concurrency: two executions of one flow setting
    the same state at once may lose each other's values.
    """

    type_name = "tercel.core.state.Set"
    type_aliases = ("io.kestra.plugin.core.state.Set", "io.kestra.core.tasks.states.Set")
    type_title = "Set values in a state."
    type_examples = (
        Example(
            title="Remember a file's checksum in the default state of the flow.",
            full=True,
            code="""\
id: state_set
namespace: company.team

inputs:
  - id: store
    type: STRING
    defaults: orders

tasks:
  - id: checksum
    type: tercel.core.Return
    format: "{{ execution.id | slugify }}"

  - id: set_state
    type: tercel.core.state.Set
    data:
      "{{ inputs.store }}": "{{ outputs.checksum.value }}"
""",
        ),
        Example(
            title="Count runs in the `myState` state shared by the namespace's flows.",
            full=True,
            code="""\
id: state_counter
namespace: company.team

tasks:
  - id: get_state
    type: tercel.core.state.Get
    name: myState
    namespace: true

  - id: set_state
    type: tercel.core.state.Set
    name: myState
    namespace: true
    data:
      runs: "{{ (outputs.get_state.data.runs ?? 0) + 1 }}"
""",
        ),
    )

    data: Property[dict[str, Any]] | None = Field(
        default=None, description="The values to merge into the state; keys and values are rendered."
    )

    def run(self, ctx: RunContext) -> SetOutput:
        key = self._key(ctx)
        new = ctx.render(self.data) if self.data is not None else None
        merged = merge_state(self._read(ctx, key) or {}, dict(new or {}))
        ctx.kv.set(key, merged)
        return SetOutput(count=len(merged), key=key)


# ------------------------------------------------------------------------------------- Get


class GetOutput(Output):
    """What `Get` produces."""

    count: int = Field(default=0, description="The number of entries found in the state.")
    data: dict[str, Any] = Field(default_factory=dict, description="The state's values (empty if none).")


class Get(_StateTask):
    """Get a state from the state store (deprecated in Kestra: prefer the KV store).

    A state that was never set gives empty `data` and a `count` of 0, or fails the task when
    `errorOnMissing` is true.
    """

    type_name = "tercel.core.state.Get"
    type_aliases = ("io.kestra.plugin.core.state.Get", "io.kestra.core.tasks.states.Get")
    type_title = "Get a state."
    type_examples = (
        Example(
            title="Read the `myState` state of the flow and log one of its values.",
            full=True,
            code="""\
id: state_get
namespace: company.team

tasks:
  - id: get_state
    type: tercel.core.state.Get
    name: myState

  - id: log_it
    type: tercel.core.Log
    message: "{{ outputs.get_state.count }} values, orders = {{ outputs.get_state.data.orders ?? 'none' }}"
""",
        ),
    )

    error_on_missing: Property[bool] = Field(
        default=Property(False, bool), description="Fail the task if the state is not found."
    )

    def run(self, ctx: RunContext) -> GetOutput:
        key = self._key(ctx)
        data = self._read(ctx, key)
        if data is None:
            if ctx.render(self.error_on_missing):
                raise TaskFailed(f"State '{key}' not found in namespace '{ctx.namespace}'")
            data = {}
        return GetOutput(count=len(data), data=data)


# ---------------------------------------------------------------------------------- Delete


class DeleteOutput(Output):
    """What `Delete` produces."""

    deleted: bool = Field(default=False, description="Whether the state existed and was deleted.")


class Delete(_StateTask):
    """Delete a state from the state store (deprecated in Kestra: prefer the KV store)."""

    type_name = "tercel.core.state.Delete"
    type_aliases = ("io.kestra.plugin.core.state.Delete", "io.kestra.core.tasks.states.Delete")
    type_title = "Delete a state."
    type_examples = (
        Example(
            title="Delete the `myState` state of the flow, failing if there is none.",
            full=True,
            code="""\
id: state_delete
namespace: company.team

tasks:
  - id: delete_state
    type: tercel.core.state.Delete
    name: myState
    errorOnMissing: true
""",
        ),
    )

    error_on_missing: Property[bool] = Field(
        default=Property(False, bool), description="Fail the task if the state is not found."
    )

    def run(self, ctx: RunContext) -> DeleteOutput:
        key = self._key(ctx)
        deleted = ctx.kv.delete(key)
        if not deleted and ctx.render(self.error_on_missing):
            raise TaskFailed(f"State '{key}' not found in namespace '{ctx.namespace}'")
        return DeleteOutput(deleted=deleted)
