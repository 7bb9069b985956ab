"""Exceptions a plugin raises or sees. The SDK does not import the core, so this tree is its own."""

from __future__ import annotations

__all__ = ["ManifestError", "PropertyValueError", "SdkError", "TaskFailed", "TaskWarning"]

from ._property import PropertyValueError


class SdkError(Exception):
    """Base of the SDK's own errors."""


class TaskFailed(SdkError):
    """Raise to fail the task with a message and no traceback in the logs (an expected failure)."""


class TaskWarning(SdkError):
    """Raise to end the task in WARNING with a message; `outputs` are kept."""

    def __init__(self, message: str, outputs: object = None) -> None:
        super().__init__(message)
        self.outputs = outputs


class ManifestError(SdkError):
    """A plugin's declared types cannot be described (bad name, duplicate, broken schema)."""
