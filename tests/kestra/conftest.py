"""Kestra-style flows (tests/kestra/flows/*.yaml) run through the real engine.

Each test asserts what Kestra documents as the observable result of its flow: the final state of
the execution, the task runs in the order they were created with their states and attempt
counts, and the outputs. `kestra.trace(execution)` gives the task runs as short lines:

    "process[b] FAILED x1"   task id, [value] when the run has one, state, number of attempts

Flowable task runs (ForEach, Parallel, If, Pause, Subflow, ...) are shown without an attempt count:
how many attempts a flowable task run carries is not something Kestra documents.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from tercel.flows import Flow, load_flow
from tercel.plugins import PluginManager
from tercel.runtime import Runtime
from tercel.settings import Settings
from tercel_sdk import State
from tercel_sdk.testing import FlowResult, run_flow

FLOWS = Path(__file__).resolve().parent / "flows"
PLUGINS = PluginManager().discover()


def _walk_tasks(node: Any) -> Iterable[tuple[str, str]]:
    if isinstance(node, dict):
        if isinstance(node.get("id"), str) and isinstance(node.get("type"), str):
            yield node["id"], node["type"]
        for value in node.values():
            yield from _walk_tasks(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_tasks(item)


class Kestra:
    """Helpers shared by the tests of this folder (the `kestra` fixture)."""

    flows = FLOWS

    @staticmethod
    def source(name: str) -> str:
        return (FLOWS / f"{name}.yaml").read_text(encoding="utf-8")

    def flowable_ids(self, *names: str) -> set[str]:
        ids: set[str] = set()
        for name in names:
            for task_id, type_name in _walk_tasks(YAML(typ="safe").load(self.source(name))):
                # inputs, SLAs, onResume inputs also have an id and a type: only task types count
                if type_name.startswith(("io.kestra.", "tercel.")) and PLUGINS.get_type(type_name).flowable:
                    ids.add(task_id)
        return ids

    def trace(self, execution: dict[str, Any], *names: str) -> list[str]:
        """The task runs of `execution`, in order; `names` are the flows whose tasks they are."""
        flowables = self.flowable_ids(*names)
        lines = []
        for run in execution["taskRunList"]:
            line = run["taskId"]
            if run.get("value") is not None:
                line += f"[{run['value']}]"
            line += f" {run['state']['current']}"
            if run["taskId"] not in flowables:
                line += f" x{len(run.get('attempts') or [])}"
            lines.append(line)
        return lines

    def run(self, name: str, inputs: dict[str, Any] | None = None, *, subflows: Iterable[str] = (), home: Path | None = None) -> FlowResult:
        return run_flow(FLOWS / f"{name}.yaml", inputs, flows=[FLOWS / f"{s}.yaml" for s in subflows], home=home, timeout=30)

    # -- driving the runtime directly (resume, restart, replay, several executions) -------------
    def register(self, runtime: Runtime, name: str, source: str | None = None) -> Flow:
        return runtime.register_flow(load_flow(source if source is not None else self.source(name), runtime.plugins, name=f"{name}.yaml"))

    @staticmethod
    async def until(runtime: Runtime, execution_id: str, predicate: Any, what: str, timeout: float = 20.0) -> Any:
        """Poll the stored execution until `predicate(execution)` holds; returns that execution."""
        for _ in range(int(timeout / 0.02)):
            ex = runtime.get_execution(execution_id)
            if ex is not None and predicate(ex):
                return ex
            await asyncio.sleep(0.02)
        raise AssertionError(f"execution never {what}: {runtime.get_execution(execution_id)}")

    async def until_state(self, runtime: Runtime, execution_id: str, state: State, timeout: float = 20.0) -> Any:
        return await self.until(runtime, execution_id, lambda ex: ex.state.current is state, f"became {state.value}", timeout)


@pytest.fixture
def kestra() -> Kestra:
    return Kestra()


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with Runtime(Settings(home=tmp_path / "home"), plugins=PLUGINS) as rt:
        yield rt
