"""`/api/v1/plugins`: the installed plugins, their types' documentation and JSON Schemas, and the
flow JSON Schema for editors (what `tercel plugins schema` prints). All from manifests: listing
or documenting never imports a plugin.
"""

from __future__ import annotations

import weakref
from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from tercel.plugins import PluginManager, TypeInfo, UnknownType
from tercel.runtime import Runtime

from .._errors import NotFound
from .._plugin_docs import plugin_json, type_doc

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
