"""The expression context of an execution or task run: Kestra's variables, built purely."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._model import Execution, TaskRun

__all__ = ["EACH_PATH_KEY", "build_variables", "outputs_map", "stringify_value"]

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


def outputs_map(execution: Execution) -> dict[str, Any]:
    """`outputs.<taskId>` (or `outputs.<taskId>[<value>]…` inside loops) for every task run."""
    out: dict[str, Any] = {}
    for tr in execution.task_runs:
        if not tr.outputs:
            continue
        chain = _value_chain(execution, tr)
        if not chain:
            out[tr.task_id] = tr.outputs
            continue
        node = out.setdefault(tr.task_id, {})
        for value in chain[:-1]:
            node = node.setdefault(value, {})
        node[chain[-1]] = tr.outputs
    return out


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
