"""`declaration_problems`: static checks of `inputs:`, each pointing at the offending key."""

from __future__ import annotations

from typing import Any

import pytest
from ruamel.yaml import YAML
from tercel.errors import Problem
from tercel.inputs import declaration_problems


def only(declaration: dict[str, Any]) -> Problem:
    problems = declaration_problems([declaration])
    assert len(problems) == 1, problems
    return problems[0]


def summary(problems: list[Problem]) -> list[tuple[tuple[str | int, ...], str]]:
    return [(p.path, p.message) for p in problems]


@pytest.mark.parametrize(
    "declaration",
    [
        {
            "id": "s",
            "type": "STRING",
            "validator": "^[a-z]+$",
            "defaults": "abc",
            "description": "d",
            "displayName": "S",
        },
        {"id": "e", "type": "ENUM", "values": ["A", "B"], "defaults": "A"},
        {
            "id": "sel",
            "type": "SELECT",
            "values": ["A"],
            "allowCustomValue": True,
            "autoSelectFirst": True,
        },
        {"id": "sel2", "type": "SELECT", "expression": "{{ kv('X') }}", "defaults": "anything"},
        {
            "id": "m",
            "type": "MULTISELECT",
            "values": ["A", "B"],
            "defaults": ["A"],
            "allowInput": False,
        },
        {"id": "i", "type": "INT", "min": 1, "max": 3, "defaults": 2, "required": False},
        {"id": "f", "type": "FLOAT", "min": 0, "max": 1.5, "defaults": "0.5"},
        {"id": "b", "type": "BOOL", "defaults": False},
        {
            "id": "dt",
            "type": "DATETIME",
            "after": "2024-01-01T00:00:00Z",
            "defaults": "2024-06-01T00:00:00+02:00",
        },
        {"id": "d", "type": "DATE", "after": "2024-01-01", "before": "2024-12-31"},
        {"id": "t", "type": "TIME", "after": "08:00", "before": "18:00", "prefill": "09:00"},
        {"id": "du", "type": "DURATION", "min": "PT1M", "max": "PT1H", "defaults": "PT5M"},
        {
            "id": "file",
            "type": "FILE",
            "allowedFileExtensions": [".csv"],
            "defaults": "/not/checked/statically.csv",
        },
        {"id": "j", "type": "JSON", "defaults": {"a": 1}},
        {"id": "y", "type": "YAML", "defaults": "a: 1"},
        {"id": "u", "type": "URI", "defaults": "https://example.com"},
        {"id": "sec", "type": "SECRET", "validator": ".+"},
        {"id": "arr", "type": "ARRAY", "itemType": "INT", "min": 0, "defaults": [1, 2]},
        {"id": "mail", "type": "EMAIL", "defaults": "a@b.co"},
        {"name": "legacy", "type": "STRING"},
        {"id": "expr", "type": "INT", "min": 10, "defaults": "{{ inputs.other }}"},
    ],
)
def test_valid_declarations_have_no_problems(declaration: dict[str, Any]) -> None:
    assert declaration_problems([declaration]) == []


def test_no_inputs_is_fine_and_a_non_list_is_not() -> None:
    assert declaration_problems(None) == []
    assert declaration_problems([]) == []
    assert summary(declaration_problems({"id": "x"})) == [
        (("inputs",), """`inputs` must be a list of input declarations, got {"id": "x"}""")
    ]
    assert summary(declaration_problems(["x"])) == [
        (("inputs", 0), "an input must be a mapping with an `id` and a `type`, got 'x'")
    ]


# -- id and type ---------------------------------------------------------------------------


def test_missing_id_and_type_point_at_the_declaration() -> None:
    problems = declaration_problems([{"description": "?"}])
    assert summary(problems) == [(("inputs", 0), "missing `id`"), (("inputs", 0), "missing `type`")]
    assert problems[1].hint is not None and "STRING" in problems[1].hint


@pytest.mark.parametrize("bad_id", ["my input", "-lead", "héllo", "a..b", "trailing.", ""])
def test_invalid_ids(bad_id: str) -> None:
    problem = only({"id": bad_id, "type": "STRING"})
    assert problem.path == ("inputs", 0, "id")


def test_the_legacy_name_is_an_alias_of_id() -> None:
    assert only({"name": "x y", "type": "STRING"}).path == ("inputs", 0, "name")
    assert summary(declaration_problems([{"id": "a", "name": "b", "type": "STRING"}])) == [
        (("inputs", 0, "name"), "`name` is the old name of `id`; give only `id`")
    ]


