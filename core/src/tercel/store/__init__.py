"""Persistence and the durable job queue, on SQLite (default) or PostgreSQL.

One interface over SQLAlchemy Core for both backends::

    db = Database.open("sqlite:///~/.tercel/tercel.db")
    db.create_schema()
    with db.transaction() as conn:                 # several writes, one commit
        with lock_execution(execution_id, conn):   # one executor per execution (PostgreSQL)
            version = db.executions.save(header, changed, expected_version=v, conn=conn)
            db.queue.put("worker", payload, conn=conn)

Every call is one short transaction of a few statements, or joins the caller's via ``conn``.
All calls are synchronous; all datetimes are tz-aware UTC.
"""

from tercel.store._db import Database, advisory_key, lock_execution
from tercel.store._errors import ConcurrentModification, SchemaVersionError, StoreError
from tercel.store._executions import VERSION_KEY, ExecutionRepository
from tercel.store._flows import FlowRecord, FlowRepository
from tercel.store._listen import PostgresListener
from tercel.store._logs import LogLevel, LogRepository
from tercel.store._queue import QUEUE_CHANNEL, Job, Queue
from tercel.store._schema import SCHEMA_VERSION

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
