"""The flow graph: `tercel_server._graph.flow_graph` on its own, and `/api/v1/flows/.../graph`."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient
from tercel_server._graph import (
    CLUSTER_END,
    CLUSTER_FINALLY,
    CLUSTER_ROOT,
    GRAPH_CLUSTER,
    GRAPH_TASK,
    TypeShape,
    flow_graph,
)

YAML = {"content-type": "application/x-yaml"}
FLOWABLE = {"tasks": "list", "errors": "list", "finally": "list"}
SHAPES = {
    "Log": TypeShape("tercel.core.Log"),
    "Seq": TypeShape("tercel.core.Sequential", FLOWABLE, True),
    "Par": TypeShape("tercel.core.Parallel", FLOWABLE, True),
    "ForEach": TypeShape("tercel.core.ForEach", FLOWABLE, True),
    "If": TypeShape("tercel.core.If", {"errors": "list", "finally": "list", "then": "list", "else": "list"}, True),
    "Switch": TypeShape("tercel.core.Switch", {"errors": "list", "finally": "list", "cases": "map", "defaults": "list"}, True),
    "Dag": TypeShape("tercel.core.Dag", {"errors": "list", "finally": "list", "tasks": "wrapped:task:dependsOn"}, True),
    "Subflow": TypeShape("tercel.core.Subflow", {"errors": "list", "finally": "list"}, True),
}


def describe(name: str) -> TypeShape | None:
    return SHAPES.get(name)


def log(task_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": task_id, "type": "Log", **extra}


def edges(graph: dict[str, Any]) -> set[tuple[str, str, str | None, str | None]]:
    return {(e["source"], e["target"], e["relation"]["relationType"], e["relation"]["value"]) for e in graph["edges"]}


def node(graph: dict[str, Any], uid: str) -> dict[str, Any]:
    return next(n for n in graph["nodes"] if n["uid"] == uid)


def test_a_sequence_chains_from_start_to_end() -> None:
    graph = flow_graph({"tasks": [log("a"), log("b")]}, describe)
    assert edges(graph) == {
        ("root:root", "root.a", "SEQUENTIAL", None),
        ("root.a", "root.b", "SEQUENTIAL", None),
        ("root.b", "root:end", None, None),
    }
    a = node(graph, "root.a")
    assert a["type"] == GRAPH_TASK and a["task"] == {"id": "a", "type": "Log"}
    assert a["cluster"] == "root" and a["parentTaskId"] is None and a["branchType"] is None
    assert {n["type"] for n in graph["nodes"] if n["uid"].startswith("root:")} == {CLUSTER_ROOT, CLUSTER_END}
    assert graph["clusters"] == [] and graph["flowables"] == []


def test_errors_and_finally_branches() -> None:
    spec = {"tasks": [log("a")], "errors": [log("e1"), log("e2")], "finally": [log("f")], "afterExecution": [log("after")]}
    graph = flow_graph(spec, describe)
    assert edges(graph) == {
        ("root:root", "root.a", "SEQUENTIAL", None),
        ("root.a", "root:finally", None, None),
        ("root:root", "root.e1", "ERROR", None),
        ("root.e1", "root.e2", "ERROR", None),
        ("root.e2", "root:finally", None, None),
        ("root:finally", "root.f", "FINALLY", None),
        ("root.f", "root:afterExecution", None, None),
        ("root:afterExecution", "root.after", "AFTER_EXECUTION", None),
        ("root.after", "root:end", None, None),
    }
    assert node(graph, "root.e2")["branchType"] == "ERROR"
    assert node(graph, "root.f")["branchType"] == "FINALLY"
    assert node(graph, "root:finally")["type"] == CLUSTER_FINALLY


def test_flowables_are_clusters_entered_at_their_root() -> None:
    spec = {"tasks": [
        {"id": "par", "type": "Par", "tasks": [log("x"), {"id": "seq", "type": "Seq", "tasks": [log("y"), log("z")], "errors": [log("oops")]}]},
        log("last"),
    ]}
    graph = flow_graph(spec, describe)
    got = edges(graph)
    assert ("root:root", "root.par:root", "SEQUENTIAL", None) in got
    assert ("root.par:root", "root.par.x", "PARALLEL", None) in got
    assert ("root.par:root", "root.par.seq:root", "PARALLEL", None) in got
    assert ("root.par.x", "root.par:end", None, None) in got
    assert ("root.par.seq:end", "root.par:end", None, None) in got
    assert ("root.par.seq.y", "root.par.seq.z", "SEQUENTIAL", None) in got
    assert ("root.par.seq:root", "root.par.seq.oops", "ERROR", None) in got
    assert ("root.par:end", "root.last", "SEQUENTIAL", None) in got
    assert not any("root.par" in (s, t) for s, t, *_ in got)  # a cluster's own node has no edge
    assert graph["flowables"] == ["root.par", "root.par.seq"]
    clusters = {c["cluster"]["uid"]: c for c in graph["clusters"]}
    assert clusters["root.par"]["cluster"]["relationType"] == "PARALLEL"
    assert clusters["root.par"]["parents"] == []
    assert clusters["root.par.seq"]["parents"] == ["root.par"]
    assert set(clusters["root.par.seq"]["nodes"]) == {"root.par.seq:root", "root.par.seq:end", "root.par.seq.y", "root.par.seq.z", "root.par.seq.oops"}
    assert clusters["root.par"]["start"] == "root.par:root" and clusters["root.par"]["end"] == "root.par:end"
    y = node(graph, "root.par.seq.y")
    assert y["cluster"] == "root.par.seq" and y["parentTaskId"] == "seq"
    assert node(graph, "root.par")["type"] == GRAPH_CLUSTER and node(graph, "root.par")["flowable"]


def test_choices_name_their_branch() -> None:
    spec = {"tasks": [
        {"id": "when", "type": "If", "then": [log("yes"), log("yes2")], "else": [log("no")]},
        {"id": "sw", "type": "Switch", "cases": {"a": [log("ca")], "b": []}, "defaults": [log("d")]},
    ]}
    got = edges(flow_graph(spec, describe))
    assert ("root.when:root", "root.when.yes", "CHOICE", "then") in got
    assert ("root.when.yes", "root.when.yes2", "SEQUENTIAL", "then") in got
    assert ("root.when:root", "root.when.no", "CHOICE", "else") in got
    assert ("root.when.no", "root.when:end", None, None) in got
    assert ("root.sw:root", "root.sw.ca", "CHOICE", "a") in got
    assert ("root.sw:root", "root.sw:end", "CHOICE", "b") in got  # an empty case goes straight on
    assert ("root.sw:root", "root.sw.d", "CHOICE", "defaults") in got


def test_a_dag_follows_depends_on() -> None:
    spec = {"tasks": [{"id": "dag", "type": "Dag", "tasks": [
        {"task": log("a")}, {"task": log("b")}, {"task": log("c"), "dependsOn": ["a", "b"]},
    ]}]}
    got = edges(flow_graph(spec, describe))
    assert {e for e in got if e[0].startswith("root.dag")} == {
        ("root.dag:root", "root.dag.a", "PARALLEL", None),
        ("root.dag:root", "root.dag.b", "PARALLEL", None),
        ("root.dag.a", "root.dag.c", "PARALLEL", None),
        ("root.dag.b", "root.dag.c", "PARALLEL", None),
        ("root.dag.c", "root.dag:end", None, None),
        ("root.dag:end", "root:end", None, None),
    }


def test_loops_are_dynamic_and_childless_flowables_plain_tasks() -> None:
    spec = {"tasks": [
        {"id": "each", "type": "ForEach", "tasks": [log("body")]},
        {"id": "sub", "type": "Subflow"},
        {"id": "mystery", "type": "Unknown", "tasks": [log("never")]},
        log("off", disabled=True),
    ], "triggers": [{"id": "daily", "type": "Schedule"}]}
    graph = flow_graph(spec, describe)
    assert graph["clusters"][0]["cluster"]["relationType"] == "DYNAMIC"
    sub = node(graph, "root.sub")
    assert sub["type"] == GRAPH_TASK and sub["flowable"]
    assert node(graph, "root.mystery")["type"] == GRAPH_TASK  # unknown type: drawn as a task
    assert not any(n["uid"] == "root.mystery.never" for n in graph["nodes"])
    assert node(graph, "root.off")["disabled"] is True
    assert graph["triggers"] == [{"id": "daily", "type": "Schedule", "disabled": False}]
    uids = [n["uid"] for n in graph["nodes"]]
    assert len(uids) == len(set(uids))


def test_a_task_called_root_does_not_collide() -> None:
    graph = flow_graph({"tasks": [log("root"), log("end")]}, describe)
    uids = [n["uid"] for n in graph["nodes"]]
    assert len(uids) == len(set(uids))
    assert ("root.root", "root.end", "SEQUENTIAL", None) in edges(graph)


FLOW = """id: shapes
namespace: team.g
tasks:
  - id: fetch
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: east
        type: tercel.core.Log
        message: e
      - id: west
        type: tercel.core.Log
        message: w
  - id: decide
    type: tercel.core.If
    condition: "{{ true }}"
    then:
      - id: yes
        type: tercel.core.Log
        message: y
