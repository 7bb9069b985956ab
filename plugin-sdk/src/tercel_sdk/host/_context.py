"""The RunContext a task sees in a plugin host: each capability is a call to the worker.

The worker holds what a task may reach (storage, KV, secrets, the expression engine, the
database), so rendering, files, KV and secrets are answered there, and secrets are masked there.
What depends on the plugin's own code stays here: `Property` coercion (the type `T` lives in this
environment), log formatting and `logLevel` filtering (so filtered lines never cross the pipe),
and values without any expression, which render to themselves without a round trip.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO, Protocol

from tercel_sdk._property import Property, is_expression
from tercel_sdk._services import NamespaceFile, PurgeResult
from tercel_sdk.ion import IonEncodeError

from ._errors import TaskRunError
from ._protocol import CHUNK

__all__ = ["Channel", "HostRunContext"]

_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")
_RANK = {name: i for i, name in enumerate(_LEVELS)}


class Channel(Protocol):
    """The host's side of the pipe, as the context uses it."""

    def call(self, run: int, method: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any: ...
    async def acall(self, run: int, method: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any: ...
    def tell(self, run: int, method: str, args: Sequence[Any]) -> None: ...
    def spool_dir(self) -> Path: ...


def _needs_render(value: Any) -> bool:
    """Whether the worker's engine could change `value` (it returns values without templates as
    they are: strings without `{{`/`{%`/`{#`, numbers, and containers of those)."""
    if isinstance(value, str):
        return is_expression(value)
    if isinstance(value, Mapping):
        return any(_needs_render(k) or _needs_render(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_needs_render(v) for v in value)
    return False


class _Logger:
    """The task's logger: formats and filters like the worker's, sends each kept line."""

    def __init__(self, ctx: HostRunContext, min_level: str | None) -> None:
        self._ctx = ctx
        self._min = _RANK.get(min_level or "TRACE", 0)

    def _log(self, level: str, message: str, args: tuple[Any, ...]) -> None:
        if _RANK[level] < self._min:
            return
        if args:
            try:
                message = message % args
            except (TypeError, ValueError):
                message = " ".join([message, *map(str, args)])
        text = str(message)
        try:
            self._ctx._tell("log", level, text)
        except IonEncodeError:  # a lone surrogate: Ion cannot carry it
            self._ctx._tell("log", level, text.encode("utf-8", "backslashreplace").decode("utf-8"))
        except OSError:  # the worker is gone: the host is about to stop anyway
            pass

    def trace(self, message: str, *args: Any) -> None:
        self._log("TRACE", message, args)

    def debug(self, message: str, *args: Any) -> None:
        self._log("DEBUG", message, args)

    def info(self, message: str, *args: Any) -> None:
        self._log("INFO", message, args)

    def warning(self, message: str, *args: Any) -> None:
        self._log("WARN", message, args)

    warn = warning

    def error(self, message: str, *args: Any) -> None:
        self._log("ERROR", message, args)


class _KV:
    def __init__(self, ctx: HostRunContext) -> None:
        self._ctx = ctx

    def get(self, key: str, *, namespace: str | None = None) -> Any:
        return self._ctx._call("kv.get", key, namespace=namespace)

    def set(self, key: str, value: Any, *, ttl: timedelta | None = None, overwrite: bool = True, namespace: str | None = None) -> None:
        self._ctx._call("kv.set", key, value, ttl=ttl, overwrite=overwrite, namespace=namespace)

    def delete(self, key: str, *, namespace: str | None = None) -> bool:
        return self._ctx._call("kv.delete", key, namespace=namespace)

    def keys(self, prefix: str | None = None, *, namespace: str | None = None) -> list[str]:
        return self._ctx._call("kv.keys", prefix, namespace=namespace)


class _NamespaceFiles:
    def __init__(self, ctx: HostRunContext) -> None:
        self._ctx = ctx

    def list(self, prefix: str = "", *, namespace: str | None = None) -> list[NamespaceFile]:
        return [NamespaceFile(**f) for f in self._ctx._call("nsf.list", prefix, namespace=namespace)]

    def read(self, path: str, *, namespace: str | None = None) -> bytes:
        return self._ctx._call("nsf.read", path, namespace=namespace)

    def exists(self, path: str, *, namespace: str | None = None) -> bool:
        return self._ctx._call("nsf.exists", path, namespace=namespace)

    def write(self, path: str, data: bytes | Path | BinaryIO, *, namespace: str | None = None, overwrite: bool = True) -> NamespaceFile:
        with self._ctx._data(data) as wire:
            return NamespaceFile(**self._ctx._call("nsf.write", path, wire, namespace=namespace, overwrite=overwrite))

    def delete(self, path: str, *, namespace: str | None = None) -> bool:
        return self._ctx._call("nsf.delete", path, namespace=namespace)


class _Executions:
    def __init__(self, ctx: HostRunContext) -> None:
        self._ctx = ctx

    def get(self, execution_id: str) -> dict[str, Any]:
        return self._ctx._call("ex.get", execution_id)

    def resume(self, execution_id: str, inputs: Mapping[str, Any] | None = None) -> None:
        self._ctx._call("ex.resume", execution_id, dict(inputs) if inputs is not None else None)

    def kill(self, execution_id: str, *, propagate: bool = True) -> bool:
        return self._ctx._call("ex.kill", execution_id, propagate=propagate)

    def logs(self, execution_id: str, *, task_ids: Sequence[str] | None = None, min_level: str = "INFO") -> list[dict[str, Any]]:
        ids = list(task_ids) if task_ids is not None else None
        return self._ctx._call("ex.logs", execution_id, task_ids=ids, min_level=min_level)

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
        result = self._ctx._call(
            "ex.purge", namespace=namespace, flow_id=flow_id, execution_id=execution_id, start=start, end=end,
            states=list(states) if states is not None else None, executions=executions, logs=logs, files=files,
            log_levels=list(log_levels) if log_levels is not None else None,
        )
        return PurgeResult(**result)


class _RemoteFile(io.RawIOBase):
    """A file of internal storage opened in the worker, read a chunk per call."""

    def __init__(self, ctx: HostRunContext, handle: int, uri: str) -> None:
        self._ctx = ctx
        self._handle = handle
        self.name = uri

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._ctx._call("file.read", self._handle, min(len(buffer), CHUNK))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._ctx._call("file.seek", self._handle, offset, whence)

    def tell(self) -> int:
        return self.seek(0, io.SEEK_CUR)

    def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(Exception):  # the run ended: the worker closed it already
                self._ctx._call("file.close", self._handle)
        super().close()


class _Wire:
    """Data for `put_file`/`namespace_files.write` as the protocol carries it; a spooled copy
    is deleted when the call is over."""

    def __init__(self, value: list[Any], spooled: Path | None = None) -> None:
        self.value = value
        self._spooled = spooled

    def __enter__(self) -> list[Any]:
        return self.value

    def __exit__(self, *exc: object) -> None:
        if self._spooled is not None:
            self._spooled.unlink(missing_ok=True)


class HostRunContext:
    """`tercel_sdk.RunContext` for one attempt of a task running in this plugin host."""

    def __init__(self, channel: Channel, run: int, info: Mapping[str, Any], log_level: str | None, cancelled: threading.Event) -> None:
        self._channel = channel
        self._run = run
        self.execution_id: str = info["executionId"]
        self.namespace: str = info["namespace"]
        self.flow_id: str = info["flowId"]
        self.task_id: str = info["taskId"]
        self.task_run_id: str = info["taskRunId"]
        self.attempt: int = info["attempt"]
        self._cancelled = cancelled
        self._logger = _Logger(self, log_level)
        self._kv = _KV(self)
        self._namespace_files = _NamespaceFiles(self)
        self._executions = _Executions(self)
        self._variables: Mapping[str, Any] | None = None
        self._workdir: Path | None = None

    def __repr__(self) -> str:
        return f"HostRunContext(task {self.task_id!r}, task run {self.task_run_id!r}, attempt {self.attempt})"

    # -- the pipe --------------------------------------------------------------------------
    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._channel.call(self._run, method, args, kwargs)

    def _tell(self, method: str, *args: Any) -> None:
        self._channel.tell(self._run, method, args)

    def _data(self, data: Any) -> _Wire:
        """bytes inline when small; a Path as its path (same machine); a stream or large bytes
        spooled to a file of the host's scratch folder; anything else as is (the worker's storage
        then refuses it with its own message)."""
        if isinstance(data, bytes | bytearray | memoryview):
            if len(data) <= CHUNK:
                return _Wire(["b", bytes(data)])
            return self._spool(lambda out: out.write(data))
        if isinstance(data, os.PathLike):
            return _Wire(["p", os.fspath(Path(data).absolute())])
        if hasattr(data, "read"):
            head = data.read(CHUNK + 1)
            if isinstance(head, bytes | bytearray) and len(head) <= CHUNK:
                return _Wire(["b", bytes(head)])

            def copy(out: BinaryIO) -> None:
                out.write(head)
                shutil.copyfileobj(data, out, CHUNK)

            return self._spool(copy)
        return _Wire(["v", data])

    def _spool(self, write: Any) -> _Wire:
        fd, name = tempfile.mkstemp(prefix="put-", dir=self._channel.spool_dir())
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return _Wire(["p", str(path)], path)

    # -- protocol ---------------------------------------------------------------------------
    @property
    def logger(self) -> _Logger:
        return self._logger

    @property
    def variables(self) -> Mapping[str, Any]:
        if self._variables is None:
            self._variables = MappingProxyType(self._call("variables"))
        return self._variables

    def render(self, value: Any, variables: Mapping[str, Any] | None = None) -> Any:
        extra = dict(variables) if variables else None
        if not isinstance(value, Property):
            return self._call("render", value, extra, None) if _needs_render(value) else value
        rendered = self._call("render", value.raw, extra, value.name or "") if _needs_render(value.raw) else value.raw
        try:
            return value.coerce(rendered)
        except Exception as exc:
            where = f"task '{self.task_id}'" + (f" property '{value.name}'" if value.name else "")
            raise TaskRunError(f"{where}: {exc}") from None

    def render_string(self, template: str, variables: Mapping[str, Any] | None = None) -> str:
        if type(template) is str and not is_expression(template):
            return template
        return self._call("render_string", template, dict(variables) if variables else None)

    def metric(self, name: str, value: float, *, type: str = "counter", tags: Mapping[str, str] | None = None) -> None:
        if type not in ("counter", "timer", "gauge"):
            raise ValueError(f"metric type must be 'counter', 'timer' or 'gauge', got {type!r}")
        self._tell("metric", name, float(value), type, dict(tags or {}))

    @property
    def working_dir(self) -> Path:
        if self._workdir is None:
            self._workdir = Path(self._call("working_dir"))
        return self._workdir

    def put_file(self, data: bytes | Path | BinaryIO, name: str) -> str:
        with self._data(data) as wire:
            return self._call("put_file", wire, name)

    def open_file(self, uri: str) -> BinaryIO:
        handle = self._call("open_file", uri)
        return io.BufferedReader(_RemoteFile(self, handle, uri), CHUNK)  # type: ignore[return-value]

    def read_file(self, uri: str) -> bytes:
        return self._call("read_file", uri)

    def file_size(self, uri: str) -> int:
        return self._call("file_size", uri)

    def file_exists(self, uri: str) -> bool:
        return self._call("file_exists", uri)

    def delete_file(self, uri: str) -> bool:
        return self._call("delete_file", uri)

    @property
    def kv(self) -> _KV:
        return self._kv

    def secret(self, name: str) -> str:
        return self._call("secret", name)

    def update_labels(self, labels: Mapping[str, str]) -> None:
        self._call("update_labels", dict(labels))

    def set_variables(self, values: Mapping[str, Any]) -> None:
        self._call("set_variables", dict(values))

    def unset_variables(self, names: list[str]) -> None:
        self._call("unset_variables", list(names))

    def exit_execution(self, state: str) -> None:
        self._call("exit_execution", state)

    @property
    def namespace_files(self) -> _NamespaceFiles:
        return self._namespace_files

    @property
    def executions(self) -> _Executions:
        return self._executions

    async def run_task(self, definition: Mapping[str, Any]) -> dict[str, Any] | None:
        return await self._channel.acall(self._run, "run_task", (definition,), {})

    def is_cancelled(self) -> bool:
        return self._cancelled.is_set()
