"""`/api/v1/executions` and `/api/v1/logs`: start executions, watch them, act on them.

Inputs come as JSON (`{"name": value}`) or as `multipart/form-data` (fields and files), like
Kestra's API. A FILE input must be uploaded: a path on the server's machine is refused, so a
caller cannot make the server read its own files.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage
from tercel.engine import Execution
from tercel.runtime import Runtime, to_json_ready
from tercel_sdk import State

from .._errors import ApiError, NotFound
from .._labels import SYSTEM_PREFIX
from .._requests import parse_json, read_form

__all__ = ["ExecutionsController", "LogsController"]

_FOLLOW_POLL = 0.25


def execution_json(ex: Execution) -> dict[str, Any]:
    return to_json_ready(ex.to_dict())


def _file_name(sent: str | None) -> str | None:
    """The last part of an uploaded file's name, without folders or control characters (None
    when nothing usable is left: the file is then named after its input)."""
    name = (sent or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return None if name in ("", ".", "..") else name[:255]


async def request_inputs(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """Inputs from a JSON object or a multipart form (uploaded files as bytes)."""
    kind = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if kind.startswith("multipart/form-data"):
        form = await read_form(request)
        inputs: dict[str, Any] = {}
        for key, value in form.multi_items():
            if hasattr(value, "read"):  # an uploaded file: kept under the name it was sent with
                data = await value.read()
                name = _file_name(getattr(value, "filename", None))
                inputs[key] = (name, data) if name else data
            else:
                inputs[key] = value
        return inputs
    body = await request.body()
    if not body.strip():
        return {}
    if kind not in ("application/json", ""):
        raise ApiError(f"send inputs as application/json or multipart/form-data, not {kind}")
    data = parse_json(body)
    if not isinstance(data, dict):
        raise ApiError("inputs must be a JSON object of input id → value")
    return data


async def _closing(closing: asyncio.Event) -> bool:
    """Wait for the next look of a live stream; True when the server is stopping: the stream
    ends then (a client following reconnects or says so), so it never holds the stop up."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(closing.wait(), timeout=_FOLLOW_POLL)
    return closing.is_set()


def _labels(values: list[str] | None, *, setting: bool = False) -> dict[str, str]:
    """`key:value` query labels: to filter a search by, or (`setting`) to give a new execution,
    which may not set tercel's own `system.` labels."""
    out: dict[str, str] = {}
    for item in values or ():
        key, sep, value = item.partition(":")
        if not sep or not key:
            raise ApiError(f"label {item!r} must be written key:value")
        if "\x00" in item:
            raise ApiError(f"label {key!r} holds a NUL character")
        if setting and key.startswith(SYSTEM_PREFIX):
            raise ApiError(f"label {key!r}: labels starting with {SYSTEM_PREFIX!r} are set by tercel only")
        out[key] = value
    return out


def _execution(runtime: Runtime, execution_id: str) -> Execution:
    ex = runtime.get_execution(execution_id)
    if ex is None:
        raise NotFound(f"execution {execution_id} does not exist")
    return ex


