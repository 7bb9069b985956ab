"""`/api/v1/flows`: create, read, update, delete, search, revisions and validation of flows.

A flow is sent as YAML (`application/x-yaml`, its source kept byte for byte) or as JSON (turned
into YAML once). Answers are Kestra's flow JSON: the flow's document plus `revision`, and its
`source` when asked for.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from tercel.errors import ProblemsError
from tercel.flows import Flow
from tercel.runtime import Runtime, to_json_ready

from .._errors import ApiError, Conflict, NotFound
from .._requests import lone_surrogate, parse_json

__all__ = ["FlowsController"]

YAML_TYPES = ("application/x-yaml", "application/yaml", "text/yaml", "text/x-yaml", "text/plain")


async def flow_source(request: Request[Any, Any, Any]) -> str:
    """The flow the client sent: YAML as it is, JSON turned into YAML."""
    body = await request.body()
    kind = (request.headers.get("content-type") or "application/x-yaml").split(";")[0].strip().lower()
    if kind == "application/json":
        import io

        from ruamel.yaml import YAML

        document = parse_json(body)
        out = io.StringIO()
        yaml = YAML()
        yaml.default_flow_style = False
        try:
            yaml.dump(document, out)
        except RecursionError:
            raise ApiError("the flow nests lists or objects too deeply to be turned into YAML") from None
        return out.getvalue()
    if kind not in YAML_TYPES:
        raise ApiError(f"send the flow as application/x-yaml or application/json, not {kind}")
    try:
        source = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(f"the flow is not UTF-8 text: {exc}") from None
    _check_escapes(source)
    return source


def _check_escapes(source: str) -> None:
    """Refuse YAML whose escapes (`"\\ud800"`) make text that is not Unicode: such a flow could
    be neither stored nor sent back. Only a source with `\\u` escapes is parsed for it."""
    if "\\u" not in source and "\\U" not in source:
        return
    from ruamel.yaml import YAML

    try:
        documents = list(YAML(typ="safe").load_all(source))
    except Exception:  # not valid YAML: the flow's validation says what is wrong, and where
        return
    for index, document in enumerate(documents):
        where = lone_surrogate(document)
        if where is not None:
            which = f" (document {index + 1})" if len(documents) > 1 else ""
            raise ApiError(
                f"the flow is not valid{which}: the text at {where} escapes a lone UTF-16 surrogate "
                "(like \\ud800), which is not a Unicode character"
            )


def flow_json(flow: Flow, *, source: FromQuery[bool] = False) -> dict[str, Any]:
    """Kestra's flow JSON: the document (plugin defaults not applied), `revision`, `source`."""
    from ruamel.yaml import YAML

    document = YAML(typ="safe").load(flow.source) or {}
    out = {**to_json_ready(document), "id": flow.id, "namespace": flow.namespace, "revision": flow.revision, "deleted": False}
    if source:
        out["source"] = flow.source
    return out


def _wants_yaml(request: Request[Any, Any, Any]) -> bool:
    accept = request.headers.get("accept", "")
    return any(kind in accept for kind in YAML_TYPES[:4])


