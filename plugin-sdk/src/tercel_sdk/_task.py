"""Base classes of task types: what a plugin subclasses to add a task to tercel.

A task type is a pydantic model: its fields are the YAML properties (snake_case in Python,
camelCase in YAML, like Kestra), `Property[T]` for values that may be expressions. Class
variables carry what is known about the type without running it (its name, aliases, title,
examples, metrics); the docstring is its description. The manifest and the docs are built from
exactly this, so what a user reads is what the code declares.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

from ._docs import Example, MetricDoc
from ._duration import Duration
from ._property import Property
from ._retry import Retry

__all__ = [
    "TASK_ID_PATTERN",
    "FlowableTask",
    "LogLevel",
    "Output",
    "PluginType",
    "RunnableTask",
    "Task",
    "TaskCache",
    "TaskList",
    "TaskMap",
    "TaskSlot",
    "TaskSpec",
    "task_slots",
]

TASK_ID_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$"
LogLevel = Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]

_TASK_OBJECT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "type"],
    "properties": {"id": {"type": "string"}, "type": {"type": "string"}},
    "x-tercel-task": True,
}


@dataclass(frozen=True)
class TaskSlot:
    """Marks a field holding child tasks.

    `list`: a list of tasks; `map`: name → list of tasks; `wrapped`: a list of items that each
    hold one task under `key` (a Dag's `{task: …, dependsOn: […]}`). `depends_on` names the item
    key listing the ids a task waits for: the core then rejects unknown ids and cycles when the
    flow is validated, for any type that declares it.
    """

    kind: Literal["list", "map", "wrapped"]
    key: str | None = None
    depends_on: str | None = None

    @property
    def manifest_kind(self) -> str:
        """How the manifest writes it: `list`, `map`, `wrapped:<key>` or `wrapped:<key>:<dependsOn>`."""
        if self.kind != "wrapped":
            return self.kind
        return f"wrapped:{self.key}" + (f":{self.depends_on}" if self.depends_on else "")


TaskSpec = Annotated[dict[str, Any], WithJsonSchema(_TASK_OBJECT_SCHEMA)]
"""One child task as written in the flow (id, type, properties); the core instantiates it."""

TaskList = Annotated[
    list[TaskSpec],
    TaskSlot("list"),
    WithJsonSchema({"type": "array", "items": _TASK_OBJECT_SCHEMA}),
]
"""A field of child tasks run by a flowable task (`tasks`, `then`, `errors`, …)."""

TaskMap = Annotated[
    dict[str, list[TaskSpec]],
    TaskSlot("map"),
    WithJsonSchema(
        {"type": "object", "additionalProperties": {"type": "array", "items": _TASK_OBJECT_SCHEMA}}
    ),
]
"""A field of named groups of child tasks (`Switch.cases`)."""


class PluginType(BaseModel):
    """What every plugin type (task, trigger, …) shares: its identity and its documentation."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        arbitrary_types_allowed=True,
        protected_namespaces=(),
        # defaults go through the same validators as given values: a `Property.of(...)` default
        # gets its type and name, a `Duration` default written "PT1M" becomes a timedelta
        validate_default=True,
        # schemas are built when a type is first used, not at import: most flows use a handful
        # of the types a process knows, and building all of them is most of a cold start
        defer_build=True,
    )

    type_name: ClassVar[str] = ""
    """The full type name flows use, e.g. `tercel.core.Log`."""
    type_aliases: ClassVar[tuple[str, ...]] = ()
    """Other names accepted for this type (e.g. Kestra's `io.kestra.plugin.core.log.Log`)."""
    type_title: ClassVar[str] = ""
    type_examples: ClassVar[tuple[Example, ...]] = ()
    type_metrics: ClassVar[tuple[MetricDoc, ...]] = ()
    type_kind: ClassVar[str] = "task"
    type_internal_tasks: ClassVar[tuple[tuple[str, str], ...]] = ()
    """Task runs of their own this type works through: `(id suffix, type name)` pairs; each
    gets the id `<this id><suffix>` and this task's properties (Kestra's ForEachItem runs
    `<id>_split`, `<id>_items` and `<id>_merge`)."""
    type_internal: ClassVar[bool] = False
    """Only another type creates this one (see `type_internal_tasks`); a flow cannot use it."""

    @classmethod
    def describe(cls) -> str:
        """The type's description: its docstring, dedented."""
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def all_names(cls) -> tuple[str, ...]:
        return (cls.type_name, *cls.type_aliases)


