"""`Trigger`'s checks, one at a time, against the loopback API.

The scheduler hands `evaluate` a context; `FakeTriggerContext` is the part of it this trigger
uses (literal properties only: expressions are rendered by the real scheduler).
"""

from __future__ import annotations

from typing import Any

import pytest
from tercel_sdk import Property, TaskFailed

from {{ cookiecutter.__package }}.trigger import Trigger


class FakeTriggerContext:
    def __init__(self) -> None:
        self.memory: dict[str, Any] = {}
        self.logged: list[str] = []

    def render(self, value: Any) -> Any:
        return value.coerce(value.raw) if isinstance(value, Property) else value

    @property
    def logger(self) -> Any:
        return self

    def info(self, message: str, *args: Any) -> None:
        self.logged.append(message % args)


def watch(url: str) -> Trigger:
    return Trigger.model_validate({"id": "watch", "type": Trigger.type_name, "url": url, "interval": "PT5M"})


def test_fires_at_the_first_check_then_only_on_change(api):
    api.documents["release"] = {"version": "1.0"}
    trigger, ctx = watch(f"{api.url}/documents/release"), FakeTriggerContext()
    first = trigger.evaluate(ctx)
    assert first is not None and first.variables["body"] == {"version": "1.0"}
    assert first.variables["status"] == 200 and first.variables["digest"] == ctx.memory["digest"]
    assert trigger.evaluate(ctx) is None  # same document: nothing to do
    api.documents["release"] = {"version": "1.1"}
    changed = trigger.evaluate(ctx)
    assert changed is not None and changed.variables["body"] == {"version": "1.1"}
    assert len(ctx.logged) == 2


def test_a_failed_check_says_why(api):
    with pytest.raises(TaskFailed, match="404"):
        watch(f"{api.url}/documents/nowhere").evaluate(FakeTriggerContext())
