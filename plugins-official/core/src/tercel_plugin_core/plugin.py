"""Entry point of tercel-plugin-core (`tercel.plugins` group): registers the core task types.

Kept light on purpose: discovery imports this module, and the type modules are imported only
when the hook is called (the core reads the shipped manifest to list and validate types).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tercel_sdk import hookimpl

if TYPE_CHECKING:
    from tercel_sdk import Condition, Task, Trigger

__all__ = ["tercel_condition_types", "tercel_task_types", "tercel_trigger_types"]


@hookimpl
def tercel_task_types() -> list[type[Task]]:
    """The task types of this plugin."""
    from . import kv, namespace, state, storage
    from .debug import Echo, Return
    from .execution import (
        Assert,
        Exit,
        Fail,
        Kill,
        Labels,
        PurgeExecutions,
        Resume,
        SetVariables,
        UnsetVariables,
    )
    from .flow import (
        AllowFailure,
        Dag,
        EachParallel,
        EachSequential,
        ForEach,
        ForEachItem,
        ForEachItemExecutable,
        ForEachItemMergeOutputs,
        ForEachItemSplit,
        If,
        LoopUntil,
        Parallel,
        Pause,
        Sequential,
        Sleep,
        Subflow,
        Switch,
        WorkingDirectory,
    )
    from .log import Fetch, Log, PurgeLogs
    from .metric import Publish
    from .output import OutputValues
    from .templating import TemplatedTask

    return [
        Log, Echo, Return, OutputValues, Fail, Assert, Publish,
        Labels, SetVariables, UnsetVariables, Exit, Kill, Resume, PurgeExecutions, Fetch, PurgeLogs,
        Sleep, Sequential, Parallel, If, Switch, ForEach,
        AllowFailure, EachSequential, EachParallel, Dag, LoopUntil,
        Pause, Subflow, ForEachItem, ForEachItemSplit, ForEachItemExecutable, ForEachItemMergeOutputs, WorkingDirectory,
        kv.Set, kv.Get, kv.GetKeys, kv.Delete,
        state.Set, state.Get, state.Delete,
        storage.Write, storage.Concat, storage.Split, storage.Size, storage.Delete,
        storage.Reverse, storage.FilterItems, storage.DeduplicateItems, storage.LocalFiles,
        namespace.UploadFiles, namespace.DownloadFiles, namespace.DeleteFiles, TemplatedTask,
    ]


@hookimpl
def tercel_trigger_types() -> list[type[Trigger]]:
    """The trigger types of this plugin."""
    from .trigger import FileWatch, Flow, NamespaceFiles, Schedule, ScheduleOnDates, Webhook

    return [Schedule, ScheduleOnDates, NamespaceFiles, FileWatch, Flow, Webhook]


@hookimpl
def tercel_condition_types() -> list[type[Condition]]:
    """The trigger condition types of this plugin."""
    from .condition import CONDITION_TYPES

    return list(CONDITION_TYPES)
