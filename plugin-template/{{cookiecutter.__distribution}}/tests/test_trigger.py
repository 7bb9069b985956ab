"""`Trigger`'s checks, one at a time, against the loopback API.

`tercel_sdk.testing.poll_trigger` runs one check (`evaluate`) with the scheduler's own context
on a throwaway tercel, and returns the event (None: no execution) and the `memory` the trigger
kept; handing that memory to the next check is what the scheduler does between checks. The
trigger logs to the `tercel.scheduler` logger, which pytest's `caplog` captures.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from tercel_sdk import TaskFailed
from tercel_sdk.testing import TriggerCheck, poll_trigger

from {{ cookiecutter.__package }}.trigger import Trigger


def check(url: str, memory: dict[str, Any] | None = None) -> TriggerCheck:
    """One check of a trigger watching `url`, remembering what an earlier check kept."""
    return poll_trigger(Trigger, {"url": url, "interval": "PT5M"}, memory=memory)


def test_fires_at_the_first_check_then_only_on_change(api, caplog):
    caplog.set_level(logging.INFO, logger="tercel.scheduler")
    url = f"{api.url}/documents/release"
    api.documents["release"] = {"version": "1.0"}
    first = check(url)
    assert first.event is not None and first.event.variables["body"] == {"version": "1.0"}
    assert first.event.variables["status"] == 200
    assert first.event.variables["digest"] == first.memory["digest"]
    same = check(url, first.memory)
    assert same.event is None  # same document: nothing to do
    api.documents["release"] = {"version": "1.1"}
    changed = check(url, same.memory)
    assert changed.event is not None and changed.event.variables["body"] == {"version": "1.1"}
    fired = [r for r in caplog.records if r.name == "tercel.scheduler" and "starting an execution" in r.getMessage()]
    assert len(fired) == 2  # logged when it fired, not when nothing changed


def test_a_failed_check_says_why(api):
    with pytest.raises(TaskFailed, match="404"):
        check(f"{api.url}/documents/nowhere")
