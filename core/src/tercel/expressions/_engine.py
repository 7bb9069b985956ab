"""`ExpressionEngine`: compile once, render many times, never leak a Jinja exception."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes
from jinja2.environment import Template
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.runtime import Undefined

from ._environment import TercelEnvironment
from ._errors import ExpressionError, ExpressionSyntaxError, SandboxViolation, UndefinedVariable
from ._filters import BUILTIN_FILTERS, BUILTIN_TESTS, REMOVED_JINJA_FILTERS
from ._functions import BUILTIN_FUNCTIONS
from ._syntax import single_expression

__all__ = ["ExpressionEngine", "is_template"]

_RESULT = "__tercel_result__"
_JINJA_GLOBALS_KEPT = ("dict", "namespace")
_QUOTED_NAME = re.compile(r"^'([^']+)'")
_SCALARS = frozenset({int, float, bool})  # never rendered: skip the recursive call


def is_template(value: str) -> bool:
    """Whether a string holds an expression, a tag or a comment (else it renders as itself)."""
    return "{" in value and ("{{" in value or "{%" in value or "{#" in value)


@dataclass(frozen=True, slots=True)
class _Compiled:
    template: Template
    native: bool  # the template is one `{{ expr }}`: return the expression's value
    literal: bool  # that expression builds a list/dict literal: look inside for undefined values


class ExpressionEngine:
    """Renders Kestra-style expressions (`{{ inputs.name ?? 'world' | upper }}`) in a sandbox.

    One engine per process is enough: it is thread-safe and caches compiled templates.
    `functions`, `filters` and `tests` are added on top of the built-ins (and win on a name
    clash); plugins contribute theirs this way.
    """

    def __init__(
        self,
        functions: Mapping[str, Callable[..., Any]] | None = None,
        filters: Mapping[str, Callable[..., Any]] | None = None,
        tests: Mapping[str, Callable[..., bool]] | None = None,
        *,
        cache_size: int = 4096,
    ) -> None:
        env = TercelEnvironment(self)
        for name in list(env.globals):
            if name not in _JINJA_GLOBALS_KEPT:
                del env.globals[name]
        for name in REMOVED_JINJA_FILTERS:
            env.filters.pop(name, None)
        env.globals.update(BUILTIN_FUNCTIONS)
        env.filters.update(BUILTIN_FILTERS)
        env.tests.update(BUILTIN_TESTS)
        env.globals.update(functions or {})
        env.filters.update(filters or {})
        env.tests.update(tests or {})
        self._env = env
        # Jinja merges its globals ChainMap into every context; a flat dict is ~10x faster.
        self._globals: dict[str, Any] = dict(env.globals)
        self._compile = functools.lru_cache(maxsize=cache_size)(self._compile_uncached)

    is_template = staticmethod(is_template)

    # -- public API -----------------------------------------------------------------------

    def render(self, template: str, context: Mapping[str, Any]) -> str:
        """Render to text, the way Kestra always does."""
        if not is_template(template):
            return template
        return self._run(self._compile(template, False), template, context)

    def evaluate(self, template: str, context: Mapping[str, Any]) -> Any:
        """Render natively: a template that is exactly one `{{ expr }}` returns the expression's
        value unchanged (a datetime, list, Decimal or None); anything else returns text."""
        if not is_template(template):
            return template
        return self._run(self._compile(template, True), template, context)

    def render_value(self, value: Any, context: Mapping[str, Any], *, native: bool = True) -> Any:
        """Render every string inside nested dicts and lists (keys too, always as text).

        Values without expressions come back as the very same objects, so rendering a large
        property with nothing to render neither copies nor allocates.
        """
        kind = type(value)
        if kind is str or isinstance(value, str):
            if not is_template(value):
                return value
            return self.evaluate(value, context) if native else self.render(value, context)
        if kind is dict or (kind is not list and isinstance(value, Mapping)):
            changed = False
            rendered: dict[Any, Any] = {}
            for key, item in value.items():
                new_key = self.render(key, context) if type(key) is str else key
                new_item = (
                    item
                    if item is None or type(item) in _SCALARS
                    else self.render_value(item, context, native=native)
                )
                changed = changed or new_key is not key or new_item is not item
                rendered[new_key] = new_item
            return rendered if changed else value
        if kind is list or kind is tuple or isinstance(value, (list, tuple)):
            items = [
                item
                if item is None or type(item) in _SCALARS
                else self.render_value(item, context, native=native)
                for item in value
            ]
            if all(new is old for new, old in zip(items, value, strict=True)):
                return value
            return items if isinstance(value, list) else tuple(items)
        return value

    def check(self, template: str) -> str | None:
        """The syntax problem of a template, or None; for validating flows before they run.

        Only what is knowable without a context is checked (syntax, unknown filters, refused
        names); undefined variables show up at render time.
        """
        if not is_template(template):
            return None
        try:
            self._compile(template, True)
        except ExpressionError as exc:
            multiline = "\n" in template.strip()
            return f"{exc.message} (line {exc.line})" if multiline and exc.line else exc.message
        return None

    # -- compiling ------------------------------------------------------------------------

    def _compile_uncached(self, source: str, native: bool) -> _Compiled:
        env = self._env
        try:
            tree = env._parse(source, None, None)
            expression = single_expression(tree) if native else None
            if native and expression is None:
                return self._compile(source, False)
            if expression is not None:
                lineno = expression.lineno
                tree = nodes.Template(
                    [
                        nodes.Assign(
                            nodes.Name(_RESULT, "store", lineno=lineno), expression, lineno=lineno
                        )
                    ],
                    lineno=1,
                )
                tree.set_environment(env)
            template = env.from_string(tree)
        except TemplateSyntaxError as exc:
            raise ExpressionSyntaxError(
                _syntax_message(exc), template=source, line=exc.lineno
            ) from None
        except ExpressionError as exc:
            exc.locate(source, exc.line, _column(source, exc.line, exc.message))
            raise
        literal = isinstance(expression, (nodes.List, nodes.Dict, nodes.Tuple))
        return _Compiled(template, expression is not None, literal)

    # -- running --------------------------------------------------------------------------

    def _run(self, compiled: _Compiled, source: str, context: Mapping[str, Any]) -> Any:
        template = compiled.template
        try:
            env = self._env
            ctx = env.context_class(env, {**self._globals, **context}, None, template.blocks)
            if not compiled.native:
                return "".join(template.root_render_func(ctx))
            for _ in template.root_render_func(ctx):
                pass
            value = ctx.vars[_RESULT]
            if isinstance(value, Undefined):
                value._fail_with_undefined_error()
            if compiled.literal:
                _fail_on_undefined(value)
            return value
        except ExpressionError as exc:
            line = exc.line if exc.template is not None else _template_line(exc)
            exc.locate(source, line, _column(source, line, exc.message))
            raise
        except UndefinedError as exc:
            raise _located(UndefinedVariable, exc.message or str(exc), source, exc) from None
        except SecurityError as exc:
            raise _located(SandboxViolation, str(exc), source, exc) from None
        except TemplateError as exc:
            raise _located(ExpressionError, str(exc), source, exc) from None
        except RecursionError as exc:
            raise _located(
                ExpressionError, "expression recursion is too deep", source, exc
            ) from None
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise _located(ExpressionError, message, source, exc) from exc


def _syntax_message(exc: TemplateSyntaxError) -> str:
    message = exc.message or "invalid expression syntax"
    return message[:1].lower() + message[1:] if message[:2] != "No" else message


def _located(
    kind: type[ExpressionError], message: str, source: str, exc: BaseException
) -> ExpressionError:
    line = _template_line(exc)
    return kind(message, template=source, line=line, column=_column(source, line, message))


def _template_line(exc: BaseException) -> int | None:
    """The template line being run when `exc` was raised (the innermost template frame)."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        if template is not None:
            line = template.get_corresponding_lineno(tb.tb_lineno)
        tb = tb.tb_next
    return line


def _column(source: str, line: int | None, message: str) -> int | None:
    """Where the name a message quotes (`'outputs.hello' is undefined`) appears on the line."""
    if line is None:
        return None
    match = _QUOTED_NAME.match(message)
    lines = source.splitlines()
    if match is None or not 1 <= line <= len(lines):
        return None
    index = lines[line - 1].find(match.group(1))
    return index + 1 if index >= 0 else None


def _fail_on_undefined(value: Any) -> None:
    """Raise if a list/dict literal built by the expression holds an undefined value."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, dict):
        for item in value.values():
            _fail_on_undefined(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _fail_on_undefined(item)