errors:
  - id: alert
    type: tercel.core.Log
    message: failed
finally:
  - id: bye
    type: tercel.core.Log
    message: bye
"""


async def test_graph_of_a_stored_flow(client: AsyncTestClient) -> None:
    assert (await client.post("/api/v1/flows", content=FLOW, headers=YAML)).status_code == 200
    answer = await client.get("/api/v1/flows/team.g/shapes/graph")
    assert answer.status_code == 200
    graph = answer.json()
    got = edges(graph)
    assert ("root.fetch:root", "root.fetch.east", "PARALLEL", None) in got  # the Kestra alias resolved
    assert ("root.fetch:end", "root.decide:root", "SEQUENTIAL", None) in got
    assert ("root.decide:root", "root.decide.yes", "CHOICE", "then") in got
    assert ("root:root", "root.alert", "ERROR", None) in got
    assert ("root:finally", "root.bye", "FINALLY", None) in got
    assert node(graph, "root.fetch")["task"]["type"] == "io.kestra.plugin.core.flow.Parallel"
    assert graph["flowables"] == ["root.fetch", "root.decide"]
    # an older revision, and the graph of a source sent as it is written
    changed = FLOW.replace("  - id: decide", "  - id: extra\n    type: tercel.core.Log\n    message: x\n  - id: decide")
    await client.put("/api/v1/flows/team.g/shapes", content=changed, headers=YAML)
    latest = (await client.get("/api/v1/flows/team.g/shapes/graph")).json()
    first = (await client.get("/api/v1/flows/team.g/shapes/graph?revision=1")).json()
    assert any(n["uid"] == "root.extra" for n in latest["nodes"])
    assert not any(n["uid"] == "root.extra" for n in first["nodes"])
    live = await client.post("/api/v1/flows/graph", content=changed, headers=YAML)
    assert live.status_code == 200 and edges(live.json()) == edges(latest)


async def test_graph_errors(client: AsyncTestClient) -> None:
    missing = await client.get("/api/v1/flows/team.g/nope/graph")
    assert missing.status_code == 404 and "team.g.nope" in missing.json()["message"]
    await client.post("/api/v1/flows", content=FLOW, headers=YAML)
    no_revision = await client.get("/api/v1/flows/team.g/shapes/graph?revision=9")
    assert no_revision.status_code == 404 and "revision 9" in no_revision.json()["message"]
    assert (await client.get("/api/v1/flows/team.g/shapes/graph?revision=0")).status_code == 400
    assert (await client.get(f"/api/v1/flows/team.g/shapes/graph?revision={10**20}")).status_code == 400
    invalid = await client.post("/api/v1/flows/graph", content="id: x\nnamespace: y\ntasks:\n  - id: t\n    type: tercel.core.Nope\n", headers=YAML)
    assert invalid.status_code == 422 and invalid.json()["details"][0]["path"] == "tasks[0].type"
    wrong_kind = await client.post("/api/v1/flows/graph", content=FLOW, headers={"content-type": "application/pdf"})
    assert wrong_kind.status_code == 400
    unauthenticated = await client.get("/api/v1/flows/team.g/shapes/graph", headers={"Authorization": ""})
    assert unauthenticated.status_code == 401
