"""A validated flow, ready to run: its tasks indexed, plugin defaults applied, types locked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._yaml import ParsedYaml

__all__ = ["Flow", "TaskNode"]


@dataclass(frozen=True)
class TaskNode:
    """One task of the flow wherever it sits in the tree."""

    id: str
    type: str
    spec: dict[str, Any] = field(repr=False)
    parent_id: str | None
    group: str
    path: tuple[str | int, ...]
    flowable: bool


@dataclass
class Flow:
    """A flow that passed validation. `spec` is the document with plugin defaults applied."""

    id: str
    namespace: str
    spec: dict[str, Any]
    source: str
    revision: int = 1
    tasks: dict[str, TaskNode] = field(default_factory=dict)
    lock: dict[str, dict[str, str]] = field(default_factory=dict)
    parsed: ParsedYaml | None = field(default=None, repr=False)

    def block(self, name: str) -> list[dict[str, Any]]:
        """A top-level block of tasks (`tasks`, `errors`, `finally`, `afterExecution`), enabled only."""
        return [t for t in self.spec.get(name) or () if not t.get("disabled")]

    @property
    def inputs(self) -> list[dict[str, Any]]:
        return list(self.spec.get("inputs") or ())

    @property
    def outputs(self) -> list[dict[str, Any]]:
        return list(self.spec.get("outputs") or ())

    @property
    def labels(self) -> dict[str, str]:
        raw = self.spec.get("labels") or {}
        if isinstance(raw, list):
            return {str(item["key"]): str(item["value"]) for item in raw}
        return {str(k): str(v) for k, v in raw.items()}

    @property
    def variables(self) -> dict[str, Any]:
        return dict(self.spec.get("variables") or {})

    @property
    def disabled(self) -> bool:
        return bool(self.spec.get("disabled"))

    def task(self, task_id: str) -> TaskNode:
        return self.tasks[task_id]
