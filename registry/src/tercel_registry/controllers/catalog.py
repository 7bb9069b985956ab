"""`/api/v1/…`: the catalog (search, plugins, versions with their types' docs, type providers)
and yanking. Reading needs no token; yanking needs one scoped to the project."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from .._errors import BadRequest
from .._registry import Registry
from .._store import ReleaseRecord
from .._urls import Urls

__all__ = ["CatalogController"]


def _release_json(release: ReleaseRecord) -> dict[str, Any]:
    return {"version": release.version, "yanked": release.yanked, "yankedReason": release.yanked_reason}


async def _reason(request: Request[Any, Any, Any]) -> str | None:
    """The optional `{"reason": "…"}` body of a yank."""
    body = await request.body()
    if not body.strip():
        return None
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("reason"), str | None):
        raise BadRequest('the body must be a JSON object like {"reason": "why it is yanked"}')
    return data.get("reason")


class CatalogController(Controller):
    path = "/api/v1"
    opt = {"errors": "json"}
    tags = ["Catalog"]

    @get("/health", summary="Whether the registry answers")
    async def health(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/plugins", sync_to_thread=True, summary="Search the plugins (every word must match), ranked, paginated")
    def search(
        self,
        registry: NamedDependency[Registry],
        q: Annotated[str | None, QueryParameter(description="words to find in names, summaries, keywords, type names and titles")] = None,
        type_name: Annotated[str | None, QueryParameter(name="type", description="only plugins whose latest version provides this type")] = None,
        keyword: Annotated[str | None, QueryParameter(description="only plugins with this keyword")] = None,
        page: Annotated[int, QueryParameter(ge=1)] = 1,
        size: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    ) -> dict[str, Any]:
        return registry.search(q, type_name=type_name, keyword=keyword, page=page, size=size)

    @get("/plugins/{name:str}", sync_to_thread=True, summary="A plugin: its latest metadata and every version")
    def plugin(self, registry: NamedDependency[Registry], name: FromPath[str]) -> dict[str, Any]:
        return registry.plugin(name)

    @get("/plugins/{name:str}/versions/{version:str}", sync_to_thread=True,
         summary="A version: its files and hashes, requirements, and its types' docs and JSON Schemas")
    def version(
        self, request: Request[Any, Any, Any], registry: NamedDependency[Registry], urls: NamedDependency[Urls],
        name: FromPath[str], version: FromPath[str],
    ) -> dict[str, Any]:
        return registry.plugin_version(name, version, lambda f: urls.absolute_file(request, f))

    @get("/types/{type_name:str}", sync_to_thread=True, summary="Which plugins and versions provide a type")
    def type_providers(self, registry: NamedDependency[Registry], type_name: FromPath[str]) -> dict[str, Any]:
        return registry.type_providers(type_name)

    @post("/projects/{name:str}/versions/{version:str}/yank", status_code=200,
          summary='Yank a version (PEP 592): body {"reason": "…"}; needs a token scoped to the project')
    async def yank(
        self, request: Request[Any, Any, Any], registry: NamedDependency[Registry], name: FromPath[str], version: FromPath[str],
    ) -> dict[str, Any]:
        reason = await _reason(request)
        authorization = request.headers.get("authorization")
        return _release_json(await asyncio.to_thread(registry.yank, authorization, name, version, reason))

    @post("/projects/{name:str}/versions/{version:str}/unyank", status_code=200,
          summary="Un-yank a version; needs a token scoped to the project")
    async def unyank(
        self, request: Request[Any, Any, Any], registry: NamedDependency[Registry], name: FromPath[str], version: FromPath[str],
    ) -> dict[str, Any]:
        authorization = request.headers.get("authorization")
        return _release_json(await asyncio.to_thread(registry.yank, authorization, name, version, None, yanked=False))
