"""`validate`: the problems saving a flow would report, without running it.

It needs no runtime, only the plugins and the expression engine a flow is checked against,
so it stays apart from the sandbox and the runners.
"""

from __future__ import annotations

import tempfile
import types as _types
from collections.abc import Sequence
from pathlib import Path

from .._task import PluginType
from ._environment import plugin_manager, sandbox_settings
from ._sources import FlowSource, flow_text

__all__ = ["validate"]


def validate(
    flow: FlowSource,
    *,
    types: Sequence[type[PluginType]] | None = None,
    plugins: Sequence[_types.ModuleType] | None = None,
) -> list[str]:
    """The problems of a flow as saving it would report them (each with its line and
    column), without running it; an empty list when it is valid."""
    from tercel.expressions import ExpressionEngine
    from tercel.flows import load_flow

    text, name = flow_text(flow)
    with tempfile.TemporaryDirectory(prefix="tercel-test-") as tmp:
        settings = sandbox_settings(Path(tmp), None)
        manager = plugin_manager(settings, list(types or ()), list(plugins or ()))
        engine = ExpressionEngine(
            functions=manager.collect("tercel_expression_functions"),
            filters=manager.collect("tercel_expression_filters"),
        )
        try:
            load_flow(text, manager, name=name, check_expression=engine.check)
        except Exception as exc:
            problems = getattr(exc, "problems", None)
            if problems is None:
                raise
            return [str(p) for p in problems]
    return []