class ExecutionsController(Controller):
    path = "/api/v1/executions"
    tags = ["Executions"]

    @post("/{namespace:str}/{flow_id:str}", status_code=200, summary="Start an execution of a flow")
    async def trigger(
        self,
        request: Request[Any, Any, Any],
        runtime: NamedDependency[Runtime],
        namespace: FromPath[str],
        flow_id: FromPath[str],
        wait: FromQuery[bool] = False,
        labels: FromQuery[list[str] | None] = None,
        revision: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None,
    ) -> dict[str, Any]:
        flow = runtime.get_flow(namespace, flow_id, revision)
        if flow is None:
            raise NotFound(f"flow {namespace}.{flow_id} does not exist")
        inputs = await request_inputs(request)
        ex = runtime.create_execution(flow, inputs, labels=_labels(labels, setting=True), local_files=False)
        if wait:
            ex = await runtime.wait(ex.id)
        return execution_json(ex)

    @get("/{execution_id:str}", summary="An execution")
    async def get_execution(self, runtime: NamedDependency[Runtime], execution_id: FromPath[str]) -> dict[str, Any]:
        return execution_json(_execution(runtime, execution_id))

    @delete("/{execution_id:str}", status_code=204, summary="Delete an ended execution (its logs and files stay unless purged)")
    async def delete_execution(self, runtime: NamedDependency[Runtime], execution_id: FromPath[str]) -> None:
        ex = _execution(runtime, execution_id)
        if not ex.state.current.is_terminated:
            raise ApiError(f"execution {execution_id} is {ex.state.current.value}: kill it before deleting it")
        runtime.db.executions.delete(execution_id)

    @get("/search", summary="Search executions")
    async def search(
        self,
        runtime: NamedDependency[Runtime],
        namespace: FromQuery[str | None] = None,
        flow_id: Annotated[str | None, QueryParameter(name="flowId")] = None,
        states: Annotated[list[str] | None, QueryParameter(name="state")] = None,
        labels: FromQuery[list[str] | None] = None,
        start_date: Annotated[datetime | None, QueryParameter(name="startDate")] = None,
        end_date: Annotated[datetime | None, QueryParameter(name="endDate")] = None,
        page: Annotated[int, QueryParameter(ge=1, le=2**31 - 1)] = 1,
        size: Annotated[int, QueryParameter(ge=1, le=500)] = 25,
    ) -> dict[str, Any]:
        for s in states or ():
            if s not in State.__members__:
                raise ApiError(f"unknown state {s!r} (one of {', '.join(State.__members__)})")
        for when, name in ((start_date, "startDate"), (end_date, "endDate")):
            if when is None:
                continue
            if when.tzinfo is None:
                raise ApiError(f"{name} needs a timezone (like 2024-01-01T00:00:00Z)")
            try:
                when.astimezone(UTC)  # how the store compares dates
            except OverflowError:
                raise ApiError(f"{name} {when.isoformat()} is out of range: in UTC it falls outside the years 1-9999") from None
        filters: dict[str, Any] = {
            "namespace": namespace, "flow_id": flow_id, "state": states or None, "labels": _labels(labels) or None,
            "start_after": start_date, "start_before": end_date,
        }
        headers = runtime.db.executions.find(**filters, limit=size + 1, offset=(page - 1) * size)
        from tercel.runtime import decode_header

        results = [to_json_ready(decode_header(h)) for h in headers[:size]]
        more = len(headers) > size
        # the count only when this page does not tell it (Kestra's `total`: every page together)
        total = (page - 1) * size + len(headers) if not more and headers else runtime.db.executions.count(**filters)
        return {"results": results, "total": total, "more": more}

    @delete("/{execution_id:str}/kill", status_code=202, summary="Kill an execution (and the subflow executions it started)")
    async def kill(self, runtime: NamedDependency[Runtime], execution_id: FromPath[str], propagate: Annotated[bool, QueryParameter(name="isOnKillCascade")] = True) -> dict[str, Any]:
        ex = _execution(runtime, execution_id)
        if ex.state.current.is_terminated:
            raise ApiError(f"execution {execution_id} already ended {ex.state.current.value}")
        runtime.kill(execution_id, propagate=propagate)
        return {"id": execution_id, "state": "KILLING"}

    @post("/{execution_id:str}/restart", status_code=200, summary="Run the failed task runs of an ended execution again")
    async def restart(self, runtime: NamedDependency[Runtime], execution_id: FromPath[str]) -> dict[str, Any]:
        _execution(runtime, execution_id)
        runtime.restart_execution(execution_id)
        return execution_json(_execution(runtime, execution_id))

    @post("/{execution_id:str}/replay", status_code=200, summary="A new execution replaying this one from a task run")
    async def replay(
        self,
        runtime: NamedDependency[Runtime],
        execution_id: FromPath[str],
        task_run_id: Annotated[str | None, QueryParameter(name="taskRunId")] = None,
        revision: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None,
    ) -> dict[str, Any]:
        _execution(runtime, execution_id)
        return execution_json(runtime.replay_execution(execution_id, task_run_id, revision=revision))

    @post("/{execution_id:str}/resume", status_code=200, summary="Resume a paused execution with its onResume inputs")
    async def resume(self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime], execution_id: FromPath[str]) -> dict[str, Any]:
        _execution(runtime, execution_id)
        user = getattr(request.user, "name", None)
        runtime.resume_execution(execution_id, await request_inputs(request), by=user)
        return {"id": execution_id, "state": "RUNNING"}

    @get("/{execution_id:str}/follow", summary="Follow an execution live (Server-Sent Events, until it ends)")
    async def follow(self, runtime: NamedDependency[Runtime], closing: NamedDependency[asyncio.Event], execution_id: FromPath[str]) -> ServerSentEvent:
        _execution(runtime, execution_id)

        async def events() -> AsyncIterator[ServerSentEventMessage]:
            last_version = -1
            while True:
                ex = runtime.get_execution(execution_id)
                if ex is None:
                    return
                if ex.version != last_version:
                    last_version = ex.version
                    yield ServerSentEventMessage(data=json.dumps(execution_json(ex)), event="execution", id=ex.version)
                if ex.state.current.is_terminated or await _closing(closing):
                    return

        return ServerSentEvent(events())


