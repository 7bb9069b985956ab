"""Hot-path execution: Core statements compiled once, run on the driver connection.

SQLAlchemy's per-execution machinery (cache-key generation, parameter processing, result
construction, events) costs ~40 µs per statement on a slow machine, more than SQLite needs
to run the statement. The statements the engine issues per task are therefore built with
Core (one definition for both dialects, names checked against the tables), compiled once
for the engine's dialect, and executed directly on the DBAPI connection with native named
parameters (``:name`` for sqlite3, ``%(name)s`` for psycopg). Values are passed in driver
form (see `Codec`), so no SQLAlchemy type processing happens on these paths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.sql.expression import Executable

from tercel.store._errors import StoreError

__all__ = ["Codec", "Prepared", "driver"]


class Prepared:
    """One compiled statement; literal values it contains become default parameters."""

    __slots__ = ("defaults", "sql")

    def __init__(self, stmt: Executable, dialect: Dialect) -> None:
        compiled = stmt.compile(dialect=dialect)
        if compiled.positional:
            raise StoreError(f"{dialect.name}: the engine must use a named paramstyle")
        self.sql: str = compiled.string
        self.defaults: dict[str, Any] = {
            name: bind.effective_value
            for bind, name in compiled.bind_names.items()
            if not bind.required
        }

    def _params(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        return {**self.defaults, **params} if self.defaults else params

    def execute(self, raw: Any, params: Mapping[str, Any]) -> Any:
        """Run once; returns the driver cursor (fetch RETURNING rows before commit)."""
        return raw.execute(self.sql, self._params(params))

    def executemany(self, raw: Any, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run once per row in one driver call (sqlite3 loops in C; psycopg pipelines)."""
        cur = raw.cursor()
        try:
            cur.executemany(self.sql, [self._params(r) for r in rows] if self.defaults else rows)
        finally:
            cur.close()


def driver(conn: Connection) -> Any:
    """The DBAPI connection (sqlite3 / psycopg) under a SQLAlchemy connection."""
    return conn.connection.driver_connection


class Codec:
    """Timestamps in driver form: fixed-width UTC ISO text on SQLite (same as `UTCDateTime`,
    so Core and raw paths read each other's rows), tz-aware datetimes on PostgreSQL."""

    def __init__(self, dialect_name: str) -> None:
        self.sqlite = dialect_name == "sqlite"

    def ts_in(self, value: datetime | None) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise StoreError(f"naive datetime {value!r}: the store only accepts tz-aware ones")
        value = value.astimezone(UTC)
        return value.isoformat(timespec="microseconds") if self.sqlite else value

    def ts_out(self, value: Any) -> datetime:
        if isinstance(value, str):
            return datetime.fromisoformat(value)
        return value.astimezone(UTC)
