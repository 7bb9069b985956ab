"""tercel_sdk.ion: typed values and row files in Amazon Ion.

The property tests check three things for arbitrary values: our reader gives back what was
written, amazon.ion's own reader sees the same values in our text (so it is real Ion), and the
fast path agrees with the amazon.ion path on the same bytes.
"""

from __future__ import annotations

import io
import math
import os
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from amazon.ion import simpleion
from amazon.ion.core import IonType
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tercel_sdk import ion
from tercel_sdk.ion import (
    IonDecodeError,
    IonEncodeError,
    IonError,
    dumps,
    loads,
    read_rows,
    read_rows_file,
    write_rows,
    write_rows_file,
)

HEADER = ion._HEADER_B

# --------------------------------------------------------------------------------------------
# Strategies and comparison
# --------------------------------------------------------------------------------------------

TRICKY_STRINGS = [
    "",
    '"',
    "\\",
    '\\"',
    "\n",
    "\r\n",
    "\t",
    "\t\t",
    "\x00",
    "\x0b\x0c\x1f\x7f",
    "\u2028\u2029\ufeff\uffff",
    "é ü 漢字 🎉",
    "NaN",
    "Infinity",
    "-Infinity",
    "0e-0",
    "1.5",
    "1.5e0",
    "\\ud800",
    "\\ud83d\\ude00",
    "2024-01-02T03:04:05Z",
    "2024-01-02T03:04:05.123456+01:00",
    "\t2024-01-02T03:04:05+01:00\t",
    "\t\t{{aGk=}}\t\t",
    "2024-01-02",
    "nan",
    "+inf",
    "{{aGk=}}",
    'time::"12:30:00"',
    "'''",
    "$ion_1_0",
    ion._HEADER,
    ion._HEADER.strip(),
    "// comment",
    "/* comment */",
    "null",
    "true",
    "a,b]c}d",
]

text_values = st.one_of(st.sampled_from(TRICKY_STRINGS), st.text(max_size=20))
field_names = st.one_of(st.sampled_from(["id", "when", "a b", "%s", "\"q\"", "", "$0", "$4", "$10"]), text_values)

fixed_offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
tzinfos = st.one_of(st.just(UTC), fixed_offsets, st.just(PARIS))

decimals = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False),
    st.sampled_from(["1", "-0", "0", "1.50", "-0.00", "1E+3", "1.5E-7", "0E-7", "123456789012345678901234567890.123"]).map(Decimal),
    st.tuples(st.integers(-(10**40), 10**40), st.integers(-60, 60)).map(
        lambda t: Decimal(t[0]).scaleb(t[1])
    ),
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**200), max_value=2**200),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e16, 1e-5, 5e-324, 1.7976931348623157e308, 0.1]),
    decimals,
    text_values,
    st.binary(max_size=40),
    st.datetimes(),
    st.datetimes(timezones=tzinfos, min_value=datetime(1, 1, 2)),  # day 1 in UTC+x is before year 1 in UTC
    st.dates(),
    st.times(),
    st.times(timezones=fixed_offsets),
    st.timedeltas(),
)

values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(field_names, children, max_size=4),
    ),
    max_leaves=12,
)


