"""`/api/v1/executions/{id}/file(s)` and `/labels`: an execution's files and its labels.

* `GET .../file?path=tercel:///…` downloads one file (Kestra's `kestra:///` URIs too). A URI
  outside the execution's namespace (and its children) is refused with 403, whatever it points at.
* `GET .../file/metas?path=…` is its size (Kestra's shape: `{"size": n}`).
* `GET .../files` lists every file stored under the execution (task outputs and FILE inputs).
* `POST .../labels` replaces the execution's labels, as Kestra's list `[{"key", "value"}]` or an
  object; `system.` labels cannot be sent and the existing ones are kept. As in Kestra, only an
  ended execution's labels change here (a running one's are the executor's to write).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import File
from tercel.engine import Execution
from tercel.errors import TercelError
from tercel.runtime import Runtime
from tercel.storage import FileNotFoundInStorage, StorageError, execution_prefix_uri, split_uri
from tercel.store import ConcurrentModification

from .._errors import ApiError, Conflict, NotFound
from .._execution_files import file_entry
from .._labels import LabelsError, parse_labels, replace_labels
from .._requests import parse_json
from .executions import execution_json

__all__ = ["ExecutionFilesController"]


class Forbidden(ApiError):
    status_code = 403


class InvalidUri(ApiError):
    status_code = 422


def _execution(runtime: Runtime, execution_id: str) -> Execution:
    ex = runtime.get_execution(execution_id)
    if ex is None:
        raise NotFound(f"execution {execution_id} does not exist")
    return ex


def _checked_uri(runtime: Runtime, ex: Execution, uri: str) -> str:
    """The URI, valid and inside the execution's namespace (else 422 / 403)."""
    try:
        split_uri(uri)
    except StorageError as exc:
        raise InvalidUri(str(exc)) from None
    try:
        runtime.check_file_access(ex.namespace, uri)
    except TercelError as exc:
        raise Forbidden(f"execution {ex.id} of namespace {ex.namespace!r} cannot serve {uri!r}: {exc}") from None
    return uri


def _not_found(ex: Execution, uri: str) -> NotFound:
    return NotFound(f"no file {uri} (execution {ex.id})")


class ExecutionFilesController(Controller):
    path = "/api/v1/executions/{execution_id:str}"
    tags = ["Executions"]

    @get("/file", summary="Download a file of an execution (tercel:/// or kestra:/// URI of its namespace)", media_type="application/octet-stream")
    async def download(
        self,
        runtime: NamedDependency[Runtime],
        execution_id: FromPath[str],
        path: Annotated[str, QueryParameter(description="The file's internal-storage URI: tercel:///…")],
    ) -> File:
        ex = _execution(runtime, execution_id)
        uri = _checked_uri(runtime, ex, path)
        try:
            local = runtime.storage.local_path(uri)
        except FileNotFoundInStorage:
            raise _not_found(ex, uri) from None
        return File(local, filename=split_uri(uri)[-1], media_type="application/octet-stream")

    @get("/file/metas", summary="The size of a file of an execution")
    async def metas(
        self,
        runtime: NamedDependency[Runtime],
        execution_id: FromPath[str],
        path: Annotated[str, QueryParameter(description="The file's internal-storage URI: tercel:///…")],
    ) -> dict[str, int]:
        ex = _execution(runtime, execution_id)
        uri = _checked_uri(runtime, ex, path)
        try:
            return {"size": runtime.storage.size(uri)}
        except FileNotFoundInStorage:
            raise _not_found(ex, uri) from None

    @get("/files", summary="Every file stored for an execution (task outputs, FILE inputs)")
    async def files(self, runtime: NamedDependency[Runtime], execution_id: FromPath[str]) -> list[dict[str, Any]]:
        ex = _execution(runtime, execution_id)
        prefix = execution_prefix_uri(ex.namespace, ex.flow_id, ex.id)
        return [file_entry(prefix, info) for info in runtime.storage.list(prefix)]

    @post("/labels", status_code=200, summary="Replace the labels of an ended execution (system. ones kept)")
    async def set_labels(self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime], execution_id: FromPath[str]) -> dict[str, Any]:
        _execution(runtime, execution_id)
        body = parse_json(await request.body() or b"null")
        try:
            labels = parse_labels(body)
        except LabelsError as exc:
            raise ApiError(str(exc)) from None
        _store_labels(runtime, execution_id, labels)
        return execution_json(_execution(runtime, execution_id))


def _store_labels(runtime: Runtime, execution_id: str, labels: dict[str, str]) -> None:
    try:
        found = runtime.change_labels(execution_id, lambda current: replace_labels(current, labels))
    except ConcurrentModification:
        raise Conflict(f"execution {execution_id} changed while its labels were written: send them again") from None
    except TercelError as exc:
        raise ApiError(str(exc)) from None
    if not found:
        raise NotFound(f"execution {execution_id} does not exist")
