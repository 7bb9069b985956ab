"""Flowable helpers: Kestra's sequential/parallel semantics with `errors` and `finally`.

The context is a small real implementation of `FlowableContext` (the task run and its children),
and `drive` plays the engine: it creates the child runs a flowable asks for and ends them one at
a time with the states a test chooses, until the flowable has nothing left to do.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from tercel_sdk import (
    INHERIT,
    FlowableContext,
    FlowableResult,
    FlowableTask,
    NextTaskRun,
    Property,
    State,
    TaskList,
    TaskRunView,
    block_state,
    resolve_parallel,
    resolve_sequential,
)

S, W, F, K, SK, R = State.SUCCESS, State.WARNING, State.FAILED, State.KILLED, State.SKIPPED, State.RUNNING
_ids = itertools.count(1)


def t(task_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": task_id, "type": "tests.sdk.Noop", **extra}


@dataclass
class Ctx:
    """A flowable's view: its own task run and its children, in creation order."""

    task_run: TaskRunView = field(
        default_factory=lambda: TaskRunView(
            id="parent",
            task_id="flowable",
            parent_task_run_id=None,
            value=None,
            iteration=None,
            state=State.RUNNING,
        )
    )
    runs: list[TaskRunView] = field(default_factory=list)


    @property
    def now(self) -> datetime:
        """A fixed engine time: decisions must not read the clock."""
        from datetime import datetime

        return datetime(2026, 1, 1, tzinfo=UTC)
    def children(self) -> list[TaskRunView]:
        return list(self.runs)

    def render(self, value: Any) -> Any:
        raw = value.raw if isinstance(value, Property) else value
        if raw == "{{ taskrun.value }}":
            return self.task_run.value
        return raw

    # what the engine does
    def add(self, task_id: str, state: State, value: Any = None) -> Ctx:
        self.runs.append(
            TaskRunView(
                id=f"run{next(_ids)}",
                task_id=task_id,
                parent_task_run_id=self.task_run.id,
                value=value,
                iteration=None,
                state=state,
            )
        )
        return self

    def start(self, nxt: NextTaskRun) -> None:
        value = self.task_run.value if nxt.value is INHERIT else nxt.value
        self.add(nxt.task["id"], State.RUNNING, value)

    def end(self, run: TaskRunView, state: State) -> None:
        self.runs[self.runs.index(run)] = replace(run, state=state)

    def running(self) -> list[TaskRunView]:
        return [r for r in self.runs if not r.state.is_terminated]


def ctx_with(*runs: tuple[str, State] | tuple[str, State, Any]) -> Ctx:
    ctx = Ctx()
    for run in runs:
        ctx.add(*run)
    return ctx


def ids(nexts: Sequence[NextTaskRun]) -> list[str]:
    return [n.task["id"] for n in nexts]


@dataclass
class Trace:
    started: list[str] = field(default_factory=list)
    most_at_once: int = 0


def drive(
    ctx: Ctx,
    decide: Callable[[Ctx], Sequence[NextTaskRun]],
    outcomes: Mapping[str, State] | None = None,
) -> Trace:
    """Run the flowable to its end: start what it asks, end the oldest running child, repeat."""
    outcomes = outcomes or {}
    trace = Trace()
    for _ in range(200):
        for nxt in decide(ctx):
            ctx.start(nxt)
            trace.started.append(nxt.task["id"])
        running = ctx.running()
        trace.most_at_once = max(trace.most_at_once, len(running))
        if not running:
            return trace
        ctx.end(running[0], outcomes.get(running[0].task_id, S))
    raise AssertionError("the flowable never ends")


def sequential(tasks: Sequence[Mapping[str, Any]], errors: Any = None, finally_: Any = None) -> Any:
    return lambda ctx: resolve_sequential(ctx, tasks, errors, finally_)


def parallel(
    tasks: Sequence[Mapping[str, Any]], errors: Any = None, finally_: Any = None, concurrency: int = 0
) -> Any:
    return lambda ctx: resolve_parallel(ctx, tasks, errors, finally_, concurrency=concurrency)


