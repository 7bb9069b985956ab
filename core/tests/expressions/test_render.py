"""The public API: render, evaluate (native types), render_value, is_template, extensions."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from tercel.expressions import ExpressionEngine, ExpressionError, UndefinedVariable, is_template

UTC = dt.UTC


def test_render_returns_text(engine: ExpressionEngine) -> None:
    assert engine.render("Hello {{ name }}!", {"name": "Ada"}) == "Hello Ada!"


def test_render_without_expression_returns_the_same_string(engine: ExpressionEngine) -> None:
    text = "no {expressions} here, } {"
    assert engine.render(text, {}) is text
    assert engine.evaluate(text, {}) is text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (3, "3"),
        (1.5, "1.5"),
        (Decimal("1.50"), "1.50"),
        (Decimal("1E+2"), "100"),
        ([1, "a", None], '[1,"a",null]'),
        ({"a": {"b": True}}, '{"a":{"b":true}}'),
        (dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "2024-01-02T03:04:05Z"),
        (dt.datetime(2024, 1, 2, 3, 4, 5, 120000), "2024-01-02T03:04:05.120000"),
        (dt.date(2024, 1, 2), "2024-01-02"),
        ("text", "text"),
    ],
)
def test_render_prints_values_like_kestra(
    engine: ExpressionEngine, value: object, expected: str
) -> None:
    assert engine.render("{{ v }}", {"v": value}) == expected


def test_render_keeps_trailing_newline_and_whitespace(engine: ExpressionEngine) -> None:
    assert engine.render("  {{ a }}\n", {"a": 1}) == "  1\n"


def test_concat_uses_kestra_text(engine: ExpressionEngine) -> None:
    assert engine.render("{{ 'x' ~ true ~ null ~ v ~ 1.5 }}", {"v": False}) == "xtruefalse1.5"


def test_tags_and_loops(engine: ExpressionEngine) -> None:
    template = (
        "{% for i in items %}{{ loop.index }}={{ i }}{% if not loop.last %},{% endif %}{% endfor %}"
    )
    assert engine.render(template, {"items": ["a", "b"]}) == "1=a,2=b"
    assert engine.render("{% set x = 2 %}{{ x * 3 }}", {}) == "6"
    assert engine.render("{% raw %}{{ not rendered }}{% endraw %}", {}) == "{{ not rendered }}"
    assert engine.render("a{# comment #}b", {}) == "ab"


def test_map_keys_win_over_dict_methods(engine: ExpressionEngine) -> None:
    context = {"outputs": {"task": {"values": {"data": 1}, "items": [1, 2], "keys": "k"}}}
    assert engine.evaluate("{{ outputs.task.values.data }}", context) == 1
    assert engine.evaluate("{{ outputs.task.items }}", context) == [1, 2]
    assert engine.evaluate("{{ outputs.task.keys }}", context) == "k"
    assert (
        engine.render("{% for k, v in m.items() %}{{ k }}{{ v }}{% endfor %}", {"m": {"a": 1}})
        == "a1"
    )


def test_subscript_access(engine: ExpressionEngine) -> None:
    context = {"outputs": {"my-task": {"rows": [{"_id": 7}]}}}
    assert engine.evaluate("{{ outputs['my-task'].rows[0]._id }}", context) == 7
    assert engine.evaluate("{{ outputs['my-task'].rows[-1]['_id'] }}", context) == 7


class TestEvaluate:
    """A template that is exactly one expression returns the expression's value."""

    @pytest.mark.parametrize(
        "value",
        [
            dt.datetime(2024, 1, 2, tzinfo=UTC),
            dt.date(2024, 1, 2),
            Decimal("12.340"),
            [1, {"a": None}],
            {"k": [1, 2]},
            None,
            True,
            0,
            2.5,
            "text",
        ],
    )
    def test_native_value_is_returned_unchanged(
        self, engine: ExpressionEngine, value: object
    ) -> None:
        result = engine.evaluate("{{ v }}", {"v": value})
        assert result == value
        assert type(result) is type(value)

    def test_same_object_is_returned(self, engine: ExpressionEngine) -> None:
        rows = [{"a": 1}]
        assert engine.evaluate("{{ rows }}", {"rows": rows}) is rows

    def test_surrounding_whitespace_is_allowed(self, engine: ExpressionEngine) -> None:
        assert engine.evaluate("  {{ n + 1 }}\n", {"n": 1}) == 2
        assert engine.evaluate("{{- n -}}", {"n": 1}) == 1

    def test_literals_and_expressions(self, engine: ExpressionEngine) -> None:
        assert engine.evaluate("{{ [1, 2] }}", {}) == [1, 2]
        assert engine.evaluate("{{ {'a': 1} }}", {}) == {"a": 1}
        assert engine.evaluate("{{ null }}", {}) is None
        assert engine.evaluate("{{ 'a' ~ 'b' }}", {}) == "ab"
        assert engine.evaluate("{{ now() }}", {}).tzinfo is not None

    def test_anything_else_is_text(self, engine: ExpressionEngine) -> None:
        assert engine.evaluate("{{ a }}{{ b }}", {"a": 1, "b": 2}) == "12"
        assert engine.evaluate("n={{ a }}", {"a": 1}) == "n=1"
        assert engine.evaluate("{% if true %}{{ a }}{% endif %}", {"a": 1}) == "1"

    def test_undefined_inside_a_literal_is_an_error(self, engine: ExpressionEngine) -> None:
        with pytest.raises(UndefinedVariable, match="'missing' is undefined"):
            engine.evaluate("{{ [1, {'a': missing}] }}", {})

    def test_undefined_result_is_an_error(self, engine: ExpressionEngine) -> None:
        with pytest.raises(UndefinedVariable, match=r"'x\.y' is undefined"):
            engine.evaluate("{{ x.y }}", {"x": {}})


