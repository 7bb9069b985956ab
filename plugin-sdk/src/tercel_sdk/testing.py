"""Run a task or a whole flow in-process, for a plugin's own tests.

This is the one module of the SDK that uses the tercel core (install `tercel-core` in your test
dependencies): tasks run through the real engine, worker, expressions and storage, on a throwaway
SQLite database and storage folder, so a test sees exactly what a user would.

    from tercel_sdk.testing import run_task, run_flow

    result = run_task(MyTask, {"url": "http://127.0.0.1:8080"})
    assert result.state == "SUCCESS" and result.outputs["status"] == 200

    result = run_flow("tests/flows/hello.yaml", inputs={"name": "Ada"})
    assert result.outputs("hello")["value"] == "Hello Ada"
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import types
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ._hooks import hookimpl
from ._task import PluginType

__all__ = ["FlowResult", "TaskResult", "arun_flow", "arun_task", "run_flow", "run_task"]

T = TypeVar("T")


@dataclass
class FlowResult:
    """The end of an execution, as the engine left it."""

    execution: dict[str, Any]
    """The execution document (DESIGN §4), values still Python-typed."""
    logs: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def state(self) -> str:
        return self.execution["state"]["current"]

    @property
    def id(self) -> str:
        return self.execution["id"]

    @property
    def task_runs(self) -> list[dict[str, Any]]:
        return list(self.execution["taskRunList"])

    def task_run(self, task_id: str, value: Any = None) -> dict[str, Any]:
        """The (last) task run of a task; `value` picks one iteration of a loop."""
        runs = [t for t in self.task_runs if t["taskId"] == task_id and (value is None or t["value"] == value)]
        if not runs:
            raise KeyError(f"no task run of {task_id!r}" + (f" with value {value!r}" if value is not None else ""))
        return runs[-1]

    def outputs(self, task_id: str, value: Any = None) -> dict[str, Any]:
        return dict(self.task_run(task_id, value).get("outputs") or {})

    @property
    def flow_outputs(self) -> dict[str, Any]:
        return dict(self.execution.get("outputs") or {})

    def messages(self, task_id: str | None = None, level: str | None = None) -> list[str]:
        return [
            e["message"]
            for e in self.logs
            if (task_id is None or e.get("task_id") == task_id) and (level is None or e.get("level") == level)
        ]

    def read(self, uri: str) -> bytes:
        """Content of a file the execution wrote to internal storage."""
        return self.files[uri]


@dataclass
class TaskResult:
    """One task run through the engine."""

    flow: FlowResult

    @property
    def state(self) -> str:
        return self.flow.task_run("task")["state"]["current"]

    @property
    def outputs(self) -> dict[str, Any]:
        return self.flow.outputs("task")

    @property
    def error(self) -> str | None:
        return self.flow.task_run("task").get("error")

    @property
    def attempts(self) -> list[dict[str, Any]]:
        return list(self.flow.task_run("task")["attempts"])

    @property
    def metrics(self) -> list[dict[str, Any]]:
        attempts = self.attempts
        return list(attempts[-1].get("metrics") or []) if attempts else []

    @property
    def logs(self) -> list[tuple[str, str]]:
        return [(e["level"], e["message"]) for e in self.flow.logs if e.get("task_id") == "task"]

    def read(self, uri: str) -> bytes:
        return self.flow.read(uri)


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, or in a helper thread when called from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _adhoc_plugin(classes: list[type[PluginType]]) -> types.ModuleType:
    module = types.ModuleType("tercel_testing_adhoc")

    @hookimpl
    def tercel_task_types() -> list[type[PluginType]]:
        return [c for c in classes if getattr(c, "type_kind", "task") == "task"]

    @hookimpl
    def tercel_trigger_types() -> list[type[PluginType]]:
        return [c for c in classes if getattr(c, "type_kind", "task") == "trigger"]

    module.tercel_task_types = tercel_task_types  # type: ignore[attr-defined]
    module.tercel_trigger_types = tercel_trigger_types  # type: ignore[attr-defined]
    return module


async def arun_flow(
    flow: str | Path,
    inputs: Mapping[str, Any] | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    flows: list[str | Path] | None = None,
    types: list[type[PluginType]] | None = None,
    home: Path | None = None,
    timeout: float = 120.0,
) -> FlowResult:
    """Run a flow (YAML text or a file path) to its end; see `run_flow`."""
    from tercel.flows import load_flow
    from tercel.plugins import PluginManager
    from tercel.runtime import Runtime
    from tercel.settings import Settings

    def source(item: str | Path) -> tuple[str, str]:
        if isinstance(item, Path) or ("\n" not in str(item) and str(item).endswith((".yaml", ".yml"))):
            path = Path(item)
            return path.read_text(encoding="utf-8"), str(path)
        return str(item), "<flow>"

    with tempfile.TemporaryDirectory(prefix="tercel-test-") as tmp:
        settings = Settings(home=home or Path(tmp))
        plugins = PluginManager(cache_dir=settings.cache_dir)
        if types:
            plugins.discover()
            plugins.add_module(_adhoc_plugin(list(types)), distribution="tercel-testing-adhoc", version="0")
        async with Runtime(settings, plugins=plugins) as runtime:
            text, name = source(flow)
            main = load_flow(text, runtime.plugins, name=name)
            for other in flows or ():
                o_text, o_name = source(other)
                runtime.register_flow(load_flow(o_text, runtime.plugins, name=o_name))
            runtime.register_flow(main)
            execution = runtime.create_execution(main, inputs, labels=labels)
            done = await runtime.wait(execution.id, timeout=timeout)
            logs = runtime.logs(done.id)
            files: dict[str, bytes] = {}
            for info in runtime.storage.list("tercel:///"):
                files[info.uri] = runtime.storage.get_bytes(info.uri)
            return FlowResult(done.to_dict(), logs, files)


def run_flow(
    flow: str | Path,
    inputs: Mapping[str, Any] | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    flows: list[str | Path] | None = None,
    types: list[type[PluginType]] | None = None,
    home: Path | None = None,
    timeout: float = 120.0,
) -> FlowResult:
    """Run a flow to its end on a throwaway embedded backend and return what happened.

    `flow` is YAML text or a path; `flows` are other flows it may call; `types` are task classes
    not installed as a plugin (defined in the test itself).
    """
    return _run_sync(arun_flow(flow, inputs, labels=labels, flows=flows, types=types, home=home, timeout=timeout))


def _task_flow(task: type[PluginType] | str, properties: Mapping[str, Any] | None, variables: Mapping[str, Any] | None, inputs: Mapping[str, Any] | None) -> str:
    import json

    type_name = task if isinstance(task, str) else task.type_name
    doc: dict[str, Any] = {
        "id": "test_task",
        "namespace": "tests",
        "tasks": [{"id": "task", "type": type_name, **dict(properties or {})}],
    }
    if variables:
        doc["variables"] = dict(variables)
    if inputs:
        doc["inputs"] = [{"id": k, "type": "JSON", "required": False} for k in inputs]
    return json.dumps(doc, default=str)  # JSON is YAML


async def arun_task(
    task: type[PluginType] | str,
    properties: Mapping[str, Any] | None = None,
    *,
    variables: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
    timeout: float = 120.0,
) -> TaskResult:
    types = [task] if isinstance(task, type) else None
    flow = _task_flow(task, properties, variables, inputs)
    return TaskResult(await arun_flow(flow, inputs, types=types, timeout=timeout))


def run_task(
    task: type[PluginType] | str,
    properties: Mapping[str, Any] | None = None,
    *,
    variables: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
    timeout: float = 120.0,
) -> TaskResult:
    """Run one task (a class, or an installed type name) with these properties.

    `variables` become the flow's `vars`, `inputs` its inputs (any JSON value), so properties may
    use `{{ vars.x }}` and `{{ inputs.y }}`. The task's id is `task`.
    """
    return _run_sync(arun_task(task, properties, variables=variables, inputs=inputs, timeout=timeout))
