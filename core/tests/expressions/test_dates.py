"""`date`, `dateAdd` and the timestamp filters: Java patterns, Kestra's named formats, zones."""

from __future__ import annotations

import datetime as dt

import pytest
from tercel.expressions import ExpressionEngine, ExpressionError

UTC = dt.UTC
# A Tuesday, day 191 of a leap year, in US week 28.
WHEN = dt.datetime(2024, 7, 9, 6, 17, 1, 171193, tzinfo=UTC)


def fmt(
    engine: ExpressionEngine, pattern: str, value: object = WHEN, zone: str | None = None
) -> str:
    context = {"v": value, "p": pattern, "z": zone}
    if zone is None:
        return engine.evaluate("{{ v | date(p) }}", context)
    return engine.evaluate("{{ v | date(p, timeZone=z) }}", context)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("yyyy-MM-dd", "2024-07-09"),
        ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "2024-07-09T06:17:01.171Z"),
        ("yyyy-MM-dd HH:mm:ss.SSSSSS", "2024-07-09 06:17:01.171193"),
        ("yyyy/MM/dd HH:mm", "2024/07/09 06:17"),
        ("yy", "24"),
        ("y", "2024"),
        ("yyyyy", "02024"),
        ("uuuu", "2024"),
        ("M/d/yy", "7/9/24"),
        ("MMM", "Jul"),
        ("MMMM", "July"),
        ("MMMMM", "J"),
        ("LLL", "Jul"),
        ("E", "Tue"),
        ("EEE", "Tue"),
        ("EEEE", "Tuesday"),
        ("EEEEE", "T"),
        ("e", "3"),
        ("c", "3"),
        ("eeee", "Tuesday"),
        ("D", "191"),
        ("DDD", "191"),
        ("d", "9"),
        ("dd", "09"),
        ("h:mm a", "6:17 AM"),
        ("hh", "06"),
        ("K k H HH", "6 6 6 06"),
        ("m mm s ss", "17 17 1 01"),
        ("S", "1"),
        ("SSS", "171"),
        ("SSSSSSSSS", "171193000"),
        ("n", "171193000"),
        ("A", "22621171"),
        ("N", "22621171193000"),
        ("Q QQ QQQ QQQQ", "3 03 Q3 3rd quarter"),
        ("G GGGG", "AD Anno Domini"),
        ("w", "28"),
        ("W", "2"),
        ("F", "2"),
        ("Y", "2024"),
        ("'Day' D 'of' yyyy", "Day 191 of 2024"),
        ("hh 'o''clock' a", "06 o'clock AM"),
        ("''yyyy''", "'2024'"),
        ("yyyy[-MM[-dd]]", "2024-07-09"),
        ("z", "UTC"),
        ("zzzz", "Coordinated Universal Time"),
        ("VV", "UTC"),
        ("O", "GMT"),
        ("X XX XXX", "Z Z Z"),
        ("x xx xxx", "+00 +0000 +00:00"),
        ("Z ZZZZ ZZZZZ", "+0000 GMT Z"),
    ],
)
def test_java_patterns(engine: ExpressionEngine, pattern: str, expected: str) -> None:
    assert fmt(engine, pattern) == expected


@pytest.mark.parametrize(
    ("zone", "pattern", "expected"),
    [
        ("Europe/Paris", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "2024-07-09T08:17:01.171+02:00"),
        ("Europe/Paris", "z", "CEST"),
        ("Europe/Paris", "zzzz", "Central European Summer Time"),
        ("Europe/Paris", "VV", "Europe/Paris"),
        ("Europe/Paris", "O OOOO", "GMT+2 GMT+02:00"),
        ("Europe/Paris", "X XX XXX XXXX XXXXX", "+02 +0200 +02:00 +0200 +02:00"),
        ("Europe/Paris", "x xx xxx", "+02 +0200 +02:00"),
        ("Europe/Paris", "Z ZZZZ ZZZZZ", "+0200 GMT+02:00 +02:00"),
        ("America/New_York", "EEE, MMM d, yyyy h:mm a z", "Tue, Jul 9, 2024 2:17 AM EDT"),
        ("America/New_York", "Z XXX", "-0400 -04:00"),
        ("Asia/Kolkata", "HH:mm X O", "11:47 +0530 GMT+5:30"),
        ("Asia/Tokyo", "yyyy-MM-dd HH:mm", "2024-07-09 15:17"),
        ("Pacific/Kiritimati", "yyyy-MM-dd HH", "2024-07-09 20"),
        ("Pacific/Pago_Pago", "yyyy-MM-dd HH", "2024-07-08 19"),
        ("+05:30", "HH:mm XXX VV", "11:47 +05:30 +05:30"),
        ("GMT+2", "HH:mm XXX", "08:17 +02:00"),
        ("UTC", "HH:mm z VV", "06:17 UTC UTC"),
        ("Z", "HH:mm XXX", "06:17 Z"),
    ],
)
def test_time_zones(engine: ExpressionEngine, zone: str, pattern: str, expected: str) -> None:
    assert fmt(engine, pattern, zone=zone) == expected


