"""Executions: a small header document plus task-run documents, saved incrementally.

The engine advances one execution at a time and rewrites only what changed, so a save is one
UPDATE of the header row (which also checks and bumps ``version``: optimistic concurrency
without a prior read) plus one batched upsert of the changed task runs. Task runs keep their
creation order through an ordinal handed out on first insert from a per-execution counter
(``tr_seq``) that the same UPDATE advances.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tercel.store import _json
from tercel.store._connection import driver
from tercel.store._db import Database, use
from tercel.store._errors import ConcurrentModification, StoreError
from tercel.store._sql import variant

if TYPE_CHECKING:
    from tercel.store._connection import Conn

__all__ = ["VERSION_KEY", "ExecutionRepository"]

#: Key under which `get` and `find` report the stored version in the header they return:
#: the value to pass as ``expected_version`` to the next `ExecutionRepository.save`.
#: The store owns this key; whatever the caller puts there is ignored.
VERSION_KEY = "version"


def _parse_date(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(value)
        except (TypeError, ValueError) as e:
            raise StoreError(f"invalid date {value!r} in execution header: {e}") from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def _excerpt(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _labels(value: Any) -> dict[str, Any]:
    """Labels as a dict; Kestra also writes them as ``[{"key": …, "value": …}]``."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list):
        return {
            item["key"]: item.get("value")
            for item in value
            if isinstance(item, Mapping) and "key" in item
        }
    return {}


