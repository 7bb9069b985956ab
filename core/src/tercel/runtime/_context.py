"""The RunContext a task receives, and the expression functions bound to an execution."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from tercel_sdk import Property, State

from tercel.errors import TercelError

if TYPE_CHECKING:
    from tercel.engine import Execution, TaskRun
    from tercel.flows import Flow, TaskNode

    from ._runtime import Runtime

__all__ = ["LEVELS", "RenderError", "TaskRunContext", "execution_functions", "flow_context", "namespace_functions", "overlay"]

LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")
_RANK = {name: i for i, name in enumerate(LEVELS)}


def overlay(context: Mapping[str, Any], variables: Mapping[str, Any]) -> dict[str, Any]:
    """`variables` laid over an expression context; a mapping over a mapping is merged one
    level deep, so `{"taskrun": {"items": uri}}` adds to `taskrun` instead of replacing it."""
    out = dict(context)
    for key, value in variables.items():
        base = out.get(key)
        out[key] = {**base, **value} if isinstance(base, Mapping) and isinstance(value, Mapping) else value
    return out


class RenderError(TercelError):
    """A property could not be rendered; the message names the task and the property."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _Logger:
    """A task run's logger: masks secrets, honours the task's `logLevel`, never raises."""

    def __init__(self, emit: Callable[[str, str], None], min_level: str | None) -> None:
        self._emit = emit
        self._min = _RANK.get(min_level or "TRACE", 0)

    def _log(self, level: str, message: str, args: tuple[Any, ...]) -> None:
        if _RANK[level] < self._min:
            return
        if args:
            try:
                message = message % args
            except (TypeError, ValueError):
                message = " ".join([message, *map(str, args)])
        self._emit(level, str(message))

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
    """The KV store as a task or trigger of a namespace may use it (`Runtime.check_namespace_access`)."""

    def __init__(self, runtime: Runtime, namespace: str) -> None:
        self._runtime = runtime
        self._kv = runtime.kv
        self._ns = namespace

    def _target(self, namespace: str | None) -> str:
        target = namespace or self._ns
        if target != self._ns:
            self._runtime.check_namespace_access(self._ns, target)
        return target

    def get(self, key: str, *, namespace: str | None = None) -> Any:
        return self._kv.get(self._target(namespace), key)

    def set(self, key: str, value: Any, *, ttl: timedelta | None = None, overwrite: bool = True, namespace: str | None = None) -> None:
        self._kv.set(self._target(namespace), key, value, ttl=ttl, overwrite=overwrite)

    def delete(self, key: str, *, namespace: str | None = None) -> bool:
        return self._kv.delete(self._target(namespace), key)

    def keys(self, prefix: str | None = None, *, namespace: str | None = None) -> list[str]:
        return [e.key for e in self._kv.list(self._target(namespace), prefix)]


def namespace_functions(runtime: Runtime, flow_namespace: str) -> dict[str, Callable[..., Any]]:
    """`secret()` and `kv()` of a namespace: what any expression of a flow may call, inside an
    execution or not (a trigger's inputs, a webhook's key)."""

    def secret(name: str) -> str:
        value = runtime.secrets.get(flow_namespace, str(name))
        runtime.masker.add(value)
        return value

    def kv(key: str, namespace: str | None = None, errorOnMissing: bool = True) -> Any:
        target = namespace or flow_namespace
        if target != flow_namespace:
            runtime.check_namespace_access(flow_namespace, str(target))
        value = runtime.kv.get(target, str(key))
        if value is None and errorOnMissing:
            raise TercelError(f"kv key {key!r} not found in namespace {target!r}")
        return value

    return {"secret": secret, "kv": kv}


