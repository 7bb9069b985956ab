"""Fixtures of the core plugin's tests, over the SDK's testing module.

`sim` builds a `tercel_sdk.testing.FlowableSim` (the engine's side of one flowable task run)
from a task given as a flow dict, once plain and once incremental (`IncrementalFlowableSim`,
an `IncrementalFlowableContext` as the engine's context is): a flowable must decide the same
either way. `task` instantiates a core type from its flow dict. Runnable tasks and whole
flows run through the real engine with `tercel_sdk.testing.run_task`/`run_flow`/`Sandbox`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tercel_sdk import FlowableTask, RunnableTask
from tercel_sdk.testing import FlowableSim, IncrementalFlowableSim


@pytest.fixture(params=[FlowableSim, IncrementalFlowableSim], ids=["plain", "incremental"])
def sim(request: pytest.FixtureRequest) -> Callable[..., FlowableSim]:
    """Build a `FlowableSim` from a task given as a flow dict (each test runs with both kinds)."""

    def make(task: dict[str, Any], **kwargs: Any) -> FlowableSim:
        return request.param(load_task(task), **kwargs)

    return make


@pytest.fixture
def sim_kinds() -> tuple[type[FlowableSim], type[IncrementalFlowableSim]]:
    """Both kinds of `FlowableSim`, for tests that compare them."""
    return FlowableSim, IncrementalFlowableSim


def load_task(spec: dict[str, Any]) -> Any:
    """Instantiate a task from its flow dict, by tercel or Kestra type name."""
    from tercel_plugin_core.plugin import tercel_task_types

    by_name = {name: cls for cls in tercel_task_types() for name in cls.all_names()}
    cls = by_name[spec["type"]]
    assert issubclass(cls, FlowableTask | RunnableTask)
    return cls.model_validate(spec)


@pytest.fixture
def task() -> Callable[[dict[str, Any]], Any]:
    return load_task
