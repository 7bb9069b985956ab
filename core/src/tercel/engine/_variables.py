"""The expression context of an execution or task run: Kestra's variables, built purely."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._model import Execution, TaskRun

__all__ = ["EACH_PATH_KEY", "LiveOutputs", "build_variables", "outputs_map", "stringify_value"]

EACH_PATH_KEY = "__tercel_each_path__"


def stringify_value(value: Any) -> Any:
    """Kestra keeps a loop value as text: strings as they are, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    import json

    return json.dumps(value, default=str, separators=(",", ":"), ensure_ascii=False)


def _value_chain(execution: Execution, tr: TaskRun) -> list[Any]:
    """Loop values introduced along the path to a task run, outermost first."""
    chain: list[Any] = []
    current: TaskRun | None = tr
    while current is not None:
        parent = execution.find(current.parent_task_run_id) if current.parent_task_run_id else None
        if current.value is not None and (parent is None or parent.value != current.value):
            chain.append(current.value)
        current = parent
    chain.reverse()
    return chain


def _build(execution: Execution) -> dict[str, Any]:
    """`outputs` from scratch: every task run with outputs, in creation order (a later one
    at the same place wins). Where outputs lie on the way to others (a nested loop repeating
    its parent's value), the place shows both, in a copy: a task run's outputs are not changed."""
    out: dict[str, Any] = {}
    made: set[int] = set()  # ids of the dicts made here (the others are task runs' outputs)
    for tr in execution.task_runs:
        if not tr.outputs:
            continue
        place = (tr.task_id, *_value_chain(execution, tr))
        node = out
        for key in place[:-1]:
            child = node.get(key)
            if child is None or id(child) not in made:
                child = {} if child is None else dict(child)
                made.add(id(child))
                node[key] = child
            node = child
        node[place[-1]] = tr.outputs
    return out


Place = tuple[Any, ...]
"""Where a task run's outputs go: its task id, then its loop values."""


class LiveOutputs:
    """The `outputs` map of one execution, kept up to date as outputs change.

    Built once by `_build`, then each change (`changed`, through `Execution.outputs_changed`)
    is applied where it lands when `snapshot` is next called: a new output costs the depth of
    its loop values, not the size of the execution. The result is what `_build` would give,
    except that new keys come in the order outputs arrived rather than in creation order.
    When a change cannot be placed like that (the task run shown somewhere loses its outputs,
    or one task's outputs land both at a place and under it, as when a nested loop repeats
    its parent's value) the map is built again from scratch; so it is when someone bumped
    `outputs_revision` without saying which task run changed.

    A snapshot is the map itself, and what it holds is never changed afterwards: the next
    change copies the dicts on its path first. A task rendering from a snapshot (possibly in
    another thread) never sees it move, and a copy costs one dict per loop level.
    """

    __slots__ = ("_nodes", "_pending", "_private", "_regular", "_revision", "_root", "_shown")

    def __init__(self, execution: Execution) -> None:
        self._rebuild(execution)  # the execution is not kept: it holds this object, not the reverse

    def changed(self, tr: TaskRun, revision: int) -> None:
        """`tr.outputs` changed; `revision` is the execution's `outputs_revision` now."""
        self._pending.append(tr)
        self._revision = revision

    def snapshot(self, ex: Execution) -> dict[str, Any]:
        """The current map; it is not changed afterwards (treat it as read-only)."""
        if self._revision != ex.outputs_revision:
            self._rebuild(ex)
        pending, self._pending = self._pending, []
        for tr in pending:
            if not self._apply(ex, tr):
                self._rebuild(ex)
                break
        self._private.clear()  # everything in it is now shared with the snapshot's readers
        return self._root

    def _rebuild(self, ex: Execution) -> None:
        self._root = _build(ex)
        self._shown: dict[Place, int] = {}  # place -> creation order of the task run shown there
        self._nodes: set[Place] = set()  # places holding a dict of loop values
        self._regular = True
        for tr in ex.task_runs:
            if tr.outputs:
                place = (tr.task_id, *_value_chain(ex, tr))
                self._regular = self._regular and (place in self._shown or not self._collides(place))
                self._register(place, ex.order(tr))
        self._private: set[int] = set()  # ids of the dicts made since the last snapshot
        self._pending: list[TaskRun] = []
        self._revision = ex.outputs_revision

    def _collides(self, place: Place) -> bool:
        """True if outputs at `place` would land on or under other outputs (or hold some)."""
        return place in self._nodes or any(place[:k] in self._shown for k in range(1, len(place)))

    def _register(self, place: Place, order: int) -> None:
        self._shown[place] = order
        self._nodes.update(place[:k] for k in range(1, len(place)))

    def _apply(self, ex: Execution, tr: TaskRun) -> bool:
        """Apply one change in place; False if only a rebuild can."""
        if not self._regular:
            return False
        place = (tr.task_id, *_value_chain(ex, tr))
        order, shown = ex.order(tr), self._shown.get(place)
        if not tr.outputs:
            return shown != order  # what was shown there must come back: rebuild
        if shown is not None and shown > order:
            return True  # a task run created later is shown there
        if shown is None and self._collides(place):
            return False
        self._register(place, order)
        node = self._root = self._own(self._root)
        for key in place[:-1]:
            child = node.get(key)
            node[key] = child = {} if child is None else self._own(child)
            self._private.add(id(child))
            node = child
        node[place[-1]] = tr.outputs
        return True

    def _own(self, node: dict[str, Any]) -> dict[str, Any]:
        """`node`, or a copy of it if a snapshot holds it (copy-on-write)."""
        if id(node) in self._private:
            return node
        node = node.copy()
        self._private.add(id(node))
        return node


