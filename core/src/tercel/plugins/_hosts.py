"""Plugin hosts: tasks of a plugin version that is not importable in the worker run in a process
started from that version's own environment, reused from one task to the next.

`HostPool.run` is the worker's side of the protocol (`tercel_sdk.host._protocol`): it starts or
reuses a host for a (distribution, version, interpreter), sends it the task and serves the
task's RunContext calls with the core's `TaskRunContext`, through an explicit table of what a
task may call (`_CALLS`), never an attribute named on the wire. One task at a time per host, so a
crash fails only its task run; at most `max_hosts` processes; idle hosts stop after a while.

How a task's end reads in the worker, so that the runtime stores what it would in-process:
outputs come back as the dict `_outputs_dict` makes (types kept by Ion); `TaskWarning` and
`TaskFailed` are re-raised as such; an error raised by a RunContext call (a `RenderError`, a
refused namespace…) that the task let through is re-raised as the very same worker exception; a
task's own exception becomes `PluginTaskError` whose message is the `Type: message` the runtime
stores for it in-process, with the host's traceback attached and logged at ERROR with the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import os
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tercel_sdk
from tercel_sdk import Property, TaskFailed, TaskWarning
from tercel_sdk import errors as sdk_errors
from tercel_sdk.host import CHUNK, END_MARK, FRAME_HEADER, MAX_FRAME, PROTOCOL_VERSION, pack, unpack
from tercel_sdk.ion import IonEncodeError

from tercel.errors import TercelError

from ._manager import PluginError

__all__ = ["HostInfo", "HostPool", "HostSpec", "PluginHostCrashed", "PluginTaskError"]

START_TIMEOUT = 30.0
"""How long a new host may take to say it is ready (a cold disk, a large environment)."""
_STDERR_LIMIT = 1 << 20
_STDERR_TAIL = 20


@dataclass(frozen=True)
class HostSpec:
    """Where a plugin version's hosts come from: its environment's interpreter."""

    distribution: str
    version: str
    python: Path
    environ: Mapping[str, str] = field(default_factory=dict)
    """Extra environment variables of the host process."""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.distribution, self.version, str(self.python))

    def __str__(self) -> str:
        return f"{self.distribution} {self.version}"


@dataclass(frozen=True)
class HostInfo:
    """One running host, for inspection."""

    pid: int
    distribution: str
    version: str
    python: str
    busy: bool
    runs: int
    started_at: datetime
    last_used_at: datetime


class PluginHostCrashed(PluginError):
    """The host process died while it ran a task (killed, segfault, `os._exit`)."""


class PluginTaskError(TercelError):
    """A task running in a plugin host raised its own exception.

    The message is what the runtime stores in-process for it (`ZeroDivisionError: division by
    zero`); `type_name` is the exception's class name and `traceback` the host's traceback."""

    def __init__(self, message: str, *, type_name: str | None = None, traceback: str | None = None) -> None:
        super().__init__(message)
        self.type_name = type_name
        self.traceback = traceback


# ---------------------------------------------------------------------------------------------
# What a task may call: method name on the wire -> (handler, how it runs)
# ---------------------------------------------------------------------------------------------

_INLINE, _THREAD, _ASYNC = "inline", "thread", "async"


@dataclass(eq=False)
class _Run:
    """One task running in a host: its context and what its calls left open."""

    id: int
    ctx: Any
    task_id: str
    future: asyncio.Future[tuple[str, Any]]
    stderr_done: asyncio.Future[None]
    errors: dict[int, BaseException] = field(default_factory=dict)
    files: dict[int, Any] = field(default_factory=dict)
    calls: set[asyncio.Task[Any]] = field(default_factory=set)
    handles: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    cancelling: bool = False


def _data(wire: Any) -> Any:
    """`put_file` data from the wire: `["b", bytes]`, `["p", path]` or `["v", anything]`."""
    if isinstance(wire, list) and len(wire) == 2:
        tag, value = wire
        if tag == "b":
            return value
        if tag == "p":
            return Path(value)
        if tag == "v":
            return value
    raise TercelError(f"malformed file data from the plugin host: {type(wire).__name__}")


def _render(run: _Run, raw: Any, variables: Mapping[str, Any] | None = None, name: str | None = None) -> Any:
    # a Property is coerced in the host (its type lives there); named here so an error reads
    # `task 'x' property 'y': …`, masked, as in-process
    value = Property(raw, Any, name or None) if name is not None else raw
    return run.ctx.render(value, variables)


def _variables(run: _Run) -> dict[str, Any]:
    return {k: v for k, v in run.ctx.variables.items() if not k.startswith("__")}


def _open_file(run: _Run, uri: str) -> int:
    handle = next(run.handles)
    run.files[handle] = run.ctx.open_file(uri)
    return handle


def _file_read(run: _Run, handle: int, size: int) -> bytes:
    return run.files[handle].read(max(0, min(int(size), CHUNK)))


def _file_seek(run: _Run, handle: int, offset: int, whence: int = 0) -> int:
    return run.files[handle].seek(int(offset), int(whence))


def _file_close(run: _Run, handle: int) -> None:
    fp = run.files.pop(handle, None)
    if fp is not None:
        fp.close()


async def _run_task(run: _Run, definition: Any) -> Any:
    return await run.ctx.run_task(definition)


def _log(run: _Run, level: str, message: str) -> None:
    getattr(run.ctx.logger, _LOG_METHODS[level])(message)


_LOG_METHODS = {"TRACE": "trace", "DEBUG": "debug", "INFO": "info", "WARN": "warning", "ERROR": "error"}

_CALLS: dict[str, tuple[Callable[..., Any], str]] = {
    "render": (_render, _INLINE),
    "render_string": (lambda run, template, variables=None: run.ctx.render_string(template, variables), _INLINE),
    "variables": (_variables, _INLINE),
    "working_dir": (lambda run: str(run.ctx.working_dir), _INLINE),
    "put_file": (lambda run, data, name: run.ctx.put_file(_data(data), name), _THREAD),
    "open_file": (_open_file, _THREAD),
    "file.read": (_file_read, _THREAD),
    "file.seek": (_file_seek, _INLINE),
    "file.close": (_file_close, _INLINE),
    "read_file": (lambda run, uri: run.ctx.read_file(uri), _THREAD),
    "file_size": (lambda run, uri: run.ctx.file_size(uri), _INLINE),
    "file_exists": (lambda run, uri: run.ctx.file_exists(uri), _INLINE),
    "delete_file": (lambda run, uri: run.ctx.delete_file(uri), _INLINE),
    "kv.get": (lambda run, key, namespace=None: run.ctx.kv.get(key, namespace=namespace), _INLINE),
    "kv.set": (
        lambda run, key, value, ttl=None, overwrite=True, namespace=None: run.ctx.kv.set(
            key, value, ttl=ttl, overwrite=overwrite, namespace=namespace
        ),
        _INLINE,
    ),
    "kv.delete": (lambda run, key, namespace=None: run.ctx.kv.delete(key, namespace=namespace), _INLINE),
    "kv.keys": (lambda run, prefix=None, namespace=None: run.ctx.kv.keys(prefix, namespace=namespace), _INLINE),
    "secret": (lambda run, name: run.ctx.secret(name), _INLINE),
    "update_labels": (lambda run, labels: run.ctx.update_labels(labels), _INLINE),
    "set_variables": (lambda run, values: run.ctx.set_variables(values), _INLINE),
    "unset_variables": (lambda run, names: run.ctx.unset_variables(names), _INLINE),
    "exit_execution": (lambda run, state: run.ctx.exit_execution(state), _INLINE),
    "nsf.list": (
        lambda run, prefix="", namespace=None: [
            dataclasses.asdict(f) for f in run.ctx.namespace_files.list(prefix, namespace=namespace)
        ],
        _INLINE,
    ),
    "nsf.read": (lambda run, path, namespace=None: run.ctx.namespace_files.read(path, namespace=namespace), _THREAD),
    "nsf.exists": (lambda run, path, namespace=None: run.ctx.namespace_files.exists(path, namespace=namespace), _INLINE),
    "nsf.write": (
        lambda run, path, data, namespace=None, overwrite=True: dataclasses.asdict(
            run.ctx.namespace_files.write(path, _data(data), namespace=namespace, overwrite=overwrite)
        ),
        _THREAD,
    ),
    "nsf.delete": (lambda run, path, namespace=None: run.ctx.namespace_files.delete(path, namespace=namespace), _INLINE),
    # executions.* read and write the database: on the event loop, where the runtime does that
    "ex.get": (lambda run, execution_id: run.ctx.executions.get(execution_id), _INLINE),
    "ex.resume": (lambda run, execution_id, inputs=None: run.ctx.executions.resume(execution_id, inputs), _INLINE),
    "ex.kill": (lambda run, execution_id, propagate=True: run.ctx.executions.kill(execution_id, propagate=propagate), _INLINE),
    "ex.logs": (
        lambda run, execution_id, task_ids=None, min_level="INFO": run.ctx.executions.logs(
            execution_id, task_ids=task_ids, min_level=min_level
        ),
        _INLINE,
    ),
    "ex.purge": (lambda run, **kwargs: dataclasses.asdict(run.ctx.executions.purge(**kwargs)), _INLINE),
    "run_task": (_run_task, _ASYNC),
}

_TELLS: dict[str, Callable[..., None]] = {
    "log": _log,
    "metric": lambda run, name, value, type="counter", tags=None: run.ctx.metric(name, value, type=type, tags=tags),
}

_SDK_ERRORS = {getattr(sdk_errors, name) for name in sdk_errors.__all__}


def _error_info(exc: BaseException, ref: int) -> dict[str, Any]:
    """A call's exception as the host rebuilds it: class name, nearest built-in or SDK base,
    message, and its args when Ion can carry them (so `str()` comes out the same)."""
    base = "Exception"
    for klass in type(exc).__mro__:
        if klass in _SDK_ERRORS or klass.__module__ == "builtins":
            base = klass.__name__
            break
    info: dict[str, Any] = {"type": type(exc).__name__, "base": base, "message": str(exc), "ref": ref}
    args = list(exc.args)
    if isinstance(exc, OSError) and exc.filename is not None:  # not part of `args`
        args = [exc.errno, exc.strerror, exc.filename]
        if exc.filename2 is not None:
            args += [None, exc.filename2]
    try:
        pack(args)
        info["args"] = args
    except Exception:
        pass
    return info


def _how_it_ended(returncode: int | None) -> str:
    if returncode is None:
        return "its pipe closed"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def _compatible(host_sdk: str, own_sdk: str) -> bool:
    """The SDK range the core accepts: the same major version (the same minor one before 1.0)."""
    from packaging.version import InvalidVersion, Version

    try:
        theirs, ours = Version(host_sdk), Version(own_sdk)
    except InvalidVersion:
        return False
    if ours.major == 0:
        return (theirs.major, theirs.minor) == (0, ours.minor)
    return theirs.major == ours.major


# ---------------------------------------------------------------------------------------------
# One host process
# ---------------------------------------------------------------------------------------------


class _Host:
    """A host process: its pipes, the task it runs, and what it printed."""

    def __init__(self, spec: HostSpec, proc: asyncio.subprocess.Process, logger: logging.Logger, on_exit: Callable[[_Host], None]) -> None:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        self.spec = spec
        self.proc = proc
        self.pid = proc.pid
        self.busy = False
        self.alive = True
        self.runs = 0
        self.started_at = datetime.now(UTC)
        self.last_used_at = self.started_at
        self.last_used = time.monotonic()
        self.idle_timer: asyncio.TimerHandle | None = None
        self._stdin = proc.stdin
        self._logger = logger
        self._on_exit = on_exit
        self._run: _Run | None = None
        self._run_ids = itertools.count(1)
        self._refs = itertools.count(1)
        self._tail: deque[str] = deque(maxlen=_STDERR_TAIL)
        self._ready: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._stopping = False
        self._broken: str | None = None  # what was wrong with what it sent, if it broke the protocol
        self._reader = asyncio.create_task(self._read_frames(proc.stdout), name=f"tercel-host-{proc.pid}")
        self._err_reader = asyncio.create_task(self._read_stderr(proc.stderr), name=f"tercel-host-{proc.pid}-stderr")

    def __repr__(self) -> str:
        return f"<plugin host {self.spec} pid {self.pid}>"

    @property
    def where(self) -> str:
        return f"the plugin host of {self.spec}"

    def info(self) -> HostInfo:
        return HostInfo(self.pid, self.spec.distribution, self.spec.version, str(self.spec.python), self.busy,
                        self.runs, self.started_at, self.last_used_at)

    # -- start ------------------------------------------------------------------------------
    @classmethod
    async def start(cls, spec: HostSpec, logger: logging.Logger, on_exit: Callable[[_Host], None]) -> _Host:
        # the worker's secrets stay in the worker: a task asks for them through ctx.secret
        env = {k: v for k, v in os.environ.items() if not k.startswith("SECRET_")}
        env.update(spec.environ)
        try:
            # -P: the worker's current folder is not put on the host's sys.path, where it could
            # shadow the plugin's modules (Python 3.11+, which the SDK requires)
            proc = await asyncio.create_subprocess_exec(
                str(spec.python), "-P", "-m", "tercel_sdk.host",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env=env, limit=_STDERR_LIMIT, start_new_session=True,
            )
        except OSError as exc:
            raise PluginError(
                f"the plugin host of {spec} cannot start: interpreter {spec.python}: {exc.strerror or exc}"
            ) from None
        host = cls(spec, proc, logger, on_exit)
        try:
            ready = await asyncio.wait_for(asyncio.shield(host._ready), START_TIMEOUT)
        except TimeoutError:
            await host.kill()
            raise PluginError(f"{host.where} ({spec.python}) did not start within {START_TIMEOUT:g} s") from None
        except BaseException:
            await host.kill()
            raise
        problem = None
        if ready.get("protocol") != PROTOCOL_VERSION:
            problem = f"speaks protocol {ready.get('protocol')!r}, this worker {PROTOCOL_VERSION}"
        elif not _compatible(str(ready.get("sdk")), tercel_sdk.__version__):
            problem = f"has tercel-plugin-sdk {ready.get('sdk')}, not compatible with this worker's {tercel_sdk.__version__}"
        if problem is not None:
            await host.kill()
            raise PluginError(f"{host.where} ({spec.python}, Python {ready.get('python')}) {problem}: install a compatible tercel-plugin-sdk in that environment")
        for line in host._tail:  # what it printed while starting (warnings, usually)
            logger.warning("%s (pid %d): %s", host.where, host.pid, line)
        return host

    async def _failed_start(self) -> PluginError:
        """Why the process ended before it was ready, with what it printed."""
        if self._broken is not None:
            return PluginError(f"{self.where} ({self.spec.python}) {self._broken}")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self._err_reader), 2.0)
        printed = "\n".join(self._tail).strip()
        hint = ""
        if "No module named" in printed and "tercel_sdk" in printed:
            hint = " (is tercel-plugin-sdk installed in that environment?)"
        detail = f": {printed}" if printed else ""
        return PluginError(
            f"{self.where} ({self.spec.python}) stopped before it was ready "
            f"({_how_it_ended(self.proc.returncode)}){hint}{detail}"
        )

    # -- the pipe ---------------------------------------------------------------------------
    def _send(self, message: Any) -> None:
        data = pack(message)
        if not self._stdin.is_closing():
            self._stdin.write(data)

    async def _read_frames(self, stdout: asyncio.StreamReader) -> None:
        try:
            while True:
                head = await stdout.readexactly(FRAME_HEADER.size)
                (size,) = FRAME_HEADER.unpack(head)
                if size > MAX_FRAME:
                    garbage = head + await stdout.read(100)
                    self._broken = f"wrote something that is not the protocol: {garbage!r}"
                    break
                self._dispatch(unpack(await stdout.readexactly(size)))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except Exception as exc:
            self._broken = f"sent a message that cannot be read ({type(exc).__name__}: {exc})"
        if self._broken is not None:
            self._logger.error("%s (pid %d) %s: stopping it", self.where, self.pid, self._broken)
        await self._exited()

    async def _exited(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._killpg()
        await self.proc.wait()
        self.alive = False
        if not self._ready.done():
            self._ready.set_exception(await self._failed_start())
        run = self._run
        if run is not None and not run.future.done():
            if self._broken is not None:
                how = self._broken
            else:
                how = "stopped" if self._stopping else f"stopped ({_how_it_ended(self.proc.returncode)})"
            run.future.set_exception(PluginHostCrashed(f"{self.where} {how} while running task '{run.task_id}'"))
        self._on_exit(self)

    def _dispatch(self, message: list[Any]) -> None:
        kind = message[0]
        run = self._run
        if kind == "tell":
            _, run_id, method, args = message
            handler = _TELLS.get(method)
            if run is None or run.id != run_id or handler is None:
                return  # a line from a thread the last task left running: dropped
            try:
                handler(run, *args)
            except Exception:
                self._logger.exception("%s: %s from task '%s' failed", self.where, method, run.task_id)
        elif kind == "call":
            _, run_id, call_id, method, args, kwargs = message
            self._serve(run, run_id, call_id, method, args, kwargs)
        elif kind == "done" or kind == "failed":
            if run is not None and run.id == message[1] and not run.future.done():
                run.future.set_result((kind, message[2]))
        elif kind == "ready":
            if not self._ready.done():
                self._ready.set_result(message[1] if isinstance(message[1], dict) else {})
        else:
            raise ValueError(f"unknown message {kind!r}")

    # -- serving calls ----------------------------------------------------------------------
    def _serve(self, run: _Run | None, run_id: int, call_id: int, method: str, args: list[Any], kwargs: dict[str, Any]) -> None:
        entry = _CALLS.get(method)
        if run is None or run.id != run_id:
            self._raise(None, call_id, TercelError(f"{method}: the task run has ended"))
            return
        if entry is None:
            self._raise(run, call_id, TercelError(f"{method!r} is not something a task may call"))
            return
        handler, mode = entry
        if mode == _INLINE:
            try:
                value = handler(run, *args, **kwargs)
            except Exception as exc:
                self._raise(run, call_id, exc)
            else:
                self._reply(run, call_id, method, value)
            return
        if mode == _THREAD:
            pending: Awaitable[Any] = asyncio.to_thread(handler, run, *args, **kwargs)
        else:
            pending = handler(run, *args, **kwargs)
        task = asyncio.create_task(self._serve_later(run, call_id, method, pending))
        run.calls.add(task)
        task.add_done_callback(run.calls.discard)

    async def _serve_later(self, run: _Run, call_id: int, method: str, pending: Awaitable[Any]) -> None:
        try:
            value = await pending
        except asyncio.CancelledError:
            self._raise(run, call_id, TercelError(f"{method}: the task run was cancelled"))
            raise
        except Exception as exc:
            self._raise(run, call_id, exc)
        else:
            self._reply(run, call_id, method, value)

    def _reply(self, run: _Run, call_id: int, method: str, value: Any) -> None:
        try:
            data = pack(["reply", call_id, value])
        except IonEncodeError as exc:
            self._raise(run, call_id, TercelError(f"{method}: the result cannot be sent to the plugin host: {exc}"))
            return
        if not self._stdin.is_closing():
            self._stdin.write(data)

    def _raise(self, run: _Run | None, call_id: int, exc: BaseException) -> None:
        ref = next(self._refs)
        if run is not None:
            run.errors[ref] = exc
        self._send(["raise", call_id, _error_info(exc, ref)])

    # -- stderr -----------------------------------------------------------------------------
    async def _read_stderr(self, stderr: asyncio.StreamReader) -> None:
        while True:
            try:
                line = await stderr.readline()
            except ValueError:  # a line over the limit was dropped by the reader
                self._forward(f"(a line longer than {_STDERR_LIMIT} bytes was left out)")
                continue
            except Exception:
                break
            if not line:
                break
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            mark = text.find(END_MARK)
            if mark < 0:
                self._forward(text)
                continue
            if text[:mark]:
                self._forward(text[:mark])
            run = self._run
            if run is not None and text[mark + len(END_MARK):] == str(run.id) and not run.stderr_done.done():
                run.stderr_done.set_result(None)
        run = self._run
        if run is not None and not run.stderr_done.done():
            run.stderr_done.set_result(None)

    def _forward(self, text: str) -> None:
        """A line the host printed: the running task's log (INFO), else the python logger."""
        self._tail.append(text)
        run = self._run
        if run is not None:
            try:
                run.ctx.logger.info(text)
                return
            except Exception:
                pass
        if self._ready.done():
            self._logger.warning("%s (pid %d): %s", self.where, self.pid, text)

    # -- running a task ---------------------------------------------------------------------
    async def run(self, class_path: str, task_spec: Mapping[str, Any], ctx: Any, phase: str | None, grace: float) -> dict[str, Any] | None:
        loop = asyncio.get_running_loop()
        task_id = str(task_spec.get("id"))
        run = _Run(next(self._run_ids), ctx, task_id, loop.create_future(), loop.create_future())
        info = {
            "executionId": ctx.execution_id, "namespace": ctx.namespace, "flowId": ctx.flow_id,
            "taskId": ctx.task_id, "taskRunId": ctx.task_run_id, "attempt": ctx.attempt,
        }
        try:
            message = pack(["run", run.id, class_path, dict(task_spec), phase, info])
        except IonEncodeError as exc:
            raise PluginError(f"task '{task_id}' cannot be sent to {self.where}: {exc}") from None
        self._run = run
        self.runs += 1
        try:
            if not self.alive or self._stdin.is_closing():
                raise PluginHostCrashed(f"{self.where} stopped ({_how_it_ended(self.proc.returncode)}) before task '{task_id}' could start")
            self._stdin.write(message)
            try:
                kind, payload = await asyncio.shield(run.future)
            except asyncio.CancelledError:
                await self._cancel(run, grace)
                raise
            if not run.stderr_done.done():
                await asyncio.wait([run.stderr_done], timeout=1.0)
            return self._outcome(run, kind, payload, class_path, task_spec)
        finally:
            self._end(run)

    async def _cancel(self, run: _Run, grace: float) -> None:
        """Tell the host; kill it if the task has not ended within `grace` seconds."""
        run.cancelling = True
        for call in list(run.calls):
            call.cancel()
        with contextlib.suppress(Exception):
            self._send(["cancel", run.id])
        try:
            done, _ = await asyncio.wait([run.future], timeout=grace)
        except asyncio.CancelledError:  # cancelled again while waiting: no more grace
            done = set()
        if not done:
            await asyncio.shield(self.kill())

    def _end(self, run: _Run) -> None:
        for call in list(run.calls):
            call.cancel()
        for fp in run.files.values():
            with contextlib.suppress(Exception):
                fp.close()
        run.files.clear()
        if run.future.done() and not run.future.cancelled():
            run.future.exception()  # retrieved: no "never retrieved" warning after a cancel
        if self._run is run:
            self._run = None

    def _outcome(self, run: _Run, kind: str, payload: Any, class_path: str, task_spec: Mapping[str, Any]) -> dict[str, Any] | None:
        if kind == "done":
            return payload
        error = payload if isinstance(payload, dict) else {}
        how = error.get("kind")
        message = str(error.get("message", ""))
        if how == "call":
            original = run.errors.get(error.get("ref"))  # type: ignore[arg-type]
            if original is not None:
                raise original
            raise PluginTaskError(f"{error.get('type')}: {message}" if error.get("type") else message)
        if how == "warning":
            raise TaskWarning(message, error.get("outputs"))
        if how == "failed":
            raise TaskFailed(message)
        if how == "tercel":
            raise PluginTaskError(message)
        if how == "load":
            raise PluginError(
                f"type {task_spec.get('type')!r} ({class_path}) of {self.spec} cannot be loaded in its plugin host "
                f"({self.spec.python}): {message}"
            )
        if how == "cancelled":
            raise PluginTaskError(f"task '{run.task_id}' was cancelled inside {self.where}")
        type_name = str(error.get("type") or "Exception")
        trace = error.get("traceback")
        if trace:
            run.ctx.logger.error(str(trace).rstrip("\n"))
        raise PluginTaskError(f"{type_name}: {message}", type_name=type_name, traceback=trace)

    # -- stop -------------------------------------------------------------------------------
    def _killpg(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)  # the host leads its session: its children go too
        except (ProcessLookupError, PermissionError):
            self.proc.kill()

    async def kill(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._killpg()
        await self._wait_exited()

    async def stop(self, grace: float) -> None:
        """Close its pipe (the host exits at once when idle); kill it after `grace` seconds."""
        self._stopping = True
        if self.idle_timer is not None:
            self.idle_timer.cancel()
        with contextlib.suppress(Exception):
            self._stdin.close()
        try:
            await asyncio.wait_for(asyncio.shield(self.proc.wait()), grace)
        except TimeoutError:
            await self.kill()
        await self._wait_exited()

    async def _wait_exited(self) -> None:
        await self.proc.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self._reader), 5.0)


