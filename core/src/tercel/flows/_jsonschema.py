"""A small JSON Schema validator for the subset pydantic emits into plugin manifests.

Why not `jsonschema`: importing it (and its reference registry) costs more than the rest of flow
validation together, and `tercel run` must start in well under half a second. Manifests only use
a known subset (types, properties, required, additionalProperties, items, enum/const, anyOf/oneOf/
allOf, local `$ref`s, numeric and length bounds, pattern, discriminators), which this module
implements with the same error shape the validator reads (`validator`, `absolute_path`,
`instance`, `schema`, `message`). A differential test checks it agrees with `jsonschema`.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

__all__ = ["SchemaError", "SchemaValidator"]

_IGNORED = frozenset(
    {
        "title", "description", "default", "examples", "format", "$schema", "$id", "$defs",
        "definitions", "deprecated", "readOnly", "writeOnly", "discriminator", "$comment",
    }
)


@dataclass
class SchemaError:
    """One schema violation, shaped like `jsonschema.ValidationError` where the validator reads it."""

    validator: str
    message: str
    instance: Any
    schema: dict[str, Any]
    absolute_path: deque[str | int] = field(default_factory=deque)


@lru_cache(maxsize=1024)
def _pattern(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":  # an unquoted YAML timestamp is a date-time string to JSON
        return isinstance(value, str | date)
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "null":
        return value is None
    return True


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


class SchemaValidator:
    """Validates instances against one schema (with its own `$defs`)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self._defs = schema.get("$defs") or schema.get("definitions") or {}

    def is_valid(self, instance: Any) -> bool:
        return next(self.iter_errors(instance), None) is None

    def iter_errors(self, instance: Any) -> Iterator[SchemaError]:
        yield from self._check(instance, self.schema, ())

    def _resolve(self, ref: str) -> dict[str, Any]:
        for prefix in ("#/$defs/", "#/definitions/"):
            if ref.startswith(prefix):
                target = self._defs.get(ref[len(prefix):])
                if target is not None:
                    return target
        if ref == "#":
            return self.schema
        raise ValueError(f"unsupported $ref {ref!r} in a plugin schema")

    def _check(self, value: Any, schema: Any, path: tuple[str | int, ...]) -> Iterator[SchemaError]:
        if schema is True or schema == {}:
            return
        if schema is False:
            yield SchemaError("false", "no value is allowed here", value, {}, deque(path))
            return
        if "$ref" in schema:
            yield from self._check(value, self._resolve(schema["$ref"]), path)
            extra = {k: v for k, v in schema.items() if k != "$ref"}
            if {k for k in extra if not k.startswith("x-")} - _IGNORED:
                yield from self._check(value, extra, path)
            return

        def err(kind: str, message: str) -> SchemaError:
            return SchemaError(kind, message, value, schema, deque(path))

        kind = schema.get("type")
        if kind is not None:
            kinds = kind if isinstance(kind, list) else [kind]
            if not any(_type_ok(value, k) for k in kinds):
                yield err("type", f"{value!r} is not of type {', '.join(map(repr, kinds))}")
                return
        if "enum" in schema and not any(_equal(value, e) for e in schema["enum"]):
            yield err("enum", f"{value!r} is not one of {schema['enum']!r}")
        if "const" in schema and not _equal(value, schema["const"]):
            yield err("const", f"{schema['const']!r} was expected")
        for key in ("anyOf", "oneOf"):
            if key in schema:
                matches = sum(1 for branch in schema[key] if not any(True for _ in self._check(value, branch, path)))
                if matches == 0 or (key == "oneOf" and matches > 1):
                    yield err(key, f"{value!r} is not valid under {'any' if key == 'anyOf' else 'exactly one'} of the given schemas")
        for branch in schema.get("allOf", ()):
            yield from self._check(value, branch, path)
        if "if" in schema:
            if not any(True for _ in self._check(value, schema["if"], path)):
                if "then" in schema:
                    yield from self._check(value, schema["then"], path)
            elif "else" in schema:
                yield from self._check(value, schema["else"], path)
        if isinstance(value, bool):
            return
        if isinstance(value, int | float):
            if "minimum" in schema and value < schema["minimum"]:
                yield err("minimum", f"{value!r} is less than the minimum of {schema['minimum']!r}")
            if "maximum" in schema and value > schema["maximum"]:
                yield err("maximum", f"{value!r} is greater than the maximum of {schema['maximum']!r}")
            if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
                yield err("exclusiveMinimum", f"{value!r} is less than or equal to the minimum of {schema['exclusiveMinimum']!r}")
            if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
                yield err("exclusiveMaximum", f"{value!r} is greater than or equal to the maximum of {schema['exclusiveMaximum']!r}")
            if "multipleOf" in schema and (value / schema["multipleOf"]) % 1:
                yield err("multipleOf", f"{value!r} is not a multiple of {schema['multipleOf']!r}")
        elif isinstance(value, str):
            if "minLength" in schema and len(value) < schema["minLength"]:
                yield err("minLength", f"{value!r} is shorter than {schema['minLength']} characters")
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                yield err("maxLength", f"{value!r} is longer than {schema['maxLength']} characters")
            if "pattern" in schema and not _pattern(schema["pattern"]).search(value):
                yield err("pattern", f"{value!r} does not match {schema['pattern']!r}")
        elif isinstance(value, list):
            if "minItems" in schema and len(value) < schema["minItems"]:
                yield err("minItems", f"{value!r} should have at least {schema['minItems']} item(s)" if schema["minItems"] > 0 else "too short")
            if "maxItems" in schema and len(value) > schema["maxItems"]:
                yield err("maxItems", f"{value!r} should have at most {schema['maxItems']} item(s)")
            prefix = schema.get("prefixItems", ())
            for index, item in enumerate(value):
                if index < len(prefix):
                    yield from self._check(item, prefix[index], (*path, index))
                elif "items" in schema:
                    yield from self._check(item, schema["items"], (*path, index))
            if schema.get("uniqueItems"):
                seen: list[Any] = []
                for item in value:
                    if any(_equal(item, s) for s in seen):
                        yield err("uniqueItems", f"{value!r} has non-unique elements")
                        break
                    seen.append(item)
        elif isinstance(value, dict):
            props = schema.get("properties", {})
            for name in schema.get("required", ()):
                if name not in value:
                    yield err("required", f"{name!r} is a required property")
            if "minProperties" in schema and len(value) < schema["minProperties"]:
                yield err("minProperties", f"{value!r} should be non-empty" if schema["minProperties"] == 1 else f"{value!r} does not have enough properties")
            if "maxProperties" in schema and len(value) > schema["maxProperties"]:
                yield err("maxProperties", f"{value!r} has too many properties")
            extra_schema = schema.get("additionalProperties", True)
            patterns = schema.get("patternProperties", {})
            extras = []
            for name, item in value.items():
                if name in props:
                    yield from self._check(item, props[name], (*path, name))
                    continue
                matched = False
                for regex, sub in patterns.items():
                    if isinstance(name, str) and _pattern(regex).search(name):
                        matched = True
                        yield from self._check(item, sub, (*path, name))
                if matched:
                    continue
                if extra_schema is False:
                    extras.append(name)
                elif isinstance(extra_schema, dict):
                    yield from self._check(item, extra_schema, (*path, name))
            if extras:
                yield err("additionalProperties", f"Additional properties are not allowed ({', '.join(map(repr, extras))} {'were' if len(extras) > 1 else 'was'} unexpected)")
            if "propertyNames" in schema:
                for name in value:
                    yield from self._check(name, schema["propertyNames"], path)
        unknown = {k for k in schema if k not in _KNOWN and not k.startswith("x-")}  # `x-…`: annotations
        if unknown:
            raise ValueError(f"unsupported JSON Schema keywords in a plugin schema: {sorted(unknown)}")


_KNOWN = _IGNORED | {
    "type", "enum", "const", "anyOf", "oneOf", "allOf", "if", "then", "else", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern",
    "minItems", "maxItems", "items", "prefixItems", "uniqueItems", "properties", "required",
    "minProperties", "maxProperties", "additionalProperties", "patternProperties", "propertyNames",
    "$ref", "x-tercel-task",
}