def test_twelve_hour_clock_edges(engine: ExpressionEngine) -> None:
    midnight = dt.datetime(2024, 1, 1, 0, 30, tzinfo=UTC)
    evening = dt.datetime(2024, 1, 1, 18, 5, tzinfo=UTC)
    assert fmt(engine, "h K k H a", midnight) == "12 0 24 0 AM"
    assert fmt(engine, "h K k H a", evening) == "6 6 18 18 PM"


def test_week_fields_around_new_year(engine: ExpressionEngine) -> None:
    # US weeks: week 1 of 2025 starts on Sunday 2024-12-29.
    assert fmt(engine, "Y-w", dt.datetime(2024, 12, 30, tzinfo=UTC)) == "2025-1"
    assert fmt(engine, "Y-w", dt.datetime(2024, 12, 28, tzinfo=UTC)) == "2024-52"
    assert fmt(engine, "iso_week_date", dt.datetime(2024, 12, 30, tzinfo=UTC)) == "2025-W01-1Z"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("iso", "2024-07-09T06:17:01.171193Z"),
        ("iso_sec", "2024-07-09T06:17:01Z"),
        ("sql", "2024-07-09 06:17:01.171193"),
        ("sql_seq", "2024-07-09 06:17:01"),
        ("iso_date_time", "2024-07-09T06:17:01.171193Z"),
        ("iso_zoned_date_time", "2024-07-09T06:17:01.171193Z"),
        ("iso_offset_date_time", "2024-07-09T06:17:01.171193Z"),
        ("iso_local_date_time", "2024-07-09T06:17:01.171193"),
        ("iso_date", "2024-07-09Z"),
        ("iso_local_date", "2024-07-09"),
        ("iso_time", "06:17:01.171193Z"),
        ("iso_local_time", "06:17:01.171193"),
        ("iso_offset_time", "06:17:01.171193Z"),
        ("iso_instant", "2024-07-09T06:17:01.171193Z"),
        ("iso_ordinal_date", "2024-191Z"),
        ("iso_week_date", "2024-W28-2Z"),
        ("basic_iso_date", "20240709Z"),
        ("rfc_1123_date_time", "Tue, 9 Jul 2024 06:17:01 GMT"),
        ("short", "7/9/24, 6:17 AM"),
        ("medium", "Jul 9, 2024, 6:17:01 AM"),
        ("long", "July 9, 2024 at 6:17:01 AM UTC"),
        ("full", "Tuesday, July 9, 2024 at 6:17:01 AM Coordinated Universal Time"),
    ],
)
def test_named_formats(engine: ExpressionEngine, name: str, expected: str) -> None:
    assert fmt(engine, name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("iso", "2024-07-09T08:17:01.171193+02:00"),
        ("iso_date_time", "2024-07-09T08:17:01.171193+02:00[Europe/Paris]"),
        ("iso_zoned_date_time", "2024-07-09T08:17:01.171193+02:00[Europe/Paris]"),
        ("iso_instant", "2024-07-09T06:17:01.171193Z"),
        ("rfc_1123_date_time", "Tue, 9 Jul 2024 08:17:01 +0200"),
        ("full", "Tuesday, July 9, 2024 at 8:17:01 AM Central European Summer Time"),
    ],
)
def test_named_formats_in_a_zone(engine: ExpressionEngine, name: str, expected: str) -> None:
    assert fmt(engine, name, zone="Europe/Paris") == expected