@st.composite
def tables(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Rows sharing their keys, as tables usually are (exercises the columnar writer)."""
    names = draw(st.lists(field_names, min_size=1, max_size=5, unique=True))
    column_types = [draw(st.sampled_from([scalars, values])) for _ in names]
    count = draw(st.integers(min_value=1, max_value=8))
    return [{n: draw(strategy) for n, strategy in zip(names, column_types, strict=True)} for _ in range(count)]


rows_strategy = st.one_of(tables(), st.lists(values, max_size=6))


def normalized(value: Any) -> Any:
    """What a value reads back as: tuples are lists, zone-aware datetimes have fixed offsets."""
    if isinstance(value, tuple | list):
        return [normalized(v) for v in value]
    if isinstance(value, dict):
        return {k: normalized(v) for k, v in value.items()}
    offset = value.utcoffset() if isinstance(value, datetime) else None
    if offset is not None and offset % timedelta(minutes=1):  # local mean time: the instant in UTC
        return value.astimezone(UTC)
    return value


# amazon.ion's C extension (0.15) reads some decimals of more than 34 digits with one trailing
# zero less (1799805786184427709945188.3448805530 -> ...553): same value, different exponent.
# Checks of *its* reading allow that; our reader must keep every digit.
ION_C_DECIMAL_DIGITS = 34


def same_decimal(a: Decimal, b: Decimal, *, ion_c: bool = False) -> bool:
    if a.as_tuple() == b.as_tuple():
        return True
    return ion_c and len(b.as_tuple().digits) > ION_C_DECIMAL_DIGITS and a == b


def same(a: Any, b: Any, *, ion_c: bool = False) -> bool:
    """Equality that also checks exact types, float signs and NaN, Decimal exponents, offsets."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, Decimal):
        return same_decimal(a, b, ion_c=ion_c)
    if isinstance(a, datetime):
        # wall time and offset (== across zones is False for fold-ambiguous times, PEP 495)
        return a.replace(tzinfo=None) == b.replace(tzinfo=None) and a.utcoffset() == b.utcoffset() and (
            (a.tzinfo is None) == (b.tzinfo is None)
        )
    if isinstance(a, time):
        return a == b and a.utcoffset() == b.utcoffset()
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y, ion_c=ion_c) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k], ion_c=ion_c) for k in a)
    return a == b


def assert_same(actual: Any, expected: Any, *, ion_c: bool = False) -> None:
    assert same(actual, expected, ion_c=ion_c), f"\nactual:   {actual!r}\nexpected: {expected!r}"


def matches_ion(ionpy: Any, expected: Any) -> bool:
    """Check amazon.ion's raw IonPy value against the Python value, independently of our
    conversion code: the Ion type, annotations and value must be the documented mapping."""
    kind = ionpy.ion_type
    annotations = [a.text for a in ionpy.ion_annotations]
    if expected is None:
        return kind is IonType.NULL
    if isinstance(expected, bool):
        return kind is IonType.BOOL and bool(ionpy) is expected
    if isinstance(expected, int):
        return kind is IonType.INT and int(ionpy) == expected
    if isinstance(expected, float):
        return kind is IonType.FLOAT and same(float(ionpy), expected)
    if isinstance(expected, Decimal):
        return kind is IonType.DECIMAL and same_decimal(Decimal(ionpy), expected, ion_c=True)
    if isinstance(expected, str):
        return kind is IonType.STRING and not annotations and str(ionpy) == expected
    if isinstance(expected, bytes):
        return kind is IonType.BLOB and bytes(ionpy) == expected
    if isinstance(expected, datetime):
        if kind is not IonType.TIMESTAMP or ionpy.utcoffset() != expected.utcoffset():
            return False
        return ionpy.replace(tzinfo=None) == expected.replace(tzinfo=None)
    if isinstance(expected, date):
        return kind is IonType.TIMESTAMP and ionpy.precision.name == "DAY" and ionpy.date() == expected
    if isinstance(expected, time):
        return kind is IonType.STRING and annotations == ["time"] and time.fromisoformat(str(ionpy)) == expected
    if isinstance(expected, timedelta):
        return kind is IonType.STRING and annotations == ["duration"] and ion._parse_duration(str(ionpy)) == expected
    if isinstance(expected, list):
        return kind is IonType.LIST and len(ionpy) == len(expected) and all(
            matches_ion(x, y) for x, y in zip(ionpy, expected, strict=True)
        )
    if isinstance(expected, dict):
        return kind is IonType.STRUCT and list(ionpy.keys()) == list(expected) and all(
            matches_ion(ionpy[k], v) for k, v in expected.items()
        )
    return False


def fast_body(data: bytes) -> bytes:
    assert data.startswith(HEADER)
    return data[len(HEADER) :]


