"""Errors crossing the plugin host's pipe, in both directions.

Into the task: a RunContext call that raised in the worker raises here an exception with the same
class name, the same message and, for built-in exceptions (`KeyError`, `FileNotFoundError`…) and
the SDK's (`TaskFailed`…), the same base class, so `except KeyError` works as it does in-process.
It remembers which worker exception it stands for (`ref`): if the task lets it propagate, the
worker re-raises the original, and the task run ends exactly as in-process.

Out of the task: `describe_failure` says how the task ended, in the terms the worker needs to
store the same error as in-process (see `tercel.plugins._hosts`).
"""

from __future__ import annotations

import builtins
import traceback
from collections.abc import Callable
from typing import Any

from tercel_sdk import errors as sdk_errors

__all__ = ["HostError", "LoadError", "RemoteError", "TaskRunError", "describe_failure", "remote_error"]


class HostError(Exception):
    """Base of what the plugin host itself raises into a task."""


class TaskRunError(HostError):
    """An error whose message is the task run's error as it stands (like the core's TercelError):
    a property that cannot be rendered or coerced, a task definition that is invalid."""


class LoadError(HostError):
    """The task's class cannot be imported in this environment."""


class RemoteError(HostError):
    """Raised by a RunContext call in the worker. `type_name` is the worker's class name; `ref`
    lets the worker re-raise its original exception if the task does not catch this one."""

    type_name: str = ""
    ref: int | None = None


_BUILTINS: dict[str, type[BaseException]] = {
    name: cls for name, cls in vars(builtins).items() if isinstance(cls, type) and issubclass(cls, Exception)
}
_SDK: dict[str, type[BaseException]] = {
    name: cls for name in sdk_errors.__all__ if isinstance(cls := getattr(sdk_errors, name), type)
}
_CLASSES: dict[tuple[str, str], type[RemoteError]] = {}


def _remote_class(name: str, base: str) -> type[RemoteError]:
    """`RemoteError` named like the worker's class, deriving from its built-in or SDK base."""
    key = (name, base)
    cls = _CLASSES.get(key)
    if cls is None:
        parent = _SDK.get(base) or _BUILTINS.get(base)
        # the built-in base first: its __init__ must run (OSError sets errno, filename there)
        bases: tuple[type, ...] = (RemoteError,) if parent in (None, Exception) else (parent, RemoteError)  # type: ignore[assignment]
        try:
            cls = type(name, bases, {"__module__": "tercel_sdk.host.remote"})
        except TypeError:  # an unusual layout: keep the name and the message
            cls = type(name, (RemoteError,), {"__module__": "tercel_sdk.host.remote"})
        _CLASSES[key] = cls
    return cls


def remote_error(info: dict[str, Any]) -> RemoteError:
    """The exception a task sees for a call that raised `info` (see the worker's `_error_info`)."""
    name = str(info.get("type") or "Exception")
    message = str(info.get("message") or "")
    cls = _remote_class(name, str(info.get("base") or "Exception"))
    exc: RemoteError | None = None
    args = info.get("args")
    if isinstance(args, list):
        try:
            exc = cls(*args)
            if str(exc) != message:
                exc = None
        except Exception:
            exc = None
    if exc is None:
        try:
            exc = cls(message)
        except Exception:
            exc = _remote_class(name, "Exception")(message)
    exc.type_name = name
    exc.ref = info.get("ref")
    return exc


def _traceback(exc: BaseException, skip: tuple[str, ...]) -> str:
    """The task's traceback, without the host's own frames on top."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.endswith(skip):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def describe_failure(
    exc: BaseException, outputs: Callable[[Any], dict[str, Any] | None], skip: tuple[str, ...] = ()
) -> dict[str, Any]:
    """How the task failed, for the `failed` message.

    kinds: `call` (a worker error, re-raised there as it was), `warning` (TaskWarning, with its
    outputs), `failed` (TaskFailed), `load`, `tercel` (message kept as is), `error` (anything else:
    the worker stores `Type: message`, like in-process, and gets the traceback).
    """
    ref = getattr(exc, "ref", None) if isinstance(exc, RemoteError) else None
    if ref is not None:
        return {"kind": "call", "ref": ref, "message": str(exc), "type": exc.type_name}  # type: ignore[union-attr]
    if isinstance(exc, sdk_errors.TaskWarning):
        try:
            return {"kind": "warning", "message": str(exc), "outputs": outputs(exc.outputs)}
        except Exception as bad:
            exc = bad
    if isinstance(exc, sdk_errors.TaskFailed):
        return {"kind": "failed", "message": str(exc)}
    if isinstance(exc, LoadError):
        return {"kind": "load", "message": str(exc)}
    if isinstance(exc, TaskRunError):
        return {"kind": "tercel", "message": str(exc)}
    name = exc.type_name if isinstance(exc, RemoteError) and exc.type_name else type(exc).__name__
    return {"kind": "error", "type": name, "message": str(exc), "traceback": _traceback(exc, skip)}
