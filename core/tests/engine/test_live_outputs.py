"""The execution's in-memory indexes: children by value, changes since a flowable last asked,
and the `outputs` map kept up to date (always what a rebuild from scratch gives)."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime
from typing import Any

import pytest
from tercel.engine import Execution, RunState, TaskRun, outputs_map
from tercel.engine._variables import _build
from tercel_sdk import State

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def execution() -> Execution:
    return Execution("ex", "tests", "f", 1, RunState.new(State.RUNNING, T0))


def add(ex: Execution, task_id: str, parent: TaskRun | None = None, value: Any = None) -> TaskRun:
    tr = TaskRun(
        f"tr{len(ex.task_runs)}", ex.id, ex.namespace, ex.flow_id, task_id,
        parent.id if parent else None, value if value is not None else (parent.value if parent else None),
        None, RunState.new(State.CREATED, T0),
    )
    ex.add(tr)
    return tr


def set_outputs(ex: Execution, tr: TaskRun, outputs: dict[str, Any] | None) -> None:
    tr.outputs = outputs
    ex.outputs_changed(tr)


def test_children_with_value_are_indexed_and_follow_reindex() -> None:
    ex = execution()
    loop = add(ex, "loop")
    runs = [add(ex, "t", loop, v) for v in ("a", "b", "a")]
    assert ex.children_with_value(loop.id, "a") == [runs[0], runs[2]]
    assert ex.children_with_value(loop.id, "z") == []
    assert ex.children_with_value(None, None) == [loop]
    odd = add(ex, "t", loop, ["not", "hashable"])
    assert ex.children_with_value(loop.id, ["not", "hashable"]) == [odd]
    ex.task_runs = [tr for tr in ex.task_runs if tr is not runs[0]]
    ex.reindex()
    assert ex.children_with_value(loop.id, "a") == [runs[2]]


def test_changes_are_told_from_the_first_ask_on_and_start_over_after_reindex() -> None:
    ex = execution()
    loop = add(ex, "loop")
    first = add(ex, "t", loop, "a")
    assert ex.take_changes(loop.id) is None  # not tracked before: read everything
    second = add(ex, "t", loop, "b")
    ex.task_run_ended(first)
    add(ex, "other")  # not a child of the loop
    assert ex.take_changes(loop.id) == [second, first]
    assert ex.take_changes(loop.id) == []
    ex.reindex()  # a restart: whoever tracked starts over
    assert ex.take_changes(loop.id) is None


def random_execution(rng: random.Random) -> tuple[Execution, list[TaskRun]]:
    """Tasks at the top, in loops, in nested loops (sometimes repeating the parent's value,
    which makes outputs collide) and the same task id run again (a later run wins)."""
    ex = execution()
    leaves: list[TaskRun] = []
    outer = add(ex, "outer")
    for _ in range(rng.randint(5, 25)):
        kind = rng.random()
        if kind < 0.3:
            leaves.append(add(ex, rng.choice(["a", "b"])))
        elif kind < 0.7:
            leaves.append(add(ex, rng.choice(["t", "u"]), outer, rng.choice("xyz")))
        else:
            inner = add(ex, "inner", outer, rng.choice("xy"))
            leaves.append(add(ex, "deep", inner, rng.choice("xyq")))
    return ex, leaves


@pytest.mark.parametrize("seed", range(60))
def test_the_live_map_is_always_what_a_rebuild_gives(seed: int) -> None:
    rng = random.Random(seed)
    ex, leaves = random_execution(rng)
    snapshots: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for step in range(40):
        tr = rng.choice(leaves)
        set_outputs(ex, tr, None if rng.random() < 0.15 else {"n": step})
        if rng.random() < 0.1:
            ex.outputs_revision += 1  # someone changed outputs without saying which: rebuilt
        if rng.random() < 0.5:
            snapshot = outputs_map(ex)
            assert snapshot == _build(ex)
            snapshots.append((snapshot, copy.deepcopy(snapshot)))
    assert outputs_map(ex) == _build(ex)
    for snapshot, as_it_was in snapshots:
        assert snapshot == as_it_was  # a snapshot never moves once handed out


def test_a_new_output_is_placed_without_walking_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    from tercel.engine import _variables

    ex = execution()
    loop = add(ex, "loop")
    outputs_map(ex)
    walks = 0
    chain = _variables._value_chain

    def counting(*args: Any) -> Any:
        nonlocal walks
        walks += 1
        return chain(*args)

    monkeypatch.setattr(_variables, "_value_chain", counting)
    for i in range(200):
        set_outputs(ex, add(ex, "t", loop, str(i)), {"i": i})
        assert outputs_map(ex)["t"][str(i)] == {"i": i}
    assert walks == 200  # one per new output, not one per task run per output
