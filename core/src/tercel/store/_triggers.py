"""Trigger state: one row per (namespace, flow, trigger id), what the scheduler remembers.

The scheduler (`tercel.scheduler`) keeps here, per trigger, the date it last scheduled, the
next date it will evaluate, whether the trigger was disabled (by `stopAfter` or the API),
the execution it started that still runs (a trigger never overlaps itself), a backfill in
progress and a small JSON ``context`` of its own (definition fingerprint, a polling trigger's
memory). Rows survive restarts, which is how missed schedules are recovered.

Reads join the running execution's current state in, so a scheduler sees at once when the
execution it waits for has ended, whichever process ended it. Writers serialize on the
trigger (`lock`: an advisory lock on PostgreSQL, SQLite's write lock otherwise) and re-read
the row before deciding, so several schedulers never fire the same date twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tercel.store import _json
from tercel.store._db import Database, use
from tercel.store._errors import StoreError
from tercel.store._sql import variant

if TYPE_CHECKING:
    from tercel.store._connection import Conn

__all__ = ["COLUMNS", "TriggerRecord", "TriggerRepository"]

#: The columns of a trigger row, in the order every query selects them (the running
#: execution's state comes after them, from the join).
COLUMNS = (
    "namespace",
    "flow_id",
    "trigger_id",
    "type",
    "date",
    "next_date",
    "disabled",
    "execution_id",
    "backfill",
    "context",
    "updated",
)
_KEY = ("namespace", "flow_id", "trigger_id")
(
    _NAMESPACE,
    _FLOW_ID,
    _TRIGGER_ID,
    _TYPE,
    _DATE,
    _NEXT_DATE,
    _DISABLED,
    _EXECUTION_ID,
    _BACKFILL,
    _CONTEXT,
    _UPDATED,
    _EXECUTION_STATE,
) = range(len(COLUMNS) + 1)


@dataclass(frozen=True, slots=True)
class TriggerRecord:
    """One trigger's stored state. Dates are tz-aware UTC.

    ``execution_state`` is read-only: the current state of ``execution_id`` in the executions
    table when the row was read (None when there is no such execution, or none is running).
    """

    namespace: str
    flow_id: str
    trigger_id: str
    type: str
    date: datetime | None = None
    next_date: datetime | None = None
    disabled: bool = False
    execution_id: str | None = None
    backfill: dict[str, Any] | None = None
    context: dict[str, Any] = field(default_factory=dict)
    updated: datetime | None = None
    execution_state: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.namespace, self.flow_id, self.trigger_id)


class TriggerRepository:
    """Reads and writes trigger state rows."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._ts_in: Callable[[datetime | None], Any] = db.codec.ts_in
        self._ts_out: Callable[[Any], datetime] = db.codec.ts_out

    # -- rows ----------------------------------------------------------------------------------

    def _record(self, row: Sequence[Any]) -> TriggerRecord:
        ts = self._ts_out
        backfill = row[_BACKFILL]
        context = row[_CONTEXT]
        return TriggerRecord(
            namespace=row[_NAMESPACE],
            flow_id=row[_FLOW_ID],
            trigger_id=row[_TRIGGER_ID],
            type=row[_TYPE],
            date=None if row[_DATE] is None else ts(row[_DATE]),
            next_date=None if row[_NEXT_DATE] is None else ts(row[_NEXT_DATE]),
            disabled=bool(row[_DISABLED]),
            execution_id=row[_EXECUTION_ID],
            backfill=None if backfill is None else _json.loads(backfill),
            context={} if context is None else _json.loads(context),
            updated=None if row[_UPDATED] is None else ts(row[_UPDATED]),
            execution_state=row[_EXECUTION_STATE] if row[_EXECUTION_ID] is not None else None,
        )

    def _params(self, record: TriggerRecord, now: datetime) -> dict[str, Any]:
        for name in _KEY:
            if not isinstance(getattr(record, name), str) or not getattr(record, name):
                raise StoreError(f"trigger record needs a non-empty {name!r}: {record!r}")
        return {
            "namespace": record.namespace,
            "flow_id": record.flow_id,
            "trigger_id": record.trigger_id,
            "type": record.type,
            "date": self._ts_in(record.date),
            "next_date": self._ts_in(record.next_date),
            "disabled": bool(record.disabled),
            "execution_id": record.execution_id,
            "backfill": None if record.backfill is None else _json.dumps(record.backfill),
            "context": _json.dumps(dict(record.context)) if record.context else None,
            "updated": self._ts_in(now),
        }

    # -- API -----------------------------------------------------------------------------------

    def lock(self, conn: Conn, namespace: str, flow_id: str, trigger_id: str) -> None:
        """Serialize work on one trigger until ``conn``'s transaction ends (read it after this)."""
        self.db.check_connection(conn)
        self.db.serialize(conn, "trigger", namespace, flow_id, trigger_id)

    def get(
        self, namespace: str, flow_id: str, trigger_id: str, *, conn: Conn | None = None
    ) -> TriggerRecord | None:
        """The trigger's row, with its running execution's state; None if there is none."""
        params = {"namespace": namespace, "flow_id": flow_id, "trigger_id": trigger_id}
        with use(self.db, conn, readonly=True) as c:
            row = self.db.run(c, "triggers.get", params).fetchone()
        return None if row is None else self._record(row)

    def list(
        self,
        namespace: str | None = None,
        flow_id: str | None = None,
        *,
        conn: Conn | None = None,
    ) -> list[TriggerRecord]:
        """Every row (of a namespace, of a flow), by namespace, flow and trigger id."""
        if flow_id is not None and namespace is None:
            raise StoreError("TriggerRepository.list: a flow_id needs its namespace")
        params: dict[str, Any] = {}
        if namespace is not None:
            params["namespace"] = namespace
        if flow_id is not None:
            params["flow_id"] = flow_id
        with use(self.db, conn, readonly=True) as c:
            rows = self.db.run(c, variant("triggers.list", params), params).fetchall()
        return [self._record(row) for row in rows]

    def save(self, record: TriggerRecord, *, conn: Conn | None = None) -> TriggerRecord:
        """Insert or replace the row (``execution_state`` is not stored); returns it as saved."""
        now = datetime.now(UTC)
        params = self._params(record, now)
        with use(self.db, conn) as c:
            self.db.run(c, "triggers.upsert", params)
        return replace(record, updated=now)

    def delete(self, namespace: str, flow_id: str, trigger_id: str, *, conn: Conn | None = None) -> bool:
        """Forget a trigger (its flow or the trigger itself was removed); True if it existed."""
        params = {"namespace": namespace, "flow_id": flow_id, "trigger_id": trigger_id}
        with use(self.db, conn) as c:
            return int(self.db.run(c, "triggers.delete", params).rowcount) > 0

    def delete_flow(self, namespace: str, flow_id: str, *, conn: Conn | None = None) -> int:
        """Forget every trigger of a flow; returns how many rows went."""
        params = {"namespace": namespace, "flow_id": flow_id}
        with use(self.db, conn) as c:
            return int(self.db.run(c, "triggers.delete_flow", params).rowcount)
