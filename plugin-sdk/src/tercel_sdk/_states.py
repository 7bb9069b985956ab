"""Kestra's execution and task-run states, shared by the engine, the SDK and the API."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["State"]


class State(StrEnum):
    """Every state an execution or a task run can be in (Kestra's names, same meaning).

    A `str`: `str(State.FAILED)` and `f"{State.FAILED}"` are `"FAILED"`, as in the JSON.
    """

    CREATED = "CREATED"
    SUBMITTED = "SUBMITTED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    RESTARTED = "RESTARTED"
    KILLING = "KILLING"
    RETRYING = "RETRYING"
    BREAKPOINT = "BREAKPOINT"
    SUCCESS = "SUCCESS"
    WARNING = "WARNING"
    FAILED = "FAILED"
    KILLED = "KILLED"
    CANCELLED = "CANCELLED"
    RETRIED = "RETRIED"
    SKIPPED = "SKIPPED"
    RESUBMITTED = "RESUBMITTED"

    @property
    def is_terminated(self) -> bool:
        """Nothing more will happen to a run in this state (unless restarted)."""
        return self in _TERMINATED

    @property
    def is_running(self) -> bool:
        return self in _RUNNING

    @property
    def is_failed(self) -> bool:
        return self in (State.FAILED, State.KILLED, State.CANCELLED)

    @property
    def is_success_like(self) -> bool:
        """Ends well enough for the flow to go on (SKIPPED counts: the task was not wanted)."""
        return self in (State.SUCCESS, State.WARNING, State.SKIPPED)

    @property
    def is_paused(self) -> bool:
        return self in (State.PAUSED, State.BREAKPOINT)

    @classmethod
    def worst(cls, states: list[State]) -> State:
        """The state a parent takes from its children: KILLED > FAILED > CANCELLED > WARNING > SUCCESS."""
        if any(s is State.KILLED for s in states):
            return State.KILLED
        if any(s is State.FAILED for s in states):
            return State.FAILED
        if any(s is State.CANCELLED for s in states):
            return State.CANCELLED
        if any(s is State.WARNING for s in states):
            return State.WARNING
        return State.SUCCESS


_TERMINATED = frozenset(
    {
        State.SUCCESS,
        State.WARNING,
        State.FAILED,
        State.KILLED,
        State.CANCELLED,
        State.RETRIED,
        State.SKIPPED,
        State.RESUBMITTED,
    }
)
_RUNNING = frozenset(
    {State.RUNNING, State.KILLING, State.RETRYING, State.SUBMITTED, State.RESTARTED}
)
