"""One class per input type: how a raw value becomes a typed one, and the rules it must meet.

A kind is built from one declaration. Its constructor reads and checks the declaration's
type-specific properties (`min`, `validator`, `values`, ...), reporting every mistake to a
`Reporter`, so the same object serves the static check of a flow and the resolution of an
execution's inputs. `coerce()` turns a CLI string or an API JSON value into the typed
value, or raises `Invalid` listing what is wrong with it.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from os import PathLike, fspath
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from tercel.errors import Problem

from ._values import article, format_duration, parse_duration, plain, scalar_text, show, utc

__all__ = [
    "ARRAY_ITEM_TYPES",
    "INPUT_TYPES",
    "KINDS",
    "MULTISELECT_ITEM_TYPES",
    "Context",
    "Failure",
    "Invalid",
    "Kind",
    "OnSecret",
    "Reporter",
    "StoreFile",
    "did_you_mean",
    "suggest_type",
]

StoreFile = Callable[[str, str, bytes], str]
"""`store_file(input_id, filename, data) -> "tercel://…"`: puts an input file in internal storage."""

OnSecret = Callable[[str], None]
"""Called with every SECRET value so the log pipeline can mask it."""

DocPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Failure:
    """One rule a value broke. `at` locates an item inside a list value (ARRAY, MULTISELECT)."""

    message: str
    at: tuple[int, ...] = ()
    hint: str | None = None


class Invalid(Exception):
    """A value cannot be used; carries every failure found in it, not just the first."""

    def __init__(self, failures: Iterable[Failure] | str, hint: str | None = None) -> None:
        if isinstance(failures, str):
            failures = [Failure(failures, hint=hint)]
        self.failures = list(failures)
        super().__init__("; ".join(f.message for f in self.failures))


@dataclass(frozen=True, slots=True)
class Context:
    """What a kind may need beyond the value: where files go, who masks secrets, and so on."""

    input_id: str
    secret: bool = False
    store_file: StoreFile | None = None
    on_secret: OnSecret | None = None
    options: Sequence[Any] | None = None
    """Choices rendered from a SELECT/MULTISELECT `expression`; None when not known (static check)."""
    local_files: bool = True
    """Whether a string may name a file on this machine (the CLI), or not (an API caller)."""

    def got(self, value: Any) -> str:
        """The ", got …" tail of a message; empty for secrets, whose values are never shown."""
        return "" if self.secret else f", got {show(value)}"


@dataclass
class Reporter:
    """Collects declaration problems, each with the path of the offending key."""

    prefix: DocPath
    problems: list[Problem] = field(default_factory=list)

    def add(self, where: str | DocPath | None, message: str, hint: str | None = None) -> None:
        """Report at `prefix + where`; `where=None` points at the declaration itself."""
        if where is None:
            path = self.prefix
        elif isinstance(where, tuple):
            path = self.prefix + where
        else:
            path = (*self.prefix, where)
        self.problems.append(Problem(message, path=path, hint=hint))


def did_you_mean(value: Any, choices: Iterable[Any]) -> str | None:
    """A "did you mean …?" hint for a near miss, or None."""
    if not isinstance(value, str):
        return None
    texts = [c for c in choices if isinstance(c, str)]
    exact = [c for c in texts if c.lower() == value.lower()]
    match = exact or difflib.get_close_matches(value, texts, n=1, cutoff=0.6)
    return f"did you mean {match[0]!r}?" if match else None


def _listing(values: Sequence[Any], limit: int = 10) -> str:
    shown = ", ".join(show(v) for v in values[:limit])
    return shown + (f", … ({len(values)} in all)" if len(values) > limit else "")


# -- reading declaration properties -------------------------------------------------------


def _read_bool(decl: Mapping[str, Any], key: str, report: Reporter) -> bool | None:
    value = decl.get(key)
    if value is None or isinstance(value, bool):
        return value
    report.add(key, f"`{key}` must be true or false, got {show(value)}")
    return None


def _read_str(decl: Mapping[str, Any], key: str, report: Reporter) -> str | None:
    value = decl.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return str(value)
    report.add(key, f"`{key}` must be a string, got {show(value)}")
    return None


def _read_int(decl: Mapping[str, Any], key: str, report: Reporter) -> int | None:
    value = decl.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    report.add(key, f"`{key}` must be an integer, got {show(value)}")
    return None


def _read_number(decl: Mapping[str, Any], key: str, report: Reporter) -> float | None:
    value = decl.get(key)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return plain(value)
    report.add(key, f"`{key}` must be a number, got {show(value)}")
    return None


def _read_list(decl: Mapping[str, Any], key: str, report: Reporter) -> list[Any] | None:
    value = decl.get(key)
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return list(value)
    report.add(key, f"`{key}` must be a list, got {show(value)}")
    return None


def _check_order(report: Reporter, low: Any, high: Any, keys: tuple[str, str]) -> None:
    if low is not None and high is not None and low > high:
        report.add(keys[0], f"`{keys[0]}` ({show(low)}) is greater than `{keys[1]}` ({show(high)})")


# -- the kinds ----------------------------------------------------------------------------


class Kind:
    """Base of the input types."""

    keys: frozenset[str] = frozenset()
    """Declaration properties this type adds to the common ones."""
    expected: str = "a value"
    """How the type reads in "must be …"."""
    secret: bool = False
    checkable: bool = True
    """Whether a literal `defaults` can be checked without I/O when the flow is validated."""

    def __init__(self, name: str, decl: Mapping[str, Any], report: Reporter) -> None:
        self.name = name

    def allowed_keys(self) -> frozenset[str] | None:
        """Type-specific keys; None when unknown (then unknown keys are not reported)."""
        return self.keys

    def parse(self, value: Any, ctx: Context) -> Any:
        """Convert a raw value (CLI string or API JSON value) to this type, or raise `Invalid`."""
        raise NotImplementedError

    def check(self, value: Any, ctx: Context) -> None:
        """Apply the declaration's validators to a parsed value, raising `Invalid`."""

    def coerce(self, value: Any, ctx: Context) -> Any:
        """Parse, then validate."""
        parsed = self.parse(value, ctx)
        self.check(parsed, ctx)
        return parsed

    def wrong(
        self, value: Any, ctx: Context, detail: str | None = None, hint: str | None = None
    ) -> Invalid:
        """The "must be an INT, got 'abc'" failure."""
        message = f"must be {self.expected}{ctx.got(value)}"
        if detail:
            message += f" ({detail})"
        return Invalid(message, hint)

    def read_own(self, decl: Mapping[str, Any], key: str, report: Reporter) -> Any:
        """Read a bound (`after`, `min`, ...) written in this type's own value syntax."""
        if decl.get(key) is None:
            return None
        try:
            return self.parse(decl[key], Context(input_id=""))
        except Invalid as invalid:
            report.add(key, f"`{key}` {invalid.failures[0].message}")
            return None


