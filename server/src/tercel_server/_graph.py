"""The graph of a flow for a UI: its tasks as nodes, flowables as clusters, edges in run order.

A pure function of the validated flow document and of what each type's manifest says about its
task slots (`taskSlots`): no storage, no plugin import. The shape follows Kestra's `FlowGraph`
(the same names: `nodes`, `edges`, `clusters`, `flowables`, node `type`s named after Kestra's
`io.kestra.core.models.hierarchies` classes, `relationType`s), so a client drawing Kestra graphs
reads it; see `flow_graph` for every field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TypeShape", "flow_graph"]

_K = "io.kestra.core.models.hierarchies."
GRAPH_TASK = _K + "GraphTask"
GRAPH_CLUSTER = _K + "GraphCluster"
CLUSTER_ROOT = _K + "GraphClusterRoot"
CLUSTER_END = _K + "GraphClusterEnd"
CLUSTER_FINALLY = _K + "GraphClusterFinally"
CLUSTER_AFTER = _K + "GraphClusterAfterExecution"

ROOT_CLUSTER = "root"
"""The uid of the flow itself: the cluster every top-level task belongs to."""

# What a manifest's `taskSlots` cannot say: which single-slot flowables run their children side by
# side, and which repeat them (Kestra draws those as DYNAMIC clusters). Unknown types run their
# children one after the other, which is what most flowables do.
_PARALLEL_TYPES = frozenset({"tercel.core.Parallel", "tercel.core.EachParallel"})
_LOOP_TYPES = frozenset(
    {"tercel.core.ForEach", "tercel.core.EachSequential", "tercel.core.EachParallel",
     "tercel.core.LoopUntil", "tercel.core.ForEachItem"}
)
_BRANCH_SLOTS = ("errors", "finally")


@dataclass(frozen=True)
class TypeShape:
    """What the graph needs to know about a task type (from its manifest entry)."""

    name: str
    """The canonical type name (aliases resolved)."""
    slots: Mapping[str, str] = field(default_factory=dict)
    """The manifest's `taskSlots`: slot name → `list`, `map` or `wrapped:<key>[:<dependsOn>]`."""
    flowable: bool = False


Describe = Callable[[str], TypeShape | None]


def flow_graph(spec: Mapping[str, Any], describe: Describe) -> dict[str, Any]:
    """The graph of a flow document (its tasks, with plugin defaults applied or not).

    `describe(type)` tells the shape of a task type, or None for an unknown one (drawn as a plain
    task). The answer::

        {
          "nodes": [
            {"uid": "root.hello", "type": "io.kestra.core.models.hierarchies.GraphTask",
             "task": {"id": "hello", "type": "tercel.core.Log"},
             "cluster": "root", "parentTaskId": null,
             "relationType": "SEQUENTIAL", "branchType": null,
             "flowable": false, "disabled": false},
            {"uid": "root:root", "type": "io.kestra.core.models.hierarchies.GraphClusterRoot",
             "cluster": "root"},
            ...
          ],
          "edges": [
            {"source": "root:root", "target": "root.hello",
             "relation": {"relationType": "SEQUENTIAL", "value": null}},
            ...
          ],
          "clusters": [
            {"cluster": {"uid": "root.par", "type": "io.kestra.core.models.hierarchies.GraphCluster",
                         "task": {"id": "par", "type": "tercel.core.Parallel"},
                         "relationType": "PARALLEL"},
             "nodes": ["root.par:root", "root.par:end", "root.par.a", "root.par.b"],
             "parents": [], "start": "root.par:root", "end": "root.par:end"},
            ...
          ],
          "flowables": ["root.par"],
          "triggers": [{"id": "daily", "type": "tercel.core.Schedule", "disabled": false}]
        }

    * Every task is one node; its `uid` is the uids of the flowables holding it and its id, joined
      by dots, under ``root`` (the flow). A flowable's node has type ``GraphCluster`` and it also
      has an entry in `clusters` (`nodes` are the uids directly inside it, `parents` the uids of
      the clusters around it, outermost first; the flow itself, ``root``, is not listed).
    * Each cluster (the flow too) has pseudo-nodes named ``<cluster>:root`` (where it starts),
      ``<cluster>:end``, and ``<cluster>:finally`` / ``<cluster>:afterExecution`` when it has such
      a block. ``:`` cannot appear in a task id, so no uid collides.
    * Edges never touch a flowable's own node: they enter it at its ``:root`` and leave it from its
      ``:end``. Their `relation.relationType` is how the target is reached: SEQUENTIAL (after the
      previous task), PARALLEL (side by side), CHOICE (one branch is taken; `value` names it:
      ``then``/``else``, a Switch case, ``defaults``), ERROR (the `errors` block, entered from the
      cluster's start when something failed), FINALLY, AFTER_EXECUTION; edges into a pseudo-node
      (``:end``, ``:finally``, ``:afterExecution``) have a null relationType, as in Kestra.
    * A node's `relationType` is how it was attached; `branchType` is ERROR, FINALLY or
      AFTER_EXECUTION for a task in (or under) such a block, else null. A cluster's
      `relationType` is DYNAMIC for loops (ForEach, LoopUntil, ...), else how its children run.
    * Disabled tasks are kept (flagged `disabled`) where they are written.
    """
    builder = _Builder(describe)
    builder.fill(
        ROOT_CLUSTER,
        parents=[],
        parent_task=None,
        content=[("SEQUENTIAL", None, _tasks(spec.get("tasks")))],
        errors=_tasks(spec.get("errors")),
        finally_=_tasks(spec.get("finally")),
        after=_tasks(spec.get("afterExecution")),
        branch=None,
    )
    triggers = [
        {"id": t.get("id"), "type": t.get("type"), "disabled": bool(t.get("disabled", False))}
        for t in spec.get("triggers") or ()
        if isinstance(t, Mapping)
    ]
    return {
        "nodes": builder.nodes,
        "edges": builder.edges,
        "clusters": builder.clusters,
        "flowables": builder.flowables,
        "triggers": triggers,
    }


