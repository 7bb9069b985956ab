"""`tercel.core.trigger.FileWatch`: the core realtime trigger, one execution per file that
appears, changes or goes away in a folder of the machine the scheduler runs on.

It is the drop-zone pattern (files arrive by SFTP, a mount, another program) without polling
delays on Linux: the kernel (inotify) says when a file was closed, moved in or deleted, and the
folder is scanned then; elsewhere it is scanned every `interval`, and a file is handed over once
it stayed the same for two scans. Either way a file still being written is not handed over.

What it has handed over is kept in the trigger's memory (relative path → size and modification
time), saved with each execution it starts, so after a restart the changes made while tercel
was down fire too, and none fires twice. A folder can only be watched if an administrator
allowed it (`TERCEL_ALLOWED_PATHS`): a flow author must not be able to make the server read
its files.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field
from tercel_sdk import Duration, Example, Property, RealtimeTrigger, TriggerEvent

from ._inotify import Inotify

__all__ = ["FileWatch"]

FileEvent = Literal["CREATE", "UPDATE", "DELETE"]

#: With inotify, the folder is scanned anyway this often (seconds), in case an event was lost.
_SAFETY_SCAN = 60.0
#: After the kernel's first word, how long to let a burst of changes gather before scanning.
_GATHER = 0.02


def _fingerprint(stat: os.stat_result) -> str:
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def _scan(root: Path, recursive: bool, pattern: re.Pattern[str] | None) -> dict[str, str]:
    """Every regular file under `root` (relative path with `/` → fingerprint)."""
    found: dict[str, str] = {}
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if recursive:
                        stack.append(Path(entry.path))
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue
                rel = Path(entry.path).relative_to(root).as_posix()
                if pattern is not None and not pattern.fullmatch(rel):
                    continue
                found[rel] = _fingerprint(entry.stat(follow_symlinks=False))
            except FileNotFoundError:
                continue  # gone while we looked: the next scan says so
    return found


def _folders(root: Path) -> list[Path]:
    out = [root]
    for folder, dirs, _files in os.walk(root):
        out.extend(Path(folder) / d for d in dirs)
    return out


class FileWatch(RealtimeTrigger):
    """Start one execution per file created, changed or deleted in a folder of this machine.

    The folder must lie under one of the folders the administrator allowed with
    `TERCEL_ALLOWED_PATHS` (none by default). On Linux the trigger hears changes at once; a
    file is handed over when its writer closed it (or when it was moved in). Elsewhere the folder
    is scanned every `interval` and a file is handed over once it stayed the same for two scans.

    The execution sees `trigger.event` (`CREATE`, `UPDATE` or `DELETE`), `trigger.path` (the
    absolute path), `trigger.relativePath`, `trigger.name`, `trigger.size`,
    `trigger.modifiedDate` and, unless the file was deleted, `trigger.uri`: a copy of the file
    in internal storage, taken when it was handed over (`{{ read(trigger.uri) }}`), so the flow
    reads what fired it even if the file changes again.

    When the trigger starts for the first time, the files already there are taken as seen
    (with `includeExisting: true` each fires a `CREATE`). From then on it remembers what it
    handed over, with each execution: files changed while tercel was stopped fire when it
    starts again, and nothing fires twice.
    """

    type_name: ClassVar[str] = "tercel.core.trigger.FileWatch"
    type_title: ClassVar[str] = "Start an execution for each file that lands in a local folder."
    type_examples: ClassVar[tuple[Example, ...]] = (
        Example(
            title="Load each CSV file dropped into `/data/inbox` (allowed with `TERCEL_ALLOWED_PATHS=/data`).",
            full=True,
            code="""\
id: load_drops
namespace: company.team

tasks:
  - id: show
    type: tercel.core.Log
    message: "{{ trigger.event }} {{ trigger.name }} ({{ trigger.size }} bytes): {{ read(trigger.uri) }}"

triggers:
  - id: inbox
    type: tercel.core.trigger.FileWatch
    path: /data/inbox
    regExp: ".*\\\\.csv"
