"""`/api/v1/plugins`: the installed plugins, their types' documentation and JSON Schemas, and the
flow JSON Schema for editors (what `tercel plugins schema` prints). All from manifests: listing
or documenting never imports a plugin.

`/api/v1/plugins/versions` is what `tercel plugins install | uninstall | list --plugins` do, for
the instance's administrators (the API's account and tokens): each version in an environment of
its own (DESIGN §6). `/api/v1/plugins/locks` lists saved flows locked to a version now missing.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import weakref
from pathlib import Path
from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath
from tercel.plugins import PluginManager, TypeInfo, UnknownType
from tercel.runtime import Runtime

from .._errors import ApiError, NotFound
from .._plugin_docs import plugin_json, type_doc
from .._requests import parse_json, read_form

__all__ = ["PluginsController"]

_SCHEMA_KINDS = ("flow",)
_flow_schemas: weakref.WeakKeyDictionary[PluginManager, tuple[int, dict[str, Any]]] = weakref.WeakKeyDictionary()


def _type(runtime: Runtime, name: str) -> TypeInfo:
    try:
        return runtime.plugins.get_type(name)
    except UnknownType as exc:
        details = [{"message": f"did you mean {s!r}?", "suggestion": s} for s in exc.suggestions]
        raise NotFound(f"{exc} (GET /api/v1/plugins lists the installed types)", details) from None


def flow_schema(plugins: PluginManager) -> dict[str, Any]:
    """The flow JSON Schema of these plugins (built once, again only if types were added)."""
    from tercel.schema import flow_json_schema

    cached = _flow_schemas.get(plugins)
    if cached is None or cached[0] != len(plugins.types):
        cached = (len(plugins.types), flow_json_schema(plugins))
        _flow_schemas[plugins] = cached
    return cached[1]


class PluginsController(Controller):
    path = "/api/v1/plugins"
    tags = ["Plugins"]

    @get("/", summary="The installed plugin distributions, with their types")
    async def list_plugins(self, runtime: NamedDependency[Runtime]) -> list[dict[str, Any]]:
        plugins = runtime.plugins
        return [
            plugin_json(
                info.distribution, info.version, info.module, (info.manifest or {}).get("types", ()),
                error=info.error, builtin=info.builtin, hooks=info.hooks,
            )
            for info in sorted(plugins.plugins.values(), key=lambda i: i.distribution)
        ]

    @get("/versions", summary="Every installed plugin version: where it is installed and how it runs")
    async def list_versions(self, runtime: NamedDependency[Runtime]) -> list[dict[str, Any]]:
        plugins = runtime.plugins
        await asyncio.to_thread(plugins.refresh_environments, force=True)
        return [info.to_json() for info in plugins.installed_versions()]

    @post("/versions", summary="Install a plugin version (a requirement from an index, or an uploaded wheel)", status_code=201)
    async def install(self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> Response[dict[str, Any]]:
        """JSON `{"requirement": "tercel-plugin-x==1.2.0", "indexUrl": …, "extraIndexUrls": […]}`, or a
        multipart form whose `wheel` part is a `.whl` file (fields `indexUrl`, `extraIndexUrls` say
        where its dependencies come from besides the default index). Answers 201 when installed, 200 when
        that exact version was already there."""
        from tercel.plugins import PluginEnvironments

        kind = request.headers.get("content-type", "")
        with tempfile.TemporaryDirectory(prefix="tercel-upload-") as tmp:
            if kind.startswith("multipart/form-data"):
                form = await read_form(request)
                upload = form.get("wheel")
                if not isinstance(upload, UploadFile):
                    raise ApiError("send the wheel as the multipart part `wheel` (a file)")
                name = Path(upload.filename or "").name
                if not _WHEEL_NAME.match(name):
                    raise ApiError(f"{upload.filename!r} is not a wheel file name (name-version-python-abi-platform.whl)")
                path = Path(tmp) / name
                path.write_bytes(await upload.read())
                fields = {"requirement": name, "indexUrl": form.get("indexUrl") or None,
                          "extraIndexUrls": [u for u in form.getall("extraIndexUrls", []) if u]}
                options: dict[str, Any] = {**_install_options(fields, upload=True), "requirement": str(path)}
            else:
                body = parse_json(await request.body())
                options = _install_options(body)
            envs = PluginEnvironments(runtime.settings.plugins_dir)
            result = await asyncio.to_thread(envs.install, **options)
        await asyncio.to_thread(runtime.plugins.refresh_environments, force=True)
        return Response({**result.environment.to_json(), "created": result.created}, status_code=201 if result.created else 200)

    @delete("/versions/{distribution:str}/{version:str}", summary="Uninstall a plugin version; lists the flows it leaves with a broken lock", status_code=200)
    async def uninstall(self, runtime: NamedDependency[Runtime], distribution: FromPath[str], version: FromPath[str]) -> dict[str, Any]:
        from tercel.flows import broken_locks
        from tercel.plugins import PluginEnvironments

        envs = PluginEnvironments(runtime.settings.plugins_dir)
        name = distribution.strip().lower().replace("_", "-")
        if envs.get(name, version) is None:
            installed = sorted(e.version for e in envs.list() if e.distribution == name)
            raise NotFound(
                f"{name} {version} is not installed in an environment of its own"
                + (f" (installed: {', '.join(installed)})" if installed else "")
            )
        env = await asyncio.to_thread(envs.uninstall, name, version)
        await asyncio.to_thread(runtime.plugins.refresh_environments, force=True)
        broken = await asyncio.to_thread(lambda: broken_locks(runtime.db.flows.list(), runtime.plugins))
        return {"uninstalled": env.to_json(), "brokenLocks": [b.to_dict() for b in broken]}

    @get("/locks", summary="Saved flows whose plugin lock names a version that is not installed")
    async def broken(self, runtime: NamedDependency[Runtime]) -> list[dict[str, Any]]:
        from tercel.flows import broken_locks

        return [b.to_dict() for b in await asyncio.to_thread(lambda: broken_locks(runtime.db.flows.list(), runtime.plugins))]

    @get("/schemas/{kind:str}", summary="The JSON Schema of a flow (kind `flow`), for editors")
    async def schema_of_kind(self, runtime: NamedDependency[Runtime], kind: FromPath[str]) -> dict[str, Any]:
        if kind.lower() not in _SCHEMA_KINDS:
            raise NotFound(f"no JSON Schema for {kind!r}: the kinds served are {', '.join(_SCHEMA_KINDS)}; a type's own schema is at /api/v1/plugins/<type>/schema")
        return flow_schema(runtime.plugins)

    @get("/{type_name:str}", summary="One type's documentation (a type name or one of its aliases)")
    async def type_documentation(self, runtime: NamedDependency[Runtime], type_name: FromPath[str]) -> dict[str, Any]:
        info = _type(runtime, type_name)
        return type_doc(info.entry, info.distribution, info.version)

    @get("/{type_name:str}/schema", summary="One type's JSON Schema (its properties)")
    async def type_schema(self, runtime: NamedDependency[Runtime], type_name: FromPath[str]) -> dict[str, Any]:
        return dict(_type(runtime, type_name).entry.get("schema") or {})


_WHEEL_NAME = re.compile(r"^[A-Za-z0-9_.]+-[A-Za-z0-9_.!+]+(-[0-9][A-Za-z0-9_.]*)?-[A-Za-z0-9_.]+-[A-Za-z0-9_.]+-[A-Za-z0-9_.]+\.whl$")
_REQUIREMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]*\])?\s*([<>=!~]=?|===)?[^;/\\]*$")


def _install_options(body: Any, *, upload: bool = False) -> dict[str, Any]:
    """What a JSON install request may say: a requirement (never a path of the server's disk:
    upload a wheel instead) and the indexes to search."""
    if not isinstance(body, dict):
        raise ApiError('send {"requirement": "tercel-plugin-x==1.2.0"} (and optionally indexUrl, extraIndexUrls)')
    unknown = sorted(set(body) - {"requirement", "indexUrl", "extraIndexUrls"})
    if unknown:
        raise ApiError(f"unknown field(s) {', '.join(unknown)}: the fields are requirement, indexUrl, extraIndexUrls")
    requirement = body.get("requirement")
    if not isinstance(requirement, str) or not requirement.strip():
        raise ApiError("`requirement` must be a requirement such as 'tercel-plugin-x==1.2.0'")
    if not upload and (
        not _REQUIREMENT.match(requirement.strip()) or requirement.strip().lower().endswith((".whl", ".zip", ".tar.gz"))
    ):
        raise ApiError(
            f"`requirement` {requirement!r} is not a requirement: paths and URLs of the server's machine cannot be "
            "installed through the API (upload the wheel as the multipart part `wheel`)"
        )
    index = body.get("indexUrl")
    extra = body.get("extraIndexUrls") or []
    for url in [index, *extra] if isinstance(extra, list) else [index, extra]:
        if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
            raise ApiError(f"index URLs must be http(s) URLs, got {url!r}")
    if not isinstance(extra, list):
        raise ApiError("`extraIndexUrls` must be a list of URLs")
    return {"requirement": requirement.strip(), "index_url": index, "extra_index_urls": list(extra)}
