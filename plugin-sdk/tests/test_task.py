"""Task base classes: Kestra's common fields, strictness, child-task slots, declared outputs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import Field, ValidationError
from tercel_sdk import (
    ConstantRetry,
    Duration,
    ExponentialRetry,
    FlowableTask,
    Output,
    Property,
    RunnableTask,
    TaskList,
    TaskMap,
)
from tercel_sdk._task import TaskSlot, task_slots


class Greeting(Output):
    """What `Greet` returns."""

    text: str
    char_count: int


class Greet(RunnableTask):
    """Say hello.

    Indented second paragraph.
    """

    type_name = "tests.sdk.Greet"
    type_aliases = ("io.example.Greet",)

    name: Property[str]
    times: Property[int] = Property.of(1)
    pause: Duration = Field(default="PT1S", description="Between greetings.")

    def run(self, ctx: Any) -> Greeting:
        return Greeting(text="hi", char_count=2)


class MaybeGreet(RunnableTask):
    type_name = "tests.sdk.MaybeGreet"

    async def run(self, ctx: Any) -> Greeting | None:
        return None


class DictTask(RunnableTask):
    type_name = "tests.sdk.DictTask"

    def run(self, ctx: Any) -> dict[str, Any]:
        return {}


class BareTask(RunnableTask):
    type_name = "tests.sdk.Bare"

    def run(self, ctx):  # type: ignore[no-untyped-def]
        return None


class Branches(FlowableTask):
    """A flowable with every kind of child slot."""

    type_name = "tests.sdk.Branches"

    tasks: TaskList
    cases: TaskMap | None = None
    otherwise: TaskList | None = Field(default=None, alias="else")


def task(task_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": task_id, "type": "tests.sdk.Greet", "name": "x", **extra}


# -- common fields --------------------------------------------------------------------------------


def test_defaults_of_the_common_fields() -> None:
    greet = Greet.model_validate({"id": "hello", "type": "tests.sdk.Greet", "name": "world"})
    assert greet.id == "hello"
    assert greet.type == "tests.sdk.Greet"
    assert greet.description is None
    assert greet.version is None
    assert greet.retry is None
    assert greet.timeout is None
    assert greet.disabled is False
    assert greet.log_level is None
    assert greet.log_to_file is False
    assert greet.allow_failure is False
    assert greet.allow_warning is False
    assert greet.run_if is None
    assert greet.worker_group is None


def test_kestra_camel_case_names() -> None:
    greet = Greet.model_validate(
        {
            "id": "hello",
            "type": "io.example.Greet",
            "name": "{{ inputs.who }}",
            "description": "greets",
            "version": ">=1.0",
            "retry": {"type": "constant", "interval": "PT5S", "maxAttempts": 3},
            "timeout": "PT10M",
            "disabled": True,
            "logLevel": "WARN",
            "logToFile": True,
            "allowFailure": True,
            "allowWarning": True,
            "runIf": "{{ inputs.go }}",
            "workerGroup": {"key": "gpu"},
        }
    )
    assert greet.retry == ConstantRetry(
        type="constant", interval=timedelta(seconds=5), max_attempts=3
    )
    assert greet.timeout is not None and greet.timeout.raw == timedelta(minutes=10)
    assert greet.timeout.name == "timeout"
    assert (greet.disabled, greet.log_level, greet.log_to_file) == (True, "WARN", True)
    assert (greet.allow_failure, greet.allow_warning) == (True, True)
    assert greet.run_if == "{{ inputs.go }}"
    assert greet.worker_group == {"key": "gpu"}
    assert greet.name.is_dynamic

    dumped = greet.model_dump(by_alias=True, exclude_defaults=True)
    assert dumped["logLevel"] == "WARN"
    assert dumped["allowFailure"] is True
    assert dumped["retry"]["maxAttempts"] == 3
    assert Greet.model_validate(dumped) == greet


def test_python_names_are_accepted_too() -> None:
    greet = Greet(id="a", type="tests.sdk.Greet", name="x", allow_failure=True, log_level="INFO")
    assert greet.allow_failure is True
    assert greet.log_level == "INFO"


def test_a_timeout_may_be_an_expression_but_not_bad_text() -> None:
    greet = Greet.model_validate(task("a", timeout="{{ inputs.timeout }}"))
    assert greet.timeout is not None and greet.timeout.is_dynamic
    with pytest.raises(ValidationError) as info:
        Greet.model_validate(task("a", timeout="ten minutes"))
    (error,) = info.value.errors()
    assert error["loc"][0] == "timeout"
    assert "'ten minutes'" in error["msg"]


def test_defaults_are_validated_typed_and_named() -> None:
    greet = Greet.model_validate(task("a"))
    assert greet.pause == timedelta(seconds=1)  # the default "PT1S" is parsed
    assert greet.times.inner_type is int
    assert greet.times.name == "times"
    assert greet.times.coerce("3") == 3


@pytest.mark.parametrize(
    ("key", "value"),
    [("nmae", "typo"), ("log_Level", "INFO"), ("tasks", []), ("allowfailure", True)],
)
def test_unknown_properties_are_refused(key: str, value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        Greet.model_validate({**task("a"), key: value})
    (error,) = info.value.errors()
    assert error["type"] == "extra_forbidden"
    assert error["loc"] == (key,)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ValidationError) as info:
        Greet.model_validate({"id": "bad id", "type": "t", "logLevel": "LOUD", "extra": 1})
    locs = {e["loc"][0] for e in info.value.errors()}
    assert locs == {"id", "name", "logLevel", "extra"}


@pytest.mark.parametrize("task_id", ["a", "A1", "1a", "hello_world", "hello-world", "a_-_b"])
def test_good_ids(task_id: str) -> None:
    assert Greet.model_validate(task(task_id)).id == task_id


@pytest.mark.parametrize("task_id", ["", "-a", "_a", "a b", "a.b", "a/b", "é", "a\n"])
def test_bad_ids(task_id: str) -> None:
    with pytest.raises(ValidationError) as info:
        Greet.model_validate(task(task_id))
    (error,) = info.value.errors()
    assert error["loc"] == ("id",)
    assert error["type"] == "string_pattern_mismatch"


def test_id_and_type_are_required() -> None:
    with pytest.raises(ValidationError) as info:
        Greet.model_validate({"name": "x"})
    assert {(e["loc"], e["type"]) for e in info.value.errors()} == {
        (("id",), "missing"),
        (("type",), "missing"),
    }


def test_a_retry_block_is_parsed_by_its_type() -> None:
    greet = Greet.model_validate(
        task("a", retry={"type": "exponential", "interval": "PT1S", "maxDuration": "PT1H"})
    )
    assert isinstance(greet.retry, ExponentialRetry)
    with pytest.raises(ValidationError, match="retry"):
        Greet.model_validate(task("a", retry={"type": "sometimes", "interval": "PT1S"}))


def test_identity_and_docs() -> None:
    assert Greet.all_names() == ("tests.sdk.Greet", "io.example.Greet")
    assert Greet.describe() == "Say hello.\n\nIndented second paragraph."
    assert Greet.type_kind == "task"
    assert Greet.flowable is False
    assert Branches.flowable is True
    assert RunnableTask.describe().startswith("A task that does work")


# -- outputs --------------------------------------------------------------------------------------


def test_output_model_comes_from_the_run_annotation() -> None:
    assert Greet.output_model() is Greeting
    assert MaybeGreet.output_model() is Greeting  # `Greeting | None`, async
    assert DictTask.output_model() is None
    assert BareTask.output_model() is None
    assert Branches.output_model() is None


def test_outputs_use_camel_case_aliases() -> None:
    out = Greeting(text="hi", char_count=2)
    assert out.model_dump(by_alias=True) == {"text": "hi", "charCount": 2}
    assert Greeting.model_validate({"text": "hi", "charCount": 2}) == out


# -- child tasks ----------------------------------------------------------------------------------


def test_task_slots_finds_list_and_map_fields() -> None:
    assert task_slots(Branches) == {
        "errors": TaskSlot("list"),
        "finally_": TaskSlot("list"),
        "tasks": TaskSlot("list"),
        "cases": TaskSlot("map"),
        "otherwise": TaskSlot("list"),
    }
    assert task_slots(Greet) == {}


def test_finally_is_written_finally() -> None:
    flow = Branches.model_validate(
        {"id": "b", "type": "tests.sdk.Branches", "tasks": [task("a")], "finally": [task("f")]}
    )
    assert flow.finally_ == [task("f")]
    assert flow.model_dump(by_alias=True, exclude_none=True)["finally"] == [task("f")]
    with pytest.raises(ValidationError):
        Branches.model_validate({"id": "b", "type": "t", "tasks": [], "finally_x": []})


def test_child_groups_main_blocks_first_then_errors_then_finally() -> None:
    flow = Branches.model_validate(
        {
            "id": "b",
            "type": "tests.sdk.Branches",
            "finally": [task("f1"), task("f2")],
            "errors": [task("e1")],
            "else": [task("o1")],
            "cases": {"x": [task("x1"), task("x2")], "y": [task("y1")]},
            "tasks": [task("t1"), task("t2", disabled=True)],
        }
    )
    groups = flow.child_groups()
    assert list(groups) == ["tasks", "cases.x", "cases.y", "else", "errors", "finally"]
    assert [t["id"] for t in groups["tasks"]] == ["t1", "t2"]  # disabled ones are children too
    assert [t["id"] for t in groups["cases.x"]] == ["x1", "x2"]
    assert [t["id"] for t in flow.all_child_tasks()] == [
        "t1", "t2", "x1", "x2", "y1", "o1", "e1", "f1", "f2",
    ]  # fmt: skip


def test_empty_groups_are_left_out() -> None:
    flow = Branches.model_validate(
        {"id": "b", "type": "tests.sdk.Branches", "tasks": [task("t")], "errors": [],
         "cases": {"x": []}}
    )  # fmt: skip
    assert flow.child_groups() == {"tasks": [task("t")], "cases.x": []}


def test_child_tasks_must_be_objects() -> None:
    with pytest.raises(ValidationError) as info:
        Branches.model_validate({"id": "b", "type": "t", "tasks": ["not a task"]})
    assert info.value.errors()[0]["loc"] == ("tasks", 0)


def test_task_list_json_schema_marks_child_tasks() -> None:
    schema = Branches.model_json_schema(by_alias=True)
    tasks = schema["properties"]["tasks"]
    assert tasks["type"] == "array"
    assert tasks["items"]["required"] == ["id", "type"]
    assert tasks["items"]["x-tercel-task"] is True
    cases = schema["properties"]["cases"]["anyOf"][0]
    assert cases["additionalProperties"]["items"]["x-tercel-task"] is True
    assert "finally" in schema["properties"]
    assert schema["additionalProperties"] is False
