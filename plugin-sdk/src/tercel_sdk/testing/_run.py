"""One execution from a test, synchronously or not: `run_flow` runs a flow to its end,
`run_task` one task alone in a flow, each in a fresh `Sandbox`.

`run_sync` is how the synchronous helpers (these and the trigger ones) call the asynchronous
sandbox, including from a test already running inside an event loop.
"""

from __future__ import annotations

import asyncio
import json
import threading
import types as _types
from collections.abc import Coroutine, Mapping, Sequence
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from typing import Any, TypeVar

from .._task import PluginType
from ._results import FlowResult, TaskResult
from ._sandbox import Sandbox
from ._sources import FlowSource, Seeds

__all__ = ["arun_flow", "arun_task", "run_flow", "run_sync", "run_task"]

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, or in a helper thread when called from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        inside_loop = False
    else:
        inside_loop = True
    if not inside_loop:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="tercel-testing")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


async def arun_flow(
    flow: FlowSource,
    inputs: Mapping[str, Any] | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    flows: Sequence[FlowSource] | None = None,
    types: Sequence[type[PluginType]] | None = None,
    plugins: Sequence[_types.ModuleType] | None = None,
    secrets: Mapping[str, str] | None = None,
    kv: Seeds | None = None,
    namespace_files: Seeds | None = None,
    home: Path | None = None,
    settings: Mapping[str, Any] | None = None,
    timeout: float = 120.0,
) -> FlowResult:
    """Run a flow to its end; see `run_flow`."""
    async with Sandbox(
        types=types, plugins=plugins, secrets=secrets, kv=kv, namespace_files=namespace_files,
        home=home, settings=settings, timeout=timeout,
    ) as sandbox:
        for other in flows or ():
            sandbox.deploy(other)
        return await sandbox.run(flow, inputs, labels=labels)


def run_flow(
    flow: FlowSource,
    inputs: Mapping[str, Any] | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    flows: Sequence[FlowSource] | None = None,
    types: Sequence[type[PluginType]] | None = None,
    plugins: Sequence[_types.ModuleType] | None = None,
    secrets: Mapping[str, str] | None = None,
    kv: Seeds | None = None,
    namespace_files: Seeds | None = None,
    home: Path | None = None,
    settings: Mapping[str, Any] | None = None,
    timeout: float = 120.0,
) -> FlowResult:
    """Run a flow to its end on a throwaway embedded tercel and return what happened.

    `flow` is YAML text or a path; `flows` are other flows it may call (subflows); `types` are
    plugin classes defined in the test; `plugins` entry-point modules registered as if
    installed (hooks included); `secrets` values by name; `kv` and `namespace_files` what to
    put in place first, by namespace (`{"company.team": {"key": value}}`); `home` a folder kept
    between runs. A flow that does not load raises the core's `FlowValidationError` (or
    `FlowSyntaxError`) naming the flow and listing every problem.
    """
    return run_sync(
        arun_flow(
            flow, inputs, labels=labels, flows=flows, types=types, plugins=plugins, secrets=secrets,
            kv=kv, namespace_files=namespace_files, home=home, settings=settings, timeout=timeout,
        )
    )


def _input_type(value: Any) -> str:
    """The input type that keeps a Python value's type through the execution's inputs."""
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "INT"
    if isinstance(value, float):
        return "FLOAT"
    if isinstance(value, str):
        return "STRING"
    if isinstance(value, datetime):
        return "DATETIME"
    if isinstance(value, date):
        return "DATE"
    if isinstance(value, time_of_day):
        return "TIME"
    if isinstance(value, timedelta):
        return "DURATION"
    if isinstance(value, Path):
        return "FILE"
    return "JSON"


def _task_flow(
    task: type[PluginType] | str,
    properties: Mapping[str, Any] | None,
    variables: Mapping[str, Any] | None,
    inputs: Mapping[str, Any] | None,
    namespace: str = "tests",
    task_id: str = "task",
) -> str:
    """The one-task flow `run_task` runs (JSON is YAML)."""
    if isinstance(task, str):
        type_name = task
    else:
        type_name = task.type_name
        if not type_name:
            raise TypeError(f"{task.__qualname__} has no type_name: set `type_name = \"...\"` on the class")
    doc: dict[str, Any] = {
        "id": "test_task",
        "namespace": namespace,
        "tasks": [{"id": task_id, "type": type_name, **dict(properties or {})}],
    }
    if variables:
        doc["variables"] = dict(variables)
    if inputs:
        doc["inputs"] = [{"id": k, "type": _input_type(v), "required": False} for k, v in inputs.items()]
    return json.dumps(doc, default=str)


async def arun_task(
    task: type[PluginType] | str,
    properties: Mapping[str, Any] | None = None,
    *,
    variables: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
    namespace: str = "tests",
    types: Sequence[type[PluginType]] | None = None,
    plugins: Sequence[_types.ModuleType] | None = None,
    secrets: Mapping[str, str] | None = None,
    kv: Seeds | None = None,
    namespace_files: Seeds | None = None,
    home: Path | None = None,
    settings: Mapping[str, Any] | None = None,
    timeout: float = 120.0,
) -> TaskResult:
    """Run one task; see `run_task`."""
    extra = list(types or ())
    if isinstance(task, type) and task not in extra:
        extra.insert(0, task)
    flow = _task_flow(task, properties, variables, inputs, namespace)
    result = await arun_flow(
        flow, inputs, types=extra, plugins=plugins, secrets=secrets, kv=kv, namespace_files=namespace_files,
        home=home, settings=settings, timeout=timeout,
    )
    return TaskResult(result)


def run_task(
    task: type[PluginType] | str,
    properties: Mapping[str, Any] | None = None,
    *,
    variables: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
    namespace: str = "tests",
    types: Sequence[type[PluginType]] | None = None,
    plugins: Sequence[_types.ModuleType] | None = None,
    secrets: Mapping[str, str] | None = None,
    kv: Seeds | None = None,
    namespace_files: Seeds | None = None,
    home: Path | None = None,
    settings: Mapping[str, Any] | None = None,
    timeout: float = 120.0,
) -> TaskResult:
    """Run one task (a class, or an installed type name) with these properties (as in YAML,
    camelCase), alone in a flow of `namespace`; its id is `task`.

    `variables` become the flow's `vars` (JSON values), `inputs` its inputs, each keeping its
    Python type (str, int, float, bool, datetime, date, time, timedelta, a Path as a FILE,
    anything else as JSON), so properties may use `{{ vars.x }}` and `{{ inputs.y }}`.
    `secrets`, `kv`, `namespace_files`, `types`, `plugins`: as for `run_flow`.
    """
    return run_sync(
        arun_task(
            task, properties, variables=variables, inputs=inputs, namespace=namespace, types=types,
            plugins=plugins, secrets=secrets, kv=kv, namespace_files=namespace_files, home=home,
            settings=settings, timeout=timeout,
        )
    )