class StringKind(Kind):
    """STRING: any text, optionally matching `validator` (a full-match regular expression)."""

    keys = frozenset({"validator"})
    expected = "a STRING"

    def __init__(self, name: str, decl: Mapping[str, Any], report: Reporter) -> None:
        super().__init__(name, decl, report)
        self.pattern: re.Pattern[str] | None = None
        source = _read_str(decl, "validator", report)
        if source is not None:
            try:
                self.pattern = re.compile(source)
            except re.error as exc:
                report.add("validator", f"`validator` is not a valid regular expression: {exc}")

    def parse(self, value: Any, ctx: Context) -> str:
        text = scalar_text(value)
        if text is None:
            raise self.wrong(value, ctx)
        return text

    def check(self, value: str, ctx: Context) -> None:
        if self.pattern is not None and self.pattern.fullmatch(value) is None:
            raise Invalid(f"must match `{self.pattern.pattern}`{ctx.got(value)}")


class SecretKind(StringKind):
    """SECRET: a STRING (with the same `validator`) whose value is masked and never shown."""

    secret = True

    def parse(self, value: Any, ctx: Context) -> str:
        text = super().parse(value, ctx)
        if ctx.on_secret is not None:
            ctx.on_secret(text)
        return text


_EMAIL = re.compile(
    r"[A-Za-z0-9_!#$%&'*+/=?`{|}~^.-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)


class EmailKind(Kind):
    """EMAIL: `local@domain`, the characters Kestra's pattern allows."""

    expected = "an email address"

    def parse(self, value: Any, ctx: Context) -> str:
        if isinstance(value, str) and _EMAIL.fullmatch(value.strip()):
            return str(value.strip())
        raise self.wrong(value, ctx)


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")


class UriKind(Kind):
    """URI: an absolute URI (`scheme:` and something after it), kept as a string."""

    expected = "an absolute URI with a scheme (e.g. https://example.com/data.csv)"

    def parse(self, value: Any, ctx: Context) -> str:
        if isinstance(value, str):
            text = value.strip()
            scheme, colon, rest = text.partition(":")
            if colon and rest and _SCHEME.fullmatch(scheme) and not re.search(r"[\s\\]", text):
                try:
                    parts = urlsplit(text)
                except ValueError:
                    raise self.wrong(value, ctx) from None
                if not rest.startswith("//") or parts.netloc or parts.path.strip("/"):
                    return str(text)
        raise self.wrong(value, ctx)


_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class IntKind(Kind):
    """INT: a whole number, between `min` and `max` (inclusive) when given."""

    keys = frozenset({"min", "max"})
    expected = "an INT"

    def __init__(self, name: str, decl: Mapping[str, Any], report: Reporter) -> None:
        super().__init__(name, decl, report)
        self.min = _read_int(decl, "min", report)
        self.max = _read_int(decl, "max", report)
        _check_order(report, self.min, self.max, ("min", "max"))

    def parse(self, value: Any, ctx: Context) -> int:
        if isinstance(value, bool):
            raise self.wrong(value, ctx)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INT.fullmatch(value.strip()):
            return int(value.strip())
        raise self.wrong(value, ctx)

    def check(self, value: int | float, ctx: Context) -> None:
        if self.min is not None and value < self.min:
            raise Invalid(f"must be >= {show(self.min)}{ctx.got(value)}")
        if self.max is not None and value > self.max:
            raise Invalid(f"must be <= {show(self.max)}{ctx.got(value)}")


class FloatKind(IntKind):
    """FLOAT: a finite number, between `min` and `max` (inclusive) when given."""

    expected = "a FLOAT"

    def __init__(self, name: str, decl: Mapping[str, Any], report: Reporter) -> None:
        Kind.__init__(self, name, decl, report)
        self.min = _read_number(decl, "min", report)
        self.max = _read_number(decl, "max", report)
        _check_order(report, self.min, self.max, ("min", "max"))

    def parse(self, value: Any, ctx: Context) -> float:
        number: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
            number = float(value.strip())
        if number is None or not math.isfinite(number):
            raise self.wrong(value, ctx)
        return number


class BooleanKind(Kind):
    """BOOLEAN and BOOL: `true` or `false` (any case), or a JSON boolean."""

    def __init__(self, name: str, decl: Mapping[str, Any], report: Reporter) -> None:
        super().__init__(name, decl, report)
        self.expected = f"{article(name)} {name} (true or false)"

    def parse(self, value: Any, ctx: Context) -> bool:
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise self.wrong(value, ctx)


class _Ranged(Kind):
    """Base of the kinds bounded by `after`/`before` (inclusive, as in Kestra)."""

    keys = frozenset({"after", "before"})
    preposition = "at"

    def __init__(self, name: str, decl: Mapping[str, Any], report: Reporter) -> None:
        super().__init__(name, decl, report)
        self.after = self.read_own(decl, "after", report)
        self.before = self.read_own(decl, "before", report)
        _check_order(report, self.after, self.before, ("after", "before"))

    def check(self, value: Any, ctx: Context) -> None:
        if self.after is not None and value < self.after:
            raise Invalid(f"must be {self.preposition} or after {show(self.after)}{ctx.got(value)}")
        if self.before is not None and value > self.before:
            raise Invalid(
                f"must be {self.preposition} or before {show(self.before)}{ctx.got(value)}"
            )


class DateTimeKind(_Ranged):
    """DATETIME: ISO 8601 with an offset; the value is a UTC-aware datetime (Kestra's Instant)."""

    expected = "a DATETIME (ISO 8601 with an offset, e.g. 2042-04-02T04:20:42Z)"

    def parse(self, value: Any, ctx: Context) -> datetime:
        parsed = value
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.strip())
            except ValueError:
                raise self.wrong(value, ctx) from None
        if not isinstance(parsed, datetime):
            raise self.wrong(value, ctx)
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise self.wrong(value, ctx, "no timezone offset; add Z for UTC")
        return utc(parsed)


