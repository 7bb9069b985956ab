"""Flow revisions: every save of a changed source is a new, immutable revision.

Revisions are never rewritten, so an execution can always load the exact source and plugin
lock it started with. Deleting a flow appends a revision flagged ``deleted`` (a tombstone that
keeps the last source), so history survives and saving the flow again resurrects it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, func, or_, select

from tercel.store import _json
from tercel.store._db import Database, advisory_lock, use
from tercel.store._schema import flows

__all__ = ["FlowRecord", "FlowRepository"]


@dataclass(frozen=True, slots=True)
class FlowRecord:
    """One stored revision of a flow. ``lock`` is the plugin-version lock resolved at save."""

    namespace: str
    flow_id: str
    revision: int
    source: str
    lock: dict[str, Any]
    deleted: bool
    created: datetime
    validated: dict[str, Any] | None = None


def _record(row: Row[Any]) -> FlowRecord:
    return FlowRecord(
        namespace=row.namespace,
        flow_id=row.flow_id,
        revision=row.revision,
        source=row.source,
        lock=_json.loads(row.lock),
        deleted=bool(row.deleted),
        created=row.created,
        validated=None if row.validated is None else _json.loads(row.validated),
    )


_key = and_(flows.c.namespace == bindparam("namespace"), flows.c.flow_id == bindparam("flow_id"))
_latest = select(flows).where(_key).order_by(flows.c.revision.desc()).limit(1)
_one = select(flows).where(_key, flows.c.revision == bindparam("revision"))
_revisions = select(flows).where(_key).order_by(flows.c.revision)
_insert = flows.insert()


class FlowRepository:
    """Saves and reads flow revisions."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _lock(self, conn: Connection, namespace: str, flow_id: str) -> None:
        # PostgreSQL: serialize saves of one flow (read latest, insert next revision);
        # SQLite's BEGIN IMMEDIATE already does.
        if self.db.dialect == "postgresql":
            advisory_lock(conn, "flow", namespace, flow_id)

    def save(
        self,
        namespace: str,
        flow_id: str,
        source: str,
        *,
        lock: dict[str, Any],
        validated: dict[str, Any] | None = None,
        conn: Connection | None = None,
    ) -> int:
        """Store ``source`` as the next revision and return its number.

        A source byte-identical to the latest live revision creates nothing and returns that
        revision (the lock and validated form of the stored revision are kept). Saving a
        deleted flow creates a new live revision.
        """
        with use(self.db, conn) as c:
            self._lock(c, namespace, flow_id)
            latest = c.execute(_latest, {"namespace": namespace, "flow_id": flow_id}).first()
            if latest is not None and not latest.deleted and latest.source == source:
                return int(latest.revision)
            revision = 1 if latest is None else latest.revision + 1
            c.execute(
                _insert,
                {
                    "namespace": namespace,
                    "flow_id": flow_id,
                    "revision": revision,
                    "source": source,
                    "lock": _json.dumps(lock),
                    "validated": None if validated is None else _json.dumps(validated),
                    "deleted": False,
                    "created": datetime.now(UTC),
                },
            )
            return revision

    def get(
        self,
        namespace: str,
        flow_id: str,
        revision: int | None = None,
        *,
        conn: Connection | None = None,
    ) -> FlowRecord | None:
        """The given revision (even a deletion tombstone), or else the latest one if the flow
        is live; None when the flow doesn't exist, was deleted, or lacks that revision."""
        with use(self.db, conn, readonly=True) as c:
            params = {"namespace": namespace, "flow_id": flow_id}
            if revision is None:
                row = c.execute(_latest, params).first()
                if row is None or row.deleted:
                    return None
            else:
                row = c.execute(_one, {**params, "revision": revision}).first()
                if row is None:
                    return None
            return _record(row)

    def list(
        self,
        namespace: str | None = None,
        prefix: str | None = None,
        *,
        conn: Connection | None = None,
    ) -> list[FlowRecord]:
        """Latest revision of every live flow, by namespace then id.

        ``namespace`` matches exactly; ``prefix`` matches a namespace and its children the way
        Kestra does (``company.team`` matches ``company.team`` and ``company.team.sub``, not
        ``company.teams``).
        """
        latest = select(
            flows.c.namespace,
            flows.c.flow_id,
            func.max(flows.c.revision).label("revision"),
        ).group_by(flows.c.namespace, flows.c.flow_id)
        if namespace is not None:
            latest = latest.where(flows.c.namespace == namespace)
        if prefix is not None:
            escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            latest = latest.where(
                or_(
                    flows.c.namespace == prefix,
                    flows.c.namespace.like(escaped + ".%", escape="\\"),
                )
            )
        m = latest.subquery()
        stmt = (
            select(flows)
            .join(
                m,
                and_(
                    flows.c.namespace == m.c.namespace,
                    flows.c.flow_id == m.c.flow_id,
                    flows.c.revision == m.c.revision,
                ),
            )
            .where(flows.c.deleted.is_(False))
            .order_by(flows.c.namespace, flows.c.flow_id)
        )
        with use(self.db, conn, readonly=True) as c:
            return [_record(row) for row in c.execute(stmt)]

    def revisions(
        self, namespace: str, flow_id: str, *, conn: Connection | None = None
    ) -> list[FlowRecord]:
        """Every revision, oldest first, deletion tombstones included (``deleted=True``)."""
        with use(self.db, conn, readonly=True) as c:
            rows = c.execute(_revisions, {"namespace": namespace, "flow_id": flow_id})
            return [_record(row) for row in rows]

    def delete(self, namespace: str, flow_id: str, *, conn: Connection | None = None) -> int | None:
        """Soft-delete: append a tombstone revision (a copy of the latest, flagged deleted).

        Returns the tombstone's revision, or None if the flow doesn't exist or is already
        deleted.
        """
        with use(self.db, conn) as c:
            self._lock(c, namespace, flow_id)
            latest = c.execute(_latest, {"namespace": namespace, "flow_id": flow_id}).first()
            if latest is None or latest.deleted:
                return None
            revision = latest.revision + 1
            c.execute(
                _insert,
                {
                    "namespace": namespace,
                    "flow_id": flow_id,
                    "revision": revision,
                    "source": latest.source,
                    "lock": latest.lock,
                    "validated": latest.validated,
                    "deleted": True,
                    "created": datetime.now(UTC),
                },
            )
            return revision
