"""The flow validator's own JSON Schema checker agrees with `jsonschema` on plugin schemas."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from tercel.flows._jsonschema import SchemaValidator
from tercel.plugins import PluginManager

CANDIDATES: list[Any] = [
    None, True, False, 0, 1, -1, 2.5, 10**6, "", "x", "INFO", "PT1S", "{{ a }}", "{% if x %}y{% endif %}",
    [], [1], ["a"], [{"id": "t", "type": "tercel.core.Log"}], [None], {}, {"a": 1}, {"k": ["v"]},
    {"type": "constant", "interval": "PT1S", "maxAttempts": 3}, {"type": "exponential"}, {"type": "nope"},
]


def _schemas() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Every installed type's schema, with a base instance holding a valid value per required key."""
    pm = PluginManager().discover()
    out = []
    for info in pm.canonical_types():
        schema = info.entry["schema"]
        reference = Draft202012Validator(schema)
        base: dict[str, Any] = {"id": "t", "type": info.name}
        for name, meta in info.entry["properties"].items():
            if meta.get("required") and name not in base:
                for candidate in CANDIDATES:
                    trial = {**base, name: candidate}
                    if not any(list(e.absolute_path)[:1] == [name] for e in reference.iter_errors(trial)):
                        base[name] = candidate
                        break
        out.append((info.name, schema, base))
    return out


@pytest.mark.parametrize(("type_name", "schema", "base"), _schemas(), ids=lambda v: v if isinstance(v, str) else "")
def test_same_verdict_as_jsonschema_for_every_property_and_value(type_name: str, schema: dict[str, Any], base: dict[str, Any]) -> None:
    ours, reference = SchemaValidator(schema), Draft202012Validator(schema)
    instances = [base, {**base, "unknownProperty": 1}, {k: v for k, v in base.items() if k != "id"}]
    for name in schema.get("properties", {}):
        for candidate in CANDIDATES:
            instance = copy.deepcopy(base)
            instance[name] = candidate
            instances.append(instance)
    disagreements = [
        (inst, reference.is_valid(inst))
        for inst in instances
        if ours.is_valid(inst) != reference.is_valid(inst)
    ]
    assert not disagreements, f"{type_name}: {disagreements[:3]}"


def test_error_paths_point_at_the_offending_value() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "array", "items": {"type": "integer"}}, "b": {"$ref": "#/$defs/B"}},
        "required": ["a"],
        "additionalProperties": False,
        "$defs": {"B": {"type": "object", "properties": {"c": {"enum": ["x", "y"]}}}},
    }
    errors = list(SchemaValidator(schema).iter_errors({"a": [1, "two"], "b": {"c": "z"}, "d": 1}))
    assert sorted((e.validator, list(e.absolute_path)) for e in errors) == [
        ("additionalProperties", []),
        ("enum", ["b", "c"]),
        ("type", ["a", 1]),
    ]


def test_unsupported_keywords_are_refused_loudly() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        list(SchemaValidator({"type": "string", "contentEncoding": "base64"}).iter_errors("x"))
