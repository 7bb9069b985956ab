"""The engine: executions in memory and the pure decisions that move them on."""

from ._executor import (
    Cancel,
    Delay,
    Dispatch,
    Executor,
    Finished,
    FlowableTimer,
    KillSubflows,
    LogEffect,
    Ports,
    SlaTimer,
    StartSubflows,
    Step,
    TaskResult,
)
from ._model import Attempt, Execution, RunState, TaskRun, iso
from ._restart import RestartError, RestartPlan, prepare_replay, prepare_restart
from ._variables import build_variables, outputs_map, stringify_value

__all__ = [
    "Attempt",
    "Cancel",
    "Delay",
    "Dispatch",
    "Execution",
    "Executor",
    "Finished",
    "FlowableTimer",
    "KillSubflows",
    "LogEffect",
    "Ports",
    "RestartError",
    "RestartPlan",
    "RunState",
    "SlaTimer",
    "StartSubflows",
    "Step",
    "TaskResult",
    "TaskRun",
    "build_variables",
    "iso",
    "outputs_map",
    "prepare_replay",
    "prepare_restart",
    "stringify_value",
]