class DateKind(_Ranged):
    """DATE: an ISO 8601 calendar date without a time."""

    expected = "a DATE (ISO 8601, e.g. 2042-12-03)"
    preposition = "on"

    def parse(self, value: Any, ctx: Context) -> date:
        if isinstance(value, datetime):
            raise self.wrong(value, ctx)
        if isinstance(value, date):
            return date(value.year, value.month, value.day)
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise self.wrong(value, ctx)


class TimeKind(_Ranged):
    """TIME: an ISO 8601 local time, without an offset."""

    expected = "a TIME (ISO 8601 without an offset, e.g. 10:15:30)"

    def parse(self, value: Any, ctx: Context) -> time:
        parsed = value
        if isinstance(value, str):
            try:
                parsed = time.fromisoformat(value.strip())
            except ValueError:
                raise self.wrong(value, ctx) from None
        if not isinstance(parsed, time):
            raise self.wrong(value, ctx)
        if parsed.tzinfo is not None:
            raise self.wrong(value, ctx, "it has a timezone offset")
        return time(parsed.hour, parsed.minute, parsed.second, parsed.microsecond)


class DurationKind(Kind):
    """DURATION: ISO 8601 (`PT1H30M`), between `min` and `max` (inclusive) when given."""

    keys = frozenset({"min", "max"})
    expected = "a DURATION (ISO 8601, e.g. PT1H30M)"

    def __init__(self, name: str, decl: Mapping[str, Any], report: Reporter) -> None:
        super().__init__(name, decl, report)
        self.min = self.read_own(decl, "min", report)
        self.max = self.read_own(decl, "max", report)
        _check_order(report, self.min, self.max, ("min", "max"))

    def parse(self, value: Any, ctx: Context) -> timedelta:
        if isinstance(value, timedelta):
            return value
        if isinstance(value, str):
            try:
                return parse_duration(value)
            except ValueError as exc:
                raise self.wrong(value, ctx, str(exc) or None) from None
        raise self.wrong(value, ctx)

    def check(self, value: timedelta, ctx: Context) -> None:
        if self.min is not None and value < self.min:
            raise Invalid(f"must be at least {format_duration(self.min)}{ctx.got(value)}")
        if self.max is not None and value > self.max:
            raise Invalid(f"must be at most {format_duration(self.max)}{ctx.got(value)}")


