"""`/api/v1/nightly/…` and `/api/v1/plugins/<name>/nightly`: the nightly runs' results.

`tercel nightly run` PUTs the night's run, POSTs one result per (plugin, version, environment)
and PATCHes the run when it is done, with a token whose scopes include `nightly`; the token is
checked before the body is read. Reading is public. Bodies may be large (a full test list), so
these routes have their own body limit instead of the upload's.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from litestar import Controller, MediaType, Request, Response, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from .._nightly_input import MAX_BODY
from .._registry import Registry

__all__ = ["NightlyController"]

Page = Annotated[int, QueryParameter(ge=1)]
Size = Annotated[int, QueryParameter(ge=1, le=100)]
Text = Annotated[str | None, QueryParameter()]


async def _posted(request: Request[Any, Any, Any], registry: Registry) -> tuple[Any, bytes]:
    """The posting token (401/403 before the body is read), then the body."""
    token = await asyncio.to_thread(registry.nightly.authorize, request.headers.get("authorization"))
    return token, await request.body()


class NightlyController(Controller):
    path = "/api/v1"
    opt = {"errors": "json"}
    tags = ["Nightly"]
    request_max_body_size = MAX_BODY

    @put("/nightly/runs/{night:str}", summary="Create the run of a night (YYYY-MM-DD), or find it again; needs a `nightly` token")
    async def put_run(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry], night: FromPath[str]) -> Response[Any]:
        token, body = await _posted(request, registry)
        doc, created = await asyncio.to_thread(registry.nightly.put_run, token, night, body)
        return Response(doc, status_code=201 if created else 200, media_type=MediaType.JSON)

    @patch("/nightly/runs/{night:str}", status_code=200, summary='Mark a run finished: {"finishedAt": iso}; needs a `nightly` token')
    async def finish_run(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry], night: FromPath[str]) -> dict[str, Any]:
        token, body = await _posted(request, registry)
        return await asyncio.to_thread(registry.nightly.finish_run, token, night, body)

    @post("/nightly/runs/{night:str}/results", status_code=201,
          summary="Record one (plugin, version, environment) result of a night, once; needs a `nightly` token")
    async def add_result(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry], night: FromPath[str]) -> dict[str, Any]:
        token, body = await _posted(request, registry)
        return await asyncio.to_thread(registry.nightly.add_result, token, night, body)

    @get("/nightly/runs", sync_to_thread=True, summary="The runs, newest first, with their counts per status")
    def runs(self, registry: NamedDependency[Registry], page: Page = 1, size: Size = 20) -> dict[str, Any]:
        return registry.nightly.runs(page=page, size=size)

    @get("/nightly/runs/{night:str}", sync_to_thread=True,
         summary="A run, its results (without tests) and what broke and was fixed since the previous night")
    def run(self, registry: NamedDependency[Registry], night: FromPath[str]) -> dict[str, Any]:
        return registry.nightly.run(night)

    @get("/nightly/runs/{night:str}/results", sync_to_thread=True,
         summary="A run's results with their tests and log tails (details=false: without), of a plugin or a version")
    def results(
        self, registry: NamedDependency[Registry], night: FromPath[str], plugin: Text = None, version: Text = None,
        page: Page = 1, size: Size = 20, details: Annotated[bool, QueryParameter()] = True,
    ) -> dict[str, Any]:
        return registry.nightly.results(night, plugin=plugin, version=version, page=page, size=size, details=details)

    @get("/plugins/{name:str}/nightly", sync_to_thread=True,
         summary="A plugin's nightly history: per night (newest first, paginated), each version's status and counts")
    def history(
        self, registry: NamedDependency[Registry], name: FromPath[str], version: Text = None, page: Page = 1, size: Size = 20,
    ) -> dict[str, Any]:
        return registry.nightly.history(name, version=version, page=page, size=size)
