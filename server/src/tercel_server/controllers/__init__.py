"""The API's controllers, one per resource."""

from .executions import ExecutionsController, LogsController
from .flows import FlowsController
from .system import SystemController

__all__ = ["ExecutionsController", "FlowsController", "LogsController", "SystemController"]