_JSON_VALUES = (Mapping, list, tuple, str, int, float, bool)


class JsonKind(Kind):
    """JSON: a JSON text, parsed; an already structured value (dict, list, number) is kept."""

    expected = "valid JSON"

    def parse(self, value: Any, ctx: Context) -> Any:
        if isinstance(value, str):
            try:
                return plain(json.loads(value))
            except json.JSONDecodeError as exc:
                raise self.wrong(
                    value, ctx, f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
                ) from None
        if isinstance(value, _JSON_VALUES):
            return plain(value)
        raise self.wrong(value, ctx)


class YamlKind(Kind):
    """YAML: a YAML text, parsed safely; an already structured value is kept."""

    expected = "valid YAML"

    def parse(self, value: Any, ctx: Context) -> Any:
        if isinstance(value, str):
            try:
                return plain(YAML(typ="safe", pure=True).load(value))
            except MarkedYAMLError as exc:
                mark = exc.problem_mark
                where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
                raise self.wrong(value, ctx, f"{exc.problem}{where}") from None
            except YAMLError as exc:
                raise self.wrong(value, ctx, str(exc)) from None
        if isinstance(value, _JSON_VALUES):
            return plain(value)
        raise self.wrong(value, ctx)


_STORED = ("tercel://", "kestra://")