# TERCEL_ION_EXAMPLES=5000 for a deeper search than the default run.
PROPERTY = settings(max_examples=int(os.environ.get("TERCEL_ION_EXAMPLES", "300")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------


@PROPERTY
@given(values)
def test_dumps_loads_round_trip(value: Any) -> None:
    assert_same(loads(dumps(value)), normalized(value))


@PROPERTY
@given(values)
def test_amazon_ion_reads_our_text_as_the_same_values(value: Any) -> None:
    data = dumps(value)
    raw = simpleion.loads(data, single_value=False)
    assert len(raw) == 1
    assert matches_ion(raw[0], normalized(value)), f"{raw[0]!r} vs {value!r}"
    # ... and our conversion of amazon.ion's values agrees too
    (converted,) = ion._read_ion(io.BytesIO(data))
    assert_same(converted, normalized(value), ion_c=True)


@PROPERTY
@given(rows_strategy)
def test_rows_round_trip_through_both_readers(rows: list[Any]) -> None:
    buffer = io.BytesIO()
    assert write_rows(rows, buffer) == len(rows)
    data = buffer.getvalue()
    expected = normalized(rows)
    assert_same(list(read_rows(io.BytesIO(data))), expected)
    assert_same(list(ion._read_ion(io.BytesIO(data))), expected, ion_c=True)
    raw = simpleion.loads(data, single_value=False)
    assert len(raw) == len(expected)
    assert all(matches_ion(r, e) for r, e in zip(raw, expected, strict=True))


CLEAN = st.text(max_size=20).filter(lambda s: "Infinity" not in s and "\\ud" not in s.lower())


@PROPERTY
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "i": st.integers(),
                "f": st.floats(),
                "s": CLEAN,
                "t": st.datetimes(timezones=st.one_of(st.none(), tzinfos), min_value=datetime(1, 1, 2)),
                "d": decimals,
                "x": st.one_of(st.dates(), st.binary(max_size=8), st.times(), st.timedeltas(), st.none()),
                "l": st.lists(st.one_of(st.floats(), CLEAN, st.datetimes()), max_size=3),
            }
        ),
        min_size=1,
        max_size=10,
    )
)
def test_fast_path_accepts_our_own_rows(rows: list[dict[str, Any]]) -> None:
    """Strings aside (a few substrings make a chunk fall back), our output takes the fast path."""
    buffer = io.BytesIO()
    write_rows(rows, buffer)
    values = ion._parse_chunk(fast_body(buffer.getvalue()))
    assert values is not None
    assert_same(values, normalized(rows))


# --------------------------------------------------------------------------------------------
# Examples: the mapping
# --------------------------------------------------------------------------------------------


def test_text_is_readable_ion_with_the_documented_spellings() -> None:
    data = dumps(
        {
            "dec": Decimal("1"),
            "dec2": Decimal("1.50"),
            "dec3": Decimal("1E+3"),
            "f": 2.0,
            "nan": math.nan,
            "when": datetime(2024, 1, 2, 3, 4, 5, 600000, tzinfo=timezone(timedelta(hours=2))),
            "naive": datetime(2024, 1, 2, 3, 4, 5),
            "day": date(2024, 1, 2),
            "t": time(12, 30),
            "dur": timedelta(hours=1, minutes=30),
            "b": b"hello",
        }
    )
    text = fast_body(data).decode().replace("\t", "")
    assert text == (
        '{"dec":1.,"dec2":1.50,"dec3":1d+3,"f":2.0e0,"nan":nan,'
        '"when":2024-01-02T03:04:05.600000+02:00,"naive":2024-01-02T03:04:05-00:00,'
        '"day":2024-01-02,"t":time::"12:30:00","dur":duration::"PT1H30M","b":{{aGVsbG8=}}}\n'
    )


