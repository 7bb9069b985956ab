"""Kestra's expression functions (`now()`, `fromJson()`, `render()`, `secret()`, ...).

Functions that need the running execution (secrets, KV store, internal storage, logs) cannot
live here: the core engine supplies them *in the render context*, under the reserved key
`__tercel_functions__`, as a mapping from Kestra's function name to a plain callable. The
template-facing functions below only look them up, so one compiled template serves every
execution and tests need no engine at all.
"""

from __future__ import annotations

import builtins
import contextvars
import datetime as dt
import json
import random
import socket
import uuid as uuid_module
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context

from ._convert import to_json
from ._environment import MAX_SEQUENCE_LENGTH
from ._errors import ExpressionError, SandboxViolation
from ._javadate import format_datetime, resolve_zone

__all__ = [
    "BUILTIN_FUNCTIONS",
    "CONTEXT_FUNCTIONS",
    "CONTEXT_FUNCTIONS_KEY",
    "from_ion",
    "load_yaml",
]

#: The context key under which the caller passes execution-bound functions.
CONTEXT_FUNCTIONS_KEY = "__tercel_functions__"

#: Kestra names of the functions looked up in the context (alias -> name looked up).
CONTEXT_FUNCTIONS = {
    "secret": "secret",
    "kv": "kv",
    "read": "read",
    "errorLogs": "errorLogs",
    "tasksWithState": "tasksWithState",
    "fileSize": "fileSize",
    "fileExists": "fileExists",
    "isFileEmpty": "isFileEmpty",
    "fileEmpty": "isFileEmpty",
    "fileURI": "fileURI",
}

_MAX_RENDER_DEPTH = 10
_render_depth: contextvars.ContextVar[int] = contextvars.ContextVar(
    "tercel_render_depth", default=0
)