def test_iso_fractions_are_trimmed_like_java(engine: ExpressionEngine) -> None:
    tenth = WHEN.replace(microsecond=120000)
    whole = WHEN.replace(microsecond=0)
    assert fmt(engine, "iso_local_time", tenth) == "06:17:01.12"
    assert fmt(engine, "iso_instant", tenth) == "2024-07-09T06:17:01.120Z"
    assert fmt(engine, "iso_local_time", whole) == "06:17:01"
    assert fmt(engine, "iso_instant", whole) == "2024-07-09T06:17:01Z"
    assert fmt(engine, "iso", whole) == "2024-07-09T06:17:01.000000Z"


def test_default_format_is_iso(engine: ExpressionEngine) -> None:
    assert engine.evaluate("{{ v | date }}", {"v": WHEN}) == "2024-07-09T06:17:01.171193Z"


class TestInputs:
    def test_date_is_noon(self, engine: ExpressionEngine) -> None:
        assert fmt(engine, "yyyy-MM-dd HH:mm", dt.date(2024, 7, 9)) == "2024-07-09 12:00"
        assert fmt(engine, "yyyy-MM-dd HH:mm", "2024-07-09") == "2024-07-09 12:00"

    def test_naive_values_are_read_in_the_zone(self, engine: ExpressionEngine) -> None:
        naive = dt.datetime(2024, 7, 9, 6, 17)
        assert fmt(engine, "HH:mm XXX", naive) == "06:17 Z"
        assert fmt(engine, "HH:mm XXX", naive, zone="Europe/Paris") == "06:17 +02:00"

    def test_aware_values_are_converted_to_the_zone(self, engine: ExpressionEngine) -> None:
        assert fmt(engine, "HH:mm", "2024-07-09T08:17:01+02:00", zone="UTC") == "06:17"
        assert fmt(engine, "HH:mm XXX", "2024-07-09T08:17:01+02:00") == "08:17 +02:00"

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2024-07-09T06:17:01Z", "2024-07-09 06:17:01.000000 Z"),
            ("2024-07-09T06:17:01.171193999Z", "2024-07-09 06:17:01.171193 Z"),
            ("2024-07-09T06:17:01.5+05:30", "2024-07-09 06:17:01.500000 +05:30"),
            ("2024-07-09T08:17:01+02:00[Europe/Paris]", "2024-07-09 08:17:01.000000 +02:00"),
            ("2024-07-09T06:17:01", "2024-07-09 06:17:01.000000 Z"),
            ("2024-07-09 06:17:01", "2024-07-09 06:17:01.000000 Z"),
        ],
    )
    def test_iso_strings(self, engine: ExpressionEngine, text: str, expected: str) -> None:
        assert fmt(engine, "yyyy-MM-dd HH:mm:ss.SSSSSS XXX", text) == expected

    def test_zone_id_in_brackets_is_kept(self, engine: ExpressionEngine) -> None:
        assert fmt(engine, "z VV", "2024-07-09T08:17:01+02:00[Europe/Paris]") == "CEST Europe/Paris"

    def test_epoch_seconds(self, engine: ExpressionEngine) -> None:
        assert fmt(engine, "iso_instant", 1720505821) == "2024-07-09T06:17:01Z"
        assert fmt(engine, "iso_instant", 1720505821.5) == "2024-07-09T06:17:01.500Z"

    @pytest.mark.parametrize(
        ("text", "existing", "expected"),
        [
            ("July 24, 2001", "MMMM dd, yyyy", "2001-07-24T00:00Z"),
            ("09/07/2024 18:30", "dd/MM/yyyy HH:mm", "2024-07-09T18:30Z"),
            ("Jul 9, 2024 6:17 PM", "MMM d, yyyy h:mm a", "2024-07-09T18:17Z"),
            ("Tue, 9 Jul 2024 12:00:00 AM", "EEE, d MMM yyyy hh:mm:ss a", "2024-07-09T00:00Z"),
            ("20240709", "yyyyMMdd", "2024-07-09T00:00Z"),
            ("2024-07-09 08:17:01 +0200", "yyyy-MM-dd HH:mm:ss Z", "2024-07-09T08:17+02:00"),
            ("2024-07-09 08:17 CEST", "yyyy-MM-dd HH:mm z", "2024-07-09T08:17+02:00"),
            ("2024-07-09 08:17 Europe/Paris", "yyyy-MM-dd HH:mm VV", "2024-07-09T08:17+02:00"),
            ("24-191", "yy-DDD", "2024-07-09T00:00Z"),
            ("2024-07-09T06:17:01.171Z", "yyyy-MM-dd'T'HH:mm:ss.SSSX", "2024-07-09T06:17Z"),
            ("2024-07-09", "yyyy-MM-dd[ HH:mm]", "2024-07-09T00:00Z"),
            ("2024-07-09T06:17:01Z", "iso_date_time", "2024-07-09T06:17Z"),
        ],
    )
    def test_existing_format(
        self, engine: ExpressionEngine, text: str, existing: str, expected: str
    ) -> None:
        template = "{{ t | date(\"yyyy-MM-dd'T'HH:mmXXX\", existingFormat=e) }}"
        assert engine.evaluate(template, {"t": text, "e": existing}) == expected

    @pytest.mark.parametrize(
        ("template", "message"),
        [
            ("{{ 'not a date' | date('yyyy') }}", "ISO-8601"),
            ("{{ 'x' | date('yyyy', existingFormat='yyyy') }}", "cannot parse"),
            ("{{ true | date('yyyy') }}", "boolean"),
            ("{{ v | date('yyyy', timeZone='Mars/Olympus') }}", "unknown time zone 'Mars/Olympus'"),
            ("{{ v | date('yyyy-MM-ddTHH') }}", "unknown pattern letter 'T'"),
            ("{{ v | date('yyyy b') }}", "unknown pattern letter 'b'"),
            ("{{ v | date('yyyy #') }}", "reserved"),
            ('{{ v | date("\'open") }}', "unterminated"),
        ],
    )
    def test_errors(self, engine: ExpressionEngine, template: str, message: str) -> None:
        with pytest.raises(ExpressionError, match=message):
            engine.evaluate(template, {"v": WHEN})

    def test_null_stays_null(self, engine: ExpressionEngine) -> None:
        assert engine.evaluate("{{ null | date('yyyy') }}", {}) is None
        assert engine.evaluate("{{ null | dateAdd(1, 'DAYS') }}", {}) is None
        assert engine.evaluate("{{ null | timestamp }}", {}) is None