def test_loads_returns_plain_types_only() -> None:
    value = loads(b'{a: sym, b: (x "y"), c: {{"clob"}}, d: null.int, e: 2024-01-02T, f: 2024T,'
                  b' g: 2024-01-02T03:04Z, h: annotated::1, i: [nan, +inf, -inf], j: 1.0}')
    assert value["a"] == "sym" and type(value["a"]) is str
    assert value["b"] == ["x", "y"] and type(value["b"]) is list
    assert value["c"] == b"clob" and type(value["c"]) is bytes
    assert value["d"] is None
    assert type(value["e"]) is date and value["e"] == date(2024, 1, 2)
    assert type(value["f"]) is date and value["f"] == date(2024, 1, 1)
    assert type(value["g"]) is datetime and value["g"] == datetime(2024, 1, 2, 3, 4, tzinfo=UTC)
    assert value["h"] == 1 and type(value["h"]) is int
    assert math.isnan(value["i"][0]) and value["i"][1:] == [math.inf, -math.inf]
    assert value["j"] == Decimal("1.0") and type(value["j"]) is Decimal
    assert type(value) is dict


def test_naive_datetimes_use_the_unknown_offset() -> None:
    naive = datetime(2024, 1, 2, 3, 4, 5, 123456)
    raw = simpleion.loads(dumps(naive))
    assert raw.tzinfo is None and raw.utcoffset() is None
    back = loads(dumps(naive))
    assert back == naive and back.tzinfo is None


def test_zone_aware_datetime_comes_back_with_its_offset() -> None:
    summer = datetime(2024, 7, 1, 12, 0, tzinfo=PARIS)
    back = loads(dumps(summer))
    assert back == summer and back.utcoffset() == timedelta(hours=2)


def test_sub_minute_offsets_are_written_as_the_same_instant_in_utc() -> None:
    lmt = datetime(1890, 1, 1, 12, 0, tzinfo=PARIS)  # Paris local mean time: +00:09:21
    assert lmt.utcoffset() % timedelta(minutes=1)
    back = loads(dumps(lmt))
    assert back == lmt and back.utcoffset() == timedelta(0)


def test_time_and_timedelta_round_trip() -> None:
    for value in [time(0, 0), time(23, 59, 59, 999999), time(12, 30, tzinfo=timezone(timedelta(hours=-5)))]:
        assert_same(loads(dumps(value)), value)
    for value in [timedelta(0), timedelta(microseconds=-1), timedelta(days=-999999999),
                  timedelta(days=999999999, hours=23, minutes=59, seconds=59, microseconds=999999)]:
        assert_same(loads(dumps(value)), value)


def test_duration_text_is_iso_8601() -> None:
    assert ion._format_duration(timedelta(hours=1, minutes=30)) == "PT1H30M"
    assert ion._format_duration(timedelta(days=2, seconds=1)) == "P2DT1S"
    assert ion._format_duration(timedelta(0)) == "PT0S"
    assert ion._format_duration(-timedelta(seconds=1.5)) == "-PT1.5S"
    assert ion._parse_duration("PT-1H-30M") == -timedelta(hours=1, minutes=30)  # java.time style
    assert ion._parse_duration("P1DT2H") == timedelta(days=1, hours=2)


def test_long_decimals_keep_every_digit() -> None:
    value = Decimal("1799805786184427709945188.3448805530")  # 35 digits
    assert_same(loads(dumps(value)), value)
    buffer = io.BytesIO()
    write_rows([{"d": value}], buffer)
    assert_same(list(read_rows(io.BytesIO(buffer.getvalue()))), [{"d": value}])
    # amazon.ion itself drops the last zero: the value is equal, the exponent is not
    assert Decimal(simpleion.loads(dumps(value))) == value


def test_decimal_one_is_a_decimal_not_an_int() -> None:
    raw = simpleion.loads(dumps(Decimal("1")))
    assert raw.ion_type is IonType.DECIMAL
    assert_same(loads(dumps(Decimal("1"))), Decimal("1"))


def test_huge_ints_beyond_the_str_digit_limit() -> None:
    big = -(10**5000) - 7
    data = dumps(big)
    assert b"0x" in data  # hex: Python's int<->str digit limit does not apply
    assert loads(data) == big
    assert loads(dumps(10**4000)) == 10**4000
    assert int(simpleion.loads(dumps(10**4000))) == 10**4000


