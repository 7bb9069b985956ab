"""Every input type and validator, passing and failing, through `coerce_input`."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from tercel.errors import Problem
from tercel.inputs import INPUT_TYPES, InputsError, coerce_input


def ok(decl: dict[str, Any], value: Any, **options: Any) -> Any:
    return coerce_input({"id": "x", **decl}, value, **options)


def bad(decl: dict[str, Any], value: Any, **options: Any) -> list[Problem]:
    with pytest.raises(InputsError) as info:
        coerce_input({"id": "x", **decl}, value, **options)
    assert info.value.summary == "invalid inputs"
    return info.value.problems


def message(decl: dict[str, Any], value: Any, **options: Any) -> str:
    problems = bad(decl, value, **options)
    assert len(problems) == 1, problems
    return problems[0].message


def test_all_kestra_types_are_known() -> None:
    assert {
        "STRING",
        "ENUM",
        "SELECT",
        "MULTISELECT",
        "INT",
        "FLOAT",
        "BOOLEAN",
        "BOOL",
        "DATETIME",
        "DATE",
        "TIME",
        "DURATION",
        "FILE",
        "JSON",
        "YAML",
        "URI",
        "SECRET",
        "ARRAY",
        "EMAIL",
    } == INPUT_TYPES


# -- STRING, SECRET, EMAIL, URI ------------------------------------------------------------


def test_string_keeps_text_and_accepts_json_scalars() -> None:
    assert ok({"type": "STRING"}, "hello") == "hello"
    assert ok({"type": "STRING"}, "") == ""
    assert ok({"type": "STRING"}, 42) == "42"
    assert ok({"type": "STRING"}, True) == "true"
    assert message({"type": "STRING"}, {"a": 1}) == """input 'x' must be a STRING, got {"a": 1}"""


@pytest.mark.parametrize("value", ["student", "student123"])
def test_string_validator_passes(value: str) -> None:
    assert ok({"type": "STRING", "validator": r"^student(\d+)?$"}, value) == value


@pytest.mark.parametrize("value", ["studentabc", "student123abc", "a student1"])
def test_string_validator_fails_showing_the_rule_and_value(value: str) -> None:
    assert message({"type": "STRING", "validator": r"student(\d+)?"}, value) == (
        rf"input 'x' must match `student(\d+)?`, got {value!r}"
    )


def test_string_validator_is_a_full_match() -> None:
    assert (
        message({"type": "STRING", "validator": "[a-z]+"}, "abc1")
        == "input 'x' must match `[a-z]+`, got 'abc1'"
    )


def test_secret_reports_its_value_for_masking_and_never_shows_it() -> None:
    seen: list[str] = []
    assert ok({"type": "SECRET"}, "s3cr3t", on_secret=seen.append) == "s3cr3t"
    assert seen == ["s3cr3t"]

    problems = bad({"type": "SECRET", "validator": "[a-z]+"}, "Hunter2", on_secret=seen.append)
    assert [p.message for p in problems] == ["input 'x' must match `[a-z]+`"]
    assert "Hunter2" not in str(InputsError(problems))
    assert message({"type": "SECRET"}, ["not", "text"]) == "input 'x' must be a STRING"


@pytest.mark.parametrize(
    "value", ["ada@example.com", "first.last+tag@mail.example.org", "a@localhost"]
)
def test_email_passes(value: str) -> None:
    assert ok({"type": "EMAIL"}, value) == value


@pytest.mark.parametrize(
    "value", ["", "ada", "ada@", "@example.com", "ada@exa mple.com", "a@-x.com", 7]
)
def test_email_fails(value: Any) -> None:
    assert message({"type": "EMAIL"}, value).startswith("input 'x' must be an email address, got ")


@pytest.mark.parametrize(
    "value",
    [
        "https://example.com/data.csv",
        "file:///tmp/x.csv",
        "mailto:ada@example.com",
        "s3://bucket/key",
        "urn:isbn:0451450523",
    ],
)
def test_uri_passes_and_stays_a_string(value: str) -> None:
    assert ok({"type": "URI"}, value) == value


@pytest.mark.parametrize(
    "value", ["example.com/data.csv", "/tmp/x", "https://", "http://exa mple.com", "3ttp://x", 12]
)
def test_uri_fails(value: Any) -> None:
    assert message({"type": "URI"}, value).startswith(
        "input 'x' must be an absolute URI with a scheme"
    )


# -- numbers and booleans ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [("42", 42), (" -7 ", -7), (42, 42), (3.0, 3), ("+5", 5)]
)
def test_int_passes(value: Any, expected: int) -> None:
    result = ok({"type": "INT"}, value)
    assert result == expected and type(result) is int


@pytest.mark.parametrize("value", ["abc", "4.2", 4.5, True, "1_000", "٣", ""])
def test_int_fails_showing_the_value(value: Any) -> None:
    assert message({"type": "INT"}, value).startswith("input 'x' must be an INT, got ")


def test_int_message_is_exact() -> None:
    assert message({"type": "INT"}, "abc") == "input 'x' must be an INT, got 'abc'"


def test_int_min_max_are_inclusive() -> None:
    decl = {"type": "INT", "min": 18, "max": 64}
    assert ok(decl, 18) == 18 and ok(decl, "64") == 64
    assert message(decl, 12) == "input 'x' must be >= 18, got 12"
    assert message(decl, "65") == "input 'x' must be <= 64, got 65"


@pytest.mark.parametrize(
    ("value", "expected"), [("1.5", 1.5), (2, 2.0), ("1e3", 1000.0), (".5", 0.5), ("-3", -3.0)]
)
def test_float_passes(value: Any, expected: float) -> None:
    result = ok({"type": "FLOAT"}, value)
    assert result == expected and type(result) is float


@pytest.mark.parametrize("value", ["abc", "nan", "inf", float("inf"), False, "1,5"])
def test_float_fails(value: Any) -> None:
    assert message({"type": "FLOAT"}, value).startswith("input 'x' must be a FLOAT, got ")


def test_float_min_max() -> None:
    decl = {"type": "FLOAT", "min": 0.2, "max": 5.3}
    assert ok(decl, "0.2") == 0.2
    assert message(decl, 0.1) == "input 'x' must be >= 0.2, got 0.1"
    assert message(decl, "5.31") == "input 'x' must be <= 5.3, got 5.31"


@pytest.mark.parametrize("type_name", ["BOOLEAN", "BOOL"])
@pytest.mark.parametrize(
    ("value", "expected"), [("true", True), ("FALSE", False), (True, True), (False, False)]
)
def test_boolean_passes(type_name: str, value: Any, expected: bool) -> None:
    assert ok({"type": type_name}, value) is expected


@pytest.mark.parametrize("type_name", ["BOOLEAN", "BOOL"])
@pytest.mark.parametrize("value", ["yes", "1", 1, ""])
def test_boolean_fails(type_name: str, value: Any) -> None:
    assert message({"type": type_name}, value).startswith(
        f"input 'x' must be a {type_name} (true or false), got "
    )


# -- dates, times, durations ---------------------------------------------------------------


def test_datetime_needs_an_offset_and_is_kept_in_utc() -> None:
    assert ok({"type": "DATETIME"}, "2042-04-02T04:20:42.00Z") == datetime(
        2042, 4, 2, 4, 20, 42, tzinfo=UTC
    )
    value = ok({"type": "DATETIME"}, "2042-04-02T06:20:42+02:00")
    assert value == datetime(2042, 4, 2, 4, 20, 42, tzinfo=UTC) and value.tzinfo is UTC
    assert ok({"type": "DATETIME"}, datetime(2042, 1, 1, tzinfo=UTC)) == datetime(
        2042, 1, 1, tzinfo=UTC
    )
    assert message({"type": "DATETIME"}, "2042-04-02T04:20:42") == (
        "input 'x' must be a DATETIME (ISO 8601 with an offset, e.g. 2042-04-02T04:20:42Z), "
        "got '2042-04-02T04:20:42' (no timezone offset; add Z for UTC)"
    )
    assert "no timezone offset" in message({"type": "DATETIME"}, "2042-04-02")
    assert message({"type": "DATETIME"}, "soon").endswith("got 'soon'")
    assert message({"type": "DATETIME"}, 12).endswith("got 12")


def test_datetime_after_before() -> None:
    decl = {"type": "DATETIME", "after": "2024-04-10T14:19:00Z", "before": "2024-04-15T14:19:00Z"}
    assert ok(decl, "2024-04-10T14:19:00Z") == datetime(2024, 4, 10, 14, 19, tzinfo=UTC)
    assert message(decl, "2024-04-10T14:18:00Z") == (
        "input 'x' must be at or after 2024-04-10T14:19:00Z, got 2024-04-10T14:18:00Z"
    )
    assert message(decl, "2024-04-15T16:20:00+02:00") == (
        "input 'x' must be at or before 2024-04-15T14:19:00Z, got 2024-04-15T14:20:00Z"
    )


def test_date() -> None:
    decl = {"type": "DATE", "after": "2024-04-10", "before": "2024-04-15"}
    assert ok(decl, "2024-04-12") == date(2024, 4, 12)
    assert ok(decl, date(2024, 4, 10)) == date(2024, 4, 10)
    assert message(decl, "2024-04-09") == "input 'x' must be on or after 2024-04-10, got 2024-04-09"
    assert (
        message(decl, "2024-04-16") == "input 'x' must be on or before 2024-04-15, got 2024-04-16"
    )
    assert message({"type": "DATE"}, "2024-04-12T10:00:00Z") == (
        "input 'x' must be a DATE (ISO 8601, e.g. 2042-12-03), got '2024-04-12T10:00:00Z'"
    )
    assert message({"type": "DATE"}, datetime(2024, 1, 1)).startswith("input 'x' must be a DATE")


def test_time() -> None:
    decl = {"type": "TIME", "after": "11:01:01", "before": "11:04:01"}
    assert ok(decl, "11:02") == time(11, 2)
    assert ok({"type": "TIME"}, time(10, 15, 30)) == time(10, 15, 30)
    assert message(decl, "11:00:00") == "input 'x' must be at or after 11:01:01, got 11:00:00"
    assert message(decl, "11:05:00") == "input 'x' must be at or before 11:04:01, got 11:05:00"
    assert message({"type": "TIME"}, "10:15:30+01:00").endswith("(it has a timezone offset)")
    assert message({"type": "TIME"}, "25:00").startswith("input 'x' must be a TIME")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("PT5M6S", timedelta(minutes=5, seconds=6)),
        ("P2DT3H", timedelta(days=2, hours=3)),
        ("P1W", timedelta(weeks=1)),
        ("PT0.5S", timedelta(seconds=0.5)),
        ("-PT5S", timedelta(seconds=-5)),
        ("pt10m", timedelta(minutes=10)),
    ],
)
def test_duration_passes(text: str, expected: timedelta) -> None:
    assert ok({"type": "DURATION"}, text) == expected


@pytest.mark.parametrize("text", ["1h", "PT", "P", "PT1H30", "5", "P1DT"])
def test_duration_fails(text: str) -> None:
    assert (
        message({"type": "DURATION"}, text)
        == f"input 'x' must be a DURATION (ISO 8601, e.g. PT1H30M), got {text!r}"
    )


def test_duration_refuses_months_and_years_with_a_reason() -> None:
    assert message({"type": "DURATION"}, "P1M").endswith(
        "(years and months have no fixed length; use days, e.g. P30D)"
    )
    assert "years and months" in message({"type": "DURATION"}, "P1Y")


def test_duration_min_max() -> None:
    decl = {"type": "DURATION", "min": "PT5M6S", "max": "PT12H58M46S"}
    assert ok(decl, "PT5M6S") == timedelta(minutes=5, seconds=6)
    assert message(decl, "PT1M") == "input 'x' must be at least PT5M6S, got PT1M"
    assert message(decl, "P1D") == "input 'x' must be at most PT12H58M46S, got P1D"


# -- JSON, YAML ----------------------------------------------------------------------------


def test_json() -> None:
    assert ok({"type": "JSON"}, '[{"name": "kestra", "rating": "best in class"}]') == [
        {"name": "kestra", "rating": "best in class"}
    ]
    assert ok({"type": "JSON"}, {"a": [1, 2]}) == {"a": [1, 2]}
    assert ok({"type": "JSON"}, [1, "two"]) == [1, "two"]
    assert ok({"type": "JSON"}, "3") == 3
    assert message({"type": "JSON"}, '{"a": ') == (
        "input 'x' must be valid JSON, got '{\"a\": ' (Expecting value at line 1, column 7)"
    )


def test_yaml() -> None:
    assert ok({"type": "YAML"}, "a: 1\nb: [x, y]\n") == {"a": 1, "b": ["x", "y"]}
    assert ok({"type": "YAML"}, {"already": "parsed"}) == {"already": "parsed"}
    assert message({"type": "YAML"}, "a: [1, 2") == (
        "input 'x' must be valid YAML, got 'a: [1, 2' (expected ',' or ']', but got '<stream end>' at line 1, column 9)"
    )


def test_yaml_is_loaded_safely() -> None:
    assert message({"type": "YAML"}, "!!python/object/apply:os.system ['true']").startswith(
        "input 'x' must be valid YAML"
    )


# -- choices -------------------------------------------------------------------------------


def test_enum() -> None:
    decl = {"type": "ENUM", "values": ["VALUE_1", "VALUE_2"]}
    assert ok(decl, "VALUE_2") == "VALUE_2"
    problems = bad(decl, "VALUE_3")
    assert problems[0].message == "input 'x' must be one of 'VALUE_1', 'VALUE_2', got 'VALUE_3'"


def test_select_with_did_you_mean() -> None:
    decl = {"type": "SELECT", "values": ["dev", "staging", "prod"]}
    assert ok(decl, "staging") == "staging"
    [problem] = bad(decl, "stagign")
    assert problem.message == "input 'x' must be one of 'dev', 'staging', 'prod', got 'stagign'"
    assert problem.hint == "did you mean 'staging'?"


def test_select_values_written_as_numbers_match_text() -> None:
    assert ok({"type": "SELECT", "values": [1, 2, 3]}, "2") == "2"
    assert ok({"type": "SELECT", "values": ["1", "2"]}, 2) == "2"


@pytest.mark.parametrize("key", ["allowCustomValue", "allowInput"])
def test_select_custom_value(key: str) -> None:
    assert ok({"type": "SELECT", "values": ["a"], key: True}, "zzz") == "zzz"


def test_select_expression_gives_the_choices(render: Any) -> None:
    decl = {"type": "SELECT", "expression": "{{ inputs.clouds }}"}
    context = {"clouds": ["AWS", "GCP"]}
    assert ok(decl, "GCP", render=render, context=context) == "GCP"
    assert (
        message(decl, "AZURE", render=render, context=context)
        == "input 'x' must be one of 'AWS', 'GCP', got 'AZURE'"
    )


def test_multiselect() -> None:
    decl = {"type": "MULTISELECT", "values": ["a", "b", "c"]}
    assert ok(decl, ["a", "c"]) == ["a", "c"]
    assert ok(decl, '["b"]') == ["b"]
    assert ok({"type": "MULTISELECT", "options": ["a"]}, ["a"]) == ["a"]
    assert ok({**decl, "allowCustomValue": True}, ["z"]) == ["z"]
    problems = bad(decl, ["a", "x", "y"])
    assert [(p.message, p.path) for p in problems] == [
        ("input 'x' item [1] must be one of 'a', 'b', 'c', got 'x'", ("inputs", "x", 1)),
        ("input 'x' item [2] must be one of 'a', 'b', 'c', got 'y'", ("inputs", "x", 2)),
    ]
    assert (
        message(decl, "a")
        == """input 'x' must be a list of values (a JSON array such as ["a", "b"]), got 'a'"""
    )


def test_multiselect_with_item_type() -> None:
    decl = {"type": "MULTISELECT", "itemType": "INT", "values": [1, 2, 3]}
    assert ok(decl, '["1", 3]') == [1, 3]
    assert message(decl, [4]) == "input 'x' item [0] must be one of 1, 2, 3, got 4"
    assert message(decl, ["one"]) == "input 'x' item [0] must be an INT, got 'one'"


# -- ARRAY ---------------------------------------------------------------------------------


def test_array_from_json_text_and_from_a_list() -> None:
    assert ok({"type": "ARRAY", "itemType": "INT"}, "[1, 2, 3]") == [1, 2, 3]
    assert ok({"type": "ARRAY", "itemType": "INT"}, ["1", 2]) == [1, 2]
    assert ok({"type": "ARRAY", "itemType": "DATE"}, '["2024-01-02"]') == [date(2024, 1, 2)]
    assert ok({"type": "ARRAY", "itemType": "STRING"}, []) == []
    assert message({"type": "ARRAY", "itemType": "INT"}, "1,2") == (
        "input 'x' must be an ARRAY of INT (a list, or a JSON array such as [1, 2]), got '1,2'"
    )


def test_array_reports_every_bad_item_with_its_index() -> None:
    problems = bad({"type": "ARRAY", "itemType": "INT", "min": 0}, '[1, "two", -3, 4]')
    assert [(p.message, p.path) for p in problems] == [
        ("input 'x' item [1] must be an INT, got 'two'", ("inputs", "x", 1)),
        ("input 'x' item [2] must be >= 0, got -3", ("inputs", "x", 2)),
    ]


def test_array_items_use_their_type_validators() -> None:
    decl = {"type": "ARRAY", "itemType": "STRING", "validator": "[a-z]+"}
    assert ok(decl, ["ab", "cd"]) == ["ab", "cd"]
    assert message(decl, ["ab", "C"]) == "input 'x' item [1] must match `[a-z]+`, got 'C'"
    assert message({"type": "ARRAY", "itemType": "ENUM", "values": ["a"]}, ["b"]) == (
        "input 'x' item [0] must be one of 'a', got 'b'"
    )


# -- FILE ----------------------------------------------------------------------------------


def test_file_from_a_path_is_stored(tmp_path: Path, storage: Any) -> None:
    source = tmp_path / "orders.csv"
    source.write_bytes(b"id,total\n1,9.5\n")
    uri = ok({"type": "FILE"}, str(source), store_file=storage)
    assert uri == "tercel:///input/x/orders.csv"
    assert storage.read(uri) == b"id,total\n1,9.5\n"
    assert ok({"type": "FILE"}, source, store_file=storage) == uri  # a Path works too
    assert ok({"type": "FILE"}, source.as_uri(), store_file=storage) == uri


def test_file_from_bytes_is_named_after_the_input(storage: Any) -> None:
    uri = ok({"type": "FILE"}, b"\x00\x01", store_file=storage)
    assert uri == "tercel:///input/x/x" and storage.read(uri) == b"\x00\x01"
    uri = ok({"type": "FILE"}, ("report.pdf", b"%PDF"), store_file=storage)
    assert uri == "tercel:///input/x/report.pdf"


def test_file_already_in_storage_is_kept(storage: Any) -> None:
    assert (
        ok({"type": "FILE"}, "tercel:///main/flow/exec/out.csv", store_file=storage)
        == "tercel:///main/flow/exec/out.csv"
    )
    assert storage.calls == []


def test_file_problems(tmp_path: Path, storage: Any) -> None:
    missing = tmp_path / "nope.csv"
    assert message({"type": "FILE"}, str(missing), store_file=storage) == (
        f"input 'x' must be a FILE (a path to a readable file, or its bytes), got {str(missing)!r} (no such file)"
    )
    assert message({"type": "FILE"}, str(tmp_path), store_file=storage).endswith(
        "(it is a directory)"
    )
    assert message({"type": "FILE"}, 42, store_file=storage).endswith("got 42")


def test_file_allowed_extensions(tmp_path: Path, storage: Any) -> None:
    decl = {"type": "FILE", "allowedFileExtensions": [".csv", "TSV"]}
    good, wrong = tmp_path / "DATA.CSV", tmp_path / "data.json"
    good.write_text("a")
    wrong.write_text("{}")
    assert ok(decl, str(good), store_file=storage) == "tercel:///input/x/DATA.CSV"
    assert (
        message(decl, str(wrong), store_file=storage)
        == "input 'x' must be a file ending in .csv, .tsv, got 'data.json'"
    )
    assert message(decl, b"raw", store_file=storage) == (
        "input 'x' must be a file ending in .csv, .tsv, got bytes without a file name"
    )
    assert storage.calls == [("x", "DATA.CSV")]


def test_file_paths_can_be_refused_for_api_callers(tmp_path: Path, storage: Any) -> None:
    secret = tmp_path / "id_rsa"
    secret.write_text("key")
    [problem] = bad({"type": "FILE"}, str(secret), store_file=storage, local_files=False)
    # long values are shortened in messages, so only the start of the path is certain
    assert problem.message.startswith("input 'x' must be an uploaded file, got '/")
    assert problem.message[len("input 'x' must be an uploaded file, got '") :].rstrip("'…") in str(secret)
    assert (
        ok({"type": "FILE"}, b"upload", store_file=storage, local_files=False)
        == "tercel:///input/x/x"
    )


def test_file_without_a_storage_is_a_clear_problem(tmp_path: Path) -> None:
    assert (
        message({"type": "FILE"}, b"data")
        == "input 'x' cannot be stored: no file storage was given to resolve inputs"
    )


# -- required, defaults --------------------------------------------------------------------


def test_none_means_not_provided() -> None:
    assert message({"type": "INT"}, None) == "input 'x' is required but was not provided"
    assert ok({"type": "INT", "required": False}, None) is None
    assert ok({"type": "INT", "defaults": "7"}, None) == 7
