"""Running compiled SQL on the driver connection, without SQLAlchemy at run time.

SQLAlchemy's per-execution machinery (cache-key generation, parameter processing, result
construction, events) costs ~40 µs per statement on a slow machine, more than SQLite needs
to run the statement. The store's statements are therefore defined once in Core (see
`_statements`), compiled once per dialect (at run time for PostgreSQL, ahead of time into
`_sqlite_sql` for SQLite), and executed directly on the DB-API connection with native named
parameters (``:name`` for sqlite3, ``%(name)s`` for psycopg). Values are passed in driver
form (see `Codec`), so no SQLAlchemy type processing happens on these paths.

Nothing here imports SQLAlchemy: on SQLite, importing it would cost more than a whole
``tercel run`` of a short flow is allowed to take.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from tercel.store import _json
from tercel.store._errors import StoreError

__all__ = ["Codec", "Prepared", "Statements", "variant"]


class Prepared:
    """One compiled statement; literal values it contains become default parameters."""

    __slots__ = ("defaults", "sql")

    def __init__(self, sql: str, defaults: Mapping[str, Any] | None = None) -> None:
        self.sql = sql
        self.defaults: dict[str, Any] = dict(defaults or {})

    @classmethod
    def compile(cls, stmt: Any, dialect: Any) -> Prepared:
        """Compile a Core statement for ``dialect`` (a SQLAlchemy `Dialect`).

        The caller has SQLAlchemy loaded already; this module only calls methods on it.
        """
        compiled = stmt.compile(dialect=dialect)
        if compiled.positional:
            raise StoreError(f"{dialect.name}: the engine must use a named paramstyle")
        return cls(
            compiled.string,
            {
                name: bind.effective_value
                for bind, name in compiled.bind_names.items()
                if not bind.required
            },
        )

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

    def __repr__(self) -> str:
        return f"Prepared({self.sql!r}, {self.defaults!r})"


class Statements:
    """A dialect's compiled statements by name, each compiled (or loaded) on first use."""

    __slots__ = ("_cache", "_load")

    def __init__(self, load: Callable[[str], Prepared]) -> None:
        self._load = load
        self._cache: dict[str, Prepared] = {}

    def __getitem__(self, name: str) -> Prepared:
        prepared = self._cache.get(name)
        if prepared is None:
            # two threads compiling the same statement at once both get a correct one
            prepared = self._cache[name] = self._load(name)
        return prepared


def variant(query: str, filters: Iterable[str]) -> str:
    """The name of ``query``'s statement for the optional ``filters`` the caller gives.

    Queries whose WHERE clause depends on the filters given have one statement per subset of
    their optional filters, so every SQL text exists before the call (see `_statements`).
    """
    return f"{query}[{','.join(sorted(filters))}]"


class Codec:
    """Values in driver form, per dialect.

    Timestamps: fixed-width UTC ISO text on SQLite (same as `UTCDateTime`, so Core and raw
    paths read each other's rows), tz-aware datetimes on PostgreSQL. Lists: a JSON array on
    SQLite (read back with ``json_each``, so one statement text fits any length), a list
    (an array parameter) on PostgreSQL.
    """

    __slots__ = ("sqlite",)

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

    def array(self, values: Iterable[Any]) -> Any:
        items = list(values)
        return _json.dumps(items) if self.sqlite else items