MAIN = [t("a"), t("b"), t("c")]
ERRORS = [t("e1"), t("e2")]
FINALLY = [t("f1"), t("f2")]


def test_the_context_is_a_flowable_context() -> None:
    assert isinstance(Ctx(), FlowableContext)


# -- sequential -----------------------------------------------------------------------------------


def test_sequential_nothing_started_starts_the_first() -> None:
    nexts = resolve_sequential(Ctx(), MAIN, ERRORS, FINALLY)
    assert nexts == [NextTaskRun(t("a"))]
    assert nexts[0].value is INHERIT
    assert nexts[0].iteration is None


@pytest.mark.parametrize("state", [R, State.CREATED, State.QUEUED, State.PAUSED, State.RETRYING, State.KILLING])
def test_sequential_waits_for_an_unfinished_child(state: State) -> None:
    assert resolve_sequential(ctx_with(("a", state)), MAIN, ERRORS, FINALLY) == []
    assert block_state(ctx_with(("a", state)), MAIN, ERRORS, FINALLY) is None


@pytest.mark.parametrize("state", [S, W, SK])
def test_sequential_a_success_like_end_starts_the_next(state: State) -> None:
    assert ids(resolve_sequential(ctx_with(("a", state)), MAIN, ERRORS, FINALLY)) == ["b"]
    assert ids(resolve_sequential(ctx_with(("a", S), ("b", state)), MAIN)) == ["c"]


def test_sequential_after_success_runs_finally_in_order_and_never_errors() -> None:
    ctx = Ctx()
    trace = drive(ctx, sequential(MAIN, ERRORS, FINALLY))
    assert trace.started == ["a", "b", "c", "f1", "f2"]
    assert trace.most_at_once == 1
    assert block_state(ctx, MAIN, ERRORS, FINALLY) is S


def test_sequential_steps_of_finally() -> None:
    done = [("a", S), ("b", S), ("c", S)]
    assert ids(resolve_sequential(ctx_with(*done), MAIN, ERRORS, FINALLY)) == ["f1"]
    assert resolve_sequential(ctx_with(*done, ("f1", R)), MAIN, ERRORS, FINALLY) == []
    assert ids(resolve_sequential(ctx_with(*done, ("f1", S)), MAIN, ERRORS, FINALLY)) == ["f2"]
    assert resolve_sequential(ctx_with(*done, ("f1", S), ("f2", S)), MAIN, ERRORS, FINALLY) == []
    assert block_state(ctx_with(*done, ("f1", S)), MAIN, ERRORS, FINALLY) is None


def test_sequential_done_without_handlers() -> None:
    ctx = ctx_with(("a", S), ("b", S), ("c", S))
    assert resolve_sequential(ctx, MAIN) == []
    assert block_state(ctx, MAIN) is S


@pytest.mark.parametrize("failure", [F, K])
def test_sequential_failure_stops_then_errors_then_finally(failure: State) -> None:
    ctx = Ctx()
    trace = drive(ctx, sequential(MAIN, ERRORS, FINALLY), {"b": failure})
    assert trace.started == ["a", "b", "e1", "e2", "f1", "f2"]  # c never runs
    assert block_state(ctx, MAIN, ERRORS, FINALLY) is failure


def test_sequential_steps_of_errors() -> None:
    failed = [("a", F)]
    assert ids(resolve_sequential(ctx_with(*failed), MAIN, ERRORS, FINALLY)) == ["e1"]
    assert resolve_sequential(ctx_with(*failed, ("e1", R)), MAIN, ERRORS, FINALLY) == []
    assert block_state(ctx_with(*failed, ("e1", R)), MAIN, ERRORS, FINALLY) is None
    assert ids(resolve_sequential(ctx_with(*failed, ("e1", S)), MAIN, ERRORS, FINALLY)) == ["e2"]
    assert block_state(ctx_with(*failed, ("e1", S)), MAIN, ERRORS, FINALLY) is None
    both = [*failed, ("e1", S), ("e2", S)]
    assert ids(resolve_sequential(ctx_with(*both), MAIN, ERRORS, FINALLY)) == ["f1"]
    assert block_state(ctx_with(*both), MAIN, ERRORS) is F  # errors do not make it a success


