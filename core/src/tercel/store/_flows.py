"""Flow revisions: every save of a changed source is a new, immutable revision.

Revisions are never rewritten, so an execution can always load the exact source and plugin
lock it started with. Deleting a flow appends a revision flagged ``deleted`` (a tombstone that
keeps the last source), so history survives and saving the flow again resurrects it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tercel.store import _json
from tercel.store._db import Database, use
from tercel.store._sql import variant

if TYPE_CHECKING:
    from tercel.store._connection import Conn

__all__ = ["COLUMNS", "FlowRecord", "FlowRepository"]

#: The columns every flow query returns, in this order (`_statements` selects them).
COLUMNS = ("namespace", "flow_id", "revision", "source", "lock", "validated", "deleted", "created")
_NAMESPACE, _FLOW_ID, _REVISION, _SOURCE, _LOCK, _VALIDATED, _DELETED, _CREATED = range(
    len(COLUMNS)
)


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


class FlowRepository:
    """Saves and reads flow revisions."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._ts_out: Callable[[Any], datetime] = db.codec.ts_out

    def _record(self, row: Sequence[Any]) -> FlowRecord:
        validated = row[_VALIDATED]
        return FlowRecord(
            namespace=row[_NAMESPACE],
            flow_id=row[_FLOW_ID],
            revision=row[_REVISION],
            source=row[_SOURCE],
            lock=_json.loads(row[_LOCK]),
            deleted=bool(row[_DELETED]),
            created=self._ts_out(row[_CREATED]),
            validated=None if validated is None else _json.loads(validated),
        )

    def _latest(self, conn: Conn, namespace: str, flow_id: str) -> Sequence[Any] | None:
        params = {"namespace": namespace, "flow_id": flow_id}
        row: Sequence[Any] | None = self.db.run(conn, "flows.latest", params).fetchone()
        return row

    def _insert(self, conn: Conn, row: dict[str, Any]) -> None:
        row["created"] = self.db.codec.ts_in(datetime.now(UTC))
        self.db.run(conn, "flows.insert", row)

    def save(
        self,
        namespace: str,
        flow_id: str,
        source: str,
        *,
        lock: dict[str, Any],
        validated: dict[str, Any] | None = None,
        conn: Conn | None = None,
    ) -> int:
        """Store ``source`` as the next revision and return its number.

        A source byte-identical to the latest live revision, resolved to the same plugin lock,
        creates nothing and returns that revision. The same source with another lock (a plugin
        version installed or removed since) is a new revision: a revision's code never changes.
        Saving a deleted flow creates a new live revision.
        """
        with use(self.db, conn) as c:
            # PostgreSQL: serialize saves of one flow (read latest, insert next revision)
            self.db.serialize(c, "flow", namespace, flow_id)
            latest = self._latest(c, namespace, flow_id)
            if (
                latest is not None
                and not latest[_DELETED]
                and latest[_SOURCE] == source
                and _json.loads(latest[_LOCK]) == lock
            ):
                return int(latest[_REVISION])
            revision = 1 if latest is None else latest[_REVISION] + 1
            self._insert(
                c,
                {
                    "namespace": namespace,
                    "flow_id": flow_id,
                    "revision": revision,
                    "source": source,
                    "lock": _json.dumps(lock),
                    "validated": None if validated is None else _json.dumps(validated),
                    "deleted": False,
                },
            )
            return revision

    def get(
        self,
        namespace: str,
        flow_id: str,
        revision: int | None = None,
        *,
        conn: Conn | None = None,
    ) -> FlowRecord | None:
        """The given revision (even a deletion tombstone), or else the latest one if the flow
        is live; None when the flow doesn't exist, was deleted, or lacks that revision."""
        with use(self.db, conn, readonly=True) as c:
            if revision is None:
                row = self._latest(c, namespace, flow_id)
                if row is None or row[_DELETED]:
                    return None
            else:
                params = {"namespace": namespace, "flow_id": flow_id, "revision": revision}
                row = self.db.run(c, "flows.one", params).fetchone()
                if row is None:
                    return None
            return self._record(row)

    def list(
        self,
        namespace: str | None = None,
        prefix: str | None = None,
        *,
        conn: Conn | None = None,
    ) -> list[FlowRecord]:
        """Latest revision of every live flow, by namespace then id.

        ``namespace`` matches exactly; ``prefix`` matches a namespace and its children the way
        Kestra does (``company.team`` matches ``company.team`` and ``company.team.sub``, not
        ``company.teams``).
        """
        params: dict[str, Any] = {}
        if namespace is not None:
            params["namespace"] = namespace
        if prefix is not None:
            params["prefix"] = prefix
        name = variant("flows.list", params)
        if prefix is not None:
            escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params["prefix_like"] = escaped + ".%"
        with use(self.db, conn, readonly=True) as c:
            return [self._record(row) for row in self.db.run(c, name, params).fetchall()]

    def stamp(self, *, conn: Conn | None = None) -> tuple[int, Any]:
        """A value that changes whenever a flow is saved or deleted, in any process (the
        number of revisions and the newest's date): cheaper than `list` to poll."""
        with use(self.db, conn, readonly=True) as c:
            count, newest = self.db.run(c, "flows.stamp").fetchone()
            return int(count or 0), newest

    def revisions(
        self, namespace: str, flow_id: str, *, conn: Conn | None = None
    ) -> list[FlowRecord]:
        """Every revision, oldest first, deletion tombstones included (``deleted=True``)."""
        with use(self.db, conn, readonly=True) as c:
            params = {"namespace": namespace, "flow_id": flow_id}
            rows = self.db.run(c, "flows.revisions", params).fetchall()
            return [self._record(row) for row in rows]

    def delete(self, namespace: str, flow_id: str, *, conn: Conn | None = None) -> int | None:
        """Soft-delete: append a tombstone revision (a copy of the latest, flagged deleted).

        Returns the tombstone's revision, or None if the flow doesn't exist or is already
        deleted.
        """
        with use(self.db, conn) as c:
            self.db.serialize(c, "flow", namespace, flow_id)
            latest = self._latest(c, namespace, flow_id)
            if latest is None or latest[_DELETED]:
                return None
            revision = latest[_REVISION] + 1
            self._insert(
                c,
                {
                    "namespace": namespace,
                    "flow_id": flow_id,
                    "revision": revision,
                    "source": latest[_SOURCE],
                    "lock": latest[_LOCK],
                    "validated": latest[_VALIDATED],
                    "deleted": True,
                },
            )
            return revision
