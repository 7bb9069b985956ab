"""Flows kept in a folder (GitOps, local editing): loaded at start and, with `--watch`, kept in sync.

The folder is the truth for the flows it holds: a new or changed file is deployed (a new revision
only when its source changed), a deleted file deletes its flow. A broken file is reported and
its flow keeps its last good revision. Polling (every `interval`) keeps this free of
platform-specific watchers and works on network mounts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from tercel.runtime import Runtime

__all__ = ["FlowsFolder"]

log = logging.getLogger("tercel.server")


class FlowsFolder:
    def __init__(self, runtime: Runtime, folder: Path, *, interval: float = 1.0) -> None:
        self.runtime = runtime
        self.folder = folder
        self.interval = interval
        self._seen: dict[Path, tuple[float, int]] = {}
        self._flows: dict[Path, tuple[str, str]] = {}
        self._task: asyncio.Task[None] | None = None

    def _files(self) -> list[Path]:
        return sorted({*self.folder.glob("**/*.yaml"), *self.folder.glob("**/*.yml")})

    def sync(self) -> list[str]:
        """Deploy what changed and delete what disappeared; returns what it did (for logs/tests)."""
        done: list[str] = []
        files = self._files()
        for path in files:
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            key = (stat.st_mtime, stat.st_size)
            if self._seen.get(path) == key:
                continue
            self._seen[path] = key
            try:
                flow = self.runtime.deploy_flow(path.read_bytes(), name=str(path))
            except Exception as exc:
                log.warning("flow %s not loaded: %s", path, exc)
                done.append(f"invalid {path}")
                continue
            previous = self._flows.get(path)
            if previous is not None and previous != (flow.namespace, flow.id):  # renamed in place
                self.runtime.delete_flow(*previous)
            self._flows[path] = (flow.namespace, flow.id)
            done.append(f"deployed {flow.namespace}.{flow.id} revision {flow.revision}")
        for path in set(self._seen) - set(files):
            self._seen.pop(path, None)
            owner = self._flows.pop(path, None)
            if owner is not None and owner not in self._flows.values():
                self.runtime.delete_flow(*owner)
                done.append(f"deleted {owner[0]}.{owner[1]}")
        for line in done:
            log.info("flows folder %s: %s", self.folder, line)
        return done

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="tercel-flows-folder")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                self.sync()
            except Exception:
                log.exception("flows folder %s: sync failed", self.folder)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
