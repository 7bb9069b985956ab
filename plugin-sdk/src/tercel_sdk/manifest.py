"""Plugin manifests: a plugin's types described as JSON, so the core never imports to list them.

A manifest is generated from the plugin's hook implementations (`generate_manifest`) and shipped
inside the package as `tercel-manifest.json`, next to the entry-point module. The core reads it
to list, validate and document types; it imports a type's module only when a task of that type
runs. Regenerate it with `python -m tercel_sdk.manifest <entry-point module> --write`.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any, get_args, get_origin

from pydantic.fields import FieldInfo
from pydantic_core import PydanticSerializationError, to_jsonable_python

from ._property import Property
from ._task import FlowableTask, PluginType, task_slots
from ._trigger import Trigger
from .errors import ManifestError

__all__ = [
    "MANIFEST_FILENAME",
    "MANIFEST_VERSION",
    "describe_type",
    "generate_manifest",
    "manifest_path_for",
    "write_manifest",
]

MANIFEST_FILENAME = "tercel-manifest.json"
MANIFEST_VERSION = 1
TYPE_HOOKS = {"tercel_task_types": "task", "tercel_trigger_types": "trigger", "tercel_condition_types": "condition"}
_TYPE_NAME = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$")


def _is_property(annotation: Any) -> bool:
    if annotation is None:
        return False
    if get_origin(annotation) is Property or annotation is Property:
        return True
    return any(_is_property(a) for a in get_args(annotation) or ())


def _default_json(field: FieldInfo, schema_prop: dict[str, Any]) -> Any:
    """A field's default as the JSON a flow would write (`PT1M` for a timedelta, not its repr)."""
    if "default" in schema_prop:  # serialized by pydantic with the field's own serializer
        return schema_prop["default"]
    default = field.get_default(call_default_factory=True)
    if isinstance(default, Property):
        default = default.raw
    try:
        return to_jsonable_python(default)
    except PydanticSerializationError:
        return repr(default)


def describe_type(cls: type[PluginType]) -> dict[str, Any]:
    """Everything known about one type without running it: names, docs, schema, outputs."""
    if not cls.type_name or not _TYPE_NAME.match(cls.type_name):
        raise ManifestError(
            f"{cls.__module__}.{cls.__qualname__}: type_name {cls.type_name!r} must be a dotted "
            "name like 'tercel.core.Log'"
        )
    try:
        schema = cls.model_json_schema(by_alias=True, mode="validation")
    except Exception as exc:  # pydantic raises several kinds
        raise ManifestError(f"{cls.type_name}: cannot build its JSON Schema: {exc}") from exc
    schema["title"] = cls.type_title or cls.__name__
    description = cls.describe()
    if description:
        schema["description"] = description
    props: dict[str, Any] = {}
    schema_props = schema.get("properties", {})
    for name, field in cls.model_fields.items():
        alias = field.alias or name
        props[alias] = {
            "required": field.is_required(),
            "dynamic": _is_property(field.annotation),
            "description": field.description or "",
        }
        if not field.is_required():
            props[alias]["default"] = _default_json(field, schema_props.get(alias, {}))
    slots = {
        (cls.model_fields[n].alias or n): s.manifest_kind for n, s in task_slots(cls).items()
    }
    # a task slot's JSON Schema is fixed by TaskList/TaskMap; keep its length constraints
    for name in task_slots(cls):
        field = cls.model_fields[name]
        alias = field.alias or name
        for meta in field.metadata:
            minimum = getattr(meta, "min_length", None)
            if minimum is not None and alias in schema.get("properties", {}):
                target = schema["properties"][alias]
                branches = target.get("anyOf", [target])
                for branch in branches:
                    if branch.get("type") in ("array", "object"):
                        branch["minItems" if branch["type"] == "array" else "minProperties"] = minimum
    outputs = None
    if hasattr(cls, "output_model"):
        model = cls.output_model()
        if model is not None:
            outputs = model.model_json_schema(by_alias=True, mode="serialization")
    kind = "trigger" if issubclass(cls, Trigger) else cls.type_kind
    extra: dict[str, Any] = {}
    if getattr(cls, "type_internal_tasks", ()):
        extra["internalTasks"] = [{"suffix": suffix, "type": name} for suffix, name in cls.type_internal_tasks]
    if getattr(cls, "type_internal", False):
        extra["internal"] = True
    return {
        "type": cls.type_name,
        "aliases": list(cls.type_aliases),
        "kind": kind,
        "flowable": issubclass(cls, FlowableTask),
        "class": f"{cls.__module__}:{cls.__qualname__}",
        "title": cls.type_title or cls.__name__,
        "description": description,
        "properties": props,
        "taskSlots": slots,
        "schema": schema,
        "outputs": outputs,
        "examples": [
            {"title": e.title, "code": e.code, "full": e.full} for e in cls.type_examples
        ],
        "metrics": [
            {"name": m.name, "type": m.type, "unit": m.unit, "description": m.description}
            for m in cls.type_metrics
        ],
        **extra,
    }


