"""tercel-plugin-sdk: the only API a tercel plugin imports.

Subclass `RunnableTask` (does work) or `FlowableTask` (runs other tasks) and declare properties
as pydantic fields, `Property[T]` where an expression is allowed. Register the classes from your
entry-point module with `@hookimpl def tercel_task_types(): return [MyTask]`. See
`docs/writing-plugins.md` for the guide.
"""

from ._condition import Condition, ConditionContext
from ._context import KVAccess, RunContext, TaskLogger
from ._docs import Example, MetricDoc
from ._duration import Duration, format_duration, parse_duration
from ._flowable import (
    INHERIT,
    FlowableContext,
    FlowableResult,
    IncrementalFlowableContext,
    NextTaskRun,
    SubflowRequest,
    TaskRunView,
    block_state,
    resolve_parallel,
    resolve_sequential,
)
from ._hooks import hookimpl
from ._property import Property, contains_expression, is_expression, is_truthy
from ._retry import ConstantRetry, ExponentialRetry, RandomRetry, Retry
from ._services import ExecutionsAccess, NamespaceFile, NamespaceFilesAccess, PurgeResult
from ._states import State
from ._task import (
    FlowableTask,
    LogLevel,
    Output,
    PluginType,
    RunnableTask,
    Task,
    TaskCache,
    TaskList,
    TaskMap,
    TaskSlot,
    TaskSpec,
)
from .errors import TaskFailed, TaskWarning

_LAZY = {
    # trigger models are only built when something uses them (keeps `tercel run` quick to start)
    "PollingTrigger": "._trigger",
    "RealtimeTrigger": "._trigger",
    "ScheduleTrigger": "._trigger",
    "Trigger": "._trigger",
    "TriggerEvent": "._trigger",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tercel_sdk' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value

__version__ = "0.1.0"

__all__ = [
    "INHERIT",
    "Condition",
    "ConditionContext",
    "ConstantRetry",
    "Duration",
    "Example",
    "ExecutionsAccess",
    "ExponentialRetry",
    "FlowableContext",
    "FlowableResult",
    "FlowableTask",
    "IncrementalFlowableContext",
    "KVAccess",
    "LogLevel",
    "MetricDoc",
    "NamespaceFile",
    "NamespaceFilesAccess",
    "NextTaskRun",
    "Output",
    "PluginType",
    "PollingTrigger",
    "Property",
    "PurgeResult",
    "RandomRetry",
    "RealtimeTrigger",
    "Retry",
    "RunContext",
    "RunnableTask",
    "ScheduleTrigger",
    "State",
    "SubflowRequest",
    "Task",
    "TaskCache",
    "TaskFailed",
    "TaskList",
    "TaskLogger",
    "TaskMap",
    "TaskRunView",
    "TaskSlot",
    "TaskSpec",
    "TaskWarning",
    "Trigger",
    "TriggerEvent",
    "block_state",
    "contains_expression",
    "format_duration",
    "hookimpl",
    "is_expression",
    "is_truthy",
    "parse_duration",
    "resolve_parallel",
    "resolve_sequential",
]
