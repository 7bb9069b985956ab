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
from typing import Any

from sqlalchemy import Connection, bindparam, exists, func, literal, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tercel.store import _json
from tercel.store._db import Database, use
from tercel.store._errors import ConcurrentModification, StoreError
from tercel.store._schema import executions, task_runs
from tercel.store._sql import Prepared, driver

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


_c = executions.c
_COLUMNS = ("namespace", "flow_id", "state", "start_date", "end_date", "labels", "document")
# what a save may change: where an execution is from and when it started are fixed at create,
# and leaving them out of the SET spares SQLite rewriting the two indexes that hold them
_MUTABLE = ("state", "end_date", "labels", "document")
_insert = executions.insert().values(
    id=bindparam("b_id"),
    version=bindparam("version"),
    tr_seq=bindparam("tr_seq"),
    **{name: bindparam(name) for name in _COLUMNS},
)
_update = (
    executions.update()
    .where(_c.id == bindparam("b_id"), _c.version == bindparam("expected"))
    .values(
        version=_c.version + 1,
        tr_seq=_c.tr_seq + bindparam("new_runs"),
        **{name: bindparam(name) for name in _MUTABLE},
    )
    .returning(_c.version, _c.tr_seq)
)
_version = select(_c.version).where(_c.id == bindparam("b_id"))
_get = select(_c.document, _c.version).where(_c.id == bindparam("b_id"))
_get_runs = (
    select(task_runs.c.document)
    .where(task_runs.c.execution_id == bindparam("b_id"))
    .order_by(task_runs.c.ordinal)
)
_insert_runs = task_runs.insert()
_delete = executions.delete().where(_c.id == bindparam("b_id"))


def _upsert_runs(dialect: str) -> Any:
    ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(task_runs)
    # the ordinal is only written on first insert: an update keeps the creation order
    return ins.on_conflict_do_update(
        index_elements=[task_runs.c.execution_id, task_runs.c.id],
        set_={"document": ins.excluded.document},
    )


class ExecutionRepository:
    """Stores executions as header + task runs with optimistic concurrency."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._ts = db.codec.ts_in
        self._integrity_error: type[Exception] = db.engine.dialect.loaded_dbapi.IntegrityError
        dialect = db.engine.dialect
        self._insert = Prepared(_insert, dialect)
        self._update = Prepared(_update, dialect)
        self._version = Prepared(_version, dialect)
        self._get = Prepared(_get, dialect)
        self._get_runs = Prepared(_get_runs, dialect)
        self._insert_runs = Prepared(_insert_runs, dialect)
        self._upsert_runs = Prepared(_upsert_runs(db.dialect), dialect)
        self._delete = Prepared(_delete, dialect)

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
        conn: Connection | None = None,
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
        conn: Connection | None = None,
    ) -> int:
        """Write the header and upsert only ``changed_task_runs``; returns the new version.

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
        return int(version)

    def get(
        self, execution_id: str, *, conn: Connection | None = None
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
        conn: Connection | None = None,
    ) -> list[dict[str, Any]]:
        """Headers matching every given filter, newest start first.

        ``state`` is one state or several; ``labels`` must all be present with equal values;
        the start window is half-open: ``start_after <= start < start_before``.
        """
        stmt = select(_c.document, _c.version)
        if namespace is not None:
            stmt = stmt.where(_c.namespace == namespace)
        if flow_id is not None:
            stmt = stmt.where(_c.flow_id == flow_id)
        if state is not None:
            states = [state] if isinstance(state, str) else list(state)
            stmt = stmt.where(_c.state.in_(states))
        if start_after is not None:
            stmt = stmt.where(_c.start_date >= start_after)
        if start_before is not None:
            stmt = stmt.where(_c.start_date < start_before)
        if labels:
            if self.db.dialect == "postgresql":
                # containment uses the GIN index
                stmt = stmt.where(type_coerce(_c.labels, JSONB).contains(dict(labels)))
            else:
                for key, value in labels.items():
                    each = func.json_each(_c.labels).table_valued("key", "value")
                    stmt = stmt.where(
                        exists(
                            select(literal(1))
                            .select_from(each)
                            .where(each.c.key == key, each.c.value == value)
                        )
                    )
        stmt = stmt.order_by(_c.start_date.desc(), _c.id.desc()).limit(limit).offset(offset)
        with use(self.db, conn, readonly=True) as c:
            rows = c.execute(stmt).all()
        headers = []
        for document, version in rows:
            header = _json.loads(document)
            header[VERSION_KEY] = version
            headers.append(header)
        return headers

    def delete(self, execution_id: str, *, conn: Connection | None = None) -> bool:
        """Delete the execution and its task runs (not its logs); False if it didn't exist."""
        with use(self.db, conn) as c:
            return self._delete.execute(driver(c), {"b_id": execution_id}).rowcount > 0
