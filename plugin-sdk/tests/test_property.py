"""`Property[T]`: literals checked at model time, expressions kept, rendered values coerced."""

from __future__ import annotations

import enum
import json
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from tercel_sdk import Duration, Property, contains_expression, is_expression, is_truthy
from tercel_sdk.errors import PropertyValueError


class Endpoint(BaseModel):
    host: str
    port: int = 80


class Color(enum.Enum):
    RED = "red"


class Spec(BaseModel):
    # defaults validated too, as in every task and trigger (`PluginType` turns it on)
    model_config = ConfigDict(validate_default=True)

    count: Property[int]
    text: Property[str] = Property.of("hello")
    tags: Property[list[str]] | None = None
    headers: Property[dict[str, int]] | None = None
    when: Property[datetime] | None = None
    level: Property[Literal["INFO", "WARN"]] = Property.of("INFO")
    endpoint: Property[Endpoint] | None = None
    wait: Property[Duration] | None = None
    anything: Property[Any] | None = None
    bare: Property | None = None


# -- literals: validated when the model is built -------------------------------------------------


def test_a_literal_is_validated_and_kept_typed() -> None:
    spec = Spec(count="3", tags=["a", "b"], headers={"x": "1"}, wait="PT5M")
    assert spec.count == Property(3)
    assert spec.count.raw == 3
    assert spec.count.inner_type is int
    assert not spec.count.is_dynamic
    assert spec.tags is not None and spec.tags.raw == ["a", "b"]
    assert spec.headers is not None and spec.headers.raw == {"x": 1}
    assert spec.wait is not None and spec.wait.raw == timedelta(minutes=5)


def test_a_literal_model_value_is_validated() -> None:
    spec = Spec(count=1, endpoint={"host": "example.org"})
    assert spec.endpoint is not None
    assert spec.endpoint.raw == Endpoint(host="example.org", port=80)


def test_a_wrong_literal_fails_at_model_time_with_a_clear_message() -> None:
    with pytest.raises(ValidationError) as info:
        Spec(count="three")
    (error,) = info.value.errors()
    assert error["loc"] == ("count",)
    assert error["type"] == "property_type"
    assert error["msg"] == (
        "Input should be a valid integer, unable to parse string as an integer; "
        "or give an expression like '{{ ... }}'"
    )


def test_the_message_says_where_inside_a_nested_literal() -> None:
    with pytest.raises(ValidationError) as info:
        Spec(count=1, tags=["a", ["b"]])
    (error,) = info.value.errors()
    assert error["loc"][0] == "tags"
    assert "valid string at 1;" in error["msg"]

    with pytest.raises(ValidationError) as info:
        Spec(count=1, endpoint={"host": "h", "port": "eighty"})
    assert "at port;" in info.value.errors()[0]["msg"]


def test_every_wrong_property_is_reported() -> None:
    with pytest.raises(ValidationError) as info:
        Spec(count=[1], level="LOUD", wait="soon")
    locs = {e["loc"][0] for e in info.value.errors()}
    assert {"count", "level", "wait"} <= locs
    assert "'soon'" in str(info.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("count", "{{ inputs.n }}"),
        ("count", "{% if x %}1{% else %}2{% endif %}"),
        ("count", "{# a comment #}"),
        ("count", "  {{ n }}  "),
        ("tags", ["a", "{{ outputs.t.value }}", 3]),  # 3 is not a str: not checked
        ("tags", "{{ inputs.tags }}"),
        ("headers", {"auth": "{{ secret('TOKEN') }}", "n": "not a number"}),
        ("headers", {"{{ inputs.key }}": 1}),
        ("headers", {"outer": {"deep": ["x", {"y": "{{ z }}"}]}}),
        ("endpoint", {"host": "{{ vars.host }}", "port": "not checked"}),
        ("when", "{{ now() }}"),
        ("level", "{{ inputs.level }}"),
        ("wait", "PT{{ inputs.minutes }}M"),
    ],
)
def test_an_expression_anywhere_is_accepted_unvalidated(field: str, value: Any) -> None:
    spec = Spec.model_validate({"count": 1, field: value})
    prop = getattr(spec, field)
    assert isinstance(prop, Property)
    assert prop.raw == value  # kept as written, to be rendered at run time
    assert prop.is_dynamic
    assert prop.name == field


