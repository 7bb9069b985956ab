"""The store's trigger state (`db.triggers`) on a real SQLite file and the real PostgreSQL server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tercel.scheduler import Backfill, TriggerState, from_record, to_record
from tercel.store import Database, StoreError
from tercel.store._triggers import TriggerRecord

WHEN = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'tercel.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_test_url")
    database = Database.open(url)
    database.create_schema()
    yield database
    database.close()


def record(trigger_id: str = "schedule", **changes: object) -> TriggerRecord:
    base: dict[str, object] = {
        "namespace": "company.team", "flow_id": "daily", "trigger_id": trigger_id,
        "type": "io.kestra.plugin.core.trigger.Schedule",
    }
    return TriggerRecord(**{**base, **changes})  # type: ignore[arg-type]


def test_a_state_round_trips_with_its_dates_backfill_and_context(db: Database) -> None:
    state = TriggerState(
        "company.team", "daily", "schedule", "io.kestra.plugin.core.trigger.Schedule",
        date=WHEN, next_date=WHEN + timedelta(days=1), disabled=True,
        backfill=Backfill(current=WHEN - timedelta(days=3), end=WHEN, inputs={"n": 1}, labels={"why": "outage"}, start=WHEN - timedelta(days=4)),
        definition="abc", backfill_key="def", memory={"seen": {"a.csv": "3:ff"}},
    )
    saved = db.triggers.save(to_record(state))
    assert saved.updated is not None
    loaded = db.triggers.get("company.team", "daily", "schedule")
    assert loaded is not None
    back = from_record(loaded)
    assert back == state  # `updated` is not compared
    assert back.date == WHEN and back.date.tzinfo is not None
    assert back.backfill is not None and back.backfill.labels == {"why": "outage"}
    assert db.triggers.get("company.team", "daily", "other") is None


def test_save_replaces_the_row(db: Database) -> None:
    db.triggers.save(record(next_date=WHEN))
    db.triggers.save(record(next_date=WHEN + timedelta(minutes=5), execution_id="ex-1"))
    rows = db.triggers.list()
    assert len(rows) == 1
    assert rows[0].next_date == WHEN + timedelta(minutes=5) and rows[0].execution_id == "ex-1"


def test_the_running_execution_state_comes_with_the_row(db: Database) -> None:
    db.executions.create(
        {"id": "ex-1", "namespace": "company.team", "flowId": "daily", "state": {"current": "RUNNING"},
         "startDate": "2030-01-07T08:00:00Z"},
        [],
    )
    db.triggers.save(record(execution_id="ex-1"))
    db.triggers.save(record("gone", execution_id="ex-deleted"))
    db.triggers.save(record("free"))
    by_id = {r.trigger_id: r for r in db.triggers.list("company.team", "daily")}
    assert by_id["schedule"].execution_state == "RUNNING"
    assert by_id["gone"].execution_state is None and by_id["gone"].execution_id == "ex-deleted"
    assert by_id["free"].execution_state is None
    with db.transaction() as conn:
        header = {"id": "ex-1", "namespace": "company.team", "flowId": "daily", "state": {"current": "SUCCESS"}}
        db.executions.save(header, [], expected_version=1, conn=conn)
    refreshed = db.triggers.get("company.team", "daily", "schedule")
    assert refreshed is not None and refreshed.execution_state == "SUCCESS"


def test_list_filters_and_order_and_delete(db: Database) -> None:
    db.triggers.save(record("b"))
    db.triggers.save(record("a"))
    db.triggers.save(record("a", flow_id="hourly"))
    db.triggers.save(record("z", namespace="other"))
    keys = [(r.namespace, r.flow_id, r.trigger_id) for r in db.triggers.list()]
    assert keys == [
        ("company.team", "daily", "a"), ("company.team", "daily", "b"),
        ("company.team", "hourly", "a"), ("other", "daily", "z"),
    ]
    assert [r.trigger_id for r in db.triggers.list("company.team", "daily")] == ["a", "b"]
    assert len(db.triggers.list("company.team")) == 3
    with pytest.raises(StoreError, match="needs its namespace"):
        db.triggers.list(flow_id="daily")
    assert db.triggers.delete("company.team", "daily", "a") is True
    assert db.triggers.delete("company.team", "daily", "a") is False
    assert db.triggers.delete_flow("company.team", "hourly") == 1
    assert [r.trigger_id for r in db.triggers.list()] == ["b", "z"]


def test_bad_records_are_refused(db: Database) -> None:
    with pytest.raises(StoreError, match="naive datetime"):
        db.triggers.save(record(next_date=datetime(2030, 1, 1)))
    with pytest.raises(StoreError, match="trigger_id"):
        db.triggers.save(record(""))


def test_the_table_is_created_on_an_existing_database(tmp_path: Path) -> None:
    """A database created before the table existed gets it from `create_schema`."""
    import sqlite3

    path = tmp_path / "old.db"
    with Database.open(f"sqlite:///{path}") as db:
        db.create_schema()
    raw = sqlite3.connect(path)
    raw.execute("DROP TABLE triggers")
    raw.commit()
    raw.close()
    with Database.open(f"sqlite:///{path}") as db:
        db.create_schema()
        db.triggers.save(record())
        assert len(db.triggers.list()) == 1


def test_the_trigger_lock_serializes_writers(db: Database) -> None:
    """Two transactions on one trigger take turns: the second reads what the first wrote."""
    db.triggers.save(record(next_date=WHEN))
    order: list[str] = []
    first_has_lock = threading.Event()

    def first() -> None:
        with db.transaction() as conn:
            db.triggers.lock(conn, "company.team", "daily", "schedule")
            first_has_lock.set()
            time.sleep(0.3)
            current = db.triggers.get("company.team", "daily", "schedule", conn=conn)
            assert current is not None
            db.triggers.save(record(next_date=current.next_date + timedelta(minutes=10), date=current.next_date), conn=conn)
            order.append("first")

    thread = threading.Thread(target=first)
    thread.start()
    assert first_has_lock.wait(5)
    with db.transaction() as conn:
        db.triggers.lock(conn, "company.team", "daily", "schedule")
        current = db.triggers.get("company.team", "daily", "schedule", conn=conn)
        order.append("second")
    thread.join()
    assert order == ["first", "second"]
    assert current is not None and current.date == WHEN  # it saw the first one's date: would not fire it again
