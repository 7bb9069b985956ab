"""The API's controllers, one per resource."""

from .execution_files import ExecutionFilesController
from .executions import ExecutionsController, LogsController
from .flows import FlowsController
from .graph import FlowGraphController
from .kv import KVController
from .metrics import MetricsController
from .namespace_files import NamespaceFilesController
from .plugins import PluginsController
from .system import SystemController
from .triggers import TriggersController
from .webhooks import WebhooksController

__all__ = [
    "ExecutionFilesController",
    "ExecutionsController",
    "FlowGraphController",
    "FlowsController",
    "KVController",
    "LogsController",
    "MetricsController",
    "NamespaceFilesController",
    "PluginsController",
    "SystemController",
    "TriggersController",
    "WebhooksController",
]
