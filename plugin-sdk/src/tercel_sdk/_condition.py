"""Trigger conditions: small pure predicates a trigger's `conditions` list holds.

All of a trigger's conditions must hold for it to fire. The scheduler evaluates them with a
`ConditionContext`. Register condition classes with the `tercel_condition_types` hook.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import Field

from ._task import PluginType

__all__ = ["Condition", "ConditionContext"]


@runtime_checkable
class ConditionContext(Protocol):
    """What a condition sees when it is evaluated (implemented by the scheduler)."""

    @property
    def variables(self) -> Mapping[str, Any]:
        """The expression context (`trigger.*`, `flow`, `execution` for a Flow trigger…)."""
        ...

    def render(self, value: Any) -> Any:
        """Render a property (a `Property` is coerced to its type) in that context."""
        ...

    def test(self, definition: Mapping[str, Any]) -> bool:
        """Evaluate a nested condition definition (what `Not` and `Or` use)."""
        ...


class Condition(PluginType):
    """Base class of trigger conditions: implement `test(ctx) -> bool`."""

    type_kind: ClassVar[str] = "condition"
    schedule_condition: ClassVar[bool] = False
    """True for conditions a `Schedule` evaluates (Kestra's `ScheduleCondition`)."""

    type: str = Field(description="The condition type.")

    def test(self, ctx: ConditionContext) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.test is not implemented")
