"""The human pages: `/` (the plugins, searchable), `/plugins/<name>/`, `/types/<type>/`, and the
nightly results: `/nightly/` (the runs), `/nightly/<night>/` (what broke, what was fixed, every
result), `/nightly/<night>/<plugin>/<version>/` (one result's tests and log) and
`/plugins/<name>/nightly/` (a plugin's history).

Each page's links are relative to it, so a page URL without its trailing slash is redirected to
the one with it (the links would otherwise resolve one level too high).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, MediaType, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect

from .._pages import Pages
from .._registry import Registry
from .._urls import Urls, request_path

__all__ = ["PagesController"]

Text = Annotated[str | None, QueryParameter()]
Page = Annotated[int, QueryParameter(ge=1)]
_pages = Pages()


def _slash(request: Request[Any, Any, Any]) -> Redirect | None:
    path = request_path(request)
    if path.endswith("/"):
        return None
    query = request.url.query
    return Redirect(path + "/" + (f"?{query}" if query else ""), status_code=301)


def _html(text: str) -> Response[str]:
    return Response(text, media_type=MediaType.HTML)


class PagesController(Controller):
    path = "/"
    opt = {"errors": "html"}
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def home(
        self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
        q: Text = None, type_name: Annotated[str | None, QueryParameter(name="type")] = None,
        keyword: Text = None, page: Annotated[int, QueryParameter(ge=1)] = 1,
    ) -> Response[Any]:
        return _slash(request) or _html(_pages.home(registry, q=q, type_name=type_name, keyword=keyword, page=page))

    @get("/plugins/{name:str}", sync_to_thread=True)
    def plugin(
        self, request: Request[Any, Any, Any], registry: NamedDependency[Registry], urls: NamedDependency[Urls],
        name: FromPath[str], version: Text = None,
    ) -> Response[Any]:
        return _slash(request) or _html(
            _pages.plugin(registry, name, version, file_url=urls.index_file, base=urls.base(request))
        )

    @get("/types/{type_name:str}", sync_to_thread=True)
    def type_page(
        self, request: Request[Any, Any, Any], registry: NamedDependency[Registry], urls: NamedDependency[Urls],
        type_name: FromPath[str], plugin: Text = None, version: Text = None,
    ) -> Response[Any]:
        return _slash(request) or _html(_pages.type_page(registry, type_name, plugin, version, file_url=urls.index_file))

    @get("/plugins/{name:str}/nightly", sync_to_thread=True)
    def plugin_nightly(
        self, request: Request[Any, Any, Any], registry: NamedDependency[Registry], urls: NamedDependency[Urls],
        name: FromPath[str], version: Text = None, page: Page = 1,
    ) -> Response[Any]:
        return _slash(request) or _html(_pages.plugin_nightly(registry, name, version, page=page, base=urls.base(request)))

    @get("/nightly", sync_to_thread=True)
    def nightly_runs(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry], page: Page = 1) -> Response[Any]:
        return _slash(request) or _html(_pages.nightly_runs(registry, page=page))

    @get("/nightly/{night:str}", sync_to_thread=True)
    def nightly_run(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry], night: FromPath[str]) -> Response[Any]:
        return _slash(request) or _html(_pages.nightly_run(registry, night))

    @get("/nightly/{night:str}/{plugin:str}/{version:str}", sync_to_thread=True)
    def nightly_result(
        self, request: Request[Any, Any, Any], registry: NamedDependency[Registry],
        night: FromPath[str], plugin: FromPath[str], version: FromPath[str],
    ) -> Response[Any]:
        return _slash(request) or _html(_pages.nightly_result(registry, night, plugin, version))
