"""PostgreSQL only: LISTEN/NOTIFY wake-ups, SKIP LOCKED, and the per-execution lock."""

from __future__ import annotations

import asyncio
import queue as stdqueue
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from tercel.store import Database, PostgresListener, StoreError, advisory_key, lock_execution

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(pg_db: Database) -> Database:
    return pg_db


@pytest.fixture
def topic() -> str:
    """A topic no other test session on the same server uses (NOTIFY is per database)."""
    return f"topic-{uuid.uuid4().hex}"


@pytest.fixture
def heard(pg: Database, pg_url: str) -> Iterator[stdqueue.Queue[str]]:
    """Topics a `PostgresListener` on its own connection receives, in a thread."""
    topics: stdqueue.Queue[str] = stdqueue.Queue()
    with PostgresListener(pg_url, topics.put, poll_interval=0.05):
        yield topics


def next_for(topics: stdqueue.Queue[str], topic: str, timeout: float = 5.0) -> str | None:
    """The next notification for ``topic`` (others' are skipped), or None on timeout."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            got = topics.get(timeout=left)
        except stdqueue.Empty:
            return None
        if got == topic:
            return got
    return None


def test_put_notifies_listeners_in_other_connections(
    pg: Database, heard: stdqueue.Queue[str], topic: str
) -> None:
    pg.queue.put(topic, b"x")
    assert next_for(heard, topic) == topic


def test_notification_is_sent_at_commit_only(
    pg: Database, heard: stdqueue.Queue[str], topic: str
) -> None:
    with pytest.raises(RuntimeError), pg.transaction() as conn:
        pg.queue.put(topic, b"x", conn=conn)
        raise RuntimeError("boom")
    assert next_for(heard, topic, timeout=0.3) is None

    with pg.transaction() as conn:
        pg.queue.put(topic, b"x", conn=conn)
        assert next_for(heard, topic, timeout=0.2) is None  # not committed yet
    assert next_for(heard, topic) == topic


async def test_async_listener(pg: Database, pg_url: str, topic: str) -> None:
    got: asyncio.Queue[str] = asyncio.Queue()
    ready = asyncio.Event()
    listener = PostgresListener(pg_url, got.put_nowait)
    task = asyncio.create_task(listener.run(ready))
    try:
        await asyncio.wait_for(ready.wait(), 5)
        pg.queue.put(topic, b"x")
        while (received := await asyncio.wait_for(got.get(), 5)) != topic:
            pass
        assert received == topic
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_listener_start_fails_clearly() -> None:
    bad = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"
    with pytest.raises(StoreError, match="cannot LISTEN"):
        PostgresListener(bad).start()
    with pytest.raises(StoreError, match="needs a PostgreSQL URL"):
        PostgresListener("sqlite:///x.db")


def test_claim_skips_rows_locked_by_another_consumer(pg: Database) -> None:
    """A consumer whose claim transaction is still open doesn't block the other one."""
    ids = pg.queue.put_many("t", [b"a", b"b"])
    with pg.transaction() as conn:
        (first,) = pg.queue.claim("t", "slow", conn=conn)
        assert first.id == ids[0]
        started = time.monotonic()
        (second,) = pg.queue.claim("t", "fast")
        assert second.id == ids[1]
        assert time.monotonic() - started < 1.0


def test_lock_execution_serializes_transactions(pg: Database) -> None:
    key = advisory_key("execution", "e1")
    probe_result: list[bool] = []

    def probe() -> None:
        with pg.transaction() as other:
            probe_result.append(
                other.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar()
            )

    with pg.transaction() as conn, lock_execution("e1", conn):
        thread = threading.Thread(target=probe)
        thread.start()
        thread.join(5)
    assert probe_result == [False]  # held by the first transaction
    probe_result.clear()
    probe()
    assert probe_result == [True]  # released at commit


def test_advisory_key_is_stable_and_signed_64_bit() -> None:
    key = advisory_key("execution", "e1")
    assert key == advisory_key("execution", "e1")
    assert key != advisory_key("execution", "e2")
    assert -(2**63) <= key < 2**63


def test_listener_reconnects_after_losing_its_connection(
    pg: Database, pg_url: str, topic: str
) -> None:
    topics: stdqueue.Queue[str] = stdqueue.Queue()
    reconnected = threading.Event()
    name = f"tercel-test-{uuid.uuid4().hex[:12]}"
    with PostgresListener(
        pg_url,
        topics.put,
        on_reconnect=reconnected.set,
        poll_interval=0.05,
        application_name=name,
    ):
        with pg.transaction() as conn:
            killed = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = :name"
                ),
                {"name": name},
            ).scalar()
        assert killed == 1
        assert reconnected.wait(5)
        pg.queue.put(topic, b"x")
        assert next_for(topics, topic) == topic
