"""Services a task reaches through its RunContext beyond files, KV and secrets.

`ctx.namespace_files` is the namespace's file tree (Kestra's "namespace files"), the place flows
keep scripts, SQL and configuration next to each other. `ctx.executions` lets a task act on
executions (resume, kill, read logs, purge): what Kestra's `Resume`, `Kill`, log `Fetch` and the
purge tasks do. Both are restricted to the flow's namespace and its children, so a flow never
reaches into another team's files or executions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable

__all__ = ["ExecutionsAccess", "NamespaceFile", "NamespaceFilesAccess", "PurgeResult"]


@dataclass(frozen=True)
class NamespaceFile:
    """One file of a namespace: its path relative to the namespace root, size and `tercel://` URI."""

    path: str
    size: int
    uri: str


@runtime_checkable
class NamespaceFilesAccess(Protocol):
    """The files of the flow's namespace (or of a child namespace, with `namespace=`).

    Paths are relative, with `/` separators (`scripts/etl.py`); absolute paths and `..` are refused.
    """

    def list(self, prefix: str = "", *, namespace: str | None = None) -> list[NamespaceFile]:
        """Every file under `prefix` (a folder), recursively, sorted by path."""
        ...

    def read(self, path: str, *, namespace: str | None = None) -> bytes: ...

    def exists(self, path: str, *, namespace: str | None = None) -> bool: ...

    def write(
        self, path: str, data: bytes | Path | BinaryIO, *, namespace: str | None = None, overwrite: bool = True
    ) -> NamespaceFile:
        """Create or replace a file; with `overwrite=False` an existing file is an error."""
        ...

    def delete(self, path: str, *, namespace: str | None = None) -> bool:
        """Delete one file; True if it existed."""
        ...


@dataclass(frozen=True)
class PurgeResult:
    """What a purge removed."""

    executions: int = 0
    logs: int = 0
    files: int = 0


@runtime_checkable
class ExecutionsAccess(Protocol):
    """Act on executions of the flow's namespace (and its children)."""

    def get(self, execution_id: str) -> dict[str, Any]:
        """An execution's header as JSON (`id`, `namespace`, `flowId`, `state`, `labels`…)."""
        ...

    def resume(self, execution_id: str, inputs: Mapping[str, Any] | None = None) -> None:
        """Resume a PAUSED execution; `inputs` answer its Pause task's `onResume` declarations."""
        ...

    def kill(self, execution_id: str, *, propagate: bool = True) -> bool:
        """Kill an execution (and, with `propagate`, the subflow executions it started);
        False when it had already ended (nothing to do)."""
        ...

    def logs(
        self,
        execution_id: str,
        *,
        task_ids: Sequence[str] | None = None,
        min_level: str = "INFO",
    ) -> list[dict[str, Any]]:
        """Log entries of an execution (`timestamp`, `level`, `taskId`, `taskRunId`, `message`…)."""
        ...

    def purge(
        self,
        *,
        namespace: str | None = None,
        flow_id: str | None = None,
        execution_id: str | None = None,
        start: datetime | None = None,
        end: datetime,
        states: Sequence[str] | None = None,
        executions: bool = True,
        logs: bool = True,
        files: bool = True,
        log_levels: Sequence[str] | None = None,
    ) -> PurgeResult:
        """Delete ended executions started before `end` (and after `start`), their logs and
        their files; `executions=False` keeps the executions and purges only what is asked."""
        ...
