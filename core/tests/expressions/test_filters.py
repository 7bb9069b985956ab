"""Kestra's filters and tests, with Pebble's argument order and null handling."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal

import pytest
from tercel.expressions import ExpressionEngine, ExpressionError, SandboxViolation

WHEN = dt.datetime(2024, 7, 9, 6, 17, 1, 171193, tzinfo=dt.UTC)


def ev(engine: ExpressionEngine, template: str, **context: object) -> object:
    return engine.evaluate(template, context)


class TestSerialization:
    def test_to_json(self, engine: ExpressionEngine) -> None:
        assert ev(engine, "{{ [1, 2, 3] | toJson }}") == "[1,2,3]"
        assert ev(engine, "{{ true | toJson }}") == "true"
        assert ev(engine, "{{ 'foo' | toJson }}") == '"foo"'
        assert ev(engine, "{{ null | json }}") == "null"
        assert ev(engine, "{{ v | toJson }}", v={"d": Decimal("1.10"), "t": WHEN, "ü": "é"}) == (
            '{"d":1.10,"t":"2024-07-09T06:17:01.171193Z","ü":"é"}'
        )
        assert json.loads(ev(engine, "{{ v | tojson }}", v={"s": {1, 2}})) == {"s": [1, 2]}

    def test_to_ion(self, engine: ExpressionEngine) -> None:
        assert ev(engine, "{{ v | toIon }}", v={"a": Decimal("1.50"), "b": [1, "x", None]}) == (
            '{a:1.50,b:[1,"x",null]}'
        )
        assert ev(engine, "{{ d | toIon }}", d=WHEN) == "2024-07-09T06:17:01.171193Z"

    def test_to_ion_round_trips_with_from_ion(self, engine: ExpressionEngine) -> None:
        value = {"d": Decimal("3.14"), "when": WHEN, "list": [1, True, None]}
        assert ev(engine, "{{ fromIon(v | toIon) }}", v=value) == value

    def test_yaml(self, engine: ExpressionEngine) -> None:
        assert ev(engine, "{{ v | yaml }}", v={"a": 1, "b": [1, "x"], "c": None}) == (
            "a: 1\nb:\n  - 1\n  - x\nc: null\n"
        )
        assert ev(engine, "{{ 'foo' | yaml }}") == "foo\n"
        assert ev(engine, "{{ null | yaml }}") == "null"
        assert ev(engine, "{{ v | yaml }}", v={"d": Decimal("1.5"), "t": WHEN}) == (
            "d: 1.5\nt: '2024-07-09T06:17:01.171193Z'\n"
        )

    def test_jq_returns_a_list(self, engine: ExpressionEngine) -> None:
        assert ev(engine, "{{ [1, 2, 3] | jq('.') }}") == [[1, 2, 3]]
        assert ev(engine, "{{ [1, 2, 3] | jq('.[0]') | first }}") == 1
        assert ev(engine, "{{ v | jq('.[]') }}", v=[1, 2]) == [1, 2]
        outputs = {"task1": {"value": 1, "text": "awesome1"}, "task2": {"value": 2}}
        assert ev(engine, "{{ outputs | jq('.task1.value') | first }}", outputs=outputs) == 1
        assert (
            ev(
                engine,
                "{{ v | values | jq('reduce .[] as $n (0; .+$n)') | first }}",
                v={"a": 2, "b": 3},
            )
            == 5
        )
        assert ev(engine, "{{ s | jq('.a') }}", s='{"a": "from text"}') == ["from text"]
        assert ev(engine, "{{ v | jq('.t') }}", v={"t": WHEN, "d": Decimal("2.5")}) == [
            "2024-07-09T06:17:01.171193Z"
        ]

    def test_jq_errors(self, engine: ExpressionEngine) -> None:
        with pytest.raises(ExpressionError, match="jq"):
            ev(engine, "{{ [1] | jq('.[') }}")
        with pytest.raises(ExpressionError, match="jq"):
            ev(engine, "{{ 'not json' | jq('.') }}")
        with pytest.raises(SandboxViolation):
            ev(engine, "{{ 1 | jq('range(200000)') }}")


class TestCollections:
    def test_first_last(self, engine: ExpressionEngine) -> None:
        assert ev(engine, "{{ ['apple', 'banana'] | first }}") == "apple"
        assert ev(engine, "{{ 'Mitch' | first }}") == "M"
        assert ev(engine, "{{ ['apple', 'banana'] | last }}") == "banana"
        assert ev(engine, "{{ 'Mitch' | last }}") == "h"
        assert ev(engine, "{{ [] | first }}") is None
        assert ev(engine, "{{ null | last }}") is None

    def test_keys_values(self, engine: ExpressionEngine) -> None:
        assert ev(engine, "{{ {'foo': 'bar', 'baz': 'qux'} | keys }}") == ["foo", "baz"]
        assert ev(engine, "{{ {'foo': 'bar', 'baz': 'qux'} | values }}") == ["bar", "qux"]
        assert ev(engine, "{{ ['a', 'b'] | keys }}") == [0, 1]

    def test_length(self, engine: ExpressionEngine) -> None:
        assert ev(engine, "{{ 'Mitch' | length }}") == 5
        assert ev(engine, "{{ {'a': 1} | length }}") == 1
        assert ev(engine, "{{ null | length }}") == 0

    def test_chunk_distinct_merge(self, engine: ExpressionEngine) -> None:
        assert ev(engine, "{{ [1, 2, 3, 4, 5] | chunk(2) }}") == [[1, 2], [3, 4], [5]]
        assert ev(engine, "{{ ['1', '1', '2', '3'] | distinct }}") == ["1", "2", "3"]
        assert ev(engine, "{{ [{'a': 1}, {'a': 1}] | distinct }}") == [{"a": 1}]
        assert ev(engine, "{{ [1, 2] | merge([3, 4]) }}") == [1, 2, 3, 4]
        assert ev(engine, "{{ {'a': 1, 'b': 1} | merge({'b': 2}) }}") == {"a": 1, "b": 2}
        with pytest.raises(ExpressionError):
            ev(engine, "{{ [1] | chunk(0) }}")
        with pytest.raises(ExpressionError):
            ev(engine, "{{ [1] | merge({'a': 1}) }}")

    def test_order(self, engine: ExpressionEngine) -> None:
        assert ev(engine, "{{ [3, 1, 2] | sort }}") == [1, 2, 3]
        assert ev(engine, "{{ [3, 1, 2] | rsort }}") == [3, 2, 1]
        assert ev(engine, "{{ ['apple', 'banana'] | reverse }}") == ["banana", "apple"]
        assert ev(engine, "{{ 'abc' | reverse }}") == "cba"

    def test_join_and_slice(self, engine: ExpressionEngine) -> None:
        assert ev(engine, "{{ ['apple', 'banana'] | join(', ') }}") == "apple, banana"
        assert ev(engine, "{{ [true, null, 1] | join('|') }}") == "true||1"
        assert ev(engine, "{{ ['apple', 'banana', 'cherry'] | slice(1, 2) }}") == ["banana"]
        assert ev(engine, "{{ 'Mitch' | slice(1, 3) }}") == "it"

    def test_split_like_java(self, engine: ExpressionEngine) -> None:
        assert ev(engine, "{{ 'apple,banana,cherry' | split(',') }}") == [
            "apple",
            "banana",
            "cherry",
        ]
        assert ev(engine, "{{ 'apple,banana,cherry,grape' | split(',', 2) }}") == [
            "apple",
            "banana,cherry,grape",
        ]
        assert ev(engine, "{{ 'a.b.c' | split('\\\\.') }}") == ["a", "b", "c"]
        assert ev(engine, "{{ 'a,b,,' | split(',') }}") == ["a", "b"]
        assert ev(engine, "{{ 'a,b,,' | split(',', -1) }}") == ["a", "b", "", ""]
        assert ev(engine, "{{ 'abc' | split('') }}") == ["a", "b", "c"]
        assert ev(engine, "{{ '' | split(',') }}") == [""]


class TestStrings:
    @pytest.mark.parametrize(
        ("template", "expected"),
        [
            ("{{ 'a.b.c' | substringBefore('.') }}", "a"),
            ("{{ 'a.b.c' | substringAfter('.') }}", "b.c"),
            ("{{ 'a.b.c' | substringBeforeLast('.') }}", "a.b"),
            ("{{ 'a.b.c' | substringAfterLast('.') }}", "c"),
            ("{{ 'abc' | substringBefore('x') }}", "abc"),
            ("{{ 'abc' | substringAfter('x') }}", ""),
            ("{{ 'abc' | substringBeforeLast('x') }}", "abc"),
            ("{{ 'abc' | substringAfterLast('x') }}", ""),
            ("{{ 'Hello World!' | slugify }}", "hello-world"),
            ("{{ '  Crème Brûlée à la carte ' | slugify }}", "creme-brulee-a-la-carte"),
            ("{{ 'this is a long sentence.' | abbreviate(7) }}", "this..."),
            ("{{ 'short' | abbreviate(10) }}", "short"),
            ("{{ 'article title' | capitalize }}", "Article title"),
            ("{{ 'mIXed case' | capitalize }}", "MIXed case"),
            ("{{ 'article title' | title }}", "Article Title"),
            ("{{ 'LOUD TEXT' | lower }}", "loud text"),
            ("{{ 'quiet' | upper }}", "QUIET"),
            ("{{ '   padded text   ' | trim }}", "padded text"),
            ("{{ 'hello world' | startsWith('hello') }}", True),
            ("{{ 'hello world' | endsWith('hello') }}", False),
            ("{{ 123 | string }}", "123"),
            ("{{ true | string }}", "true"),
            ("{{ 'test' | base64encode }}", "dGVzdA=="),
            ("{{ 'dGVzdA==' | base64decode }}", "test"),
            ("{{ 'The string ü@foo-bar' | urlencode }}", "The+string+%C3%BC%40foo-bar"),
            ("{{ 'The+string+%C3%BC%40foo-bar' | urldecode }}", "The string ü@foo-bar"),
            ("{{ {'a': 'x y', 'b': 1} | urlencode }}", "a=x+y&b=1"),
            ("{{ \"Can't be here\" | escapeChar('single') }}", "Can\\'t be here"),
            ("{{ 'say \"hi\"' | escapeChar('double') }}", 'say \\"hi\\"'),
            ("{{ \"it's\" | escapeChar('shell') }}", "it'\\''s"),
            ("{{ 'key: value\nnext: 1' | indent(2) }}", "key: value\n  next: 1"),
            ("{{ 'key: value\nnext: 1' | nindent(2) }}", "\n  key: value\n  next: 1"),
            ("{{ '' | nindent(4) }}", ""),
            ("{{ 'x' | raw }}", "x"),
        ],
    )
    def test_values(self, engine: ExpressionEngine, template: str, expected: object) -> None:
        assert engine.evaluate(template, {}) == expected

    @pytest.mark.parametrize("name", ["sha1", "sha256", "sha512", "md5"])
    def test_digests(self, engine: ExpressionEngine, name: str) -> None:
        assert ev(engine, f"{{{{ 'test' | {name} }}}}") == hashlib.new(name, b"test").hexdigest()

    def test_indent_keeps_the_line_separator(self, engine: ExpressionEngine) -> None:
        assert ev(engine, "{{ v | indent(1, '-') }}", v="a\r\nb") == "a\r\n-b"
        assert ev(engine, "{{ v | yaml | indent(2) }}", v={"k": [1]}) == "k:\n    - 1\n  "

    def test_null_passes_through(self, engine: ExpressionEngine) -> None:
        for name in (
            "upper",
            "lower",
            "trim",
            "capitalize",
            "title",
            "slugify",
            "sha256",
            "base64encode",
        ):
            assert ev(engine, f"{{{{ null | {name} }}}}") is None

    def test_replace_pebble_map_form(self, engine: ExpressionEngine) -> None:
        template = "{{ 'I like %this% and %that%.' | replace({'%this%': foo, '%that%': 'bar'}) }}"
        assert ev(engine, template, foo="foo") == "I like foo and bar."
        assert ev(engine, "{{ ['a-1', {'k': 'b-2'}] | replace({'-': '_'}) }}") == [
            "a_1",
            {"k": "b_2"},
        ]
        assert ev(engine, "{{ 'a1b22' | replace({'[0-9]+': '#'}, regexp=true) }}") == "a#b#"
        assert ev(engine, "{{ 'ab' | replace({'(a)(b)': '$2$1'}, regexp=true) }}") == "ba"

    def test_replace_jinja_form(self, engine: ExpressionEngine) -> None:
        assert ev(engine, "{{ 'aaa' | replace('a', 'b') }}") == "bbb"
        assert ev(engine, "{{ 'aaa' | replace('a', 'b', 2) }}") == "bba"

    def test_escape_char_needs_a_known_type(self, engine: ExpressionEngine) -> None:
        with pytest.raises(ExpressionError, match="single"):
            ev(engine, "{{ 'x' | escapeChar('html') }}")

    def test_base64decode_rejects_garbage(self, engine: ExpressionEngine) -> None:
        with pytest.raises(ExpressionError, match="base64"):
            ev(engine, "{{ '***' | base64decode }}")


class TestNumbers:
    def test_number(self, engine: ExpressionEngine) -> None:
        assert ev(engine, "{{ '12' | number }}") == 12
        assert ev(engine, "{{ '12.3' | number }}") == 12.3
        assert ev(engine, "{{ '0x1F' | number }}") == 31
        assert ev(engine, "{{ '12.30' | number('BIGDECIMAL') }}") == Decimal("12.30")
        assert type(ev(engine, "{{ '12.30' | number('BIGDECIMAL') }}")) is Decimal
        assert (
            ev(engine, "{{ '9223372036854775807' | number('BIGINTEGER') }}") == 9223372036854775807
        )
        assert ev(engine, "{{ '7' | number('DOUBLE') }}") == 7.0
        assert ev(engine, "{{ '7' | number('INT') }}") == 7
        with pytest.raises(ExpressionError, match="not a number"):
            ev(engine, "{{ 'abc' | number }}")
        with pytest.raises(ExpressionError, match="type"):
            ev(engine, "{{ '1' | number('COMPLEX') }}")

    @pytest.mark.parametrize(
        ("value", "pattern", "expected"),
        [
            (3.141592653, "#.##", "3.14"),
            (1234567.891, "#,##0.00", "1,234,567.89"),
            (0.5, "#.##", ".5"),
            (0, "#.##", "0"),
            (5, "0000", "0005"),
            (1.5, "0.000", "1.500"),
            (0.256, "0.0%", "25.6%"),
            (-1234.5, "#,##0.0", "-1,234.5"),
            (2.5, "#", "2"),
            (3.5, "#", "4"),
            (Decimal("1234.5"), "'€' #,##0.00", "€ 1,234.50"),
            (1234, "#,##0.00;(#,##0.00)", "1,234.00"),
        ],
    )
    def test_number_format(
        self, engine: ExpressionEngine, value: object, pattern: str, expected: str
    ) -> None:
        assert engine.evaluate("{{ v | numberFormat(p) }}", {"v": value, "p": pattern}) == expected

    def test_abs(self, engine: ExpressionEngine) -> None:
        assert ev(engine, "{{ -7 | abs }}") == 7

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("s", "java.lang.String"),
            (1, "java.lang.Integer"),
            (2**40, "java.lang.Long"),
            (2**70, "java.math.BigInteger"),
            (1.5, "java.lang.Double"),
            (Decimal("1"), "java.math.BigDecimal"),
            (True, "java.lang.Boolean"),
            ([1], "java.util.ArrayList"),
            ({"a": 1}, "java.util.LinkedHashMap"),
            (WHEN, "java.time.ZonedDateTime"),
            (dt.date(2024, 1, 1), "java.time.LocalDate"),
            (None, None),
        ],
    )
    def test_class_name(
        self, engine: ExpressionEngine, value: object, expected: str | None
    ) -> None:
        assert engine.evaluate("{{ v | className }}", {"v": value}) == expected


class TestTests:
    @pytest.mark.parametrize(
        ("template", "expected"),
        [
            ("{{ '' is empty }}", True),
            ("{{ '  ' is empty }}", True),
            ("{{ [] is empty }}", True),
            ("{{ {} is empty }}", True),
            ("{{ null is empty }}", True),
            ("{{ 'x' is empty }}", False),
            ("{{ 0 is empty }}", False),
            ("{{ null is null }}", True),
            ("{{ '' is null }}", False),
            ("{{ 2 is even }}", True),
            ("{{ 3 is odd }}", True),
            ("{{ 3 is even }}", False),
            ("{{ [1] is iterable }}", True),
            ("{{ {'a': 1} is iterable }}", True),
            ("{{ 'text' is iterable }}", False),
            ("{{ 3 is iterable }}", False),
            ("{{ '{\"a\": 1}' is json }}", True),
            ("{{ '[1, 2' is json }}", False),
            ("{{ 3 is json }}", False),
            ("{{ x is defined }}", False),
        ],
    )
    def test_values(self, engine: ExpressionEngine, template: str, expected: bool) -> None:
        assert engine.evaluate(template, {}) is expected


def test_amplifying_jinja_filters_are_gone(engine: ExpressionEngine) -> None:
    for template in ("{{ 'a' | center(10) }}", "{{ '%s' | format(1) }}", "{{ [1] | batch(2) }}"):
        with pytest.raises(ExpressionError, match="No filter named"):
            engine.render(template, {})


def test_useful_jinja_filters_remain(engine: ExpressionEngine) -> None:
    rows = [{"n": 1}, {"n": 2}]
    assert ev(engine, "{{ rows | map(attribute='n') | sum }}", rows=rows) == 3
    assert ev(engine, "{{ rows | selectattr('n', 'gt', 1) | list }}", rows=rows) == [{"n": 2}]
    assert ev(engine, "{{ 2.567 | round(1) }}") == 2.6
