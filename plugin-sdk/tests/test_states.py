"""`State`: Kestra's states, their flags, and the worst-state rule a parent takes from children."""

from __future__ import annotations

import json

import pytest
from tercel_sdk import State

TERMINATED = {
    State.SUCCESS,
    State.WARNING,
    State.FAILED,
    State.KILLED,
    State.CANCELLED,
    State.RETRIED,
    State.SKIPPED,
    State.RESUBMITTED,
}
RUNNING = {State.RUNNING, State.KILLING, State.RETRYING, State.SUBMITTED, State.RESTARTED}
FAILED = {State.FAILED, State.KILLED, State.CANCELLED}
SUCCESS_LIKE = {State.SUCCESS, State.WARNING, State.SKIPPED}
PAUSED = {State.PAUSED, State.BREAKPOINT}


def test_kestra_names_are_all_there() -> None:
    assert {s.value for s in State} == {
        "CREATED", "SUBMITTED", "QUEUED", "RUNNING", "PAUSED", "RESTARTED", "KILLING",
        "RETRYING", "BREAKPOINT", "SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED",
        "RETRIED", "SKIPPED", "RESUBMITTED",
    }  # fmt: skip


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
def test_flags(state: State) -> None:
    assert state.is_terminated is (state in TERMINATED)
    assert state.is_running is (state in RUNNING)
    assert state.is_failed is (state in FAILED)
    assert state.is_success_like is (state in SUCCESS_LIKE)
    assert state.is_paused is (state in PAUSED)


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
def test_a_state_is_never_both_running_and_terminated(state: State) -> None:
    assert not (state.is_running and state.is_terminated)
    if state.is_failed or state.is_success_like:
        assert state.is_terminated


@pytest.mark.parametrize("state", [State.CREATED, State.QUEUED, State.PAUSED, State.BREAKPOINT])
def test_waiting_states_are_neither_running_nor_terminated(state: State) -> None:
    assert not state.is_running
    assert not state.is_terminated


def test_a_state_is_its_name_as_text() -> None:
    assert State("FAILED") is State.FAILED
    assert State.FAILED == "FAILED"
    assert str(State.FAILED) == "FAILED"
    assert f"{State.SUCCESS}" == "SUCCESS"
    assert json.dumps({"current": State.WARNING}) == '{"current": "WARNING"}'
    assert State(str(State.KILLED).upper()) is State.KILLED


def test_an_unknown_name_is_refused() -> None:
    with pytest.raises(ValueError, match="DONE"):
        State("DONE")


@pytest.mark.parametrize(
    ("states", "worst"),
    [
        ([], State.SUCCESS),
        ([State.SUCCESS], State.SUCCESS),
        ([State.SUCCESS, State.SUCCESS], State.SUCCESS),
        ([State.SKIPPED], State.SUCCESS),
        ([State.SKIPPED, State.SUCCESS], State.SUCCESS),
        ([State.SUCCESS, State.WARNING], State.WARNING),
        ([State.SKIPPED, State.WARNING], State.WARNING),
        ([State.WARNING, State.FAILED, State.SUCCESS], State.FAILED),
        ([State.FAILED, State.KILLED], State.KILLED),
        ([State.KILLED, State.WARNING, State.SUCCESS], State.KILLED),
        ([State.KILLED, State.FAILED, State.WARNING, State.SKIPPED], State.KILLED),
    ],
)
def test_worst(states: list[State], worst: State) -> None:
    assert State.worst(states) is worst
    assert State.worst(list(reversed(states))) is worst
