"""Opening the registry's database: SQLite (the default, a file in the home) or PostgreSQL.

SQLite runs in WAL mode, so readers never wait for the writer, and every write transaction
starts with ``BEGIN IMMEDIATE``: it takes the write lock up front and waits for it (busy
timeout) instead of failing half-way when another writer got there first. PostgreSQL URLs use
psycopg 3, as the rest of tercel does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError

from ._errors import StoreError

__all__ = ["WRITE", "describe", "open_engine"]

#: The execution option that makes a SQLite transaction start with BEGIN IMMEDIATE.
WRITE = "registry_write"


def describe(exc: BaseException) -> str:
    """The driver's message, without the statement and parameters SQLAlchemy adds."""
    orig = getattr(exc, "orig", None)
    if orig is not None:
        return f"{type(orig).__name__}: {str(orig).strip()}"
    return f"{type(exc).__name__}: {exc}"


def _url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"invalid database URL {url!r}: {exc}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.drivername != "sqlite":
            raise StoreError(f"unsupported SQLite driver in {url!r}: use sqlite:///path/registry.db")
        if not parsed.database or parsed.database == ":memory:":
            raise StoreError(f"{url!r}: the registry needs a database file (sqlite:///path/registry.db)")
        return parsed
    if backend == "postgresql":
        if parsed.drivername in ("postgresql", "postgres"):
            return parsed.set(drivername="postgresql+psycopg")
        if parsed.drivername != "postgresql+psycopg":
            raise StoreError(f"unsupported PostgreSQL driver in {url!r}: use postgresql+psycopg://")
        return parsed
    raise StoreError(
        f"unsupported database URL {parsed.render_as_string()!r}: "
        "use sqlite:///path/registry.db or postgresql+psycopg://user@host/db"
    )


def open_engine(url: str) -> Engine:
    """An engine on the registry's database (`StoreError` for a URL it cannot use)."""
    parsed = _url(url)
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed, pool_size=8, max_overflow=24, pool_pre_ping=True)
    Path(parsed.database or "").expanduser().absolute().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, pool_size=8, max_overflow=24, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun below, not by sqlite3
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")

    return engine