def _tasks(value: Any) -> list[Mapping[str, Any]]:
    """The tasks of a block (items that are not tasks are skipped: the flow was validated)."""
    if not isinstance(value, Sequence) or isinstance(value, str):
        return []
    return [t for t in value if isinstance(t, Mapping) and isinstance(t.get("id"), str)]


# A part of a cluster's content: how its tasks run, the CHOICE value naming it, and the tasks.
# For a DAG the tasks are `(task, dependsOn)` pairs.
_Part = tuple[str, str | None, list[Any]]


class _Builder:
    def __init__(self, describe: Describe) -> None:
        self.describe = describe
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[dict[str, Any]] = []
        self.clusters: list[dict[str, Any]] = []
        self.flowables: list[str] = []
        self._members: dict[str, list[str]] = {}

    # -- building blocks ---------------------------------------------------------------------------
    def _node(self, cluster: str, node: dict[str, Any]) -> None:
        self.nodes.append(node)
        self._members.setdefault(cluster, []).append(node["uid"])

    def _edge(self, source: str, target: str, relation: str | None, value: str | None = None) -> None:
        self.edges.append({"source": source, "target": target, "relation": {"relationType": relation, "value": value}})

    def _chain(
        self, cluster: str, parents: list[str], parent_task: str | None, start: str, tasks: list[Mapping[str, Any]],
        exit_to: str, *, first: str, then: str, value: str | None, branch: str | None,
    ) -> None:
        """`start` → t1 → t2 → … → `exit_to` (straight to `exit_to` when there are none)."""
        previous = start
        for index, task in enumerate(tasks):
            relation = first if index == 0 else then
            entry, leave = self.task(cluster, parents, parent_task, task, relation, branch)
            self._edge(previous, entry, relation, value)
            previous = leave
        self._edge(previous, exit_to, None if tasks else first, value if not tasks else None)

    # -- clusters ----------------------------------------------------------------------------------
    def fill(
        self, uid: str, *, parents: list[str], parent_task: str | None, content: list[_Part],
        errors: list[Mapping[str, Any]], finally_: list[Mapping[str, Any]], after: list[Mapping[str, Any]],
        branch: str | None,
    ) -> tuple[str, str]:
        """Draw one cluster (the flow or a flowable) and return its start and end uids."""
        start, end = f"{uid}:root", f"{uid}:end"
        self._node(uid, {"uid": start, "type": CLUSTER_ROOT, "cluster": uid})
        self._node(uid, {"uid": end, "type": CLUSTER_END, "cluster": uid})
        after_uid = f"{uid}:afterExecution" if after else None
        finally_uid = f"{uid}:finally" if finally_ else None
        if finally_uid:
            self._node(uid, {"uid": finally_uid, "type": CLUSTER_FINALLY, "cluster": uid})
        if after_uid:
            self._node(uid, {"uid": after_uid, "type": CLUSTER_AFTER, "cluster": uid})
        main_exit = finally_uid or after_uid or end
        inner = [*parents, uid] if uid != ROOT_CLUSTER else parents

        drawn = False
        for mode, value, tasks in content:
            drawn = True
            if mode == "PARALLEL":
                if not tasks:
                    self._edge(start, main_exit, None)
                for task in tasks:
                    entry, leave = self.task(uid, inner, parent_task, task, "PARALLEL", branch)
                    self._edge(start, entry, "PARALLEL")
                    self._edge(leave, main_exit, None)
            elif mode == "DAG":
                self._dag(uid, inner, parent_task, start, main_exit, tasks, branch)
            else:  # SEQUENTIAL, or one CHOICE branch
                first = "CHOICE" if mode == "CHOICE" else "SEQUENTIAL"
                self._chain(uid, inner, parent_task, start, tasks, main_exit, first=first, then="SEQUENTIAL", value=value, branch=branch)
        if not drawn:
            self._edge(start, main_exit, None)
        if errors:
            self._chain(uid, inner, parent_task, start, errors, main_exit, first="ERROR", then="ERROR", value=None, branch="ERROR")
        if finally_uid:
            self._chain(uid, inner, parent_task, finally_uid, finally_, after_uid or end, first="FINALLY", then="FINALLY", value=None, branch="FINALLY")
        if after_uid:
            self._chain(uid, inner, parent_task, after_uid, after, end, first="AFTER_EXECUTION", then="AFTER_EXECUTION", value=None, branch="AFTER_EXECUTION")
        return start, end

    def _dag(
        self, cluster: str, parents: list[str], parent_task: str | None, start: str, exit_to: str,
        items: list[tuple[Mapping[str, Any], list[str]]], branch: str | None,
    ) -> None:
        """Each task after what it depends on (or the start); those nothing depends on, to the exit."""
        ends: dict[str, str] = {}
        entries: list[tuple[str, list[str]]] = []
        for task, depends in items:
            entry, leave = self.task(cluster, parents, parent_task, task, "PARALLEL", branch)
            ends[task["id"]] = leave
            entries.append((entry, depends))
        needed = {d for _, depends in items for d in depends}
        for entry, depends in entries:
            sources = [ends[d] for d in depends if d in ends] or [start]
            for source in sources:
                self._edge(source, entry, "PARALLEL")
        for task, _ in items:
            if task["id"] not in needed:
                self._edge(ends[task["id"]], exit_to, None)
        if not items:
            self._edge(start, exit_to, None)

    # -- tasks -------------------------------------------------------------------------------------
    def task(
        self, cluster: str, parents: list[str], parent_task: str | None, task: Mapping[str, Any],
        relation: str, branch: str | None,
    ) -> tuple[str, str]:
        """Add a task (a cluster for a flowable with children); returns where edges enter and leave it."""
        task_id = str(task["id"])
        type_name = str(task.get("type") or "")
        uid = f"{cluster}.{task_id}"
        shape = self.describe(type_name) if type_name else None
        content = _content(task, shape) if shape is not None and shape.flowable else []
        errors = _tasks(task.get("errors")) if shape is not None and "errors" in shape.slots else []
        finally_ = _tasks(task.get("finally")) if shape is not None and "finally" in shape.slots else []
        has_children = any(tasks for _, _, tasks in content) or errors or finally_
        node = {
            "uid": uid,
            "type": GRAPH_CLUSTER if has_children else GRAPH_TASK,
            "task": {"id": task_id, "type": type_name},
            "cluster": cluster,
            "parentTaskId": parent_task,
            "relationType": relation,
            "branchType": branch,
            "flowable": bool(shape is not None and shape.flowable),
            "disabled": bool(task.get("disabled", False)),
        }
        self._node(cluster, node)
        if not has_children:
            return uid, uid
        assert shape is not None
        kind = "DYNAMIC" if shape.name in _LOOP_TYPES else (content[0][0] if content else "SEQUENTIAL")
        self.flowables.append(uid)
        entry = {
            "cluster": {"uid": uid, "type": GRAPH_CLUSTER, "task": {"id": task_id, "type": type_name}, "relationType": kind},
            "nodes": [],
            "parents": list(parents),
            "start": f"{uid}:root",
            "end": f"{uid}:end",
        }
        self.clusters.append(entry)
        start, end = self.fill(
            uid, parents=parents, parent_task=task_id, content=content, errors=errors, finally_=finally_,
            after=[], branch=branch,
        )
        entry["nodes"] = self._members.get(uid, [])
        return start, end


