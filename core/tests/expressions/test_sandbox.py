"""A flow can never reach Python internals or exhaust the machine through an expression.

Each payload is a classic Jinja SSTI or resource attack; each must fail fast with
`SandboxViolation` (or, when the name simply does not exist here, `UndefinedVariable`).
"""

from __future__ import annotations

import time

import pytest
from tercel.expressions import (
    CONTEXT_FUNCTIONS_KEY,
    ExpressionEngine,
    ExpressionError,
    ExpressionSyntaxError,
    SandboxViolation,
    UndefinedVariable,
)


class Secretive:
    """An object a caller might put in a context by mistake."""

    _private = "hidden"
    public = "ok"

    def __init__(self) -> None:
        self.__mangled = "hidden"


CONTEXT = {"obj": Secretive(), "data": {"_id": 7, "items": [1, 2]}, "s": "text"}

SANDBOX_PAYLOADS = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ().__class__.__base__.__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ request.application.__globals__.__builtins__.__import__('os') }}",
    "{{ config.__class__.__init__.__globals__['os'] }}",
    "{{ self._TemplateReference__context }}",
    "{{ self._TemplateReference__context.cycler.__init__.__globals__ }}",
    "{{ '{0.__class__}'.format(1) }}",
    "{{ '{0.__class__.__mro__}'.format(s) }}",
    "{{ 'x'.format_map({}) }}",
    "{{ s['__class__'] }}",
    "{{ s | attr('__class__') }}",
    "{{ [s] | map(attribute='__class__') | list }}",
    "{{ obj._private }}",
    "{{ obj['_private'] }}",
    "{{ obj._Secretive__mangled }}",
    "{{ obj._private ?? 'fallback' }}",
    "{{ obj._private | default('fallback') }}",
    "{{ data.__class__ }}",
    "{{ now.__globals__ }}",
    "{{ now().__class__.__subclasses__() }}",
    "{{ dict.mro() }}",
    "{{ [].append(1) }}",
    "{{ data.update({'x': 1}) }}",
    "{{ data.items.__self__ }}",
    "{% for x in range(1, 3) %}{{ loop.__class__ }}{% endfor %}",
    "{{ __tercel_functions__ }}",
    "{{ __builtins__ }}",
    "{% set __x = 1 %}",
    "{{ 'a' * 10**9 }}",
    "{{ [0] * 10**9 }}",
    "{{ 10**9 * 'ab' }}",
    "{{ range(0, 10**9) }}",
    "{% for i in range(0, 10**12) %}{% endfor %}",
    "{{ 9 ** (9 ** 9) }}",
    "{{ 2 ** 100000 }}",
    "{{ '%0999999999d' % 1 }}",
    "{{ '%s' % s }}",
    "{{ 'a' | replace('a', 'b' * 900000) | replace('b', 'c' * 900000) }}",
    "{{ 'a\nb' | indent(10**7) }}",
    "{{ 1 | jq('range(200000)') }}",
]


@pytest.mark.parametrize("payload", SANDBOX_PAYLOADS)
def test_payload_is_refused(engine: ExpressionEngine, payload: str) -> None:
    started = time.perf_counter()
    with pytest.raises((SandboxViolation, UndefinedVariable)):
        engine.render(payload, CONTEXT)
    assert time.perf_counter() - started < 2


@pytest.mark.parametrize(
    "payload",
    [
        "{{ ''.__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum.__globals__ }}",
        "{{ self._TemplateReference__context }}",
        "{{ ().__class__.__base__.__subclasses__() }}",
        "{{ '{0.__class__}'.format(1) }}",
        "{{ range(0, 10**9) }}",
        "{{ 'a' * 10**9 }}",
        "{{ obj._private }}",
        "{{ dict.mro() }}",
    ],
)
def test_classic_payloads_are_sandbox_violations(engine: ExpressionEngine, payload: str) -> None:
    with pytest.raises(SandboxViolation):
        engine.render(payload, CONTEXT)


def test_jinja_helper_globals_are_gone(engine: ExpressionEngine) -> None:
    for name in ("cycler", "lipsum", "joiner"):
        with pytest.raises(UndefinedVariable, match=f"'{name}' is undefined"):
            engine.render(f"{{{{ {name} }}}}", {})


def test_request_and_config_do_not_exist(engine: ExpressionEngine) -> None:
    for payload in ("{{ request }}", "{{ config.items() }}"):
        with pytest.raises(UndefinedVariable):
            engine.render(payload, {})


@pytest.mark.parametrize(
    "tag",
    ["{% include 'x' %}", "{% extends 'x' %}", "{% import 'x' as y %}", "{% from 'x' import y %}"],
)
def test_template_loading_tags_are_refused(engine: ExpressionEngine, tag: str) -> None:
    with pytest.raises(ExpressionSyntaxError, match="not supported"):
        engine.render(tag, {})


def test_recursion_is_an_error_not_a_crash(engine: ExpressionEngine) -> None:
    with pytest.raises(ExpressionError, match="recursion"):
        engine.render("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", {})


def test_reserved_key_is_invisible_to_templates(engine: ExpressionEngine) -> None:
    context = {CONTEXT_FUNCTIONS_KEY: {"secret": lambda name: name}}
    with pytest.raises(SandboxViolation):
        engine.render("{{ __tercel_functions__.secret('x') }}", context)
    with pytest.raises(SandboxViolation):
        engine.render("{{ self.__tercel_functions__ }}", context)


def test_legitimate_uses_still_work(engine: ExpressionEngine) -> None:
    """What the sandbox must *not* refuse: data keys with underscores, safe methods, limits."""
    assert engine.evaluate("{{ data._id }}", CONTEXT) == 7
    assert engine.evaluate("{{ obj.public }}", CONTEXT) == "ok"
    assert engine.evaluate("{{ s.upper() }}", CONTEXT) == "TEXT"
    assert engine.evaluate("{{ data.items | length }}", CONTEXT) == 2
    assert engine.evaluate("{{ '-' * 80 }}", {}) == "-" * 80
    assert engine.evaluate("{{ 10 ** 9 }}", {}) == 10**9
    assert engine.evaluate("{{ 7 % 3 }}", {}) == 1
    assert engine.evaluate("{{ 2.0 ** 0.5 }}", {}) == pytest.approx(1.4142135)
    assert engine.evaluate("{{ 'a' | replace('a', 'b' * 1000) }}", {}) == "b" * 1000