def outputs_map(execution: Execution) -> dict[str, Any]:
    """`outputs.<taskId>` (or `outputs.<taskId>[<value>]…` inside loops) for every task run.

    Kept on the execution (`Execution.live_outputs`) and updated as outputs change; the
    dict returned is never changed afterwards (treat it as read-only)."""
    live = execution.live_outputs
    if live is None:
        live = execution.live_outputs = LiveOutputs(execution)
    return live.snapshot(execution)


def _taskrun_vars(tr: TaskRun) -> dict[str, Any]:
    return {
        "id": tr.id,
        "startDate": tr.state.start_date,
        "attemptsCount": len(tr.attempts),
        "parentId": tr.parent_task_run_id,
        "value": tr.value,
        "iteration": tr.iteration,
    }


def build_variables(
    execution: Execution,
    flow_vars: Mapping[str, Any],
    task_run: TaskRun | None = None,
    *,
    task_type: str | None = None,
    envs: Mapping[str, str] | None = None,
    outputs: dict[str, Any] | None = None,
    functions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything an expression may read, for the execution or one of its task runs."""
    ctx: dict[str, Any] = {
        "flow": {
            "id": execution.flow_id,
            "namespace": execution.namespace,
            "revision": execution.flow_revision,
            "tenantId": None,
        },
        "execution": {
            "id": execution.id,
            "startDate": execution.state.start_date,
            "originalId": execution.original_id or execution.id,
            "state": execution.state.current.value,
        },
        "labels": dict(execution.labels),
        "inputs": execution.inputs,
        # flow variables, overridden by those tasks set on the execution (SetVariables)
        "vars": {**flow_vars, **{k: v for k, v in execution.variables.items() if not k.startswith("__")}},
        "outputs": outputs if outputs is not None else outputs_map(execution),
        "envs": dict(envs or {}),
        "globals": {},
    }
    if execution.trigger is not None:
        ctx["trigger"] = execution.trigger
    if task_run is not None:
        ctx["taskrun"] = _taskrun_vars(task_run)
        ctx["task"] = {"id": task_run.task_id, "type": task_type}
        # Kestra's `parents`: the ancestors that carry a value, the direct parent first
        ancestors = [p for p in execution.parents(task_run) if p.value is not None]
        ctx["parents"] = [{"taskrun": _taskrun_vars(p), "task": {"id": p.task_id}} for p in ancestors]
        if ancestors:
            ctx["parent"] = ctx["parents"][0]
        # the loop values of this task run, outermost first: how `outputs.<task>[…]` is keyed,
        # what `currentEachOutput()` follows (a private key: templates cannot read it)
        ctx[EACH_PATH_KEY] = _value_chain(execution, task_run)
    if functions is not None:
        ctx["__tercel_functions__"] = functions
    return ctx