class FlowsController(Controller):
    path = "/api/v1/flows"
    tags = ["Flows"]

    @post("/", status_code=200, summary="Create a flow from YAML or JSON")
    async def create(self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> dict[str, Any]:
        source = await flow_source(request)
        flow = runtime.load_flow_source(source)
        if runtime.get_flow(flow.namespace, flow.id) is not None:
            raise Conflict(f"flow {flow.namespace}.{flow.id} already exists: update it with PUT /api/v1/flows/{flow.namespace}/{flow.id}")
        return flow_json(runtime.register_flow(flow), source=True)

    @put("/{namespace:str}/{flow_id:str}", summary="Update a flow (a new revision when its source changed)")
    async def update(self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime], namespace: FromPath[str], flow_id: FromPath[str]) -> dict[str, Any]:
        source = await flow_source(request)
        flow = runtime.load_flow_source(source)
        if (flow.namespace, flow.id) != (namespace, flow_id):
            raise ApiError(
                f"the flow's namespace and id ({flow.namespace}.{flow.id}) differ from the URL's ({namespace}.{flow_id})"
            )
        if runtime.get_flow(namespace, flow_id) is None:
            raise NotFound(f"flow {namespace}.{flow_id} does not exist: create it with POST /api/v1/flows")
        return flow_json(runtime.register_flow(flow), source=True)

    @get("/{namespace:str}/{flow_id:str}", summary="A flow as JSON (with `source=true` its YAML too), or its YAML")
    async def get_flow(
        self,
        request: Request[Any, Any, Any],
        runtime: NamedDependency[Runtime],
        namespace: FromPath[str],
        flow_id: FromPath[str],
        source: FromQuery[bool] = False,
        revision: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None,
    ) -> Any:
        flow = runtime.get_flow(namespace, flow_id, revision)
        if flow is None:
            which = f" revision {revision}" if revision else ""
            raise NotFound(f"flow {namespace}.{flow_id}{which} does not exist")
        if _wants_yaml(request):
            return Response(flow.source, media_type="application/x-yaml")
        return flow_json(flow, source=source)

    @delete("/{namespace:str}/{flow_id:str}", status_code=204, summary="Delete a flow (a tombstone revision: history kept)")
    async def delete_flow(self, runtime: NamedDependency[Runtime], namespace: FromPath[str], flow_id: FromPath[str]) -> None:
        if not runtime.delete_flow(namespace, flow_id):
            raise NotFound(f"flow {namespace}.{flow_id} does not exist")

    @get("/{namespace:str}/{flow_id:str}/revisions", summary="Every revision of a flow, oldest first")
    async def revisions(self, runtime: NamedDependency[Runtime], namespace: FromPath[str], flow_id: FromPath[str], source: FromQuery[bool] = False) -> list[dict[str, Any]]:
        records = runtime.db.flows.revisions(namespace, flow_id)
        if not records:
            raise NotFound(f"flow {namespace}.{flow_id} does not exist")
        out = []
        for r in records:
            item: dict[str, Any] = {"namespace": r.namespace, "id": r.flow_id, "revision": r.revision, "deleted": r.deleted, "created": r.created.isoformat()}
            if source:
                item["source"] = r.source
            out.append(item)
        return out

    @get("/search", summary="Search flows by namespace (prefix) and text")
    async def search(
        self,
        runtime: NamedDependency[Runtime],
        namespace: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
        page: Annotated[int, QueryParameter(ge=1)] = 1,
        size: Annotated[int, QueryParameter(ge=1, le=500)] = 25,
    ) -> dict[str, Any]:
        records = runtime.db.flows.list(prefix=namespace) if namespace else runtime.db.flows.list()
        if q:
            needle = q.lower()
            records = [r for r in records if needle in r.flow_id.lower() or needle in r.namespace.lower() or needle in r.source.lower()]
        total = len(records)
        chosen = records[(page - 1) * size: page * size]
        results = [
            {"id": r.flow_id, "namespace": r.namespace, "revision": r.revision, "created": r.created.isoformat()}
            for r in chosen
        ]
        return {"results": results, "total": total}

    @post("/validate", status_code=200, summary="Validate flows (YAML, several separated by ---): every problem with its position")
    async def validate(self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> list[dict[str, Any]]:
        source = await flow_source(request)
        documents = _split_documents(source)
        out = []
        for index, text in enumerate(documents):
            item: dict[str, Any] = {"index": index, "problems": []}
            try:
                flow = runtime.load_flow_source(text)
                item.update(flow=flow.id, namespace=flow.namespace)
            except ProblemsError as exc:
                item["problems"] = [p.to_dict() for p in exc.problems]
                item["constraints"] = str(exc)
            out.append(item)
        return out


def _split_documents(source: str) -> list[str]:
    """YAML documents separated by `---` lines (each validated on its own). Each keeps its lines
    where they are in the whole body (the lines before it blank), so the problems' line numbers
    are the body's, as an editor shows them."""
    docs, current, before = [], [], 0
    for number, line in enumerate(source.splitlines(keepends=True)):
        if line.rstrip() == "---":
            docs.append("\n" * before + "".join(current))
            current, before = [], number + 1
        else:
            current.append(line)
    docs.append("\n" * before + "".join(current))
    return [d for d in docs if d.strip()] or [source]
