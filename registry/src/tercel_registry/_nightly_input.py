"""What the nightly runner posts, checked before anything is stored.

The runner and the registry are separate programs released apart, so the documents are read
strictly: an unknown field, a wrong type or an impossible value is a 400 naming the field and
where it is (`tests[12].outcome`), never half a result. Sizes are bounded so that one bad night
cannot fill the database: a test list of at most `MAX_TESTS` entries and a log tail of at most
`MAX_LOG_TAIL` bytes (larger: refused; the runner keeps the tail), while a test's message or a
result's reason longer than `MAX_MESSAGE` characters is cut (a crash's traceback is kept, only
shorter). Times must say their time zone; a night is the runner's UTC date, `YYYY-MM-DD`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ._errors import BadRequest

__all__ = [
    "MAX_BODY",
    "MAX_LOG_TAIL",
    "MAX_MESSAGE",
    "MAX_TESTS",
    "OUTCOMES",
    "STATUSES",
    "Environment",
    "ResultInput",
    "RunInput",
    "parse_finish",
    "parse_night",
    "parse_result",
    "parse_run",
]

STATUSES = ("passed", "failed", "error", "timeout")
OUTCOMES = ("passed", "failed", "error", "skipped")
MAX_TESTS = 20_000
MAX_LOG_TAIL = 64 * 1024  # bytes, UTF-8
MAX_MESSAGE = 4_000  # characters of a test's message or a result's reason; the rest is cut
MAX_NAME = 1_000  # characters of a test's name or class name (parametrized ids can be long); cut
MAX_OPTIONS = 64 * 1024  # bytes of a run's options, as JSON
MAX_FIELD = 64  # characters of an environment's value (a version, a platform tag)
#: The largest request body of the nightly API (a full test list of long messages fits).
MAX_BODY = 64 * 1024 * 1024
_NIGHT = re.compile(r"\d{4}-\d{2}-\d{2}")
_COUNTS = ("passed", "failed", "errors", "skipped")


@dataclass(frozen=True)
class Environment:
    """What a result was obtained with; (python, sdk, core) tells results apart."""

    python: str
    sdk: str
    core: str
    platform: str | None = None

    def doc(self) -> dict[str, str]:
        out = {"python": self.python, "sdk": self.sdk, "core": self.core}
        if self.platform is not None:
            out["platform"] = self.platform
        return out


@dataclass(frozen=True)
class RunInput:
    started: datetime
    environment: Environment
    options: dict[str, Any]


@dataclass(frozen=True)
class ResultInput:
    plugin: str
    version: str
    environment: Environment
    status: str
    reason: str | None
    counts: dict[str, int]
    duration: float
    tests: list[dict[str, Any]]
    log_tail: str
    started: datetime
    finished: datetime


def parse_night(night: str) -> str:
    """A night as the path names it: a real `YYYY-MM-DD` date, not after tomorrow (UTC)."""
    if not _NIGHT.fullmatch(night):
        raise BadRequest(f"night {night!r} is not a date: use the runner's UTC date, YYYY-MM-DD")
    try:
        day = date.fromisoformat(night)
    except ValueError as exc:
        raise BadRequest(f"night {night!r} is not a date: {exc}") from None
    if day > datetime.now(UTC).date() + timedelta(days=1):
        raise BadRequest(f"night {night} is in the future: a night is the runner's UTC date")
    return night


def _document(body: bytes, example: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest(f"the body must be a JSON object like {example}")
    return data


def _fields(data: Mapping[str, Any], where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    unknown = sorted(set(data) - set(required) - set(optional))
    if unknown:
        known = ", ".join((*required, *optional))
        raise BadRequest(f"{where}: unknown field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} (known: {known})")
    missing = [k for k in required if k not in data]
    if missing:
        raise BadRequest(f"{where}: missing {', '.join(map(repr, missing))}")


def _text(value: Any, where: str, *, limit: int, cut: bool = False, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"{where} must be a string, not {_kind(value)}")
    if not empty and not value.strip():
        raise BadRequest(f"{where} must not be empty")
    if len(value) > limit:
        if not cut:
            raise BadRequest(f"{where} is {len(value)} characters long: at most {limit}")
        return value[:limit] + f"… [cut: {len(value)} characters in all]"
    return value


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**9:
        raise BadRequest(f"{where} must be a whole number from 0, not {json.dumps(value)}")
    return value


def _seconds(value: Any, where: str, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise BadRequest(f"{where} must be a number of seconds from 0, not {json.dumps(value)}")
    return float(value)


def _time(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise BadRequest(f"{where} must be an ISO 8601 time (2024-05-01T02:00:00Z), not {_kind(value)}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{where}: {value!r} is not an ISO 8601 time (2024-05-01T02:00:00Z)") from None
    if moment.tzinfo is None:
        raise BadRequest(f"{where}: {value!r} has no time zone: add Z (UTC) or an offset")
    return moment.astimezone(UTC)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(f"{where} must be an object, not {_kind(value)}")
    return value


def _environment(value: Any, where: str) -> Environment:
    data = _object(value, where)
    _fields(data, where, ("python", "sdk", "core"), ("platform",))
    found = {k: _text(data[k], f"{where}.{k}", limit=MAX_FIELD) for k in ("python", "sdk", "core")}
    platform = data.get("platform")
    if platform is not None:
        platform = _text(platform, f"{where}.platform", limit=MAX_FIELD)
    return Environment(platform=platform, **found)


def parse_run(body: bytes) -> RunInput:
    """The body of `PUT /api/v1/nightly/runs/{night}`."""
    data = _document(body, '{"startedAt": "2024-05-01T02:00:00Z", "environment": {"python": …, "sdk": …, "core": …}}')
    _fields(data, "the run", ("startedAt", "environment"), ("options",))
    options = _object(data.get("options") or {}, "options")
    if len(json.dumps(options)) > MAX_OPTIONS:
        raise BadRequest(f"options are larger than {MAX_OPTIONS // 1024} KB as JSON")
    return RunInput(_time(data["startedAt"], "startedAt"), _environment(data["environment"], "environment"), options)


def parse_finish(body: bytes) -> datetime:
    """The body of `PATCH /api/v1/nightly/runs/{night}`: `{"finishedAt": iso}`."""
    data = _document(body, '{"finishedAt": "2024-05-01T03:00:00Z"}')
    _fields(data, "the run", ("finishedAt",))
    return _time(data["finishedAt"], "finishedAt")


def _test(value: Any, where: str) -> dict[str, Any]:
    data = _object(value, where)
    _fields(data, where, ("name", "outcome"), ("classname", "duration", "message"))
    outcome = data["outcome"]
    if outcome not in OUTCOMES:
        raise BadRequest(f"{where}.outcome: {json.dumps(outcome)} is not one of {', '.join(OUTCOMES)}")
    classname = data.get("classname")
    message = data.get("message")
    return {
        "classname": "" if classname is None else _text(classname, f"{where}.classname", limit=MAX_NAME, cut=True, empty=True),
        "name": _text(data["name"], f"{where}.name", limit=MAX_NAME, cut=True),
        "outcome": outcome,
        "duration": _seconds(data.get("duration"), f"{where}.duration", optional=True),
        "message": None if message is None else _text(message, f"{where}.message", limit=MAX_MESSAGE, cut=True, empty=True),
    }


def parse_result(body: bytes) -> ResultInput:
    """The body of `POST /api/v1/nightly/runs/{night}/results`."""
    data = _document(body, '{"plugin": "tercel-plugin-x", "version": "1.0.0", "status": "passed", …}')
    _fields(
        data, "the result",
        ("plugin", "version", "environment", "status", "counts", "duration", "startedAt", "finishedAt"),
        ("reason", "tests", "logTail"),
    )
    status = data["status"]
    if status not in STATUSES:
        raise BadRequest(f"status: {json.dumps(status)} is not one of {', '.join(STATUSES)}")
    reason = data.get("reason")
    counts = _object(data["counts"], "counts")
    _fields(counts, "counts", _COUNTS)
    tests = data.get("tests") or []
    if not isinstance(tests, list):
        raise BadRequest(f"tests must be a list, not {_kind(tests)}")
    if len(tests) > MAX_TESTS:
        raise BadRequest(f"tests has {len(tests)} entries: at most {MAX_TESTS} (send the failing ones first, then cut)")
    log_tail = data.get("logTail")
    if log_tail is None:
        log_tail = ""
    if not isinstance(log_tail, str):
        raise BadRequest(f"logTail must be a string, not {_kind(log_tail)}")
    size = len(log_tail.encode("utf-8"))
    if size > MAX_LOG_TAIL:
        raise BadRequest(f"logTail is {size} bytes: at most {MAX_LOG_TAIL} (64 KB; send the end of the log)")
    started, finished = _time(data["startedAt"], "startedAt"), _time(data["finishedAt"], "finishedAt")
    if finished < started:
        raise BadRequest(f"finishedAt ({data['finishedAt']}) is before startedAt ({data['startedAt']})")
    return ResultInput(
        plugin=_text(data["plugin"], "plugin", limit=200),
        version=_text(data["version"], "version", limit=100),
        environment=_environment(data["environment"], "environment"),
        status=status,
        reason=None if reason is None else _text(reason, "reason", limit=MAX_MESSAGE, cut=True, empty=True),
        counts={k: _count(counts[k], f"counts.{k}") for k in _COUNTS},
        duration=_seconds(data["duration"], "duration") or 0.0,
        tests=[_test(entry, f"tests[{index}]") for index, entry in enumerate(tests)],
        log_tail=log_tail,
        started=started,
        finished=finished,
    )
