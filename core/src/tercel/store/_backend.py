"""What `Database` needs from a backend: the seam between SQLite and PostgreSQL.

The two backends share the statements (`_statements`), the transaction rules, the
repositories and the public API. They differ in how they connect and in how they get and
run SQL: `SQLiteBackend` runs text compiled ahead of time on sqlite3 and never imports
SQLAlchemy (a cold start can't afford it); `PostgresBackend` is SQLAlchemy's engine and
compiles at run time. Everything that differs goes through this protocol, so `Database`
and the repositories are written once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from tercel.store._connection import Conn
    from tercel.store._sql import Codec, Statements

__all__ = ["Backend"]


class Backend(Protocol):
    """One open database of one dialect, as `Database` drives it."""

    dialect: Literal["sqlite", "postgresql"]
    #: Values in the driver's form (timestamps, lists).
    codec: Codec
    #: Compiled statements, to run on the driver connection (the hot paths).
    sql: Statements
    #: What the driver (or SQLAlchemy) raises for a database error, and for a duplicate key.
    errors: tuple[type[Exception], ...]
    integrity_error: type[Exception]

    @property
    def display_url(self) -> str:
        """The URL, password hidden."""
        ...

    @property
    def engine(self) -> Engine:
        """A SQLAlchemy engine on the database (SQLite: created on first use)."""
        ...

    def checkout(self) -> Any:
        """A connection for one transaction (`StoreError` if none can be had)."""
        ...

    def begin(self, conn: Any, readonly: bool) -> None:
        """Start the transaction; ``readonly`` ones may skip the write lock."""
        ...

    def commit(self, conn: Any) -> None: ...

    def rollback(self, conn: Any, error: BaseException) -> None:
        """Roll back after ``error``; a connection that can't be trusted is dropped."""
        ...

    def checkin(self, conn: Any) -> None:
        """The transaction is over (committed or rolled back): release what it held."""
        ...

    def lock(self, conn: Conn, *parts: str) -> None:
        """Serialize the transactions naming the same ``parts`` until ``conn``'s ends."""
        ...

    def run(self, conn: Conn, name: str, params: Any) -> Any:
        """Run statement ``name``; returns a DB-API-like cursor (``fetchone``,
        ``fetchall``, ``rowcount``)."""
        ...

    def has_table(self, conn: Conn, name: str) -> bool: ...

    def create_tables(self, conn: Conn) -> None:
        """Create the missing tables and indexes."""
        ...

    def close(self) -> None: ...