class FileKind(Kind):
    """FILE: a local path or raw bytes, stored in internal storage; the value is its URI.

    A `tercel://` (or Kestra's `kestra://`) URI is already stored and is kept as it is, so
    a parent flow can hand one of its files to a subflow. A `(filename, bytes)` pair, as an
    upload gives, is accepted too.
    """

    keys = frozenset({"allowedFileExtensions", "extension"})
    expected = "a FILE (a path to a readable file, or its bytes)"
    checkable = False

    def __init__(self, name: str, decl: Mapping[str, Any], report: Reporter) -> None:
        super().__init__(name, decl, report)
        # Kestra's deprecated `extension` (a temp-file suffix): accepted, not needed here.
        _read_str(decl, "extension", report)
        self.extensions: tuple[str, ...] = ()
        listed = _read_list(decl, "allowedFileExtensions", report) or []
        for j, ext in enumerate(listed):
            if not isinstance(ext, str) or not ext.strip(". "):
                report.add(
                    ("allowedFileExtensions", j),
                    f"a file extension must be a non-empty string like '.csv', got {show(ext)}",
                )
            else:
                self.extensions += ("." + ext.strip().lstrip(".").lower(),)

    def parse(self, value: Any, ctx: Context) -> str:
        if isinstance(value, str) and value.startswith(_STORED):
            self._check_extension(unquote(urlsplit(value).path.rsplit("/", 1)[-1]), ctx)
            return str(value)
        filename: str | None
        if (
            isinstance(value, tuple)
            and len(value) == 2
            and isinstance(value[0], str)
            and isinstance(value[1], bytes | bytearray | memoryview)
        ):
            filename, data = value[0], bytes(value[1])
        elif isinstance(value, bytes | bytearray | memoryview):
            filename, data = None, bytes(value)
        elif isinstance(value, str | PathLike):
            if not ctx.local_files:
                raise Invalid(
                    f"must be an uploaded file{ctx.got(value)}",
                    hint="local paths are only read for the command line",
                )
            text = fspath(value)
            path = Path(unquote(urlsplit(text).path) if text.startswith("file://") else text)
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                raise self.wrong(value, ctx, "no such file") from None
            except IsADirectoryError:
                raise self.wrong(value, ctx, "it is a directory") from None
            except OSError as exc:
                raise self.wrong(value, ctx, exc.strerror or str(exc)) from None
            filename = path.name
        else:
            raise self.wrong(value, ctx)
        self._check_extension(filename, ctx)
        if ctx.store_file is None:
            raise Invalid("cannot be stored: no file storage was given to resolve inputs")
        return ctx.store_file(ctx.input_id, filename or ctx.input_id, data)

    def _check_extension(self, filename: str | None, ctx: Context) -> None:
        if not self.extensions:
            return
        allowed = ", ".join(self.extensions)
        if filename is None:
            raise Invalid(f"must be a file ending in {allowed}, got bytes without a file name")
        if not filename.lower().endswith(self.extensions):
            raise Invalid(f"must be a file ending in {allowed}, got {show(filename)}")


