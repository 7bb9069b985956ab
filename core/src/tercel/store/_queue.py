"""A durable job queue in the database, so enqueuing commits with the state that caused it.

A job is claimable when ``visible_at <= now``. Claiming sets ``visible_at`` to the end of the
lease (and counts the attempt), so a job whose consumer died becomes claimable again when the
lease runs out, with no sweeper process. `ack` deletes the row: the table only ever holds
pending and running jobs.

Clocks: on PostgreSQL "now" is the database server's clock, so leases mean the same thing to
workers on machines whose clocks disagree. SQLite is local to one machine; Python's clock
is used there.

Claiming is one statement: ``UPDATE … WHERE id IN (SELECT … ORDER BY visible_at, id LIMIT n
FOR UPDATE SKIP LOCKED) RETURNING …``. On PostgreSQL concurrent consumers skip each other's
rows instead of waiting; SQLite has no row locks (nor needs them: one writer at a time, the
statement runs inside a ``BEGIN IMMEDIATE`` transaction), and its compiler omits the clause.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tercel.store._connection import driver
from tercel.store._db import Database, use
from tercel.store._errors import StoreError

if TYPE_CHECKING:
    from tercel.store._connection import Conn

__all__ = ["QUEUE_CHANNEL", "Job", "Queue"]

#: PostgreSQL NOTIFY channel; the payload is the topic that received jobs.
QUEUE_CHANNEL = "tercel_queue"

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed job. ``attempts`` counts claims, this one included (2 = a retry after a
    lease expired or a release)."""

    id: int
    topic: str
    key: str | None
    payload: bytes
    attempts: int
    available_at: datetime


class _Statements:
    """The queue's compiled statements (see `_statements`) and their parameters' form."""

    def __init__(self, db: Database) -> None:
        self.pg = db.dialect == "postgresql"
        self.ts_in = db.codec.ts_in
        self.ts_out = db.codec.ts_out
        self.array = db.codec.array
        sql = db.sql
        self.put = sql["queue.put"]
        self.claim = sql["queue.claim"]
        self.ack = sql["queue.ack"]
        self.release = sql["queue.release"]
        self.extend = sql["queue.extend"]
        self.next_visible = sql["queue.next_visible"]
        self.pending = sql["queue.pending"]
        self.notify = sql["queue.notify"] if self.pg else None

    def times(self, **seconds: float) -> dict[str, Any]:
        """Parameters for "now" and "now + seconds": intervals the server adds to its clock
        on PostgreSQL, instants on SQLite (plus ``p_now``)."""
        if self.pg:
            return {name: timedelta(seconds=s) for name, s in seconds.items()}
        now = datetime.now(UTC)
        ts = self.ts_in
        params: dict[str, Any] = {
            name: ts(now + timedelta(seconds=s)) for name, s in seconds.items()
        }
        params["p_now"] = ts(now)
        return params

    def ids(self, job_ids: Sequence[int]) -> Any:
        return self.array(int(i) for i in job_ids)


