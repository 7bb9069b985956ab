"""Flow triggers, the pure part: an ended execution, a trigger and its state in; whether the
trigger fires, the new state and the `trigger.*` variables out. No database, no clock.

A Flow trigger is anything with `listens_to(state)` and `preconditions` (None, or an object
with `checks()`, `time_window` and `reset_on_success`, see `tercel_plugin_core.trigger.Flow`);
`precondition_results` (which preconditions the execution meets) needs the expression engine,
so the scheduler computes it and hands it in.

Kestra's rules:

- A flow never triggers itself (`listens` says no to its own executions), and only executions in
  one of the trigger's `states` are looked at.
- The trigger's `conditions` are evaluated first (by the scheduler); only when they hold do the
  preconditions see the execution.
- Without preconditions the trigger fires. With them, each one the execution meets is recorded
  (when, and the execution's outputs under its namespace and flow id) in the current window; the
  trigger fires when the execution met one and every one is met within the window. Then, with
  `resetOnSuccess` (the default), what was met is forgotten.
- A window is fixed (`DURATION_WINDOW`, `DAILY_TIME_DEADLINE`, `DAILY_TIME_WINDOW`: what was met
  counts until the window ends, then a new one starts empty) or sliding (`SLIDING_WINDOW`: what
  was met within the last `window` counts). An execution outside a daily window is not counted.
- A disabled trigger (in the flow, on a disabled flow, or through the API) neither fires nor
  counts. `stopAfter` disables it when an execution it started ends in one of those states.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ._model import Progress, TriggerState

__all__ = [
    "FlowOutcome",
    "decide_flow",
    "deep_merge",
    "execution_variables",
    "listens",
    "nested_labels",
    "stop_after",
    "trigger_variables",
]

CORRELATION_ID = "system.correlationId"


@dataclass(frozen=True)
class FlowOutcome:
    """The new state; `fire` says whether to start an execution, `outputs` is its
    `trigger.outputs` then; `reason` says why nothing fired (for logs and tests)."""

    state: TriggerState
    fire: bool = False
    outputs: dict[str, Any] | None = None
    reason: str | None = None


# -- what an ended execution looks like to a Flow trigger ------------------------------------


def nested_labels(labels: Mapping[str, str]) -> dict[str, Any]:
    """Kestra's `trigger.executionLabels`: dotted keys nested (`a.b: x` → `{a: {b: x}}`), the
    correlation id left out. Of two keys that clash (`a` and `a.b`), the first one is kept."""
    out: dict[str, Any] = {}
    for key, value in labels.items():
        if key == CORRELATION_ID:
            continue
        *path, last = str(key).split(".")
        target: dict[str, Any] | None = out
        for part in path:
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                target = None
                break
            target = child
        if target is not None and last not in target:
            target[last] = value
    return out


def _state(ex: Any) -> str:
    return str(getattr(ex.state.current, "value", ex.state.current))


def execution_variables(ex: Any) -> dict[str, Any]:
    """The upstream execution as conditions and expressions of a Flow trigger see it
    (`execution.*`): Kestra's execution variables, with its flow, labels and outputs."""
    return {
        "id": ex.id,
        "namespace": ex.namespace,
        "flowId": ex.flow_id,
        "flowRevision": ex.flow_revision,
        "state": _state(ex),
        "startDate": ex.state.start_date,
        "endDate": ex.state.end_date,
        "originalId": ex.original_id or ex.id,
        "labels": dict(ex.labels),
        "outputs": dict(ex.outputs or {}),
    }