class TaskCache(BaseModel):
    """Kestra's `taskCache`: reuse a successful run's outputs for identical inputs, for `ttl`."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, defer_build=True)

    enabled: bool = Field(default=True, description="Use the cache.")
    ttl: Duration = Field(description="How long cached outputs stay valid (ISO 8601 duration).")


class Output(BaseModel):
    """Base class of a task's typed outputs; fields keep their Python types (stored as Ion)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, arbitrary_types_allowed=True, defer_build=True
    )


class Task(PluginType):
    """Fields every task has in Kestra's DSL. Subclass `RunnableTask` or `FlowableTask`."""

    id: str = Field(pattern=TASK_ID_PATTERN, description="Unique id of the task in the flow.")
    type: str = Field(description="The task type.")
    description: str | None = Field(default=None, description="What this task is for.")
    version: str | None = Field(default=None, description="The plugin version to use (exact, a specifier, latest or oldest).")
    retry: Retry | None = Field(default=None, description="Retry the task when it fails.")
    timeout: Property[Duration] | None = Field(default=None, description="Fail the task (and kill it) when it runs longer than this.")
    disabled: bool = Field(default=False, description="Skip this task entirely.")
    log_level: LogLevel | None = Field(default=None, description="Only keep logs at this level or above.")
    log_to_file: bool = Field(default=False, description="Store the logs in a file instead of the log table.")
    allow_failure: bool = Field(default=False, description="A failure of this task ends it in WARNING and the flow goes on.")
    allow_warning: bool = Field(default=False, description="A WARNING of this task counts as SUCCESS.")
    run_if: str | None = Field(default=None, description="Run only if this expression is true; else SKIPPED.")
    worker_group: dict[str, Any] | None = Field(default=None, description="Run on workers of this group.")
    task_cache: TaskCache | None = Field(default=None, description="Reuse the outputs of an earlier successful run with the same inputs.")

    type_kind: ClassVar[str] = "task"


class RunnableTask(Task):
    """A task that does work on a worker. Implement `run` (sync or `async def`).

    Return an `Output` model, a dict, or None. Raise any exception to fail the attempt; the
    message becomes the task run's error. Sync `run`s execute in a thread pool, async ones on
    the worker's event loop, so an async task must never block.
    """

    flowable: ClassVar[bool] = False

    def run(self, ctx: Any) -> Output | dict[str, Any] | None:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.run is not implemented")

    @classmethod
    def output_model(cls) -> type[Output] | None:
        """The declared outputs: the `run` return annotation when it is an `Output`."""
        try:
            hints = get_type_hints(cls.run)
        except Exception:
            return None
        ret = hints.get("return")
        candidates = getattr(ret, "__args__", None) or (ret,)
        for cand in candidates:
            if isinstance(cand, type) and issubclass(cand, Output):
                return cand
        return None


