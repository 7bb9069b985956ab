"""Micro-benchmark of the store's hot paths on SQLite (not collected by pytest).

    .venv/bin/python core/tests/store/perf_store.py [--url URL] [-n 2000]

Prints microseconds per call. The engine's budget is < 2 ms of overhead per task in total,
so each of these must stay a small fraction of that.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from tercel.store import Database, _json


def bench(name: str, n: int, fn: Callable[[int], object]) -> float:
    """Run ``fn`` ``n`` times after a warm-up; print and return µs per call (best of 3)."""
    for i in range(min(200, n)):
        fn(i)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for i in range(n):
            fn(i)
        best = min(best, (time.perf_counter() - start) / n * 1e6)
    print(f"{name:<58} {best:8.1f} µs/call")
    return best


def header(execution_id: str, state: str = "RUNNING") -> dict[str, object]:
    return {
        "id": execution_id,
        "namespace": "company.team",
        "flowId": "hello",
        "flowRevision": 1,
        "labels": {"env": "prod", "team": "data"},
        "inputs": {"name": "world"},
        "state": {
            "current": state,
            "histories": [
                {"state": "CREATED", "date": "2024-05-01T12:00:00.000000Z"},
                {"state": "RUNNING", "date": "2024-05-01T12:00:00.100000Z"},
            ],
        },
        "startDate": "2024-05-01T12:00:00.000000Z",
    }


def task_run(execution_id: str, i: int, state: str = "SUCCESS") -> dict[str, object]:
    return {
        "id": f"{execution_id}-tr{i:04d}",
        "executionId": execution_id,
        "taskId": f"task_{i}",
        "parentTaskRunId": None,
        "value": None,
        "iteration": 0,
        "state": {
            "current": state,
            "histories": [
                {"state": "CREATED", "date": "2024-05-01T12:00:01.000000Z"},
                {"state": "RUNNING", "date": "2024-05-01T12:00:01.100000Z"},
                {"state": state, "date": "2024-05-01T12:00:01.200000Z"},
            ],
        },
        "attempts": [{"state": {"current": state}}],
        "outputs": {"value": f"result {i}", "count": i},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="database URL (default: a SQLite file in a temp dir)")
    parser.add_argument("-n", type=int, default=2000, help="calls per measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'perf.db'}"
        db = Database.open(url)
        db.create_schema()
        print(f"{db!r}, n={args.n}, JSON: {_json.BACKEND}")
        n = args.n

        # save: 1 changed task run on an execution that has 200
        runs = [task_run("e-save", i) for i in range(200)]
        version = db.executions.create(header("e-save"), runs)
        state = {"version": version}
        h = header("e-save")

        def save(i: int) -> None:
            changed = task_run("e-save", i % 200, "RUNNING" if i % 2 else "SUCCESS")
            state["version"] = db.executions.save(h, [changed], expected_version=state["version"])

        bench("executions.save (1 changed of 200 task runs)", n, save)

        def save_locked_put(i: int) -> None:
            changed = task_run("e-save", i % 200)
            with db.transaction() as conn, db.lock_execution("e-save", conn):
                state["version"] = db.executions.save(
                    h, [changed], expected_version=state["version"], conn=conn
                )
                db.queue.put("bench-worker", b"job", conn=conn)

        bench("transaction: lock + save (1 of 200) + queue.put", n, save_locked_put)
        db.queue.ack([j.id for j in db.queue.claim("bench-worker", "c", limit=100_000)])

        bench(
            "executions.get (200 task runs)",
            max(n // 10, 50),
            lambda i: db.executions.get("e-save"),
        )

        # put + claim + ack: one job's full trip through the queue
        def cycle(i: int) -> None:
            db.queue.put("bench", b'{"task":"x"}')
            jobs = db.queue.claim("bench", "worker-1")
            db.queue.ack([jobs[0].id])

        bench("queue put + claim + ack", n, cycle)

        # a batch of 10 log lines
        now = datetime.now(UTC)
        batch = [
            {
                "execution_id": "e-save",
                "task_run_id": "e-save-tr0001",
                "task_id": "task_1",
                "attempt": 1,
                "level": "INFO",
                "timestamp": now,
                "message": f"line {k}: the quick brown fox jumps over the lazy dog",
            }
            for k in range(10)
        ]
        bench("logs.append (10 entries)", n, lambda i: db.logs.append(batch))
        bench(
            "logs.find (after_id, limit 10)",
            n,
            lambda i: db.logs.find("e-save", after_id=i % 1000, limit=10),
        )

        # the runtime's other per-execution calls
        def put_many(i: int) -> None:
            db.queue.put_many("bench-many", [b"job"] * 10, keys=["e-save"] * 10)

        bench("queue.put_many (10 jobs)", max(n // 10, 50), put_many)
        db.flows.save("company.team", "hello", "id: hello\ntasks: []\n", lock={"a": "1.0"})
        bench("flows.get (latest)", n, lambda i: db.flows.get("company.team", "hello"))
        bench(
            "executions.find (state, limit 10)",
            n,
            lambda i: db.executions.find(state="RUNNING", limit=10),
        )
        db.close()


if __name__ == "__main__":
    main()
