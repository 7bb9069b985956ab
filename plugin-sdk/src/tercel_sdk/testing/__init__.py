"""Test a plugin through the real tercel: tasks, whole flows, triggers and flowable decisions.

This is the one module of the SDK that uses the tercel core (put `tercel-core` in your test
dependencies): tasks run through the real engine, worker, expressions, storage and KV store, on
a throwaway SQLite database and storage folder, so a test sees exactly what a user would.

    from tercel_sdk.testing import run_flow, run_task

    result = run_task(MyTask, {"url": "{{ vars.base }}/users"}, variables={"base": "http://127.0.0.1:8080"})
    result.assert_success()
    assert result.outputs["status"] == 200 and result.metric("requests") == 1

    result = run_flow("tests/flows/hello.yaml", {"name": "Ada"}, plugins=[my_plugin.plugin])
    assert result.outputs("hello")["value"] == "Hello Ada"

`run_task` and `run_flow` cover one execution; a `Sandbox` keeps one embedded tercel open for
tests that need several executions (one acting on another), a scheduler, or trigger checks;
`FlowableSim` drives a flowable task's `resolve` decisions child by child.
"""

from ._flowables import FlowableSim, IncrementalFlowableSim
from ._flowables import Outcome as Outcome
from ._results import FlowResult, StoredFile, TaskResult, TriggerCheck
from ._run import arun_flow, arun_task, run_flow, run_task
from ._sandbox import Sandbox
from ._sources import FlowSource as FlowSource
from ._sources import Seeds as Seeds
from ._triggers import listen_trigger, poll_trigger
from ._validate import validate

__all__ = [
    "FlowResult",
    "FlowableSim",
    "IncrementalFlowableSim",
    "Sandbox",
    "StoredFile",
    "TaskResult",
    "TriggerCheck",
    "arun_flow",
    "arun_task",
    "listen_trigger",
    "poll_trigger",
    "run_flow",
    "run_task",
    "validate",
]
