"""Flow-control types (Kestra's `io.kestra.plugin.core.flow.*`).

The flowables only decide: each `resolve` looks at the child task runs and returns the next
ones to create and, once everything is done, the final state. The sequential and parallel
semantics with `errors` and `finally` come from the SDK helpers, so the types stay small.
One module per family: `_control` (Sleep, Sequential, Parallel, If, Switch, ForEach, Dag,
LoopUntil…), `_pause`, `_subflow` (Subflow, ForEachItem), `_working_directory`.
"""

from ._control import (
    AllowFailure,
    CheckFrequency,
    Dag,
    DagTask,
    EachParallel,
    EachSequential,
    ForEach,
    If,
    IfOutput,
    LoopUntil,
    Parallel,
    Sequential,
    Sleep,
    Switch,
    SwitchOutput,
)
from ._pause import Pause
from ._subflow import (
    ForEachItem,
    ForEachItemBatch,
    ForEachItemExecutable,
    ForEachItemMergeOutputs,
    ForEachItemSplit,
    Subflow,
)
from ._working_directory import NamespaceFilesSpec, WorkingDirectory, WorkingDirectoryCache

__all__ = [
    "AllowFailure",
    "CheckFrequency",
    "Dag",
    "DagTask",
    "EachParallel",
    "EachSequential",
    "ForEach",
    "ForEachItem",
    "ForEachItemBatch",
    "ForEachItemExecutable",
    "ForEachItemMergeOutputs",
    "ForEachItemSplit",
    "If",
    "IfOutput",
    "LoopUntil",
    "NamespaceFilesSpec",
    "Parallel",
    "Pause",
    "Sequential",
    "Sleep",
    "Subflow",
    "Switch",
    "SwitchOutput",
    "WorkingDirectory",
    "WorkingDirectoryCache",
]