def test_name_and_type_are_set_from_the_field() -> None:
    spec = Spec(count=1)
    assert spec.count.name == "count"
    assert spec.count.inner_type is int
    assert spec.wait is None


def test_defaults_get_their_field_name_and_type() -> None:
    spec = Spec(count=1)
    assert spec.text.name == "text"
    assert spec.text.inner_type is str
    assert spec.level.name == "level"
    assert spec.level.coerce("WARN") == "WARN"
    with pytest.raises(PropertyValueError):
        spec.level.coerce("LOUD")


def test_a_property_instance_is_retyped_and_its_literal_checked() -> None:
    spec = Spec(count=Property.of("7"))
    assert spec.count.raw == 7
    assert spec.count.inner_type is int
    assert spec.count.name == "count"
    assert Spec(count=Property.of("{{ n }}")).count.is_dynamic
    with pytest.raises(ValidationError, match="valid integer"):
        Spec(count=Property.of("seven"))


def test_untyped_property_takes_anything() -> None:
    spec = Spec(count=1, anything={"a": [1, object]}, bare=object)
    assert spec.anything is not None and spec.anything.raw == {"a": [1, object]}
    assert spec.bare is not None and spec.bare.raw is object
    assert spec.anything.coerce(b"x") == b"x"


def test_model_from_json_holds_properties() -> None:
    spec = Spec.model_validate_json(
        '{"count": 3, "tags": ["{{ t }}"], "wait": "PT1M", "text": "{{ x }}"}'
    )
    assert isinstance(spec.count, Property) and spec.count.raw == 3
    assert isinstance(spec.tags, Property) and spec.tags.is_dynamic
    assert spec.wait is not None and spec.wait.raw == timedelta(minutes=1)
    assert spec.text.raw == "{{ x }}"
    with pytest.raises(ValidationError, match="valid integer"):
        Spec.model_validate_json('{"count": "three"}')


def test_serialization_gives_back_the_raw_values() -> None:
    spec = Spec(count="{{ n }}", tags=["a"], wait="PT90S")
    dumped = spec.model_dump(exclude_none=True)
    assert dumped == {
        "count": "{{ n }}",
        "text": "hello",
        "tags": ["a"],
        "level": "INFO",
        "wait": timedelta(seconds=90),
    }
    assert json.loads(spec.model_dump_json(exclude_none=True))["wait"] == "PT1M30S"
    assert Spec.model_validate(dumped) == spec


def test_equality_hash_and_repr() -> None:
    assert Property(1) == Property(1, int, "a")
    assert Property(1) != Property(2)
    assert Property([1]) == Property([1])
    assert Property(1) != 1
    assert hash(Property({"a": 1})) == hash(Property({"a": 1}))
    assert {Property("x"), Property("x")} == {Property("x")}
    assert repr(Property("{{ x }}")) == "Property('{{ x }}')"
    assert Property.of(5).inner_type is Any
    assert Property.of(5).name is None


# -- coerce: what a rendered value becomes -------------------------------------------------------


def prop(tp: Any) -> Property[Any]:
    return Property("{{ rendered }}", tp, "p")


@pytest.mark.parametrize(
    ("tp", "rendered", "expected"),
    [
        (list[int], "[1, 2, 3]", [1, 2, 3]),
        (list[int], "  [1]\n", [1]),
        (list[str], '["a", "b"]', ["a", "b"]),
        (list[Any], '[1, "a", null]', [1, "a", None]),
        (dict[str, int], '{"a": 1}', {"a": 1}),
        (dict[str, Any], '{"a": {"b": [true]}}', {"a": {"b": [True]}}),
        (set[int], "[1, 1, 2]", {1, 2}),
        (tuple[int, str], '[1, "x"]', (1, "x")),
        (list[int] | None, "[4]", [4]),
        (Annotated[list[int], Field(min_length=1)], "[5]", [5]),
        (Endpoint, '{"host": "h", "port": 8080}', Endpoint(host="h", port=8080)),
        (list[Endpoint], '[{"host": "h"}]', [Endpoint(host="h")]),
        (list[int], [1, "2"], [1, 2]),  # already a list: validated as is
        (dict[str, int], {"a": "1"}, {"a": 1}),
    ],
)
def test_json_text_becomes_a_list_dict_or_model(tp: Any, rendered: Any, expected: Any) -> None:
    assert prop(tp).coerce(rendered) == expected


