"""The plugin as the core sees it: entry point, shipped manifest, type metadata and examples."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from tercel_plugin_core.plugin import tercel_task_types
from tercel_sdk import FlowableTask, RunnableTask
from tercel_sdk.manifest import MANIFEST_FILENAME, generate_manifest, manifest_path_for

PLUGIN_ROOT = Path(__file__).resolve().parents[1]
TYPES = tercel_task_types()
# (Kestra group = the module a type lives in, class name). tercel's name is `tercel.core.<Name>`,
# or `tercel.core.<group>.<Name>` where Kestra's groups make a bare name ambiguous or vague
# (kv.Set vs state.Set vs storage.Delete, metric.Publish).
GROUPED = {"kv", "state", "metric", "storage", "namespace", "templating"}
GROUPED_TYPES = {("log", "Fetch")}
"""Bare names too vague on their own (`tercel.core.Fetch`: fetch what?) keep their group."""
EXPECTED = {
    ("log", "Log"),
    ("debug", "Echo"),
    ("debug", "Return"),
    ("output", "OutputValues"),
    ("execution", "Fail"),
    ("execution", "Assert"),
    ("execution", "Labels"),
    ("execution", "SetVariables"),
    ("execution", "UnsetVariables"),
    ("execution", "Exit"),
    ("execution", "Kill"),
    ("execution", "Resume"),
    ("execution", "PurgeExecutions"),
    ("log", "Fetch"),
    ("log", "PurgeLogs"),
    ("metric", "Publish"),
    ("flow", "Sleep"),
    ("flow", "Sequential"),
    ("flow", "Parallel"),
    ("flow", "If"),
    ("flow", "Switch"),
    ("flow", "ForEach"),
    ("flow", "AllowFailure"),
    ("flow", "EachSequential"),
    ("flow", "EachParallel"),
    ("flow", "Dag"),
    ("flow", "LoopUntil"),
    ("flow", "Pause"),
    ("flow", "Subflow"),
    ("flow", "ForEachItem"),
    ("flow", "ForEachItemSplit"),
    ("flow", "ForEachItemExecutable"),
    ("flow", "ForEachItemMergeOutputs"),
    ("flow", "WorkingDirectory"),
    ("namespace", "UploadFiles"),
    ("namespace", "DownloadFiles"),
    ("namespace", "DeleteFiles"),
    ("templating", "TemplatedTask"),
    ("kv", "Set"),
    ("kv", "Get"),
    ("kv", "GetKeys"),
    ("kv", "Delete"),
    ("state", "Set"),
    ("state", "Get"),
    ("state", "Delete"),
    *(("storage", n) for n in ("Write", "Concat", "Split", "Size", "Delete", "Reverse", "FilterItems", "DeduplicateItems", "LocalFiles")),
}


def _group(cls: type) -> str:
    return cls.__module__.split(".")[1]


def test_every_core_type_is_registered_once():
    assert sorted((_group(cls), cls.__name__) for cls in TYPES) == sorted(EXPECTED)
    names = [name for cls in TYPES for name in cls.all_names()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("cls", TYPES, ids=lambda c: c.type_name)
def test_type_names_follow_tercel_and_kestra(cls):
    name, group = cls.__name__, _group(cls)
    assert cls.__module__.startswith(f"tercel_plugin_core.{group}")
    grouped = group in GROUPED or (group, name) in GROUPED_TYPES
    assert cls.type_name == (f"tercel.core.{group}.{name}" if grouped else f"tercel.core.{name}")
    if cls.type_internal:  # Kestra's inner classes, e.g. ForEachItem$ForEachItemSplit
        assert cls.type_aliases[0].startswith(f"io.kestra.plugin.core.{group}.") and "$" in cls.type_aliases[0]
        return
    assert cls.type_aliases[0] == f"io.kestra.plugin.core.{group}.{name}"
    # further aliases: Kestra's older package names, or a current name Kestra renamed (WaitFor,
    # storage.Purge → execution.PurgeExecutions)
    assert all(a.startswith(("io.kestra.core.tasks.", "io.kestra.plugin.core.")) for a in cls.type_aliases[1:])


@pytest.mark.parametrize("cls", TYPES, ids=lambda c: c.type_name)
def test_types_are_documented(cls):
    assert cls.type_title and cls.describe()
    if cls.type_internal:  # documented by the type that creates it (no flow writes it)
        return
    assert cls.type_examples and all(e.full and e.code.startswith("id: ") for e in cls.type_examples)
    for name, field in cls.model_fields.items():
        assert field.description, f"{cls.__name__}.{name} has no description"


def test_shipped_manifest_is_up_to_date():
    """Regenerate with: .venv/bin/python -m tercel_sdk.manifest tercel_plugin_core.plugin --write"""
    shipped_path = manifest_path_for("tercel_plugin_core.plugin")
    if shipped_path != PLUGIN_ROOT / "src" / "tercel_plugin_core" / MANIFEST_FILENAME:
        # an installed wheel (the nightly run tests one): the manifest it shipped is the one to check
        assert shipped_path is not None and shipped_path.is_file(), "the installed plugin ships no manifest"
    shipped = json.loads(shipped_path.read_text(encoding="utf-8"))
    fresh = generate_manifest(
        "tercel_plugin_core.plugin",
        distribution="tercel-plugin-core",
        version=metadata.version("tercel-plugin-core"),
    )
    assert shipped == json.loads(json.dumps(fresh)), (
        "the shipped manifest is stale: run "
        "`.venv/bin/python -m tercel_sdk.manifest tercel_plugin_core.plugin --write`"
    )


def test_entry_point_is_declared_and_light():
    eps = [ep for ep in metadata.entry_points(group="tercel.plugins") if ep.name == "core"]
    assert [ep.value for ep in eps] == ["tercel_plugin_core.plugin"]
    code = (
        "import sys, tercel_plugin_core.plugin as p\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('tercel_plugin_core.'))\n"
        "assert loaded == ['tercel_plugin_core.plugin'], loaded\n"
        "p.tercel_task_types()\n"
        "assert 'tercel_plugin_core.flow' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.fixture(scope="module")
def plugins() -> Any:
    from tercel.plugins import PluginManager

    return PluginManager().discover()


@pytest.mark.parametrize(
    ("cls", "index"),
    [(cls, i) for cls in TYPES for i in range(len(cls.type_examples))],
    ids=lambda x: x.type_name if isinstance(x, type) else str(x),
)
def test_examples_are_valid_flows(cls, index, plugins):
    """Every documented example passes the real validation `tercel validate` runs."""
    from tercel.flows import load_flow

    flow = load_flow(cls.type_examples[index].code, plugins, name=f"{cls.type_name} example {index}")
    assert cls.type_name in {node.type for node in flow.tasks.values()}
    for node in flow.tasks.values():
        instance = plugins.load_class(node.type).model_validate(node.spec)
        assert isinstance(instance, FlowableTask | RunnableTask)


@pytest.mark.slow
def test_wheel_ships_the_manifest(tmp_path):
    uv = shutil.which("uv") or next(
        (str(p) for p in (PLUGIN_ROOT.parents[1] / ".tools" / "bin" / "uv",) if p.exists()), None
    )
    assert uv is not None, "uv is installed by `make setup` (.tools/bin/uv): run it first"
    subprocess.run(
        [uv, "build", "--wheel", "--quiet", str(PLUGIN_ROOT), "-o", str(tmp_path)],
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert f"tercel_plugin_core/{MANIFEST_FILENAME}" in names
    assert "tercel_plugin_core/plugin.py" in names


def _trigger_and_condition_types() -> list[type]:
    from tercel_plugin_core.plugin import tercel_condition_types, tercel_trigger_types

    return [*tercel_trigger_types(), *tercel_condition_types()]


@pytest.mark.parametrize("cls", _trigger_and_condition_types(), ids=lambda c: c.type_name)
def test_trigger_and_condition_types_are_named_and_documented(cls, plugins):
    group = cls.__module__.split(".")[1]
    assert group in ("trigger", "condition")
    assert cls.type_name == f"tercel.core.{group}.{cls.__name__}"
    assert all(a.startswith(f"io.kestra.plugin.core.{group}.") or a.startswith("io.kestra.core.models.") for a in cls.type_aliases)
    assert cls.type_title and cls.describe()
    assert plugins.get_type(cls.type_name).kind == group
    from tercel.flows import load_flow

    for example in cls.type_examples:
        assert example.full and load_flow(example.code, plugins, name=f"{cls.type_name} example")
