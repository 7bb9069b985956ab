"""The sandboxed Jinja environment: Kestra's lookup rules, strict undefined values, limits.

Differences from a stock `ImmutableSandboxedEnvironment`, each for a reason:

- `a.b` on a mapping reads the key first (Kestra's `outputs.task.values` is a key, not
  `dict.values`), and a miss returns an undefined value that remembers the dotted path.
- Reaching an underscore attribute of a Python object raises `SandboxViolation` at once instead
  of returning an undefined value that `??` or `default` could swallow.
- `*`, `**` and `%` are intercepted so `'a' * 10**9`, `9 ** 9 ** 9` and `'%0999999999d' % 1`
  are refused before they allocate anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from jinja2 import StrictUndefined, Undefined
from jinja2.exceptions import UndefinedError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ._convert import to_display
from ._errors import SandboxViolation
from ._syntax import TercelCodeGenerator, TercelLexer, TercelParser, secure_tree

if TYPE_CHECKING:
    from jinja2 import nodes
    from jinja2.lexer import Lexer

__all__ = ["MAX_SEQUENCE_LENGTH", "MAX_STRING_LENGTH", "TercelEnvironment"]

#: Longest string an operator or filter may build (repetition, padding, replacement).
MAX_STRING_LENGTH = 1_000_000
#: Longest list `range()` or list repetition may build.
MAX_SEQUENCE_LENGTH = 100_000
#: Largest integer `**` may build, in bits.
_MAX_POWER_BITS = 10_000
_UNSAFE_ATTRIBUTES = frozenset({"mro", "format", "format_map"})


class TercelEnvironment(ImmutableSandboxedEnvironment):
    """One per `ExpressionEngine`; created once, shared by every render."""

    code_generator_class = TercelCodeGenerator
    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, engine: Any) -> None:
        super().__init__(
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            finalize=to_display,
            auto_reload=False,
            cache_size=0,
        )
        self.tercel_engine = engine
        self._tercel_lexer: Lexer | None = None

    # -- syntax ---------------------------------------------------------------------------

    @property
    def lexer(self) -> Lexer:  # type: ignore[override]
        if self._tercel_lexer is None:
            self._tercel_lexer = TercelLexer(self)
        return self._tercel_lexer

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        return secure_tree(TercelParser(self, source, name, filename).parse())

    # -- lookups --------------------------------------------------------------------------

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return attr not in _UNSAFE_ATTRIBUTES and super().is_safe_attribute(obj, attr, value)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        raise SandboxViolation(
            f"access to attribute '{attribute}' of a {type(obj).__name__} value is not allowed"
        )

    def getattr(self, obj: Any, attribute: str, path: str | None = None) -> Any:  # type: ignore[override]
        """`obj.attribute`: a mapping's key first, then a safe attribute, else undefined."""
        if type(obj) is dict or isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        elif isinstance(obj, Undefined):
            obj._fail_with_undefined_error()
        return self._attribute(obj, attribute, path)

    def getitem(self, obj: Any, argument: Any, path: str | None = None) -> Any:  # type: ignore[override]
        """`obj[argument]`: the item first, then (for string keys) a safe attribute."""
        if isinstance(obj, Undefined):
            obj._fail_with_undefined_error()
        try:
            return obj[argument]
        except (TypeError, LookupError):
            pass
        if isinstance(argument, str):
            return self._attribute(obj, argument, path)
        return self._missing(obj, argument, path)

    def _attribute(self, obj: Any, attribute: str, path: str | None) -> Any:
        try:
            value = getattr(obj, attribute)
        except AttributeError:
            return self._missing(obj, attribute, path)
        except Exception:  # a property that fails is as good as missing
            return self._missing(obj, attribute, path)
        formatter = self.wrap_str_format(value)
        if formatter is not None:
            raise SandboxViolation("str.format is not allowed in expressions")
        if not self.is_safe_attribute(obj, attribute, value):
            self.unsafe_undefined(obj, attribute)
        return value

    def _missing(self, obj: Any, name: Any, path: str | None) -> Undefined:
        if path is None:
            hint = f"'{name}' is undefined"
        elif obj is None:
            parent = path[: path.rfind("." if path.endswith(f".{name}") else "[")]
            hint = f"'{path}' is undefined ('{parent}' is null)"
        else:
            hint = f"'{path}' is undefined"
        return self.undefined(hint=hint, obj=obj, name=name)

    # -- Kestra operators -----------------------------------------------------------------

    def tercel_coalesce(
        self, left: Callable[[], Any], right: Callable[[], Any], null_too: bool
    ) -> Any:
        """`left ?? right` / `left ??? right`, evaluating `right` only when needed."""
        try:
            value = left()
        except UndefinedError:
            return right()
        if isinstance(value, Undefined) or (null_too and value is None):
            return right()
        return value

    def tercel_safe(self, expression: Callable[[], Any]) -> Any:
        """The value, or an undefined value instead of an undefined-variable error."""
        try:
            return expression()
        except UndefinedError as exc:
            return self.undefined(hint=str(exc))

    def tercel_concat(self, values: Sequence[Any]) -> str:
        """`a ~ b` with Kestra's text for each value (`true`, not `True`)."""
        return "".join([to_display(value) for value in values])

    # -- limits ---------------------------------------------------------------------------

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _check_repetition(left, right)
            _check_repetition(right, left)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            raise SandboxViolation("'%' string formatting is not allowed in expressions")
        return self.binop_table[operator](left, right)


def _check_repetition(sequence: Any, times: Any) -> None:
    if not isinstance(sequence, (str, list, tuple, bytes)) or not isinstance(times, int):
        return
    limit = MAX_STRING_LENGTH if isinstance(sequence, (str, bytes)) else MAX_SEQUENCE_LENGTH
    if times > 0 and len(sequence) * times > limit:
        raise SandboxViolation(
            f"repeating a {type(sequence).__name__} {times} times exceeds the limit of {limit}"
        )


def _check_power(base: Any, exponent: Any) -> None:
    if not (isinstance(base, int) and isinstance(exponent, int)) or exponent <= 0:
        return
    if abs(base) > 1 and exponent * abs(base).bit_length() > _MAX_POWER_BITS:
        raise SandboxViolation(f"{base} ** {exponent} is too large")