""",
        ),
    )

    path: Property[str] = Field(description="The folder to watch: an absolute path under one of `TERCEL_ALLOWED_PATHS`.")
    recursive: bool = Field(default=False, description="Watch the sub-folders too (paths are then relative to `path`).")
    reg_exp: Property[str] | None = Field(
        default=None, description="A regular expression the path relative to `path` (with `/`) must match as a whole."
    )
    on: list[FileEvent] = Field(
        default_factory=lambda: ["CREATE", "UPDATE"], min_length=1,
        description="Which changes start an execution: `CREATE`, `UPDATE`, `DELETE`.",
    )
    include_existing: bool = Field(
        default=False, description="On the trigger's very first start, fire a `CREATE` for each file already there."
    )
    interval: Duration = Field(  # type: ignore[assignment]
        default="PT1S", description="How often the folder is scanned where the system cannot report changes (not Linux)."
    )

    async def events(self, ctx: Any) -> AsyncIterator[TriggerEvent | None]:
        """Hand over each change (see the class); `ctx.memory['files']` is what was handed over."""
        root = ctx.local_path(ctx.render(self.path))
        if not root.is_dir():
            raise ValueError(f"`path`: {root} is not a folder")
        pattern = re.compile(ctx.render(self.reg_exp)) if self.reg_exp is not None else None
        first = "files" not in ctx.memory
        known: dict[str, str] = dict(ctx.memory.get("files") or {})
        watcher = Inotify.open()
        wake = asyncio.Event()
        writing: set[Path] = set()
        loop = asyncio.get_running_loop()
        try:
            if watcher is not None:
                try:  # before the first scan, so that nothing falls between the two
                    for folder in (_folders(root) if self.recursive else [root]):
                        watcher.add(folder)
                    loop.add_reader(watcher.fileno(), self._heard, watcher, wake, writing)
                except OSError as exc:
                    ctx.logger.warning("%s: the folder is scanned every %s instead", exc, self.interval)
                    watcher.close()
                    watcher = None
            if first and not self.include_existing:
                known = await asyncio.to_thread(_scan, root, self.recursive, pattern)
                ctx.memory["files"] = dict(known)
                yield None  # what is there now is taken as seen
            elif first:
                ctx.memory["files"] = {}
            pending: dict[str, str] = {}  # without inotify: seen once, handed over if unchanged next scan
            while True:
                wake.clear()
                current = await asyncio.to_thread(_scan, root, self.recursive, pattern)
                busy = {p.relative_to(root).as_posix() for p in writing if p.is_relative_to(root)}
                for rel, fingerprint in sorted(current.items()):
                    if known.get(rel) == fingerprint or rel in busy:
                        continue
                    if watcher is None and pending.get(rel) != fingerprint:
                        pending[rel] = fingerprint
                        continue
                    kind: FileEvent = "UPDATE" if rel in known else "CREATE"
                    event = None
                    if kind in self.on:
                        event = await self._handed_over(ctx, root, rel, kind)
                        if event is None:
                            continue
                    known[rel] = fingerprint
                    ctx.memory["files"] = dict(known)
                    yield event
                for rel in sorted(set(known) - set(current)):
                    del known[rel]
                    ctx.memory["files"] = dict(known)
                    yield self._deleted(root, rel) if "DELETE" in self.on else None
                pending = {rel: fp for rel, fp in pending.items() if current.get(rel) == fp and known.get(rel) != fp}
                if watcher is None:
                    await asyncio.sleep(self.interval.total_seconds() if not pending else min(self.interval.total_seconds(), 0.5))
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), timeout=_SAFETY_SCAN)
                    await asyncio.sleep(_GATHER)
        finally:
            if watcher is not None:
                with contextlib.suppress(Exception):
                    loop.remove_reader(watcher.fileno())
                watcher.close()

    def _heard(self, watcher: Inotify, wake: asyncio.Event, writing: set[Path]) -> None:
        """The kernel has events: note the files being written, watch new sub-folders, and wake
        the scan when something settled."""
        for event in watcher.read():
            if event.writing:
                writing.add(event.path)
            elif not event.is_dir:
                writing.discard(event.path)
            if self.recursive and event.is_dir and event.settled and event.path.is_dir():
                with contextlib.suppress(OSError):
                    for folder in _folders(event.path):
                        watcher.add(folder)
            if event.settled:
                wake.set()

    async def _handed_over(self, ctx: Any, root: Path, rel: str, kind: FileEvent) -> TriggerEvent | None:
        path = root / rel
        try:
            stat = path.stat()
            uri = await asyncio.to_thread(ctx.put_file, path, path.name)
        except Exception:
            if not path.exists():
                return None  # gone since the scan: the next scan reports it
            raise
        return TriggerEvent(variables={
            "event": kind,
            "path": str(path),
            "relativePath": rel,
            "name": path.name,
            "size": stat.st_size,
            "modifiedDate": datetime.fromtimestamp(stat.st_mtime, UTC),
            "uri": uri,
        })

    @staticmethod
    def _deleted(root: Path, rel: str) -> TriggerEvent:
        path = root / rel
        return TriggerEvent(variables={
            "event": "DELETE", "path": str(path), "relativePath": rel, "name": path.name, "size": None,
            "modifiedDate": None, "uri": None,
        })