class TestRenderValue:
    def test_nested_structures(self, engine: ExpressionEngine) -> None:
        when = dt.datetime(2024, 1, 2, tzinfo=UTC)
        value = {
            "plain": "text",
            "{{ key }}": ["{{ when }}", "at {{ when }}", 3, None, ("{{ n }}",)],
            "nested": {"deep": "{{ n + 1 }}"},
            5: True,
        }
        context = {"key": "k", "when": when, "n": 1}
        assert engine.render_value(value, context) == {
            "plain": "text",
            "k": [when, "at 2024-01-02T00:00:00Z", 3, None, (1,)],
            "nested": {"deep": 2},
            5: True,
        }

    def test_text_mode(self, engine: ExpressionEngine) -> None:
        assert engine.render_value({"a": ["{{ n }}"]}, {"n": 1}, native=False) == {"a": ["1"]}

    def test_untouched_values_are_not_copied(self, engine: ExpressionEngine) -> None:
        value = {"a": ["x", {"b": 1}], "c": "plain"}
        assert engine.render_value(value, {}) is value
        assert engine.render_value("plain", {}) == "plain"
        obj = object()
        assert engine.render_value(obj, {}) is obj


def test_check_reports_syntax_problems_without_a_context(engine: ExpressionEngine) -> None:
    assert engine.check("Hello {{ inputs.name ?? 'x' | upper }}") is None
    assert engine.check("plain") is None
    assert engine.check("{{ undefined_is_fine_here }}") is None
    assert "unexpected" in (engine.check("{{ a + }}") or "")
    assert "No filter named 'nope'" in (engine.check("{{ a | nope }}") or "")
    assert "not allowed" in (engine.check("{{ ''.__class__ }}") or "")
    assert (engine.check("ok\n{{ a + }}") or "").endswith("(line 2)")


def test_is_template() -> None:
    assert is_template("{{ a }}")
    assert is_template("x {% if a %}{% endif %}")
    assert is_template("{# c #}")
    assert not is_template("{ a }")
    assert not is_template("plain")
    assert ExpressionEngine.is_template("{{ a }}")


def test_plugin_functions_filters_and_tests() -> None:
    engine = ExpressionEngine(
        functions={"double": lambda x: x * 2},
        filters={"shout": lambda s: s.upper() + "!"},
        tests={"answer": lambda n: n == 42},
    )
    assert (
        engine.render("{{ double(2) }} {{ 'hi' | shout }} {{ 42 is answer }}", {}) == "4 HI! true"
    )


def test_plugin_function_overrides_builtin() -> None:
    engine = ExpressionEngine(functions={"uuid": lambda: "fixed"})
    assert engine.render("{{ uuid() }}", {}) == "fixed"


def test_compiled_templates_are_cached(engine: ExpressionEngine) -> None:
    template = "{{ cached_probe + 1 }}"
    engine.evaluate(template, {"cached_probe": 1})
    before = engine._compile.cache_info().hits
    for n in range(5):
        assert engine.evaluate(template, {"cached_probe": n}) == n + 1
    assert engine._compile.cache_info().hits == before + 5


def test_cache_is_bounded() -> None:
    engine = ExpressionEngine(cache_size=4)
    for n in range(10):
        engine.render("{{ " + str(n) + " }}", {})
    assert engine._compile.cache_info().currsize == 4


def test_thread_safe_rendering(engine: ExpressionEngine) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(200):
                assert engine.evaluate("{{ a ?? b }}", {"b": n * 1000 + i}) == n * 1000 + i
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_context_mapping_is_not_mutated(engine: ExpressionEngine) -> None:
    context = {"a": 1}
    engine.render("{% set a = 2 %}{{ a }}", context)
    assert context == {"a": 1}


def test_errors_are_expression_errors(engine: ExpressionEngine) -> None:
    with pytest.raises(ExpressionError):
        engine.render("{{ 1 / 0 }}", {})
