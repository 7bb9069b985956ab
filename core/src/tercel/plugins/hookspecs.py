"""The hooks a tercel plugin can implement (pluggy hookspecs, `tercel_` prefixed).

Each hook returns what the plugin adds; the core's own built-ins register through the very
same hooks (see `tercel._builtins`). Type hooks are called only to build a plugin's manifest:
at run time the core reads manifests and imports a type's module when that type first runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import argparse

    from tercel_sdk import Condition, Task, Trigger

__all__ = ["hookspec"]

hookspec = pluggy.HookspecMarker("tercel")


@hookspec
def tercel_task_types() -> list[type[Task]]:
    """Task classes this plugin provides (runnable and flowable)."""


@hookspec
def tercel_trigger_types() -> list[type[Trigger]]:
    """Trigger classes this plugin provides."""


@hookspec
def tercel_condition_types() -> list[type[Condition]]:
    """Trigger condition classes (`tercel_sdk.Condition` subclasses) this plugin provides."""


@hookspec
def tercel_task_runners() -> dict[str, Callable[..., Any]]:
    """Task runners by name (`process`, `docker`, …) for script tasks."""


@hookspec
def tercel_storages() -> dict[str, Callable[..., Any]]:
    """Internal storage backends by name; the factory takes the storage configuration."""


@hookspec
def tercel_secret_backends() -> dict[str, Callable[..., Any]]:
    """Secret backends by name; the factory takes the backend configuration."""


@hookspec
def tercel_expression_functions() -> dict[str, Callable[..., Any]]:
    """Functions added to the expression language (`{{ myfunc(x) }}`)."""


@hookspec
def tercel_expression_filters() -> dict[str, Callable[..., Any]]:
    """Filters added to the expression language (`{{ x | myfilter }}`)."""


@hookspec
def tercel_cli_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add sub-commands to the `tercel` CLI (`subparsers.add_parser(...)`)."""
