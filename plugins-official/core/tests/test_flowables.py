"""Decisions of the flowable types: `resolve` driven step by step by the `FlowSim` engine double."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from tercel_plugin_core.flow import ForEach
from tercel_sdk import FlowableContext, State, TaskFailed


def log(task_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": task_id, "type": "tercel.core.Log", "message": task_id, **extra}


def logs(*ids: str) -> list[dict[str, Any]]:
    return [log(i) for i in ids]


# ------------------------------------------------------------------------------- Sequential


def test_sim_is_a_flowable_context(sim):
    assert isinstance(sim({"id": "s", "type": "tercel.core.Sequential", "tasks": logs("a")}), FlowableContext)


def test_sequential_runs_tasks_in_order_one_at_a_time(sim):
    s = sim({"id": "seq", "type": "tercel.core.Sequential", "tasks": logs("a", "b", "c")})
    result = s.run()
    assert result.state is State.SUCCESS
    assert s.ids() == ["a", "b", "c"]
    assert s.max_running == 1


def test_sequential_waits_while_a_child_runs(sim):
    s = sim({"id": "seq", "type": "tercel.core.Sequential", "tasks": logs("a", "b")})
    assert [n.task["id"] for n in s.step().next] == ["a"]
    for _ in range(3):  # called again and again while `a` runs: nothing new, not done
        result = s.step()
        assert (list(result.next), result.state) == ([], None)
    assert s.ids() == ["a"]


def test_sequential_failure_stops_then_errors_then_finally(sim):
    s = sim(
        {
            "id": "seq",
            "type": "tercel.core.Sequential",
            "tasks": logs("a", "b", "c"),
            "errors": logs("e1", "e2"),
            "finally": logs("f1", "f2"),
        }
    )
    result = s.run({"b": State.FAILED})
    assert s.ids() == ["a", "b", "e1", "e2", "f1", "f2"]
    assert result.state is State.FAILED


def test_sequential_success_skips_errors_runs_finally(sim):
    s = sim(
        {
            "id": "seq",
            "type": "io.kestra.plugin.core.flow.Sequential",
            "tasks": logs("a", "b"),
            "errors": logs("e1"),
            "finally": logs("f1"),
        }
    )
    assert s.run().state is State.SUCCESS
    assert s.ids() == ["a", "b", "f1"]


def test_sequential_failing_error_handler_still_runs_finally(sim):
    s = sim(
        {
            "id": "seq",
            "type": "tercel.core.Sequential",
            "tasks": logs("a"),
            "errors": logs("e1", "e2"),
            "finally": logs("f1"),
        }
    )
    assert s.run({"a": State.FAILED, "e1": State.FAILED}).state is State.FAILED
    assert s.ids() == ["a", "e1", "f1"]


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ({}, State.SUCCESS),
        ({"b": State.WARNING}, State.WARNING),
        ({"b": State.SKIPPED}, State.SUCCESS),
        ({"a": State.WARNING, "b": State.FAILED}, State.FAILED),
        ({"b": State.KILLED}, State.KILLED),
        ({"f": State.WARNING}, State.WARNING),
        ({"f": State.FAILED}, State.FAILED),
    ],
)
def test_block_state_is_the_worst_child_state(sim, outcomes, expected):
    s = sim({"id": "seq", "type": "tercel.core.Sequential", "tasks": logs("a", "b"), "finally": logs("f")})
    assert s.run(outcomes).state is expected


def test_sequential_skips_disabled_tasks(sim):
    s = sim(
        {
            "id": "seq",
            "type": "tercel.core.Sequential",
            "tasks": [log("a"), log("b", disabled=True), log("c")],
        }
    )
    assert s.run().state is State.SUCCESS
    assert s.ids() == ["a", "c"]


def test_sequential_needs_tasks(task):
    with pytest.raises(ValidationError):
        task({"id": "seq", "type": "tercel.core.Sequential", "tasks": []})


# --------------------------------------------------------------------------------- Parallel


def test_parallel_starts_everything_at_once_by_default(sim):
    s = sim({"id": "par", "type": "tercel.core.Parallel", "tasks": logs("a", "b", "c")})
    assert [n.task["id"] for n in s.step().next] == ["a", "b", "c"]
    assert s.run().state is State.SUCCESS
    assert s.max_running == 3


def test_parallel_respects_concurrent(sim):
    s = sim(
        {"id": "par", "type": "tercel.core.Parallel", "concurrent": 2, "tasks": logs("a", "b", "c", "d", "e")}
    )
    assert [n.task["id"] for n in s.step().next] == ["a", "b"]
    assert s.run().state is State.SUCCESS
    assert s.ids() == ["a", "b", "c", "d", "e"]
    assert s.max_running == 2


def test_parallel_failure_starts_nothing_new_and_waits_for_running(sim):
    s = sim(
        {
            "id": "par",
            "type": "io.kestra.core.tasks.flows.Parallel",
            "concurrent": 2,
            "tasks": logs("a", "b", "c", "d"),
            "errors": logs("e1"),
            "finally": logs("f1"),
        }
    )
    s.step()
    a, b = s.runs
    s.finish(a, State.FAILED)
    result = s.step()
    assert (list(result.next), result.state) == ([], None)  # b still runs, c must not start
    s.finish(b, State.SUCCESS)
    assert s.run().state is State.FAILED
    assert s.ids() == ["a", "b", "e1", "f1"]


# ------------------------------------------------------------------------------------ If


def if_task(condition: Any, *, with_else: bool = True, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "id": "if",
        "type": "tercel.core.If",
        "condition": condition,
        "then": logs("t1", "t2"),
        **extra,
    }
    if with_else:
        spec["else"] = logs("e1")
    return spec


@pytest.mark.parametrize("condition", ["true", "yes", "1", " x ", True, 1, 2.5, "{{ flag }}"])
def test_if_true_runs_then(sim, condition):
    s = sim(if_task(condition), variables={"flag": "on"})
    assert s.run().state is State.SUCCESS
    assert s.ids() == ["t1", "t2"]
    assert s.task_run.outputs == {"evaluationResult": True}


@pytest.mark.parametrize(
    "condition", ["false", "False", "0", "-0", "", "  ", " false ", False, 0, 0.0, "{{ flag }}"]
)
def test_if_false_runs_else(sim, condition):
    s = sim(if_task(condition), variables={"flag": None})
    assert s.run().state is State.SUCCESS
    assert s.ids() == ["e1"]
    assert s.task_run.outputs == {"evaluationResult": False}


def test_if_false_without_else_succeeds_with_no_children(sim):
    s = sim(if_task("false", with_else=False, **{"finally": logs("f")}))
    assert s.run().state is State.SUCCESS
    assert s.ids() == ["f"]


def test_if_branch_is_pinned_once_chosen(sim):
    s = sim(if_task("{{ flag }}"), variables={"flag": True})
    s.step()
    s.variables["flag"] = False  # what the condition reads changes midway
    assert s.run().state is State.SUCCESS
    assert s.ids() == ["t1", "t2"]


def test_if_failure_runs_errors(sim):
    s = sim(if_task("true", errors=logs("err")))
    assert s.run({"t1": State.FAILED}).state is State.FAILED
    assert s.ids() == ["t1", "err"]


def test_if_else_alias_and_kestra_names(task):
    t = task(if_task("x", type="io.kestra.core.tasks.flows.If"))
    assert [x["id"] for x in t.else_] == ["e1"]
    assert list(t.child_groups()) == ["then", "else"]


# -------------------------------------------------------------------------------- Switch


def switch(value: Any, **extra: Any) -> dict[str, Any]:
    return {
        "id": "switch",
        "type": "tercel.core.Switch",
        "value": value,
        "cases": {"FIRST": logs("first"), "SECOND": logs("second_a", "second_b")},
        **extra,
    }


def test_switch_runs_the_matching_case(sim):
    s = sim(switch("{{ inputs.v }}", defaults=logs("d")), variables={"inputs": {"v": "SECOND"}})
    assert s.run().state is State.SUCCESS
    assert s.ids() == ["second_a", "second_b"]
    assert s.task_run.outputs == {"value": "SECOND", "defaults": False}


def test_switch_runs_defaults_when_no_case_matches(sim):
    s = sim(switch("OTHER", defaults=logs("d")))
    assert s.run().state is State.SUCCESS
    assert s.ids() == ["d"]
    assert s.task_run.outputs == {"value": "OTHER", "defaults": True}


def test_switch_without_match_nor_defaults_fails_like_kestra(sim):
    s = sim(switch("OTHER", **{"finally": logs("f")}))
    result = s.run()
    assert result.state is State.FAILED
    assert s.ids() == []
    assert result.outputs == {"value": "OTHER", "defaults": True}


def test_switch_keys_are_text_and_value_is_rendered_to_text(sim):
    s = sim(
        {
            "id": "switch",
            "type": "io.kestra.plugin.core.flow.Switch",
            "value": "{{ status }}",
            "cases": {200: logs("ok"), True: logs("yes"), 404: logs("missing")},
        },
        variables={"status": 200},
    )
    assert s.run().state is State.SUCCESS
    assert s.ids() == ["ok"]
    assert s.task.cases is not None and set(s.task.cases) == {"200", "true", "404"}


def test_switch_branch_is_pinned_once_chosen(sim):
    s = sim(switch("{{ v }}"), variables={"v": "FIRST"})
    s.step()
    s.variables["v"] = "SECOND"
    assert s.run().state is State.SUCCESS
    assert s.ids() == ["first"]


def test_switch_case_failure_runs_errors(sim):
    s = sim(switch("FIRST", errors=logs("err")))
    assert s.run({"first": State.FAILED}).state is State.FAILED
    assert s.ids() == ["first", "err"]


@pytest.mark.parametrize(
    "spec",
    [
        {"id": "s", "type": "tercel.core.Switch", "value": "x"},
        {"id": "s", "type": "tercel.core.Switch", "value": "", "defaults": logs("d")},
    ],
)
def test_switch_validation(task, spec):
    with pytest.raises(ValidationError):
        task(spec)


# ------------------------------------------------------------------------------- ForEach


def for_each(values: Any, limit: int | None = None, tasks: tuple[str, ...] = ("t",), **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"id": "each", "type": "tercel.core.ForEach", "values": values, "tasks": logs(*tasks), **extra}
    if limit is not None:
        spec["concurrencyLimit"] = limit
    return spec


def test_foreach_default_runs_iterations_one_after_the_other(sim):
    s = sim(for_each(["a", "b"], tasks=("t1", "t2")))
    assert s.run().state is State.SUCCESS
    assert s.created == [("t1", "a", 0), ("t2", "a", 0), ("t1", "b", 1), ("t2", "b", 1)]
    assert s.max_running == 1


def test_foreach_limit_two_runs_two_iterations_at_once(sim):
    s = sim(for_each(["a", "b", "c", "d"], 2, tasks=("t1", "t2")))
    first = s.step()
    assert [(n.task["id"], n.value, n.iteration) for n in first.next] == [("t1", "a", 0), ("t1", "b", 1)]
    assert s.run().state is State.SUCCESS
    assert len(s.created) == 8
    assert s.max_running == 2
    # every iteration ran its tasks in order
    for value in "abcd":
        assert [t for t, v, _ in s.created if v == value] == ["t1", "t2"]


def test_foreach_running_iterations_advance_before_new_ones_start(sim):
    s = sim(for_each(["a", "b", "c"], 2, tasks=("t1", "t2")))
    s.step()
    s.finish(s.runs[0], State.SUCCESS)  # (t1, a) done while (t1, b) runs
    assert [(n.task["id"], n.value) for n in s.step().next] == [("t2", "a")]


def test_foreach_limit_zero_starts_every_iteration(sim):
    s = sim(for_each(["a", "b", "c", "d", "e"], 0))
    assert len(s.step().next) == 5
    assert s.run().state is State.SUCCESS
    assert s.max_running == 5


@pytest.mark.parametrize(
    ("values", "variables", "expected"),
    [
        (["a", 1, 2.5, True, {"k": "v", "n": 1}, [1, "x"]], {}, ["a", "1", "2.5", "true", '{"k":"v","n":1}', '[1,"x"]']),
        ('["x", 2, {"a": 1}]', {}, ["x", "2", '{"a":1}']),
        ("{{ items }}", {"items": [3, "three"]}, ["3", "three"]),
        ("{{ items }}", {"items": '["from", "json"]'}, ["from", "json"]),
        (["{{ one }}", "b-{{ one }}"], {"one": 1}, ["1", "b-1"]),
        (["a", "b", "a", 1, "1"], {}, ["a", "b", "1"]),
        (["héllo"], {}, ["héllo"]),
    ],
)
def test_foreach_values_of_several_types(sim, values, variables, expected):
    s = sim(for_each(values, 0), variables=variables)
    assert s.run().state is State.SUCCESS
    assert [v for _, v, _ in s.created] == expected
    assert [i for _, _, i in s.created] == list(range(len(expected)))


@pytest.mark.parametrize(
    ("values", "variables", "message"),
    [
        ("{{ items }}", {"items": [1, None]}, "null"),
        ("{{ items }}", {"items": {"a": 1}}, "not a map"),
        ('{"a": 1}', {}, "not a map"),
        ("not json", {}, "JSON array"),
        ("{{ items }}", {"items": 3}, "must be a list"),
    ],
)
def test_foreach_bad_values_fail_with_a_clear_message(sim, values, variables, message):
    s = sim(for_each(values), variables=variables)
    with pytest.raises(TaskFailed, match=message):
        s.step()


def test_foreach_literal_null_value_is_refused_at_validation(task):
    with pytest.raises(ValidationError, match="null"):
        task(for_each(["a", None]))


def test_foreach_failure_starts_no_new_iteration_then_errors_and_finally_once(sim):
    s = sim(
        for_each(["a", "b", "c"], tasks=("t1", "t2"), errors=logs("e1", "e2"), **{"finally": logs("f")})
    )
    result = s.run({("t1", "b"): State.FAILED})
    assert result.state is State.FAILED
    assert s.created == [
        ("t1", "a", 0),
        ("t2", "a", 0),
        ("t1", "b", 1),
        ("e1", None, None),
        ("e2", None, None),
        ("f", None, None),
    ]


def test_foreach_failure_waits_for_running_iterations_and_stops_them(sim):
    s = sim(for_each(["a", "b", "c", "d"], 2, tasks=("t1", "t2"), errors=logs("e")))
    s.step()
    a, b = s.runs
    s.finish(b, State.FAILED)
    result = s.step()
    assert (list(result.next), result.state) == ([], None)  # (t1, a) still runs
    s.finish(a, State.SUCCESS)
    assert s.run().state is State.FAILED
    assert s.created == [("t1", "a", 0), ("t1", "b", 1), ("e", None, None)]


def test_foreach_success_runs_finally_once_not_errors(sim):
    s = sim(for_each(["a", "b"], 0, errors=logs("e"), **{"finally": logs("f")}))
    assert s.run().state is State.SUCCESS
    assert s.ids() == ["t", "t", "f"]


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ({("t", "b"): State.WARNING}, State.WARNING),
        ({("t", "b"): State.KILLED}, State.KILLED),
        ({("t", "a"): State.SKIPPED}, State.SUCCESS),
    ],
)
def test_foreach_state_is_the_worst_iteration_state(sim, outcomes, expected):
    assert sim(for_each(["a", "b"])).run(outcomes).state is expected


def test_foreach_empty_values_succeeds_after_finally(sim):
    s = sim(for_each([], **{"finally": logs("f")}))
    assert s.run().state is State.SUCCESS
    assert s.created == [("f", None, None)]


def test_foreach_all_tasks_disabled_succeeds(sim):
    spec = for_each(["a"])
    spec["tasks"][0]["disabled"] = True
    assert sim(spec).run().state is State.SUCCESS


def test_foreach_resolve_is_linear_in_children(sim):
    """A big loop stays cheap: one resolve walks the children once (no per-value rescans)."""
    s = sim(for_each(list(range(2000)), 0))
    s.step()
    for run in list(s.runs):
        s.finish(run, State.SUCCESS)
    assert s.step().state is State.SUCCESS


def test_foreach_defaults_follow_kestra():
    fields = ForEach.model_fields
    assert fields["concurrency_limit"].default == 1
    assert fields["concurrency_limit"].alias == "concurrencyLimit"
