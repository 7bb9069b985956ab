"""Kestra's operators on top of Jinja: `??`, `???`, `? :`, `contains`, `isIn`, `null`."""

from __future__ import annotations

import datetime as dt

import pytest
from tercel.expressions import ExpressionEngine, ExpressionSyntaxError, UndefinedVariable

CONTEXT = {
    "inputs": {"name": "Ada", "empty": "", "nothing": None, "zero": 0, "no": False},
    "outputs": {"task": {"value": "v", "null": None}},
    "fallback": "fb",
}


class TestNullCoalescing:
    @pytest.mark.parametrize(
        ("template", "expected"),
        [
            ("{{ inputs.name ?? 'd' }}", "Ada"),
            ("{{ inputs.missing ?? 'd' }}", "d"),
            ("{{ inputs.nothing ?? 'd' }}", "d"),
            ("{{ missing ?? 'd' }}", "d"),
            ("{{ missing.deep.path ?? 'd' }}", "d"),
            ("{{ outputs.other.value ?? 'd' }}", "d"),
            ("{{ outputs.task.null.value ?? 'd' }}", "d"),
            ("{{ outputs['task']['value'] ?? 'd' }}", "v"),
            ("{{ inputs.empty ?? 'd' }}", ""),
            ("{{ inputs.zero ?? 'd' }}", 0),
            ("{{ inputs.no ?? 'd' }}", False),
            ("{{ a ?? b ?? 'c' }}", "c"),
            ("{{ a ?? fallback ?? 'c' }}", "fb"),
            ("{{ a ?? (b ?? (c ?? 'deep')) }}", "deep"),
            ("{{ a??'tight' }}", "tight"),
            ("{{ inputs.missing ?? inputs.name }}", "Ada"),
        ],
    )
    def test_values(self, engine: ExpressionEngine, template: str, expected: object) -> None:
        assert engine.evaluate(template, CONTEXT) == expected

    def test_right_side_is_not_evaluated_when_not_needed(self, engine: ExpressionEngine) -> None:
        assert engine.evaluate("{{ inputs.name ?? (1 / 0) }}", CONTEXT) == "Ada"
        assert engine.evaluate("{{ inputs.name ?? undefined_too }}", CONTEXT) == "Ada"

    def test_binds_tighter_than_filters(self, engine: ExpressionEngine) -> None:
        # Pebble: `??` (precedence 120) before `|` (100): the filter applies to the result.
        assert engine.evaluate("{{ inputs.missing ?? 'abc' | upper }}", CONTEXT) == "ABC"
        assert engine.evaluate("{{ inputs.name ?? 'abc' | upper }}", CONTEXT) == "ADA"
        assert engine.evaluate("{{ inputs.name | lower ?? 'x' }}", CONTEXT) == "ada"

    def test_inside_filter_arguments_and_function_calls(self, engine: ExpressionEngine) -> None:
        assert engine.evaluate("{{ 'a-b' | replace('-', sep ?? '+') }}", CONTEXT) == "a+b"
        assert engine.evaluate("{{ [1, 2] | join(sep ?? ', ') }}", CONTEXT) == "1, 2"
        assert engine.evaluate("{{ max(n ?? 5, 3) }}", CONTEXT) == 5
        assert engine.evaluate("{{ (inputs.missing ?? 'p') ~ (x ?? 'q') }}", CONTEXT) == "pq"

    def test_with_arithmetic_and_comparison(self, engine: ExpressionEngine) -> None:
        assert engine.evaluate("{{ n ?? 2 + 3 }}", CONTEXT) == 5
        assert engine.evaluate("{{ (n ?? 2) * 3 }}", CONTEXT) == 6
        assert engine.evaluate("{{ n ?? 2 == 2 }}", CONTEXT) is True

    def test_in_tags(self, engine: ExpressionEngine) -> None:
        template = "{% if inputs.flag ?? true %}yes{% endif %}{% set x = y ?? 3 %}{{ x }}"
        assert engine.render(template, CONTEXT) == "yes3"
        assert engine.render("{% for i in items ?? [1, 2] %}{{ i }}{% endfor %}", CONTEXT) == "12"

    def test_datetime_fallback_then_date_filter(self, engine: ExpressionEngine) -> None:
        start = dt.datetime(2024, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
        context = {"trigger": {}, "execution": {"startDate": start}}
        template = "{{ trigger.date ?? execution.startDate | date('yyyy-MM-dd') }}"
        assert engine.evaluate(template, context) == "2024-03-04"
        template = "{{ trigger.date ?? (execution.startDate | dateAdd(-1, 'DAYS')) }}"
        assert engine.evaluate(template, context) == start - dt.timedelta(days=1)

    def test_not_touched_inside_string_literals(self, engine: ExpressionEngine) -> None:
        assert engine.evaluate("{{ 'a ?? b' }}", {}) == "a ?? b"
        assert engine.evaluate('{{ "x ??? y" ~ (m ?? "?") }}', {}) == "x ??? y?"
        assert engine.render("text ?? outside {{ 1 }}", {}) == "text ?? outside 1"
        assert engine.evaluate("{{ '??' ?? 'no' }}", {}) == "??"

    def test_right_side_undefined_still_fails(self, engine: ExpressionEngine) -> None:
        with pytest.raises(UndefinedVariable, match="'raise' is undefined"):
            engine.evaluate("{{ foo ?? bar ?? raise }}", {})
        with pytest.raises(UndefinedVariable):
            engine.render("{{ foo ?? bar.baz }}", {})

    def test_sandbox_errors_are_not_swallowed(self, engine: ExpressionEngine) -> None:
        from tercel.expressions import SandboxViolation

        class Holder:
            _secret = "hidden"

        with pytest.raises(SandboxViolation):
            engine.evaluate("{{ obj._secret ?? 'x' }}", {"obj": Holder()})
        with pytest.raises(SandboxViolation):
            engine.evaluate("{{ obj._secret | default('x') }}", {"obj": Holder()})


class TestUndefinedCoalescing:
    @pytest.mark.parametrize(
        ("template", "expected"),
        [
            ("{{ inputs.missing ??? 'd' }}", "d"),
            ("{{ missing.deep ??? 'd' }}", "d"),
            ("{{ inputs.nothing ??? 'd' }}", None),
            ("{{ outputs.task.null ??? 'd' }}", None),
            ("{{ inputs.name ??? 'd' }}", "Ada"),
            ("{{ a ??? b ?? 'c' }}", "c"),
            ("{{ inputs.nothing ??? 'x' ?? 'y' }}", "y"),
        ],
    )
    def test_values(self, engine: ExpressionEngine, template: str, expected: object) -> None:
        assert engine.evaluate(template, CONTEXT) == expected


class TestOtherOperators:
    def test_ternary(self, engine: ExpressionEngine) -> None:
        assert engine.evaluate("{{ inputs.name == 'Ada' ? 'yes' : 'no' }}", CONTEXT) == "yes"
        assert engine.evaluate("{{ inputs.zero ? 'yes' : 'no' }}", CONTEXT) == "no"
        assert engine.evaluate("{{ a ? 1 : b ? 2 : 3 }}", {"a": False, "b": True}) == 2
        assert (
            engine.evaluate("{{ foo == null ? bar : baz }}", {"foo": None, "bar": 1, "baz": 2}) == 1
        )

    def test_jinja_inline_if_still_works(self, engine: ExpressionEngine) -> None:
        assert engine.evaluate("{{ 'y' if inputs.name else 'n' }}", CONTEXT) == "y"

    def test_contains_and_is_in(self, engine: ExpressionEngine) -> None:
        assert engine.evaluate("{{ ['apple', 'pear'] contains 'apple' }}", {}) is True
        assert engine.evaluate("{{ 'hello' contains 'x' }}", {}) is False
        assert engine.evaluate("{{ {'a': 1} contains 'a' }}", {}) is True
        assert (
            engine.evaluate("{{ state isIn ['SUCCESS', 'KILLED'] }}", {"state": "KILLED"}) is True
        )
        assert engine.evaluate("{{ state isIn ['SUCCESS'] }}", {"state": "FAILED"}) is False
        assert engine.render("{% if [1, 2] contains 2 %}ok{% endif %}", {}) == "ok"

    def test_null_literal_and_tests(self, engine: ExpressionEngine) -> None:
        assert engine.evaluate("{{ null }}", {}) is None
        assert engine.evaluate("{{ inputs.nothing == null }}", CONTEXT) is True
        assert engine.evaluate("{{ inputs.nothing is null }}", CONTEXT) is True
        assert engine.evaluate("{{ inputs.name is not null }}", CONTEXT) is True
        assert engine.evaluate("{{ none is null and None is null }}", {}) is True

    def test_precedence_of_math_and_logic_is_unchanged(self, engine: ExpressionEngine) -> None:
        assert engine.evaluate("{{ 1 + 2 * 3 }}", {}) == 7
        assert engine.evaluate("{{ -3 | abs }}", {}) == 3
        assert engine.evaluate("{{ not false and (1 < 2 or x) }}", {}) is True

    @pytest.mark.parametrize(
        "template", ["{{ a ?? }}", "{{ ?? b }}", "{{ a ? b }}", "{{ a ???? b }}"]
    )
    def test_malformed(self, engine: ExpressionEngine, template: str) -> None:
        with pytest.raises(ExpressionSyntaxError):
            engine.render(template, {})


class TestTolerantFilterAndTests:
    def test_default_swallows_undefined_paths(self, engine: ExpressionEngine) -> None:
        assert engine.evaluate("{{ outputs.nope.value | default('d') }}", CONTEXT) == "d"
        assert engine.evaluate("{{ missing | d('short') }}", CONTEXT) == "short"
        assert engine.evaluate("{{ inputs.name | default('d') }}", CONTEXT) == "Ada"

    def test_default_like_pebble_replaces_null_and_empty(self, engine: ExpressionEngine) -> None:
        assert engine.evaluate("{{ inputs.nothing | default('d') }}", CONTEXT) == "d"
        assert engine.evaluate("{{ inputs.empty | default('d') }}", CONTEXT) == "d"
        assert engine.evaluate("{{ '   ' | default('d') }}", {}) == "d"
        assert engine.evaluate("{{ [] | default('d') }}", {}) == "d"
        assert engine.evaluate("{{ inputs.zero | default('d') }}", CONTEXT) == 0
        assert engine.evaluate("{{ inputs.zero | default('d', true) }}", CONTEXT) == "d"

    def test_defined(self, engine: ExpressionEngine) -> None:
        assert engine.evaluate("{{ inputs.name is defined }}", CONTEXT) is True
        assert engine.evaluate("{{ inputs.missing is defined }}", CONTEXT) is False
        assert engine.evaluate("{{ a.b.c is defined }}", CONTEXT) is False
        assert engine.evaluate("{{ a.b.c is not defined }}", CONTEXT) is True
        assert engine.evaluate("{{ a.b is undefined }}", CONTEXT) is True
        assert engine.evaluate("{{ inputs.nothing is defined }}", CONTEXT) is True

    def test_strict_everywhere_else(self, engine: ExpressionEngine) -> None:
        for template in ("{{ missing }}", "{% if missing %}{% endif %}", "{{ missing | upper }}"):
            with pytest.raises(UndefinedVariable):
                engine.render(template, {})
