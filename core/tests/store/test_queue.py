"""The durable queue: ordering, delays, leases, acks, concurrent consumers, wake-ups."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from sqlalchemy import func, select
from tercel.store import Database, Job, StoreError
from tercel.store._schema import queue_jobs


def test_claim_oldest_first_with_limit(db: Database) -> None:
    q = db.queue
    ids = [q.put("work", f"job{i}".encode(), key=f"k{i}") for i in range(5)]
    q.put("other", b"elsewhere")
    assert ids == sorted(ids)

    first = q.claim("work", "c1", limit=2)
    assert [j.id for j in first] == ids[:2]
    assert all(isinstance(j, Job) for j in first)
    job = first[0]
    assert (job.topic, job.key, job.payload, job.attempts) == ("work", "k0", b"job0", 1)
    assert job.available_at.tzinfo is not None

    rest = q.claim("work", "c2", limit=10)
    assert [j.id for j in rest] == ids[2:]
    assert q.claim("work", "c3") == []
    assert q.pending("work") == 5  # claimed, not acked
    assert [j.payload for j in q.claim("other", "c1")] == [b"elsewhere"]


def test_binary_payloads_round_trip(db: Database) -> None:
    payload = bytes(range(256)) * 4
    db.queue.put("t", payload)
    assert db.queue.claim("t", "c")[0].payload == payload


def test_ack_purges_rows(db: Database) -> None:
    q = db.queue
    ids = q.put_many("t", [b"a", b"b", b"c"], keys=["x", None, "z"])
    assert len(ids) == 3 and ids == sorted(ids)
    jobs = q.claim("t", "c", limit=3)
    assert [(j.payload, j.key) for j in jobs] == [(b"a", "x"), (b"b", None), (b"c", "z")]
    assert q.ack([j.id for j in jobs]) == 3
    assert q.ack([jobs[0].id]) == 0
    assert q.ack([]) == 0
    assert q.pending("t") == 0
    with db.transaction() as conn:
        assert conn.execute(select(func.count()).select_from(queue_jobs)).scalar() == 0
    assert q.next_available_in("t") is None


def test_delay_and_next_available_in(db: Database) -> None:
    q = db.queue
    assert q.next_available_in("t") is None
    q.put("t", b"later", delay=0.3)
    assert q.claim("t", "c") == []
    wait = q.next_available_in("t")
    assert wait is not None and 0.1 < wait <= 0.3
    q.put("t", b"now")
    assert q.next_available_in("t") == 0.0
    assert [j.payload for j in q.claim("t", "c", limit=5)] == [b"now"]
    time.sleep(q.next_available_in("t") or 0.0)
    assert [j.payload for j in q.claim("t", "c", limit=5)] == [b"later"]


def test_expired_lease_is_claimed_again(db: Database) -> None:
    q = db.queue
    job_id = q.put("t", b"x")
    (first,) = q.claim("t", "dead-worker", lease=0.05)
    assert first.attempts == 1
    assert q.claim("t", "other") == []  # leased
    wait = q.next_available_in("t")
    assert wait is not None and wait <= 0.05
    time.sleep(0.08)
    (again,) = q.claim("t", "other", lease=30)
    assert (again.id, again.attempts, again.payload) == (job_id, 2, b"x")
    assert again.available_at == first.available_at
    assert q.claim("t", "third") == []


def test_extend_keeps_the_lease(db: Database) -> None:
    q = db.queue
    q.put("t", b"x")
    (job,) = q.claim("t", "w", lease=0.05)
    assert q.extend([job.id], lease=30) == 1
    time.sleep(0.08)
    assert q.claim("t", "other") == []
    q.ack([job.id])
    assert q.extend([job.id], lease=30) == 0


def test_release_gives_the_job_back(db: Database) -> None:
    q = db.queue
    q.put("t", b"x")
    (job,) = q.claim("t", "w")
    assert q.release(job.id) is True
    (again,) = q.claim("t", "w2")
    assert (again.id, again.attempts) == (job.id, 2)
    assert q.release(again.id, delay=0.2) is True
    assert q.claim("t", "w3") == []
    wait = q.next_available_in("t")
    assert wait is not None and 0.05 < wait <= 0.2
    assert q.release(123456) is False


def test_put_in_rolled_back_transaction_is_not_visible(db: Database) -> None:
    with pytest.raises(RuntimeError), db.transaction() as conn:
        db.queue.put("t", b"x", conn=conn)
        raise RuntimeError("boom")
    assert db.queue.pending("t") == 0
    assert db.queue.claim("t", "c") == []


def test_put_many_validates_keys(db: Database) -> None:
    with pytest.raises(StoreError, match="2 keys for 1 payloads"):
        db.queue.put_many("t", [b"a"], keys=["a", "b"])
    assert db.queue.put_many("t", []) == []


def test_listener_is_called_after_commit_only(db: Database) -> None:
    calls: list[tuple[str, int]] = []

    def listener(topic: str) -> None:
        # runs after the commit: the job is already visible to a fresh transaction
        calls.append((topic, db.queue.pending(topic)))

    def broken(topic: str) -> None:
        raise RuntimeError("listener errors don't break put")

    db.queue.add_listener(broken)
    db.queue.add_listener(listener)
    try:
        db.queue.put("a", b"x")
        assert calls == [("a", 1)]

        with db.transaction() as conn:
            db.queue.put("b", b"x", conn=conn)
            db.queue.put_many("b", [b"y", b"z"], conn=conn)
            assert calls == [("a", 1)]  # not yet: not committed
        assert calls[1:] == [("b", 3), ("b", 3)]

        with pytest.raises(RuntimeError), db.transaction() as conn:
            db.queue.put("c", b"x", conn=conn)
            raise RuntimeError("boom")
        assert [t for t, _ in calls] == ["a", "b", "b"]

        (job,) = db.queue.claim("a", "w")
        db.queue.release(job.id)
        assert calls[-1] == ("a", 1)
    finally:
        db.queue.remove_listener(listener)
        db.queue.remove_listener(broken)
        db.queue.remove_listener(broken)  # unknown: ignored
    db.queue.put("a", b"x")
    assert len(calls) == 4


def test_two_consumers_never_claim_the_same_job(db: Database) -> None:
    n = 300
    ids = set(db.queue.put_many("hammer", [str(i).encode() for i in range(n)]))
    claimed: dict[str, list[int]] = {"c1": [], "c2": []}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def consume(name: str, batch: int) -> None:
        try:
            start.wait()
            while jobs := db.queue.claim("hammer", name, limit=batch, lease=60):
                claimed[name].extend(j.id for j in jobs)
                db.queue.ack([j.id for j in jobs][: len(jobs) // 2])  # ack some as we go
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [
        threading.Thread(target=consume, args=("c1", 1)),
        threading.Thread(target=consume, args=("c2", 3)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    counts = Counter(claimed["c1"] + claimed["c2"])
    assert set(counts) == ids
    assert max(counts.values()) == 1
    assert claimed["c1"] and claimed["c2"]  # both got work
