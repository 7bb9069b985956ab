"""Which plugin version each task of a flow uses, and the lock a saved revision keeps (DESIGN §6).

Three versions of one plugin are installed: 1.0.0 in tercel's own environment (runs in-process)
and 1.5.0 and 2.0.0 in environments of their own (run in plugin hosts). Resolution reads
manifests only, so the environments need no interpreter here.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest
from tercel.flows import FlowValidationError, load_flow
from tercel.plugins import PluginManager
from tercel_sdk import FlowableTask, Output, Property, RunnableTask, Trigger, hookimpl
from tercel_sdk.manifest import generate_manifest

DIST = "tercel-plugin-acme"


class _Out(Output):
    message: str


def _greet(version: str, *, style: bool) -> type[RunnableTask]:
    fields: dict[str, Any] = {"__annotations__": {"name": Property[str]}}
    if style:  # a property only 2.0.0 has
        fields["__annotations__"]["style"] = Property[str] | None
        fields["style"] = None
    fields.update(
        type_name="acme.Greet",
        __doc__=f"Greet ({version}).",
        run=lambda self, ctx: _Out(message=ctx.render(self.name)),
        __module__=__name__,
        __qualname__="Greet",
    )
    return type("Greet", (RunnableTask,), fields)


class _Loop(FlowableTask):
    """A flowable of the plugin."""

    type_name = "acme.Loop"


class _Watch(Trigger):
    """A trigger of the plugin."""

    type_name = "acme.Watch"


def _module(version: str) -> types.ModuleType:
    module = types.ModuleType(f"acme_{version.replace('.', '_')}")
    greet = _greet(version, style=version.startswith("2"))

    @hookimpl
    def tercel_task_types() -> list[type]:
        return [greet, _Loop]

    @hookimpl
    def tercel_trigger_types() -> list[type]:
        return [_Watch]

    module.tercel_task_types = tercel_task_types  # type: ignore[attr-defined]
    module.tercel_trigger_types = tercel_trigger_types  # type: ignore[attr-defined]
    return module


def manager(**options: Any) -> PluginManager:
    plugins = PluginManager(environments=Path("/nonexistent/plugins"), **options).discover()
    plugins.add_module(_module("1.0.0"), distribution=DIST, version="1.0.0")
    for version in ("1.5.0", "2.0.0"):
        manifest = generate_manifest(_module(version), distribution=DIST, version=version)
        plugins.add_environment(DIST, version, "acme.plugin", manifest, Path(f"/envs/{version}/bin/python"), Path(f"/envs/{version}"))
    return plugins


def flow(tasks: str, *, namespace: str = "team.a", extra: str = "") -> str:
    return f"id: f\nnamespace: {namespace}\n{extra}tasks:\n{tasks}"


GREET = "  - id: {id}\n    type: acme.Greet\n    name: world\n"


def greet(task_id: str = "g", version: str | None = None) -> str:
    text = GREET.format(id=task_id)
    return text + (f"    version: \"{version}\"\n" if version is not None else "")


def problems(source: str, plugins: PluginManager, lock: dict[str, Any] | None = None) -> list[str]:
    with pytest.raises(FlowValidationError) as info:
        load_flow(source, plugins, lock=lock)
    return [str(p) for p in info.value.problems]


def test_without_a_pin_the_instance_default_decides() -> None:
    latest = load_flow(flow(greet()), manager())
    assert latest.lock["acme.Greet"] == {"distribution": DIST, "version": "2.0.0"}
    oldest = load_flow(flow(greet()), manager(version_default="oldest"))
    assert oldest.lock["acme.Greet"] == {"distribution": DIST, "version": "1.0.0"}


def test_with_the_default_none_every_task_pins_but_the_cores_own() -> None:
    plugins = manager(version_default="none")
    (problem,) = problems(flow(greet()), plugins)
    assert "acme.Greet (tercel-plugin-acme): this instance needs every task to pin its `version`" in problem
    assert "installed: 1.0.0, 1.5.0, 2.0.0" in problem
    assert problem.startswith("5:5: tasks[0].type: ")  # where the task's type is written
    core_only = load_flow(flow("  - id: l\n    type: tercel.core.Log\n    message: hi\n"), plugins)
    assert core_only.lock["tercel.core.Log"]["distribution"] == "tercel-plugin-core"
    assert load_flow(flow(greet(version="1.5.0")), plugins).lock["acme.Greet"]["version"] == "1.5.0"


@pytest.mark.parametrize(
    ("pin", "expected"),
    [("1.5.0", "1.5.0"), ("1.5", "1.5.0"), ("~=1.0", "1.5.0"), ("<2", "1.5.0"), ("latest", "2.0.0"), ("oldest", "1.0.0")],
)
def test_a_pin_picks_an_installed_version(pin: str, expected: str) -> None:
    assert load_flow(flow(greet(version=pin)), manager()).lock["acme.Greet"]["version"] == expected


def test_a_pin_nothing_meets_says_what_is_installed_where_the_pin_is() -> None:
    (problem,) = problems(flow(greet(version="3.0.0")), manager())
    assert "version 3.0.0 is not installed (installed: 1.0.0, 1.5.0, 2.0.0)" in problem
    assert problem.startswith("7:5: tasks[0].version: ")


def test_plugin_defaults_pin_every_task_of_the_type() -> None:
    defaults = "pluginDefaults:\n  - type: acme.Greet\n    values:\n      version: oldest\n"
    loaded = load_flow(flow(greet(), extra=defaults), manager())
    assert loaded.lock["acme.Greet"]["version"] == "1.0.0"


def test_namespace_defaults_apply_to_the_namespace_and_its_children() -> None:
    plugins = manager(namespace_versions={"team": {DIST: "~=1.0"}, "team.b": {"acme.Greet": "oldest"}, "ops": {"*": "1.0.0"}})
    assert load_flow(flow(greet(), namespace="team.a"), plugins).lock["acme.Greet"]["version"] == "1.5.0"
    assert load_flow(flow(greet(), namespace="team.b.c"), plugins).lock["acme.Greet"]["version"] == "1.0.0"
    assert load_flow(flow(greet(), namespace="ops"), plugins).lock["acme.Greet"]["version"] == "1.0.0"
    assert load_flow(flow(greet(), namespace="other"), plugins).lock["acme.Greet"]["version"] == "2.0.0"
    # a task's own pin wins over the namespace's
    assert load_flow(flow(greet(version="2.0.0"), namespace="team.b"), plugins).lock["acme.Greet"]["version"] == "2.0.0"


def test_two_versions_of_one_type_in_one_flow_are_locked_per_task() -> None:
    plugins = manager()
    loaded = load_flow(flow(greet("old", "1.0.0") + greet("new", "2.0.0") + greet("plain")), plugins)
    assert loaded.lock["acme.Greet"] == {"distribution": DIST, "version": "1.0.0", "tasks": {"new": "2.0.0", "plain": "2.0.0"}}
    assert not plugins.locked_type("acme.Greet", loaded.lock, task_id="old").isolated
    new = plugins.locked_type("acme.Greet", loaded.lock, task_id="new")
    assert (new.version, new.isolated, new.python) == ("2.0.0", True, Path("/envs/2.0.0/bin/python"))


def test_a_saved_lock_is_kept_when_newer_versions_appear() -> None:
    plugins = manager()
    saved = load_flow(flow(greet()), plugins).lock
    assert saved["acme.Greet"]["version"] == "2.0.0"
    newer = generate_manifest(_module("2.1.0"), distribution=DIST, version="2.1.0")
    plugins.add_environment(DIST, "2.1.0", "acme.plugin", newer, Path("/envs/2.1.0/bin/python"), Path("/envs/2.1.0"))
    assert load_flow(flow(greet()), plugins).lock["acme.Greet"]["version"] == "2.1.0"  # resolved anew
    assert load_flow(flow(greet()), plugins, lock=saved).lock == saved  # the saved revision's


def test_a_lock_naming_an_uninstalled_version_fails_with_what_to_do() -> None:
    lock = {"acme.Greet": {"distribution": DIST, "version": "0.9.0"}}
    (problem,) = problems(flow(greet()), manager(), lock=lock)
    assert "the flow's lock needs tercel-plugin-acme 0.9.0, which is no longer installed (installed: 1.0.0, 1.5.0, 2.0.0)" in problem
    assert "save the flow again" in problem


def test_properties_are_checked_against_the_chosen_version() -> None:
    styled = flow(greet(version="{v}") + "    style: loud\n")
    assert load_flow(styled.format(v="2.0.0"), manager()).lock["acme.Greet"]["version"] == "2.0.0"
    (problem,) = problems(styled.format(v="1.5.0"), manager())
    assert "unknown property 'style'" in problem


def test_flowables_and_triggers_of_an_isolated_version_are_refused() -> None:
    plugins = manager()
    loop = "  - id: l\n    type: acme.Loop\n    version: 2.0.0\n    tasks:\n" + "  " + greet().replace("\n  ", "\n    ")
    (problem,) = problems(flow(loop), plugins)
    assert "acme.Loop 2.0.0 (tercel-plugin-acme) is installed in an environment of its own, and flowable tasks run in the executor" in problem
    trigger = "triggers:\n  - id: w\n    type: acme.Watch\n    version: 2.0.0\n"
    (problem,) = problems(flow(greet(), extra=trigger), plugins)
    assert "triggers run in the scheduler" in problem
    # the in-process version of either is fine
    assert load_flow(flow(greet(), extra=trigger.replace("2.0.0", "1.0.0")), plugins).lock["acme.Watch"]["version"] == "1.0.0"


def test_a_blocked_version_is_not_offered() -> None:
    plugins = manager(blocked=[f"{DIST}==2.0.0"])
    assert load_flow(flow(greet()), plugins).lock["acme.Greet"]["version"] == "1.5.0"


def test_broken_locks_name_each_revision_type_and_version_not_installed() -> None:
    from dataclasses import dataclass

    from tercel.flows import broken_locks

    @dataclass
    class Revision:
        namespace: str
        flow_id: str
        revision: int
        lock: dict[str, Any]

    plugins = manager()
    fine = Revision("team.a", "ok", 3, load_flow(flow(greet("a", "1.0.0") + greet("b", "2.0.0")), plugins).lock)
    stale = Revision("team.a", "old", 1, {
        "acme.Greet": {"distribution": DIST, "version": "0.9.0", "tasks": {"x": "2.0.0", "y": "0.8.0"}},
        "tercel.core.Log": {"distribution": "tercel-plugin-core", "version": "0.0.1"},
    })
    found = broken_locks([fine, stale], plugins)
    assert [str(b) for b in found] == [
        "team.a.old revision 1: acme.Greet is locked to tercel-plugin-acme 0.9.0, which is not installed",
        "team.a.old revision 1: acme.Greet (tasks y) is locked to tercel-plugin-acme 0.8.0, which is not installed",
        "team.a.old revision 1: tercel.core.Log is locked to tercel-plugin-core 0.0.1, which is not installed",
    ]
    assert found[1].to_dict() == {
        "namespace": "team.a", "flowId": "old", "revision": 1, "type": "acme.Greet",
        "distribution": DIST, "version": "0.8.0", "tasks": ["y"],
    }