def flow_context(runtime: Runtime, flow: Flow, **extra: Any) -> dict[str, Any]:
    """The expression context of a flow outside an execution (triggers, webhooks): the flow, its
    variables and labels, `envs`, and `secret()`/`kv()` of its namespace; `extra` is laid over."""
    from tercel.expressions import CONTEXT_FUNCTIONS_KEY

    return {
        "flow": {"id": flow.id, "namespace": flow.namespace, "revision": flow.revision, "tenantId": None},
        "vars": flow.variables,
        "envs": dict(runtime.envs),
        "labels": flow.labels,
        CONTEXT_FUNCTIONS_KEY: namespace_functions(runtime, flow.namespace),
        **extra,
    }


def execution_functions(runtime: Runtime, execution: Execution) -> dict[str, Callable[..., Any]]:
    """Functions an expression may call that need the outside world, bound to one execution."""
    functions = namespace_functions(runtime, execution.namespace)

    def read(path: str) -> str:
        return runtime.read_for_execution(execution, str(path)).decode("utf-8")

    def file_size(path: str) -> int:
        return len(runtime.read_for_execution(execution, str(path)))

    def file_exists(path: str) -> bool:
        try:
            runtime.read_for_execution(execution, str(path))
            return True
        except Exception:
            return False

    def is_file_empty(path: str) -> bool:
        return file_size(path) == 0

    def tasks_with_state(state: str) -> list[dict[str, Any]]:
        wanted = State(str(state).upper())
        return [
            {"taskId": tr.task_id, "taskRunId": tr.id, "value": tr.value, "state": tr.state.current.value}
            for tr in execution.task_runs
            if tr.state.current is wanted
        ]

    def error_logs() -> list[dict[str, Any]]:
        return runtime.error_logs(execution.id)

    return {
        **functions,
        "read": read,
        "fileSize": file_size,
        "fileExists": file_exists,
        "isFileEmpty": is_file_empty,
        "tasksWithState": tasks_with_state,
        "errorLogs": error_logs,
    }


