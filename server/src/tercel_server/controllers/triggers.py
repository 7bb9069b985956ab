"""`/api/v1/triggers`: the triggers of the stored flows with their state, and acting on them.

Reading (no scheduler needed):

* `GET /search?namespace=&flowId=&q=&page=&size=`: every trigger of the live flows, Kestra's
  `{"results": [{"abstractTrigger": definition, "triggerContext": state}], "total": n}`;
  `namespace` is a prefix (`company` finds `company.team`), `q` a text in the ids.
* `GET /{namespace}/{flowId}`: the states of one flow's triggers, `{"results": [...], "total"}`.

Acting (each answers the trigger's new state, Kestra's trigger JSON; the change is stored under
the trigger's lock, so it works in a process without the scheduler loop, `scheduler: false` or
`tercel server webserver`, and the scheduler process acts on it at its next look):

* `PUT /{namespace}/{flowId}/{triggerId}` `{"disabled": true|false}`, `PUT /` with Kestra's trigger
  JSON (`disabled`, or a `backfill` to start), and `POST /set-disabled` (or Kestra's
  `/set-disabled/by-triggers`) `{"triggers": [...], "disabled": …}` for several (all are checked
  before any changes). The scheduler keeps the flag: a schedule enabled again goes on from now;
  a Webhook trigger disabled here answers 404 until enabled again.
* `POST /{namespace}/{flowId}/{triggerId}/unlock`: stop waiting for the execution it started
  (409 when it waits for none).
* `POST /{namespace}/{flowId}/{triggerId}/backfill` `{"start", "end", "inputs", "labels"}`: create
  the executions of a schedule's past dates; `DELETE` the same path (or Kestra's
  `POST /backfill/delete`) stops it (409 when there is none).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from tercel.runtime import Runtime
from tercel.scheduler import Scheduler, TriggerState, from_record

from .._errors import ApiError, Conflict, NotFound
from .._requests import parse_json
from .._triggers import (
    BadRequest,
    TriggerRef,
    backfill_request,
    definitions,
    disabled_request,
    flow_triggers,
    matches,
    states_by_key,
    trigger_refs,
)

__all__ = ["TriggersController"]


async def _json_body(request: Request[Any, Any, Any]) -> Any:
    return parse_json(await request.body() or b"null")


def _bad(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except BadRequest as exc:
        raise ApiError(str(exc)) from None


def _definition(runtime: Runtime, ref: TriggerRef) -> dict[str, Any]:
    record = runtime.db.flows.get(ref.namespace, ref.flow_id)
    if record is None:
        raise NotFound(f"flow {ref.namespace}.{ref.flow_id} does not exist")
    for definition in definitions(record.source)[1]:
        if definition["id"] == ref.trigger_id:
            return definition
    raise NotFound(f"flow {ref.namespace}.{ref.flow_id} has no trigger {ref.trigger_id!r}")


def _stored(runtime: Runtime, ref: TriggerRef) -> TriggerState | None:
    row = runtime.db.triggers.get(ref.namespace, ref.flow_id, ref.trigger_id)
    return None if row is None else from_record(row)


def _set_disabled(runtime: Runtime, scheduler: Scheduler, ref: TriggerRef, disabled: bool) -> dict[str, Any]:
    _definition(runtime, ref)
    return scheduler.set_disabled(ref.namespace, ref.flow_id, ref.trigger_id, disabled).to_dict()


def _backfill(runtime: Runtime, scheduler: Scheduler, ref: TriggerRef, body: Any) -> dict[str, Any]:
    _definition(runtime, ref)
    request = _bad(backfill_request, body, datetime.now(UTC))
    state = scheduler.backfill(
        ref.namespace, ref.flow_id, ref.trigger_id, request.start, request.end,
        inputs=request.inputs, labels=request.labels,
    )
    return state.to_dict()


def _cancel_backfill(runtime: Runtime, scheduler: Scheduler, ref: TriggerRef) -> dict[str, Any]:
    _definition(runtime, ref)
    state = _stored(runtime, ref)
    if state is None or state.backfill is None:
        raise Conflict(f"trigger {ref.trigger_id!r} of flow {ref.namespace}.{ref.flow_id} has no backfill in progress")
    return scheduler.cancel_backfill(ref.namespace, ref.flow_id, ref.trigger_id).to_dict()


async def _set_disabled_many(request: Request[Any, Any, Any], runtime: Runtime, scheduler: Scheduler) -> dict[str, Any]:
    refs, disabled = _bad(trigger_refs, await _json_body(request))
    missing: list[str] = []
    for ref in refs:  # all checked before any changes
        try:
            _definition(runtime, ref)
        except NotFound as exc:
            missing.append(str(exc))
    if missing:
        raise NotFound(f"{len(missing)} of the triggers do not exist: nothing was changed", missing)
    for ref in refs:
        _set_disabled(runtime, scheduler, ref, disabled)
    return {"count": len(refs)}


def _ref_from_body(body: Any) -> TriggerRef:
    refs, _ = _bad(trigger_refs, {"triggers": [body], "disabled": False})
    return refs[0]


class TriggersController(Controller):
    path = "/api/v1/triggers"
    tags = ["Triggers"]

    @get("/search", summary="Search the triggers of the live flows, with their state")
    async def search(
        self,
        runtime: NamedDependency[Runtime],
        namespace: FromQuery[str | None] = None,
        flow_id: Annotated[str | None, QueryParameter(name="flowId")] = None,
        q: FromQuery[str | None] = None,
        page: Annotated[int, QueryParameter(ge=1, le=2**31 - 1)] = 1,
        size: Annotated[int, QueryParameter(ge=1, le=500)] = 10,
    ) -> dict[str, Any]:
        records = runtime.db.flows.list(prefix=namespace) if namespace else runtime.db.flows.list()
        if flow_id is not None:
            records = [r for r in records if r.flow_id == flow_id]
        states = states_by_key(from_record(row) for row in runtime.db.triggers.list())
        found = [
            {"abstractTrigger": definition, "triggerContext": state.to_dict()}
            for record in records
            for definition, state in flow_triggers(record.namespace, record.flow_id, record.source, states)
            if matches(q, record.namespace, record.flow_id, definition["id"])
        ]
        return {"results": found[(page - 1) * size: page * size], "total": len(found)}

    @get("/{namespace:str}/{flow_id:str}", summary="The triggers of a flow, with their state")
    async def for_flow(
        self,
        runtime: NamedDependency[Runtime],
        namespace: FromPath[str],
        flow_id: FromPath[str],
        page: Annotated[int, QueryParameter(ge=1, le=2**31 - 1)] = 1,
        size: Annotated[int, QueryParameter(ge=1, le=500)] = 10,
    ) -> dict[str, Any]:
        record = runtime.db.flows.get(namespace, flow_id)
        if record is None:
            raise NotFound(f"flow {namespace}.{flow_id} does not exist")
        states = states_by_key(from_record(row) for row in runtime.db.triggers.list(namespace, flow_id))
        found = [state.to_dict() for _, state in flow_triggers(namespace, flow_id, record.source, states)]
        return {"results": found[(page - 1) * size: page * size], "total": len(found)}

    @put("/{namespace:str}/{flow_id:str}/{trigger_id:str}", summary="Disable or enable a trigger: {\"disabled\": true|false}")
    async def set_disabled_one(
        self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime], scheduler: NamedDependency[Scheduler],
        namespace: FromPath[str], flow_id: FromPath[str], trigger_id: FromPath[str],
    ) -> dict[str, Any]:
        disabled = _bad(disabled_request, await _json_body(request))
        return _set_disabled(runtime, scheduler, TriggerRef(namespace, flow_id, trigger_id), disabled)

    @put("/", summary="Update a trigger (Kestra's trigger JSON): its `disabled` flag, or a `backfill` to start")
    async def update(
        self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime], scheduler: NamedDependency[Scheduler],
    ) -> dict[str, Any]:
        body = await _json_body(request)
        ref = _ref_from_body(body)
        if body.get("backfill") is not None:
            return _backfill(runtime, scheduler, ref, body["backfill"])
        return _set_disabled(runtime, scheduler, ref, _bad(disabled_request, body))

    @post("/set-disabled", status_code=200, summary="Disable or enable triggers: {\"triggers\": [...], \"disabled\": …}")
    async def set_disabled(
        self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime], scheduler: NamedDependency[Scheduler],
    ) -> dict[str, Any]:
        return await _set_disabled_many(request, runtime, scheduler)

    @post("/set-disabled/by-triggers", status_code=200, summary="Disable or enable triggers (Kestra's path)")
    async def set_disabled_by_triggers(
        self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime], scheduler: NamedDependency[Scheduler],
    ) -> dict[str, Any]:
        return await _set_disabled_many(request, runtime, scheduler)

    @post("/{namespace:str}/{flow_id:str}/{trigger_id:str}/unlock", status_code=200, summary="Stop waiting for the execution a trigger started")
    async def unlock(
        self, runtime: NamedDependency[Runtime], scheduler: NamedDependency[Scheduler],
        namespace: FromPath[str], flow_id: FromPath[str], trigger_id: FromPath[str],
    ) -> dict[str, Any]:
        ref = TriggerRef(namespace, flow_id, trigger_id)
        _definition(runtime, ref)
        state = _stored(runtime, ref)
        if state is None or not state.locked:
            raise Conflict(f"trigger {trigger_id!r} of flow {namespace}.{flow_id} is not locked: it waits for no execution")
        return scheduler.unlock(namespace, flow_id, trigger_id).to_dict()

    @post("/{namespace:str}/{flow_id:str}/{trigger_id:str}/backfill", status_code=200, summary="Backfill a schedule: {\"start\", \"end\", \"inputs\", \"labels\"}")
    async def backfill(
        self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime], scheduler: NamedDependency[Scheduler],
        namespace: FromPath[str], flow_id: FromPath[str], trigger_id: FromPath[str],
    ) -> dict[str, Any]:
        return _backfill(runtime, scheduler, TriggerRef(namespace, flow_id, trigger_id), await _json_body(request))

    @delete("/{namespace:str}/{flow_id:str}/{trigger_id:str}/backfill", status_code=200, summary="Stop a schedule's backfill (its executions stay)")
    async def cancel_backfill(
        self, runtime: NamedDependency[Runtime], scheduler: NamedDependency[Scheduler],
        namespace: FromPath[str], flow_id: FromPath[str], trigger_id: FromPath[str],
    ) -> dict[str, Any]:
        return _cancel_backfill(runtime, scheduler, TriggerRef(namespace, flow_id, trigger_id))

    @post("/backfill/delete", status_code=200, summary="Stop a schedule's backfill (Kestra's path: the trigger JSON as body)")
    async def delete_backfill(
        self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime], scheduler: NamedDependency[Scheduler],
    ) -> dict[str, Any]:
        return _cancel_backfill(runtime, scheduler, _ref_from_body(await _json_body(request)))
