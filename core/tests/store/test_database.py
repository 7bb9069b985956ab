"""Opening, schema versions, transactions and error mapping, on both backends."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from tercel.errors import TercelError
from tercel.store import (
    SCHEMA_VERSION,
    ConcurrentModification,
    Database,
    SchemaVersionError,
    StoreError,
    lock_execution,
)
from tercel.store._schema import schema_version


def test_errors_are_tercel_errors() -> None:
    assert issubclass(StoreError, TercelError)
    assert issubclass(ConcurrentModification, StoreError)
    assert issubclass(SchemaVersionError, StoreError)


def test_sqlite_open_creates_parent_dir_and_sets_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "tercel.db"
    with Database.open(f"sqlite:///{path}") as db:
        assert db.dialect == "sqlite"
        assert path.parent.is_dir()
        with db.transaction() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0


@pytest.mark.parametrize("url", ["mysql://x@localhost/db", "sqlite+aiosqlite:///x.db", "not a url"])
def test_unsupported_urls_are_refused_clearly(url: str) -> None:
    with pytest.raises(StoreError, match=r"URL|driver"):
        Database.open(url)


def test_create_schema_is_idempotent_and_records_version(db: Database) -> None:
    db.create_schema()
    db.create_schema()
    assert db.schema_version() == SCHEMA_VERSION
    with db.transaction() as conn:
        assert conn.execute(select(schema_version.c.version)).scalars().all() == [SCHEMA_VERSION]


def test_newer_schema_version_is_refused(db: Database, db_url: str) -> None:
    with db.transaction() as conn:
        conn.execute(schema_version.update().values(version=SCHEMA_VERSION + 1))
    try:
        with pytest.raises(SchemaVersionError, match=f"schema version {SCHEMA_VERSION + 1}"):
            Database.open(db_url)
        with pytest.raises(SchemaVersionError, match="upgrade tercel"):
            db.create_schema()
    finally:
        with db.transaction() as conn:
            conn.execute(schema_version.update().values(version=SCHEMA_VERSION))


def test_dialect(db: Database) -> None:
    assert db.dialect in ("sqlite", "postgresql")
    assert db.dialect == db.engine.dialect.name


def test_transaction_groups_writes_and_rolls_back_on_error(db: Database) -> None:
    header = {"id": "e1", "namespace": "n", "flowId": "f", "state": {"current": "CREATED"}}
    with pytest.raises(RuntimeError), db.transaction() as conn:
        db.executions.create(header, [{"id": "t1"}], conn=conn)
        db.queue.put("executor", b"x", conn=conn)
        raise RuntimeError("boom")
    assert db.executions.get("e1") is None
    assert db.queue.pending("executor") == 0

    with db.transaction() as conn:
        db.executions.create(header, [{"id": "t1"}], conn=conn)
        db.queue.put("executor", b"x", conn=conn)
    assert db.executions.get("e1") is not None
    assert db.queue.pending("executor") == 1


def test_core_statements_join_the_transaction(db: Database) -> None:
    """A Core statement on the yielded connection is part of the same transaction."""
    with pytest.raises(RuntimeError), db.transaction() as conn:
        db.flows.save("n", "f", "id: f", lock={}, conn=conn)  # Core path
        db.queue.put("t", b"x", conn=conn)  # driver path
        raise RuntimeError("boom")
    assert db.flows.get("n", "f") is None
    assert db.queue.pending("t") == 0
    with db.transaction() as conn:
        db.queue.put("t", b"x", conn=conn)
        db.flows.save("n", "f", "id: f", lock={}, conn=conn)
    assert db.flows.get("n", "f") is not None
    assert db.queue.pending("t") == 1


def test_database_errors_become_store_errors(db: Database) -> None:
    with pytest.raises(StoreError, match="database error") as info, db.transaction() as conn:
        conn.execute(text("SELECT * FROM no_such_table"))
    assert info.value.__cause__ is not None
    # the connection is usable afterwards
    assert db.queue.pending("t") == 0


def test_duplicate_execution_is_a_store_error(db: Database) -> None:
    header = {"id": "dup", "namespace": "n", "flowId": "f", "state": {"current": "CREATED"}}
    db.executions.create(header)
    with pytest.raises(StoreError, match="'dup' already exists"):
        db.executions.create(header)


def test_second_transaction_in_same_thread_is_refused_on_sqlite(tmp_path: Path) -> None:
    with Database.open(f"sqlite:///{tmp_path / 't.db'}") as db:
        db.create_schema()
        with db.transaction(), pytest.raises(StoreError, match="pass its connection"):  # noqa: SIM117
            with db.transaction():
                pass
        with db.transaction():  # and the thread's connection is fine afterwards
            pass


def test_threads_write_concurrently_on_sqlite(tmp_path: Path) -> None:
    """Each thread has its own connection; BEGIN IMMEDIATE + busy_timeout serialize them."""
    with Database.open(f"sqlite:///{tmp_path / 't.db'}") as db:
        db.create_schema()
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                for i in range(50):
                    db.queue.put(f"t{n}", str(i).encode())
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert [db.queue.pending(f"t{n}") for n in range(4)] == [50] * 4


def test_timestamps_come_back_tz_aware_utc(db: Database) -> None:
    db.flows.save("n", "f", "id: f", lock={})
    record = db.flows.get("n", "f")
    assert record is not None
    assert record.created.tzinfo is not None
    assert record.created.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - record.created) < timedelta(minutes=1)


def test_lock_execution_is_usable_on_both(db: Database) -> None:
    with db.transaction() as conn, lock_execution("e1", conn), db.lock_execution("e2", conn):
        db.queue.put("t", b"x", conn=conn)
    assert db.queue.pending("t") == 1


def test_after_commit_needs_a_store_transaction(db: Database) -> None:
    with db.engine.connect() as conn, pytest.raises(StoreError, match=r"Database\.transaction"):
        db.queue.put("t", b"x", conn=conn)
    assert db.queue.pending("t") == 0  # refused before anything was written
