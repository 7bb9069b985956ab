"""`ctx.run_task(definition)`: run another runnable task inside the current task run.

What Kestra's `TemplatedTask` is built on. The inner task shares the outer one's run context:
its logs, metrics and files are the outer task run's, it sees the same variables and working
directory, and its outputs are returned to the caller (which usually returns them as its own).
It is not a task run of its own, so what the engine does around a task run (retry, timeout,
runIf, allowFailure, taskCache, pluginDefaults) comes from the *outer* task; only the inner
task's properties matter (and `disabled`, which skips it).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from tercel_sdk import FlowableTask, Output, RunnableTask

from tercel.errors import TercelError

if TYPE_CHECKING:
    from ._context import TaskRunContext
    from ._runtime import Runtime

__all__ = ["InlineTaskError", "run_inline_task"]


class InlineTaskError(TercelError):
    """An inline task definition cannot run: not a mapping, no type, a flowable, bad properties."""


def _where(ctx: TaskRunContext) -> str:
    return f"task '{ctx.task_id}'"


def _location(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _validation_problems(exc: ValidationError) -> list[str]:
    """Each problem of a pydantic validation, naming the property as the flow writes it."""
    problems: list[str] = []
    for err in exc.errors(include_url=False, include_input=False):
        where = _location(tuple(err.get("loc", ())))
        kind = err.get("type", "")
        message = str(err.get("msg", "invalid value"))
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        if kind == "missing":
            problems.append(f"property `{where}` is required")
        elif kind == "extra_forbidden":
            problems.append(f"unknown property `{where}`")
        elif where:
            problems.append(f"property `{where}`: {message}")
        else:
            problems.append(message)
    return problems


def _outputs(type_name: str, result: Any) -> dict[str, Any] | None:
    if result is None:
        return None
    if isinstance(result, Output):
        return result.model_dump(by_alias=True, mode="python")
    if isinstance(result, Mapping):
        return dict(result)
    raise InlineTaskError(
        f"the inline task {type_name} returned {type(result).__name__}: a task must return an Output, a dict or None"
    )


async def run_inline_task(
    runtime: Runtime, ctx: TaskRunContext, definition: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Validate `definition` (a task as a flow writes it: `type` and properties, `id` optional),
    run it with `ctx` and return its outputs as a dict (None when it has none).

    Only runnable tasks can run inline: a flowable decides which task runs come next, which
    needs task runs of its own. Errors say which task and which property are at fault.
    """
    where = _where(ctx)
    if not isinstance(definition, Mapping):
        raise InlineTaskError(
            f"{where}: an inline task must be a mapping with a `type` and its properties, "
            f"not {type(definition).__name__}"
        )
    type_name = definition.get("type")
    if not isinstance(type_name, str) or not type_name.strip():
        shown = "" if type_name is None else f" (got {type_name!r})"
        raise InlineTaskError(f"{where}: the inline task has no `type`{shown}; say which task to run, e.g. type: tercel.core.Log")
    type_name = type_name.strip()
    try:
        cls = runtime.plugins.load_class(type_name)
    except TercelError as exc:
        raise InlineTaskError(f"{where}: cannot run {type_name!r} inline: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, RunnableTask)):
        if isinstance(cls, type) and issubclass(cls, FlowableTask):
            what = "a flowable task (it runs other tasks)"
        else:
            what = f"a {getattr(cls, 'type_kind', 'plugin type')}, not a task"
        raise InlineTaskError(
            f"{where}: {type_name!r} is {what} and cannot run inline: only runnable tasks can"
        )
    spec = dict(definition)
    spec["type"] = type_name
    if spec.get("id") is None:
        spec["id"] = ctx.task_id
    try:
        task = cls.model_validate(spec)
    except ValidationError as exc:
        problems = _validation_problems(exc)
        raise InlineTaskError(f"{where}: the inline {type_name} task is invalid: " + "; ".join(problems)) from None
    if task.disabled:
        ctx.logger.info("the inline %s task is disabled: skipped", type_name)
        return None
    run = task.run
    if inspect.iscoroutinefunction(run):
        result = await run(ctx)
    else:
        result = await asyncio.to_thread(run, ctx)
    return _outputs(type_name, result)