class ExecutionRepository:
    """Stores executions as header + task runs with optimistic concurrency."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._ts = db.codec.ts_in
        self._integrity_error = db.integrity_error
        sql = db.sql
        self._insert = sql["executions.insert"]
        self._update = sql["executions.update"]
        self._version = sql["executions.version"]
        self._get = sql["executions.get"]
        self._get_runs = sql["executions.get_runs"]
        self._insert_runs = sql["executions.insert_runs"]
        self._upsert_runs = sql["executions.upsert_runs"]
        self._delete = sql["executions.delete"]
        self._delete_run = sql["executions.delete_run"]

    def _columns(self, header: Mapping[str, Any], *, create: bool) -> dict[str, Any]:
        """Driver parameters for the indexed columns (the header itself stays opaque)."""
        execution_id = header.get("id")
        if not isinstance(execution_id, str):
            raise StoreError(f"execution header has no string 'id': {_excerpt(header)}")
        state = header.get("state") or {}
        params = {
            "b_id": execution_id,
            "state": state.get("current") or "CREATED",
            "end_date": self._ts(_parse_date(header.get("endDate"))),
            "labels": _json.dumps(_labels(header.get("labels"))),
            "document": _json.dumps(header),
        }
        if create:
            try:
                params["namespace"] = header["namespace"]
                params["flow_id"] = header["flowId"]
            except KeyError as e:
                raise StoreError(
                    f"execution {execution_id!r} header has no {e.args[0]!r}"
                ) from None
            start = _parse_date(header.get("startDate"))
            if start is None:
                histories = state.get("histories") or ()
                start = _parse_date(histories[0].get("date")) if histories else None
            # an execution always sorts somewhere: without any date it started when stored
            params["start_date"] = self._ts(start or datetime.now(UTC))
        return params

    @staticmethod
    def _run_rows(
        execution_id: str, runs: Sequence[Mapping[str, Any]], first_ordinal: int
    ) -> list[dict[str, Any]]:
        rows = []
        for i, run in enumerate(runs):
            run_id = run.get("id")
            if not isinstance(run_id, str):
                raise StoreError(f"task run #{i} of execution {execution_id!r} has no string 'id'")
            rows.append(
                {
                    "execution_id": execution_id,
                    "id": run_id,
                    "ordinal": first_ordinal + i,
                    "document": _json.dumps(run),
                }
            )
        return rows

    def create(
        self,
        header: Mapping[str, Any],
        task_runs: Sequence[Mapping[str, Any]] = (),
        *,
        conn: Conn | None = None,
    ) -> int:
        """Insert a new execution; returns its version (1), for the first `save`."""
        params = self._columns(header, create=True)
        execution_id = params["b_id"]
        params["version"] = 1
        params["tr_seq"] = len(task_runs)
        rows = self._run_rows(execution_id, task_runs, 1)
        with use(self.db, conn) as c:
            raw = driver(c)
            try:
                self._insert.execute(raw, params)
            except self._integrity_error as e:
                raise StoreError(f"execution {execution_id!r} already exists") from e
            if rows:
                self._insert_runs.executemany(raw, rows)
        return 1

    def save(
        self,
        header: Mapping[str, Any],
        changed_task_runs: Sequence[Mapping[str, Any]] = (),
        *,
        expected_version: int,
        removed_task_runs: Sequence[str] = (),
        conn: Conn | None = None,
    ) -> int:
        """Write the header and upsert only ``changed_task_runs``; returns the new version.

        ``removed_task_runs`` are ids of task runs to delete (a restart drops the `errors` runs).
        Raises `ConcurrentModification` (and writes nothing) if the stored version is not
        ``expected_version``: another executor advanced the execution since it was read.
        New task runs are appended after all existing ones, in the order given. The indexed
        namespace, flow id and start date are those given to `create` (they don't change).
        """
        params = self._columns(header, create=False)
        execution_id = params["b_id"]
        params["expected"] = expected_version
        params["new_runs"] = len(changed_task_runs)
        rows = self._run_rows(execution_id, changed_task_runs, 0)
        with use(self.db, conn) as c:
            raw = driver(c)
            row = self._update.execute(raw, params).fetchone()
            if row is None:
                actual = self._version.execute(raw, {"b_id": execution_id}).fetchone()
                raise ConcurrentModification(
                    execution_id, expected_version, None if actual is None else actual[0]
                )
            version, seq = row
            if rows:
                first = seq - len(rows) + 1
                for i, r in enumerate(rows):
                    r["ordinal"] = first + i
                self._upsert_runs.executemany(raw, rows)
            if removed_task_runs:
                self._delete_run.executemany(raw, [{"b_id": execution_id, "run_id": r} for r in removed_task_runs])
        return int(version)

    def get(
        self, execution_id: str, *, conn: Conn | None = None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """The header (with the stored version under `VERSION_KEY`) and the task runs in
        creation order, or None."""
        with use(self.db, conn, readonly=True) as c:
            raw = driver(c)
            row = self._get.execute(raw, {"b_id": execution_id}).fetchone()
            if row is None:
                return None
            docs = self._get_runs.execute(raw, {"b_id": execution_id}).fetchall()
        header = _json.loads(row[0])
        header[VERSION_KEY] = row[1]
        loads = _json.loads
        return header, [loads(d[0]) for d in docs]

    def find(
        self,
        namespace: str | None = None,
        flow_id: str | None = None,
        state: str | Sequence[str] | None = None,
        labels: Mapping[str, Any] | None = None,
        start_after: datetime | None = None,
        start_before: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
        *,
        conn: Conn | None = None,
    ) -> list[dict[str, Any]]:
        """Headers matching every given filter, newest start first.

        ``state`` is one state or several; ``labels`` must all be present with equal values;
        the start window is half-open: ``start_after <= start < start_before``.
        """
        params = self._filters(namespace, flow_id, state, labels, start_after, start_before)
        name = variant("executions.find", params)
        params["limit"] = limit
        params["offset"] = offset
        with use(self.db, conn, readonly=True) as c:
            rows = self.db.run(c, name, params).fetchall()
        headers = []
        for document, version in rows:
            header = _json.loads(document)
            header[VERSION_KEY] = version
            headers.append(header)
        return headers

    def count(
        self,
        namespace: str | None = None,
        flow_id: str | None = None,
        state: str | Sequence[str] | None = None,
        labels: Mapping[str, Any] | None = None,
        start_after: datetime | None = None,
        start_before: datetime | None = None,
        *,
        conn: Conn | None = None,
    ) -> int:
        """How many executions `find` matches with these filters, all pages together."""
        params = self._filters(namespace, flow_id, state, labels, start_after, start_before)
        with use(self.db, conn, readonly=True) as c:
            return int(self.db.run(c, variant("executions.count", params), params).fetchone()[0])

    def _filters(
        self,
        namespace: str | None,
        flow_id: str | None,
        state: str | Sequence[str] | None,
        labels: Mapping[str, Any] | None,
        start_after: datetime | None,
        start_before: datetime | None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if namespace is not None:
            params["namespace"] = namespace
        if flow_id is not None:
            params["flow_id"] = flow_id
        if state is not None:
            params["state"] = self.db.codec.array([state] if isinstance(state, str) else state)
        if start_after is not None:
            params["start_after"] = self._ts(start_after)
        if start_before is not None:
            params["start_before"] = self._ts(start_before)
        if labels:
            params["labels"] = _json.dumps(dict(labels))
        return params

    def delete(self, execution_id: str, *, conn: Conn | None = None) -> bool:
        """Delete the execution and its task runs (not its logs); False if it didn't exist."""
        with use(self.db, conn) as c:
            return self._delete.execute(driver(c), {"b_id": execution_id}).rowcount > 0
