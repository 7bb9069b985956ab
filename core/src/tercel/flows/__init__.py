"""Flows: YAML loading with positions, validation, plugin defaults, the runnable model."""

from ._locks import BrokenLock, broken_locks
from ._model import Flow, TaskNode
from ._validate import FlowValidationError, load_flow, validate_flow
from ._yaml import FlowSyntaxError, ParsedYaml, parse_yaml

__all__ = [
    "BrokenLock",
    "Flow",
    "FlowSyntaxError",
    "FlowValidationError",
    "ParsedYaml",
    "TaskNode",
    "broken_locks",
    "load_flow",
    "parse_yaml",
    "validate_flow",
]
