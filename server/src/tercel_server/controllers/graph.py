"""`/api/v1/flows/.../graph`: the graph of a flow (nodes, edges, clusters) for a UI to draw.

The shape is Kestra's `FlowGraph`, documented field by field in `tercel_server._graph.flow_graph`.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from tercel.flows import Flow
from tercel.plugins import PluginError
from tercel.runtime import Runtime, to_json_ready

from .._errors import NotFound
from .._graph import TypeShape, flow_graph
from .flows import flow_source

__all__ = ["FlowGraphController"]


def graph_of(runtime: Runtime, flow: Flow) -> dict[str, Any]:
    def describe(type_name: str) -> TypeShape | None:
        try:
            info = runtime.plugins.get_type(type_name)
        except PluginError:
            return None
        return TypeShape(info.entry["type"], info.task_slots, info.flowable)

    return to_json_ready(flow_graph(flow.spec, describe))


class FlowGraphController(Controller):
    path = "/api/v1/flows"
    tags = ["Flows"]

    @get(
        "/{namespace:str}/{flow_id:str}/graph",
        summary="The graph of a flow: every task as a node, flowables as clusters, edges in run order",
        description=(
            "Kestra's FlowGraph shape: `nodes` (tasks, with their type and the cluster they sit in, "
            "and the start/end pseudo-nodes of each cluster), `edges` (with a relationType: SEQUENTIAL, "
            "PARALLEL, CHOICE, ERROR, FINALLY, AFTER_EXECUTION), `clusters` (one per flowable with children) "
            "and `flowables`."
        ),
    )
    async def graph(
        self,
        runtime: NamedDependency[Runtime],
        namespace: FromPath[str],
        flow_id: FromPath[str],
        revision: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None,
    ) -> dict[str, Any]:
        flow = runtime.get_flow(namespace, flow_id, revision)
        if flow is None:
            which = f" revision {revision}" if revision else ""
            raise NotFound(f"flow {namespace}.{flow_id}{which} does not exist")
        return graph_of(runtime, flow)

    @post(
        "/graph",
        status_code=200,
        summary="The graph of a flow sent as YAML or JSON (validated, not saved): for an editor's live view",
    )
    async def graph_of_source(self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> dict[str, Any]:
        return graph_of(runtime, runtime.load_flow_source(await flow_source(request)))
