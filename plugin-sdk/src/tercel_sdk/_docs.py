"""Documentation metadata a plugin type declares: examples and metrics."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Example", "MetricDoc"]


@dataclass(frozen=True)
class Example:
    """A usage example; `code` is YAML: a whole flow when `full`, else one task."""

    code: str
    title: str = ""
    full: bool = False


@dataclass(frozen=True)
class MetricDoc:
    """A metric a task emits: `type` is `counter` or `timer`."""

    name: str
    type: str = "counter"
    unit: str | None = None
    description: str = ""
