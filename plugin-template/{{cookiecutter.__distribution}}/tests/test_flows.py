"""Whole flows through the real engine: every `tests/flows/*.yaml` runs to SUCCESS.

Add a flow file to test a new behaviour end to end; each gets the input `api` (the base URL of
the loopback API in conftest.py) and may declare other inputs with defaults. The plugin's types
are handed to the engine directly, so the tests pass whether the plugin is installed or not.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from tercel_sdk.testing import FlowResult, run_flow

from {{ cookiecutter.__package }} import plugin

FLOWS = sorted((Path(__file__).parent / "flows").glob("*.yaml"))
TYPES = [*plugin.tercel_task_types(){% if cookiecutter.include_trigger %}, *plugin.tercel_trigger_types(){% endif %}]


@cache  # one run per flow, however many tests look at it
def run(path: Path, api_url: str) -> FlowResult:
    return run_flow(path, inputs={"api": api_url}, types=TYPES)


def failures(result: FlowResult) -> str:
    """What went wrong, for the assertion message."""
    return "; ".join(
        f"{r['taskId']}: {r['state']['current']} {r.get('error') or ''}".strip()
        for r in result.task_runs
        if r["state"]["current"] not in ("SUCCESS", "SKIPPED")
    )


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.stem)
def test_flow_succeeds(path, api):
    result = run(path, api.url)
    assert result.state == "SUCCESS", failures(result)


def test_outputs_flow_from_one_task_to_the_next(api):
    result = run(Path(__file__).parent / "flows" / "{{ cookiecutter.__task_module }}.yaml", api.url)
    assert result.outputs("echo")["body"]["query"] == {"city": "Paris"}