def _hook_names(module: ModuleType) -> list[str]:
    return sorted(
        name
        for name in dir(module)
        if name.startswith("tercel_") and hasattr(getattr(module, name), "tercel_impl")
    )


def generate_manifest(
    module: ModuleType | str, *, distribution: str = "", version: str = ""
) -> dict[str, Any]:
    """Import a plugin's entry-point module and describe every type its hooks register."""
    if isinstance(module, str):
        module = importlib.import_module(module)
    hooks = _hook_names(module)
    types: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for hook, kind in TYPE_HOOKS.items():
        if hook not in hooks:
            continue
        result = getattr(module, hook)()
        classes: Iterable[type[PluginType]] = result or ()
        for cls in classes:
            if not (isinstance(cls, type) and issubclass(cls, PluginType)):
                raise ManifestError(f"{module.__name__}.{hook} returned {cls!r}, not a plugin type class")
            entry = describe_type(cls)
            if kind in ("trigger", "condition") and entry["kind"] != kind:
                raise ManifestError(f"{cls.type_name} is returned by {hook} but is not a {kind.capitalize()}")
            for name in (entry["type"], *entry["aliases"]):
                if name in seen:
                    raise ManifestError(f"type name {name!r} is declared twice ({seen[name]} and {entry['class']})")
                seen[name] = entry["class"]
            types.append(entry)
    manifest: dict[str, Any] = {
        "manifestVersion": MANIFEST_VERSION,
        "distribution": distribution,
        "version": version,
        "module": module.__name__,
        "hooks": hooks,
        "types": sorted(types, key=lambda t: t["type"]),
    }
    folder = _package_folder(module)
    if folder is not None:
        manifest["sourcesDigest"] = sources_digest(folder)
    return manifest


def _package_folder(module: ModuleType) -> Path | None:
    """The folder of the plugin's top-level package (None for a module built in memory)."""
    try:
        return manifest_path_for(module.__name__).parent
    except (ManifestError, ValueError, ModuleNotFoundError):
        return None


def sources_digest(folder: Path) -> str:
    """A digest of a package's Python sources: a development install whose sources changed
    since its manifest was written has a stale manifest (file times lie after a git clone)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(folder).as_posix().encode("utf-8") + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def manifest_path_for(module_name: str) -> Path:
    """Where a plugin ships its manifest: beside its top-level package's `__init__.py`."""
    spec = importlib.util.find_spec(module_name.split(".")[0])
    if spec is None or not spec.submodule_search_locations:
        raise ManifestError(f"cannot locate package of {module_name!r}")
    return Path(next(iter(spec.submodule_search_locations))) / MANIFEST_FILENAME


def write_manifest(module_name: str, *, distribution: str = "", version: str = "") -> Path:
    """Generate and write the manifest file of a plugin module; returns its path."""
    from importlib import metadata

    if not distribution or not version:
        for dist in metadata.distributions():
            for ep in dist.entry_points:
                if ep.group == "tercel.plugins" and ep.value.split(":")[0] == module_name:
                    distribution = distribution or dist.metadata["Name"]
                    version = version or dist.version
    manifest = generate_manifest(module_name, distribution=distribution, version=version)
    path = manifest_path_for(module_name)
    path.write_text(json.dumps(manifest, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tercel_sdk.manifest", description=__doc__)
    parser.add_argument("module", help="the plugin's entry-point module, e.g. tercel_plugin_core.plugin")
    parser.add_argument("--write", action="store_true", help="write tercel-manifest.json into the package")
    args = parser.parse_args(argv)
    if args.write:
        print(write_manifest(args.module))
    else:
        json.dump(generate_manifest(args.module), sys.stdout, indent=1)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