class LogsController(Controller):
    path = "/api/v1/logs"
    tags = ["Logs"]

    @get("/{execution_id:str}", summary="Logs of an execution")
    async def logs(
        self,
        runtime: NamedDependency[Runtime],
        execution_id: FromPath[str],
        min_level: Annotated[str | None, QueryParameter(name="minLevel")] = None,
        task_run_id: Annotated[str | None, QueryParameter(name="taskRunId")] = None,
    ) -> list[dict[str, Any]]:
        _execution(runtime, execution_id)
        return [_log_json(e) for e in _find_logs(runtime, execution_id, task_run_id, min_level)]

    @get("/{execution_id:str}/download", summary="Logs of an execution as text")
    async def download(self, runtime: NamedDependency[Runtime], execution_id: FromPath[str], min_level: Annotated[str | None, QueryParameter(name="minLevel")] = None) -> Response[str]:
        _execution(runtime, execution_id)
        lines = [f"{e['timestamp'].isoformat()} {e['level']:<5} {e.get('task_id') or '-'} {e['message']}\n" for e in _find_logs(runtime, execution_id, None, min_level)]
        return Response("".join(lines), media_type="text/plain", headers={"Content-Disposition": f'attachment; filename="{execution_id}.log"'})

    @get("/{execution_id:str}/follow", summary="Follow the logs of an execution live (Server-Sent Events, until it ends)")
    async def follow(self, runtime: NamedDependency[Runtime], closing: NamedDependency[asyncio.Event], execution_id: FromPath[str]) -> ServerSentEvent:
        _execution(runtime, execution_id)

        async def events() -> AsyncIterator[ServerSentEventMessage]:
            after: int | None = None
            while True:
                ex = runtime.get_execution(execution_id)
                ended = ex is None or ex.state.current.is_terminated
                runtime.flush_logs()
                for entry in runtime.db.logs.find(execution_id, after_id=after):
                    after = entry["id"]
                    yield ServerSentEventMessage(data=json.dumps(_log_json(entry)), event="log", id=entry["id"])
                if ended or await _closing(closing):
                    return

        return ServerSentEvent(events())


def _find_logs(runtime: Runtime, execution_id: str, task_run_id: str | None, min_level: str | None) -> list[dict[str, Any]]:
    runtime.flush_logs()
    try:
        return runtime.db.logs.find(execution_id, task_run_id=task_run_id, min_level=min_level)
    except Exception as exc:
        from tercel.store import StoreError

        if isinstance(exc, StoreError | ValueError):
            raise ApiError(str(exc)) from None
        raise


def _log_json(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": entry.get("id"),
        "executionId": entry.get("execution_id"),
        "taskRunId": entry.get("task_run_id"),
        "taskId": entry.get("task_id"),
        "attemptNumber": entry.get("attempt"),
        "level": entry.get("level"),
        "timestamp": to_json_ready(entry.get("timestamp")),
        "message": entry.get("message"),
    }
