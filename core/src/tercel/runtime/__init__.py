"""Running executions: the runtime (executor + worker loops over the store) and RunContext."""

from ._codec import decode_header, to_json_ready
from ._context import RenderError, TaskRunContext, flow_context, namespace_functions
from ._runtime import LogEntry, Runtime, new_id

__all__ = [
    "LogEntry",
    "RenderError",
    "Runtime",
    "TaskRunContext",
    "decode_header",
    "flow_context",
    "namespace_functions",
    "new_id",
    "to_json_ready",
]