def _context_bound(name: str, key: str) -> Callable[..., Any]:
    @pass_context
    def call(context: Context, *args: Any, **kwargs: Any) -> Any:
        functions = context.get(CONTEXT_FUNCTIONS_KEY)
        function = functions.get(key) if isinstance(functions, Mapping) else None
        if function is None:
            raise ExpressionError(f"function '{name}' is not available here")
        return function(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"Kestra's `{name}()`, supplied by the caller in `{CONTEXT_FUNCTIONS_KEY}`."
    return call


def now(
    timeZone: str | None = None,
    format: str | None = None,
    locale: str | None = None,
) -> dt.datetime | str:
    """The current time, tz-aware (UTC unless `timeZone`); a string if `format` is given."""
    value = dt.datetime.now(resolve_zone(timeZone) if timeZone else dt.UTC)
    return format_datetime(value, format) if format is not None else value


def from_json(text: Any) -> Any:
    """Parse JSON; already-parsed values (and null) pass through."""
    if text is None or not isinstance(text, (str, bytes)):
        return text
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ExpressionError(f"invalid JSON: {exc}") from None


def _plain_ion(value: Any) -> Any:
    """Ion's `IonPy*` wrappers as the plain Python types the rest of tercel uses."""
    from amazon.ion.core import IonType, Timestamp

    ion_type = getattr(value, "ion_type", None)
    if getattr(value, "is_null", False) or ion_type is IonType.NULL:
        return None
    if isinstance(value, Mapping):
        return {str(k): _plain_ion(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_ion(v) for v in value]
    if ion_type is IonType.BOOL or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Decimal):
        return Decimal(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, (dt.datetime, Timestamp)):
        return dt.datetime(
            value.year, value.month, value.day, value.hour, value.minute, value.second,
            value.microsecond, tzinfo=value.tzinfo,
        )  # fmt: skip
    return value


def from_ion(text: Any) -> Any:
    """Parse Ion text; several top-level values come back as a list."""
    if text is None or not isinstance(text, (str, bytes)):
        return text
    from amazon.ion import simpleion

    try:
        values = simpleion.loads(text, single_value=False)
    except Exception as exc:
        raise ExpressionError(f"invalid Ion: {exc}") from None
    plain = [_plain_ion(v) for v in values]
    return plain[0] if len(plain) == 1 else plain


def load_yaml(text: Any) -> Any:
    """Parse YAML (safe loader: plain data only, no Python objects)."""
    if text is None or not isinstance(text, str):
        return text
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise ExpressionError(f"invalid YAML: {exc}") from None


def new_uuid() -> str:
    """A random UUID (version 4) as text."""
    return str(uuid_module.uuid4())


_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def short_id() -> str:
    """A random 22-character base62 id, the shape of Kestra's `IdUtils.create()`."""
    number = uuid_module.uuid4().int
    chars = []
    while number:
        number, rest = divmod(number, 62)
        chars.append(_BASE62[rest])
    return "".join(reversed(chars)).rjust(22, "0")


def random_int(lower: int, upper: int) -> int:
    """A random integer in [lower, upper)."""
    try:
        return random.randrange(int(lower), int(upper))
    except ValueError as exc:
        raise ExpressionError(f"randomInt({lower}, {upper}): {exc}") from None


def random_port() -> int:
    """A TCP port free right now on this machine."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _max(*values: Any) -> Any:
    """Pebble's `max(a, b, ...)`; a single list argument means its items."""
    try:
        return builtins.max(*values) if len(values) != 1 else builtins.max(values[0])
    except (TypeError, ValueError) as exc:
        raise ExpressionError(f"max(): {exc}") from None


def _min(*values: Any) -> Any:
    """Pebble's `min(a, b, ...)`; a single list argument means its items."""
    try:
        return builtins.min(*values) if len(values) != 1 else builtins.min(values[0])
    except (TypeError, ValueError) as exc:
        raise ExpressionError(f"min(): {exc}") from None


def inclusive_range(start: int, end: int, increment: int = 1) -> list[int]:
    """Pebble's `range(start, end, increment)`: *both* ends included, bounded in size."""
    for name, number in (("start", start), ("end", end), ("increment", increment)):
        if isinstance(number, bool) or not isinstance(number, int):
            raise ExpressionError(f"range() expects integers, got {name}={number!r}")
    if increment == 0:
        raise ExpressionError("range() increment must not be 0")
    size = (end - start) // increment + 1
    if size > MAX_SEQUENCE_LENGTH:
        raise SandboxViolation(
            f"range() cannot produce more than {MAX_SEQUENCE_LENGTH} elements ({size} asked)"
        )
    if size <= 0:
        return []
    stop = end + (1 if increment > 0 else -1)
    return list(builtins.range(start, stop, increment))


def _render_with(context: Context, template: Any, recursive: bool) -> Any:
    """Render a string again in the current context (Kestra's `render`)."""
    if not isinstance(template, str):
        return template
    depth = _render_depth.get()
    if depth >= _MAX_RENDER_DEPTH:
        raise ExpressionError(f"render() nested more than {_MAX_RENDER_DEPTH} levels deep")
    engine = context.environment.tercel_engine  # type: ignore[attr-defined]
    variables = context.get_all()
    token = _render_depth.set(depth + 1)
    try:
        result = engine.render(template, variables)
        rounds = 1
        while recursive and result != template and engine.is_template(result):
            if rounds >= _MAX_RENDER_DEPTH:
                raise ExpressionError(
                    f"render() still finds expressions after {_MAX_RENDER_DEPTH} rounds"
                )
            template, result = result, engine.render(result, variables)
            rounds += 1
        return result
    finally:
        _render_depth.reset(token)


@pass_context
def render(context: Context, template: Any, recursive: bool = True) -> Any:
    """Render a string that itself holds expressions, until no expression is left."""
    return _render_with(context, template, recursive)


@pass_context
def render_once(context: Context, template: Any) -> Any:
    """Render a string that itself holds expressions, exactly once."""
    return _render_with(context, template, False)


@pass_context
def print_context(context: Context) -> str:
    """The variables visible here, as JSON (functions and reserved keys left out)."""
    variables = {
        key: value
        for key, value in context.get_all().items()
        if not key.startswith("__") and not callable(value)
    }
    return to_json(variables)


@pass_context
def current_each_output(context: Context, outputs: Any) -> Any:
    """The outputs of a sibling task for the current `ForEach` iteration (all nesting levels)."""
    if not isinstance(outputs, Mapping):
        raise ExpressionError("currentEachOutput() expects the outputs of a task (a map)")
    path = context.get("__tercel_each_path__")
    if isinstance(path, list):  # tercel's engine gives the exact loop-value path
        node: Any = outputs
        for value in path:
            if not isinstance(node, Mapping) or node.get(value) is None:
                raise ExpressionError("no outputs for the current task run path")
            node = node[value]
        return node
    parents = context.get("parents") or []
    for parent in reversed(list(parents)):
        taskrun = parent.get("taskrun") if isinstance(parent, Mapping) else None
        if isinstance(taskrun, Mapping):
            value = taskrun.get("value")
            if outputs.get(value) is None:
                raise ExpressionError("no outputs for the current task run path")
            outputs = outputs[value]
    taskrun = context.get("taskrun")
    if not isinstance(taskrun, Mapping):
        raise ExpressionError("currentEachOutput() needs a taskrun (use it inside ForEach)")
    return outputs.get(taskrun.get("value"))


BUILTIN_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "now": now,
    "fromJson": from_json,
    "json": from_json,
    "jsonDecode": from_json,
    "fromIon": from_ion,
    "ionDecode": from_ion,
    "yaml": load_yaml,
    "uuid": new_uuid,
    "id": short_id,
    "randomInt": random_int,
    "randomPort": random_port,
    "max": _max,
    "min": _min,
    "range": inclusive_range,
    "render": render,
    "renderOnce": render_once,
    "printContext": print_context,
    "currentEachOutput": current_each_output,
    **{alias: _context_bound(alias, key) for alias, key in CONTEXT_FUNCTIONS.items()},
}