def test_duplicate_ids_point_at_the_second_one() -> None:
    problems = declaration_problems(
        [{"id": "a", "type": "INT"}, {"id": "b", "type": "INT"}, {"name": "a", "type": "STRING"}]
    )
    assert summary(problems) == [(("inputs", 2, "name"), "duplicate input id 'a'")]
    assert problems[0].hint == "first declared as input [0]"


def test_an_id_cannot_be_both_a_value_and_a_group() -> None:
    problems = declaration_problems(
        [{"id": "db", "type": "STRING"}, {"id": "db.host", "type": "STRING"}]
    )
    assert summary(problems) == [
        (("inputs", 1, "id"), "input id 'db.host' nests under 'db', which is itself an input")
    ]


@pytest.mark.parametrize(
    ("written", "hint"),
    [
        ("INTEGER", "did you mean 'INT'?"),
        ("STRNG", "did you mean 'STRING'?"),
        ("string", "did you mean 'STRING'? (types are upper-case)"),
        ("NUMBER", "did you mean 'FLOAT'?"),
        ("MULTI_SELECT", "did you mean 'MULTISELECT'?"),
    ],
)
def test_unknown_type_with_did_you_mean(written: str, hint: str) -> None:
    problem = only({"id": "x", "type": written})
    assert (problem.path, problem.message, problem.hint) == (
        ("inputs", 0, "type"),
        f"unknown input type {written!r}",
        hint,
    )


def test_kestras_newest_types_are_named_as_not_supported_yet() -> None:
    problem = only({"id": "x", "type": "OBJECT", "properties": []})
    assert (problem.path, problem.message) == (
        ("inputs", 0, "type"),
        "input type 'OBJECT' is not supported by tercel yet",
    )


# -- properties and their types ------------------------------------------------------------


def test_unknown_property_with_did_you_mean() -> None:
    problem = only({"id": "x", "type": "INT", "default": 3})
    assert (problem.path, problem.message, problem.hint) == (
        ("inputs", 0, "default"),
        "unknown property `default` for an INT input",
        "did you mean 'defaults'?",
    )


def test_a_validator_of_another_type_says_where_it_belongs() -> None:
    problem = only({"id": "x", "type": "STRING", "max": 3})
    assert (problem.path, problem.hint) == (
        ("inputs", 0, "max"),
        "`max` applies to INT, FLOAT, DURATION inputs",
    )


@pytest.mark.parametrize(
    ("declaration", "key", "message"),
    [
        ({"type": "INT", "min": "5"}, "min", "`min` must be an integer, got '5'"),
        ({"type": "INT", "max": 2.5}, "max", "`max` must be an integer, got 2.5"),
        ({"type": "FLOAT", "min": True}, "min", "`min` must be a number, got true"),
        ({"type": "STRING", "validator": 5}, "validator", "`validator` must be a string, got 5"),
        (
            {"type": "SECRET", "validator": "(unclosed"},
            "validator",
            "`validator` is not a valid regular expression: missing ), unterminated subpattern at position 0",
        ),
        (
            {"type": "SELECT", "values": ["a"], "allowCustomValue": "yes"},
            "allowCustomValue",
            "`allowCustomValue` must be true or false, got 'yes'",
        ),
        (
            {"type": "DATE", "after": "yesterday"},
            "after",
            "`after` must be a DATE (ISO 8601, e.g. 2042-12-03), got 'yesterday'",
        ),
        (
            {"type": "DATETIME", "before": "2024-01-01T00:00:00"},
            "before",
            "`before` must be a DATETIME (ISO 8601 with an offset, e.g. 2042-04-02T04:20:42Z), got '2024-01-01T00:00:00' (no timezone offset; add Z for UTC)",
        ),
        (
            {"type": "TIME", "after": 9},
            "after",
            "`after` must be a TIME (ISO 8601 without an offset, e.g. 10:15:30), got 9",
        ),
        (
            {"type": "DURATION", "min": "1h"},
            "min",
            "`min` must be a DURATION (ISO 8601, e.g. PT1H30M), got '1h'",
        ),
        (
            {"type": "FILE", "allowedFileExtensions": ".csv"},
            "allowedFileExtensions",
            "`allowedFileExtensions` must be a list, got '.csv'",
        ),
        (
            {"type": "STRING", "required": "no"},
            "required",
            "`required` must be true or false, got 'no'",
        ),
        (
            {"type": "STRING", "description": ["a"]},
            "description",
            """`description` must be a string, got ["a"]""",
        ),
        ({"type": "ENUM", "values": "A,B"}, "values", "`values` must be a list, got 'A,B'"),
        ({"type": "ENUM", "values": []}, "values", "`values` must list at least one value"),
    ],
)
def test_wrong_validator_types(declaration: dict[str, Any], key: str, message: str) -> None:
    problem = only({"id": "x", **declaration})
    assert (problem.path, problem.message) == (("inputs", 0, key), message)


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ({"type": "INT", "min": 10, "max": 1}, "`min` (10) is greater than `max` (1)"),
        ({"type": "FLOAT", "min": 1.5, "max": 1}, "`min` (1.5) is greater than `max` (1)"),
        (
            {"type": "DURATION", "min": "PT2H", "max": "PT1H"},
            "`min` (PT2H) is greater than `max` (PT1H)",
        ),
        (
            {"type": "DATE", "after": "2024-02-01", "before": "2024-01-01"},
            "`after` (2024-02-01) is greater than `before` (2024-01-01)",
        ),
    ],
)
def test_bounds_in_the_wrong_order(declaration: dict[str, Any], message: str) -> None:
    key = "min" if "min" in declaration else "after"
    assert summary(declaration_problems([{"id": "x", **declaration}])) == [
        (("inputs", 0, key), message)
    ]


