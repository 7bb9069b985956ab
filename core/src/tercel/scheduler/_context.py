"""What a polling trigger's `evaluate(ctx)` and a realtime trigger's `events(ctx)` receive.

A polling trigger checks something outside (files, a KV value, a table) and returns an event
when there is something to process; a realtime trigger listens and yields one event per thing
that happened. Their context offers the flow's namespace, rendering, the KV
store and namespace files of the flow's namespace (its children with `namespace=`), internal
storage for files handed to the execution, a logger and `memory`: a small JSON-able dict kept
in the trigger's state between checks (what it saw last time; a realtime trigger's memory is
saved with each execution it starts, so after a restart it goes on from the last event it
handed over), and `local_path` for the folders of this machine an administrator allowed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from tercel_sdk import Property

from tercel.errors import TercelError

if TYPE_CHECKING:
    from tercel.runtime import Runtime

__all__ = ["TriggerContext", "TriggerLogger"]


class TriggerLogger:
    """A trigger's logger: the `tercel.scheduler` logger, lines prefixed with the trigger."""

    def __init__(self, prefix: str, masker: Any) -> None:
        self._log = logging.getLogger("tercel.scheduler")
        self._prefix = prefix
        self._masker = masker

    def _emit(self, level: int, message: str, args: tuple[Any, ...]) -> None:
        if args:
            try:
                message = message % args
            except (TypeError, ValueError):
                message = " ".join([message, *map(str, args)])
        self._log.log(level, "%s: %s", self._prefix, self._masker.mask(str(message)))

    def trace(self, message: str, *args: Any) -> None:
        self._emit(logging.DEBUG, message, args)

    def debug(self, message: str, *args: Any) -> None:
        self._emit(logging.DEBUG, message, args)

    def info(self, message: str, *args: Any) -> None:
        self._emit(logging.INFO, message, args)

    def warning(self, message: str, *args: Any) -> None:
        self._emit(logging.WARNING, message, args)

    warn = warning

    def error(self, message: str, *args: Any) -> None:
        self._emit(logging.ERROR, message, args)


class TriggerContext:
    """The context of one check of a polling trigger, or of a realtime trigger's listener
    (whose `memory` is saved with each execution it starts)."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        namespace: str,
        flow_id: str,
        trigger_id: str,
        variables: Mapping[str, Any],
        memory: Mapping[str, Any],
        now: datetime,
    ) -> None:
        from tercel.runtime._context import _KV
        from tercel.runtime._namespace_access import NamespaceFilesForTask

        self._runtime = runtime
        self.namespace = namespace
        self.flow_id = flow_id
        self.trigger_id = trigger_id
        self.now = now
        self.memory: dict[str, Any] = dict(memory)
        self._variables = variables
        self._kv = _KV(runtime, namespace)
        self._files = NamespaceFilesForTask(runtime, namespace)
        self._logger = TriggerLogger(f"trigger {namespace}.{flow_id}.{trigger_id}", runtime.masker)

    @property
    def logger(self) -> TriggerLogger:
        return self._logger

    @property
    def variables(self) -> Mapping[str, Any]:
        return self._variables

    def render(self, value: Any, variables: Mapping[str, Any] | None = None) -> Any:
        """Render a value (a `Property` is coerced to its type) in the flow's context."""
        context = {**self._variables, **(variables or {})}
        raw = value.raw if isinstance(value, Property) else value
        try:
            rendered = self._runtime.expressions.render_value(raw, context)
            return value.coerce(rendered) if isinstance(value, Property) else rendered
        except Exception as exc:
            where = f"property '{value.name}'" if isinstance(value, Property) and value.name else "a value"
            raise TercelError(self._runtime.masker.mask(f"trigger '{self.trigger_id}' {where}: {exc}")) from None

    @property
    def kv(self) -> Any:
        return self._kv

    @property
    def namespace_files(self) -> Any:
        return self._files

    def secret(self, name: str) -> str:
        value = self._runtime.secrets.get(self.namespace, name)
        self._runtime.masker.add(value)
        return value

    def put_file(self, data: bytes | Path | BinaryIO, name: str) -> str:
        """Keep a file in internal storage for the execution this check starts; its URI."""
        from tercel.storage import to_uri

        uri = to_uri([*self.namespace.split("."), self.flow_id, "_triggers", self.trigger_id, uuid.uuid4().hex, name])
        return self._runtime.storage.put(uri, data)

    def read_file(self, uri: str) -> bytes:
        self._runtime.check_file_access(self.namespace, uri)
        return self._runtime.storage.get_bytes(uri)

    def local_path(self, path: str) -> Path:
        """`path` on this machine, resolved (symbolic links followed), if it lies in one of the
        folders the administrator allowed (`TERCEL_ALLOWED_PATHS`); a `TercelError` otherwise.
        A flow author must not be able to make the server read its files."""
        allowed = [p.resolve() for p in self._runtime.settings.allowed_paths]
        if not str(path).strip():
            raise TercelError(f"trigger '{self.trigger_id}': the path is empty")
        resolved = Path(path).expanduser()
        if not resolved.is_absolute():
            raise TercelError(f"trigger '{self.trigger_id}': the path {path!r} must be absolute")
        resolved = resolved.resolve()
        if not any(resolved == root or resolved.is_relative_to(root) for root in allowed):
            where = ", ".join(map(str, allowed)) if allowed else "none is allowed"
            raise TercelError(
                f"trigger '{self.trigger_id}': {path!r} is outside the folders flows may read ({where}); "
                "an administrator allows a folder with TERCEL_ALLOWED_PATHS"
            )
        return resolved
