"""Errors are `TercelError`s that say what failed and where, and never leak Jinja exceptions."""

from __future__ import annotations

import pickle

import jinja2
import pytest
from tercel.errors import Position, TercelError
from tercel.expressions import (
    ExpressionEngine,
    ExpressionError,
    ExpressionSyntaxError,
    SandboxViolation,
    UndefinedVariable,
)


def error_of(
    engine: ExpressionEngine, template: str, context: dict[str, object] | None = None
) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        engine.render(template, context or {})
    assert not isinstance(info.value, jinja2.TemplateError)
    return info.value


def test_hierarchy() -> None:
    for kind in (UndefinedVariable, SandboxViolation, ExpressionSyntaxError):
        assert issubclass(kind, ExpressionError)
    assert issubclass(ExpressionError, TercelError)


class TestUndefined:
    def test_names_the_full_dotted_path(self, engine: ExpressionEngine) -> None:
        error = error_of(engine, "{{ outputs.hello.value }}", {"outputs": {}})
        assert isinstance(error, UndefinedVariable)
        assert error.message == "'outputs.hello' is undefined"
        assert (
            str(error)
            == "'outputs.hello' is undefined (line 1, column 4 of `{{ outputs.hello.value }}`)"
        )
        assert error.position == Position(1, 4)

    def test_top_level_name(self, engine: ExpressionEngine) -> None:
        error = error_of(engine, "Hi {{ inputz.name }}")
        assert error.message == "'inputz' is undefined"
        assert (error.line, error.column) == (1, 7)

    def test_last_segment(self, engine: ExpressionEngine) -> None:
        error = error_of(engine, "{{ inputs.a.b.c }}", {"inputs": {"a": {"b": {}}}})
        assert error.message == "'inputs.a.b.c' is undefined"

    def test_subscripts(self, engine: ExpressionEngine) -> None:
        context = {"outputs": {"my-task": {"rows": []}}}
        error = error_of(engine, "{{ outputs['my-task'].rows[0] }}", context)
        assert error.message == "'outputs['my-task'].rows[0]' is undefined"
        error = error_of(engine, "{{ outputs['other-task'].value }}", context)
        assert error.message == "'outputs['other-task']' is undefined"

    def test_attribute_of_null(self, engine: ExpressionEngine) -> None:
        error = error_of(engine, "{{ trigger.body.id }}", {"trigger": {"body": None}})
        assert error.message == "'trigger.body.id' is undefined ('trigger.body' is null)"

    def test_line_and_column_in_a_multiline_template(self, engine: ExpressionEngine) -> None:
        template = "first line\nsecond {{ ok }}\n  third {{ outputs.missing.value }} end"
        error = error_of(engine, template, {"ok": 1, "outputs": {}})
        assert (error.line, error.column) == (3, 12)
        assert "`third {{ outputs.missing.value }} end`" in str(error)

    def test_inside_tags_and_loops(self, engine: ExpressionEngine) -> None:
        template = "{% for x in items %}\n{{ x.name }}\n{% endfor %}"
        error = error_of(engine, template, {"items": [{"name": 1}, {}]})
        assert error.message == "'x.name' is undefined"
        assert error.line == 2

    def test_evaluate_too(self, engine: ExpressionEngine) -> None:
        with pytest.raises(UndefinedVariable, match="'nope' is undefined"):
            engine.evaluate("{{ nope }}", {})


class TestSyntax:
    @pytest.mark.parametrize(
        "template",
        [
            "{{ a + }}",
            "{{ a",
            "{% if a %}",
            "{{ 'unterminated }}",
            "{% endfor %}",
            "{{ a b }}",
            "{{ a.1b }}",
        ],
    )
    def test_syntax_errors(self, engine: ExpressionEngine, template: str) -> None:
        error = error_of(engine, template, {"a": 1})
        assert isinstance(error, ExpressionSyntaxError)
        assert error.template == template
        assert error.line == 1

    def test_unknown_filter_is_a_syntax_error(self, engine: ExpressionEngine) -> None:
        error = error_of(engine, "{{ a | nope }}", {"a": 1})
        assert isinstance(error, ExpressionSyntaxError)
        assert "nope" in error.message

    def test_line_number(self, engine: ExpressionEngine) -> None:
        error = error_of(engine, "ok\nok\n{{ a + }}")
        assert error.line == 3

    def test_unknown_function_is_undefined(self, engine: ExpressionEngine) -> None:
        error = error_of(engine, "{{ nope(1) }}")
        assert isinstance(error, UndefinedVariable)
        assert error.message == "'nope' is undefined"


class TestRuntime:
    @pytest.mark.parametrize(
        ("template", "fragment"),
        [
            ("{{ 1 / 0 }}", "ZeroDivisionError"),
            ("{{ 'a' + 1 }}", "TypeError"),
            ("{{ 'x' | number }}", "'x' is not a number"),
            ("{{ [1, 'a'] | sort }}", "TypeError"),
            ("{{ x | fromJson }}", "No filter named"),
        ],
    )
    def test_messages(self, engine: ExpressionEngine, template: str, fragment: str) -> None:
        assert fragment in str(error_of(engine, template, {"x": 1}))

    def test_position_of_a_runtime_error(self, engine: ExpressionEngine) -> None:
        error = error_of(engine, "a\n{{ 1 / 0 }}")
        assert error.line == 2

    def test_long_templates_are_truncated_in_messages(self, engine: ExpressionEngine) -> None:
        template = "{{ missing }}" + "x" * 500
        message = str(error_of(engine, template))
        assert len(message) < 250
        assert message.endswith("…`)")

    def test_errors_survive_pickling(self, engine: ExpressionEngine) -> None:
        error = error_of(engine, "{{ outputs.x }}", {"outputs": {}})
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is UndefinedVariable
        assert str(copy) == str(error)
        assert copy.position == error.position
