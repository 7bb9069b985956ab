"""SQLite on sqlite3 alone: connections, transactions, and SQL compiled ahead of time.

SQLite is the embedded default, so opening it is on the path of every cold ``tercel run``,
and importing SQLAlchemy alone would cost more than that run may take. So this backend runs
the statements of `_statements`, compiled ahead of time into `_sqlite_sql`, straight on
sqlite3, and never imports SQLAlchemy (unless a caller asks for it, see `_sqlite_bridge`).
Choices that matter for speed and correctness:

* WAL mode with ``synchronous=NORMAL`` (a commit does not fsync; a power cut can lose the
  last transactions but never corrupts the file), a busy timeout, and foreign keys.
* sqlite3 is told not to manage transactions: tercel emits ``BEGIN IMMEDIATE`` itself, so a
  write transaction holds SQLite's single write lock from its first statement. A
  read-modify-write then can never fail half-way with "database is locked" (what a deferred
  BEGIN upgrading to a writer does), and it is serialized against every other writer.
* Writers of this process queue on a lock and are woken the moment it is free; left to
  SQLite's busy handler they would poll with sleeps of 1-100 ms, and a busy thread could
  starve the others. ``BEGIN IMMEDIATE`` still guards against other processes.
* Each thread keeps one connection (a pool round trip cost as much as a short transaction);
  the connection of a thread that ended is kept for the next one.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import sys
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, unquote

from tercel.store._connection import SQLiteConnection, driver
from tercel.store._errors import StoreError
from tercel.store._sql import Codec, Prepared, Statements

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from tercel.store._connection import Conn

__all__ = ["SQLiteBackend", "SQLiteURL", "is_sqlite_url"]

_BUSY_TIMEOUT_MS = 5000
#: connections of ended threads kept for new ones (like a pool's size)
_IDLE_MAX = 8
#: RETURNING, which the queue and the optimistic save need
_MIN_VERSION = (3, 35, 0)
_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}",
    "PRAGMA foreign_keys=ON",
    "PRAGMA temp_store=MEMORY",
)
_FORMS = "sqlite:///relative/path.db, sqlite:////absolute/path.db or sqlite:// (in memory)"

_echo_log = logging.getLogger("tercel.store.sql")


def is_sqlite_url(url: str) -> bool:
    """Whether ``url`` names SQLite (with any driver: `SQLiteURL.parse` refuses the others)."""
    scheme = url.partition("://")[0] if "://" in url else ""
    return scheme == "sqlite" or scheme.startswith("sqlite+")


@dataclass(frozen=True, slots=True)
class SQLiteURL:
    """A ``sqlite://`` URL, read the way SQLAlchemy's pysqlite dialect reads it."""

    url: str  #: as given
    database: str  #: what sqlite3 opens: ``:memory:``, an absolute path, or a URI
    uri: bool  #: `database` is a URI (``?uri=true``)
    shared: bool  #: one connection for everything (in memory, where each would see its own)

    @classmethod
    def parse(cls, url: str) -> SQLiteURL:
        """Parse ``url``; `StoreError` names what is wrong with a bad one.

        Relative paths are relative to the working directory and ``~`` is expanded.
        ``?uri=true`` makes the path a SQLite URI
        (``sqlite:///file:name?mode=memory&cache=shared&uri=true``), the other query
        parameters then being the URI's.
        """
        scheme, _, rest = url.partition("://")
        if scheme != "sqlite":
            raise StoreError(f"unsupported SQLite driver in {url!r}: use sqlite:///path/tercel.db")
        location, _, path = rest.partition("/")
        if location:
            raise StoreError(f"invalid SQLite URL {url!r}: no user, host or port; use {_FORMS}")
        path, _, query = path.partition("?")
        database = unquote(path)
        params = dict(parse_qsl(query, keep_blank_values=True))
        uri = params.pop("uri", "false").lower() in ("true", "1", "yes", "on", "t", "y")
        if uri:
            if params:
                database += "?" + "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        elif params:
            raise StoreError(
                f"unsupported parameters {', '.join(sorted(params))} in SQLite URL {url!r}: "
                "only uri=true (followed by SQLite URI parameters) is understood"
            )
        # in memory (or a file: URI, which may be): each connection could see its own database
        shared = database in ("", ":memory:") or database.startswith("file:")
        if database in ("", ":memory:"):
            database = ":memory:"
        elif not shared and not uri:
            database = str(Path(database).expanduser().absolute())
        return cls(url=url, database=database, uri=uri, shared=shared)


