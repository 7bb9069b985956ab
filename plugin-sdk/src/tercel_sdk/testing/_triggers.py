"""Trigger checks without writing a sandbox: `poll_trigger` (one check of a polling trigger)
and `listen_trigger` (the first events of a realtime trigger).

Each opens a fresh `Sandbox` and runs its `poll` or `listen`, so the trigger sees the
scheduler's own context; several checks over changing state use `Sandbox.poll` directly.
"""

from __future__ import annotations

import types as _types
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from .._task import PluginType
from ._results import TriggerCheck
from ._run import run_sync
from ._sandbox import Sandbox
from ._sources import Seeds

__all__ = ["listen_trigger", "poll_trigger"]


def poll_trigger(
    trigger: type[PluginType] | str,
    properties: Mapping[str, Any] | None = None,
    *,
    memory: Mapping[str, Any] | None = None,
    namespace: str = "tests",
    now: datetime | None = None,
    types: Sequence[type[PluginType]] | None = None,
    plugins: Sequence[_types.ModuleType] | None = None,
    secrets: Mapping[str, str] | None = None,
    kv: Seeds | None = None,
    namespace_files: Seeds | None = None,
    home: Path | None = None,
) -> TriggerCheck:
    """One check of a polling trigger in a fresh sandbox (`memory`: what an earlier check
    kept). For several checks over changing KV or files, use `Sandbox.poll`."""

    async def check() -> TriggerCheck:
        async with Sandbox(
            types=types, plugins=plugins, secrets=secrets, kv=kv, namespace_files=namespace_files, home=home
        ) as sandbox:
            return await sandbox.poll(trigger, properties, namespace=namespace, now=now, memory=memory)

    return run_sync(check())


def listen_trigger(
    trigger: type[PluginType] | str,
    properties: Mapping[str, Any] | None = None,
    *,
    events: int = 1,
    timeout: float = 10.0,
    namespace: str = "tests",
    types: Sequence[type[PluginType]] | None = None,
    plugins: Sequence[_types.ModuleType] | None = None,
    secrets: Mapping[str, str] | None = None,
    kv: Seeds | None = None,
    namespace_files: Seeds | None = None,
) -> list[Any]:
    """The first `events` events of a realtime trigger's listener, in a fresh sandbox."""

    async def collect() -> list[Any]:
        async with Sandbox(types=types, plugins=plugins, secrets=secrets, kv=kv, namespace_files=namespace_files) as sandbox:
            return await sandbox.listen(trigger, properties, events=events, timeout=timeout, namespace=namespace)

    return run_sync(collect())