class TestDateAdd:
    @pytest.mark.parametrize(
        ("amount", "unit", "expected"),
        [
            (-1, "DAYS", dt.datetime(2024, 7, 8, 6, 17, 1, 171193, tzinfo=UTC)),
            (2, "WEEKS", dt.datetime(2024, 7, 23, 6, 17, 1, 171193, tzinfo=UTC)),
            (3, "HOURS", dt.datetime(2024, 7, 9, 9, 17, 1, 171193, tzinfo=UTC)),
            (-17, "MINUTES", dt.datetime(2024, 7, 9, 6, 0, 1, 171193, tzinfo=UTC)),
            (59, "SECONDS", dt.datetime(2024, 7, 9, 6, 18, 0, 171193, tzinfo=UTC)),
            (1, "HALF_DAYS", dt.datetime(2024, 7, 9, 18, 17, 1, 171193, tzinfo=UTC)),
            (829, "MILLIS", dt.datetime(2024, 7, 9, 6, 17, 2, 193, tzinfo=UTC)),
            (7, "MICROS", dt.datetime(2024, 7, 9, 6, 17, 1, 171200, tzinfo=UTC)),
            (2000, "NANOS", dt.datetime(2024, 7, 9, 6, 17, 1, 171195, tzinfo=UTC)),
            (6, "MONTHS", dt.datetime(2025, 1, 9, 6, 17, 1, 171193, tzinfo=UTC)),
            (-1, "YEARS", dt.datetime(2023, 7, 9, 6, 17, 1, 171193, tzinfo=UTC)),
            (1, "DECADES", dt.datetime(2034, 7, 9, 6, 17, 1, 171193, tzinfo=UTC)),
            (1, "days", dt.datetime(2024, 7, 10, 6, 17, 1, 171193, tzinfo=UTC)),
        ],
    )
    def test_units(
        self, engine: ExpressionEngine, amount: int, unit: str, expected: dt.datetime
    ) -> None:
        result = engine.evaluate("{{ v | dateAdd(a, u) }}", {"v": WHEN, "a": amount, "u": unit})
        assert result == expected
        assert result.tzinfo is not None

    def test_months_clamp_to_the_last_day(self, engine: ExpressionEngine) -> None:
        jan31 = dt.datetime(2024, 1, 31, tzinfo=UTC)
        leap = dt.datetime(2024, 2, 29, tzinfo=UTC)
        assert engine.evaluate("{{ v | dateAdd(1, 'MONTHS') }}", {"v": jan31}).date() == dt.date(
            2024, 2, 29
        )
        assert engine.evaluate("{{ v | dateAdd(1, 'YEARS') }}", {"v": leap}).date() == dt.date(
            2025, 2, 28
        )

    def test_days_keep_wall_clock_across_dst_hours_do_not(self, engine: ExpressionEngine) -> None:
        context = {"v": "2024-03-30T12:00:00+01:00[Europe/Paris]"}
        day = engine.evaluate("{{ v | dateAdd(1, 'DAYS', format='iso_date_time') }}", context)
        hours = engine.evaluate("{{ v | dateAdd(24, 'HOURS', format='iso_date_time') }}", context)
        assert day == "2024-03-31T12:00:00+02:00[Europe/Paris]"
        assert hours == "2024-03-31T13:00:00+02:00[Europe/Paris]"

    def test_format_and_zone(self, engine: ExpressionEngine) -> None:
        template = "{{ v | dateAdd(1, 'DAYS', format='yyyy-MM-dd HH:mm', timeZone='Asia/Tokyo') }}"
        assert engine.evaluate(template, {"v": WHEN}) == "2024-07-10 15:17"
        assert (
            engine.render("{{ v | dateAdd(-1, 'DAYS') }}", {"v": WHEN})
            == "2024-07-08T06:17:01.171193Z"
        )

    def test_string_input(self, engine: ExpressionEngine) -> None:
        result = engine.evaluate("{{ '2024-01-01T00:00:00Z' | dateAdd(1, 'DAYS') }}", {})
        assert result == dt.datetime(2024, 1, 2, tzinfo=UTC)

    def test_bad_unit(self, engine: ExpressionEngine) -> None:
        with pytest.raises(ExpressionError, match="unknown time unit 'FORTNIGHTS'"):
            engine.evaluate("{{ v | dateAdd(1, 'FORTNIGHTS') }}", {"v": WHEN})
        with pytest.raises(ExpressionError, match="amount"):
            engine.evaluate("{{ v | dateAdd('x', 'DAYS') }}", {"v": WHEN})


