"""The `Database`: one engine per URL, short transactions, and the per-execution lock.

Both backends hide behind SQLAlchemy Core. Choices that matter for speed and correctness:

* SQLite runs in WAL mode with ``synchronous=NORMAL`` (a commit does not fsync; a power cut
  can lose the last transactions but never corrupts the file), a busy timeout, and foreign keys.
  Python's sqlite3 module is told not to manage transactions: tercel emits ``BEGIN IMMEDIATE``
  itself, so a write transaction holds SQLite's single write lock from its first statement.
  A read-modify-write then can never fail half-way with "database is locked" (what a deferred
  BEGIN upgrading to a writer does), and it is serialized against every other writer.
* PostgreSQL uses psycopg 3 (which prepares statements it sees repeatedly).
* The statements run per task skip SQLAlchemy's execution layer (see `_sql`).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    bindparam,
    create_engine,
    event,
    func,
    inspect,
    make_url,
    select,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from tercel.store import _json
from tercel.store._errors import SchemaVersionError, StoreError
from tercel.store._schema import SCHEMA_VERSION, metadata, schema_version
from tercel.store._sql import Codec, Prepared, driver

if TYPE_CHECKING:
    from tercel.store._executions import ExecutionRepository
    from tercel.store._flows import FlowRepository
    from tercel.store._logs import LogRepository
    from tercel.store._queue import Queue

__all__ = ["Database", "advisory_key", "advisory_lock", "lock_execution", "use"]

Dialect = Literal["sqlite", "postgresql"]

_BUSY_TIMEOUT_MS = 5000


def _normalize_url(url: str) -> URL:
    """Parse the URL, defaulting PostgreSQL to psycopg 3 (the only driver tercel ships with)."""
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise StoreError(f"invalid database URL {url!r}: {e}") from e
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        elif parsed.drivername != "postgresql+psycopg":
            raise StoreError(f"unsupported PostgreSQL driver in {url!r}: use postgresql+psycopg://")
    elif backend == "sqlite":
        if parsed.drivername != "sqlite":
            raise StoreError(f"unsupported SQLite driver in {url!r}: use sqlite:///path/tercel.db")
    else:
        raise StoreError(
            f"unsupported database URL {parsed.render_as_string()!r}: "
            "use sqlite:///path/tercel.db or postgresql+psycopg://user@host/db"
        )
    return parsed


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # tercel emits BEGIN itself (see Database.transaction); sqlite3 would BEGIN lazily
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA temp_store=MEMORY")
    finally:
        cur.close()


def _sqlite_on_begin(conn: Connection) -> None:
    # SQLAlchemy starting a transaction of its own (a connection not from
    # Database.transaction, e.g. engine.begin()): take the write lock up front too.
    raw = driver(conn)
    if not raw.in_transaction:
        raw.execute("BEGIN IMMEDIATE")


def advisory_key(*parts: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_xact_lock`` (Python's hash() is salted)."""
    digest = hashlib.blake2b("\x00".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


_advisory_lock = select(func.pg_advisory_xact_lock(bindparam("key", type_=BigInteger())))
_advisory_sql: dict[str, Prepared] = {}


def advisory_lock(conn: Connection, *parts: str) -> None:
    """PostgreSQL: take the transaction-level advisory lock named by ``parts`` (waits)."""
    prepared = _advisory_sql.get(conn.dialect.name)
    if prepared is None:
        prepared = _advisory_sql[conn.dialect.name] = Prepared(_advisory_lock, conn.dialect)
    prepared.execute(driver(conn), {"key": advisory_key(*parts)})


@contextmanager
def lock_execution(execution_id: str, conn: Connection) -> Iterator[None]:
    """Hold the execution's lock for the rest of ``conn``'s transaction.

    PostgreSQL: ``pg_advisory_xact_lock`` on a stable hash of the id, so two executors never
    advance the same execution at once; the lock is released at commit/rollback (leaving the
    ``with`` block does not release it early - transaction-level locks can't be).
    SQLite: nothing to do. Every tercel write transaction starts with ``BEGIN IMMEDIATE``,
    which already holds SQLite's database-wide write lock until commit, so a transaction that
    reads, advances and saves an execution is serialized against every other writer.
    """
    if conn.dialect.name == "postgresql":
        advisory_lock(conn, "execution", execution_id)
    yield


class _ThreadConnection:
    """A thread's SQLite connection; given back to the pool when the thread ends."""

    __slots__ = ("__weakref__", "busy", "conn")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.busy = False

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


class Database:
    """An open database: the engine, transactions, schema management and the repositories.

    Thread-safe. On SQLite each thread keeps one connection and writers of the process take
    turns on a lock; on PostgreSQL each transaction borrows a pooled connection.
    ``db.flows``, ``db.executions``, ``db.logs`` and ``db.queue`` are its repositories.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect: Dialect = "sqlite" if engine.dialect.name == "sqlite" else "postgresql"
        self._sqlite = self.dialect == "sqlite"
        self._driver_error: type[Exception] = engine.dialect.loaded_dbapi.Error
        self.codec = Codec(self.dialect)
        self._local = threading.local()
        self._writer = threading.Lock()
        self._holders: weakref.WeakSet[_ThreadConnection] = weakref.WeakSet()
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
        connection shared by everything: use it from one thread only.
        """
        parsed = _normalize_url(url)
        options: dict[str, Any] = {
            "echo": echo,
            "json_serializer": _json.dumps,
            "json_deserializer": _json.loads,
        }
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            if database in ("", ":memory:") or database.startswith("file:"):
                # one shared connection, or each checkout would see its own empty database
                options["poolclass"] = StaticPool
                options["connect_args"] = {"check_same_thread": False}
            else:
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
                # QueuePool (SQLAlchemy disables check_same_thread for it); each thread
                # keeps one connection (see _checkout), so don't cap how many
                options["pool_size"] = 8
                options["max_overflow"] = -1
            # named parameters, so the raw hot paths can pass dicts to sqlite3 (see _sql)
            engine = create_engine(parsed, paramstyle="named", **options)
            event.listen(engine, "connect", _sqlite_on_connect)
            event.listen(engine, "begin", _sqlite_on_begin)
        else:
            options["pool_size"] = 8
            options["max_overflow"] = 16
            options["pool_pre_ping"] = False
            engine = create_engine(parsed, **options)
        db = cls(engine)
        try:
            db._check_version()
        except BaseException:
            engine.dispose()
            raise
        return db

    def close(self) -> None:
        """Close every connection; the object must not be used afterwards."""
        for holder in list(self._holders):
            holder.conn.close()
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Database({self.engine.url.render_as_string(hide_password=True)!r})"

    # -- schema --------------------------------------------------------------------------------

    def _stored_version(self, conn: Connection) -> int | None:
        if not inspect(conn).has_table(schema_version.name):
            return None
        return conn.execute(
            select(schema_version.c.version).where(schema_version.c.id == 1)
        ).scalar_one_or_none()

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
            if self.dialect == "postgresql":
                # two processes starting at once must not both run CREATE TABLE
                advisory_lock(conn, "tercel-schema")
            stored = self._stored_version(conn)
            self._refuse_newer(stored)
            metadata.create_all(conn)
            now = datetime.now(UTC)
            if stored is None:
                conn.execute(
                    schema_version.insert().values(id=1, version=SCHEMA_VERSION, updated=now)
                )
            elif stored < SCHEMA_VERSION:
                # no migrations exist yet (version 1 is the first); they would run here
                conn.execute(
                    schema_version.update()
                    .where(schema_version.c.id == 1)
                    .values(version=SCHEMA_VERSION, updated=now)
                )

    # -- transactions --------------------------------------------------------------------------

    @contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[Connection]:
        """One database transaction; pass the connection to repositories to join it.

        Commits when the block ends, rolls back if it raises. Database errors come out as
        `StoreError` (the driver's error is the ``__cause__``). Queue wake-ups registered in
        the transaction run only after it committed. ``readonly`` lets SQLite start a deferred
        transaction that doesn't take the write lock.

        BEGIN/COMMIT go straight to the driver (SQLAlchemy's bookkeeping doubled the cost of
        a short transaction); Core statements run on the connection join the transaction.
        A thread has one transaction at a time (opening a second one raises): pass the
        connection to join it instead.
        """
        callbacks: list[Callable[[], None]] = []
        conn = self._checkout()
        key = id(conn)
        self._after_commit[key] = callbacks
        raw = driver(conn)
        # SQLite: writers of this process queue on a lock and are woken the moment it's free;
        # left to SQLite's busy handler they would poll with sleeps of 1-100 ms, and a busy
        # thread could starve the others. BEGIN IMMEDIATE still guards against other processes.
        writer = self._writer if self._sqlite and not readonly else None
        locked = False
        try:
            if writer is not None:
                locked = writer.acquire()
            if self._sqlite:
                raw.execute("BEGIN" if readonly else "BEGIN IMMEDIATE")
            yield conn
            if conn.in_transaction():
                conn.commit()  # SQLAlchemy began too (a Core statement): commits the driver
            else:
                raw.commit()
        except BaseException as e:
            self._rollback(conn, raw, e)
            if isinstance(e, SQLAlchemyError | self._driver_error):
                raise StoreError(f"database error: {_describe(e)}") from e
            raise
        finally:
            del self._after_commit[key]
            if locked:
                writer.release()  # type: ignore[union-attr]
            self._checkin(conn)
        for callback in callbacks:
            callback()

    def _checkout(self) -> Connection:
        """A connection for one transaction: the thread's own on SQLite, else from the pool.

        SQLite keeps one connection per thread (a pool round trip cost as much as the
        transaction itself); PostgreSQL connections are server processes, so they are pooled.
        """
        try:
            if not self._sqlite:
                return self.engine.connect()
            holder: _ThreadConnection | None = getattr(self._local, "holder", None)
            if holder is None or holder.conn.invalidated or holder.conn.closed:
                holder = self._local.holder = _ThreadConnection(self.engine.connect())
                self._holders.add(holder)
        except SQLAlchemyError as e:
            raise StoreError(f"cannot connect to {self!r}: {_describe(e)}") from e
        if holder.busy:
            raise StoreError(
                "a transaction is already open in this thread: pass its connection "
                "(conn=...) instead of opening another one (on the event loop: don't await "
                "inside a transaction)"
            )
        holder.busy = True
        return holder.conn

    def _checkin(self, conn: Connection) -> None:
        if self._sqlite:
            self._local.holder.busy = False
        else:
            conn.close()

    def _rollback(self, conn: Connection, raw: Any, error: BaseException) -> None:
        try:
            if conn.in_transaction():
                conn.rollback()
            else:
                raw.rollback()
        except Exception:
            conn.invalidate()  # the connection is unusable: don't give it back to the pool
            return
        if isinstance(error, self._driver_error) and self.engine.dialect.is_disconnect(
            error, raw, None
        ):
            conn.invalidate()

    def after_commit(self, conn: Connection, callback: Callable[[], None]) -> None:
        """Run ``callback`` once ``conn``'s transaction (from `transaction`) has committed."""
        self.check_connection(conn)
        self._after_commit[id(conn)].append(callback)

    def check_connection(self, conn: Connection) -> None:
        """Refuse a connection that isn't in a `transaction` of this database (its commit
        would not run the after-commit callbacks, so wake-ups would be lost)."""
        if id(conn) not in self._after_commit:
            raise StoreError(
                "the connection passed to the store must come from Database.transaction()"
            )

    def lock_execution(self, execution_id: str, conn: Connection) -> Any:
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


def _describe(e: SQLAlchemyError) -> str:
    """The driver's message without the (possibly huge) statement and parameters."""
    orig = getattr(e, "orig", None)
    if orig is not None:
        return f"{type(orig).__name__}: {str(orig).strip()}"
    return f"{type(e).__name__}: {e}"


@contextmanager
def use(db: Database, conn: Connection | None, *, readonly: bool = False) -> Iterator[Connection]:
    """Join the caller's transaction, or run in a new one of our own."""
    if conn is not None:
        yield conn
    else:
        with db.transaction(readonly=readonly) as own:
            yield own
