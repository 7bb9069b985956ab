"""`/api/v1/namespaces/{namespace}/kv`: the KV store of a namespace, as Kestra's API serves it.

* `GET .../kv`: the live keys with their type and dates (`expirationDate` when they have a TTL).
* `GET .../kv/{key}`: `{"type": "STRING", "value": "..."}` (Kestra's typed value).
* `PUT .../kv/{key}`: the body is the value. `application/json`: a JSON value (`"text"`, `42`,
  `{"a": 1}`...). `text/plain` (or no content type): JSON if it parses as JSON, else an ISO date
  (`2024-01-31` → DATE), a date-time with its offset (`2024-01-31T10:00:00Z` → DATETIME) or a
  duration (`PT5M` → DURATION), else the text itself (send `"PT5M"` as JSON to keep a string).
  The time to live is Kestra's `ttl` header (an ISO 8601 duration), or a `ttl` query parameter.
* `DELETE .../kv/{key}`: `true` (404 when there is no such key), and `DELETE .../kv` with
  `{"keys": [...]}` deletes several, answering `{"keys": [the ones deleted]}` (Kestra's bulk delete).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, QueryParameter
from tercel.kv import KEY_PATTERN, MAX_KEY_LENGTH, KVError
from tercel.runtime import Runtime, to_json_ready

from .._errors import ApiError, NotFound
from .._kv_values import BadValue, parse_ttl, parse_value

__all__ = ["KVController"]


class InvalidKV(ApiError):
    status_code = 422


def _kv_errors(exc: KVError) -> ApiError:
    return InvalidKV(str(exc))


class KVController(Controller):
    path = "/api/v1/namespaces/{namespace:str}/kv"
    tags = ["KV"]

    @get("/", summary="The live keys of a namespace, with their type and dates")
    async def list_keys(
        self,
        runtime: NamedDependency[Runtime],
        namespace: FromPath[str],
        prefix: Annotated[str | None, QueryParameter(description="Only keys starting with this")] = None,
    ) -> list[dict[str, Any]]:
        try:
            return [e.to_dict() for e in runtime.kv.list(namespace, prefix)]
        except KVError as exc:
            raise _kv_errors(exc) from None

    @get("/{key:str}", summary="The value of a key: {type, value}")
    async def get_value(self, runtime: NamedDependency[Runtime], namespace: FromPath[str], key: FromPath[str]) -> dict[str, Any]:
        try:
            entry = runtime.kv.get_entry(namespace, key)
        except KVError as exc:
            raise _kv_errors(exc) from None
        if entry is None:
            raise NotFound(f"no value for key {key!r} in namespace {namespace!r} (never set, deleted or expired)")
        return {"type": entry.type, "value": to_json_ready(entry.value)}

    @put("/{key:str}", summary="Set a key (the body is the value; `ttl` header or query: an ISO 8601 duration)")
    async def put_value(
        self,
        request: Request[Any, Any, Any],
        runtime: NamedDependency[Runtime],
        namespace: FromPath[str],
        key: FromPath[str],
        ttl_header: Annotated[str | None, HeaderParameter(name="ttl", required=False)] = None,
        ttl_query: Annotated[str | None, QueryParameter(name="ttl")] = None,
    ) -> dict[str, Any]:
        if ttl_header is not None and ttl_query is not None and ttl_header != ttl_query:
            raise ApiError(f"two different TTLs: header {ttl_header!r} and query {ttl_query!r}; send one")
        try:
            ttl = parse_ttl(ttl_header if ttl_header is not None else ttl_query)
            value = parse_value(await request.body(), request.headers.get("content-type") or "")
        except BadValue as exc:
            raise ApiError(str(exc)) from None
        try:
            entry = runtime.kv.set(namespace, key, value, ttl=ttl)
        except KVError as exc:
            raise _kv_errors(exc) from None
        return entry.to_dict()

    @delete("/{key:str}", status_code=200, summary="Delete a key: true, or 404 when there is none")
    async def delete_value(self, runtime: NamedDependency[Runtime], namespace: FromPath[str], key: FromPath[str]) -> bool:
        try:
            deleted = runtime.kv.delete(namespace, key)
        except KVError as exc:
            raise _kv_errors(exc) from None
        if not deleted:
            raise NotFound(f"no value for key {key!r} in namespace {namespace!r}")
        return True

    @delete("/", status_code=200, summary="Delete several keys: {\"keys\": [...]} → the ones deleted")
    async def delete_values(self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime], namespace: FromPath[str]) -> dict[str, list[str]]:
        try:
            body = json.loads(await request.body() or b"null")
        except (ValueError, RecursionError) as exc:
            raise ApiError(f"the body is not valid JSON: {exc}") from None
        keys = body.get("keys") if isinstance(body, dict) else None
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise ApiError('send the keys to delete as {"keys": ["key1", "key2"]}')
        bad = [k for k in keys if not KEY_PATTERN.fullmatch(k) or len(k) > MAX_KEY_LENGTH]
        if bad:  # checked first: nothing is deleted when one key is wrong
            raise InvalidKV(
                f"invalid KV keys {bad[:5]!r}: use letters, digits, '.', '_' and '-', starting with a letter or digit"
            )
        deleted = []
        try:
            for key in keys:
                if runtime.kv.delete(namespace, key):
                    deleted.append(key)
        except KVError as exc:
            raise _kv_errors(exc) from None
        return {"keys": deleted}
