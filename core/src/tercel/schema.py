"""The JSON Schema of a flow, for editors (VS Code's YAML extension, IntelliJ) and the API.

Built from the installed plugins' manifests: each type's schema becomes a `$defs` entry chosen by
its `type` (`if`/`then`, so an editor completes the properties of the type being written).
"""

from __future__ import annotations

import copy
from typing import Any

from tercel.plugins import PluginManager

__all__ = ["flow_json_schema"]

_TASK_REF = {"$ref": "#/$defs/Task"}


def _rewrite(node: Any, prefix: str) -> Any:
    """Move a type's local `$ref`s under its own prefix; child-task slots point at `Task`."""
    if isinstance(node, dict):
        if node.get("x-tercel-task"):
            return dict(_TASK_REF)
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                out[key] = f"#/$defs/{prefix}{value[len('#/$defs/'):]}"
            else:
                out[key] = _rewrite(value, prefix)
        return out
    if isinstance(node, list):
        return [_rewrite(v, prefix) for v in node]
    return node


def flow_json_schema(plugins: PluginManager) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    task_cases: list[dict[str, Any]] = []
    trigger_cases: list[dict[str, Any]] = []
    task_names: list[str] = []
    trigger_names: list[str] = []
    for info in plugins.canonical_types():
        entry = info.entry
        schema = copy.deepcopy(entry["schema"])
        name = entry["type"]
        prefix = name.replace(".", "_") + "__"
        for def_name, def_schema in (schema.pop("$defs", None) or {}).items():
            defs[prefix + def_name] = _rewrite(def_schema, prefix)
        schema = _rewrite(schema, prefix)
        defs[name.replace(".", "_")] = schema
        names = [name, *entry.get("aliases", ())]
        case = {
            "if": {"properties": {"type": {"enum": names}}, "required": ["type"]},
            "then": {"$ref": f"#/$defs/{name.replace('.', '_')}"},
        }
        if entry["kind"] == "trigger":
            trigger_cases.append(case)
            trigger_names += names
        else:
            task_cases.append(case)
            task_names += names
    for def_name, names, cases in (("Task", task_names, task_cases), ("Trigger", trigger_names, trigger_cases)):
        definition: dict[str, Any] = {
            "type": "object",
            "required": ["id", "type"],
            "properties": {"id": {"type": "string"}, "type": {"enum": sorted(names)} if names else {"type": "string"}},
        }
        if cases:
            definition["allOf"] = cases
        defs[def_name] = definition
    tasks = {"type": "array", "items": {"$ref": "#/$defs/Task"}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://tercel.dev/schemas/flow.json",
        "title": "tercel flow",
        "type": "object",
        "required": ["id", "namespace", "tasks"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "pattern": r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$"},
            "namespace": {"type": "string", "pattern": r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$"},
            "revision": {"type": "integer"},
            "description": {"type": "string"},
            "labels": {"anyOf": [{"type": "object", "additionalProperties": {"type": "string"}}, {"type": "array", "items": {"type": "object", "properties": {"key": {"type": "string"}, "value": {"type": "string"}}}}]},
            "inputs": {"type": "array", "items": {"type": "object", "required": ["type"], "properties": {"id": {"type": "string"}, "type": {"type": "string"}, "required": {"type": "boolean"}, "description": {"type": "string"}}}},
            "outputs": {"type": "array", "items": {"type": "object", "required": ["id", "value"], "properties": {"id": {"type": "string"}, "type": {"type": "string"}, "value": {}}}},
            "variables": {"type": "object"},
            "tasks": {**tasks, "minItems": 1},
            "errors": tasks,
            "finally": tasks,
            "afterExecution": tasks,
            "triggers": {"type": "array", "items": {"$ref": "#/$defs/Trigger"}},
            "pluginDefaults": {"type": "array", "items": {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}, "forced": {"type": "boolean"}, "values": {"type": "object"}}}},
            "taskDefaults": {"type": "array", "items": {"type": "object"}},
            "disabled": {"type": "boolean"},
            "deleted": {"type": "boolean"},
            "concurrency": {"type": "object", "properties": {"limit": {"type": "integer", "minimum": 1}, "behavior": {"enum": ["QUEUE", "CANCEL", "FAIL"]}}},
            "retry": {"type": "object"},
            "sla": {"type": "array"},
            "workerGroup": {"type": "object"},
            "checks": {"type": "array"},
        },
        "$defs": defs,
    }
