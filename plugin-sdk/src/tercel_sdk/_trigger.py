"""Trigger base classes: what starts executions (schedules, polling, realtime events).

The scheduler that drives them comes with the server; the contracts are fixed here so plugins
can already declare triggers and the flow validator can check them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field

from ._duration import Duration
from ._task import TASK_ID_PATTERN, LogLevel, PluginType

__all__ = ["PollingTrigger", "RealtimeTrigger", "ScheduleTrigger", "Trigger", "TriggerEvent"]


@dataclass(frozen=True)
class TriggerEvent:
    """One firing of a trigger: the variables the execution sees as `trigger.*`, and labels."""

    variables: Mapping[str, Any] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    inputs: Mapping[str, Any] | None = None
    scheduled_date: datetime | None = None


class Trigger(PluginType):
    """Fields every trigger has in Kestra's DSL."""

    type_kind: ClassVar[str] = "trigger"

    id: str = Field(pattern=TASK_ID_PATTERN)
    type: str
    description: str | None = None
    version: str | None = None
    disabled: bool = False
    conditions: list[dict[str, Any]] | None = Field(default=None, description="All must hold for the trigger to fire.")
    stop_after: list[str] | None = Field(default=None, description="Disable the trigger once an execution ends in one of these states.")
    log_level: LogLevel | None = None
    log_to_file: bool = False
    worker_group: dict[str, Any] | None = None
    fail_on_trigger_error: bool = False


class ScheduleTrigger(Trigger):
    """A trigger that fires at computed dates (cron-like); the scheduler asks for the next one."""

    def next_date(self, after: datetime) -> datetime | None:  # pragma: no cover - abstract
        """The first firing strictly after `after`, or None if it never fires again."""
        raise NotImplementedError

    def event(self, date: datetime) -> TriggerEvent:
        return TriggerEvent(variables={"date": date}, scheduled_date=date)


class PollingTrigger(Trigger):
    """A trigger that checks something every `interval` and may start an execution."""

    interval: Duration = Field(default="PT1M", description="How often to check.")  # type: ignore[assignment]

    def evaluate(self, ctx: Any) -> TriggerEvent | None:  # pragma: no cover - abstract
        """Check once; return an event to start an execution, or None."""
        raise NotImplementedError


class RealtimeTrigger(Trigger):
    """A trigger that listens continuously and starts one execution per event.

    `events(ctx)` is an async generator the scheduler runs for as long as the trigger is
    enabled (in one scheduler process at a time). Each `TriggerEvent` it yields starts one
    execution; yielding `None` starts none but still saves `ctx.memory`. Keep in `ctx.memory`
    (a small JSON-able dict) what was handed over: it is saved with each execution, in the
    same transaction, and given back when the listener starts again (after a restart, a
    crash or an error), so the listener can go on where it stopped. An exception ends the
    listener; the scheduler starts it again after a pause. Do blocking work in a thread
    (`asyncio.to_thread`): the listener shares the scheduler's event loop.
    """

    def events(self, ctx: Any) -> AsyncIterator[TriggerEvent | None]:  # pragma: no cover - abstract
        """Listen; yield one event per thing that happened (or None to save `ctx.memory`)."""
        raise NotImplementedError