def test_amazon_ion_values_can_be_written_back() -> None:
    value = simpleion.loads(
        b"{a: sym, b: null.string, c: [1, 2.5e0, 3.5, (x y)], d: 2024-01-02T03:04Z, e: 2024-01-02T}"
    )
    assert_same(loads(dumps(value)), {
        "a": "sym", "b": None, "c": [1, 2.5, Decimal("3.5"), ["x", "y"]],
        "d": datetime(2024, 1, 2, 3, 4, tzinfo=UTC), "e": date(2024, 1, 2),
    })


def test_subclasses_are_written_as_their_base_type() -> None:
    from collections import OrderedDict
    from enum import IntEnum, StrEnum

    class Color(StrEnum):
        RED = "red"

    class Level(IntEnum):
        HIGH = 3

    value = OrderedDict(c=Color.RED, lvl=Level.HIGH, raw=bytearray(b"x"), mv=memoryview(b"y"))
    assert_same(loads(dumps(value)), {"c": "red", "lvl": 3, "raw": b"x", "mv": b"y"})


# --------------------------------------------------------------------------------------------
# Encoding errors
# --------------------------------------------------------------------------------------------


def test_sets_are_refused_with_their_path() -> None:
    with pytest.raises(IonEncodeError) as info:
        dumps({"a": [1, {"tags": {1, 2}}]})
    assert info.value.path == "value.a[1].tags"
    assert info.value.type_name == "set"
    assert "set" in str(info.value) and "value.a[1].tags" in str(info.value)


def test_unsupported_type_in_a_row_names_row_and_field() -> None:
    rows = [{"id": i, "when": datetime(2024, 1, 1)} for i in range(5)]
    rows[3]["when"] = object()
    with pytest.raises(IonEncodeError) as info:
        write_rows(rows, io.BytesIO())
    assert info.value.path == "rows[3].when"
    assert "builtins.object" in str(info.value)


def test_other_encode_errors() -> None:
    with pytest.raises(IonEncodeError, match="field names must be strings"):
        dumps({1: "a"})
    with pytest.raises(IonEncodeError, match="circular"):
        loop: list[Any] = []
        loop.append(loop)
        dumps(loop)
    with pytest.raises(IonEncodeError, match="NaN"):
        dumps(Decimal("NaN"))
    with pytest.raises(IonEncodeError, match="Infinity"):
        dumps([Decimal("-Infinity")])
    with pytest.raises(IonEncodeError) as info:
        write_rows([{"ok": "x"}, {"name": "bad \ud800 surrogate"}], io.BytesIO())
    assert info.value.path == "rows[1].name" and "surrogate" in str(info.value)
    with pytest.raises(IonEncodeError) as info:
        dumps({"bad key \udcff": 1})
    assert "surrogate" in str(info.value)
    assert issubclass(IonEncodeError, IonError) and issubclass(IonDecodeError, IonError)


def test_a_failed_row_does_not_poison_the_key_cache() -> None:
    with pytest.raises(IonEncodeError):
        write_rows([{"fresh-key": {3}}], io.BytesIO())
    assert loads(dumps({"fresh-key": 1})) == {"fresh-key": 1}


# --------------------------------------------------------------------------------------------
# Row files
# --------------------------------------------------------------------------------------------


def test_rows_file_helpers(tmp_path: Any) -> None:
    path = tmp_path / "rows.ion"
    rows = [{"id": i, "at": datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=i)} for i in range(10)]
    assert write_rows_file(path, rows) == 10
    assert path.read_bytes().startswith(HEADER)
    assert list(read_rows_file(path)) == rows
    assert write_rows_file(path, iter([])) == 0
    assert list(read_rows_file(path)) == []


def test_non_struct_rows() -> None:
    rows = [1, "two", [3.0], None, {"five": 5}, date(2024, 1, 6), Decimal("7.0")]
    buffer = io.BytesIO()
    write_rows(rows, buffer)
    assert_same(list(read_rows(io.BytesIO(buffer.getvalue()))), [1, "two", [3.0], None, {"five": 5}, date(2024, 1, 6), Decimal("7.0")])