def test_choices() -> None:
    assert summary(declaration_problems([{"id": "x", "type": "SELECT"}])) == [
        (("inputs", 0), "SELECT inputs need `values` or `expression`")
    ]
    assert summary(
        declaration_problems(
            [{"id": "x", "type": "SELECT", "values": ["a"], "expression": "{{ x }}"}]
        )
    ) == [(("inputs", 0, "expression"), "use either `values` or `expression`, not both")]
    assert summary(
        declaration_problems([{"id": "x", "type": "ENUM", "values": ["a", "b", "a", {"c": 1}]}])
    ) == [
        (("inputs", 0, "values", 2), "duplicate value 'a' in `values`"),
        (("inputs", 0, "values", 3), """a value must be a string, got {"c": 1}"""),
    ]
    assert summary(
        declaration_problems(
            [{"id": "x", "type": "MULTISELECT", "values": ["a"], "options": ["a"]}]
        )
    ) == [(("inputs", 0, "options"), "`options` is the old name of `values`; give only `values`")]
    assert summary(
        declaration_problems(
            [{"id": "x", "type": "MULTISELECT", "itemType": "INT", "values": [1, "two"]}]
        )
    ) == [(("inputs", 0, "values", 1), "`values` item [1] must be an INT, got 'two'")]


def test_item_types() -> None:
    problem = only({"id": "x", "type": "ARRAY"})
    assert (problem.path, problem.message) == (("inputs", 0), "ARRAY inputs need an `itemType`")
    problem = only({"id": "x", "type": "ARRAY", "itemType": "ARRAY"})
    assert (problem.path, problem.message) == (
        ("inputs", 0, "itemType"),
        "`itemType` of an ARRAY cannot be ARRAY",
    )
    problem = only({"id": "x", "type": "ARRAY", "itemType": "int"})
    assert (problem.path, problem.message, problem.hint) == (
        ("inputs", 0, "itemType"),
        "unknown `itemType` 'int'",
        "did you mean 'INT'? (types are upper-case)",
    )
    problem = only({"id": "x", "type": "MULTISELECT", "itemType": "FILE", "values": ["a"]})
    assert (problem.path, problem.message) == (
        ("inputs", 0, "itemType"),
        "`itemType` of a MULTISELECT cannot be FILE",
    )
    problem = only({"id": "x", "type": "ARRAY", "itemType": "INT", "validator": "a"})
    assert problem.path == ("inputs", 0, "validator")  # the item's type decides what applies


# -- defaults and prefill ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declaration", "path", "message"),
    [
        (
            {"type": "INT", "min": 18, "defaults": 12},
            ("defaults",),
            "`defaults` must be >= 18, got 12",
        ),
        ({"type": "INT", "defaults": "ten"}, ("defaults",), "`defaults` must be an INT, got 'ten'"),
        (
            {"type": "SELECT", "values": ["a", "b"], "defaults": "c"},
            ("defaults",),
            "`defaults` must be one of 'a', 'b', got 'c'",
        ),
        (
            {"type": "ARRAY", "itemType": "INT", "defaults": [1, "x"]},
            ("defaults", 1),
            "`defaults` item [1] must be an INT, got 'x'",
        ),
        (
            {"type": "DATE", "defaults": "13/01/2024"},
            ("defaults",),
            "`defaults` must be a DATE (ISO 8601, e.g. 2042-12-03), got '13/01/2024'",
        ),
        (
            {"type": "STRING", "validator": "[0-9]+", "prefill": "abc"},
            ("prefill",),
            "`prefill` must match `[0-9]+`, got 'abc'",
        ),
        (
            {"type": "SECRET", "validator": "[0-9]+", "defaults": "hunter2"},
            ("defaults",),
            "`defaults` must match `[0-9]+`",
        ),
    ],
)
def test_literal_defaults_must_pass_their_own_validation(
    declaration: dict[str, Any], path: tuple[Any, ...], message: str
) -> None:
    problem = only({"id": "x", **declaration})
    assert (problem.path, problem.message) == (("inputs", 0, *path), message)


