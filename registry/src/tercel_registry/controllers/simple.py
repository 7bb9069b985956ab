"""`/simple/`: the package index pip and uv read (PEP 503 HTML, PEP 691 JSON, negotiated).

Every answer varies on `Accept` and says so. A project URL that is not the normalized name (or
lacks its trailing slash) is moved permanently to the one that is; a name this registry does not
have is a 404: the registry never sends a client to another index.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect

from .._names import canonical_name
from .._negotiation import JSON_V1, TEXT_HTML, choose_format
from .._registry import Registry
from .._simple import index_html, index_json, project_html, project_json
from .._urls import Urls, request_path

__all__ = ["SimpleController"]

VARY = {"Vary": "Accept"}
Format = Annotated[str | None, QueryParameter(description="a content type, instead of the Accept header (PEP 691)")]


def _answer(content_type: str, html: bytes | None, json: bytes | None) -> Response[bytes]:
    body = json if content_type == JSON_V1 else html
    media = "text/html" if content_type == TEXT_HTML else content_type  # Litestar adds the charset
    return Response(body or b"", media_type=media, headers=VARY)


def _moved(request: Request[Any, Any, Any], path: str) -> Redirect:
    query = request.url.query
    return Redirect(path + (f"?{query}" if query else ""), status_code=301, headers=VARY)


class SimpleController(Controller):
    path = "/simple"
    opt = {"errors": "text"}
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def index(self, request: Request[Any, Any, Any], registry: NamedDependency[Registry], format: Format = None) -> Response[Any]:
        path = request_path(request)
        if not path.endswith("/"):
            return _moved(request, path + "/")
        content_type = choose_format(request.headers.get("accept"), format)
        projects = registry.project_names()
        if content_type == JSON_V1:
            return _answer(content_type, None, index_json(projects))
        return _answer(content_type, index_html(projects), None)

    @get("/{project:str}", sync_to_thread=True)
    def project(
        self, request: Request[Any, Any, Any], registry: NamedDependency[Registry], urls: NamedDependency[Urls],
        project: FromPath[str], format: Format = None,
    ) -> Response[Any]:
        name = canonical_name(project)
        path = request_path(request)
        if name != project or not path.endswith("/"):
            base = path.rstrip("/").rsplit("/", 1)[0] + "/"  # the `/simple/` this request came to
            return _moved(request, base + quote(name) + "/")
        content_type = choose_format(request.headers.get("accept"), format)
        found, versions, files = registry.project_index(name)
        if content_type == JSON_V1:
            return _answer(content_type, None, project_json(found.name, versions, files, urls.index_file))
        return _answer(content_type, project_html(found.name, files, urls.index_file), None)
