"""`Property[T]`: a task property whose value may be an expression rendered at run time.

In YAML a property is either a literal (`count: 3`) or a template (`count: "{{ inputs.n }}"`),
and templates may hide anywhere in a nested value (`headers: {auth: "{{ secret('T') }}"}`).
A `Property` keeps what the user wrote; the run context renders it and coerces the result to `T`
when the task runs. Literals are still checked against `T` when the flow is validated, so a
typo fails at save time, not at 3 am.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from typing import Any, Generic, TypeVar, get_args, get_origin

from pydantic import GetCoreSchemaHandler, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError, core_schema

__all__ = ["Property", "contains_expression", "is_expression", "is_truthy"]

T = TypeVar("T")

_EXPRESSION = re.compile(r"\{\{|\{%|\{#")
_EXPRESSION_PATTERN = r".*(\{\{|\{%).*"


def is_expression(value: object) -> bool:
    """True for a string that holds a template (`{{ … }}`, `{% … %}`)."""
    return isinstance(value, str) and _EXPRESSION.search(value) is not None


def contains_expression(value: object) -> bool:
    """True if a template hides anywhere inside a nested value (dict keys included)."""
    if isinstance(value, str):
        return is_expression(value)
    if isinstance(value, dict):
        return any(contains_expression(k) or contains_expression(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(contains_expression(v) for v in value)
    return False


@lru_cache(maxsize=512)
def _adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


def _is_str_type(tp: Any) -> bool:
    return tp is str


def _allows_str(tp: Any) -> bool:
    if tp is str:
        return True
    return any(a is str for a in get_args(tp) or ())


def _wants_container(tp: Any) -> bool:
    if _allows_str(tp):
        return False  # `str | list[str]`: text stays text
    origin = get_origin(tp) or tp
    if origin in (list, dict, tuple, set, frozenset):
        return True
    if origin is not None and getattr(origin, "__name__", "") in ("Union", "UnionType"):
        return any(_wants_container(a) for a in get_args(tp))
    try:
        from pydantic import BaseModel

        return isinstance(tp, type) and issubclass(tp, BaseModel)
    except TypeError:  # pragma: no cover - exotic typing objects
        return False


def _to_text(value: Any) -> str:
    """Text of a rendered value, the same text the expression engine prints for it."""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, dict | list):
        return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal | timedelta):
        return str(value)
    return str(value)


class Property(Generic[T]):
    """A value of type `T` that may be given as an expression; render it with `ctx.render(prop)`.

    `raw` is exactly what the flow says; `inner_type` is `T`.
    """

    __slots__ = ("inner_type", "name", "raw")

    def __init__(self, raw: Any, inner_type: Any = Any, name: str | None = None) -> None:
        self.raw = raw
        self.inner_type = inner_type
        self.name = name

    @classmethod
    def of(cls, value: Any) -> Property[Any]:
        """Build a property from a literal (handy for defaults and tests)."""
        return cls(value)

    @property
    def is_dynamic(self) -> bool:
        """True if rendering is needed (the value holds an expression)."""
        return contains_expression(self.raw)

    def coerce(self, value: Any) -> T:
        """Convert a rendered value to `T`, the way Kestra converts rendered strings.

        A template that renders to text for a list/dict/model property is parsed as JSON; a
        non-text value for a `str` property becomes its text. Errors say what was expected.
        """
        tp = self.inner_type
        if tp is Any:
            return value
        if _is_str_type(tp):
            return _to_text(value)  # type: ignore[return-value]
        if isinstance(value, str) and _wants_container(tp):
            text = value.strip()
            if text[:1] in ("[", "{"):
                try:
                    value = json.loads(text)
                except ValueError:
                    pass
        try:
            return _adapter(tp).validate_python(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise PropertyValueError(
                f"{first.get('msg', 'invalid value')}"
                + (f" at {where}" if where else "")
                + f", got {_preview(value)}"
            ) from None

    def __repr__(self) -> str:
        return f"Property({self.raw!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Property):
            return self.raw == other.raw
        return NotImplemented

    def __hash__(self) -> int:
        return hash(repr(self.raw))

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source_type: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        args = get_args(source_type)
        inner: Any = args[0] if args else Any
        inner_schema = handler.generate_schema(inner)

        def validate(value: Any, info: core_schema.ValidationInfo) -> Property[Any]:
            name = info.field_name
            if isinstance(value, Property):
                return cls(value.raw, inner, name)
            if contains_expression(value):
                return cls(value, inner, name)
            try:
                checked = _adapter(inner).validate_python(value)
            except ValidationError as exc:
                first = exc.errors()[0]
                raise PydanticCustomError(
                    "property_type",
                    "{msg}; or give an expression like '{{ ... }}'",
                    {"msg": first.get("msg", "invalid value")},
                ) from None
            return cls(checked, inner, name)

        if inner is str or inner is Any:
            json_branch = inner_schema
        else:
            json_branch = core_schema.union_schema(
                [inner_schema, core_schema.str_schema(pattern=_EXPRESSION_PATTERN)]
            )
        return core_schema.json_or_python_schema(
            json_schema=json_branch,
            python_schema=core_schema.with_info_plain_validator_function(validate),
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda p: p.raw if isinstance(p, Property) else p
            ),
        )


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return _to_text(value)
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def is_truthy(value: Any) -> bool:
    """Kestra's boolean coercion of a condition (If, runIf, Fail…), one rule everywhere.

    Text is false when blank or 'false', '0', '-0', 'null' (any case); null is false; a number
    is false when zero; a bool is itself; anything else (a list, a mapping) is true.
    """
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        return value != 0
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "-0", "null")
    return True


class PropertyValueError(ValueError):
    """A rendered property value does not fit the property's type."""


def _preview(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
