"""SQLAlchemy on SQLite, on demand, over the store's own sqlite3 connections.

The store never imports SQLAlchemy on SQLite (see `_sqlite`). Callers that want it anyway -
a Core statement inside a store transaction (`SQLiteConnection.execute`), or an `Engine` on
the same database (`Database.engine`) - get it from here and pay for the import only then.
Both behave as they did when SQLite ran on SQLAlchemy: connections configured like the
store's, and a transaction SQLAlchemy begins by itself takes the write lock up front.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import StaticPool

from tercel.store import _json

if TYPE_CHECKING:
    from tercel.store._connection import SQLiteConnection
    from tercel.store._sqlite import SQLiteBackend

__all__ = ["connection", "engine"]

_OPTIONS: dict[str, Any] = {
    # the store's statements use named parameters; so do its compiled ones
    "paramstyle": "named",
    "json_serializer": _json.dumps,
    "json_deserializer": _json.loads,
}


def _begin_immediate(conn: Connection) -> None:
    # SQLAlchemy starting a transaction of its own (a connection not from
    # Database.transaction, e.g. engine.begin()): take the write lock up front too.
    raw: Any = conn.connection.driver_connection
    if not raw.in_transaction:
        raw.execute("BEGIN IMMEDIATE")


def connection(conn: SQLiteConnection) -> Connection:
    """A SQLAlchemy connection over ``conn``'s sqlite3 connection.

    What it runs joins the transaction open on ``conn``, which `SQLiteConnection.commit`
    and `rollback` end for both. Its pool never resets the sqlite3 connection (the store
    owns it) and closing it leaves the sqlite3 connection open.
    """
    raw = conn.raw
    bridge = create_engine(
        conn.backend.url.url,
        creator=lambda: raw,
        poolclass=StaticPool,
        pool_reset_on_return=None,
        **_OPTIONS,
    )
    event.listen(bridge, "begin", _begin_immediate)
    return bridge.connect()


def engine(backend: SQLiteBackend) -> Engine:
    """An engine on ``backend``'s database whose connections are configured like the store's
    (an in-memory database's single connection is shared with the store)."""
    options = dict(_OPTIONS)
    if backend.url.shared:
        options.update(creator=backend.shared_connection, poolclass=StaticPool)
    else:
        options.update(creator=backend.connect, pool_size=8, max_overflow=-1)
    made = create_engine(backend.url.url, **options)
    event.listen(made, "begin", _begin_immediate)
    return made