def _as_list(value: Any) -> list[Any] | None:
    """A list value as given, or decoded from a JSON array text (how the CLI passes lists)."""
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except json.JSONDecodeError:
            return None
        if isinstance(decoded, list):
            return decoded
    return None


def _read_choices(
    decl: Mapping[str, Any], key: str, report: Reporter, item: Kind | None = None
) -> list[Any] | None:
    """Read `values`: a non-empty list of distinct scalars (coerced by `item` when given)."""
    listed = _read_list(decl, key, report)
    if listed is None:
        return None
    if not listed:
        report.add(key, f"`{key}` must list at least one value")
    choices: list[Any] = []
    for j, raw in enumerate(listed):
        if item is None:
            choice = scalar_text(raw)
            if choice is None:
                report.add((key, j), f"a value must be a string, got {show(raw)}")
                continue
        else:
            try:
                choice = item.coerce(raw, Context(input_id=""))
            except Invalid as invalid:
                report.add((key, j), f"`{key}` item [{j}] {invalid.failures[0].message}")
                continue
        if choice in choices:
            report.add((key, j), f"duplicate value {show(choice)} in `{key}`")
        choices.append(choice)
    return choices


def _read_custom(decl: Mapping[str, Any], report: Reporter) -> bool:
    """`allowCustomValue`, or Kestra's older name for it, `allowInput`."""
    current = _read_bool(decl, "allowCustomValue", report)
    legacy = _read_bool(decl, "allowInput", report)
    return bool(current or legacy)


def _membership(value: Any, options: Sequence[Any], ctx: Context) -> Failure:
    return Failure(
        f"must be one of {_listing(options)}{ctx.got(value)}",
        hint=None if ctx.secret else did_you_mean(value, options),
    )


class SelectKind(Kind):
    """SELECT: one of `values` (or of the list an `expression` renders to).

    With `allowCustomValue` any string is accepted. Kestra's older name, `allowInput`, is
    accepted too, as is the UI-only `autoSelectFirst`.
    """

    keys = frozenset({"values", "expression", "allowCustomValue", "allowInput", "autoSelectFirst"})
    expected = "a single value"

    def __init__(self, name: str, decl: Mapping[str, Any], report: Reporter) -> None:
        super().__init__(name, decl, report)
        self.values = _read_choices(decl, "values", report)
        self.expression = _read_str(decl, "expression", report)
        self.custom = _read_custom(decl, report)
        _read_bool(decl, "autoSelectFirst", report)
        self._need_values(decl, report)

    def _need_values(self, decl: Mapping[str, Any], report: Reporter) -> None:
        if decl.get("values") is None and decl.get("expression") is None:
            report.add(None, f"{self.name} inputs need `values` or `expression`")
        elif decl.get("values") is not None and decl.get("expression") is not None:
            report.add("expression", "use either `values` or `expression`, not both")

    def options(self, ctx: Context) -> list[Any] | None:
        """The allowed choices; None when they come from an expression not rendered yet."""
        if self.expression is None:
            return self.values
        if ctx.options is None:
            return None
        return [text for text in map(scalar_text, ctx.options) if text is not None]

    def parse(self, value: Any, ctx: Context) -> str:
        text = scalar_text(value)
        if text is None:
            raise self.wrong(value, ctx)
        options = self.options(ctx)
        if options is not None and not self.custom and text not in options:
            raise Invalid([_membership(text, options, ctx)])
        return text


class EnumKind(SelectKind):
    """ENUM (Kestra's legacy SELECT): one of a fixed `values` list."""

    keys = frozenset({"values"})

    def __init__(self, name: str, decl: Mapping[str, Any], report: Reporter) -> None:
        Kind.__init__(self, name, decl, report)
        self.values = _read_choices(decl, "values", report)
        self.expression = None
        self.custom = False
        if decl.get("values") is None:
            report.add(None, "ENUM inputs need `values`")