@pytest.mark.parametrize(
    ("tp", "rendered", "expected"),
    [
        (int, "42", 42),
        (int, 42, 42),
        (float, "1.5", 1.5),
        (bool, "true", True),
        (bool, "false", False),
        (Decimal, "1.10", Decimal("1.10")),
        (Duration, "PT5M", timedelta(minutes=5)),
        (Duration, 30, timedelta(seconds=30)),
        (datetime, "2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        (date, "2024-05-01", date(2024, 5, 1)),
        (Literal["INFO", "WARN"], "WARN", "WARN"),
        (int | None, None, None),
    ],
)
def test_scalars_are_validated_like_pydantic(tp: Any, rendered: Any, expected: Any) -> None:
    assert prop(tp).coerce(rendered) == expected


@pytest.mark.parametrize(
    ("tp", "rendered", "expected"),
    [
        (str | list[str], '["a", "b"]', '["a", "b"]'),
        (str | list[str], ["a", "b"], ["a", "b"]),
        (str | list[str], "plain", "plain"),
        (str | list[str], 7, "7"),
        (str | dict[str, Any], '{"a": 1}', '{"a": 1}'),
        (str | None, None, None),
        (str | None, "[1]", "[1]"),
        (str | None, 12, "12"),
        (str | None, {"a": 1}, '{"a":1}'),
        (Annotated[str, Field(max_length=5)], 12345, "12345"),
    ],
)
def test_a_type_accepting_text_keeps_text(tp: Any, rendered: Any, expected: Any) -> None:
    assert prop(tp).coerce(rendered) == expected


@pytest.mark.parametrize(
    ("rendered", "text"),
    [
        ("as is", "as is"),
        (5, "5"),
        (-1.5, "-1.5"),
        (True, "true"),
        (False, "false"),
        (None, ""),
        (Decimal("1.10"), "1.10"),
        (datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC), "2024-05-01T10:00:00Z"),
        (datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC), "2024-05-01T10:00:00.123000Z"),
        (
            datetime(2024, 5, 1, 10, tzinfo=timezone(timedelta(hours=2))),
            "2024-05-01T10:00:00+02:00",
        ),
        (datetime(2024, 5, 1, 10), "2024-05-01T10:00:00"),
        (date(2024, 5, 1), "2024-05-01"),
        (time(8, 30), "08:30:00"),
        (Color.RED, "red"),
        ([1, "a", None, True], '[1,"a",null,true]'),
        ({"a": 1, "b": [1, 2]}, '{"a":1,"b":[1,2]}'),
        ({"when": datetime(2024, 1, 1, tzinfo=UTC)}, '{"when":"2024-01-01T00:00:00Z"}'),
        ({"d": date(2024, 1, 2), "x": Decimal("2.5")}, '{"d":"2024-01-02","x":2.5}'),
        ({"é": "ü"}, '{"é":"ü"}'),
    ],
)
def test_non_text_becomes_text_for_str(rendered: Any, text: str) -> None:
    assert prop(str).coerce(rendered) == text


def test_without_a_type_the_rendered_value_is_kept() -> None:
    value = {"a": object()}
    assert Property("{{ x }}").coerce(value) is value


@pytest.mark.parametrize(
    ("tp", "rendered", "message"),
    [
        (int, "abc", "Input should be a valid integer, unable to parse string as an integer, got 'abc'"),
        (list[int], '[1, "x"]', "valid integer, unable to parse string as an integer at 1, got [1, 'x']"),
        (list[int], "[1, 2", "Input should be a valid list, got '[1, 2'"),
        (list[int], "1, 2", "Input should be a valid list, got '1, 2'"),
        (dict[str, int], '{"a": {"b": 1}}', "valid integer at a, got {'a': {'b': 1}}"),
        (Endpoint, '{"port": 1}', "Field required at host, got {'port': 1}"),
        (list[Endpoint], '[{"host": "h"}, {"host": "h", "port": "x"}]', "at 1.port"),
        (Duration, "soon", "not an ISO 8601 duration: 'soon'"),
    ],
)  # fmt: skip
def test_coerce_errors_name_the_location(tp: Any, rendered: Any, message: str) -> None:
    with pytest.raises(PropertyValueError) as info:
        prop(tp).coerce(rendered)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_a_long_value_is_cut_in_the_error() -> None:
    with pytest.raises(PropertyValueError) as info:
        prop(int).coerce("x" * 500)
    assert str(info.value).endswith("...")
    assert len(str(info.value)) < 200


