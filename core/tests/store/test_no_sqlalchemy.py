"""SQLite, the embedded default, works without importing SQLAlchemy (a cold-start budget).

Checked in a fresh interpreter: the test process itself has SQLAlchemy loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

# every repository and queue call, on a SQLite file; prints the SQLAlchemy modules loaded
SCRIPT = textwrap.dedent(
    """
    import json, sys
    from datetime import UTC, datetime, timedelta

    import tercel.store
    loaded_by_import = sorted(m for m in sys.modules if m.startswith("sqlalchemy"))

    from tercel.store import Database

    db = Database.open(sys.argv[1])
    db.create_schema()
    db.create_schema()
    assert db.schema_version() == 1

    header = {"id": "e1", "namespace": "n", "flowId": "f", "labels": {"env": "prod"},
              "state": {"current": "RUNNING"}, "startDate": "2024-05-01T12:00:00Z"}
    with db.transaction() as conn, db.lock_execution("e1", conn):
        version = db.executions.create(header, [{"id": "t1"}], conn=conn)
        db.queue.put("executor", b"start", key="e1", conn=conn)
    version = db.executions.save(
        {**header, "state": {"current": "SUCCESS"}}, [{"id": "t1", "x": 1}, {"id": "t2"}],
        expected_version=version,
    )
    stored, runs = db.executions.get("e1")
    assert stored["version"] == version == 2 and [r["id"] for r in runs] == ["t1", "t2"]
    t0 = datetime(2024, 5, 1, tzinfo=UTC)
    assert [h["id"] for h in db.executions.find(
        namespace="n", flow_id="f", state=["SUCCESS"], labels={"env": "prod"},
        start_after=t0, start_before=t0 + timedelta(days=1), limit=5, offset=0,
    )] == ["e1"]

    assert db.queue.put_many("worker", [b"a", b"b"], keys=["k", None]) == [2, 3]
    jobs = db.queue.claim("worker", "w1", limit=2, lease=30)
    assert db.queue.extend([j.id for j in jobs], 60) == 2
    assert db.queue.release(jobs[1].id, delay=5) is True
    assert db.queue.ack([jobs[0].id]) == 1
    assert db.queue.pending("worker") == 1 and db.queue.next_available_in("worker") > 0
    woken = []
    db.queue.add_listener(woken.append)
    db.queue.put("executor", b"more")
    db.queue.remove_listener(woken.append)
    assert woken == ["executor"]

    db.logs.append([{"execution_id": "e1", "task_run_id": "t1", "level": "WARN",
                     "timestamp": t0, "message": "hello"}])
    (line,) = db.logs.find("e1", task_run_id="t1", min_level="INFO", after_id=0, limit=10)
    assert line["message"] == "hello" and line["timestamp"] == t0
    assert db.logs.delete(execution_id="e1", before=t0 + timedelta(days=1)) == 1

    assert db.flows.save("n", "f", "id: f", lock={"a": "1"}, validated={"id": "f"}) == 1
    assert db.flows.save("n", "f", "id: f\\n", lock={}) == 2
    assert db.flows.get("n", "f").revision == 2 and db.flows.get("n", "f", 1).lock == {"a": "1"}
    assert [r.flow_id for r in db.flows.list(namespace="n", prefix="n")] == ["f"]
    assert db.flows.delete("n", "f") == 3 and len(db.flows.revisions("n", "f")) == 3
    assert db.executions.delete("e1") is True
    db.close()
    assert "sqlalchemy" not in sys.modules

    print(json.dumps({
        "by_import": loaded_by_import,
        "after_calls": sorted(m for m in sys.modules if m.startswith("sqlalchemy")),
    }))
    """
)


def test_sqlite_never_imports_sqlalchemy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cold' / 'tercel.db'}"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, url], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == {"by_import": [], "after_calls": []}
