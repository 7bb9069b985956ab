"""Restart and replay: the pure decisions that prepare an ended execution to run again.

Kestra's rules. **Restart** keeps the execution (same id): the task runs that failed (FAILED,
KILLED, CANCELLED) or are paused, and their ancestors, become RESTARTED and run again (a
runnable gets a new attempt); the task runs of every `errors` block are dropped, since they ran
because of the failure. **Replay** makes a new execution from an old one, up to one task run:
what ran before it is copied (with new ids), it and its ancestors run again, what came after it
is dropped. A flowable that runs again after doing its own work (a WorkingDirectory, a
Subflow, a ForEachItem) starts over: its children are dropped and its subflows start anew.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tercel_sdk import State

from tercel.flows import Flow

from ._executor import KILL_STATE_KEY
from ._model import Attempt, Execution, RunState, TaskRun

__all__ = ["RestartError", "RestartPlan", "prepare_replay", "prepare_restart"]

RESTARTED_LABEL = "system.restarted"


class RestartError(Exception):
    """The execution cannot be restarted or replayed as asked; the message says why."""


@dataclass
class RestartPlan:
    """What a restart changed besides the execution itself."""

    removed: list[str] = field(default_factory=list)
    """Task runs dropped (the `errors` runs, children of flowables that start over)."""
    subflows: list[str] = field(default_factory=list)
    """Failed subflow executions to restart in place (a Subflow's `restartBehavior: RETRY_FAILED`)."""


def _with_ancestors(ex: Execution, runs: list[TaskRun]) -> list[TaskRun]:
    seen: dict[str, TaskRun] = {}
    for tr in runs:
        for run in (tr, *ex.parents(tr)):
            seen.setdefault(run.id, run)
    return [tr for tr in ex.task_runs if tr.id in seen]  # creation order


def _descendants(ex: Execution, tr: TaskRun) -> list[str]:
    out: list[str] = []
    stack = [tr]
    while stack:
        for child in ex.children(stack.pop().id):
            out.append(child.id)
            stack.append(child)
    return out


def _in_errors(flow: Flow, task_id: str) -> bool:
    """True for the tasks of an `errors` block (and everything inside them)."""
    node = flow.tasks.get(task_id)
    while node is not None:
        if node.group == "errors":
            return True
        node = flow.tasks.get(node.parent_id) if node.parent_id else None
    return False


def _rerun(
    ex: Execution, flow: Flow, runs: list[TaskRun], now: datetime, instance: Callable[[Any], Any] | None = None
) -> RestartPlan:
    """Mark `runs` RESTARTED; returns the task runs to drop (children of flowables that start
    over) and the subflow executions to restart in place."""
    plan = RestartPlan()
    for tr in runs:
        node = flow.tasks.get(tr.task_id)
        tr.state.to(State.RESTARTED, now)
        tr.error = None
        if node is not None and node.flowable:
            kept = instance(node).restart_subflows(dict(tr.outputs or {})) if instance and "subflows" in tr.phases_done else None
            if kept is not None:  # its failed subflow executions restart in place
                tr.outputs, children = kept
                plan.subflows.extend(children)
            elif tr.phases_done or tr.work_pending:  # it did work of its own: start it over
                plan.removed.extend(_descendants(ex, tr))
                tr.phases_done, tr.work_pending, tr.outputs = [], None, None
            tr.state.to(State.RUNNING, now)
    return plan


def _reset_header(ex: Execution, now: datetime) -> None:
    ex.state.to(State.RESTARTED, now)
    ex.error = None
    ex.outputs = {}
    for key in (KILL_STATE_KEY, "__finalState"):
        ex.variables.pop(key, None)


def prepare_restart(
    flow: Flow, ex: Execution, now: datetime, instance: Callable[[Any], Any] | None = None
) -> RestartPlan:
    """Make an ended execution ready to run its failed parts again (in place).

    `instance(node)` gives a flowable's task object (to ask how its subflows restart). Returns
    the plan: the caller stores the execution, restarts `plan.subflows`, then starts it with
    `Executor.start_restarted`.
    """
    if not (ex.state.current.is_terminated or ex.state.current is State.PAUSED):
        raise RestartError(f"execution {ex.id} is {ex.state.current.value}: only an ended execution can be restarted")
    failed = [tr for tr in ex.task_runs if tr.state.current.is_failed or tr.state.current is State.PAUSED]
    failed = [tr for tr in failed if not _in_errors(flow, tr.task_id)]
    if not failed:
        raise RestartError(f"execution {ex.id} has no failed task run to restart from")
    plan = _rerun(ex, flow, _with_ancestors(ex, failed), now, instance)
    removed = {tr.id for tr in ex.task_runs if _in_errors(flow, tr.task_id)} | set(plan.removed)
    plan.removed = sorted(removed)
    ex.task_runs = [tr for tr in ex.task_runs if tr.id not in removed]
    ex.reindex()
    ex.outputs_revision += 1
    _reset_header(ex, now)
    ex.labels[RESTARTED_LABEL] = "true"
    ex.attempt_number += 1  # Kestra's metadata.nextAttempt(): `metadata.attemptNumber` counts runs
    return plan


def prepare_replay(
    flow: Flow, ex: Execution, task_run_id: str | None, new_id: Callable[[], str], now: datetime, *, revision: int | None = None
) -> Execution:
    """A new execution replaying `ex` from `task_run_id` (or from the start when None).

    Task runs created before it are copied with new ids; it and its ancestors run again; the
    ones created after it are dropped. The new execution is RESTARTED (CREATED without a task
    run); start it with `Executor.start_restarted` (or `start`).
    """
    if not ex.state.current.is_terminated:
        raise RestartError(f"execution {ex.id} is {ex.state.current.value}: only an ended execution can be replayed")
    replay = Execution(
        id=new_id(),
        namespace=ex.namespace,
        flow_id=ex.flow_id,
        flow_revision=revision or ex.flow_revision,
        state=RunState.new(State.CREATED, now),
        labels={k: v for k, v in ex.labels.items() if k != RESTARTED_LABEL},
        inputs=dict(ex.inputs),
        variables={k: v for k, v in ex.variables.items() if k not in (KILL_STATE_KEY, "__finalState")},
        # the same revision runs the same plugin versions; another revision runs its own lock
        plugins=dict(ex.plugins) if (revision or ex.flow_revision) == ex.flow_revision else dict(flow.lock),
        trigger=ex.trigger,
        original_id=ex.original_id or ex.id,
        attempt_number=ex.attempt_number + 1,
    )
    if task_run_id is None:
        return replay
    chosen = ex.find(task_run_id)
    if chosen is None:
        raise RestartError(f"execution {ex.id} has no task run {task_run_id!r}")
    if chosen.task_id not in flow.tasks:
        raise RestartError(f"task '{chosen.task_id}' is not in revision {flow.revision} of the flow: replay it on a revision that has it")
    position = ex.task_runs.index(chosen)
    again = {tr.id for tr in _with_ancestors(ex, [chosen])}
    kept = [tr for tr in ex.task_runs[: position + 1] if tr.id not in set(_descendants(ex, chosen))]
    ids = {tr.id: new_id() for tr in kept}
    copies: list[TaskRun] = []
    for tr in kept:
        copies.append(
            TaskRun(
                id=ids[tr.id],
                execution_id=replay.id,
                namespace=tr.namespace,
                flow_id=tr.flow_id,
                task_id=tr.task_id,
                parent_task_run_id=ids.get(tr.parent_task_run_id) if tr.parent_task_run_id else None,
                value=tr.value,
                iteration=tr.iteration,
                state=RunState(tr.state.current, list(tr.state.histories)),
                attempts=[Attempt(RunState(a.state.current, list(a.state.histories)), list(a.metrics), a.log_file) for a in tr.attempts],
                outputs=dict(tr.outputs) if tr.outputs is not None else None,
                error=tr.error,
                phases_done=list(tr.phases_done),
            )
        )
    replay.task_runs = copies
    replay.reindex()
    removed = set(_rerun(replay, flow, [replay.task_run(ids[i]) for i in ids if i in again], now).removed)
    replay.task_runs = [tr for tr in replay.task_runs if tr.id not in removed]
    replay.reindex()
    _reset_header(replay, now)
    return replay