class TestTimestamps:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("timestamp", 1720505821),
            ("timestampMilli", 1720505821171),
            ("timestampMicro", 1720505821171193),
            ("timestampNano", 1720505821171193000),
        ],
    )
    def test_precisions(self, engine: ExpressionEngine, name: str, expected: int) -> None:
        assert engine.evaluate(f"{{{{ v | {name} }}}}", {"v": WHEN}) == expected

    def test_zone_applies_to_naive_values(self, engine: ExpressionEngine) -> None:
        naive = dt.datetime(1970, 1, 1, 1, 0)
        assert engine.evaluate("{{ v | timestamp(timeZone='Europe/Paris') }}", {"v": naive}) == 0
        assert engine.evaluate("{{ v | timestamp }}", {"v": naive}) == 3600

    def test_before_the_epoch_rounds_down(self, engine: ExpressionEngine) -> None:
        before = dt.datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)
        assert engine.evaluate("{{ v | timestamp }}", {"v": before}) == -1
        assert engine.evaluate("{{ v | timestampMilli }}", {"v": before}) == -500

    def test_existing_format(self, engine: ExpressionEngine) -> None:
        template = "{{ '01/01/1970 00:01' | timestamp(existingFormat='dd/MM/yyyy HH:mm') }}"
        assert engine.evaluate(template, {}) == 60
