"""Execution headers and task runs: incremental saves, optimistic concurrency, queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from tercel.store import VERSION_KEY, ConcurrentModification, Database, StoreError
from tercel.store._schema import task_runs

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def header(
    execution_id: str,
    *,
    namespace: str = "company.team",
    flow_id: str = "hello",
    state: str = "RUNNING",
    start: datetime = T0,
    end: datetime | None = None,
    labels: Any = None,
) -> dict[str, Any]:
    h: dict[str, Any] = {
        "id": execution_id,
        "namespace": namespace,
        "flowId": flow_id,
        "flowRevision": 1,
        "labels": labels if labels is not None else {},
        "inputs": {"name": "wörld"},
        "state": {
            "current": state,
            "histories": [{"state": "CREATED", "date": start.isoformat()}],
        },
        "startDate": start.isoformat().replace("+00:00", "Z"),
    }
    if end is not None:
        h["endDate"] = end.isoformat()
    return h


def run(run_id: str, state: str = "CREATED", **extra: Any) -> dict[str, Any]:
    return {"id": run_id, "taskId": run_id.split("-")[0], "state": {"current": state}, **extra}


def test_create_and_get_round_trip(db: Database) -> None:
    h = header("e1")
    runs = [run("a-1"), run("b-1", outputs={"x": [1, "two", None]})]
    assert db.executions.create(h, runs) == 1
    got = db.executions.get("e1")
    assert got is not None
    stored, stored_runs = got
    assert stored == {**h, VERSION_KEY: 1}
    assert stored_runs == runs
    assert db.executions.get("nope") is None


def test_save_bumps_version_and_conflicts_are_detected(db: Database) -> None:
    h = header("e1")
    v1 = db.executions.create(h, [run("a-1")])
    v2 = db.executions.save({**h, "outputs": {"k": 1}}, [], expected_version=v1)
    assert v2 == v1 + 1

    # a second executor still holding v1 loses, and writes nothing
    with pytest.raises(ConcurrentModification) as info:
        db.executions.save(
            {**h, "state": {"current": "FAILED"}},
            [run("a-1", "FAILED"), run("z-1")],
            expected_version=v1,
        )
    assert (info.value.expected, info.value.actual) == (v1, v2)
    stored, runs = db.executions.get("e1") or ({}, [])
    assert stored["state"]["current"] == "RUNNING"
    assert stored[VERSION_KEY] == v2
    assert runs == [run("a-1")]

    with pytest.raises(ConcurrentModification, match="no longer exists"):
        db.executions.save(header("ghost"), [], expected_version=1)


def test_save_rewrites_only_the_changed_task_runs(db: Database) -> None:
    """Rows not passed to save are not touched: a marker written behind the store's back
    survives, while the changed row is replaced."""
    h = header("e1")
    version = db.executions.create(h, [run(f"t{i}-1") for i in range(5)])
    with db.transaction() as conn:
        conn.execute(update(task_runs).values(document='{"id":"marker"}'))
    version = db.executions.save(h, [run("t2-1", "SUCCESS")], expected_version=version)
    _, runs = db.executions.get("e1") or ({}, [])
    assert runs[2] == run("t2-1", "SUCCESS")
    assert [r for i, r in enumerate(runs) if i != 2] == [{"id": "marker"}] * 4


def test_task_runs_keep_creation_order(db: Database) -> None:
    h = header("e1")
    v = db.executions.create(h, [run("b-1"), run("a-1")])
    # updates keep their place, new runs go last in the order given
    v = db.executions.save(h, [run("z-1"), run("a-1", "RUNNING"), run("c-1")], expected_version=v)
    v = db.executions.save(h, [run("b-1", "SUCCESS")], expected_version=v)
    v = db.executions.save(h, [run("0-1"), run("z-1", "SUCCESS")], expected_version=v)
    _, runs = db.executions.get("e1") or ({}, [])
    assert [(r["id"], r["state"]["current"]) for r in runs] == [
        ("b-1", "SUCCESS"),
        ("a-1", "RUNNING"),
        ("z-1", "SUCCESS"),
        ("c-1", "CREATED"),
        ("0-1", "CREATED"),
    ]
    with db.transaction() as conn:
        ordinals = (
            conn.execute(select(task_runs.c.ordinal).order_by(task_runs.c.ordinal)).scalars().all()
        )
    assert len(set(ordinals)) == 5


def test_task_run_without_id_is_refused(db: Database) -> None:
    with pytest.raises(StoreError, match="no string 'id'"):
        db.executions.create(header("e1"), [{"taskId": "x"}])
    with pytest.raises(StoreError, match="no 'flowId'"):
        db.executions.create({"id": "e2", "namespace": "n"})


def test_find_filters_and_paginates(db: Database) -> None:
    for i in range(7):
        db.executions.create(
            header(
                f"e{i}",
                namespace="company.team" if i < 5 else "other",
                flow_id="a" if i % 2 else "b",
                state="SUCCESS" if i < 3 else "FAILED",
                start=T0 + timedelta(minutes=i),
                end=T0 + timedelta(minutes=i, seconds=30),
                labels={"env": "prod" if i % 3 == 0 else "dev", "team": "data", "key.with.dot": i},
            )
        )

    def ids(headers: list[dict[str, Any]]) -> list[str]:
        return [h["id"] for h in headers]

    assert ids(db.executions.find()) == ["e6", "e5", "e4", "e3", "e2", "e1", "e0"]
    assert ids(db.executions.find(namespace="company.team", flow_id="a")) == ["e3", "e1"]
    assert ids(db.executions.find(state="SUCCESS")) == ["e2", "e1", "e0"]
    assert ids(db.executions.find(state=["FAILED"], namespace="other")) == ["e6", "e5"]
    assert ids(db.executions.find(labels={"env": "prod"})) == ["e6", "e3", "e0"]
    assert ids(db.executions.find(labels={"env": "prod", "team": "data"})) == ["e6", "e3", "e0"]
    assert ids(db.executions.find(labels={"env": "prod", "team": "ops"})) == []
    assert ids(db.executions.find(labels={"key.with.dot": 4})) == ["e4"]
    assert ids(
        db.executions.find(
            start_after=T0 + timedelta(minutes=2), start_before=T0 + timedelta(minutes=4)
        )
    ) == ["e3", "e2"]
    assert ids(db.executions.find(limit=3)) == ["e6", "e5", "e4"]
    assert ids(db.executions.find(limit=3, offset=3)) == ["e3", "e2", "e1"]
    assert ids(db.executions.find(limit=3, offset=6)) == ["e0"]
    assert db.executions.find()[0][VERSION_KEY] == 1
    # the count of every page together, with the same filters
    assert db.executions.count() == 7
    assert db.executions.count(namespace="company.team", flow_id="a") == 2
    assert db.executions.count(state=["FAILED"], namespace="other") == 2
    assert db.executions.count(labels={"env": "prod", "team": "data"}) == 3
    assert db.executions.count(start_after=T0 + timedelta(minutes=2), start_before=T0 + timedelta(minutes=4)) == 2


def test_find_accepts_kestra_list_labels(db: Database) -> None:
    db.executions.create(header("e1", labels=[{"key": "env", "value": "prod"}]))
    db.executions.create(header("e2", labels=[{"key": "env", "value": "dev"}]))
    assert [h["id"] for h in db.executions.find(labels={"env": "prod"})] == ["e1"]


def test_find_sees_saved_state_changes(db: Database) -> None:
    v = db.executions.create(header("e1", state="RUNNING"))
    assert db.executions.find(state="SUCCESS") == []
    db.executions.save(
        header("e1", state="SUCCESS", end=T0 + timedelta(hours=1)), [], expected_version=v
    )
    assert [h["id"] for h in db.executions.find(state="SUCCESS")] == ["e1"]


def test_header_without_dates_still_sorts(db: Database) -> None:
    db.executions.create({"id": "e1", "namespace": "n", "flowId": "f", "state": {}})
    assert [h["id"] for h in db.executions.find(namespace="n")] == ["e1"]


def test_delete_removes_task_runs_too(db: Database) -> None:
    db.executions.create(header("e1"), [run("a-1"), run("b-1")])
    db.executions.create(header("e2"), [run("a-1")])
    assert db.executions.delete("e1") is True
    assert db.executions.delete("e1") is False
    assert db.executions.get("e1") is None
    with db.transaction() as conn:
        left = conn.execute(select(task_runs.c.execution_id)).scalars().all()
    assert left == ["e2"]
