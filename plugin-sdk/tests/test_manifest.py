"""Manifests: a plugin's types described as JSON, from the classes and from the hooks."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import types
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field
from tercel_sdk import (
    Duration,
    Example,
    FlowableTask,
    MetricDoc,
    Output,
    Property,
    RunnableTask,
    ScheduleTrigger,
    TaskList,
    hookimpl,
)
from tercel_sdk.errors import ManifestError
from tercel_sdk.manifest import (
    MANIFEST_FILENAME,
    MANIFEST_VERSION,
    describe_type,
    generate_manifest,
    main,
    manifest_path_for,
    write_manifest,
)

COMMON = [
    "id", "type", "description", "version", "retry", "timeout", "disabled", "logLevel",
    "logToFile", "allowFailure", "allowWarning", "runIf", "workerGroup", "taskCache",
]  # fmt: skip


class Summary(Output):
    """What `Count` found."""

    total_lines: int = Field(description="Lines read.")
    first_line: str | None = None


class Count(RunnableTask):
    """Count the lines of a file.

        Reads `uri` line by line.
    """

    type_name = "tests.sdk.Count"
    type_aliases = ("io.example.Count", "tests.sdk.LineCount")
    type_title = "Count lines"
    type_examples = (
        Example(code="id: count\ntype: tests.sdk.Count\nuri: x", title="Count a file"),
        Example(code="id: flow\nnamespace: n\ntasks: []", full=True),
    )
    type_metrics = (
        MetricDoc(name="lines", unit="lines", description="Lines counted."),
        MetricDoc(name="read.duration", type="timer"),
    )

    uri: Property[str] = Field(description="The file to read.")
    max_lines: Property[int] | None = Field(default=None, description="Stop after this many.")
    encoding: str = "utf-8"
    every: Duration = timedelta(minutes=1)
    labels: dict[str, str] = Field(default_factory=lambda: {"team": "data"})
    skip: Property[list[str]] = Property.of(["#"])

    def run(self, ctx: Any) -> Summary:
        return Summary(total_lines=0)


class Group(FlowableTask):
    """Run tasks one after the other."""

    type_name = "tests.sdk.Group"

    tasks: TaskList = Field(min_length=1, description="The tasks.")

    def resolve(self, ctx: Any) -> Any:
        return None


class Hourly(ScheduleTrigger):
    """Every hour."""

    type_name = "tests.sdk.Hourly"


def class_ref(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


# -- describe_type --------------------------------------------------------------------------------


def test_identity_and_documentation() -> None:
    entry = describe_type(Count)
    assert entry["type"] == "tests.sdk.Count"
    assert entry["aliases"] == ["io.example.Count", "tests.sdk.LineCount"]
    assert entry["kind"] == "task"
    assert entry["flowable"] is False
    assert entry["class"] == class_ref(Count)
    assert entry["title"] == "Count lines"
    assert entry["description"] == "Count the lines of a file.\n\nReads `uri` line by line."
    assert entry["examples"] == [
        {"title": "Count a file", "code": "id: count\ntype: tests.sdk.Count\nuri: x", "full": False},
        {"title": "", "code": "id: flow\nnamespace: n\ntasks: []", "full": True},
    ]
    assert entry["metrics"] == [
        {"name": "lines", "type": "counter", "unit": "lines", "description": "Lines counted."},
        {"name": "read.duration", "type": "timer", "unit": None, "description": ""},
    ]
    assert json.loads(json.dumps(entry)) == entry  # plain JSON all the way down


def test_properties() -> None:
    props = describe_type(Count)["properties"]
    assert list(props) == [*COMMON, "uri", "maxLines", "encoding", "every", "labels", "skip"]
    assert props["uri"] == {"required": True, "dynamic": True, "description": "The file to read."}
    assert props["maxLines"] == {
        "required": False, "dynamic": True, "description": "Stop after this many.", "default": None,
    }  # fmt: skip
    assert props["encoding"] == {
        "required": False, "dynamic": False, "description": "", "default": "utf-8",
    }  # fmt: skip
    assert props["every"]["default"] == "PT1M"  # as a flow writes it, not a Python repr
    assert props["labels"]["default"] == {"team": "data"}
    assert props["skip"] == {"required": False, "dynamic": True, "description": "", "default": ["#"]}
    assert props["id"]["required"] is True
    assert props["type"]["required"] is True
    assert props["timeout"]["dynamic"] is True
    assert props["retry"]["dynamic"] is False
    assert props["allowFailure"]["default"] is False
    assert props["allowFailure"]["description"].startswith("A failure of this task")


def test_schema() -> None:
    schema = describe_type(Count)["schema"]
    assert schema["type"] == "object"
    assert schema["title"] == "Count lines"
    assert schema["description"].startswith("Count the lines of a file.")
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["id", "type", "uri"]
    assert list(schema["properties"]) == list(describe_type(Count)["properties"])
    pattern = schema["properties"]["maxLines"]["anyOf"][1]["pattern"]
    assert schema["properties"]["maxLines"]["anyOf"] == [
        {"type": "integer"}, {"type": "string", "pattern": pattern}, {"type": "null"},
    ]  # fmt: skip
    assert schema["properties"]["id"]["pattern"] == "^[a-zA-Z0-9][a-zA-Z0-9_-]*$"
    assert set(schema["$defs"]) == {"ConstantRetry", "ExponentialRetry", "RandomRetry", "TaskCache"}


def test_outputs_are_the_schema_of_the_run_annotation() -> None:
    outputs = describe_type(Count)["outputs"]
    assert outputs["title"] == "Summary"
    assert outputs["description"] == "What `Count` found."
    assert outputs["required"] == ["totalLines"]
    assert outputs["properties"]["totalLines"]["type"] == "integer"
    assert outputs["properties"]["totalLines"]["description"] == "Lines read."
    assert "firstLine" in outputs["properties"]


def test_a_flowable_type() -> None:
    entry = describe_type(Group)
    assert entry["flowable"] is True
    assert entry["kind"] == "task"
    assert entry["taskSlots"] == {"errors": "list", "finally": "list", "tasks": "list"}
    assert entry["outputs"] is None
    assert entry["title"] == "Group"  # the class name when no title is given
    assert entry["properties"]["finally"]["required"] is False
    tasks = entry["schema"]["properties"]["tasks"]
    assert tasks["items"]["x-tercel-task"] is True
    assert tasks["minItems"] == 1  # the slot's length constraint survives its fixed schema
    assert entry["properties"]["tasks"] == {"required": True, "dynamic": False, "description": "The tasks."}
    assert describe_type(Count)["taskSlots"] == {}


def test_a_trigger_type() -> None:
    entry = describe_type(Hourly)
    assert entry["kind"] == "trigger"
    assert entry["flowable"] is False
    assert entry["outputs"] is None
    assert entry["description"] == "Every hour."
    assert "stopAfter" in entry["properties"]


@pytest.mark.parametrize("name", ["", "Count", "tests..Count", "1tests.Count", "tests.sdk.", "a b.c"])
def test_a_bad_type_name_is_a_manifest_error(name: str) -> None:
    bad = type("Bad", (Count,), {"type_name": name, "__module__": __name__})
    with pytest.raises(ManifestError) as info:
        describe_type(bad)
    assert f"{__name__}.Bad" in str(info.value)
    assert repr(name) in str(info.value)


# -- generate_manifest ----------------------------------------------------------------------------


def plugin_module(name: str = "sample_plugin", *, tasks: Any = (), triggers: Any = ()) -> types.ModuleType:
    """An entry-point module as a plugin writes it: functions marked with `@hookimpl`."""
    module = types.ModuleType(name)

    @hookimpl
    def tercel_task_types() -> Any:
        return tasks

    @hookimpl
    def tercel_trigger_types() -> Any:
        return triggers

    @hookimpl
    def tercel_cli_commands() -> list[Any]:
        return []

    def tercel_not_a_hook() -> list[Any]:  # unmarked: not a hook implementation
        return [Count]

    module.tercel_task_types = tercel_task_types  # type: ignore[attr-defined]
    module.tercel_trigger_types = tercel_trigger_types  # type: ignore[attr-defined]
    module.tercel_cli_commands = tercel_cli_commands  # type: ignore[attr-defined]
    module.tercel_not_a_hook = tercel_not_a_hook  # type: ignore[attr-defined]
    return module


def test_generate_manifest_from_a_module() -> None:
    module = plugin_module(tasks=[Group, Count], triggers=[Hourly])
    manifest = generate_manifest(module, distribution="tercel-plugin-sample", version="1.2.3")
    assert manifest["manifestVersion"] == MANIFEST_VERSION
    assert manifest["distribution"] == "tercel-plugin-sample"
    assert manifest["version"] == "1.2.3"
    assert manifest["module"] == "sample_plugin"
    assert manifest["hooks"] == ["tercel_cli_commands", "tercel_task_types", "tercel_trigger_types"]
    assert [t["type"] for t in manifest["types"]] == [
        "tests.sdk.Count", "tests.sdk.Group", "tests.sdk.Hourly",
    ]  # fmt: skip
    assert manifest["types"][0] == describe_type(Count)
    assert [t["kind"] for t in manifest["types"]] == ["task", "task", "trigger"]
    assert json.loads(json.dumps(manifest)) == manifest


def test_a_module_without_type_hooks() -> None:
    module = types.ModuleType("empty_plugin")
    manifest = generate_manifest(module)
    assert manifest["hooks"] == []
    assert manifest["types"] == []
    assert generate_manifest(plugin_module(tasks=None, triggers=None))["types"] == []


@pytest.mark.parametrize(
    ("tasks", "triggers"),
    [
        ([Count, type("Again", (Count,), {})], []),
        ([Count, Count], []),
        ([Count], [type("Clash", (Hourly,), {"type_name": "tests.sdk.Count"})]),
        ([Count, type("Alias", (Group,), {"type_name": "tests.sdk.Other", "type_aliases": ("io.example.Count",)})], []),
        ([type("Self", (Group,), {"type_name": "tests.sdk.Self", "type_aliases": ("tests.sdk.Self",)})], []),
    ],
    ids=["same-type", "listed-twice", "across-hooks", "alias-of-another", "alias-of-itself"],
)  # fmt: skip
def test_a_name_declared_twice_is_a_manifest_error(tasks: list[Any], triggers: list[Any]) -> None:
    with pytest.raises(ManifestError, match="declared twice"):
        generate_manifest(plugin_module(tasks=tasks, triggers=triggers))


def test_the_duplicate_error_names_both_classes() -> None:
    other = type("Other", (Group,), {"type_name": "tests.sdk.X", "type_aliases": ("tests.sdk.Count",)})
    with pytest.raises(ManifestError) as info:
        generate_manifest(plugin_module(tasks=[Count, other]))
    message = str(info.value)
    assert "'tests.sdk.Count'" in message
    assert class_ref(Count) in message
    assert "Other" in message


@pytest.mark.parametrize("returned", [object, "tests.sdk.Count", 42])
def test_a_hook_returning_something_else_than_a_type_class(returned: Any) -> None:
    with pytest.raises(ManifestError, match=r"sample_plugin\.tercel_task_types returned .*not a plugin type"):
        generate_manifest(plugin_module(tasks=[returned]))


def test_an_instance_is_not_a_type_class() -> None:
    instance = Group.model_validate({"id": "g", "type": "tests.sdk.Group", "tasks": [{"id": "a", "type": "x.Y"}]})
    with pytest.raises(ManifestError, match="not a plugin type class"):
        generate_manifest(plugin_module(tasks=[instance]))


def test_a_task_returned_as_a_trigger() -> None:
    with pytest.raises(ManifestError, match=r"tests\.sdk\.Count is returned by tercel_trigger_types"):
        generate_manifest(plugin_module(triggers=[Count]))


def test_a_type_without_a_json_schema_is_a_manifest_error() -> None:
    class Broken(RunnableTask):
        type_name = "tests.sdk.Broken"
        callback: Callable[[], None] | None = None  # valid in Python, no JSON Schema

    with pytest.raises(ManifestError, match=r"tests\.sdk\.Broken: cannot build its JSON Schema"):
        describe_type(Broken)


def test_the_core_plugin_by_module_name() -> None:
    manifest = generate_manifest("tercel_plugin_core.plugin")
    assert manifest["module"] == "tercel_plugin_core.plugin"
    assert manifest["hooks"] == ["tercel_condition_types", "tercel_task_types", "tercel_trigger_types"]
    by_type = {t["type"]: t for t in manifest["types"]}
    assert "io.kestra.plugin.core.log.Log" in by_type["tercel.core.Log"]["aliases"]
    assert by_type["tercel.core.Parallel"]["flowable"] is True
    assert [t["type"] for t in manifest["types"]] == sorted(by_type)


# -- where the manifest lives, and the command line ------------------------------------------------


def test_manifest_path_is_beside_the_top_level_package() -> None:
    import tercel_plugin_core

    path = manifest_path_for("tercel_plugin_core.plugin")
    assert path == Path(tercel_plugin_core.__file__).parent / MANIFEST_FILENAME
    with pytest.raises(ManifestError, match="no_such_package_here"):
        manifest_path_for("no_such_package_here.plugin")


PLUGIN_SOURCE = '''
from tercel_sdk import RunnableTask, hookimpl


class Hello(RunnableTask):
    """Say hello."""

    type_name = "tests.tmpplugin.Hello"

    def run(self, ctx):
        return None


@hookimpl
def tercel_task_types():
    return [Hello]
'''


def make_plugin_package(folder: Path) -> str:
    """A real plugin package in `folder`; returns its entry-point module name."""
    package = folder / "tercel_sdk_tests_tmpplugin"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "plugin.py").write_text(textwrap.dedent(PLUGIN_SOURCE))
    return f"{package.name}.plugin"


@pytest.fixture
def tmp_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The plugin package, importable in this process."""
    module = make_plugin_package(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("tercel_sdk_tests_tmpplugin")]:
        monkeypatch.delitem(sys.modules, name)
    return module


