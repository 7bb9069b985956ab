"""The `Database`: one per URL, short transactions, schema versions, and the per-execution lock.

A `Database` drives a backend (see `Backend`): `SQLiteBackend`, the embedded default, runs
SQL compiled ahead of time on sqlite3 and never imports SQLAlchemy, so that opening it
stays cheap on a cold start; `PostgresBackend` runs on SQLAlchemy's engine. Transactions,
after-commit callbacks, error mapping and schema versions are written once, here.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from tercel.store._connection import SQLiteConnection
from tercel.store._errors import SchemaVersionError, StoreError, describe
from tercel.store._sqlite import SQLiteBackend, SQLiteURL, is_sqlite_url

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from tercel.store._backend import Backend
    from tercel.store._connection import Conn
    from tercel.store._executions import ExecutionRepository
    from tercel.store._flows import FlowRepository
    from tercel.store._logs import LogRepository
    from tercel.store._queue import Queue
    from tercel.store._triggers import TriggerRepository

__all__ = ["SCHEMA_VERSION", "Database", "advisory_key", "lock_execution", "use"]

#: Bumped whenever the tables change; a database with a higher number is refused.
#: (`_schema` defines the tables; this lives here so that SQLite needs no SQLAlchemy.)
SCHEMA_VERSION = 1

Dialect = Literal["sqlite", "postgresql"]


def advisory_key(*parts: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_xact_lock`` (Python's hash() is salted)."""
    digest = hashlib.blake2b("\x00".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def lock_execution(execution_id: str, conn: Conn) -> Iterator[None]:
    """Hold the execution's lock for the rest of ``conn``'s transaction.

    PostgreSQL: ``pg_advisory_xact_lock`` on a stable hash of the id, so two executors never
    advance the same execution at once; the lock is released at commit/rollback (leaving the
    ``with`` block does not release it early - transaction-level locks can't be).
    SQLite: nothing to do. Every tercel write transaction starts with ``BEGIN IMMEDIATE``,
    which already holds SQLite's database-wide write lock until commit, so a transaction that
    reads, advances and saves an execution is serialized against every other writer.
    """
    if not isinstance(conn, SQLiteConnection) and conn.dialect.name == "postgresql":
        from tercel.store._postgres import advisory_lock

        advisory_lock(conn, "execution", execution_id)
    yield


def _is_sqlalchemy_error(error: BaseException) -> bool:
    # without importing SQLAlchemy: if it isn't loaded, nothing raised one of its errors
    exc = sys.modules.get("sqlalchemy.exc")
    return exc is not None and isinstance(error, exc.SQLAlchemyError)


class Database:
    """An open database: transactions, schema management and the repositories.

    Thread-safe. On SQLite each thread keeps one connection and writers of the process take
    turns on a lock; on PostgreSQL each transaction borrows a pooled connection.
    ``db.flows``, ``db.executions``, ``db.logs``, ``db.queue`` and ``db.triggers`` are its
    repositories.
    """

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self.dialect: Dialect = backend.dialect
        self.codec = backend.codec
        #: Compiled statements by name (see `_statements`), for the repositories' hot paths.
        self.sql = backend.sql
        self.integrity_error = backend.integrity_error
        self._errors = backend.errors
        # after-commit callbacks of the transactions open right now, by id(connection)
        self._after_commit: dict[int, list[Callable[[], None]]] = {}
        # in-process queue wake-ups, shared by every Queue on this database
        self._queue_listeners: list[Callable[[str], None]] = []

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str, *, echo: bool = False) -> Database:
        """Open ``sqlite:///path/tercel.db`` (parent folders created) or ``postgresql+psycopg://…``.

        Refuses (`SchemaVersionError`) a database whose schema is newer than this tercel's.
        Does not create tables: call `create_schema`. ``sqlite://`` (in memory) is one
        connection shared by everything: use it from one thread only. ``echo`` logs every
        statement (SQLite: on the ``tercel.store.sql`` logger).
        """
        backend: Backend
        if is_sqlite_url(url):
            backend = SQLiteBackend(SQLiteURL.parse(url), echo=echo)
        else:
            from tercel.store._postgres import PostgresBackend

            backend = PostgresBackend.open(url, echo=echo)
        db = cls(backend)
        try:
            db._check_version()
        except BaseException:
            backend.close()
            raise
        return db

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine. On SQLite, where the store doesn't use SQLAlchemy, it is
        created on first use (importing SQLAlchemy then), for callers that want its tools."""
        return self._backend.engine

    def close(self) -> None:
        """Close every connection; the object must not be used afterwards."""
        self._backend.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Database({self._backend.display_url!r})"

    # -- statements ----------------------------------------------------------------------------

    def run(self, conn: Conn, name: str, params: Any = None) -> Any:
        """Run the store's statement ``name`` (see `_statements`) in ``conn``'s transaction.

        For the repositories' statements off the hot path: PostgreSQL runs them through
        SQLAlchemy, SQLite from their compiled text. Returns a cursor-like result
        (``fetchone``, ``fetchall``, ``rowcount``); parameters are in driver form (`codec`).
        """
        return self._backend.run(conn, name, {} if params is None else params)

    def serialize(self, conn: Conn, *parts: str) -> None:
        """Serialize the transactions naming the same ``parts`` until ``conn``'s ends.

        PostgreSQL: a transaction-level advisory lock. SQLite: nothing to do, every write
        transaction already holds the database's write lock.
        """
        self._backend.lock(conn, *parts)

    # -- schema --------------------------------------------------------------------------------

    def _stored_version(self, conn: Conn) -> int | None:
        if not self._backend.has_table(conn, "schema_version"):
            return None
        row = self.run(conn, "schema.version").fetchone()
        return None if row is None else int(row[0])

    def _refuse_newer(self, version: int | None) -> None:
        if version is not None and version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"the database {self!r} has schema version {version}, but this tercel only "
                f"knows up to version {SCHEMA_VERSION}: upgrade tercel to use this database"
            )

    def _check_version(self) -> None:
        with self.transaction(readonly=True) as conn:
            self._refuse_newer(self._stored_version(conn))

    def schema_version(self) -> int | None:
        """The version recorded in the database, or None before `create_schema`."""
        with self.transaction(readonly=True) as conn:
            return self._stored_version(conn)

    def create_schema(self) -> None:
        """Create missing tables and indexes and record the schema version (idempotent)."""
        with self.transaction() as conn:
            # two processes starting at once must not both run CREATE TABLE
            self.serialize(conn, "tercel-schema")
            stored = self._stored_version(conn)
            self._refuse_newer(stored)
            self._backend.create_tables(conn)
            params = {"version": SCHEMA_VERSION, "updated": self.codec.ts_in(datetime.now(UTC))}
            if stored is None:
                self.run(conn, "schema.insert", params)
            elif stored < SCHEMA_VERSION:
                # no migrations exist yet (version 1 is the first); they would run here
                self.run(conn, "schema.update", params)

    # -- transactions --------------------------------------------------------------------------

    @contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[Conn]:
        """One database transaction; pass the connection to repositories to join it.

        Commits when the block ends, rolls back if it raises. Database errors come out as
        `StoreError` (the driver's error is the ``__cause__``). Queue wake-ups registered in
        the transaction run only after it committed. ``readonly`` lets SQLite start a deferred
        transaction that doesn't take the write lock.

        Yields a SQLAlchemy `Connection` on PostgreSQL and a `SQLiteConnection` on SQLite;
        both run Core statements in the transaction (``conn.execute(...)``). BEGIN/COMMIT
        go straight to the driver (SQLAlchemy's bookkeeping doubled the cost of a short
        transaction). A thread has one transaction at a time (opening a second one raises):
        pass the connection to join it instead.
        """
        backend = self._backend
        callbacks: list[Callable[[], None]] = []
        conn = backend.checkout()
        key = id(conn)
        self._after_commit[key] = callbacks
        try:
            backend.begin(conn, readonly)
            yield conn
            backend.commit(conn)
        except BaseException as e:
            backend.rollback(conn, e)
            if isinstance(e, self._errors) or _is_sqlalchemy_error(e):
                raise StoreError(f"database error: {describe(e)}") from e
            raise
        finally:
            del self._after_commit[key]
            backend.checkin(conn)
        for callback in callbacks:
            callback()

    def after_commit(self, conn: Conn, callback: Callable[[], None]) -> None:
        """Run ``callback`` once ``conn``'s transaction (from `transaction`) has committed."""
        self.check_connection(conn)
        self._after_commit[id(conn)].append(callback)

    def check_connection(self, conn: Conn) -> None:
        """Refuse a connection that isn't in a `transaction` of this database (its commit
        would not run the after-commit callbacks, so wake-ups would be lost)."""
        if id(conn) not in self._after_commit:
            raise StoreError(
                "the connection passed to the store must come from Database.transaction()"
            )

    def lock_execution(self, execution_id: str, conn: Conn) -> Any:
        """See `lock_execution`: serialize work on one execution within ``conn``'s transaction."""
        return lock_execution(execution_id, conn)

    # -- repositories --------------------------------------------------------------------------

    @cached_property
    def flows(self) -> FlowRepository:
        from tercel.store._flows import FlowRepository

        return FlowRepository(self)

    @cached_property
    def executions(self) -> ExecutionRepository:
        from tercel.store._executions import ExecutionRepository

        return ExecutionRepository(self)

    @cached_property
    def logs(self) -> LogRepository:
        from tercel.store._logs import LogRepository

        return LogRepository(self)

    @cached_property
    def queue(self) -> Queue:
        from tercel.store._queue import Queue

        return Queue(self)

    @cached_property
    def triggers(self) -> TriggerRepository:
        from tercel.store._triggers import TriggerRepository

        return TriggerRepository(self)


@contextmanager
def use(db: Database, conn: Conn | None, *, readonly: bool = False) -> Iterator[Conn]:
    """Join the caller's transaction, or run in a new one of our own."""
    if conn is not None:
        yield conn
    else:
        with db.transaction(readonly=readonly) as own:
            yield own
