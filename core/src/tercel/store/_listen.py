"""`PostgresListener`: wake-ups from other processes through PostgreSQL ``LISTEN``.

A `Queue.put` on PostgreSQL sends ``NOTIFY tercel_queue, '<topic>'`` in its transaction, so
the notification arrives exactly when the job becomes visible. The listener holds its own
connection outside the pool (``LISTEN`` is per session) and calls back with the topic.
Notifications are a hint, not a guarantee (they are lost while disconnected): consumers keep
a bounded fallback sleep, which `Queue.next_available_in` makes precise for delayed jobs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tercel.store._errors import StoreError
from tercel.store._queue import QUEUE_CHANNEL

if TYPE_CHECKING:
    import asyncio

    import psycopg
    from psycopg import sql

__all__ = ["PostgresListener"]

log = logging.getLogger(__name__)


def _conninfo(url: str) -> str:
    """libpq URL from a SQLAlchemy one (``postgresql+psycopg://`` → ``postgresql://``)."""
    # PostgreSQL only, so SQLAlchemy is there to parse it (importing tercel.store is not
    # reason enough to load it: SQLite never does)
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise StoreError(f"invalid database URL {url!r}: {e}") from e
    if parsed.get_backend_name() != "postgresql":
        raise StoreError(f"PostgresListener needs a PostgreSQL URL, not {parsed.drivername!r}")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresListener:
    """Calls ``callback(topic)`` for every queue notification, from a thread or asyncio.

    Thread: ``listener.start()`` returns once ``LISTEN`` is active; callbacks then run in the
    listener's daemon thread until `stop`. It reconnects (with backoff) if the connection
    drops, then calls ``on_reconnect()``: notifications sent meanwhile are lost, so that is
    the moment to look at the queue once. Also a context manager.
    asyncio: ``await listener.run(ready)`` runs until cancelled, calling back in the loop.
    """

    def __init__(
        self,
        url: str,
        callback: Callable[[str], None] | None = None,
        *,
        on_reconnect: Callable[[], None] | None = None,
        channel: str = QUEUE_CHANNEL,
        poll_interval: float = 0.2,
        application_name: str = "tercel-listener",
    ) -> None:
        self._conninfo = _conninfo(url)
        self.channel = channel
        self.poll_interval = poll_interval
        self.application_name = application_name
        self.on_reconnect = on_reconnect
        self._callbacks: list[Callable[[str], None]] = [callback] if callback else []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add_callback(self, callback: Callable[[str], None]) -> None:
        """Also call ``callback(topic)`` on notifications."""
        self._callbacks.append(callback)

    def _dispatch(self, topic: str) -> None:
        for callback in tuple(self._callbacks):
            try:
                callback(topic)
            except Exception:
                log.exception("listener callback %r failed for topic %r", callback, topic)

    def _listen_sql(self) -> sql.Composed:
        from psycopg import sql  # psycopg is only needed with PostgreSQL

        return sql.SQL("LISTEN {}").format(sql.Identifier(self.channel))

    # -- thread mode ---------------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        import psycopg

        conn = psycopg.connect(
            self._conninfo, autocommit=True, application_name=self.application_name
        )
        try:
            conn.execute(self._listen_sql())
        except BaseException:
            conn.close()
            raise
        return conn

    def start(self) -> PostgresListener:
        """Connect, ``LISTEN``, and dispatch in a background thread; returns when listening."""
        import psycopg

        if self._thread is not None:
            raise StoreError("PostgresListener already started")
        try:
            conn = self._connect()
        except psycopg.Error as e:
            raise StoreError(f"cannot LISTEN on PostgreSQL: {e}") from e
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, args=(conn,), name=f"pg-listen-{self.channel}", daemon=True
        )
        self._thread.start()
        return self

    def _loop(self, conn: psycopg.Connection[Any] | None) -> None:
        import psycopg

        backoff = 0.5
        try:
            while not self._stop.is_set():
                if conn is None:
                    try:
                        conn = self._connect()
                        backoff = 0.5
                        log.info("PostgresListener reconnected")
                        if self.on_reconnect is not None:
                            try:
                                self.on_reconnect()
                            except Exception:
                                log.exception("PostgresListener on_reconnect failed")
                    except psycopg.Error as e:
                        log.warning("PostgresListener cannot reconnect (%s); retrying", e)
                        self._stop.wait(backoff)
                        backoff = min(backoff * 2, 10.0)
                        continue
                try:
                    for notify in conn.notifies(timeout=self.poll_interval):
                        self._dispatch(notify.payload)
                except psycopg.Error as e:
                    if self._stop.is_set():
                        break
                    log.warning("PostgresListener lost its connection (%s)", e)
                    conn.close()
                    conn = None
        finally:
            if conn is not None:
                conn.close()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (within ``poll_interval``) and close the connection."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout)

    def __enter__(self) -> PostgresListener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- asyncio mode --------------------------------------------------------------------------

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Listen and dispatch in the running loop until cancelled; sets ``ready`` once
        ``LISTEN`` is active. Connection errors propagate (the caller decides to retry)."""
        import psycopg

        async with await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, application_name=self.application_name
        ) as conn:
            await conn.execute(self._listen_sql())
            if ready is not None:
                ready.set()
            async for notify in conn.notifies():
                self._dispatch(notify.payload)