def test_many_chunks_with_long_lines_and_mixed_keys() -> None:
    big = "x" * 300_000
    rows: list[Any] = []
    for i in range(3000):
        row: dict[str, Any] = {"i": i, "s": big if i % 700 == 0 else f"r{i}"}
        if i % 3 == 0:
            row["extra"] = Decimal(i).scaleb(-2)
        rows.append(row)
    buffer = io.BytesIO()
    write_rows(rows, buffer)
    assert buffer.getvalue().count(b"\n") == 3001
    assert list(read_rows(io.BytesIO(buffer.getvalue()))) == rows


def test_reading_is_streaming() -> None:
    class OneShot(io.RawIOBase):
        """A non-seekable stream that counts how much was read."""

        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)
            self.consumed = 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:  # type: ignore[override]
            out = self._data.read(size)
            self.consumed += len(out)
            return out

    buffer = io.BytesIO()
    write_rows(({"i": i, "pad": "p" * 100} for i in range(100_000)), buffer)
    stream = OneShot(buffer.getvalue())
    rows = read_rows(stream)
    assert next(rows) == {"i": 0, "pad": "p" * 100}
    assert stream.consumed < len(buffer.getvalue()) / 4


def test_a_user_string_containing_infinity_still_reads_everything() -> None:
    rows = [{"i": i, "t": datetime(2024, 1, 1, tzinfo=UTC), "s": "Infinity" if i == 5 else "x"} for i in range(20)]
    buffer = io.BytesIO()
    write_rows(rows, buffer)
    assert list(read_rows(io.BytesIO(buffer.getvalue()))) == rows


def test_long_strings_through_the_amazon_ion_path() -> None:
    """ion-c's text buffer is 4 KiB unless told otherwise; the fallback must read what we write."""
    long = "Infinity " + "x" * 3_000_000  # "Infinity" sends the chunk to the slower paths
    rows = [{"t": datetime(2024, 1, 1), "s": long}]
    buffer = io.BytesIO()
    write_rows(rows, buffer)
    assert list(read_rows(io.BytesIO(buffer.getvalue()))) == rows
    assert list(ion._read_ion(io.BytesIO(buffer.getvalue()))) == rows


def test_bare_fractions_in_strings_do_not_change_float_parsing() -> None:
    rows = [{"f": 1.5, "s": "version 1.5", "d": Decimal("2.50")}, {"f": 2.0, "s": "x", "d": Decimal("1")}]
    buffer = io.BytesIO()
    write_rows(rows, buffer)
    assert_same(ion._parse_chunk(fast_body(buffer.getvalue())), rows)
    assert_same(ion._parse_chunk(fast_body(dumps([1.5, 2.5]))), [[1.5, 2.5]])


def test_last_line_without_newline() -> None:
    data = HEADER + b'{"a":1}\n{"b":\t2024-01-02T00:00:00+00:00\t}'
    assert list(read_rows(io.BytesIO(data))) == [{"a": 1}, {"b": datetime(2024, 1, 2, tzinfo=UTC)}]


