"""The plugin host process: runs the tasks a worker sends, one at a time, and relays their calls.

Threads: a reader thread takes every frame off the pipe (answers to calls wake their caller
directly, so a task blocked in a call never needs the event loop); the main thread runs the event
loop where tasks run (`async def run` there, a sync `run` in a worker thread). A cancel from the
worker sets `ctx.is_cancelled()` at once and cancels an async task; a sync task is stopped by
the worker killing this process if it does not return within the grace period.

The pipe is the process's original stdin and stdout, taken over before any plugin code runs:
fd 0 then reads /dev/null, fd 1 writes to stderr, so a `print` or a child process cannot corrupt
a frame. The host exits when the worker closes the pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import inspect
import itertools
import os
import platform
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures.thread import __file__ as _THREAD_FILE
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tercel_sdk
from tercel_sdk import Output, ion
from tercel_sdk.ion import IonEncodeError

from ._context import HostRunContext
from ._errors import LoadError, TaskRunError, describe_failure, remote_error
from ._protocol import END_MARK, PROTOCOL_VERSION, pack, read_frame

__all__ = ["Host", "main"]

_SKIP_FRAMES = (__file__, _THREAD_FILE)


@dataclass
class _Run:
    """The task this host is running."""

    id: int
    class_path: str
    spec: dict[str, Any]
    phase: str | None
    info: dict[str, Any]
    cancelled: threading.Event = field(default_factory=threading.Event)
    task: asyncio.Task[Any] | None = None  # set while an async task runs: what a cancel cancels


class _Waiter:
    """A sync caller waiting for its answer."""

    __slots__ = ("event", "ok", "value")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.ok = True
        self.value: Any = None

    def __call__(self, ok: bool, value: Any) -> None:
        self.ok, self.value = ok, value
        self.event.set()


def outputs_dict(result: Any) -> dict[str, Any] | None:
    """A task's result as the outputs the worker stores (the core's `_outputs_dict`)."""
    if result is None:
        return None
    if isinstance(result, Output):
        return result.model_dump(by_alias=True, mode="python", exclude_none=False)
    if isinstance(result, Mapping):
        return dict(result)
    raise TaskRunError(f"a task must return an Output, a dict or None, not {type(result).__name__}")


class Host:
    """One plugin host: the pipe, the classes already imported, the task running now."""

    def __init__(self, fd_in: int, fd_out: int) -> None:
        self._input = open(fd_in, "rb", buffering=1 << 16)  # noqa: SIM115 - lives as long as the process
        self._out = fd_out
        self._write_lock = threading.Lock()
        self._waiters: dict[int, Callable[[bool, Any], None]] = {}
        self._call_ids = itertools.count(1)
        self._classes: dict[str, type] = {}
        self._current: _Run | None = None
        self._loop = asyncio.new_event_loop()
        self._spool: Path | None = None

    # -- the pipe ---------------------------------------------------------------------------
    def send(self, message: Any) -> None:
        self._write(pack(message))

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        with self._write_lock:
            while view:
                written = os.write(self._out, view)
                view = view[written:]

    def call(self, run: int, method: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        """Ask the worker and wait for the answer (from any thread)."""
        call_id = next(self._call_ids)
        waiter = _Waiter()
        data = self._encode_call(run, call_id, method, args, kwargs)
        self._waiters[call_id] = waiter
        try:
            self._write(data)
        except BaseException:
            self._waiters.pop(call_id, None)
            raise
        waiter.event.wait()
        if waiter.ok:
            return waiter.value
        raise remote_error(waiter.value)

    async def acall(self, run: int, method: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        """Ask the worker without blocking the event loop (`run_task`)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[bool, Any]] = loop.create_future()

        def resolve(ok: bool, value: Any) -> None:
            loop.call_soon_threadsafe(lambda: future.done() or future.set_result((ok, value)))

        call_id = next(self._call_ids)
        data = self._encode_call(run, call_id, method, args, kwargs)
        self._waiters[call_id] = resolve
        try:
            self._write(data)
            ok, value = await future
        finally:
            self._waiters.pop(call_id, None)
        if ok:
            return value
        raise remote_error(value)

    def tell(self, run: int, method: str, args: Sequence[Any]) -> None:
        self.send(["tell", run, method, list(args)])

    @staticmethod
    def _encode_call(run: int, call_id: int, method: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> bytes:
        try:
            return pack(["call", run, call_id, method, list(args), dict(kwargs)])
        except IonEncodeError:
            pass
        for name, value in [*((f"argument {i}", a) for i, a in enumerate(args, 1)), *((f"{k}=", v) for k, v in kwargs.items())]:
            try:
                pack(value)
            except IonEncodeError as exc:
                raise ValueError(f"{method}: {name} cannot be sent to the worker: {exc}") from None
        raise AssertionError("unreachable: one of the values failed to encode")

    def spool_dir(self) -> Path:
        """A scratch folder for data passed to the worker as a file."""
        if self._spool is None:
            self._spool = Path(tempfile.mkdtemp(prefix="tercel-host-"))
        return self._spool

    # -- main loop --------------------------------------------------------------------------
    def serve_forever(self) -> None:
        self.send(["ready", {
            "protocol": PROTOCOL_VERSION,
            "sdk": tercel_sdk.__version__,
            "python": platform.python_version(),
            "pid": os.getpid(),
        }])
        threading.Thread(target=self._read_loop, name="tercel-host-reader", daemon=True).start()
        self._loop.run_forever()

    def _read_loop(self) -> None:
        try:
            while True:
                message = read_frame(self._input)
                if message is None:
                    break
                self._dispatch(message)
        except BaseException:
            import traceback

            traceback.print_exc()
            self._exit(70)
        self._exit(0)

    def _exit(self, code: int) -> None:
        """The worker is gone (or spoke gibberish): nothing is left to report to."""
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        if self._spool is not None:
            import shutil

            shutil.rmtree(self._spool, ignore_errors=True)
        os._exit(code)

    def _dispatch(self, message: list[Any]) -> None:
        kind = message[0]
        if kind == "reply" or kind == "raise":
            waiter = self._waiters.pop(message[1], None)
            if waiter is not None:
                waiter(kind == "reply", message[2])
        elif kind == "run":
            _, run_id, class_path, spec, phase, info = message
            run = _Run(run_id, class_path, spec, phase, info)
            self._current = run
            self._loop.call_soon_threadsafe(self._start, run)
        elif kind == "cancel":
            run = self._current
            if run is not None and run.id == message[1]:
                run.cancelled.set()
                self._loop.call_soon_threadsafe(self._cancel, run)
        else:
            raise ValueError(f"unknown message {kind!r} from the worker")

    def _start(self, run: _Run) -> None:
        self._loop.create_task(self._execute(run))

    @staticmethod
    def _cancel(run: _Run) -> None:
        if run.task is not None:
            run.task.cancel()

    # -- running a task ---------------------------------------------------------------------
    def _load(self, class_path: str) -> type:
        cls = self._classes.get(class_path)
        if cls is not None:
            return cls
        module_name, sep, qualname = class_path.partition(":")
        if not sep or not module_name or not qualname:
            raise LoadError(f"class path {class_path!r} is not 'module:Qualname'")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in qualname.split("."):
                obj = getattr(obj, part)
        except Exception as exc:
            raise LoadError(f"{type(exc).__name__}: {exc}") from None
        if not (isinstance(obj, type) and hasattr(obj, "model_validate")):
            raise LoadError(f"{class_path} is not a task class: {obj!r}")
        self._classes[class_path] = obj
        return obj

    async def _execute(self, run: _Run) -> None:
        spec = run.spec
        ctx = HostRunContext(self, run.id, run.info, spec.get("logLevel"), run.cancelled)
        try:
            cls = self._load(run.class_path)
            try:
                task = cls.model_validate(spec)  # type: ignore[attr-defined]
            except Exception as exc:
                raise TaskRunError(f"task '{spec.get('id')}' is invalid for {spec.get('type')}: {exc}") from None
            if run.phase is not None:
                func: Callable[..., Any] = functools.partial(task.work, phase=run.phase)
                is_async = inspect.iscoroutinefunction(task.work)
            else:
                func = task.run
                is_async = inspect.iscoroutinefunction(func)
            if is_async:
                run.task = asyncio.current_task()
                if run.cancelled.is_set():
                    raise asyncio.CancelledError
                result = await func(ctx)
            else:  # a thread; never cancelled under its feet: it ends, or the process is killed
                result = await self._loop.run_in_executor(None, func, ctx)
            outputs = outputs_dict(result)
            try:
                message = pack(["done", run.id, outputs])
            except IonEncodeError as exc:
                raise TaskRunError(f"task '{run.info['taskId']}' returned outputs that cannot be stored: {_ion_problem(outputs, exc)}") from None
        except asyncio.CancelledError:
            message = pack(["failed", run.id, {"kind": "cancelled"}])
        except BaseException as exc:
            message = self._failure(run, exc)
        self._finish(run, message)

    def _failure(self, run: _Run, exc: BaseException) -> bytes:
        error = describe_failure(exc, outputs_dict, _SKIP_FRAMES)
        try:
            return pack(["failed", run.id, error])
        except IonEncodeError as bad:
            if "outputs" in error:  # a TaskWarning's outputs that Ion cannot hold
                message = f"task '{run.info['taskId']}' returned outputs that cannot be stored: {_ion_problem(error['outputs'], bad)}"
                return pack(["failed", run.id, {"kind": "tercel", "message": message}])
            # a lone surrogate in a message or traceback: Ion cannot carry it, escaped it can
            return pack(["failed", run.id, {k: v.encode("utf-8", "backslashreplace").decode("utf-8") if isinstance(v, str) else v
                                            for k, v in error.items()}])

    def _finish(self, run: _Run, message: bytes) -> None:
        """Mark the end of the run's output on stderr, then report (see `_protocol`)."""
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        with contextlib.suppress(OSError):
            os.write(2, f"{END_MARK}{run.id}\n".encode())
        if self._current is run:
            self._current = None
        self._write(message)


def _ion_problem(outputs: Any, exc: Exception) -> str:
    """The encoding problem as the worker words it when it stores a result (`value.outputs.x: …`)."""
    try:
        ion.dumps({"outputs": outputs})
    except IonEncodeError as again:
        return str(again)
    return str(exc)


def _take_stdio() -> tuple[int, int]:
    """The pipe to the worker, and fds 0/1 made harmless for plugin code."""
    fd_in, fd_out = os.dup(0), os.dup(1)  # dups are not inherited by child processes
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    return fd_in, fd_out


def main() -> None:
    """`python -m tercel_sdk.host`: serve the worker on stdin/stdout until it closes them."""
    fd_in, fd_out = _take_stdio()
    Host(fd_in, fd_out).serve_forever()
