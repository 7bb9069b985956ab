"""Trigger conditions: resolved through the plugin manager, evaluated in an expression context.

A condition type is a plugin type of kind ``condition`` with a `test(ctx) -> bool` method (see
`tercel_plugin_core.condition`); the context this module gives it renders properties with the
scheduler's variables (`trigger.*`, `flow`, `vars`, `envs`, the `kv()` and `secret()`
functions) and evaluates nested condition definitions (`Not`, `Or`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tercel_sdk import Property

from tercel.errors import TercelError

if TYPE_CHECKING:
    from tercel.expressions import ExpressionEngine
    from tercel.plugins import PluginManager

__all__ = ["ConditionContext", "ConditionError", "Conditions"]


class ConditionError(TercelError):
    """A condition cannot be used: unknown type, invalid definition, or a failing render."""


class ConditionContext:
    """What a condition's `test` receives (the protocol of `tercel_plugin_core.condition`)."""

    def __init__(self, owner: Conditions, variables: Mapping[str, Any], render: Callable[[Any, Mapping[str, Any]], Any]) -> None:
        self._owner = owner
        self._variables = variables
        self._render = render

    @property
    def variables(self) -> Mapping[str, Any]:
        return self._variables

    def render(self, value: Any) -> Any:
        """Render a value (a `Property` is rendered then coerced to its type)."""
        if isinstance(value, Property):
            try:
                return value.coerce(self._render(value.raw, self._variables))
            except Exception as exc:
                where = f"property '{value.name}'" if value.name else "a property"
                raise ConditionError(f"{where}: {exc}") from None
        return self._render(value, self._variables)

    def test(self, definition: Mapping[str, Any]) -> bool:
        """Evaluate a nested condition definition (what `Not` and `Or` call)."""
        return self._owner.test_one(definition, self)


class Conditions:
    """Loads condition definitions as plugin types (cached) and tests lists of them."""

    def __init__(self, plugins: PluginManager, expressions: ExpressionEngine) -> None:
        self._plugins = plugins
        self._expressions = expressions
        self._cache: dict[str, Any] = {}

    def load(self, definition: Mapping[str, Any]) -> Any:
        """The condition object of a definition (`{type: …, …}`); `ConditionError` if unusable."""
        if not isinstance(definition, Mapping) or not isinstance(definition.get("type"), str):
            raise ConditionError(f"a condition needs a `type`: {dict(definition) if isinstance(definition, Mapping) else definition!r}")
        key = json.dumps(definition, sort_keys=True, default=str)
        found = self._cache.get(key)
        if found is not None:
            return found
        type_name = definition["type"]
        try:
            info = self._plugins.get_type(type_name)
        except TercelError as exc:
            raise ConditionError(f"unknown condition type {type_name!r}: {exc}") from None
        if info.kind != "condition":
            raise ConditionError(f"{type_name!r} is a {info.kind}, not a condition")
        cls = self._plugins.load_class(type_name)
        try:
            condition = cls.model_validate(dict(definition))
        except Exception as exc:
            raise ConditionError(f"invalid condition {type_name}: {exc}") from None
        if len(self._cache) > 2048:
            self._cache.clear()
        self._cache[key] = condition
        return condition

    def applies_to_schedules(self, definition: Mapping[str, Any]) -> bool:
        """Whether a `Schedule` evaluates this condition (Kestra's schedule conditions); others
        (about executions, for Flow triggers) are left out of a schedule's decision."""
        return bool(getattr(type(self.load(definition)), "schedule_condition", True))

    def context(self, variables: Mapping[str, Any]) -> ConditionContext:
        return ConditionContext(self, variables, self._expressions.render_value)

    def test_one(self, definition: Mapping[str, Any], ctx: ConditionContext) -> bool:
        condition = self.load(definition)
        try:
            return bool(condition.test(ctx))
        except ConditionError:
            raise
        except Exception as exc:
            raise ConditionError(f"condition {definition.get('type')}: {exc}") from None

    def test_all(self, definitions: Sequence[Mapping[str, Any]], variables: Mapping[str, Any]) -> bool:
        """True when every condition holds (an empty list holds)."""
        ctx = self.context(variables)
        return all(self.test_one(definition, ctx) for definition in definitions)
