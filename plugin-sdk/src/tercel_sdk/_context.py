"""The RunContext protocol: everything a running task may use, implemented by the core.

A task never imports the core. It receives a `RunContext` and renders its properties, logs,
emits metrics, reads and writes files in internal storage, uses its working directory, the
namespace's KV store and secrets through it. The SDK's testing module and the plugin host
provide other implementations of the same protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TypeVar, overload, runtime_checkable

from ._property import Property
from ._services import ExecutionsAccess, NamespaceFilesAccess

__all__ = ["KVAccess", "RunContext", "TaskLogger"]

T = TypeVar("T")


@runtime_checkable
class TaskLogger(Protocol):
    """Logs of a task run; stored with the execution, shown live, secrets masked."""

    def trace(self, message: str, *args: Any) -> None: ...
    def debug(self, message: str, *args: Any) -> None: ...
    def info(self, message: str, *args: Any) -> None: ...
    def warning(self, message: str, *args: Any) -> None: ...
    def warn(self, message: str, *args: Any) -> None: ...
    def error(self, message: str, *args: Any) -> None: ...


@runtime_checkable
class KVAccess(Protocol):
    """The KV store of the flow's namespace (or another one when the caller may)."""

    def get(self, key: str, *, namespace: str | None = None) -> Any: ...
    def set(
        self,
        key: str,
        value: Any,
        *,
        ttl: timedelta | None = None,
        overwrite: bool = True,
        namespace: str | None = None,
    ) -> None: ...
    def delete(self, key: str, *, namespace: str | None = None) -> bool: ...
    def keys(self, prefix: str | None = None, *, namespace: str | None = None) -> list[str]: ...


@runtime_checkable
class RunContext(Protocol):
    """What a task sees while it runs."""

    execution_id: str
    namespace: str
    flow_id: str
    task_id: str
    task_run_id: str
    attempt: int

    @property
    def logger(self) -> TaskLogger: ...

    @property
    def variables(self) -> Mapping[str, Any]:
        """The expression context (`inputs`, `outputs`, `vars`, `execution`, `taskrun`, …)."""
        ...

    @overload
    def render(self, value: Property[T], variables: Mapping[str, Any] | None = None) -> T: ...
    @overload
    def render(self, value: Any, variables: Mapping[str, Any] | None = None) -> Any: ...
    def render(self, value: Any, variables: Mapping[str, Any] | None = None) -> Any:
        """Render a Property (coerced to its type) or any value holding templates.

        `variables` are laid over the task's context for this call (e.g. the current item of a
        file a task goes through), keeping their Python types.
        """
        ...

    def render_string(self, template: str, variables: Mapping[str, Any] | None = None) -> str:
        """Render a template to text, always a string (`variables` as for `render`)."""
        ...

    def metric(
        self, name: str, value: float, *, type: str = "counter", tags: Mapping[str, str] | None = None
    ) -> None:
        """Record a metric of this task run (`counter` adds up, `timer` is in seconds, `gauge` is a level)."""
        ...

    @property
    def working_dir(self) -> Path:
        """A private folder for this attempt, deleted when the task ends."""
        ...

    def put_file(self, data: bytes | Path | BinaryIO, name: str) -> str:
        """Store a file in internal storage for this task run; returns its `tercel://` URI."""
        ...

    def open_file(self, uri: str) -> BinaryIO:
        """Open a file of internal storage (an execution's or a namespace's) for reading."""
        ...

    def read_file(self, uri: str) -> bytes: ...

    def file_size(self, uri: str) -> int:
        """Size in bytes of a file of internal storage."""
        ...

    def file_exists(self, uri: str) -> bool: ...

    def delete_file(self, uri: str) -> bool:
        """Delete a file of internal storage (of this flow's namespace); True if it existed."""
        ...

    @property
    def kv(self) -> KVAccess: ...

    def secret(self, name: str) -> str:
        """A secret's value; it is masked in every log line from then on."""
        ...

    # -- changes to the execution, applied by the engine when the task run succeeds ----------
    def update_labels(self, labels: Mapping[str, str]) -> None:
        """Add or replace labels of the execution."""
        ...

    def set_variables(self, values: Mapping[str, Any]) -> None:
        """Set execution variables (seen as `{{ vars.name }}` by the next tasks)."""
        ...

    def unset_variables(self, names: list[str]) -> None:
        """Remove execution variables."""
        ...

    def exit_execution(self, state: str) -> None:
        """End the execution in `state` (SUCCESS, WARNING, KILLED, FAILED, CANCELLED) at once, with
        this task run and its parents: nothing new starts; running task runs are killed only for
        KILLED."""
        ...

    @property
    def namespace_files(self) -> NamespaceFilesAccess:
        """The files of the flow's namespace (scripts, SQL, configuration kept with the flows)."""
        ...

    @property
    def executions(self) -> ExecutionsAccess:
        """Resume, kill, read the logs of and purge executions of the flow's namespace."""
        ...

    async def run_task(self, definition: Mapping[str, Any]) -> dict[str, Any] | None:
        """Run another runnable task (a definition with `type` and properties, as in a flow)
        inline, as part of this task run: same logs, files and working directory; returns its
        outputs. What `TemplatedTask` is built on."""
        ...

    def is_cancelled(self) -> bool:
        """True once the task run was killed or timed out: long loops should check it."""
        ...