class TaskRunContext:
    """`tercel_sdk.RunContext` for one attempt of one task run."""

    def __init__(
        self,
        runtime: Runtime,
        execution: Execution,
        task_run: TaskRun,
        node: TaskNode,
        attempt: int,
        variables: Mapping[str, Any],
        emit_log: Callable[[str, str], None],
        *,
        shared_dir: Path | None = None,
    ) -> None:
        self._runtime = runtime
        self._variables = variables
        self._node = node
        self.execution_id = execution.id
        self.namespace = execution.namespace
        self.flow_id = execution.flow_id
        self.task_id = task_run.task_id
        self.task_run_id = task_run.id
        self.attempt = attempt
        self.metrics: list[dict[str, Any]] = []
        self._logger = _Logger(emit_log, node.spec.get("logLevel"))
        self._cancelled = threading.Event()
        self._workdir: Path | None = None
        self._shared_dir = shared_dir
        self._kv = _KV(runtime, execution.namespace)
        self.execution_updates: dict[str, Any] = {}

    # -- protocol ------------------------------------------------------------------------------
    @property
    def logger(self) -> _Logger:
        return self._logger

    @property
    def variables(self) -> Mapping[str, Any]:
        return self._variables

    def _context(self, variables: Mapping[str, Any] | None) -> Mapping[str, Any]:
        return self._variables if not variables else overlay(self._variables, variables)

    def render(self, value: Any, variables: Mapping[str, Any] | None = None) -> Any:
        name = value.name if isinstance(value, Property) else None
        raw = value.raw if isinstance(value, Property) else value
        try:
            rendered = self._runtime.expressions.render_value(raw, self._context(variables))
            return value.coerce(rendered) if isinstance(value, Property) else rendered
        except Exception as exc:
            where = f"task '{self.task_id}'" + (f" property '{name}'" if name else "")
            raise RenderError(self._runtime.masker.mask(f"{where}: {exc}")) from None

    def render_string(self, template: str, variables: Mapping[str, Any] | None = None) -> str:
        try:
            return self._runtime.expressions.render(template, self._context(variables))
        except Exception as exc:
            raise RenderError(self._runtime.masker.mask(f"task '{self.task_id}': {exc}")) from None

    def metric(self, name: str, value: float, *, type: str = "counter", tags: Mapping[str, str] | None = None) -> None:
        if type not in ("counter", "timer", "gauge"):
            raise ValueError(f"metric type must be 'counter', 'timer' or 'gauge', got {type!r}")
        self.metrics.append({"name": name, "type": type, "value": float(value), "tags": dict(tags or {})})

    @property
    def working_dir(self) -> Path:
        if self._workdir is None:
            path = self._shared_dir or self._runtime.settings.tmp_dir / f"{self.task_run_id}-{self.attempt}"
            path.mkdir(parents=True, exist_ok=True)
            self._workdir = path
        return self._workdir

    def put_file(self, data: bytes | Path | BinaryIO, name: str) -> str:
        from tercel.storage import execution_file_uri

        uri = execution_file_uri(self.namespace, self.flow_id, self.execution_id, self.task_id, self.task_run_id, name)
        return self._runtime.storage.put(uri, data)

    def open_file(self, uri: str) -> BinaryIO:
        self._runtime.check_file_access(self.namespace, uri)
        return self._runtime.storage.open(uri)

    def read_file(self, uri: str) -> bytes:
        self._runtime.check_file_access(self.namespace, uri)
        return self._runtime.storage.get_bytes(uri)

    def file_size(self, uri: str) -> int:
        self._runtime.check_file_access(self.namespace, uri)
        return self._runtime.storage.size(uri)

    def file_exists(self, uri: str) -> bool:
        self._runtime.check_file_access(self.namespace, uri)
        return self._runtime.storage.exists(uri)

    def delete_file(self, uri: str) -> bool:
        self._runtime.check_file_access(self.namespace, uri)
        return self._runtime.storage.delete(uri)

    @property
    def kv(self) -> _KV:
        return self._kv

    def secret(self, name: str) -> str:
        value = self._runtime.secrets.get(self.namespace, name)
        self._runtime.masker.add(value)
        return value

    def update_labels(self, labels: Mapping[str, str]) -> None:
        bad = [k for k in labels if not isinstance(k, str) or not k or str(k).startswith("system.")]
        if bad:
            raise TercelError(f"labels {bad!r} cannot be set: keys must be non-empty text, and 'system.' ones are reserved")
        self.execution_updates.setdefault("labels", {}).update({str(k): str(v) for k, v in labels.items()})

    def set_variables(self, values: Mapping[str, Any]) -> None:
        bad = [k for k in values if not isinstance(k, str) or not k or k.startswith("__")]
        if bad:
            raise TercelError(f"variables {bad!r} cannot be set: names must be non-empty text not starting with '__'")
        self.execution_updates.setdefault("setVariables", {}).update(values)

    def unset_variables(self, names: list[str]) -> None:
        self.execution_updates.setdefault("unsetVariables", []).extend(str(n) for n in names)

    def exit_execution(self, state: str) -> None:
        allowed = ("SUCCESS", "WARNING", "KILLED", "FAILED", "CANCELLED")
        value = "CANCELLED" if str(state).upper() == "CANCELED" else str(state).upper()
        if value not in allowed:
            raise TercelError(f"cannot exit in state {state!r}: use one of {', '.join(allowed)}")
        self.execution_updates["exit"] = value

    @property
    def namespace_files(self) -> Any:
        from ._namespace_access import NamespaceFilesForTask

        return NamespaceFilesForTask(self._runtime, self.namespace)

    @property
    def executions(self) -> Any:
        from ._executions_access import ExecutionsForTask

        return ExecutionsForTask(self._runtime, self.namespace, self.execution_id)

    async def run_task(self, definition: Mapping[str, Any]) -> dict[str, Any] | None:
        return await self._runtime.run_inline_task(self, definition)

    def is_cancelled(self) -> bool:
        return self._cancelled.is_set()

    # -- engine side ---------------------------------------------------------------------------
    def cancel(self) -> None:
        self._cancelled.set()

    def cleanup(self) -> None:
        if self._workdir is not None and self._shared_dir is None:  # a shared one outlives the task
            shutil.rmtree(self._workdir, ignore_errors=True)