def _content(task: Mapping[str, Any], shape: TypeShape) -> list[_Part]:
    """The parts of a flowable's children (everything but `errors` and `finally`)."""
    declared = [(name, kind) for name, kind in shape.slots.items() if name not in _BRANCH_SLOTS]
    choice = len(declared) > 1 or any(kind == "map" for _, kind in declared)
    slots = [(name, kind) for name, kind in declared if name in task]
    parts: list[_Part] = []
    for name, kind in slots:
        value = task.get(name)
        if kind == "map":
            if isinstance(value, Mapping):
                parts += [("CHOICE", str(key), _tasks(tasks)) for key, tasks in value.items()]
        elif kind.startswith("wrapped:"):
            _, key, *depends_key = kind.split(":")
            items = [i for i in value or () if isinstance(i, Mapping) and isinstance(i.get(key), Mapping)] if isinstance(value, Sequence) else []
            tasks = _tasks([i[key] for i in items])
            if depends_key:
                pairs = [(i[key], [str(d) for d in i.get(depends_key[0]) or ()]) for i in items if isinstance(i[key].get("id"), str)]
                parts.append(("DAG", None, pairs))
            else:
                parts.append(("CHOICE" if choice else "SEQUENTIAL", name if choice else None, tasks))
        elif choice:
            parts.append(("CHOICE", name, _tasks(value)))
        else:
            mode = "PARALLEL" if shape.name in _PARALLEL_TYPES else "SEQUENTIAL"
            parts.append((mode, None, _tasks(value)))
    return parts