def test_sequential_a_failing_error_handler_still_leads_to_finally() -> None:
    ctx = Ctx()
    trace = drive(ctx, sequential(MAIN, ERRORS, FINALLY), {"a": W, "b": F, "e1": F})
    assert trace.started == ["a", "b", "e1", "f1", "f2"]
    assert block_state(ctx, MAIN, ERRORS, FINALLY) is F


def test_sequential_failure_without_errors_goes_to_finally() -> None:
    ctx = Ctx()
    trace = drive(ctx, sequential(MAIN, None, FINALLY), {"a": F})
    assert trace.started == ["a", "f1", "f2"]
    assert block_state(ctx, MAIN, None, FINALLY) is F


def test_sequential_failure_without_any_handler_ends_the_block() -> None:
    ctx = ctx_with(("a", S), ("b", F))
    assert resolve_sequential(ctx, MAIN) == []
    assert block_state(ctx, MAIN) is F


def test_sequential_handlers_do_not_hide_the_worst_state() -> None:
    ctx = Ctx()
    drive(ctx, sequential(MAIN, ERRORS, FINALLY), {"b": W, "f2": F})
    assert block_state(ctx, MAIN, ERRORS, FINALLY) is F  # a failing `finally` fails the block
    ctx = Ctx()
    drive(ctx, sequential(MAIN, ERRORS, FINALLY), {"b": F, "e2": K})
    assert block_state(ctx, MAIN, ERRORS, FINALLY) is K


def test_sequential_disabled_tasks_are_skipped() -> None:
    tasks = [t("a", disabled=True), t("b"), t("c", disabled=True), t("d")]
    errors = [t("e1", disabled=True), t("e2")]
    finally_ = [t("f1", disabled=True)]
    ctx = Ctx()
    trace = drive(ctx, sequential(tasks, errors, finally_), {"d": F})
    assert trace.started == ["b", "d", "e2"]
    assert block_state(ctx, tasks, errors, finally_) is F


def test_sequential_only_disabled_errors_behave_like_no_errors() -> None:
    ctx = Ctx()
    trace = drive(ctx, sequential(MAIN, [t("e1", disabled=True)], FINALLY), {"a": F})
    assert trace.started == ["a", "f1", "f2"]


def test_sequential_with_every_task_disabled_goes_to_finally() -> None:
    tasks = [t("a", disabled=True)]
    assert ids(resolve_sequential(Ctx(), tasks, ERRORS, FINALLY)) == ["f1"]
    assert resolve_sequential(Ctx(), tasks) == []
    assert block_state(Ctx(), tasks) is S
    assert block_state(Ctx(), []) is S


def test_sequential_the_latest_run_of_a_restarted_task_counts() -> None:
    ctx = ctx_with(("a", F), ("a", R))
    assert resolve_sequential(ctx, MAIN, ERRORS) == []
    ctx = ctx_with(("a", F), ("a", S))
    assert ids(resolve_sequential(ctx, MAIN, ERRORS)) == ["b"]


def test_children_of_other_tasks_are_ignored() -> None:
    ctx = ctx_with(("elsewhere", F), ("a", S))
    assert ids(resolve_sequential(ctx, MAIN)) == ["b"]


def test_sequential_skipped_counts_as_success() -> None:
    ctx = ctx_with(("a", SK), ("b", SK), ("c", S))
    assert resolve_sequential(ctx, MAIN) == []
    assert block_state(ctx, MAIN) is S
    assert block_state(ctx_with(("a", SK), ("b", W), ("c", SK)), MAIN) is W


# -- values: one block per loop value -------------------------------------------------------------


def test_value_filters_the_runs_of_each_iteration() -> None:
    ctx = ctx_with(("a", S, "x"), ("b", F, "x"), ("a", R, "y"))
    assert ids(resolve_sequential(ctx, MAIN, ERRORS, value="x")) == ["e1"]
    assert resolve_sequential(ctx, MAIN, ERRORS, value="y") == []
    nexts = resolve_sequential(ctx, MAIN, ERRORS, value="z")
    assert nexts == [NextTaskRun(t("a"), "z")]
    assert block_state(ctx, MAIN, value="x") is F
    assert block_state(ctx, MAIN, value="y") is None


