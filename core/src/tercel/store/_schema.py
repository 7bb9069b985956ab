"""Tables shared by both dialects, and the one timestamp type they agree on.

These definitions are the source of SQLite's schema too: `_generate` compiles them into
`_sqlite_sql` (regenerate after changing them).

Documents (execution headers, task runs, flow locks) are kept as JSON *text*: the store never
looks inside them, text round-trips byte for byte (PostgreSQL's JSONB would reorder keys) and
skips a parse on the database side. Only columns that are filtered on are split out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine

# the version is checked on SQLite too, without SQLAlchemy: it lives with the Database.
# Bump it whenever the tables below change.
from tercel.store._db import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "UTCDateTime",
    "executions",
    "flows",
    "logs",
    "metadata",
    "queue_jobs",
    "schema_version",
    "task_runs",
    "triggers",
]


class UTCDateTime(TypeDecorator[datetime]):
    """Tz-aware UTC datetimes on both dialects.

    PostgreSQL stores ``timestamptz``. SQLite has no date type, so values are stored as
    fixed-width ISO-8601 text in UTC (``2024-05-01T12:00:00.000000+00:00``): fixed width
    makes string order equal time order, so range filters and indexes work on the text.
    Naive datetimes are refused rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store only accepts tz-aware datetimes")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.isoformat(timespec="microseconds")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value)
        return value.astimezone(UTC)


def _id() -> TypeEngine[int]:
    """A 64-bit key that is SQLite's rowid (only ``INTEGER PRIMARY KEY`` autoincrements there)."""
    return BigInteger().with_variant(Integer(), "sqlite")


_labels_type = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
    Column("updated", UTCDateTime(), nullable=False),
)

flows = Table(
    "flows",
    metadata,
    Column("namespace", String(255), primary_key=True),
    Column("flow_id", String(255), primary_key=True),
    Column("revision", Integer, primary_key=True, autoincrement=False),
    Column("source", Text, nullable=False),
    Column("lock", Text, nullable=False),
    Column("validated", Text, nullable=True),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("created", UTCDateTime(), nullable=False),
)

executions = Table(
    "executions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("namespace", String(255), nullable=False),
    Column("flow_id", String(255), nullable=False),
    Column("state", String(32), nullable=False),
    Column("start_date", UTCDateTime(), nullable=False),
    Column("end_date", UTCDateTime(), nullable=True),
    Column("labels", _labels_type, nullable=True),
    # optimistic concurrency: every save bumps it and must name the version it read
    Column("version", Integer, nullable=False),
    # last task-run ordinal handed out; task runs keep their creation order through it
    Column("tr_seq", Integer, nullable=False),
    Column("document", Text, nullable=False),
    Index("ix_executions_flow", "namespace", "flow_id", "start_date"),
    Index("ix_executions_state", "state", "start_date"),
    Index("ix_executions_start", "start_date"),
    Index("ix_executions_end", "end_date"),
)
Index("ix_executions_labels", executions.c.labels, postgresql_using="gin").ddl_if(
    dialect="postgresql"
)

task_runs = Table(
    "task_runs",
    metadata,
    Column(
        "execution_id",
        String(64),
        ForeignKey("executions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("id", String(64), primary_key=True),
    Column("ordinal", Integer, nullable=False),
    Column("document", Text, nullable=False),
    Index("ix_task_runs_order", "execution_id", "ordinal"),
)

logs = Table(
    "logs",
    metadata,
    Column("id", _id(), primary_key=True, autoincrement=True),
    Column("execution_id", String(64), nullable=False),
    Column("task_run_id", String(64), nullable=True),
    Column("task_id", String(255), nullable=True),
    Column("attempt", Integer, nullable=True),
    Column("level", SmallInteger, nullable=False),
    Column("timestamp", UTCDateTime(), nullable=False),
    Column("message", Text, nullable=False),
    Column("thread", String(255), nullable=True),
    Column("logger", String(255), nullable=True),
    Index("ix_logs_execution", "execution_id", "id"),
    Index("ix_logs_timestamp", "timestamp"),
    # no AUTOINCREMENT on SQLite (it costs a quarter of an append): a new id is still above
    # every id in the table, so an execution's own lines keep increasing ids for `after_id`
)

queue_jobs = Table(
    "queue_jobs",
    metadata,
    Column("id", _id(), primary_key=True, autoincrement=True),
    Column("topic", String(255), nullable=False),
    Column("key", String(255), nullable=True),
    Column("payload", LargeBinary, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    # when the job became (or becomes) due: what `Job.available_at` reports
    Column("available_at", UTCDateTime(), nullable=False),
    # when it can next be claimed: `available_at`, or the lease end while someone holds it.
    # One column makes "claimable now" a single index range scan, already in claim order.
    Column("visible_at", UTCDateTime(), nullable=False),
    Column("consumer", String(255), nullable=True),
    Index("ix_queue_jobs_claim", "topic", "visible_at", "id"),
    # ids are never reused: a late ack from a dead consumer can't delete someone else's job
    sqlite_autoincrement=True,
)

triggers = Table(
    "triggers",
    metadata,
    Column("namespace", String(255), primary_key=True),
    Column("flow_id", String(255), primary_key=True),
    Column("trigger_id", String(255), primary_key=True),
    Column("type", String(255), nullable=False),
    # the date the trigger last scheduled (Kestra's `date`), and the next one it evaluates
    Column("date", UTCDateTime(), nullable=True),
    Column("next_date", UTCDateTime(), nullable=True),
    # disabled by `stopAfter` or through the API (a flow's `disabled: true` is read from the flow)
    Column("disabled", Boolean, nullable=False, default=False),
    # the execution it started that still runs: a trigger never overlaps itself
    Column("execution_id", String(64), nullable=True),
    # JSON documents: a backfill in progress; the scheduler's own memo (definition fingerprint,
    # a polling trigger's memory)
    Column("backfill", Text, nullable=True),
    Column("context", Text, nullable=True),
    Column("updated", UTCDateTime(), nullable=False),
)
