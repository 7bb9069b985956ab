"""What `Database.transaction` yields, and the DB-API connection under it.

PostgreSQL yields a SQLAlchemy `Connection`. SQLite yields a `SQLiteConnection`: the thread's
sqlite3 connection in a small wrapper, so that the embedded default never imports SQLAlchemy.
The contract callers rely on is the same on both: pass it back as ``conn=`` to join the
transaction. For callers that want more, a `SQLiteConnection` also runs SQLAlchemy Core
statements in the same transaction (`SQLiteConnection.execute`), like the `Connection`
PostgreSQL yields; SQLAlchemy is imported the first time that happens, not before.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from sqlalchemy import Connection, CursorResult
    from sqlalchemy.sql.expression import Executable

    from tercel.store._sqlite import SQLiteBackend

__all__ = ["Conn", "SQLiteConnection", "driver"]


class SQLiteConnection:
    """A thread's sqlite3 connection, as `Database.transaction` yields it on SQLite.

    Repositories run their precompiled statements on `raw`. The backend owns the object:
    it begins, commits and ends transactions through it, and takes `raw` back for the next
    thread when the one that used it ends.
    """

    __slots__ = ("__weakref__", "_sqlalchemy", "backend", "busy", "closed", "raw", "writing")

    def __init__(self, raw: sqlite3.Connection, backend: SQLiteBackend) -> None:
        self.raw = raw
        self.backend = backend
        self.busy = False  # a transaction is open on it
        self.writing = False  # it holds the backend's writer lock
        self.closed = False
        self._sqlalchemy: Connection | None = None

    # -- SQLAlchemy, on demand -----------------------------------------------------------------

    @property
    def sqlalchemy(self) -> Connection:
        """A SQLAlchemy connection over `raw`: what it runs joins the open transaction."""
        if self._sqlalchemy is None:
            from tercel.store._sqlite_bridge import connection

            self._sqlalchemy = connection(self)
        return self._sqlalchemy

    @property
    def uses_sqlalchemy(self) -> bool:
        """Whether `sqlalchemy` was asked for (SQLAlchemy then holds `raw` too)."""
        return self._sqlalchemy is not None

    def execute(
        self, statement: Executable, parameters: Any = None, **kwargs: Any
    ) -> CursorResult[Any]:
        """Run a SQLAlchemy Core statement in this connection's transaction."""
        return self.sqlalchemy.execute(statement, parameters, **kwargs)

    def exec_driver_sql(self, sql: str, parameters: Any = None) -> CursorResult[Any]:
        """Run SQL text as is (``:name`` or ``?`` parameters) in this connection's transaction."""
        return self.sqlalchemy.exec_driver_sql(sql, parameters)

    # -- ending transactions (called by the backend) -------------------------------------------

    def commit(self) -> None:
        """Commit the open transaction, through SQLAlchemy if it has joined it."""
        bridge = self._sqlalchemy
        if bridge is not None and bridge.in_transaction():
            bridge.commit()  # commits the driver, and SQLAlchemy knows it did
        else:
            self.raw.commit()

    def rollback(self) -> None:
        """Roll the open transaction back, through SQLAlchemy if it has joined it."""
        bridge = self._sqlalchemy
        if bridge is not None and bridge.in_transaction():
            bridge.rollback()
        else:
            self.raw.rollback()

    def close(self) -> None:
        """Close `raw` for good (idempotent)."""
        self.closed = True
        bridge, self._sqlalchemy = self._sqlalchemy, None
        with contextlib.suppress(Exception):
            if bridge is not None:
                bridge.close()
            self.raw.close()

    def __del__(self) -> None:
        # the thread that used it ended: its sqlite3 connection can serve another one
        with contextlib.suppress(Exception):
            self.backend.recycle(self)

    def __repr__(self) -> str:
        return f"<SQLiteConnection {self.backend.display_url!r}{' closed' if self.closed else ''}>"


def driver(conn: Conn) -> Any:
    """The DB-API connection (sqlite3 / psycopg) under a store or SQLAlchemy connection."""
    if isinstance(conn, SQLiteConnection):
        return conn.raw
    return conn.connection.driver_connection


#: A connection from `Database.transaction`, as repositories accept it for ``conn=``
#: (a string: SQLAlchemy is only imported by type checkers here).
Conn: TypeAlias = "Connection | SQLiteConnection"