def test_value_is_passed_to_new_runs() -> None:
    ctx = ctx_with(("a", S, 1))
    (nxt,) = resolve_sequential(ctx, MAIN, value=1)
    assert (nxt.task["id"], nxt.value) == ("b", 1)
    assert [n.value for n in resolve_parallel(Ctx(), MAIN, value={"k": 2})] == [{"k": 2}] * 3


def test_a_loop_runs_its_block_once_per_value() -> None:
    values = ["v1", "v2"]

    def loop(ctx: Ctx) -> list[NextTaskRun]:
        for value in values:  # one value after the other
            nexts = resolve_sequential(ctx, MAIN[:2], ERRORS, FINALLY, value=value)
            if nexts or block_state(ctx, MAIN[:2], ERRORS, FINALLY, value=value) is None:
                return nexts
        return []

    ctx = Ctx()
    trace = drive(ctx, loop, {})
    assert trace.started == ["a", "b", "f1", "f2"] * 2
    assert [r.value for r in ctx.runs] == ["v1"] * 4 + ["v2"] * 4


# -- parallel -------------------------------------------------------------------------------------


def test_parallel_without_a_limit_starts_everything() -> None:
    nexts = resolve_parallel(Ctx(), MAIN, ERRORS, FINALLY)
    assert ids(nexts) == ["a", "b", "c"]
    ctx = Ctx()
    trace = drive(ctx, parallel(MAIN, ERRORS, FINALLY))
    assert trace.started == ["a", "b", "c", "f1", "f2"]
    assert trace.most_at_once == 3
    assert block_state(ctx, MAIN, ERRORS, FINALLY, parallel=True) is S


@pytest.mark.parametrize(("concurrency", "most"), [(0, 4), (1, 1), (2, 2), (3, 3), (10, 4), (-1, 4)])
def test_parallel_concurrency(concurrency: int, most: int) -> None:
    tasks = [t("a"), t("b"), t("c"), t("d")]
    ctx = Ctx()
    trace = drive(ctx, parallel(tasks, concurrency=concurrency))
    assert trace.started == ["a", "b", "c", "d"]
    assert trace.most_at_once == most
    assert block_state(ctx, tasks, parallel=True) is S


def test_parallel_concurrency_steps() -> None:
    assert ids(resolve_parallel(Ctx(), MAIN, concurrency=2)) == ["a", "b"]
    assert resolve_parallel(ctx_with(("a", R), ("b", R)), MAIN, concurrency=2) == []
    assert ids(resolve_parallel(ctx_with(("a", S), ("b", R)), MAIN, concurrency=2)) == ["c"]
    assert ids(resolve_parallel(ctx_with(("a", R)), MAIN, concurrency=1)) == []
    assert ids(resolve_parallel(ctx_with(("a", W)), MAIN, concurrency=1)) == ["b"]


def test_parallel_waits_for_the_running_ones_before_finally() -> None:
    ctx = ctx_with(("a", S), ("b", R), ("c", S))
    assert resolve_parallel(ctx, MAIN, ERRORS, FINALLY) == []
    assert block_state(ctx, MAIN, ERRORS, FINALLY, parallel=True) is None


def test_parallel_a_failure_stops_new_starts() -> None:
    ctx = ctx_with(("a", F), ("b", R))
    assert resolve_parallel(ctx, MAIN, ERRORS, FINALLY, concurrency=2) == []  # c never starts
    assert block_state(ctx, MAIN, ERRORS, FINALLY, parallel=True) is None
    ctx.end(ctx.runs[1], S)
    assert ids(resolve_parallel(ctx, MAIN, ERRORS, FINALLY, concurrency=2)) == ["e1"]


def test_parallel_failure_then_errors_then_finally() -> None:
    ctx = Ctx()
    trace = drive(ctx, parallel(MAIN, ERRORS, FINALLY, concurrency=2), {"a": F})
    assert trace.started == ["a", "b", "e1", "e2", "f1", "f2"]
    assert block_state(ctx, MAIN, ERRORS, FINALLY, parallel=True) is F


