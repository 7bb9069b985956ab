"""AllowFailure, EachSequential, EachParallel and Dag: their `resolve` decisions driven child by
child (`testing.FlowableSim`), then whole flows through the real engine (`testing.run_flow`)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from pydantic import ValidationError
from tercel_plugin_core.flow import AllowFailure, Dag, EachParallel, EachSequential
from tercel_sdk import FlowableContext, State, TaskFailed, testing

NEW_TYPES: list[type[Any]] = [AllowFailure, EachSequential, EachParallel, Dag]
BY_NAME = {name: cls for cls in NEW_TYPES for name in cls.all_names()}


def log(task_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": task_id, "type": "tercel.core.Log", "message": task_id, **extra}


def logs(*ids: str) -> list[dict[str, Any]]:
    return [log(i) for i in ids]


def load(spec: dict[str, Any]) -> Any:
    return BY_NAME[spec["type"]].model_validate(spec)


# ------------------------------------------------------------------------------ decisions


def sim(spec: dict[str, Any], *, value: Any = None, **variables: Any) -> testing.FlowableSim:
    """The engine's side of one task run of this flowable (variables as keyword arguments)."""
    return testing.FlowableSim(load(spec), value=value, variables=variables)


def test_sim_is_a_flowable_context():
    assert isinstance(sim({"id": "a", "type": "tercel.core.AllowFailure", "tasks": logs("x")}), FlowableContext)


# ------------------------------------------------------------------------------ AllowFailure


def allow_failure(**extra: Any) -> dict[str, Any]:
    return {"id": "allow", "type": "tercel.core.AllowFailure", "tasks": logs("a", "b", "c"), **extra}


def test_allow_failure_success_runs_everything_in_order():
    s = sim(allow_failure(errors=logs("e"), **{"finally": logs("f")}))
    assert s.run().state is State.SUCCESS
    assert s.ids() == ["a", "b", "c", "f"]
    assert s.max_running == 1


def test_allow_failure_failure_skips_the_rest_runs_handlers_and_ends_warning():
    s = sim(allow_failure(errors=logs("e1", "e2"), **{"finally": logs("f")}))
    assert s.run({"b": State.FAILED}).state is State.WARNING
    assert s.ids() == ["a", "b", "e1", "e2", "f"]


def test_allow_failure_failing_handler_still_ends_warning():
    s = sim(allow_failure(errors=logs("e"), **{"finally": logs("f")}))
    assert s.run({"a": State.FAILED, "e": State.FAILED, "f": State.FAILED}).state is State.WARNING
    assert s.ids() == ["a", "e", "f"]


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [({"b": State.WARNING}, State.WARNING), ({"b": State.KILLED}, State.KILLED), ({"a": State.SKIPPED}, State.SUCCESS)],
)
def test_allow_failure_keeps_other_states(outcomes, expected):
    assert sim(allow_failure()).run(outcomes).state is expected


def test_allow_failure_waits_while_a_child_runs():
    s = sim(allow_failure())
    assert s.next_ids() == ["a"]
    result = s.step()
    assert (list(result.next), result.state) == ([], None)


@pytest.mark.parametrize("name", AllowFailure.all_names())
def test_allow_failure_names_and_needs_tasks(name):
    assert isinstance(load({"id": "x", "type": name, "tasks": logs("a")}), AllowFailure)
    with pytest.raises(ValidationError):
        load({"id": "x", "type": name, "tasks": []})


# ---------------------------------------------------------------- EachSequential / EachParallel


