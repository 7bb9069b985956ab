"""A loop of N iterations costs O(N) in all, through the pure executor.

Each event (a child ended) used to make the loop read every child again (a `TaskRunView` per
child, `_progress` per value) and the `outputs` map to be rebuilt for every task started: N
iterations cost N². These tests count that work per iteration at two sizes; it must not grow
with the number of iterations. No clock is read: the counts are exact.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tercel.engine import (
    Dispatch,
    Execution,
    Executor,
    Finished,
    RunState,
    TaskResult,
    TaskRun,
    build_variables,
)
from tercel.engine import _variables as variables_module
from tercel.expressions import ExpressionEngine
from tercel.flows import load_flow
from tercel.plugins import PluginManager
from tercel_plugin_core.flow import _control
from tercel_sdk import State

PLUGINS = PluginManager(autoload=True).discover()
ENGINE = ExpressionEngine()
T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Ports:
    def __init__(self, flow: Any) -> None:
        self.flow = flow
        self.ids = itertools.count(1)

    def task_class(self, node: Any) -> type:
        return PLUGINS.load_class(node.type)

    def render(self, ex: Execution, tr: Any, value: Any, variables: Any = None) -> Any:
        return ENGINE.render_value(value, build_variables(ex, self.flow.variables, tr))

    def new_id(self) -> str:
        return f"tr{next(self.ids)}"


def run(source: str) -> Execution:
    """Run a flow to its end; the scripted worker answers in order, each task returning its
    value as output after reading its variables (`outputs` included, as a worker does)."""
    flow = load_flow(source, PLUGINS)
    executor = Executor(flow, Ports(flow))
    ex = Execution("ex1", flow.namespace, flow.id, 1, RunState.new(State.CREATED, T0))
    now = T0
    pending: list[Dispatch] = []
    finished: list[State] = []

    def absorb(effects: list[Any]) -> None:
        pending.extend(e for e in effects if isinstance(e, Dispatch))
        finished.extend(e.state for e in effects if isinstance(e, Finished))

    absorb(executor.start(ex, now).effects)
    while pending:
        dispatch = pending.pop(0)
        tr = ex.task_run(dispatch.task_run_id)
        build_variables(ex, flow.variables, tr)  # what a worker reads when the task starts
        now += timedelta(seconds=1)
        result = TaskResult(tr.id, dispatch.attempt, State.SUCCESS, now, now, {"value": tr.value})
        absorb(executor.task_finished(ex, result, now).effects)
    assert finished == [State.SUCCESS]
    return ex


def counted(monkeypatch: pytest.MonkeyPatch, source: str, iterations: int) -> dict[str, float]:
    """Views built, `_progress` calls and loop-value walks per iteration for one run."""
    calls: Counter[str] = Counter()

    def counting(name: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapper

    with monkeypatch.context() as patch:
        patch.setattr(TaskRun, "view", counting("views", TaskRun.view))
        patch.setattr(_control, "_progress", counting("progress", _control._progress))
        patch.setattr(variables_module, "_value_chain", counting("chains", variables_module._value_chain))
        ex = run(source)
    assert sum(1 for tr in ex.task_runs if tr.task_id == "work") == iterations * source.count("id: work")
    return {name: calls[name] / iterations for name in ("views", "progress", "chains")}


def loop(kind: str, n: int, extra: str = "", tasks: tuple[str, ...] = ("work",)) -> str:
    body = "".join(f"      - id: {t}\n        type: tercel.core.Log\n        message: hi\n" for t in tasks)
    return (
        f"id: f\nnamespace: tests\ntasks:\n  - id: loop\n    type: tercel.core.{kind}\n"
        f"    {'value' if kind.startswith('Each') else 'values'}: {list(range(n))}\n{extra}"
        f"    tasks:\n{body}    finally:\n      - id: done\n        type: tercel.core.Log\n        message: done\n"
        "  - id: after\n    type: tercel.core.Log\n    message: \"{{ outputs.work['3'].value }}\"\n"
    )


CASES = {
    "ForEach one at a time": ("ForEach", "", ("work",)),
    "ForEach all at once": ("ForEach", "    concurrencyLimit: 0\n", ("work",)),
    "ForEach two tasks, three at a time": ("ForEach", "    concurrencyLimit: 3\n", ("work", "more")),
    "EachSequential": ("EachSequential", "", ("work",)),
    "EachParallel": ("EachParallel", "", ("work",)),
}


@pytest.mark.parametrize("case", CASES)
def test_the_work_per_iteration_does_not_grow_with_the_loop(monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    kind, extra, tasks = CASES[case]
    small = counted(monkeypatch, loop(kind, 40, extra, tasks), 40)
    big = counted(monkeypatch, loop(kind, 400, extra, tasks), 400)
    for name in ("views", "progress", "chains"):
        # quadratic work shows as ~N/2 per iteration (20 vs 200 here); linear work stays put
        assert big[name] <= small[name] * 1.1 + 0.5, (name, small, big)
        assert big[name] <= 10 * len(tasks), (name, big)


def test_nested_loops_stay_linear(monkeypatch: pytest.MonkeyPatch) -> None:
    def nested(n: int) -> str:
        return (
            "id: f\nnamespace: tests\ntasks:\n  - id: outer\n    type: tercel.core.ForEach\n"
            f"    values: {list(range(n))}\n    concurrencyLimit: 2\n    tasks:\n"
            "      - id: inner\n        type: tercel.core.ForEach\n        values: [a, b]\n        tasks:\n"
            "          - id: work\n            type: tercel.core.Log\n            message: \"{{ parents[0].taskrun.value }}\"\n"
        )

    small = counted(monkeypatch, nested(20), 40)
    big = counted(monkeypatch, nested(200), 400)
    for name in ("views", "progress", "chains"):
        assert big[name] <= small[name] * 1.1 + 0.5, (name, small, big)
