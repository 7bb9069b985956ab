"""The executor's decisions, with no database, no worker and no clock.

A scripted "worker" answers each Dispatch with the result a test wants, so every state
transition of Kestra's model is checked step by step.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tercel.engine import (
    Cancel,
    Delay,
    Dispatch,
    Execution,
    Executor,
    Finished,
    RunState,
    Step,
    TaskResult,
    build_variables,
)
from tercel.expressions import ExpressionEngine
from tercel.flows import load_flow
from tercel.plugins import PluginManager
from tercel_sdk import State

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PLUGINS = PluginManager(autoload=True).discover()
ENGINE = ExpressionEngine()


class Ports:
    def __init__(self, flow: Any) -> None:
        self.flow = flow
        self.ids = itertools.count(1)

    def task_class(self, node: Any) -> type:
        return PLUGINS.load_class(node.type)

    def render(self, ex: Execution, tr: Any, value: Any) -> Any:
        return ENGINE.render_value(value, build_variables(ex, self.flow.variables, tr))

    def new_id(self) -> str:
        return f"tr{next(self.ids)}"


Answer = Callable[[Any], tuple[State, dict[str, Any] | None]]


class Harness:
    """An execution and its executor, plus a fake clock and a scripted worker."""

    def __init__(self, yaml: str, answers: dict[str, Any] | None = None) -> None:
        self.flow = load_flow(yaml, PLUGINS)
        self.executor = Executor(self.flow, Ports(self.flow))
        self.ex = Execution("ex1", self.flow.namespace, self.flow.id, 1, RunState.new(State.CREATED, T0))
        self.now = T0
        self.answers = answers or {}
        self.pending: list[Dispatch] = []
        self.delays: list[Delay] = []
        self.cancels: list[Cancel] = []
        self.finished: State | None = None
        self.dispatched: list[str] = []

    def tick(self, seconds: float = 1.0) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def absorb(self, step: Step) -> Step:
        for effect in step.effects:
            if isinstance(effect, Dispatch):
                self.pending.append(effect)
                self.dispatched.append(self.ex.task_run(effect.task_run_id).task_id)
            elif isinstance(effect, Delay):
                self.delays.append(effect)
            elif isinstance(effect, Cancel):
                self.cancels.append(effect)
            elif isinstance(effect, Finished):
                assert self.finished is None, "finished twice"
                self.finished = effect.state
        return step

    def start(self) -> None:
        self.absorb(self.executor.start(self.ex, self.tick()))

    def answer(self, dispatch: Dispatch) -> None:
        tr = self.ex.task_run(dispatch.task_run_id)
        answer = self.answers.get(tr.task_id, State.SUCCESS)
        if callable(answer):
            answer = answer(tr)
        state, outputs = answer if isinstance(answer, tuple) else (answer, None)
        start = self.tick(0.1)
        result = TaskResult(tr.id, dispatch.attempt, state, start, self.tick(0.1), outputs, None if state is State.SUCCESS else "boom")
        self.absorb(self.executor.task_finished(self.ex, result, self.now))

    def run(self, max_steps: int = 10_000) -> State:
        self.start()
        return self.drain(max_steps)

    def drain(self, max_steps: int = 10_000) -> State:
        """Answer every dispatch and due retry until nothing is left; the final state."""
        for _ in range(max_steps):
            if self.pending:
                self.answer(self.pending.pop(0))
            elif self.delays:
                delay = self.delays.pop(0)
                self.tick(delay.seconds)
                self.absorb(self.executor.retry_due(self.ex, delay.task_run_id, self.now))
            else:
                break
        assert self.finished is not None, "execution did not finish"
        assert self.ex.state.current is self.finished
        return self.finished

    def states(self) -> list[tuple[str, str]]:
        return [(tr.task_id, tr.state.current.value) for tr in self.ex.task_runs]


def flow(tasks: str, extra: str = "") -> str:
    return f"id: f\nnamespace: tests\n{extra}tasks:\n{tasks}"


LOG = "    type: tercel.core.Log\n    message: hi\n"


def test_sequential_tasks_run_one_after_the_other_and_record_histories() -> None:
    h = Harness(flow(f"  - id: a\n{LOG}  - id: b\n{LOG}  - id: c\n{LOG}"))
    h.start()
    assert h.dispatched == ["a"]
    assert h.ex.state.current is State.RUNNING
    assert h.run() is State.SUCCESS
    assert h.states() == [("a", "SUCCESS"), ("b", "SUCCESS"), ("c", "SUCCESS")]
    tr = h.ex.task_runs[0]
    assert [s for s, _ in tr.state.histories] == [State.CREATED, State.RUNNING, State.SUCCESS]
    assert len(tr.attempts) == 1 and tr.attempts[0].state.current is State.SUCCESS
    assert [s for s, _ in h.ex.state.histories] == [State.CREATED, State.RUNNING, State.SUCCESS]


def test_a_failure_stops_the_flow_runs_errors_then_finally_and_ends_failed() -> None:
    h = Harness(
        flow(f"  - id: a\n{LOG}  - id: b\n{LOG}", f"errors:\n  - id: e\n{LOG}finally:\n  - id: z\n{LOG}"),
        {"a": State.FAILED},
    )
    assert h.run() is State.FAILED
    assert h.states() == [("a", "FAILED"), ("e", "SUCCESS"), ("z", "SUCCESS")]


def test_finally_runs_after_success_too_and_its_failure_fails_the_flow() -> None:
    h = Harness(flow(f"  - id: a\n{LOG}", f"finally:\n  - id: z\n{LOG}"), {"z": State.FAILED})
    assert h.run() is State.FAILED
    assert h.states() == [("a", "SUCCESS"), ("z", "FAILED")]


def test_retry_constant_until_success_keeps_every_attempt() -> None:
    outcomes = iter([State.FAILED, State.FAILED, State.SUCCESS])
    h = Harness(
        flow(f"  - id: a\n{LOG}    retry:\n      type: constant\n      interval: PT2S\n      maxAttempts: 5\n"),
        {"a": lambda tr: next(outcomes)},
    )
    assert h.run() is State.SUCCESS
    tr = h.ex.task_runs[0]
    assert [a.state.current for a in tr.attempts] == [State.FAILED, State.FAILED, State.SUCCESS]
    assert State.RETRYING in [s for s, _ in tr.state.histories]


def test_retry_gives_up_after_max_attempts() -> None:
    h = Harness(
        flow(f"  - id: a\n{LOG}    retry:\n      type: exponential\n      interval: PT1S\n      maxAttempts: 3\n"),
        {"a": State.FAILED},
    )
    assert h.run() is State.FAILED
    assert len(h.ex.task_runs[0].attempts) == 3


def test_retry_max_duration_stops_retrying() -> None:
    h = Harness(
        flow(f"  - id: a\n{LOG}    retry:\n      type: constant\n      interval: PT10S\n      maxDuration: PT15S\n"),
        {"a": State.FAILED},
    )
    assert h.run() is State.FAILED
    assert len(h.ex.task_runs[0].attempts) == 2


def test_warning_on_retry_ends_warning() -> None:
    outcomes = iter([State.FAILED, State.SUCCESS])
    h = Harness(
        flow(f"  - id: a\n{LOG}    retry:\n      type: constant\n      interval: PT1S\n      maxAttempts: 2\n      warningOnRetry: true\n"),
        {"a": lambda tr: next(outcomes)},
    )
    assert h.run() is State.WARNING


def test_allow_failure_turns_the_failure_into_a_warning_and_goes_on() -> None:
    h = Harness(flow(f"  - id: a\n{LOG}    allowFailure: true\n  - id: b\n{LOG}"), {"a": State.FAILED})
    assert h.run() is State.WARNING
    assert h.states() == [("a", "WARNING"), ("b", "SUCCESS")]
    assert h.ex.task_runs[0].attempts[0].state.current is State.FAILED


def test_allow_warning_counts_a_warning_as_success() -> None:
    h = Harness(flow(f"  - id: a\n{LOG}    allowWarning: true\n"), {"a": State.WARNING})
    assert h.run() is State.SUCCESS


def test_run_if_false_skips_the_task() -> None:
    h = Harness(flow(f"  - id: a\n{LOG}    runIf: \"{{{{ 1 == 2 }}}}\"\n  - id: b\n{LOG}"))
    assert h.run() is State.SUCCESS
    assert h.states() == [("a", "SKIPPED"), ("b", "SUCCESS")]
    assert h.dispatched == ["b"]


def test_run_if_error_fails_the_task_with_its_property_named() -> None:
    h = Harness(flow(f"  - id: a\n{LOG}    runIf: \"{{{{ nope.x }}}}\"\n"))
    assert h.run() is State.FAILED
    assert "runIf" in (h.ex.task_runs[0].error or "")


def test_disabled_tasks_are_not_run() -> None:
    h = Harness(flow(f"  - id: a\n{LOG}    disabled: true\n  - id: b\n{LOG}"))
    assert h.run() is State.SUCCESS
    assert h.states() == [("b", "SUCCESS")]


def test_kill_cancels_running_tasks_and_ends_killed() -> None:
    h = Harness(flow(f"  - id: p\n    type: tercel.core.Parallel\n    tasks:\n      - id: a\n{LOG.replace('    ', '        ')}      - id: b\n{LOG.replace('    ', '        ')}  - id: after\n{LOG}"))
    h.start()
    first = h.pending.pop(0)
    # a has started on a worker, b has not reported yet
    h.absorb(h.executor.task_started(h.ex, first.task_run_id, 1, h.tick()))
    h.absorb(h.executor.kill(h.ex, h.tick()))
    assert h.ex.state.current is State.KILLING
    assert [c.task_run_id for c in h.cancels] == [first.task_run_id, h.pending[0].task_run_id]
    for dispatch in [first, *h.pending]:
        tr = h.ex.task_run(dispatch.task_run_id)
        h.absorb(h.executor.task_finished(h.ex, TaskResult(tr.id, 1, State.KILLED, h.now, h.tick(), None, "killed"), h.now))
    assert h.finished is State.KILLED
    assert dict(h.states()) == {"p": "KILLED", "a": "KILLED", "b": "KILLED"}


def test_kill_before_a_worker_started_kills_created_task_runs_at_once() -> None:
    h = Harness(flow(f"  - id: a\n{LOG}"))
    h.start()
    h.absorb(h.executor.kill(h.ex, h.tick()))
    # the dispatched attempt has not started: it is killed, the worker is told to drop it
    tr = h.ex.task_runs[0]
    assert tr.state.current in (State.KILLED, State.KILLING)


def test_a_duplicate_result_is_ignored() -> None:
    h = Harness(flow(f"  - id: a\n{LOG}  - id: b\n{LOG}"))
    h.start()
    d = h.pending.pop(0)
    result = TaskResult(d.task_run_id, 1, State.SUCCESS, h.now, h.tick(), None)
    h.absorb(h.executor.task_finished(h.ex, result, h.now))
    again = h.executor.task_finished(h.ex, result, h.now)
    assert not again.changed and not again.effects
    assert h.dispatched == ["a", "b"]


def test_parallel_dispatches_all_children_at_once_or_within_concurrent() -> None:
    tasks = "".join(f"      - id: c{i}\n        type: tercel.core.Log\n        message: x\n" for i in range(4))
    h = Harness(flow(f"  - id: p\n    type: tercel.core.Parallel\n    tasks:\n{tasks}"))
    h.start()
    assert sorted(h.dispatched) == ["c0", "c1", "c2", "c3"]
    h2 = Harness(flow(f"  - id: p\n    type: tercel.core.Parallel\n    concurrent: 2\n    tasks:\n{tasks}"))
    h2.start()
    assert h2.dispatched == ["c0", "c1"]
    assert h2.run() is State.SUCCESS


def test_foreach_runs_children_per_value_with_values_and_iterations() -> None:
    h = Harness(
        flow("  - id: each\n    type: tercel.core.ForEach\n    values: [\"a\", 2, {\"k\": 1}]\n    tasks:\n      - id: child\n        type: tercel.core.Return\n        format: \"{{ taskrun.value }}\"\n"),
        {"child": lambda tr: (State.SUCCESS, {"value": tr.value})},
    )
    assert h.run() is State.SUCCESS
    children = [tr for tr in h.ex.task_runs if tr.task_id == "child"]
    assert [c.value for c in children] == ["a", "2", '{"k":1}']
    assert [c.iteration for c in children] == [0, 1, 2]


def test_after_execution_sees_the_final_state_which_it_does_not_change() -> None:
    seen: list[str] = []

    def record(tr: Any) -> tuple[State, None]:
        seen.append(ENGINE.render("{{ execution.state }}", build_variables(h.ex, {}, tr) | {"execution": {"state": h.ex.variables.get("__finalState")}}))
        return State.SUCCESS, None

    h = Harness(flow(f"  - id: a\n{LOG}", f"afterExecution:\n  - id: notify\n{LOG}"), {"a": State.FAILED, "notify": record})
    assert h.run() is State.FAILED
    assert seen == ["FAILED"]
    assert h.states() == [("a", "FAILED"), ("notify", "SUCCESS")]


def test_flow_outputs_are_rendered_and_typed_at_the_end() -> None:
    h = Harness(
        flow("  - id: r\n    type: tercel.core.Return\n    format: \"42\"\n", "outputs:\n  - id: answer\n    type: INT\n    value: \"{{ outputs.r.value }}\"\n"),
        {"r": (State.SUCCESS, {"value": "42"})},
    )
    assert h.run() is State.SUCCESS
    assert h.ex.outputs == {"answer": 42}


def test_a_flow_output_that_cannot_render_fails_the_execution() -> None:
    h = Harness(flow(f"  - id: a\n{LOG}", "outputs:\n  - id: o\n    value: \"{{ outputs.missing.value }}\"\n"))
    assert h.run() is State.FAILED
    assert "output 'o'" in (h.ex.error or "")


def test_a_flowable_that_cannot_render_fails_with_the_task_named() -> None:
    h = Harness(flow("  - id: each\n    type: tercel.core.ForEach\n    values: \"{{ inputs.nope }}\"\n    tasks:\n      - id: c\n        type: tercel.core.Log\n        message: x\n"))
    assert h.run() is State.FAILED
    assert "each" in (h.ex.task_runs[0].error or "")


@pytest.mark.parametrize(("condition", "branch"), [("true", "yes"), ("false", "no"), ("0", "no"), ("''", "no"), ("'x'", "yes")])
def test_if_truthiness(condition: str, branch: str) -> None:
    h = Harness(flow(f"  - id: if\n    type: tercel.core.If\n    condition: \"{{{{ {condition} }}}}\"\n    then:\n      - id: yes\n{LOG.replace('    ', '        ')}    else:\n      - id: no\n{LOG.replace('    ', '        ')}"))
    assert h.run() is State.SUCCESS
    assert h.dispatched == [branch]


def test_resume_after_a_restart_resolves_flowables_and_leaves_running_tasks_alone() -> None:
    h = Harness(flow(f"  - id: s\n    type: tercel.core.Sequential\n    tasks:\n      - id: a\n{LOG.replace('    ', '        ')}      - id: b\n{LOG.replace('    ', '        ')}"))
    h.start()
    running = h.pending.pop(0)
    h.absorb(h.executor.task_started(h.ex, running.task_run_id, 1, h.tick()))
    # a new process: a fresh executor over the same stored execution
    h.executor = Executor(h.flow, h.executor.ports)  # same id source: ids stay unique
    step = h.absorb(h.executor.resume_all(h.ex, h.tick()))
    assert not step.effects and not step.changed  # nothing runs twice
    h.answer(running)
    assert h.dispatched == ["a", "b"]
    h.answer(h.pending.pop(0))
    assert h.finished is State.SUCCESS


def test_updates_are_applied_only_when_the_task_succeeds() -> None:
    h = Harness(flow(f"  - id: a\n{LOG}  - id: b\n{LOG}"))
    h.start()
    first = h.pending.pop(0)
    tr = h.ex.task_run(first.task_run_id)
    updates = {"labels": {"team": "x"}, "setVariables": {"n": 1}}
    h.absorb(h.executor.task_finished(h.ex, TaskResult(tr.id, 1, State.FAILED, h.now, h.tick(), None, "boom", updates=updates), h.now))
    assert h.ex.labels == {} and h.ex.variables == {}
    h2 = Harness(flow(f"  - id: a\n{LOG}  - id: b\n{LOG}"))
    h2.start()
    first = h2.pending.pop(0)
    step = h2.absorb(h2.executor.task_finished(h2.ex, TaskResult(first.task_run_id, 1, State.SUCCESS, h2.now, h2.tick(), None, updates=updates), h2.now))
    assert step.header_changed and h2.ex.labels == {"team": "x"} and h2.ex.variables == {"n": 1}


def test_exit_ends_the_execution_and_its_parents_at_once_and_lets_running_siblings_finish() -> None:
    h = Harness(flow(f"  - id: p\n    type: tercel.core.Parallel\n    tasks:\n      - id: slow\n{LOG.replace('    ', '        ')}      - id: stop\n{LOG.replace('    ', '        ')}  - id: after\n{LOG}"))
    h.start()
    slow, stop = h.pending
    h.pending.clear()
    h.absorb(h.executor.task_finished(h.ex, TaskResult(stop.task_run_id, 1, State.SUCCESS, h.now, h.tick(), None, updates={"exit": "WARNING"}), h.now))
    assert h.finished is State.WARNING and not h.pending and not h.cancels  # the running sibling is not killed
    assert dict(h.states()) == {"p": "WARNING", "slow": "CREATED", "stop": "WARNING"}
    h.absorb(h.executor.task_finished(h.ex, TaskResult(slow.task_run_id, 1, State.SUCCESS, h.now, h.tick(), None), h.now))
    assert h.dispatched == ["slow", "stop"]  # `after` never started
    assert dict(h.states())["slow"] == "SUCCESS" and h.ex.state.current is State.WARNING


def test_flow_level_retry_applies_to_tasks_without_their_own() -> None:
    outcomes = iter([State.FAILED, State.SUCCESS])
    h = Harness(
        flow(f"  - id: a\n{LOG}", "retry:\n  type: constant\n  interval: PT1S\n  maxAttempts: 3\n"),
        {"a": lambda tr: next(outcomes)},
    )
    assert h.run() is State.SUCCESS
    assert [a.state.current for a in h.ex.task_runs[0].attempts] == [State.FAILED, State.SUCCESS]


def test_a_task_retry_wins_over_the_flow_retry_and_create_new_execution_does_not_retry_tasks() -> None:
    h = Harness(
        flow(f"  - id: a\n{LOG}    retry:\n      type: constant\n      interval: PT1S\n      maxAttempts: 2\n", "retry:\n  type: constant\n  interval: PT1S\n  maxAttempts: 5\n"),
        {"a": State.FAILED},
    )
    assert h.run() is State.FAILED and len(h.ex.task_runs[0].attempts) == 2
    h2 = Harness(
        flow(f"  - id: a\n{LOG}", "retry:\n  type: constant\n  interval: PT1S\n  maxAttempts: 5\n  behavior: CREATE_NEW_EXECUTION\n"),
        {"a": State.FAILED},
    )
    assert h2.run() is State.FAILED and len(h2.ex.task_runs[0].attempts) == 1


@pytest.mark.parametrize(("behavior", "state"), [("QUEUE", State.QUEUED), ("CANCEL", State.CANCELLED), ("FAIL", State.FAILED)])
def test_concurrency_limit_behaviors(behavior: str, state: State) -> None:
    h = Harness(flow(f"  - id: a\n{LOG}", f"concurrency:\n  limit: 1\n  behavior: {behavior}\n"))
    step = h.absorb(h.executor.start(h.ex, h.tick(), running=1))
    assert h.ex.state.current is state and not h.dispatched
    assert step.finished is (state is not State.QUEUED)
    if state is State.QUEUED:  # a slot frees: the queued execution starts
        h.absorb(h.executor.start(h.ex, h.tick(), running=0))
        assert h.ex.state.current is State.RUNNING and h.dispatched == ["a"]
        assert [s for s, _ in h.ex.state.histories] == [State.CREATED, State.QUEUED, State.RUNNING]


@pytest.mark.parametrize(("behavior", "final"), [("FAIL", State.FAILED), ("CANCEL", State.CANCELLED)])
def test_max_duration_sla_missed_ends_the_execution_and_labels_it(behavior: str, final: State) -> None:
    from tercel.engine import SlaTimer

    h = Harness(flow(f"  - id: a\n{LOG}", f"sla:\n  - id: slow\n    type: MAX_DURATION\n    duration: PT5M\n    behavior: {behavior}\n    labels:\n      sla: missed\n"))
    step = h.executor.start(h.ex, h.tick())
    h.absorb(step)
    assert [e for e in step.effects if isinstance(e, SlaTimer)] == [SlaTimer(300.0, "slow")]
    running = h.pending.pop(0)
    h.absorb(h.executor.task_started(h.ex, running.task_run_id, 1, h.tick()))
    h.absorb(h.executor.sla_due(h.ex, "slow", h.tick(300)))
    assert h.ex.labels == {"sla": "missed"} and [c.task_run_id for c in h.cancels] == [running.task_run_id]
    h.absorb(h.executor.task_finished(h.ex, TaskResult(running.task_run_id, 1, State.KILLED, h.now, h.tick(), None, "killed"), h.now))
    assert h.finished is final


def test_max_duration_sla_met_or_behavior_none_changes_nothing_but_labels() -> None:
    h = Harness(flow(f"  - id: a\n{LOG}", "sla:\n  - id: slow\n    type: MAX_DURATION\n    duration: PT1S\n    behavior: NONE\n    labels:\n      late: 'true'\n"))
    assert h.run() is State.SUCCESS
    h.absorb(h.executor.sla_due(h.ex, "slow", h.tick()))  # after the end: nothing happens
    assert h.ex.labels == {}
    h2 = Harness(flow(f"  - id: a\n{LOG}", "sla:\n  - id: slow\n    type: MAX_DURATION\n    duration: PT1S\n    behavior: NONE\n    labels:\n      late: 'true'\n"))
    h2.start()
    h2.absorb(h2.executor.sla_due(h2.ex, "slow", h2.tick()))
    assert h2.ex.labels == {"late": "true"} and h2.ex.state.current is State.RUNNING
    h2.answer(h2.pending.pop(0))
    assert h2.finished is State.SUCCESS


@pytest.mark.parametrize(("assertion", "final"), [("{{ outputs.r.value == 'ok' }}", State.SUCCESS), ("{{ outputs.r.value == 'nope' }}", State.FAILED)])
def test_execution_assertion_sla_is_checked_at_the_end(assertion: str, final: State) -> None:
    h = Harness(
        flow("  - id: r\n    type: tercel.core.Return\n    format: ok\n", f"sla:\n  - id: check\n    type: EXECUTION_ASSERTION\n    assert: \"{assertion}\"\n    behavior: FAIL\n"),
        {"r": (State.SUCCESS, {"value": "ok"})},
    )
    assert h.run() is final


# ------------------------------------------------------------------------- restart and replay
def _attempts(h: Harness, task_id: str) -> list[str]:
    tr = [t for t in h.ex.task_runs if t.task_id == task_id][-1]
    return [a.state.current.value for a in tr.attempts]


def test_restart_runs_the_failed_task_again_in_the_same_execution_and_drops_errors() -> None:
    answers: dict[str, Any] = {"b": State.FAILED}
    h = Harness(flow(f"  - id: a\n{LOG}  - id: b\n{LOG}  - id: c\n{LOG}", f"errors:\n  - id: on_error\n{LOG}"), answers)
    assert h.run() is State.FAILED
    assert h.states() == [("a", "SUCCESS"), ("b", "FAILED"), ("on_error", "SUCCESS")]
    answers["b"] = State.SUCCESS  # whatever broke is fixed
    h.finished = None
    step = h.absorb(h.executor.restart(h.ex, h.tick()))
    assert [h.ex.find(i) for i in step.removed] == [None]  # the errors run is gone
    assert h.dispatched[-1] == "b"
    assert h.drain() is State.SUCCESS
    assert h.states() == [("a", "SUCCESS"), ("b", "SUCCESS"), ("c", "SUCCESS")]
    assert _attempts(h, "b") == ["FAILED", "SUCCESS"]
    assert _attempts(h, "a") == ["SUCCESS"]  # not run again
    b = h.ex.task_runs[1]
    assert [s.value for s, _ in b.state.histories] == ["CREATED", "RUNNING", "FAILED", "RESTARTED", "RUNNING", "SUCCESS"]
    assert [s.value for s, _ in h.ex.state.histories] == ["CREATED", "RUNNING", "FAILED", "RESTARTED", "RUNNING", "SUCCESS"]
    assert h.ex.labels["system.restarted"] == "true"


def test_restart_inside_a_loop_reruns_only_the_failed_iteration() -> None:
    answers: dict[str, Any] = {"work": lambda tr: (State.FAILED if tr.value == "2" else State.SUCCESS, None)}
    h = Harness(flow("  - id: loop\n    type: tercel.core.ForEach\n    values: [1, 2, 3]\n    tasks:\n      - id: work\n" + LOG.replace("    ", "        ")), answers)
    assert h.run() is State.FAILED
    answers["work"] = State.SUCCESS
    h.finished = None
    h.absorb(h.executor.restart(h.ex, h.tick()))
    assert h.drain() is State.SUCCESS
    assert [(t.task_id, t.value, len(t.attempts)) for t in h.ex.task_runs if t.task_id == "work"] == [
        ("work", "1", 1), ("work", "2", 2), ("work", "3", 1)
    ]
    loop = h.ex.task_runs[0]
    assert [s.value for s, _ in loop.state.histories][-3:] == ["RESTARTED", "RUNNING", "SUCCESS"]


def test_restart_is_refused_for_running_or_successful_executions() -> None:
    from tercel.engine import RestartError

    h = Harness(flow(f"  - id: a\n{LOG}"))
    h.start()
    with pytest.raises(RestartError, match="only an ended execution"):
        h.executor.restart(h.ex, h.tick())
    h.drain()
    with pytest.raises(RestartError, match="no failed task run"):
        h.executor.restart(h.ex, h.tick())


def test_replay_copies_what_ran_before_and_runs_from_the_chosen_task_run() -> None:
    from tercel.engine import prepare_replay

    h = Harness(flow(f"  - id: a\n{LOG}  - id: b\n{LOG}  - id: c\n{LOG}"))
    assert h.run() is State.SUCCESS
    b = h.ex.task_runs[1]
    ids = iter(f"new{i}" for i in range(100))
    replay = prepare_replay(h.flow, h.ex, b.id, lambda: next(ids), h.tick())
    assert replay.id == "new0" and replay.original_id == "ex1"
    assert [(t.task_id, t.state.current.value) for t in replay.task_runs] == [("a", "SUCCESS"), ("b", "RESTARTED")]
    assert all(t.execution_id == "new0" and t.id.startswith("new") for t in replay.task_runs)
    h2 = Harness(flow(f"  - id: a\n{LOG}  - id: b\n{LOG}  - id: c\n{LOG}"))
    h2.ex = replay
    h2.absorb(h2.executor.start_restarted(replay, h2.tick()))
    assert h2.dispatched == ["b"]
    assert h2.drain() is State.SUCCESS
    assert h2.states() == [("a", "SUCCESS"), ("b", "SUCCESS"), ("c", "SUCCESS")]
    assert len(replay.task_runs[1].attempts) == 2
    assert h.ex.task_runs[2].state.current is State.SUCCESS  # the original is untouched


def test_a_replay_runs_the_plugin_versions_of_the_revision_it_replays_on() -> None:
    from dataclasses import replace

    from tercel.engine import prepare_replay

    h = Harness(flow(f"  - id: a\n{LOG}"))
    assert h.run() is State.SUCCESS
    h.ex.plugins = {"tercel.core.Log": {"distribution": "tercel-plugin-core", "version": "0.9.0"}}  # what it ran with
    ids = iter(f"new{i}" for i in range(100))
    same = prepare_replay(h.flow, h.ex, None, lambda: next(ids), h.tick())
    assert same.plugins == h.ex.plugins
    newer = replace(h.flow, revision=h.flow.revision + 1)
    other = prepare_replay(newer, h.ex, None, lambda: next(ids), h.tick(), revision=newer.revision)
    assert other.plugins == h.flow.lock and other.flow_revision == newer.revision


def test_replay_of_a_nested_task_run_reruns_its_parents_and_drops_what_followed() -> None:
    from tercel.engine import prepare_replay

    source = flow("  - id: seq\n    type: tercel.core.Sequential\n    tasks:\n      - id: x\n" + LOG.replace("    ", "        ")
                  + "      - id: y\n" + LOG.replace("    ", "        ") + f"  - id: z\n{LOG}")
    h = Harness(source)
    assert h.run() is State.SUCCESS
    x = next(t for t in h.ex.task_runs if t.task_id == "x")
    ids = iter(f"n{i}" for i in range(100))
    replay = prepare_replay(h.flow, h.ex, x.id, lambda: next(ids), h.tick())
    assert [(t.task_id, t.state.current.value) for t in replay.task_runs] == [("seq", "RUNNING"), ("x", "RESTARTED")]
    assert replay.task_runs[1].parent_task_run_id == replay.task_runs[0].id
    with pytest.raises(Exception, match="no task run 'nope'"):
        prepare_replay(h.flow, h.ex, "nope", lambda: next(ids), h.tick())
