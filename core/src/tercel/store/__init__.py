"""Persistence and the durable job queue, on SQLite (default) or PostgreSQL.

One interface for both backends, its statements defined once in SQLAlchemy Core::

    db = Database.open("sqlite:///~/.tercel/tercel.db")
    db.create_schema()
    with db.transaction() as conn:                 # several writes, one commit
        with lock_execution(execution_id, conn):   # one executor per execution (PostgreSQL)
            version = db.executions.save(header, changed, expected_version=v, conn=conn)
            db.queue.put("worker", payload, conn=conn)

Every call is one short transaction of a few statements, or joins the caller's via ``conn``.
All calls are synchronous; all datetimes are tz-aware UTC.

PostgreSQL runs on SQLAlchemy. SQLite, the embedded default, runs the same statements
compiled ahead of time (`_sqlite_sql`, from ``python -m tercel.store._generate``) on sqlite3
and never imports SQLAlchemy: importing it alone would take much of a cold start's budget.
"""

from tercel.store._db import SCHEMA_VERSION, Database, advisory_key, lock_execution
from tercel.store._errors import ConcurrentModification, SchemaVersionError, StoreError
from tercel.store._executions import VERSION_KEY, ExecutionRepository
from tercel.store._flows import FlowRecord, FlowRepository
from tercel.store._listen import PostgresListener
from tercel.store._logs import LogLevel, LogRepository
from tercel.store._queue import QUEUE_CHANNEL, Job, Queue

__all__ = [
    "QUEUE_CHANNEL",
    "SCHEMA_VERSION",
    "VERSION_KEY",
    "ConcurrentModification",
    "Database",
    "ExecutionRepository",
    "FlowRecord",
    "FlowRepository",
    "Job",
    "LogLevel",
    "LogRepository",
    "PostgresListener",
    "Queue",
    "SchemaVersionError",
    "StoreError",
    "advisory_key",
    "lock_execution",
]