# ---------------------------------------------------------------------------------------------
# The pool
# ---------------------------------------------------------------------------------------------


class HostPool:
    """Plugin hosts of every (distribution, version, interpreter) this worker runs tasks of."""

    def __init__(
        self,
        *,
        max_hosts: int = 8,
        idle_timeout: float = 300.0,
        stop_grace: float = 5.0,
        logger: logging.Logger | None = None,
    ) -> None:
        if max_hosts < 1:
            raise ValueError(f"max_hosts must be at least 1, got {max_hosts}")
        self._max = max_hosts
        self._idle_timeout = idle_timeout
        self._grace = stop_grace
        self._logger = logger or logging.getLogger("tercel.plugins.hosts")
        self._hosts: list[_Host] = []
        self._reserved = 0  # processes starting, or stopping to make room
        self._waiters: list[asyncio.Future[None]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._closed = False

    def hosts(self) -> list[HostInfo]:
        return [h.info() for h in self._hosts]

    async def run(
        self,
        spec: HostSpec,
        class_path: str,
        task_spec: Mapping[str, Any],
        ctx: Any,
        *,
        phase: str | None = None,
    ) -> dict[str, Any] | None:
        """Run one task (`class_path` is `module:Qualname`) in a host of `spec` with `ctx`, and
        return its outputs. Cancel the awaiting task to kill it (the host gets `stop_grace`)."""
        host = await self._acquire(spec)
        try:
            return await host.run(class_path, task_spec, ctx, phase, self._grace)
        finally:
            self._release(host)

    async def close(self) -> None:
        """Stop every host: graceful (its pipe closed), then killed after `stop_grace`."""
        self._closed = True
        self._wake()
        hosts, self._hosts = self._hosts, []
        await asyncio.gather(*(h.stop(self._grace) for h in hosts), return_exceptions=True)
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    # -- slots ------------------------------------------------------------------------------
    async def _acquire(self, spec: HostSpec) -> _Host:
        key = spec.key
        victim: _Host | None = None
        while True:
            if self._closed:
                raise PluginError(f"cannot run tasks of {spec}: the plugin host pool is closed")
            for host in self._hosts:
                if host.spec.key == key and not host.busy and host.alive:
                    self._take(host)
                    return host
            if len(self._hosts) + self._reserved < self._max:
                break
            victim = next((h for h in self._hosts if not h.busy), None)
            if victim is not None:  # an idle host of another version makes room
                self._hosts.remove(victim)
                break
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        self._reserved += 1
        try:
            if victim is not None:
                await asyncio.shield(victim.stop(self._grace))
            host = await _Host.start(spec, self._logger, self._host_exited)
        finally:
            self._reserved -= 1
            self._wake()
        if self._closed:
            await host.stop(self._grace)
            raise PluginError(f"cannot run tasks of {spec}: the plugin host pool is closed")
        self._hosts.append(host)
        self._take(host)
        return host

    def _take(self, host: _Host) -> None:
        host.busy = True
        if host.idle_timer is not None:
            host.idle_timer.cancel()
            host.idle_timer = None

    def _release(self, host: _Host) -> None:
        host.busy = False
        host.last_used = time.monotonic()
        host.last_used_at = datetime.now(UTC)
        if not host.alive or self._closed:
            if host in self._hosts:
                self._hosts.remove(host)
            if host.alive:
                self._in_background(host.stop(self._grace))
        else:
            host.idle_timer = asyncio.get_running_loop().call_later(self._idle_timeout, self._expire, host)
        self._wake()

    def _expire(self, host: _Host) -> None:
        host.idle_timer = None
        if host.busy or host not in self._hosts:
            return
        self._hosts.remove(host)
        self._reserved += 1  # still a process until it is gone

        async def stop() -> None:
            try:
                await host.stop(self._grace)
            finally:
                self._reserved -= 1
                self._wake()

        self._in_background(stop())

    def _host_exited(self, host: _Host) -> None:
        if host.idle_timer is not None:
            host.idle_timer.cancel()
            host.idle_timer = None
        if not host.busy and host in self._hosts:
            self._hosts.remove(host)
            self._logger.warning("%s (pid %d) stopped while idle (%s)", host.where, host.pid, _how_it_ended(host.proc.returncode))
        self._wake()

    def _in_background(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _wake(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