def trigger_variables(ex: Any, outputs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Kestra's `trigger.*` of an execution started by a Flow trigger, from the upstream
    execution `ex`; `outputs` replaces its outputs (merged with the preconditions' ones)."""
    failed = next((tr.task_id for tr in ex.task_runs if tr.state.current.is_failed), None)
    last = ex.task_runs[-1].task_id if ex.task_runs else None
    return {
        "executionId": ex.id,
        "namespace": ex.namespace,
        "flowId": ex.flow_id,
        "flowRevision": ex.flow_revision,
        "state": _state(ex),
        "startDate": ex.state.start_date,
        "endDate": ex.state.end_date,
        "executionLabels": nested_labels(ex.labels),
        "firstFailedTaskId": failed,
        "lastTaskId": last,
        "outputs": dict(ex.outputs or {}) if outputs is None else dict(outputs),
    }


def listens(trigger: Any, flow_namespace: str, flow_id: str, ex: Any) -> bool:
    """Whether the trigger of flow `flow_namespace.flow_id` looks at `ex` at all: not its own
    flow's executions (never recursive, as in Kestra), only the states it listens to."""
    if (ex.namespace, ex.flow_id) == (flow_namespace, flow_id):
        return False
    return bool(trigger.listens_to(_state(ex)))


def deep_merge(base: Mapping[str, Any], other: Mapping[str, Any]) -> dict[str, Any]:
    """`other` over `base`, mappings merged key by key."""
    out = dict(base)
    for key, value in other.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


# -- decisions ---------------------------------------------------------------------------------


def _window(preconditions: Any, progress: Progress | None, now: datetime) -> Progress | None:
    """The progress of the window `now` is in (a new, empty one when the stored one is over or
    its definition changed); None when `now` is outside every window (a daily one)."""
    time_window = preconditions.time_window
    key = time_window.fingerprint()
    if progress is not None and progress.window != key:
        progress = None
    span = time_window.sliding
    if span is not None:
        progress = progress or Progress(key)
        return replace(progress, start=None, end=None, met={k: t for k, t in progress.met.items() if t >= now - span})
    if progress is not None and progress.start is not None and progress.holds(now):
        return progress
    bounds = time_window.bounds(now)
    if bounds is None or not bounds[0] <= now < bounds[1]:
        return None
    return Progress(key, bounds[0], bounds[1])


def decide_flow(
    trigger: Any,
    state: TriggerState,
    now: datetime,
    *,
    results: Mapping[str, bool] | None,
    namespace: str,
    flow_id: str,
    outputs: Mapping[str, Any] | None = None,
) -> FlowOutcome:
    """What a Flow trigger does with an upstream execution whose conditions held.

    `results` says which preconditions it meets (by key; None without preconditions);
    `namespace`, `flow_id` and `outputs` are the upstream execution's.
    """
    if state.disabled or getattr(trigger, "disabled", False):
        return FlowOutcome(state, reason="disabled")
    own = dict(outputs or {})
    preconditions = getattr(trigger, "preconditions", None)
    if preconditions is None or results is None:
        return FlowOutcome(replace(state, date=now), True, own)
    matched = [key for key, ok in results.items() if ok]
    progress = _window(preconditions, state.progress, now)
    if progress is None:
        expired = state.progress is not None and not state.progress.holds(now)
        new = replace(state, progress=None) if expired else state
        return FlowOutcome(new, reason="outside the time window")
    met = {key: when for key, when in progress.met.items() if key in results}  # forget removed ones
    window_outputs = dict(progress.outputs)
    for key in matched:
        met[key] = now
    if matched and own:
        window_outputs[namespace] = {**(window_outputs.get(namespace) or {}), flow_id: own}
    fire = bool(matched) and all(key in met for key in results)
    merged = deep_merge(own, window_outputs) if fire else None
    if fire and getattr(preconditions, "reset_on_success", True):
        met, window_outputs = {}, {}
    new = replace(state, progress=replace(progress, met=met, outputs=window_outputs), date=now if fire else state.date)
    reason = None if fire else ("no precondition met" if not matched else "preconditions not all met yet")
    return FlowOutcome(new, fire, merged, reason)


def stop_after(states: Iterable[str] | None, state: TriggerState, ended: str) -> tuple[TriggerState, bool]:
    """An execution the trigger started ended in `ended`: disable the trigger when that is one
    of its `stopAfter` `states`. Returns (state, whether it was disabled now)."""
    stop = {str(s).upper() for s in (states or ())}
    if state.disabled or str(ended).upper() not in stop:
        return state, False
    return replace(state, disabled=True), True
