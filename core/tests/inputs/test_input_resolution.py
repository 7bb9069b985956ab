"""`resolve_inputs`: a whole flow's inputs from CLI strings or API values, every problem at once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from ruamel.yaml import YAML
from tercel.errors import Problem, ProblemsError
from tercel.inputs import InputsError, resolve_inputs


def problems_of(
    declarations: list[dict[str, Any]], provided: Mapping[str, Any], **options: Any
) -> list[Problem]:
    with pytest.raises(InputsError) as info:
        resolve_inputs(declarations, provided, **options)
    return info.value.problems


def text_render(value: Any, context: Mapping[str, Any]) -> str:
    """A renderer that only produces text, like a plain template engine."""
    return SandboxedEnvironment(undefined=StrictUndefined).from_string(value).render(**context)


KESTRA_EXAMPLE = """
id: inputs
namespace: company.team
inputs:
  - id: string
    type: STRING
    defaults: "Hello World!"
  - id: optional
    type: STRING
    required: false
  - id: int
    type: INT
    defaults: 100
  - id: list_of_int
    type: ARRAY
    itemType: INT
    defaults: [1, 2, 3]
  - id: bool
    type: BOOL
    defaults: true
  - id: float
    type: FLOAT
    defaults: 100.12
  - id: dropdown
    type: SELECT
    defaults: VALUE_1
    values: [VALUE_1, VALUE_2, VALUE_3]
  - id: dropdown_multi
    type: MULTISELECT
    values: [VALUE_1, VALUE_2, VALUE_3]
    defaults: [VALUE_1]
  - id: instant
    type: DATETIME
    defaults: 2013-08-09T14:19:00Z
  - id: date
    type: DATE
    defaults: "2013-10-25"
  - id: duration
    type: DURATION
    defaults: PT5M6S
  - id: json
    type: JSON
    defaults: |
      [{"name": "kestra", "rating": "best in class"}]
  - id: yaml
    type: YAML
    defaults:
      key: value
  - id: uri
    type: URI
    defaults: "https://huggingface.co/datasets/kestra/datasets/raw/main/csv/orders.csv"
  - id: nested.string
    type: STRING
    defaults: "Hello nested"
