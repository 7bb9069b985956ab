"""`/api/v1/executions/webhook/{namespace}/{flowId}/{key}`: a flow started by an HTTP call.

GET, POST and PUT, no credentials: the key of one of the flow's Webhook triggers is the secret.
An unknown flow, a wrong key and a disabled trigger (in its definition, its flow disabled, or
through `/api/v1/triggers`) all get the same 404. Then, as in Kestra:

* the trigger's `conditions` not met: 204, no execution;
* its `inputs` (rendered with `trigger.*`) not valid for the flow: 422, no execution;
* else 200 with the execution; with `wait: true` once it ended (500 if it ended FAILED), and
  with `returnOutputs: true` only the flow's outputs.

What the flow sees (`trigger.body`, `trigger.headers`, `trigger.parameters`, multipart
`trigger.formFields` and `trigger.parts`) is described in `tercel_server._webhooks`. Bodies
above the server's `max_body_size` get 413.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from tercel.errors import TercelError
from tercel.flows import Flow
from tercel.runtime import Runtime, flow_context, new_id, to_json_ready
from tercel.storage import StorageError, execution_prefix_uri
from tercel_sdk import State

from .._errors import ApiError, NotFound
from .._labels import SYSTEM_PREFIX
from .._requests import read_form
from .._webhooks import (
    NOT_FOUND,
    WebhookTrigger,
    body_variable,
    find_webhook,
    headers_variable,
    parameters_variable,
    part_filename,
    trigger_variables,
    webhook_triggers,
)
from .executions import ExecutionsController, execution_json

__all__ = ["WebhooksController"]

log = logging.getLogger("tercel.server")


class Unprocessable(ApiError):
    status_code = 422


def _canonical(runtime: Runtime) -> Callable[[str], str | None]:
    def canonical(type_name: str) -> str | None:
        try:
            return str(runtime.plugins.get_type(type_name).entry["type"])
        except TercelError:
            return None

    return canonical


def _find(runtime: Runtime, namespace: str, flow_id: str, key: str) -> tuple[Flow, WebhookTrigger, dict[str, Any]]:
    flow = runtime.get_flow(namespace, flow_id)
    if flow is None:
        raise NotFound(NOT_FOUND)
    triggers = webhook_triggers(flow.spec.get("triggers"), _canonical(runtime))
    context = flow_context(runtime, flow)

    def render_key(value: Any) -> Any:
        return runtime.expressions.render_value(value, context, native=False)

    def disabled(trigger: WebhookTrigger) -> bool:
        if trigger.disabled or flow.disabled:
            return True
        row = runtime.db.triggers.get(flow.namespace, flow.id, trigger.id)
        return row is not None and row.disabled

    trigger = find_webhook(triggers, key, render_key=render_key, disabled=disabled)
    if trigger is None:
        raise NotFound(NOT_FOUND)
    return flow, trigger, context


async def _request_variables(
    request: Request[Any, Any, Any], runtime: Runtime, flow: Flow, trigger: WebhookTrigger, execution_id: str
) -> dict[str, Any]:
    """`trigger.*` from the request; the files of a multipart body go to internal storage."""
    headers = headers_variable(request.scope["headers"])
    parameters = parameters_variable(request.scope.get("query_string", b""))
    content_type = request.headers.get("content-type")
    if (content_type or "").split(";")[0].strip().lower() != "multipart/form-data":
        body = body_variable(await request.body(), content_type)
        return trigger_variables(trigger, headers=headers, parameters=parameters, body=body)
    form = await read_form(request)
    fields: dict[str, list[str]] = {}
    parts: list[dict[str, Any]] = []
    prefix = execution_prefix_uri(flow.namespace, flow.id, execution_id)
    for name, value in form.multi_items():
        if not hasattr(value, "read"):
            fields.setdefault(name, []).append(str(value))
            continue
        data = await value.read()
        filename = part_filename(getattr(value, "filename", None), len(parts))
        try:
            uri = runtime.storage.put(f"{prefix}trigger/{len(parts)}/{filename}", data)
        except StorageError as exc:
            raise ApiError(f"the file part {name!r} cannot be stored: {exc}") from None
        parts.append({
            "name": name, "filename": getattr(value, "filename", None) or filename,
            "contentType": getattr(value, "content_type", None), "size": len(data), "uri": uri,
        })
    return trigger_variables(trigger, headers=headers, parameters=parameters, form_fields=fields, parts=parts)


def _labels(runtime: Runtime, trigger: WebhookTrigger, context: Mapping[str, Any]) -> dict[str, str]:
    """The trigger's `labels` (an object or Kestra's `[{key, value}]`) rendered; one that cannot
    be rendered is left out (with a warning), `system.` ones are tercel's."""
    raw = trigger.labels
    if isinstance(raw, list):
        raw = {item.get("key"): item.get("value") for item in raw if isinstance(item, Mapping)}
    out: dict[str, str] = {}
    for key, value in (raw or {}).items() if isinstance(raw, Mapping) else ():
        if not isinstance(key, str) or key.startswith(SYSTEM_PREFIX):
            continue
        try:
            rendered = runtime.expressions.render_value(value, context, native=False)
        except Exception as exc:
            log.warning("webhook trigger '%s': label %r cannot be rendered, it is left out: %s", trigger.id, key, exc)
            continue
        if rendered is not None:
            out[key] = str(rendered)
    return out


