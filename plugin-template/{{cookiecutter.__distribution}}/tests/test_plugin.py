"""The plugin as tercel sees it: its entry point, its shipped manifest, its documentation.

The manifest test is the one to mind: tercel and the registry read `tercel-manifest.json`, not
the code, so after changing a type regenerate it as the failure says.
"""

from __future__ import annotations

import importlib
import json
import tomllib
from pathlib import Path

import pytest
from tercel_sdk import PluginType
from tercel_sdk.manifest import MANIFEST_FILENAME, generate_manifest, manifest_path_for

from {{ cookiecutter.__package }} import plugin

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
MODULE = plugin.__name__
REGENERATE = f"python -m tercel_sdk.manifest {MODULE} --write"
TYPES: list[type[PluginType]] = [*plugin.tercel_task_types(){% if cookiecutter.include_trigger %}, *plugin.tercel_trigger_types(){% endif %}]


def test_the_entry_point_names_the_plugin_module():
    assert PROJECT["entry-points"]["tercel.plugins"] == {"{{ cookiecutter.__entry_point }}": MODULE}


def test_the_shipped_manifest_is_current():
    path = manifest_path_for(MODULE)
    assert path == ROOT / "src" / "{{ cookiecutter.__package }}" / MANIFEST_FILENAME
    assert path.is_file(), f"there is no {path}: generate it with `{REGENERATE}`"
    shipped = json.loads(path.read_text(encoding="utf-8"))
    fresh = json.loads(json.dumps(generate_manifest(MODULE)))
    # written for a release (when generated in an installed environment) or for none
    release = {key: shipped.pop(key, "") for key in ("distribution", "version")}
    for key in release:
        fresh.pop(key)
    assert shipped == fresh, f"{path} does not describe the code any more: run `{REGENERATE}`"
    assert release["version"] in ("", PROJECT["version"]), (
        f"{path} was generated for version {release['version']}, pyproject.toml says "
        f"{PROJECT['version']}: the registry would refuse the wheel. Reinstall "
        f"(`pip install -e '.[test]'`) and run `{REGENERATE}`"
    )


@pytest.mark.parametrize("cls", TYPES, ids=lambda c: c.type_name)
def test_types_are_documented(cls):
    assert cls.type_name.startswith("{{ cookiecutter.type_prefix }}.")
    assert cls.type_title and cls.describe()
    assert cls.type_examples and all(e.full and e.code.startswith("id: ") for e in cls.type_examples)
    base = next(b for b in cls.__mro__[1:] if b.__module__.startswith("tercel_sdk"))
    for name, field in cls.model_fields.items():
        if name not in base.model_fields:
            assert field.description, f"{cls.__name__}.{name} has no description"


@pytest.fixture(scope="module")
def plugins():
    """tercel's plugin manager with this plugin in it, installed or not (tercel-core is a test
    dependency: this is the validation `tercel validate` and the server run)."""
    from tercel.plugins import PluginManager

    manager = PluginManager().discover()
    if MODULE not in {info.module for info in manager.plugins.values()}:
        manager.add_module(importlib.import_module(MODULE), distribution=PROJECT["name"], version=PROJECT["version"])
    return manager


EXAMPLES = [(cls, i) for cls in TYPES for i in range(len(cls.type_examples))]


@pytest.mark.parametrize(("cls", "index"), EXAMPLES, ids=[f"{c.type_name}-{i}" for c, i in EXAMPLES])
def test_documented_examples_are_valid_flows(cls, index, plugins):
    from tercel.flows import load_flow

    load_flow(cls.type_examples[index].code, plugins, name=f"{cls.type_name} example {index}")


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_example_flows_are_valid(path, plugins):
    from tercel.flows import load_flow

    load_flow(path.read_text(encoding="utf-8"), plugins, name=str(path))