"""


def test_kestra_docs_example_resolves_from_round_trip_yaml() -> None:
    flow = YAML().load(KESTRA_EXAMPLE)  # round-trip mode, as the flow loader reads it
    values = resolve_inputs(flow["inputs"], {})
    assert values == {
        "string": "Hello World!",
        "optional": None,
        "int": 100,
        "list_of_int": [1, 2, 3],
        "bool": True,
        "float": 100.12,
        "dropdown": "VALUE_1",
        "dropdown_multi": ["VALUE_1"],
        "instant": datetime(2013, 8, 9, 14, 19, tzinfo=UTC),
        "date": date(2013, 10, 25),
        "duration": timedelta(minutes=5, seconds=6),
        "json": [{"name": "kestra", "rating": "best in class"}],
        "yaml": {"key": "value"},
        "uri": "https://huggingface.co/datasets/kestra/datasets/raw/main/csv/orders.csv",
        "nested": {"string": "Hello nested"},
    }
    # ruamel's scalar subclasses never leak into an execution
    assert type(values["int"]) is int and type(values["float"]) is float
    assert type(values["instant"]) is datetime and type(values["yaml"]) is dict


def test_cli_strings_and_api_values_are_both_converted() -> None:
    declarations = [
        {"id": "n", "type": "INT"},
        {"id": "ok", "type": "BOOLEAN"},
        {"id": "tags", "type": "ARRAY", "itemType": "STRING"},
        {"id": "cfg", "type": "JSON"},
    ]
    from_cli = resolve_inputs(
        declarations, {"n": "5", "ok": "true", "tags": '["a", "b"]', "cfg": '{"k": 1}'}
    )
    from_api = resolve_inputs(
        declarations, {"n": 5, "ok": True, "tags": ["a", "b"], "cfg": {"k": 1}}
    )
    assert from_cli == from_api == {"n": 5, "ok": True, "tags": ["a", "b"], "cfg": {"k": 1}}


def test_three_bad_inputs_give_three_problems() -> None:
    declarations = [
        {"id": "count", "type": "INT"},
        {"id": "age", "type": "INT", "min": 18},
        {"id": "name", "type": "STRING"},
        {"id": "env", "type": "SELECT", "values": ["dev", "prod"]},
    ]
    problems = problems_of(declarations, {"count": "abc", "age": "12", "name": "ok"})
    assert [(p.message, p.path) for p in problems] == [
        ("input 'count' must be an INT, got 'abc'", ("inputs", "count")),
        ("input 'age' must be >= 18, got 12", ("inputs", "age")),
        ("input 'env' is required but was not provided", ("inputs", "env")),
    ]


def test_the_error_reads_well() -> None:
    with pytest.raises(InputsError) as info:
        resolve_inputs([{"id": "count", "type": "INT"}], {"count": "abc"})
    error = info.value
    assert isinstance(error, ProblemsError)
    assert (
        str(error)
        == "invalid inputs (1 problem):\n  - inputs.count: input 'count' must be an INT, got 'abc'"
    )


def test_unknown_names_are_rejected_with_did_you_mean() -> None:
    declarations = [
        {"id": "count", "type": "INT", "required": False},
        {"id": "region", "type": "STRING", "required": False},
    ]
    problems = problems_of(declarations, {"cuont": "1", "Region": "eu", "zzz": "?"})
    assert [(p.message, p.path, p.hint) for p in problems] == [
        ("unknown input 'cuont'", ("inputs", "cuont"), "did you mean 'count'?"),
        ("unknown input 'Region'", ("inputs", "Region"), "did you mean 'region'?"),
        ("unknown input 'zzz'", ("inputs", "zzz"), None),
    ]


def test_optional_inputs_are_none_and_every_declared_input_is_returned() -> None:
    declarations = [
        {"id": "a", "type": "STRING", "required": False},
        {"id": "b", "type": "INT", "required": False},
        {"id": "c", "type": "FILE", "required": False},
    ]
    assert resolve_inputs(declarations, {}) == {"a": None, "b": None, "c": None}
    assert resolve_inputs(declarations, {"a": None}) == {"a": None, "b": None, "c": None}


def test_defaults_apply_when_missing_or_null_and_are_typed() -> None:
    declarations = [
        {"id": "n", "type": "INT", "defaults": "100"},
        {"id": "when", "type": "DATE", "defaults": "2024-04-12"},
        {"id": "s", "type": "STRING", "defaults": "x", "required": False},
    ]
    assert resolve_inputs(declarations, {"n": None}) == {
        "n": 100,
        "when": date(2024, 4, 12),
        "s": "x",
    }
    assert resolve_inputs(declarations, {"n": "7", "s": ""}) == {
        "n": 7,
        "when": date(2024, 4, 12),
        "s": "",
    }


def test_expression_defaults_see_the_inputs_resolved_before(render: Any) -> None:
    declarations = [
        {"id": "n", "type": "INT"},
        {"id": "double", "type": "INT", "defaults": "{{ inputs.n * 2 }}"},
        {
            "id": "greeting",
            "type": "STRING",
            "defaults": "Hello {{ inputs.who.name }} x{{ inputs.double }}",
        },
        {"id": "who.name", "type": "STRING", "defaults": "Ada"},
    ]
    declarations.append(declarations.pop(2))  # a template may use any input declared before it
    assert resolve_inputs(declarations, {"n": "21"}, render=render) == {
        "n": 21,
        "double": 42,
        "who": {"name": "Ada"},
        "greeting": "Hello Ada x42",
    }
    assert resolve_inputs(declarations, {"n": "1"}, render=text_render)["double"] == 2


def test_a_rendered_default_is_validated_too(render: Any) -> None:
    declarations = [
        {"id": "n", "type": "INT"},
        {"id": "m", "type": "INT", "max": 10, "defaults": "{{ inputs.n + 5 }}"},
    ]
    problems = problems_of(declarations, {"n": 8}, render=render)
    assert [p.message for p in problems] == ["input 'm' (from `defaults`) must be <= 10, got 13"]


def test_a_default_that_cannot_render_is_reported_with_its_likely_cause(render: Any) -> None:
    declarations = [
        {"id": "n", "type": "INT"},
        {"id": "m", "type": "INT", "defaults": "{{ inputs.n + 1 }}"},
    ]
    problems = problems_of(declarations, {"n": "x"}, render=render)
    assert problems[0].message == "input 'n' must be an INT, got 'x'"
    assert problems[1].message.startswith("input 'm': cannot render `defaults`: ")
    assert problems[1].hint == "this may follow from the invalid input 'n'"


def test_depends_on_condition_false_skips_the_input(render: Any) -> None:
    declarations = [
        {"id": "cloud", "type": "SELECT", "values": ["AWS", "GCP"]},
        {
            "id": "region",
            "type": "STRING",
            "dependsOn": {"inputs": ["cloud"], "condition": "{{ inputs.cloud == 'AWS' }}"},
        },
    ]
    assert resolve_inputs(declarations, {"cloud": "GCP"}, render=render) == {
        "cloud": "GCP",
        "region": None,
    }
    assert (
        resolve_inputs(declarations, {"cloud": "GCP", "region": "eu"}, render=render)["region"]
        is None
    )
    assert (
        resolve_inputs(declarations, {"cloud": "AWS", "region": "eu"}, render=render)["region"]
        == "eu"
    )
    problems = problems_of(declarations, {"cloud": "AWS"}, render=render)
    assert [p.message for p in problems] == ["input 'region' is required but was not provided"]
    # a text-only renderer gives "True"/"False"
    assert resolve_inputs(declarations, {"cloud": "GCP"}, render=text_render)["region"] is None


def test_dependencies_are_resolved_first_whatever_the_order(render: Any) -> None:
    declarations = [
        {
            "id": "services",
            "type": "SELECT",
            "expression": "{{ inputs.catalog[inputs.cloud] }}",
            "dependsOn": {"inputs": ["cloud", "catalog"]},
        },
        {"id": "cloud", "type": "SELECT", "values": ["AWS", "GCP"], "defaults": "AWS"},
        {"id": "catalog", "type": "JSON", "defaults": '{"AWS": ["EC2", "S3"], "GCP": ["GCE"]}'},
    ]
    values = resolve_inputs(declarations, {"services": "S3"}, render=render)
    assert values == {
        "services": "S3",
        "cloud": "AWS",
        "catalog": {"AWS": ["EC2", "S3"], "GCP": ["GCE"]},
    }
    assert list(values) == ["services", "cloud", "catalog"]  # declaration order is kept
    problems = problems_of(declarations, {"services": "GCE"}, render=render)
    assert [(p.message, p.hint) for p in problems] == [
        ("input 'services' must be one of 'EC2', 'S3', got 'GCE'", None)
    ]
    # a text-only renderer prints Python lists; they are read back
    assert (
        resolve_inputs(declarations, {"services": "EC2"}, render=text_render)["services"] == "EC2"
    )


def test_an_input_shown_only_after_a_bad_one_is_not_reported_twice(render: Any) -> None:
    declarations = [
        {"id": "n", "type": "INT"},
        {
            "id": "m",
            "type": "INT",
            "dependsOn": {"inputs": ["n"], "condition": "{{ inputs.n > 1 }}"},
        },
    ]
    problems = problems_of(declarations, {"n": "x", "m": "y"}, render=render)
    assert [p.message for p in problems] == ["input 'n' must be an INT, got 'x'"]


def test_a_condition_must_render_to_a_boolean(render: Any) -> None:
    declarations = [
        {"id": "a", "type": "STRING"},
        {
            "id": "b",
            "type": "STRING",
            "dependsOn": {"inputs": ["a"], "condition": "{{ inputs.a }}"},
        },
    ]
    problems = problems_of(declarations, {"a": "maybe", "b": "x"}, render=render)
    assert [p.message for p in problems] == [
        "input 'b': `dependsOn.condition` must render to true or false, got 'maybe'"
    ]


def test_an_expression_must_give_a_list(render: Any) -> None:
    declarations = [{"id": "s", "type": "MULTISELECT", "expression": "{{ 42 }}"}]
    problems = problems_of(declarations, {"s": ["a"]}, render=render)
    assert [p.message for p in problems] == [
        "input 's': `expression` must give a list of values, got 42"
    ]


def test_file_inputs_are_stored(tmp_path: Path, storage: Any) -> None:
    report = tmp_path / "report.csv"
    report.write_text("a,b\n1,2\n")
    declarations = [
        {"id": "report", "type": "FILE", "allowedFileExtensions": [".csv"]},
        {"id": "attachments", "type": "ARRAY", "itemType": "FILE", "required": False},
    ]
    values = resolve_inputs(declarations, {"report": str(report)}, store_file=storage)
    assert values == {"report": "tercel:///input/report/report.csv", "attachments": None}
    assert storage.read(values["report"]) == b"a,b\n1,2\n"

    other = tmp_path / "notes.txt"
    other.write_text("n")
    values = resolve_inputs(
        declarations,
        {"report": str(report), "attachments": [str(other), b"raw"]},
        store_file=storage,
    )
    assert values["attachments"] == [
        "tercel:///input/attachments/notes.txt",
        "tercel:///input/attachments/attachments",
    ]


def test_secrets_are_reported_for_masking_and_never_shown() -> None:
    masked: list[str] = []
    declarations = [
        {"id": "token", "type": "SECRET", "validator": "tok_[a-z0-9]+"},
        {"id": "backup", "type": "SECRET", "defaults": "default-pass"},
    ]
    values = resolve_inputs(declarations, {"token": "tok_abc123"}, on_secret=masked.append)
    assert values == {"token": "tok_abc123", "backup": "default-pass"}
    assert masked == ["tok_abc123", "default-pass"]

    with pytest.raises(InputsError) as info:
        resolve_inputs(declarations, {"token": "TOK-leaked"}, on_secret=masked.append)
    assert "TOK-leaked" not in str(info.value)
    assert [p.message for p in info.value.problems] == ["input 'token' must match `tok_[a-z0-9]+`"]


def test_invalid_declarations_are_reported_before_any_value() -> None:
    with pytest.raises(InputsError) as info:
        resolve_inputs([{"id": "n", "type": "INTEGER"}], {"n": "1"})
    assert info.value.summary == "invalid input declarations"
    assert info.value.problems[0].path == ("inputs", 0, "type")


def test_multiselect_choices_from_an_expression_are_typed(render: Any) -> None:
    declarations = [
        {"id": "max", "type": "INT", "defaults": 3},
        {
            "id": "sizes",
            "type": "MULTISELECT",
            "itemType": "INT",
            "expression": "{{ range(1, inputs.max + 1) | list }}",
        },
    ]
    assert resolve_inputs(declarations, {"sizes": '["1", 3]'}, render=render)["sizes"] == [1, 3]
    problems = problems_of(declarations, {"sizes": [4]}, render=render)
    assert [(p.message, p.path) for p in problems] == [
        ("input 'sizes' item [0] must be one of 1, 2, 3, got 4", ("inputs", "sizes", 0))
    ]
    broken = [
        {"id": "sizes", "type": "MULTISELECT", "itemType": "INT", "expression": "{{ ['a'] }}"}
    ]
    problems = problems_of(broken, {"sizes": [1]}, render=render)
    assert [p.message for p in problems] == [
        "input 'sizes' cannot be chosen: its `expression` gave a bad value (must be an INT, got 'a')"
    ]


def test_a_required_default_that_renders_to_null_says_so(render: Any) -> None:
    declarations = [{"id": "x", "type": "STRING", "defaults": "{{ none }}"}]
    [problem] = problems_of(declarations, {}, render=render)
    assert (problem.message, problem.hint) == (
        "input 'x' is required but was not provided",
        "its `defaults` rendered to null",
    )


def test_coerce_input_refuses_a_broken_declaration() -> None:
    from tercel.inputs import coerce_input

    with pytest.raises(InputsError) as info:
        coerce_input({"id": "x", "type": "INT", "min": "one"}, "1")
    assert info.value.summary == "invalid input declaration"
    assert [(p.path, p.message) for p in info.value.problems] == [
        (("min",), "`min` must be an integer, got 'one'")
    ]


def test_local_paths_can_be_refused_for_a_whole_execution(tmp_path: Path, storage: Any) -> None:
    declarations = [{"id": "f", "type": "FILE"}]
    problems = problems_of(
        declarations, {"f": str(tmp_path)}, store_file=storage, local_files=False
    )
    assert problems[0].message.startswith("input 'f' must be an uploaded file")
    values = resolve_inputs(
        declarations, {"f": ("a.txt", b"hi")}, store_file=storage, local_files=False
    )
    assert storage.read(values["f"]) == b"hi"