class Queue:
    """Durable topics of jobs with leases, delays and wake-ups."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._s = _Statements(db)
        # shared by every Queue of this Database: a put wakes whoever listens in-process
        self._listeners = db._queue_listeners

    # -- wake-ups ------------------------------------------------------------------------------

    def add_listener(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(topic)`` after every committed put (or release) in this process.

        It runs in the committing thread, right after the commit: keep it short and
        thread-safe (e.g. ``loop.call_soon_threadsafe(event.set)``). Other processes learn
        about jobs through `PostgresListener`.
        """
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[str], None]) -> None:
        """Stop calling ``callback``; unknown callbacks are ignored."""
        with contextlib.suppress(ValueError):
            self._listeners.remove(callback)

    def _announce(self, conn: Conn, topic: str) -> None:
        self.db.after_commit(conn, lambda: self._wake(topic))
        if self._s.notify is not None:
            # PostgreSQL: delivered to LISTENers at commit, and only if the transaction commits
            self._s.notify.execute(driver(conn), {"p_channel": QUEUE_CHANNEL, "p_topic": topic})

    def _wake(self, topic: str) -> None:
        for callback in tuple(self._listeners):
            try:
                callback(topic)
            except Exception:
                log.exception("queue listener %r failed for topic %r", callback, topic)

    # -- producing -----------------------------------------------------------------------------

    def put(
        self,
        topic: str,
        payload: bytes,
        *,
        key: str | None = None,
        delay: float = 0.0,
        conn: Conn | None = None,
    ) -> int:
        """Enqueue one job, claimable after ``delay`` seconds; returns its id."""
        params = self._s.times(p_at=delay)
        params["p_topic"] = topic
        params["p_key"] = key
        params["p_payload"] = payload
        with use(self.db, conn) as c:
            self._announce(c, topic)  # first: refuses a foreign connection before writing
            job_id = self._s.put.execute(driver(c), params).fetchone()[0]
        return int(job_id)

    def put_many(
        self,
        topic: str,
        payloads: Sequence[bytes],
        *,
        keys: Sequence[str | None] | None = None,
        delay: float = 0.0,
        conn: Conn | None = None,
    ) -> list[int]:
        """Enqueue several jobs of one topic in one transaction; returns their ids in order.

        PostgreSQL inserts them in one statement; SQLite, with no round trips to save, runs
        the one-job INSERT for each.
        """
        if not payloads:
            return []
        if keys is not None and len(keys) != len(payloads):
            raise StoreError(f"put_many: {len(keys)} keys for {len(payloads)} payloads")
        common = self._s.times(p_at=delay)
        common["p_topic"] = topic
        rows = [
            {**common, "p_key": None if keys is None else keys[i], "p_payload": payload}
            for i, payload in enumerate(payloads)
        ]
        with use(self.db, conn) as c:
            self._announce(c, topic)
            if self._s.pg:
                # one multi-row INSERT through SQLAlchemy, ids in row order
                ids = [row[0] for row in self.db.run(c, "queue.put_many", rows)]
            else:
                put, raw = self._s.put, driver(c)
                ids = [put.execute(raw, row).fetchone()[0] for row in rows]
        return [int(i) for i in ids]

    # -- consuming -----------------------------------------------------------------------------

    def claim(
        self,
        topic: str,
        consumer: str,
        *,
        limit: int = 1,
        lease: float = 30.0,
        conn: Conn | None = None,
    ) -> list[Job]:
        """Atomically take up to ``limit`` claimable jobs for ``lease`` seconds, oldest first.

        "Oldest" is the job claimable the longest. A job whose lease ran out (dead consumer)
        is claimable again and comes back with ``attempts`` incremented.
        """
        params = self._s.times(p_lease=lease)
        params["p_topic"] = topic
        params["p_consumer"] = consumer
        params["p_limit"] = limit
        with use(self.db, conn) as c:
            rows = self._s.claim.execute(driver(c), params).fetchall()
        ts_out = self._s.ts_out
        jobs = [
            Job(
                id=int(r[0]),
                topic=topic,
                key=r[1],
                payload=bytes(r[2]),
                attempts=r[3],
                available_at=ts_out(r[4]),
            )
            for r in rows
        ]
        # RETURNING order is unspecified
        jobs.sort(key=lambda j: (j.available_at, j.id))
        return jobs

    def ack(self, job_ids: Sequence[int], *, conn: Conn | None = None) -> int:
        """Finish jobs: their rows are deleted. Returns how many existed."""
        if not job_ids:
            return 0
        with use(self.db, conn) as c:
            return self._s.ack.execute(driver(c), {"p_ids": self._s.ids(job_ids)}).rowcount

    def release(self, job_id: int, delay: float = 0.0, *, conn: Conn | None = None) -> bool:
        """Give a claimed job back, claimable again after ``delay`` seconds (a retry backoff).

        The attempt stays counted. False if the job no longer exists.
        """
        params = self._s.times(p_at=delay)
        params["p_id"] = job_id
        with use(self.db, conn) as c:
            self.db.check_connection(c)
            row = self._s.release.execute(driver(c), params).fetchone()
            if row is None:
                return False
            self._announce(c, row[0])
        return True

    def extend(self, job_ids: Sequence[int], lease: float, *, conn: Conn | None = None) -> int:
        """Renew the lease of claimed jobs to ``lease`` seconds from now (a heartbeat).

        Returns how many claimed jobs were extended (acked or released ones are not).
        """
        if not job_ids:
            return 0
        params = self._s.times(p_lease=lease)
        params["p_ids"] = self._s.ids(job_ids)
        with use(self.db, conn) as c:
            return self._s.extend.execute(driver(c), params).rowcount

    # -- observing -----------------------------------------------------------------------------

    def next_available_in(self, topic: str, *, conn: Conn | None = None) -> float | None:
        """Seconds until a job of ``topic`` becomes claimable: 0.0 if one is claimable now,
        None if the topic is empty. Includes running jobs' lease ends (they may come back)."""
        params = self._s.times()
        params["p_topic"] = topic
        with use(self.db, conn, readonly=True) as c:
            first, now = self._s.next_visible.execute(driver(c), params).fetchone()
        if first is None:
            return None
        ts_out = self._s.ts_out
        return max(0.0, (ts_out(first) - ts_out(now)).total_seconds())

    def pending(self, topic: str, *, conn: Conn | None = None) -> int:
        """Jobs of ``topic`` not yet acked (waiting, delayed or running)."""
        with use(self.db, conn, readonly=True) as c:
            return int(self._s.pending.execute(driver(c), {"p_topic": topic}).fetchone()[0])