def test_files_we_did_not_write_go_through_amazon_ion() -> None:
    text = simpleion.dumps([{"a": 1}, {"b": Decimal("2.5")}], binary=False, sequence_as_stream=True)
    assert list(read_rows(io.BytesIO(text.encode()))) == [{"a": 1}, {"b": Decimal("2.5")}]
    binary = simpleion.dumps([{"a": 1}, "two"], binary=True, sequence_as_stream=True)
    assert list(read_rows(io.BytesIO(binary))) == [{"a": 1}, "two"]
    assert list(read_rows(io.BytesIO(b""))) == []
    assert loads(simpleion.dumps({"x": [1, 2]})) == {"x": [1, 2]}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # JSON-looking numbers keep their Ion meaning
        (b'{"a":1.5}\n', [{"a": Decimal("1.5")}]),
        (b'{"a":1.5e0,"b":1E2}\n', [{"a": 1.5, "b": 100.0}]),
        # NaN / Infinity are symbols in Ion, not numbers
        (b"[NaN, Infinity]\n", [["NaN", "Infinity"]]),
        (b"[-Infinity, \t2024-01-02T00:00:00+00:00\t]\n", None),
        (b"(- Infinity \t2024-01-02T00:00:00+00:00\t)\n", [["-", "Infinity", datetime(2024, 1, 2, tzinfo=UTC)]]),
        (b'[-\t2024-01-02T00:00:00+00:00\t]\n', None),
        (b'["\t\t1.\t\t", \t2024-01-02T00:00:00+00:00\t]\n', [["\t\t1.\t\t", datetime(2024, 1, 2, tzinfo=UTC)]]),
        # a raw TAB inside a string around something that looks like our token
        (b'"a\t2024-01-02T00:00:00+00:00\tb"\n', ["a\t2024-01-02T00:00:00+00:00\tb"]),
        (b'"a\t\t1.\t\tb"\n', ["a\t\t1.\t\tb"]),
        # tokens in our brackets that are not in our forms are still read as Ion says
        (b'{"d":\t2024-01-02\t}\n', [{"d": date(2024, 1, 2)}]),
        (b'{"d":\t2024-01-02T03:04:05-00:00\t}\n', [{"d": datetime(2024, 1, 2, 3, 4, 5)}]),
        (b'{"d":\t\t2024-01-02T03:04Z\t\t}\n', [{"d": datetime(2024, 1, 2, 3, 4, tzinfo=UTC)}]),
        (b"[\t\t0x1F\t\t]\n", [[31]]),
        (b"['''a'''\n'''b''']\n", [["ab"]]),
        (b"'''a'''\n'''b'''\n", ["ab"]),
        (b"{a: 1,\n b: 2}\n", [{"a": 1, "b": 2}]),
        (b'$ion_symbol_table::{symbols:["hello"]}\n$10\n', ["hello"]),
        (b'"\\ud83d\\ude00"\n', ["\U0001f600"]),
        (b"1 // a comment\n2\n", [1, 2]),
    ],
)
def test_marked_files_we_did_not_write_read_as_amazon_ion_does(body: bytes, expected: list[Any] | None) -> None:
    if expected is None:  # not valid Ion: both readers say so
        with pytest.raises(IonDecodeError):
            list(read_rows(io.BytesIO(HEADER + body)))
        with pytest.raises(IonDecodeError):
            list(ion._read_ion(io.BytesIO(body)))
        return
    assert_same(list(read_rows(io.BytesIO(HEADER + body))), expected)
    assert_same(list(ion._read_ion(io.BytesIO(body))), expected)


def test_decode_error_names_the_line_of_the_bad_row() -> None:
    buffer = io.BytesIO()
    write_rows([{"i": i} for i in range(10)], buffer)
    lines = buffer.getvalue().split(b"\n")
    lines[7] = b'{"i": [unclosed'  # row 6, line 8 of the file
    rows = read_rows(io.BytesIO(b"\n".join(lines)))
    assert [next(rows) for _ in range(6)] == [{"i": i} for i in range(6)]
    with pytest.raises(IonDecodeError) as info:
        next(rows)
    assert info.value.line == 8
    assert str(info.value).startswith("line 8:")


def test_decode_errors() -> None:
    with pytest.raises(IonDecodeError, match="exactly one"):
        loads(b"1 2")
    with pytest.raises(IonDecodeError, match="exactly one"):
        loads(b"")
    with pytest.raises(IonDecodeError):
        loads(b"{unclosed")
    with pytest.raises(IonDecodeError):
        list(read_rows(io.BytesIO(b"[1, 2")))
    with pytest.raises(IonDecodeError):
        loads(b"$0")  # a symbol with unknown text
    assert loads(dumps("x").decode()) == "x"


def test_annotated_strings_that_do_not_parse_stay_strings() -> None:
    assert loads(b'time::"not a time"') == "not a time"
    assert loads(b'duration::"soon"') == "soon"
    assert loads(HEADER + b'\t\ttime::"99:99"\t\t\n') == "99:99"
