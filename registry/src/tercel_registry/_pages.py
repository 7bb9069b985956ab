"""The human pages: the plugin list with search, a plugin's page, a type's page, and the nightly
results (the runs, a run with what broke and was fixed, one result's tests, a plugin's history).

Server-rendered Jinja2 (autoescaped), plain HTML with a little CSS and no script. They read the
same documents as the JSON API. Every link is relative to the page (`root` is the way back to
the registry's root), so the pages work wherever the registry is mounted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape

from ._catalog import FileUrl
from ._errors import NotFound
from ._names import canonical_name
from ._nightly_docs import NOT_RUN
from ._nightly_input import STATUSES
from ._registry import Registry

__all__ = ["Pages", "schema_label", "web_url"]

PAGE_SIZE = 20  # nights (or runs) a nightly page lists
TESTS_SHOWN = 2_000  # tests (and failures) a result's page lists; the JSON API has them all


def schema_label(schema: Any) -> str:
    """A JSON Schema's type as a reader wants it: `string`, `integer | string`, `array of Task`."""
    if not isinstance(schema, Mapping):
        return "any"
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            labels = []
            for option in schema[key]:
                label = schema_label(option)
                if label not in labels:
                    labels.append(label)
            return " | ".join(labels)
    if isinstance(schema.get("enum"), list):
        return " | ".join(json.dumps(v) for v in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(str(k) for k in kind)
    if kind == "array":
        return f"array of {schema_label(schema.get('items'))}" if schema.get("items") else "array"
    if kind == "object" and isinstance(schema.get("additionalProperties"), Mapping):
        return f"map of {schema_label(schema['additionalProperties'])}"
    if kind and schema.get("format"):
        return f"{kind} ({schema['format']})"
    return str(kind or "any")


def web_url(value: Any) -> str | None:
    """A URL from a release's metadata, if it is one a link may point to (http or https: never
    `javascript:`, which an uploader could write there)."""
    text = str(value or "").strip()
    return text if urlsplit(text).scheme.lower() in ("http", "https") else None


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    if value < 60:
        return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _environment(env: Mapping[str, Any] | None) -> str:
    """`Python 3.11.7, SDK 0.1.0, core 0.1.0` (and the platform, when known)."""
    env = env or {}
    parts = [f"{label} {env[key]}" for key, label in (("python", "Python"), ("sdk", "SDK"), ("core", "core")) if env.get(key)]
    if env.get("platform"):
        parts.append(str(env["platform"]))
    return ", ".join(parts)


def _counts(counts: Mapping[str, int] | None) -> str:
    counts = counts or {}
    return ", ".join(f"{counts.get(k, 0)} {k}" for k in ("passed", "failed", "errors", "skipped"))


def _pager(page: int, pages: int, query: Mapping[str, str | None]) -> tuple[str | None, str | None]:
    """The previous and next pages' links (relative to the page)."""
    kept = {k: v for k, v in query.items() if v}

    def link(number: int) -> str:
        return "./?" + urlencode({**kept, "page": number})

    return (link(page - 1) if page > 1 else None), (link(page + 1) if page < pages else None)


def _size(value: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024  # type: ignore[assignment]
    return str(value)


class Pages:
    """Renders the pages from a registry's catalog documents."""

    def __init__(self) -> None:
        self.env = Environment(
            loader=PackageLoader("tercel_registry", "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["schema_label"] = schema_label
        self.env.filters["tojson_pretty"] = _json
        self.env.filters["filesize"] = _size
        self.env.filters["day"] = lambda text: (text or "")[:10]
        self.env.filters["web_url"] = web_url
        self.env.filters["seconds"] = _seconds
        self.env.filters["environment"] = _environment
        self.env.filters["counts"] = _counts
        self.env.filters["moment"] = lambda text: (text or "").replace("T", " ")[:16] + (" UTC" if text else "")
        self.env.filters["status_class"] = lambda status: "status-" + str(status or NOT_RUN).replace(" ", "-")

    def _render(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(**context)

    def home(self, registry: Registry, *, q: str | None, type_name: str | None, keyword: str | None, page: int) -> str:
        found = registry.search(q, type_name=type_name, keyword=keyword, page=page, size=20)
        pages = max(1, -(-found["total"] // found["size"]))

        def link(number: int) -> str:
            query = {k: v for k, v in (("q", q), ("type", type_name), ("keyword", keyword)) if v}
            return "./?" + urlencode({**query, "page": number})

        return self._render(
            "index.html", root="./", q=q or "", type_name=type_name, keyword=keyword, found=found,
            pages=pages, previous=link(page - 1) if page > 1 else None,
            next=link(page + 1) if page < pages else None,
        )

    def plugin(self, registry: Registry, name: str, version: str | None, *, file_url: FileUrl, base: str) -> str:
        plugin = registry.plugin(name)
        chosen = version or plugin["latestVersion"] or (plugin["versions"][0]["version"] if plugin["versions"] else None)
        if chosen is None:
            raise NotFound(f"{plugin['name']} has no version in this registry")
        detail = registry.plugin_version(name, chosen, file_url)
        return self._render("plugin.html", root="../../", q="", plugin=plugin, release=detail, base=base)

    def type_page(self, registry: Registry, type_name: str, plugin: str | None, version: str | None, *, file_url: FileUrl) -> str:
        providers = registry.type_providers(type_name)
        entries = providers["plugins"]
        provider = next((p for p in entries if p["name"] == canonical_name(plugin)), None) if plugin else entries[0]
        if provider is None:
            raise NotFound(f"the plugin {plugin!r} does not provide the type {type_name!r}")
        offered = [v["version"] for v in provider["versions"]]
        if version is not None and version not in offered:
            raise NotFound(f"version {version} of {provider['name']} does not provide the type {type_name!r} (versions that do: {', '.join(offered)})")
        chosen = version or (
            provider["latestVersion"] if provider["latestVersion"] in offered
            else next((v["version"] for v in provider["versions"] if not v["yanked"]), offered[0])
        )
        detail = registry.plugin_version(provider["name"], chosen, file_url)
        doc = next((t for t in detail["types"] if t["type"] == type_name or type_name in t["aliases"]), None)
        if doc is None:
            raise NotFound(f"{provider['name']} {chosen} does not describe the type {type_name!r}")
        return self._render(
            "type.html", root="../../", q="", type_name=type_name, providers=entries, provider=provider,
            version=chosen, release=detail, doc=doc, required=_required(doc),
        )

    # -- nightly --------------------------------------------------------------------------------

    def nightly_runs(self, registry: Registry, *, page: int) -> str:
        found = registry.nightly.runs(page=page, size=PAGE_SIZE)
        pages = max(1, -(-found["total"] // PAGE_SIZE))
        newer, older = _pager(page, pages, {})
        return self._render(
            "nightly_runs.html", root="../", q="", found=found, statuses=STATUSES, pages=pages, previous=newer, next=older,
        )

    def nightly_run(self, registry: Registry, night: str) -> str:
        return self._render("nightly_run.html", root="../../", q="", run=registry.nightly.run(night), statuses=STATUSES)

    def nightly_result(self, registry: Registry, night: str, plugin: str, version: str) -> str:
        found = registry.nightly.results(night, plugin=plugin, version=version, page=1, size=100)
        if not found["results"]:
            raise NotFound(f"no result of {found['plugin']} {found['version']} on {found['night']}")
        return self._render("nightly_result.html", root="../../../../", q="", found=found, limit=TESTS_SHOWN)

    def plugin_nightly(self, registry: Registry, name: str, version: str | None, *, page: int, base: str) -> str:
        history = registry.nightly.history(name, version=version or None, page=page, size=PAGE_SIZE)
        pages = max(1, -(-history["total"] // PAGE_SIZE))
        newer, older = _pager(page, pages, {"version": version})
        return self._render(
            "plugin_nightly.html", root="../../../", q="", history=history, plugin=registry.plugin(name), base=base,
            pages=pages, previous=newer, next=older,
        )


def _required(doc: Mapping[str, Any]) -> Callable[[str], bool]:
    required = set((doc.get("schema") or {}).get("required") or ())
    return lambda name: name in required or bool((doc["properties"].get(name) or {}).get("required"))