def test_write_manifest_into_the_package(tmp_plugin: str, tmp_path: Path) -> None:
    path = write_manifest(tmp_plugin, distribution="tmp-plugin", version="0.0.1")
    assert path == tmp_path / "tercel_sdk_tests_tmpplugin" / MANIFEST_FILENAME
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written == generate_manifest(tmp_plugin, distribution="tmp-plugin", version="0.0.1")
    assert [t["type"] for t in written["types"]] == ["tests.tmpplugin.Hello"]


def test_cli_prints_the_manifest_of_the_core_plugin() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tercel_sdk.manifest", "tercel_plugin_core.plugin"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed == json.loads(json.dumps(generate_manifest("tercel_plugin_core.plugin")))
    assert "tercel.core.Log" in [t["type"] for t in printed["types"]]


# the other paths of the command line, in this process (a subprocess costs half a second each)


def test_cli_write(tmp_plugin: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([tmp_plugin, "--write"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path == tmp_path / "tercel_sdk_tests_tmpplugin" / MANIFEST_FILENAME
    assert json.loads(path.read_text(encoding="utf-8"))["types"][0]["type"] == "tests.tmpplugin.Hello"


def test_cli_print(tmp_plugin: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([tmp_plugin]) == 0
    assert json.loads(capsys.readouterr().out) == generate_manifest(tmp_plugin)


def test_cli_with_an_unknown_module_fails() -> None:
    with pytest.raises(ModuleNotFoundError, match="no_such_plugin_module"):
        main(["no_such_plugin_module"])


def test_cli_needs_a_module(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "module" in capsys.readouterr().err