def _item_kind(
    owner: str,
    decl: Mapping[str, Any],
    report: Reporter,
    allowed: frozenset[str],
    default: str | None,
) -> Kind | None:
    """Build the kind of the items of an ARRAY/MULTISELECT from its `itemType`."""
    item_type = decl.get("itemType", default)
    if item_type is None:
        report.add(
            None, f"{owner} inputs need an `itemType`", hint=f"one of {', '.join(sorted(allowed))}"
        )
        return None
    if not isinstance(item_type, str) or item_type not in allowed:
        reason = (
            f"`itemType` of {article(owner)} {owner} cannot be {item_type}"
            if item_type in INPUT_TYPES
            else f"unknown `itemType` {show(item_type)}"
        )
        report.add(
            "itemType",
            reason,
            hint=suggest_type(item_type, allowed) or f"one of {', '.join(sorted(allowed))}",
        )
        return None
    return KINDS[item_type](item_type, decl if owner == "ARRAY" else {}, report)


def _coerce_items(
    items: list[Any], item: Kind, ctx: Context, options: Sequence[Any] | None = None
) -> list[Any]:
    """Coerce every item, collecting each bad one (with its index) instead of stopping."""
    out: list[Any] = []
    failures: list[Failure] = []
    for j, raw in enumerate(items):
        try:
            value = item.coerce(raw, ctx)
        except Invalid as invalid:
            failures += [Failure(f.message, (j, *f.at), f.hint) for f in invalid.failures]
            continue
        if options is not None and value not in options:
            failure = _membership(value, options, ctx)
            failures.append(Failure(failure.message, (j,), failure.hint))
        out.append(value)
    if failures:
        raise Invalid(failures)
    return out


class MultiselectKind(SelectKind):
    """MULTISELECT: a list of choices from `values` (Kestra's older `options`) or `expression`.

    Items are of `itemType` (STRING unless told). A JSON array text is accepted for the CLI.
    """

    keys = frozenset(
        {
            "values",
            "options",
            "expression",
            "itemType",
            "allowCustomValue",
            "allowInput",
            "autoSelectFirst",
        }
    )
    expected = 'a list of values (a JSON array such as ["a", "b"])'

    def __init__(self, name: str, decl: Mapping[str, Any], report: Reporter) -> None:
        Kind.__init__(self, name, decl, report)
        self.item = _item_kind(name, decl, report, MULTISELECT_ITEM_TYPES, "STRING")
        key = (
            "options"
            if decl.get("values") is None and decl.get("options") is not None
            else "values"
        )
        if decl.get("values") is not None and decl.get("options") is not None:
            report.add("options", "`options` is the old name of `values`; give only `values`")
        self.values = _read_choices(decl, key, report, self.item)
        self.expression = _read_str(decl, "expression", report)
        self.custom = _read_custom(decl, report)
        _read_bool(decl, "autoSelectFirst", report)
        if (
            decl.get("values") is None
            and decl.get("options") is None
            and decl.get("expression") is None
        ):
            report.add(None, "MULTISELECT inputs need `values` or `expression`")
        elif decl.get(key) is not None and decl.get("expression") is not None:
            report.add("expression", "use either `values` or `expression`, not both")

    def options(self, ctx: Context) -> list[Any] | None:
        if self.expression is None:
            return self.values
        if ctx.options is None or self.item is None:
            return None
        try:
            return _coerce_items(list(ctx.options), self.item, Context(input_id=ctx.input_id))
        except Invalid as invalid:
            raise Invalid(
                f"cannot be chosen: its `expression` gave a bad value ({invalid.failures[0].message})"
            ) from None

    def parse(self, value: Any, ctx: Context) -> list[Any]:
        items = _as_list(value)
        if items is None or self.item is None:
            raise self.wrong(value, ctx)
        return _coerce_items(items, self.item, ctx, None if self.custom else self.options(ctx))


