"""Task logs: appended in batches (one executemany per flush), read in insertion order."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from tercel.store._connection import driver
from tercel.store._db import Database, use
from tercel.store._errors import StoreError
from tercel.store._sql import variant

if TYPE_CHECKING:
    from tercel.store._connection import Conn

__all__ = ["COLUMNS", "LogLevel", "LogRepository"]

#: The columns of a log entry as `LogRepository.find` returns it, in the order the query
#: selects them (`_statements` builds it from this; all but ``id`` are inserted).
COLUMNS = (
    "id",
    "execution_id",
    "task_run_id",
    "task_id",
    "attempt",
    "level",
    "timestamp",
    "message",
    "thread",
    "logger",
)
_LEVEL = COLUMNS.index("level")
_TIMESTAMP = COLUMNS.index("timestamp")


class LogLevel(IntEnum):
    """Kestra's levels, stored as numbers so ``min_level`` is a range filter."""

    TRACE = 0
    DEBUG = 10
    INFO = 20
    WARN = 30
    ERROR = 40

    @classmethod
    def parse(cls, value: str | int) -> LogLevel:
        """``"warn"``, ``"WARNING"``, ``30`` or a `LogLevel` → `LogLevel`."""
        if isinstance(value, int):
            try:
                return cls(value)
            except ValueError:
                pass
        else:
            name = value.upper()
            name = {"WARNING": "WARN", "CRITICAL": "ERROR", "FATAL": "ERROR"}.get(name, name)
            if name in cls.__members__:
                return cls[name]
        raise StoreError(f"unknown log level {value!r}: use one of {', '.join(cls.__members__)}")


_NAMES = {level.value: level.name for level in LogLevel}
# the common spellings, so a batch doesn't go through Enum lookups line by line
_VALUES: dict[object, int] = {
    **{level.name: level.value for level in LogLevel},
    **{level.value: level.value for level in LogLevel},  # LogLevel members hash as these
}


def _row(entry: Mapping[str, Any], ts: Callable[[datetime], Any]) -> dict[str, Any]:
    try:
        level = _VALUES.get(entry["level"])
        if level is None:
            level = LogLevel.parse(entry["level"]).value
        timestamp = entry["timestamp"]
        if isinstance(timestamp, str):
            timestamp = datetime.fromisoformat(timestamp)
        return {
            "execution_id": entry["execution_id"],
            "task_run_id": entry.get("task_run_id"),
            "task_id": entry.get("task_id"),
            "attempt": entry.get("attempt"),
            "level": level,
            "timestamp": ts(timestamp),  # refuses naive datetimes
            "message": entry["message"],
            "thread": entry.get("thread"),
            "logger": entry.get("logger"),
        }
    except KeyError as e:
        raise StoreError(f"log entry has no {e.args[0]!r}: {dict(entry)!r}") from None


class LogRepository:
    """Appends and reads task logs."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._insert = db.sql["logs.insert"]
        self._ts_out: Callable[[Any], datetime] = db.codec.ts_out

    def append(self, entries: Sequence[Mapping[str, Any]], *, conn: Conn | None = None) -> None:
        """Insert a batch of entries in one executemany (callers buffer and flush)."""
        if not entries:
            return
        ts = self.db.codec.ts_in
        rows = [_row(e, ts) for e in entries]
        with use(self.db, conn) as c:
            self._insert.executemany(driver(c), rows)

    def find(
        self,
        execution_id: str,
        task_run_id: str | None = None,
        min_level: str | int | None = None,
        after_id: int | None = None,
        limit: int | None = None,
        *,
        conn: Conn | None = None,
    ) -> list[dict[str, Any]]:
        """Entries of an execution in insertion order, each with its ``id``.

        ``after_id`` is the last id already seen, to tail a running execution.
        """
        params: dict[str, Any] = {}
        if task_run_id is not None:
            params["task_run_id"] = task_run_id
        if min_level is not None:
            params["min_level"] = LogLevel.parse(min_level).value
        if after_id is not None:
            params["after_id"] = after_id
        if limit is not None:
            params["limit"] = limit
        name = variant("logs.find", params)
        params["execution_id"] = execution_id
        with use(self.db, conn, readonly=True) as c:
            rows = self.db.run(c, name, params).fetchall()
        entries = []
        ts_out = self._ts_out
        for r in rows:
            entry = dict(zip(COLUMNS, r, strict=True))
            level = r[_LEVEL]
            entry["level"] = _NAMES.get(level, str(level))
            entry["timestamp"] = ts_out(r[_TIMESTAMP])
            entries.append(entry)
        return entries

    def delete(
        self,
        execution_id: str | None = None,
        before: datetime | None = None,
        *,
        conn: Conn | None = None,
    ) -> int:
        """Delete an execution's entries and/or entries older than ``before``; returns how many.

        At least one filter is required: deleting every log by accident is not an option.
        """
        if execution_id is None and before is None:
            raise StoreError("LogRepository.delete needs execution_id or before (or both)")
        params: dict[str, Any] = {}
        if execution_id is not None:
            params["execution_id"] = execution_id
        if before is not None:
            if before.tzinfo is None:
                raise StoreError(f"'before' {before!r} is naive: pass a tz-aware datetime")
            params["before"] = self.db.codec.ts_in(before)
        with use(self.db, conn) as c:
            return int(self.db.run(c, variant("logs.delete", params), params).rowcount)