class FlowableTask(Task):
    """A task that runs other tasks: it decides, purely, which child task runs come next.

    The engine calls `resolve(ctx)` whenever something changed in the execution; the task looks
    at its child task runs (`ctx.children()`), returns the new ones to create and, once it is
    done, its own final state. An exception raised by `resolve` (a property that cannot render,
    a `TaskFailed`) fails the flowable's task run with that message. No I/O, no waiting: the engine stays generic and every flowable
    type (Sequential, Parallel, ForEach, a plugin's own) is a small pure function.
    """

    flowable: ClassVar[bool] = True

    errors: TaskList | None = Field(default=None, description="Tasks to run if a child task fails.")
    finally_: TaskList | None = Field(default=None, alias="finally", description="Tasks to run at the end, whatever happened.")

    shares_working_directory: ClassVar[bool] = False
    """True when the child task runs share one working directory (WorkingDirectory): the
    worker hands them the flowable's directory instead of a fresh one each."""

    def resolve(self, ctx: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.resolve is not implemented")

    def work(self, ctx: Any, phase: str) -> Output | dict[str, Any] | None:
        """The I/O part of a flowable, run on a worker when `resolve` returns
        `FlowableResult(work=phase)`; `ctx` is a RunContext. Sync or `async def`."""
        raise NotImplementedError(f"{type(self).__name__} asked for work phase {phase!r} but does not implement work()")

    def restart_subflows(self, outputs: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]] | None:
        """When the execution is restarted and this task run ran subflows: the outputs to keep
        and the ids of the failed subflow executions to restart in place (Kestra's
        `restartBehavior: RETRY_FAILED`), or None to start over with new executions."""
        return None

    def subflows_started(self, outputs: Mapping[str, Any], started: list[dict[str, Any]]) -> dict[str, Any]:
        """Record the executions just started for this task run's `SubflowRequest`s (pure).

        Each item has `executionId`, `iteration` and `wait`. The default keeps Kestra's Subflow
        output `executionId` (of the first one).
        """
        return {**outputs, "executionId": started[0]["executionId"]} if started else dict(outputs)

    def subflow_ended(self, outputs: Mapping[str, Any], result: Mapping[str, Any]) -> dict[str, Any]:
        """Fold one ended subflow execution into this task run's outputs (pure).

        `result` has `executionId`, `state`, `outputs` (the child's flow outputs, plus the
        rendered `SubflowRequest.outputs`), `iteration` and `error`. The default keeps Kestra's
        Subflow outputs: `executionId`, `state` and `outputs`.
        """
        return {**outputs, "executionId": result["executionId"], "state": result["state"], "outputs": result.get("outputs") or {}}

    def child_groups(self) -> dict[str, list[dict[str, Any]]]:
        """Every group of child tasks, by field name (`tasks`, `then`, `cases.a`, …).

        Built from the fields marked with `TaskList`/`TaskMap`, so plugins rarely override it.
        """
        groups: dict[str, list[dict[str, Any]]] = {}
        for name, slot in task_slots(type(self)).items():
            value = getattr(self, name)
            if not value:
                continue
            alias = type(self).model_fields[name].alias or name
            if slot.kind == "list":
                groups[alias] = list(value)
            elif slot.kind == "wrapped":
                key = slot.key or "task"
                groups[alias] = [item[key] if isinstance(item, dict) else getattr(item, key) for item in value]
            else:
                for key, tasks in value.items():
                    groups[f"{alias}.{key}"] = list(tasks or [])
        # the main blocks first, then the handlers, the order a reader expects
        handlers = {k: groups.pop(k) for k in ("errors", "finally") if k in groups}
        groups.update(handlers)
        return groups

    def all_child_tasks(self) -> list[dict[str, Any]]:
        return [t for group in self.child_groups().values() for t in group]

    @classmethod
    def output_model(cls) -> type[Output] | None:
        return None


def task_slots(cls: type[BaseModel]) -> dict[str, TaskSlot]:
    """The fields of a model that hold child tasks, with their shape."""
    slots: dict[str, TaskSlot] = {}
    for name, field in cls.model_fields.items():
        for meta in field.metadata:
            if isinstance(meta, TaskSlot):
                slots[name] = meta
        annotation = field.annotation
        for arg in getattr(annotation, "__args__", ()) or ():
            for meta in getattr(arg, "__metadata__", ()) or ():
                if isinstance(meta, TaskSlot):
                    slots[name] = meta
    return slots


_TYPE_NAME = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$")