class ArrayKind(Kind):
    """ARRAY: a list whose items are of `itemType`, each checked with that type's validators.

    `min`, `validator`, `after`, ... written on the ARRAY apply to every item.
    """

    def __init__(self, name: str, decl: Mapping[str, Any], report: Reporter) -> None:
        super().__init__(name, decl, report)
        self.item = _item_kind(name, decl, report, ARRAY_ITEM_TYPES, None)
        item_name = self.item.name if self.item else "…"
        self.expected = f"an ARRAY of {item_name} (a list, or a JSON array such as [1, 2])"
        self.checkable = self.item is not None and self.item.checkable

    def allowed_keys(self) -> frozenset[str] | None:
        if self.item is None:
            return None
        item_keys = self.item.allowed_keys()
        return None if item_keys is None else item_keys | {"itemType"}

    def parse(self, value: Any, ctx: Context) -> list[Any]:
        items = _as_list(value)
        if items is None or self.item is None:
            raise self.wrong(value, ctx)
        return _coerce_items(items, self.item, ctx)


KINDS: dict[str, type[Kind]] = {
    "STRING": StringKind,
    "ENUM": EnumKind,
    "SELECT": SelectKind,
    "MULTISELECT": MultiselectKind,
    "INT": IntKind,
    "FLOAT": FloatKind,
    "BOOLEAN": BooleanKind,
    "BOOL": BooleanKind,
    "DATETIME": DateTimeKind,
    "DATE": DateKind,
    "TIME": TimeKind,
    "DURATION": DurationKind,
    "FILE": FileKind,
    "JSON": JsonKind,
    "YAML": YamlKind,
    "URI": UriKind,
    "SECRET": SecretKind,
    "ARRAY": ArrayKind,
    "EMAIL": EmailKind,
}

INPUT_TYPES: frozenset[str] = frozenset(KINDS)

ARRAY_ITEM_TYPES = INPUT_TYPES - {"ARRAY", "SECRET", "SELECT", "MULTISELECT"}
"""Kestra refuses these as items: lists of lists, of secrets, or of choices."""

MULTISELECT_ITEM_TYPES = frozenset(
    {
        "STRING",
        "INT",
        "FLOAT",
        "BOOLEAN",
        "BOOL",
        "DATETIME",
        "DATE",
        "TIME",
        "DURATION",
        "URI",
        "EMAIL",
    }
)
"""Scalars only: each chosen value is compared with the listed ones."""

_TYPE_SYNONYMS = {
    "INTEGER": "INT",
    "LONG": "INT",
    "NUMBER": "FLOAT",
    "DOUBLE": "FLOAT",
    "DECIMAL": "FLOAT",
    "TEXT": "STRING",
    "STR": "STRING",
    "LIST": "ARRAY",
    "MAP": "JSON",
    "DICT": "JSON",
    "TIMESTAMP": "DATETIME",
    "INSTANT": "DATETIME",
    "PASSWORD": "SECRET",
    "URL": "URI",
    "MAIL": "EMAIL",
    "DROPDOWN": "SELECT",
    "PATH": "FILE",
}


def suggest_type(value: Any, allowed: Iterable[str] = INPUT_TYPES) -> str | None:
    """A "did you mean 'INT'?" hint for a misspelt, lower-case or foreign type name."""
    if not isinstance(value, str):
        return None
    allowed = sorted(allowed)
    upper = value.strip().upper()
    if upper in allowed:
        return f"did you mean {upper!r}? (types are upper-case)"
    synonym = _TYPE_SYNONYMS.get(upper)
    if synonym in allowed:
        return f"did you mean {synonym!r}?"
    match = difflib.get_close_matches(upper, allowed, n=1, cutoff=0.6)
    return f"did you mean {match[0]!r}?" if match else None
