"""The SQLite backend: URLs, in-memory databases, thread connections, SQLAlchemy on demand."""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select, text
from tercel.store import Database, StoreError
from tercel.store._connection import SQLiteConnection
from tercel.store._schema import queue_jobs
from tercel.store._sqlite import SQLiteBackend, SQLiteURL


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:///:memory:"])
def test_memory_urls(url: str) -> None:
    parsed = SQLiteURL.parse(url)
    assert (parsed.database, parsed.uri, parsed.shared) == (":memory:", False, True)


def test_file_urls_are_absolute_and_expand_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert SQLiteURL.parse("sqlite:///rel/x.db").database == str(tmp_path / "rel" / "x.db")
    assert SQLiteURL.parse("sqlite:////abs/x.db").database == "/abs/x.db"
    assert SQLiteURL.parse("sqlite:///~/t/x.db").database == str(tmp_path / "home" / "t" / "x.db")
    assert SQLiteURL.parse("sqlite:///a%20b.db").database == str(tmp_path / "a b.db")


def test_uri_urls_pass_their_parameters_to_sqlite() -> None:
    parsed = SQLiteURL.parse("sqlite:///file:mem1?mode=memory&cache=shared&uri=true")
    assert (parsed.database, parsed.uri, parsed.shared) == (
        "file:mem1?cache=shared&mode=memory",
        True,
        True,
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite+pysqlite:///x.db", "unsupported SQLite driver"),
        ("sqlite://user@host/x.db", "no user, host or port"),
        ("sqlite:///x.db?timeout=3", "unsupported parameters timeout"),
    ],
)
def test_bad_sqlite_urls_say_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        SQLiteURL.parse(url)


def test_open_creates_the_parent_folders_of_home_relative_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with Database.open("sqlite:///~/.tercel/tercel.db") as db:
        db.create_schema()
    assert (tmp_path / ".tercel" / "tercel.db").is_file()


def test_in_memory_database_is_one_shared_database() -> None:
    with Database.open("sqlite://") as db:
        db.create_schema()
        db.queue.put("t", b"x")
        assert db.queue.pending("t") == 1
        # SQLAlchemy's engine, on demand, sees the same in-memory database
        with db.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(queue_jobs)).scalar() == 1


def test_transaction_yields_the_store_connection_wrapper(db: Database) -> None:
    with db.transaction() as conn:
        if db.dialect == "sqlite":
            assert isinstance(conn, SQLiteConnection)
        else:
            assert isinstance(conn, Connection)


def test_core_statements_on_the_yielded_connection_share_its_transaction(db: Database) -> None:
    """``conn.execute`` (SQLAlchemy, loaded on demand on SQLite) commits and rolls back
    with the repositories' writes."""
    now = datetime.now(UTC)
    insert = queue_jobs.insert().values(
        topic="core", payload=b"x", available_at=now, visible_at=now
    )
    with pytest.raises(RuntimeError), db.transaction() as conn:
        conn.execute(insert)
        db.queue.put("t", b"x", conn=conn)
        raise RuntimeError("boom")
    assert (db.queue.pending("core"), db.queue.pending("t")) == (0, 0)
    with db.transaction() as conn:
        db.queue.put("t", b"x", conn=conn)
        conn.execute(insert)
        assert conn.execute(text("SELECT count(*) FROM queue_jobs")).scalar() == 2
    assert (db.queue.pending("core"), db.queue.pending("t")) == (1, 1)
    with db.transaction() as conn:  # the connection is in a clean state afterwards
        db.queue.put("t", b"y", conn=conn)
    assert db.queue.pending("t") == 2


def test_connections_of_ended_threads_are_reused(tmp_path: Path) -> None:
    with Database.open(f"sqlite:///{tmp_path / 't.db'}") as db:
        db.create_schema()
        backend = db._backend
        assert isinstance(backend, SQLiteBackend)
        seen: list[int] = []

        def work() -> None:
            with db.transaction() as conn:
                assert isinstance(conn, SQLiteConnection)
                seen.append(id(conn.raw))
                db.queue.put("t", b"x", conn=conn)

        for _ in range(3):
            thread = threading.Thread(target=work)
            thread.start()
            thread.join()
        assert db.queue.pending("t") == 3
        assert len(set(seen)) == 1  # one sqlite3 connection, handed from thread to thread
        assert len(backend._idle) == 1


def test_a_broken_connection_is_replaced(tmp_path: Path) -> None:
    with Database.open(f"sqlite:///{tmp_path / 't.db'}") as db:
        db.create_schema()
        with pytest.raises(StoreError, match="database error"), db.transaction() as conn:
            assert isinstance(conn, SQLiteConnection)
            conn.raw.close()  # e.g. the file went away under it
            db.queue.put("t", b"x", conn=conn)
        db.queue.put("t", b"x")
        assert db.queue.pending("t") == 1


def test_echo_logs_statements(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level(logging.INFO, logger="tercel.store.sql"),
        Database.open(f"sqlite:///{tmp_path / 't.db'}", echo=True) as db,
    ):
        db.create_schema()
    assert any("CREATE TABLE IF NOT EXISTS queue_jobs" in r.getMessage() for r in caplog.records)


def test_closed_database_closes_its_files(tmp_path: Path) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 't.db'}")
    db.create_schema()

    def work() -> None:
        db.queue.put("t", b"x")

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    db.close()
    if os.path.isdir("/proc/self/fd"):
        open_files = {os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")}
        assert not any(f.startswith(str(tmp_path)) for f in open_files)
