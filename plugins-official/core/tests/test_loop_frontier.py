"""Loops keep a frontier between two resolves; they must decide exactly as a full reading does.

ForEach, EachSequential and EachParallel remember, per task run, how far they got, and with an
`IncrementalFlowableContext` read only the children that changed. These tests drive the same
loop with a plain context (everything read at every resolve) and an incremental one, finishing
random children with random states in a seeded order, and compare every decision; then they
check that the frontier starts over when the context cannot vouch for it.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from tercel_sdk import State

OUTCOMES = [State.SUCCESS] * 12 + [State.FAILED, State.WARNING, State.SKIPPED, State.KILLED]


def logs(*ids: str) -> list[dict[str, Any]]:
    return [{"id": i, "type": "tercel.core.Log", "message": i} for i in ids]


def drive(sim: Any, seed: int, *, reload_at: int = -1, forget_at: int = -1) -> tuple[list[Any], State, int]:
    """Resolve, then finish one to three running children (random states), until the end.

    After `reload_at` resolves the context is replaced by a fresh one of its kind (same task,
    same children): what a reload of the execution looks like. After `forget_at` resolves the
    task forgets its frontiers while the context goes on tracking changes (an eviction).
    """
    rng = random.Random(seed)
    for steps in range(10_000):
        if steps == reload_at:
            fresh = type(sim)(sim.task)
            fresh.runs, fresh.created, fresh.max_running = sim.runs, sim.created, sim.max_running
            sim = fresh
        if steps == forget_at:
            sim.task._frontiers.clear()
        result = sim.step()
        if result.state is not None:
            return sim.created, result.state, sim.max_running
        running = sim.running()
        assert running, "stuck: nothing runs and no final state"
        for run in rng.sample(running, k=min(len(running), rng.randint(1, 3))):
            sim.finish(run, rng.choice(OUTCOMES))
    raise AssertionError("too many steps")


SPECS = [
    *(
        {"id": "loop", "type": "tercel.core.ForEach", "values": list(range(9)), "concurrencyLimit": limit,
         "tasks": logs(*tasks), "errors": logs("e1", "e2"), "finally": logs("f")}
        for limit in (0, 1, 2, 3)
        for tasks in (("t1",), ("t1", "t2", "t3"))
    ),
    {"id": "loop", "type": "tercel.core.EachSequential", "value": list(range(7)), "tasks": logs("t1", "t2"),
     "errors": logs("e"), "finally": logs("f")},
    *(
        {"id": "loop", "type": "tercel.core.EachParallel", "value": list(range(7)), "concurrent": concurrent,
         "tasks": logs("t1", "t2"), "errors": logs("e"), "finally": logs("f")}
        for concurrent in (0, 1, 3)
    ),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s['type'].split('.')[-1]}-{s.get('concurrencyLimit', s.get('concurrent', ''))}-{len(s['tasks'])}")
@pytest.mark.parametrize("seed", range(12))
def test_incremental_and_full_readings_decide_the_same(spec: dict[str, Any], seed: int, sim_kinds, task) -> None:
    plain_sim, incremental_sim = sim_kinds
    plain = drive(plain_sim(task(spec)), seed)
    assert drive(incremental_sim(task(spec)), seed) == plain
    assert drive(incremental_sim(task(spec)), seed, reload_at=3 + seed % 5) == plain
    assert drive(incremental_sim(task(spec)), seed, forget_at=2 + seed % 4) == plain


def test_an_incremental_resolve_reads_only_the_iterations_that_changed(sim_kinds, task) -> None:
    """With many iterations running, a resolve after one of them ended reads that one only."""
    sim = sim_kinds[1](task({"id": "loop", "type": "tercel.core.ForEach", "values": list(range(500)),
                                        "concurrencyLimit": 0, "tasks": logs("t1", "t2")}))
    assert len(sim.step().next) == 500
    sim.step()  # sees the 500 creations
    asked: list[Any] = []
    original = sim.children_with_value
    sim.children_with_value = lambda value: asked.append(value) or original(value)  # type: ignore[method-assign]
    sim.finish(sim.runs[42], State.SUCCESS)
    assert [(n.task["id"], n.value) for n in sim.step().next] == [("t2", "42")]
    assert asked == ["42"]
