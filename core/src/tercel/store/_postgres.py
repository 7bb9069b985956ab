"""PostgreSQL on SQLAlchemy: the engine, pooled connections, statements compiled at run time.

The distributed setup opens PostgreSQL in long-running processes, where SQLAlchemy's import
cost does not matter and its engine, pool and psycopg 3 dialect do the work (psycopg also
prepares statements it sees repeatedly). The statements of `_statements` are compiled for
this engine's dialect on first use. The hot ones run on the psycopg connection (see `_sql`);
the others run through SQLAlchemy on the yielded `Connection`.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Connection, Engine, create_engine, inspect, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.sql.expression import Executable

from tercel.store import _json
from tercel.store._connection import driver
from tercel.store._db import advisory_key
from tercel.store._errors import StoreError, describe
from tercel.store._schema import metadata
from tercel.store._sql import Codec, Prepared, Statements
from tercel.store._statements import build, fixed

__all__ = ["PostgresBackend", "advisory_lock", "normalize_url"]


def normalize_url(url: str) -> URL:
    """Parse the URL, defaulting PostgreSQL to psycopg 3 (the only driver tercel ships with)."""
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise StoreError(f"invalid database URL {url!r}: {e}") from e
    if parsed.get_backend_name() != "postgresql":
        raise StoreError(
            f"unsupported database URL {parsed.render_as_string()!r}: "
            "use sqlite:///path/tercel.db or postgresql+psycopg://user@host/db"
        )
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername != "postgresql+psycopg":
        raise StoreError(f"unsupported PostgreSQL driver in {url!r}: use postgresql+psycopg://")
    return parsed


_advisory_sql: dict[str, Prepared] = {}


def advisory_lock(conn: Connection, *parts: str) -> None:
    """Take the transaction-level advisory lock named by ``parts`` (waits for it)."""
    prepared = _advisory_sql.get(conn.dialect.name)
    if prepared is None:
        prepared = _advisory_sql[conn.dialect.name] = Prepared.compile(
            fixed("postgresql")["lock.advisory"], conn.dialect
        )
    prepared.execute(driver(conn), {"key": advisory_key(*parts)})


class PostgresBackend:
    """`Database`'s PostgreSQL half (see `Backend`): each transaction borrows a pooled
    connection (PostgreSQL connections are server processes)."""

    dialect: Literal["postgresql"] = "postgresql"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        dbapi = engine.dialect.loaded_dbapi
        self.errors: tuple[type[Exception], ...] = (dbapi.Error,)
        self.integrity_error: type[Exception] = dbapi.IntegrityError
        self.codec = Codec("postgresql")
        self.sql = Statements(self._compile)
        self._core: dict[str, Executable] = dict(fixed("postgresql"))

    @classmethod
    def open(cls, url: str, *, echo: bool = False) -> PostgresBackend:
        engine = create_engine(
            normalize_url(url),
            echo=echo,
            json_serializer=_json.dumps,
            json_deserializer=_json.loads,
            pool_size=8,
            max_overflow=16,
            pool_pre_ping=False,
        )
        return cls(engine)

    @property
    def display_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def _statement(self, name: str) -> Executable:
        stmt = self._core.get(name)
        if stmt is None:
            stmt = self._core[name] = build(name, self.dialect)
        return stmt

    def _compile(self, name: str) -> Prepared:
        return Prepared.compile(self._statement(name), self.engine.dialect)

    # -- transactions --------------------------------------------------------------------------

    def checkout(self) -> Connection:
        try:
            return self.engine.connect()
        except SQLAlchemyError as e:
            raise StoreError(f"cannot connect to {self.display_url!r}: {describe(e)}") from e

    def begin(self, conn: Connection, readonly: bool) -> None:
        """Nothing to send: psycopg opens the transaction with the first statement."""

    def commit(self, conn: Connection) -> None:
        if conn.in_transaction():
            conn.commit()  # SQLAlchemy began too (a Core statement): commits the driver
        else:
            driver(conn).commit()

    def rollback(self, conn: Connection, error: BaseException) -> None:
        raw = driver(conn)
        try:
            if conn.in_transaction():
                conn.rollback()
            else:
                raw.rollback()
        except Exception:
            conn.invalidate()  # the connection is unusable: don't give it back to the pool
            return
        if isinstance(error, self.errors) and self.engine.dialect.is_disconnect(error, raw, None):
            conn.invalidate()

    def checkin(self, conn: Connection) -> None:
        conn.close()

    def lock(self, conn: Connection, *parts: str) -> None:
        """Serialize transactions naming the same ``parts`` (see `advisory_lock`)."""
        advisory_lock(conn, *parts)

    # -- statements ----------------------------------------------------------------------------

    def run(self, conn: Connection, name: str, params: Any) -> Any:
        """Run statement ``name`` through SQLAlchemy; a list of parameter sets runs it once
        per set (``insertmanyvalues`` when it returns rows)."""
        return conn.execute(self._statement(name), params)

    def has_table(self, conn: Connection, name: str) -> bool:
        return inspect(conn).has_table(name)

    def create_tables(self, conn: Connection) -> None:
        metadata.create_all(conn)

    def close(self) -> None:
        self.engine.dispose()