def test_defaults_and_prefill_are_exclusive() -> None:
    problem = only(
        {"id": "x", "type": "STRING", "required": False, "defaults": "a", "prefill": "b"}
    )
    assert (problem.path, problem.message) == (
        ("inputs", 0, "prefill"),
        "use either `defaults` or `prefill`, not both",
    )


# -- dependsOn -----------------------------------------------------------------------------


def test_depends_on_unknown_inputs_with_did_you_mean() -> None:
    problems = declaration_problems(
        [
            {"id": "cloud", "type": "STRING"},
            {
                "id": "region",
                "type": "STRING",
                "dependsOn": {"inputs": ["cloud", "clowd", "region"], "condtion": "x"},
            },
        ]
    )
    assert [(p.path, p.message, p.hint) for p in problems] == [
        (
            ("inputs", 1, "dependsOn", "condtion"),
            "unknown property `condtion` in `dependsOn`",
            "did you mean 'condition'?",
        ),
        (
            ("inputs", 1, "dependsOn", "inputs", 1),
            "`dependsOn` names unknown input 'clowd'",
            "did you mean 'cloud'?",
        ),
        (("inputs", 1, "dependsOn", "inputs", 2), "input 'region' cannot depend on itself", None),
    ]


def test_depends_on_shape() -> None:
    assert only({"id": "x", "type": "STRING", "dependsOn": ["a"]}).path == (
        "inputs",
        0,
        "dependsOn",
    )
    assert only({"id": "x", "type": "STRING", "dependsOn": {"inputs": "a"}}).path == (
        "inputs",
        0,
        "dependsOn",
        "inputs",
    )
    assert only({"id": "x", "type": "STRING", "dependsOn": {"condition": 3}}).path == (
        "inputs",
        0,
        "dependsOn",
        "condition",
    )


def test_depends_on_cycles() -> None:
    problems = declaration_problems(
        [
            {"id": "a", "type": "STRING", "dependsOn": {"inputs": ["c"]}},
            {"id": "b", "type": "STRING", "dependsOn": {"inputs": ["a"]}},
            {"id": "c", "type": "STRING", "dependsOn": {"inputs": ["b"]}},
        ]
    )
    assert summary(problems) == [
        (("inputs", 0, "dependsOn", "inputs"), "`dependsOn` forms a cycle: a → c → b → a")
    ]


# -- everything at once, mapped back to the source -----------------------------------------

FLOW = """\
id: broken
namespace: company.team
inputs:
  - id: count
    type: INTEGER
  - id: name
    type: STRING
    validator: "[a-z"
  - id: count
    type: INT
    min: 10
    max: 1
  - id: tags
    type: ARRAY
  - id: region
    type: STRING
    dependsOn:
      inputs: [clowd]
"""


def test_every_problem_is_found_at_once_and_maps_to_a_line_and_column() -> None:
    flow = YAML().load(FLOW)
    problems = declaration_problems(flow["inputs"])

    def position(path: tuple[str | int, ...]) -> tuple[int, int]:
        """What a caller does: walk the round-trip document to the key's line and column."""
        node: Any = flow
        for part in path[:-1]:
            node = node[part]
        last = path[-1]
        line, column = node.lc.item(last) if isinstance(last, int) else node.lc.key(last)
        return line + 1, column + 1

    assert [(position(p.path), p.message) for p in problems] == [
        ((5, 5), "unknown input type 'INTEGER'"),
        (
            (8, 5),
            "`validator` is not a valid regular expression: unterminated character set at position 0",
        ),
        ((11, 5), "`min` (10) is greater than `max` (1)"),
        ((9, 5), "duplicate input id 'count'"),
        ((13, 5), "ARRAY inputs need an `itemType`"),
        ((18, 16), "`dependsOn` names unknown input 'clowd'"),
    ]


def test_a_custom_path_prefix() -> None:
    problems = declaration_problems(
        [{"id": "x", "type": "INT", "min": "1"}], path_prefix=("flows", 3, "inputs")
    )
    assert problems[0].path == ("flows", 3, "inputs", 0, "min")