class SQLiteBackend:
    """`Database`'s SQLite half (see `Backend`): thread-local sqlite3 connections, one writer
    at a time, and the statements of `_sqlite_sql`.

    ``sqlite://`` (in memory) is one connection shared by everything: use it from one
    thread only.
    """

    dialect: Literal["sqlite"] = "sqlite"

    def __init__(self, url: SQLiteURL, *, echo: bool = False) -> None:
        if sqlite3.sqlite_version_info < _MIN_VERSION:
            raise StoreError(
                f"SQLite {sqlite3.sqlite_version} is too old: tercel needs "
                f"{'.'.join(map(str, _MIN_VERSION))} or later (RETURNING)"
            )
        # generated by `_generate`; loaded here, not at import, so it can be regenerated
        # even when missing or broken
        from tercel.store import _sqlite_sql

        self._generated = _sqlite_sql
        if not (url.shared or url.uri):
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self.codec = Codec("sqlite")
        self.sql = Statements(self._load)
        self.errors: tuple[type[Exception], ...] = (sqlite3.Error,)
        self.integrity_error: type[Exception] = sqlite3.IntegrityError
        self._echo = echo
        if echo and not _echo_log.handlers:
            _echo_log.addHandler(logging.StreamHandler(sys.stdout))
            _echo_log.setLevel(logging.INFO)
        self._local = threading.local()
        self._writer = threading.Lock()
        self._lock = threading.Lock()  # guards _idle
        self._idle: list[sqlite3.Connection] = []
        self._open: weakref.WeakSet[SQLiteConnection] = weakref.WeakSet()
        self._shared: sqlite3.Connection | None = None
        self._engine: Engine | None = None
        self._closed = False

    @property
    def display_url(self) -> str:
        return self.url.url

    def _load(self, name: str) -> Prepared:
        sql, defaults = self._generated.STATEMENTS[name]
        return Prepared(sql, defaults)

    # -- connections ---------------------------------------------------------------------------

    def connect(self) -> sqlite3.Connection:
        """A new sqlite3 connection, configured (also what `engine`'s pool opens)."""
        raw = sqlite3.connect(
            self.url.database,
            uri=self.url.uri,
            isolation_level=None,  # tercel emits BEGIN itself; sqlite3 would BEGIN lazily
            check_same_thread=False,  # closed by whichever thread ends its use
            cached_statements=256,  # every statement text of the store stays prepared
        )
        try:
            for pragma in _PRAGMAS:
                raw.execute(pragma)
        except BaseException:
            raw.close()
            raise
        if self._echo:
            raw.set_trace_callback(_echo_log.info)
        return raw

    def shared_connection(self) -> sqlite3.Connection:
        """The one connection of an in-memory database, opened on first use."""
        with self._lock:
            if self._shared is None:
                self._shared = self.connect()
            return self._shared

    def _raw(self) -> sqlite3.Connection:
        if self.url.shared:
            return self.shared_connection()
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self.connect()

    def checkout(self) -> SQLiteConnection:
        """The thread's connection, marked busy; refuses a second transaction in the thread."""
        conn: SQLiteConnection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            try:
                raw = self._raw()
            except sqlite3.Error as e:
                raise StoreError(
                    f"cannot connect to {self.display_url!r}: {type(e).__name__}: {e}"
                ) from e
            conn = self._local.conn = SQLiteConnection(raw, self)
            self._open.add(conn)
        if conn.busy:
            raise StoreError(
                "a transaction is already open in this thread: pass its connection "
                "(conn=...) instead of opening another one (on the event loop: don't await "
                "inside a transaction)"
            )
        conn.busy = True
        return conn

    def recycle(self, conn: SQLiteConnection) -> None:
        """Take back the connection of a thread that ended, for the next thread."""
        if conn.closed:
            return
        raw = conn.raw
        if raw is self._shared:
            conn.closed = True
            return
        if not conn.uses_sqlalchemy and not self._closed and not raw.in_transaction:
            with self._lock:
                if len(self._idle) < _IDLE_MAX:
                    conn.closed = True
                    self._idle.append(raw)
                    return
        conn.close()

    # -- transactions --------------------------------------------------------------------------

    def begin(self, conn: SQLiteConnection, readonly: bool) -> None:
        if not readonly:
            self._writer.acquire()
            conn.writing = True
        conn.raw.execute("BEGIN" if readonly else "BEGIN IMMEDIATE")

    def commit(self, conn: SQLiteConnection) -> None:
        conn.commit()

    def rollback(self, conn: SQLiteConnection, error: BaseException) -> None:
        try:
            conn.rollback()
        except Exception:
            conn.close()  # unusable: the thread's next transaction opens a new one

    def checkin(self, conn: SQLiteConnection) -> None:
        if conn.writing:
            conn.writing = False
            self._writer.release()
        conn.busy = False

    def lock(self, conn: Conn, *parts: str) -> None:
        """Nothing to do: every write transaction already holds SQLite's write lock."""

    # -- statements ----------------------------------------------------------------------------

    def run(self, conn: Conn, name: str, params: Any) -> Any:
        """Run statement ``name``; returns the sqlite3 cursor."""
        return self.sql[name].execute(driver(conn), params)

    def has_table(self, conn: Conn, name: str) -> bool:
        return self.run(conn, "schema.has_table", {"name": name}).fetchone() is not None

    def create_tables(self, conn: Conn) -> None:
        raw = driver(conn)
        for ddl in self._generated.SCHEMA:
            raw.execute(ddl)

    # -- SQLAlchemy, on demand -----------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """A SQLAlchemy engine on the same database, created (and SQLAlchemy imported) on
        first use; its connections are configured like the store's."""
        if self._engine is None:
            from tercel.store._sqlite_bridge import engine

            self._engine = engine(self)
        return self._engine

    def close(self) -> None:
        self._closed = True
        for conn in list(self._open):
            conn.close()
        with self._lock:
            idle, self._idle = self._idle, []
        for raw in idle:
            raw.close()
        if self._engine is not None:
            self._engine.dispose()
        if self._shared is not None:
            with contextlib.suppress(sqlite3.Error):
                self._shared.close()