async def _webhook(request: Request[Any, Any, Any], runtime: Runtime, namespace: str, flow_id: str, key: str) -> Response[Any]:
    flow, trigger, context = _find(runtime, namespace, flow_id, key)
    execution_id = new_id()
    variables = await _request_variables(request, runtime, flow, trigger, execution_id)
    context = {**context, "trigger": variables}
    try:
        if trigger.conditions:
            from tercel.scheduler import Conditions

            if not Conditions(runtime.plugins, runtime.expressions).test_all(trigger.conditions, context):
                _forget_files(runtime, flow, execution_id)
                return Response(None, status_code=204)
        try:
            inputs = runtime.expressions.render_value(trigger.inputs, context) if trigger.inputs else {}
        except Exception as exc:
            raise Unprocessable(f"the inputs of webhook trigger '{trigger.id}' cannot be rendered: {runtime.masker.mask(str(exc))}") from None
        labels = {**_labels(runtime, trigger, context), "system.correlationId": execution_id}
        ex = runtime.create_execution(
            flow, inputs, labels=labels, trigger=variables, execution_id=execution_id, local_files=False
        )
    except Exception:
        _forget_files(runtime, flow, execution_id)
        raise
    if not trigger.wait:
        return Response(execution_json(ex), status_code=200)
    done = await runtime.wait(ex.id)
    status = 500 if done.state.current == State.FAILED else 200
    if trigger.return_outputs:
        return Response(to_json_ready(done.outputs or {}), status_code=status)
    return Response(execution_json(done), status_code=status)


def _forget_files(runtime: Runtime, flow: Flow, execution_id: str) -> None:
    """The call created no execution: nothing would ever purge the files stored for it."""
    try:
        runtime.storage.delete_prefix(execution_prefix_uri(flow.namespace, flow.id, execution_id))
    except StorageError:
        log.warning("the files stored for webhook call %s could not be deleted", execution_id, exc_info=True)


_PATH = "/{namespace:str}/{flow_id:str}/{key:str}"
_ANSWERS = "200 with the execution; 204 when the trigger's conditions are not met; 404 for no such webhook; 422 for bad inputs"


class WebhooksController(Controller):
    path = "/api/v1/executions/webhook"
    tags = ["Executions"]

    @post(_PATH, status_code=200, summary="Start an execution through a Webhook trigger (POST)", description=_ANSWERS, exclude_from_auth=True)
    async def webhook_post(
        self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
        namespace: FromPath[str], flow_id: FromPath[str], key: FromPath[str],
    ) -> Response[Any]:
        return await _webhook(request, runtime, namespace, flow_id, key)

    @get(_PATH, summary="Start an execution through a Webhook trigger (GET)", description=_ANSWERS, exclude_from_auth=True)
    async def webhook_get(
        self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
        namespace: FromPath[str], flow_id: FromPath[str], key: FromPath[str],
    ) -> Response[Any]:
        return await _webhook(request, runtime, namespace, flow_id, key)

    @put(_PATH, summary="Start an execution through a Webhook trigger (PUT)", description=_ANSWERS, exclude_from_auth=True)
    async def webhook_put(
        self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
        namespace: FromPath[str], flow_id: FromPath[str], key: FromPath[str],
    ) -> Response[Any]:
        return await _webhook(request, runtime, namespace, flow_id, key)

    @post("/{flow_id:str}", status_code=200, include_in_schema=False)
    async def trigger_in_namespace_webhook(
        self,
        request: Request[Any, Any, Any],
        runtime: NamedDependency[Runtime],
        flow_id: FromPath[str],
        wait: FromQuery[bool] = False,
        labels: FromQuery[list[str] | None] = None,
        revision: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None,
    ) -> dict[str, Any]:
        """`POST /api/v1/executions/{namespace}/{flowId}` for a namespace named `webhook`: the
        router takes this controller's static `webhook` segment first and would answer 404."""
        trigger = ExecutionsController.trigger.fn
        return await trigger(self, request, runtime, "webhook", flow_id, wait, labels, revision)  # type: ignore[no-any-return]
