"""The nightly as a task type (registered through the `tercel.plugins` entry point).

Kept light on purpose: discovery imports this module, the task module only when the hook runs.
"""

from __future__ import annotations

from tercel_sdk import hookimpl

__all__ = ["tercel_task_types"]


@hookimpl
def tercel_task_types() -> list[type]:
    """`io.tercel.nightly.Run`."""
    from .task import Run

    return [Run]