def each(kind: str, value: Any, tasks: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": "each", "type": f"tercel.core.{kind}", "value": value, "tasks": tasks or logs("t1", "t2"), **extra}


def test_each_sequential_runs_every_value_then_every_task_one_at_a_time():
    s = sim(each("EachSequential", ["a", "b"]))
    assert s.run().state is State.SUCCESS
    assert s.pairs() == [("t1", "a"), ("t2", "a"), ("t1", "b"), ("t2", "b")]
    assert [r.iteration for r in s.runs] == [0, 0, 1, 1]
    assert s.max_running == 1


@pytest.mark.parametrize("kind", ["EachSequential", "EachParallel"])
@pytest.mark.parametrize(
    ("value", "variables", "expected"),
    [
        ('["x", "y"]', {}, ["x", "y"]),  # a JSON array as text, as in Kestra's docs
        ([1, "two", {"k": "v"}, [1, 2], True], {}, ["1", "two", '{"k":"v"}', "[1,2]", "true"]),
        (["a", "a", "b"], {}, ["a", "b"]),  # duplicates run once
        ("{{ vars.items }}", {"vars": {"items": ["p", "q"]}}, ["p", "q"]),
        ("{{ vars.items }}", {"vars": {"items": '["j", 2]'}}, ["j", "2"]),
    ],
)
def test_each_values_are_text_like_foreach(kind, value, variables, expected):
    s = sim(each(kind, value, logs("t")), **variables)
    assert s.run().state is State.SUCCESS
    assert [r.value for r in s.runs] == expected
    assert [r.iteration for r in s.runs] == list(range(len(expected)))


@pytest.mark.parametrize("kind", ["EachSequential", "EachParallel"])
@pytest.mark.parametrize(
    ("items", "message"),
    [
        ("not json", "value must render to a list or a JSON array"),
        ({"a": 1}, "value must be a list, not a map"),
        (42, "value must be a list"),
        (["a", None], "found a null value"),
    ],
)
def test_each_bad_values_fail_at_resolve(kind, items, message):
    s = sim(each(kind, "{{ vars.items }}"), vars={"items": items})
    with pytest.raises(TaskFailed, match=message):
        s.step()


@pytest.mark.parametrize("kind", ["EachSequential", "EachParallel"])
def test_each_refuses_a_literal_null_and_needs_tasks(kind):
    with pytest.raises(ValidationError, match="null"):
        load(each(kind, ["a", None]))
    with pytest.raises(ValidationError):
        load({**each(kind, ["a"]), "tasks": []})


@pytest.mark.parametrize("kind", ["EachSequential", "EachParallel"])
def test_each_empty_list_runs_only_finally(kind):
    s = sim(each(kind, [], errors=logs("e"), **{"finally": logs("f")}))
    assert s.run().state is State.SUCCESS
    assert s.ids() == ["f"]


def test_each_keeps_the_values_it_started_with():
    s = sim(each("EachSequential", "{{ vars.items }}", logs("t")), vars={"items": ["a", "b"]})
    s.step()
    s.variables["vars"] = {"items": ["z"]}
    assert s.run().state is State.SUCCESS
    assert [r.value for r in s.runs] == ["a", "b"]


def test_each_sequential_failure_stops_then_handlers_once():
    s = sim(each("EachSequential", ["a", "b", "c"], errors=logs("e"), **{"finally": logs("f")}))
    assert s.run({("t1", "b"): State.FAILED}).state is State.FAILED
    assert s.pairs() == [("t1", "a"), ("t2", "a"), ("t1", "b"), ("e", None), ("f", None)]


@pytest.mark.parametrize(
    ("kind", "outcomes", "expected"),
    [
        ("EachSequential", {("t2", "a"): State.WARNING}, State.WARNING),
        ("EachSequential", {("t1", "b"): State.KILLED}, State.KILLED),
        ("EachParallel", {("t2", "a"): State.WARNING}, State.WARNING),
        ("EachParallel", {("t1", "b"): State.KILLED}, State.KILLED),
        ("EachParallel", {"f": State.FAILED}, State.FAILED),
    ],
)
def test_each_ends_in_the_worst_state(kind, outcomes, expected):
    assert sim(each(kind, ["a", "b"], **{"finally": logs("f")})).run(outcomes).state is expected


def test_each_handlers_inherit_the_parents_value():
    s = sim(each("EachParallel", ["a"], errors=logs("e"), **{"finally": logs("f")}), value="outer")
    s.run({"t1": State.FAILED})
    assert [(r.task_id, r.value) for r in s.runs if r.task_id in ("e", "f")] == [("e", "outer"), ("f", "outer")]


def test_each_parallel_starts_every_task_of_every_value_at_once():
    s = sim(each("EachParallel", ["a", "b", "c"]))
    first = s.step()
    assert [(n.task["id"], n.value, n.iteration) for n in first.next] == [
        ("t1", "a", 0), ("t2", "a", 0), ("t1", "b", 1), ("t2", "b", 1), ("t1", "c", 2), ("t2", "c", 2)
    ]
    assert s.run().state is State.SUCCESS
    assert len(s.runs) == 6


def test_each_parallel_respects_concurrent():
    s = sim(each("EachParallel", ["a", "b", "c"], concurrent=2))
    assert len(s.step().next) == 2
    assert s.run().state is State.SUCCESS
    assert len(s.runs) == 6
    assert s.max_running == 2


def test_each_parallel_failure_starts_nothing_new_and_waits_for_the_running():
    s = sim(each("EachParallel", ["a", "b"], concurrent=3, errors=logs("e"), **{"finally": logs("f")}))
    assert len(s.step().next) == 3  # t1/a, t2/a, t1/b
    s.finish("t1", State.FAILED, "a")
    assert s.next_ids() == []  # t2/b never starts; t2/a and t1/b still run
    s.finish("t2", State.SUCCESS, "a")
    assert s.next_ids() == []
    s.finish("t1", State.SUCCESS, "b")
    assert s.next_ids() == ["e"]
    assert s.run().state is State.FAILED
    assert s.ids() == ["t1", "t2", "t1", "e", "f"]


def test_each_parallel_concurrent_must_not_be_negative():
    with pytest.raises(ValidationError):
        load(each("EachParallel", ["a"], concurrent=-1))


@pytest.mark.parametrize("cls", [EachSequential, EachParallel])
def test_each_kestra_names(cls):
    short = cls.__name__
    assert cls.all_names() == (
        f"tercel.core.{short}",
        f"io.kestra.plugin.core.flow.{short}",
        f"io.kestra.core.tasks.flows.{short}",
    )


# --------------------------------------------------------------------------------------- Dag


def node(task_id: str, *depends_on: str, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"task": log(task_id, **extra)}
    if depends_on:
        out["dependsOn"] = list(depends_on)
    return out


KESTRA_DAG = [
    node("task1"),
    node("task2", "task1"),
    node("task3", "task1"),
    node("task4", "task2"),
    node("task5", "task4", "task3"),
]


def dag(tasks: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": "dag", "type": "tercel.core.Dag", "tasks": KESTRA_DAG if tasks is None else tasks, **extra}


def test_dag_starts_each_task_once_its_dependencies_succeeded():
    s = sim(dag())
    assert s.next_ids() == ["task1"]
    assert s.next_ids() == []
    s.finish("task1")
    assert s.next_ids() == ["task2", "task3"]
    s.finish("task2")
    assert s.next_ids() == ["task4"]
    s.finish("task4")
    assert s.next_ids() == []  # task5 still waits for task3
    s.finish("task3", State.WARNING)  # a WARNING counts as done
    assert s.next_ids() == ["task5"]
    s.finish("task5")
    assert s.step().state is State.WARNING


def test_dag_without_dependencies_runs_everything_at_once():
    s = sim(dag([node("a"), node("b"), node("c")]))
    assert s.next_ids() == ["a", "b", "c"]
    assert s.run().state is State.SUCCESS


def test_dag_respects_concurrent_in_dependency_order():
    s = sim(dag(concurrent=1))
    assert s.run().state is State.SUCCESS
    assert s.ids() == ["task1", "task2", "task3", "task4", "task5"]
    assert s.max_running == 1
    s2 = sim(dag([node("a"), node("b"), node("c"), node("d", "a")], concurrent=2))
    assert s2.next_ids() == ["a", "b"]
    s2.finish("b")
    assert s2.next_ids() == ["c"]  # d waits for a; the free slot goes to c
    s2.finish("a")
    assert s2.next_ids() == ["d"]


def test_dag_skipped_and_disabled_dependencies_count_as_done():
    s = sim(dag([node("a"), node("b", disabled=True), node("c", "a", "b")]))
    assert s.next_ids() == ["a"]
    s.finish("a", State.SKIPPED)
    assert s.next_ids() == ["c"]
    s.finish("c")
    assert s.step().state is State.SUCCESS
    assert "b" not in s.ids()


def test_dag_failure_starts_nothing_new_then_errors_then_finally():
    s = sim(dag([node("a"), node("b"), node("c", "a")], errors=logs("e1", "e2"), **{"finally": logs("f")}))
    assert s.next_ids() == ["a", "b"]
    s.finish("a")
    assert s.next_ids() == ["c"]
    s.finish("b", State.FAILED)
    assert s.next_ids() == []  # c still runs: wait for it
    s.finish("c")
    assert s.next_ids() == ["e1"]
    assert s.run().state is State.FAILED
    assert s.ids() == ["a", "b", "c", "e1", "e2", "f"]


def test_dag_dependents_of_a_failure_never_start():
    s = sim(dag(**{"finally": logs("f")}))
    assert s.run({"task2": State.FAILED}).state is State.FAILED
    assert s.ids() == ["task1", "task2", "task3", "f"]


def test_dag_killed_child_ends_killed():
    assert sim(dag()).run({"task3": State.KILLED}).state is State.KILLED


def test_dag_success_runs_finally_not_errors():
    s = sim(dag(errors=logs("e"), **{"finally": logs("f")}))
    assert s.run().state is State.SUCCESS
    assert s.ids()[-1] == "f" and "e" not in s.ids()


def test_dag_children_inherit_the_parents_value():
    s = sim(dag([node("a")]), value="loop value")
    s.run()
    assert s.runs[0].value == "loop value"


def test_dag_unknown_dependency_fails_naming_it():
    s = sim(dag([node("a"), node("b", "a", "nope")]))
    with pytest.raises(TaskFailed, match="task 'b' depends on unknown task 'nope'"):
        s.step()
    assert s.runs == []


@pytest.mark.parametrize(
    ("tasks", "cycle"),
    [
        ([node("a", "a")], "a -> a"),
        ([node("a", "b"), node("b", "a")], "a -> b -> a"),
        ([node("start"), node("a", "start", "c"), node("b", "a"), node("c", "b")], "a -> c -> b -> a"),
    ],
)
def test_dag_cycle_fails_naming_it(tasks, cycle):
    s = sim(dag(tasks))
    with pytest.raises(TaskFailed, match=f"cycle: {re.escape(cycle)} "):
        s.step()
    assert s.runs == []


def test_dag_a_cancelled_dependency_cancels_the_dag():
    s = sim(dag([node("a"), node("b", "a")]))
    s.step()
    s.finish("a", State.CANCELLED)  # CANCELLED counts as a failure, the worst after FAILED
    result = s.step()
    assert result.state is State.CANCELLED and not result.next


def test_dag_model():
    t = load({**dag(concurrent=2), "type": "io.kestra.plugin.core.flow.Dag"})
    assert t.tasks[1].depends_on == ["task1"] and t.concurrent == 2
    assert Dag.all_names() == ("tercel.core.Dag", "io.kestra.plugin.core.flow.Dag", "io.kestra.core.tasks.flows.Dag")
    for bad in ([], [{"task": log("a"), "after": ["x"]}], [{"dependsOn": ["x"]}]):
        with pytest.raises(ValidationError):
            load(dag(bad))


# ------------------------------------------------------------------------------- whole flows

def run(yaml: str, **kwargs: Any) -> Any:
    return testing.run_flow(yaml, types=NEW_TYPES, **kwargs)


def runs(result: Any, task_id: str) -> list[dict[str, Any]]:
    return [r for r in result.task_runs if r["taskId"] == task_id]


def state(result: Any, task_id: str) -> str:
    return str(result.task_run(task_id)["state"]["current"])


def max_overlap(result: Any, task_ids: set[str]) -> int:
    """How many of these task runs were RUNNING at the same time, from their state histories."""
    events: list[tuple[datetime, int]] = []
    for r in result.task_runs:
        if r["taskId"] not in task_ids:
            continue
        hist = r["state"]["histories"]
        start = next(h["date"] for h in hist if h["state"] == "RUNNING")
        end = hist[-1]["date"]
        events += [(_date(start), 1), (_date(end), -1)]
    current = best = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
        current += delta
        best = max(best, current)
    return best


def _date(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))


ALLOW_FAILURE_FLOW = """\
id: allow_failure
namespace: tercel.tests.core
tasks:
  - id: allow
    type: io.kestra.plugin.core.flow.AllowFailure
    tasks:
      - id: ko
        type: tercel.core.Fail
        errorMessage: flaky
      - id: not_run
        type: tercel.core.Log
        message: never
    errors:
      - id: on_error
        type: tercel.core.Log
        message: handled
    finally:
      - id: cleanup
        type: tercel.core.Log
        message: cleanup
  - id: last
    type: tercel.core.Return
    format: after
"""


def test_flow_allow_failure_goes_on_and_ends_warning():
    result = run(ALLOW_FAILURE_FLOW)
    assert [r["taskId"] for r in result.task_runs] == ["allow", "ko", "on_error", "cleanup", "last"]
    assert state(result, "ko") == "FAILED"
    assert state(result, "allow") == "WARNING"
    assert result.outputs("last")["value"] == "after"
    assert result.state == "WARNING"


EACH_FLOW = """\
id: each
namespace: tercel.tests.core
tasks:
  - id: seq
    type: io.kestra.core.tasks.flows.EachSequential
    value: '["a", 1, {"k": "v"}]'
    tasks:
      - id: s1
        type: tercel.core.Return
        format: "s1 {{ taskrun.value }} #{{ taskrun.iteration }}"
      - id: s2
        type: tercel.core.Return
        format: "s2 {{ taskrun.value }}"
  - id: par
    type: tercel.core.EachParallel
    value: "{{ ['x', 'y', 'z'] | toJson }}"
    concurrent: 2
    tasks:
      - id: p1
        type: tercel.core.Sleep
        duration: PT0.1S
      - id: group
        type: tercel.core.Sequential
        tasks:
          - id: p2
            type: tercel.core.Return
            format: "p2 {{ parent.taskrun.value }}"
"""


def test_flow_each_sequential_and_parallel():
    result = run(EACH_FLOW)
    assert result.state == "SUCCESS", result.task_runs
    seq = [(r["taskId"], r["value"], r["iteration"]) for r in result.task_runs if r["taskId"] in ("s1", "s2")]
    assert seq == [
        ("s1", "a", 0), ("s2", "a", 0), ("s1", "1", 1), ("s2", "1", 1), ("s1", '{"k":"v"}', 2), ("s2", '{"k":"v"}', 2)
    ]
    assert result.outputs("s1", value="1")["value"] == "s1 1 #1"
    assert max_overlap(result, {"s1", "s2"}) == 1
    assert sorted(r["value"] for r in runs(result, "p1")) == ["x", "y", "z"]
    assert {r["value"]: result.outputs("p2", value=r["value"])["value"] for r in runs(result, "p2")} == {
        "x": "p2 x", "y": "p2 y", "z": "p2 z"
    }
    assert max_overlap(result, {"p1", "group"}) == 2


EACH_FAILURE_FLOW = """\
id: each_failure
namespace: tercel.tests.core
tasks:
  - id: each
    type: tercel.core.EachSequential
    value: [1, 2, 3]
    tasks:
      - id: check
        type: tercel.core.Fail
        condition: "{{ taskrun.value == '2' }}"
    errors:
      - id: on_error
        type: tercel.core.Log
        message: failed
    finally:
      - id: cleanup
        type: tercel.core.Log
        message: cleanup
  - id: never
    type: tercel.core.Log
    message: never
"""


def test_flow_each_failure_stops_and_handles_once():
    result = run(EACH_FAILURE_FLOW)
    assert [r["value"] for r in runs(result, "check")] == ["1", "2"]
    assert len(runs(result, "on_error")) == 1 and len(runs(result, "cleanup")) == 1
    assert state(result, "each") == "FAILED" and result.state == "FAILED"
    assert not runs(result, "never")


def dag_flow(tasks: str) -> str:
    return f"""\
id: dag
namespace: tercel.tests.core
tasks:
  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    tasks:
{tasks}
  - id: after
    type: tercel.core.Log
    message: never
"""


@pytest.mark.parametrize(
    ("tasks", "message"),
    [
        (
            "      - task: {id: a, type: tercel.core.Log, message: a}\n"
            "        dependsOn: [b]\n"
            "      - task: {id: b, type: tercel.core.Log, message: b}\n"
            "        dependsOn: [a]",
            "the dependencies form a cycle: a -> b -> a",
        ),
        (
            "      - task: {id: a, type: tercel.core.Log, message: a}\n"
            "        dependsOn: [ghost]",
            "task 'a' depends on unknown task 'ghost'",
        ),
    ],
)
def test_flow_dag_cycle_or_unknown_dependency_is_refused_at_validation(tasks, message):
    # the Dag declares its dependency key in its task slot: the core checks the graph when the
    # flow is validated (the resolve-time check stays as a second line of defence)
    problems = testing.validate(dag_flow(tasks), types=NEW_TYPES)
    assert any(message in p for p in problems), problems
    with pytest.raises(Exception, match=re.escape(message)):
        run(dag_flow(tasks))


DAG_FLOW = """\
id: dag
namespace: tercel.tests.core
tasks:
  - id: dag
    type: tercel.core.Dag
    concurrent: 2
    tasks:
      - task: {id: t1, type: tercel.core.Return, format: one}
      - task: {id: t2, type: tercel.core.Sleep, duration: PT0.1S}
        dependsOn: [t1]
      - task: {id: t3, type: tercel.core.Sleep, duration: PT0.1S}
        dependsOn: [t1]
      - task: {id: t4, type: tercel.core.Sleep, duration: PT0.1S}
        dependsOn: [t1]
      - task: {id: t5, type: tercel.core.Return, format: "{{ outputs.t1.value }} done"}
        dependsOn: [t2, t3, t4]
    finally:
      - id: cleanup
        type: tercel.core.Log
        message: cleanup
  - id: after
    type: tercel.core.Log
    message: after
"""


def test_flow_dag_children_are_flow_tasks_and_checked_by_the_validator():
    """`tasks[*].task` is a `wrapped` task slot: the children are validated and indexed."""
    result = run(DAG_FLOW)
    dag_run = result.task_run("dag")["id"]
    assert {r["taskId"]: r["parentTaskRunId"] for r in result.task_runs if r["taskId"] in ("t1", "t2")} == {
        "t1": dag_run, "t2": dag_run
    }
    bad = DAG_FLOW.replace("type: tercel.core.Return, format: one", "type: tercel.core.Retrun, format: one", 1)
    (problem,) = testing.validate(bad, types=NEW_TYPES)
    assert "tasks[0].tasks[0].task.type: unknown task type 'tercel.core.Retrun'" in problem


def test_flow_dag_runs_in_dependency_order_through_the_engine():
    result = run(DAG_FLOW)
    assert result.state == "SUCCESS", [(r["taskId"], r["state"]["current"], r.get("error")) for r in result.task_runs]
    order = [r["taskId"] for r in result.task_runs]
    assert order[:2] == ["dag", "t1"]
    assert set(order[2:5]) == {"t2", "t3", "t4"}
    assert order[5:] == ["t5", "cleanup", "after"]
    assert result.outputs("t5")["value"] == "one done"
    assert max_overlap(result, {"t2", "t3", "t4"}) == 2


def test_flow_dag_failure_stops_new_tasks():
    yaml = dag_flow(
        "      - task: {id: a, type: tercel.core.Fail, errorMessage: boom}\n"
        "      - task: {id: b, type: tercel.core.Log, message: b}\n"
        "        dependsOn: [a]\n"
        "      - task: {id: c, type: tercel.core.Log, message: c}"
    )
    result = run(yaml)
    assert state(result, "a") == "FAILED" and state(result, "dag") == "FAILED"
    assert not runs(result, "b") and not runs(result, "after")
    assert state(result, "c") == "SUCCESS"


@pytest.mark.parametrize(
    ("cls", "index"),
    [(c, i) for c in (AllowFailure, EachSequential, EachParallel) for i in range(len(c.type_examples))],
)
def test_flow_documented_examples_run(cls, index):
    result = run(cls.type_examples[index].code)
    assert result.state == ("WARNING" if cls is AllowFailure else "SUCCESS")


def test_flow_documented_dag_example_runs():
    result = run(Dag.type_examples[0].code)
    assert result.state == "SUCCESS"
    order = [r["taskId"] for r in result.task_runs]
    assert order[:2] == ["dag", "task1"] and order[-1] == "task5"
    assert order.index("task4") > order.index("task2")
