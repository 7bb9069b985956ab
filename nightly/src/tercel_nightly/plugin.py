"""The nightly as a task type (registered through the `tercel.plugins` entry point)."""

from __future__ import annotations

from tercel_sdk import hookimpl

__all__ = ["tercel_task_types"]


@hookimpl
def tercel_task_types() -> list[type]:
    return []