# -- JSON Schema ---------------------------------------------------------------------------------


def expression_branch(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "string", "pattern": schema["anyOf"][1]["pattern"]}


def test_json_schema_allows_the_type_or_an_expression() -> None:
    schema = Spec.model_json_schema()
    props = schema["properties"]
    pattern = props["count"]["anyOf"][1]["pattern"]
    assert props["count"]["anyOf"] == [
        {"type": "integer"},
        {"type": "string", "pattern": pattern},
    ]
    assert props["text"]["type"] == "string"  # a string can hold an expression anyway
    assert "anyOf" not in props["text"]
    assert props["text"]["default"] == "hello"
    assert props["tags"]["anyOf"] == [
        {"type": "array", "items": {"type": "string"}},
        {"type": "string", "pattern": pattern},
        {"type": "null"},
    ]
    assert props["endpoint"]["anyOf"][0] == {"$ref": "#/$defs/Endpoint"}
    assert "Endpoint" in schema["$defs"]
    assert props["level"]["anyOf"][0] == {"enum": ["INFO", "WARN"], "type": "string"}
    assert props["level"]["default"] == "INFO"
    assert props["wait"]["anyOf"][0]["format"] == "duration"
    assert schema["required"] == ["count"]


@pytest.mark.parametrize("mode", ["validation", "serialization"])
def test_json_schema_in_both_modes(mode: Any) -> None:
    assert Spec.model_json_schema(mode=mode)["properties"]["count"]["anyOf"][0] == {
        "type": "integer"
    }


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("{{ x }}", True),
        ("a {{ x }} b", True),
        ("{% if x %}1{% endif %}", True),
        ("line one\n{{ x }}", True),
        ("plain", False),
        ("{ x }", False),
        ("", False),
    ],
)
def test_the_expression_pattern(text: str, matches: bool) -> None:
    pattern = Spec.model_json_schema()["properties"]["count"]["anyOf"][1]["pattern"]
    assert (re.search(pattern, text) is not None) is matches  # JSON Schema patterns search


# -- helpers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{{ x }}", True),
        ("a{{x}}b", True),
        ("{% set a = 1 %}", True),
        ("{# note #}", True),
        ("{ {", False),
        ("}} {{", True),
        ("plain", False),
        ("", False),
        (None, False),
        (3, False),
        (["{{ x }}"], False),  # only a string is an expression; see contains_expression
    ],
)
def test_is_expression(value: Any, expected: bool) -> None:
    assert is_expression(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{{ x }}", True),
        ("x", False),
        (1, False),
        (None, False),
        ([], False),
        ({}, False),
        (["a", "b"], False),
        (["a", "{{ b }}"], True),
        (("a", ("{% x %}",)), True),
        ({"k": "v"}, False),
        ({"k": "{{ v }}"}, True),
        ({"{{ k }}": "v"}, True),
        ({"a": [{"b": {"c": "{{ deep }}"}}]}, True),
        ({"a": [{"b": {"c": "shallow"}}]}, False),
        ({1: 2, 3: [4, 5.0]}, False),
    ],
)
def test_contains_expression(value: Any, expected: bool) -> None:
    assert contains_expression(value) is expected
    assert Property(value).is_dynamic is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        (True, True),
        (False, False),
        (0, False),
        (1, True),
        (-1, True),
        (0.0, False),
        (-0.0, False),
        (0.5, True),
        (Decimal("0"), False),
        (Decimal("0.1"), True),
        ("", False),
        ("   ", False),
        ("false", False),
        ("False", False),
        (" FALSE ", False),
        ("0", False),
        ("-0", False),
        ("null", False),
        ("NULL", False),
        ("true", True),
        ("no", True),
        ("0.0", True),
        ("none", True),
        ("x", True),
        ([], True),
        ({}, True),
        ([0], True),
        ({"a": False}, True),
    ],
)
def test_is_truthy(value: Any, expected: bool) -> None:
    assert is_truthy(value) is expected