def test_parallel_all_started_then_one_fails() -> None:
    ctx = Ctx()
    trace = drive(ctx, parallel(MAIN, None, FINALLY), {"b": K, "c": F})
    assert trace.started == ["a", "b", "c", "f1", "f2"]
    assert block_state(ctx, MAIN, None, FINALLY, parallel=True) is K


def test_parallel_disabled_tasks_are_skipped() -> None:
    tasks = [t("a"), t("b", disabled=True), t("c")]
    assert ids(resolve_parallel(Ctx(), tasks)) == ["a", "c"]
    assert ids(resolve_parallel(Ctx(), [t("a", disabled=True)], None, FINALLY)) == ["f1"]


def test_parallel_value_filtering() -> None:
    ctx = ctx_with(("a", R, 1), ("b", F, 2))
    assert ids(resolve_parallel(ctx, MAIN, value=1)) == ["b", "c"]
    assert resolve_parallel(ctx, MAIN, value=2) == []  # failed: nothing new
    assert ids(resolve_parallel(ctx, MAIN, ERRORS, value=2)) == ["e1"]


# -- block_state ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([S, S, S], S),
        ([S, W, S], W),
        ([SK, SK, SK], S),
        ([S, SK, W], W),
        ([W, W, F], F),
    ],
)
@pytest.mark.parametrize("is_parallel", [False, True])
def test_block_state_worst_of_the_children(states: list[State], expected: State, is_parallel: bool) -> None:
    ctx = ctx_with(*zip(["a", "b", "c"], states, strict=True))
    assert block_state(ctx, MAIN, parallel=is_parallel) is expected


def test_block_state_parallel_killed_beats_failed() -> None:
    assert block_state(ctx_with(("a", F), ("b", K), ("c", W)), MAIN, parallel=True) is K
    assert block_state(ctx_with(("a", K), ("b", F), ("c", S)), MAIN, parallel=True) is K


def test_block_state_is_none_until_everything_ran() -> None:
    assert block_state(Ctx(), MAIN) is None
    assert block_state(ctx_with(("a", S)), MAIN) is None
    assert block_state(ctx_with(("a", S), ("b", S)), MAIN, parallel=True) is None  # c missing
    assert block_state(ctx_with(("a", S), ("b", S), ("c", S)), MAIN, None, FINALLY) is None
    assert block_state(ctx_with(("a", F)), MAIN, ERRORS) is None


def test_block_state_ignores_errors_runs_after_a_success() -> None:
    ctx = ctx_with(("a", S), ("b", S), ("c", S), ("e1", F))  # e.g. left over from a restart
    assert block_state(ctx, MAIN, ERRORS) is S


# -- a whole flowable task built on the helpers ---------------------------------------------------


class Steps(FlowableTask):
    """Sequential or parallel, as configured."""

    type_name = "tests.sdk.Steps"

    tasks: TaskList
    concurrent: bool = False

    def resolve(self, ctx: FlowableContext) -> FlowableResult:
        if self.concurrent:
            nexts = resolve_parallel(ctx, self.tasks, self.errors, self.finally_)
        else:
            nexts = resolve_sequential(ctx, self.tasks, self.errors, self.finally_)
        state = block_state(ctx, self.tasks, self.errors, self.finally_, parallel=self.concurrent)
        return FlowableResult(next=nexts, state=state)


@pytest.mark.parametrize("concurrent", [False, True])
def test_a_flowable_task_resolves_to_its_final_state(concurrent: bool) -> None:
    steps = Steps.model_validate(
        {"id": "s", "type": "tests.sdk.Steps", "concurrent": concurrent,
         "tasks": [t("a"), t("b")], "errors": [t("e")], "finally": [t("f")]}
    )  # fmt: skip
    ctx = Ctx()
    results: list[FlowableResult] = []

    def decide(c: Ctx) -> Sequence[NextTaskRun]:
        results.append(steps.resolve(c))
        return results[-1].next

    trace = drive(ctx, decide, {"b": F})
    assert trace.started == ["a", "b", "e", "f"]
    assert all(r.state is None for r in results[:-1])
    assert steps.resolve(ctx) == FlowableResult(next=[], state=F)
