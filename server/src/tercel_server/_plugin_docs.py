"""The plugins API's documents, built from manifest entries alone (no plugin is imported).

`plugin_json` describes one installed distribution and its types (what Kestra's `GET
/api/v1/plugins` lists: the type names grouped by kind, `tasks`, `triggers`, ...); `type_doc` is
one type's documentation, with Kestra's `markdown` and `schema` (`properties`, `outputs`,
`definitions`) beside tercel's own fields.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["markdown", "plugin_json", "type_doc"]


def _plural(kind: str) -> str:
    return kind if kind.endswith("s") else kind + "s"


def plugin_json(
    distribution: str, version: str, module: str, entries: Iterable[Mapping[str, Any]], *,
    error: str | None = None, builtin: bool = False, hooks: Iterable[str] = (),
) -> dict[str, Any]:
    """One installed plugin distribution: its types grouped by kind (``tasks``, ``triggers``...),
    and `types` with each one's kind, title, aliases and whether it is flowable."""
    out: dict[str, Any] = {
        "name": distribution,
        "version": version,
        "module": module,
        "builtin": builtin,
        "error": error,
        "hooks": list(hooks),
        "tasks": [],
        "triggers": [],
    }
    types = []
    for entry in sorted(entries, key=lambda e: str(e.get("type"))):
        kind = str(entry.get("kind") or "task")
        out.setdefault(_plural(kind), []).append(entry["type"])
        types.append({
            "type": entry["type"],
            "kind": kind,
            "title": entry.get("title"),
            "aliases": list(entry.get("aliases") or ()),
            "flowable": bool(entry.get("flowable")),
        })
    out["types"] = types
    return out


def type_doc(entry: Mapping[str, Any], distribution: str, version: str) -> dict[str, Any]:
    """One type's documentation: title, description, aliases, properties (each with its JSON
    Schema under `schema`), outputs, examples, metrics, plus Kestra's `markdown` and `schema`."""
    schema = dict(entry.get("schema") or {})
    prop_schemas = schema.get("properties") or {}
    properties = {
        name: {**meta, "schema": prop_schemas.get(name, {})}
        for name, meta in (entry.get("properties") or {}).items()
    }
    return {
        "type": entry["type"],
        "cls": entry["type"],
        "kind": entry.get("kind"),
        "flowable": bool(entry.get("flowable")),
        "title": entry.get("title"),
        "description": entry.get("description"),
        "aliases": list(entry.get("aliases") or ()),
        "distribution": distribution,
        "version": version,
        "properties": properties,
        "outputs": entry.get("outputs"),
        "examples": list(entry.get("examples") or ()),
        "metrics": list(entry.get("metrics") or ()),
        "taskSlots": dict(entry.get("taskSlots") or {}),
        "markdown": markdown(entry),
        "schema": {
            "properties": schema,
            "outputs": entry.get("outputs"),
            "definitions": schema.get("$defs", {}),
        },
    }


def _cell(text: Any) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def markdown(entry: Mapping[str, Any]) -> str:
    """The type's documentation as Markdown: title, description, examples, properties, outputs."""
    lines = [f"# {entry['type']}", ""]
    if entry.get("title"):
        lines += [str(entry["title"]), ""]
    if entry.get("aliases"):
        lines += ["Aliases: " + ", ".join(f"`{a}`" for a in entry["aliases"]), ""]
    if entry.get("description"):
        lines += [str(entry["description"]), ""]
    examples = entry.get("examples") or ()
    if examples:
        lines += ["## Examples", ""]
        for example in examples:
            if example.get("title"):
                lines += [f"> {example['title']}", ""]
            lines += ["```yaml", str(example.get("code", "")).rstrip("\n"), "```", ""]
    properties = entry.get("properties") or {}
    if properties:
        lines += ["## Properties", "", "| Name | Required | Dynamic | Default | Description |", "| --- | --- | --- | --- | --- |"]
        for name, meta in properties.items():
            default = "" if meta.get("required") or "default" not in meta else json.dumps(meta.get("default"), default=str)
            lines.append(
                f"| `{name}` | {'yes' if meta.get('required') else 'no'} | {'yes' if meta.get('dynamic') else 'no'} "
                f"| {_cell(default)} | {_cell(meta.get('description'))} |"
            )
        lines.append("")
    outputs = (entry.get("outputs") or {}).get("properties") or {}
    if outputs:
        lines += ["## Outputs", "", "| Name | Description |", "| --- | --- |"]
        for name, spec in outputs.items():
            lines.append(f"| `{name}` | {_cell(spec.get('description') if isinstance(spec, Mapping) else '')} |")
        lines.append("")
    metrics = entry.get("metrics") or ()
    if metrics:
        lines += ["## Metrics", "", "| Name | Type | Unit | Description |", "| --- | --- | --- | --- |"]
        for metric in metrics:
            lines.append(f"| `{metric.get('name')}` | {_cell(metric.get('type'))} | {_cell(metric.get('unit'))} | {_cell(metric.get('description'))} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
