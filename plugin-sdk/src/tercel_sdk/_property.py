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
from collections.abc import Collection, Mapping
from contextlib import suppress
from dataclasses import is_dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from types import UnionType
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, GetCoreSchemaHandler, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel
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
def _cached_adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


def _adapter(tp: Any) -> TypeAdapter[Any]:
    try:
        return _cached_adapter(tp)
    except TypeError:  # an unhashable type argument: build it each time
        return TypeAdapter(tp)


def _strip(tp: Any) -> Any:
    """`Annotated[X, ...]` → `X` (constraints do not change the shape of a value)."""
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _union_args(tp: Any) -> tuple[Any, ...] | None:
    return get_args(tp) if get_origin(tp) in (Union, UnionType) else None


def _allows_str(tp: Any) -> bool:
    """`str` itself or a union with a `str` branch (`str | None`, `str | list[str]`)."""
    tp = _strip(tp)
    if tp is str:
        return True
    args = _union_args(tp)
    return args is not None and any(_allows_str(a) for a in args)


def _wants_container(tp: Any) -> bool:
    """True when rendered JSON text should be parsed: a list, dict, set, model, … is wanted."""
    tp = _strip(tp)
    if _allows_str(tp):
        return False  # `str | list[str]`: text stays text
    args = _union_args(tp)
    if args is not None:
        return any(_wants_container(a) for a in args)
    origin = get_origin(tp) or tp
    if not isinstance(origin, type):
        return False
    if issubclass(origin, str | bytes | bytearray):
        return False
    return (
        issubclass(origin, Mapping | Collection | BaseModel)
        or is_dataclass(origin)
    )


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
        non-text value for a `str` property (or one that fits no other branch of `str | X`)
        becomes its text. Errors say what was expected and where.
        """
        tp = self.inner_type
        if tp is Any:
            return value
        if tp is str:
            return _to_text(value)  # type: ignore[return-value]
        if isinstance(value, str) and _wants_container(tp):
            text = value.strip()
            if text[:1] in ("[", "{"):
                with suppress(ValueError):
                    value = json.loads(text)
        adapter = _adapter(tp)
        try:
            return adapter.validate_python(value)
        except ValidationError as exc:
            if value is not None and not isinstance(value, str) and _allows_str(tp):
                with suppress(ValidationError):
                    return adapter.validate_python(_to_text(value))
            raise PropertyValueError(f"{_first_error(exc)}, got {_preview(value)}") from None

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
            # the name users write in YAML (camelCase), for error messages
            name = to_camel(info.field_name.rstrip("_")) if info.field_name else None
            if isinstance(value, Property):
                value = value.raw  # e.g. a default `Property.of(...)`: typed and named here
            if contains_expression(value):
                return cls(value, inner, name)
            try:
                checked = _adapter(inner).validate_python(value)
            except ValidationError as exc:
                raise PydanticCustomError(
                    "property_type",
                    "{msg}; or give an expression like '{{ ... }}'",
                    {"msg": _first_error(exc)},
                ) from None
            return cls(checked, inner, name)

        if inner is str or inner is Any:
            json_branch = inner_schema
        else:
            json_branch = core_schema.union_schema(
                [inner_schema, core_schema.str_schema(pattern=_EXPRESSION_PATTERN)]
            )
        # One validator for Python and JSON input (both give a Property). The JSON Schema, in
        # both modes, says "a T, or a string holding an expression"; `json_schema_input_schema`
        # also keeps the definitions it refers to (a model's `$defs`) in the model's schema.
        return core_schema.with_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda p: p.raw if isinstance(p, Property) else p
            ),
            json_schema_input_schema=json_branch,
            metadata={"pydantic_js_functions": [lambda _schema, js: js(json_branch)]},
        )


def _first_error(exc: ValidationError) -> str:
    """The first error of a validation, with where it is inside the value (`at 1.name`)."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return first.get("msg", "invalid value") + (f" at {where}" if where else "")


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
