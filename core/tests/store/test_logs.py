"""Task logs: batched appends, filters, tailing and retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tercel.store import Database, LogLevel, StoreError

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def entry(i: int, level: str = "INFO", **extra: Any) -> dict[str, Any]:
    return {
        "execution_id": "e1",
        "task_run_id": f"tr{i % 2}",
        "task_id": "log",
        "attempt": 1,
        "level": level,
        "timestamp": T0 + timedelta(seconds=i),
        "message": f"line {i} ✓",
        **extra,
    }


def test_append_and_find_in_insertion_order(db: Database) -> None:
    levels = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
    db.logs.append([entry(i, levels[i % 5], thread="main" if i == 0 else None) for i in range(10)])
    db.logs.append([entry(10, "info", logger="plugin.x")])  # case doesn't matter
    found = db.logs.find("e1")
    assert [f["message"] for f in found] == [f"line {i} ✓" for i in range(11)]
    assert [f["id"] for f in found] == sorted(f["id"] for f in found)
    first = found[0]
    assert first["level"] == "TRACE" and first["thread"] == "main" and first["logger"] is None
    assert first["timestamp"] == T0 and first["timestamp"].tzinfo is not None
    assert (first["execution_id"], first["task_run_id"], first["task_id"], first["attempt"]) == (
        "e1",
        "tr0",
        "log",
        1,
    )
    assert found[10]["level"] == "INFO" and found[10]["logger"] == "plugin.x"
    assert db.logs.find("other") == []


def test_find_filters(db: Database) -> None:
    levels = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
    db.logs.append([entry(i, levels[i % 5]) for i in range(10)])
    db.logs.append([{**entry(99), "execution_id": "e2"}])

    def messages(rows: list[dict[str, Any]]) -> list[str]:
        return [r["message"].split()[1] for r in rows]

    assert messages(db.logs.find("e1", min_level="WARN")) == ["3", "4", "8", "9"]
    assert messages(db.logs.find("e1", min_level=LogLevel.ERROR)) == ["4", "9"]
    assert messages(db.logs.find("e1", min_level="warning")) == ["3", "4", "8", "9"]
    assert messages(db.logs.find("e1", task_run_id="tr1")) == ["1", "3", "5", "7", "9"]
    assert messages(db.logs.find("e1", task_run_id="tr1", min_level="INFO")) == ["3", "7", "9"]
    assert messages(db.logs.find("e1", limit=3)) == ["0", "1", "2"]
    # tailing: everything after the last id seen
    seen = db.logs.find("e1", limit=4)
    assert messages(db.logs.find("e1", after_id=seen[-1]["id"], limit=2)) == ["4", "5"]


def test_a_batch_is_all_or_nothing(db: Database) -> None:
    bad = {k: v for k, v in entry(5).items() if k != "message"}
    with pytest.raises(StoreError, match="no 'message'"):
        db.logs.append([entry(1), bad])
    with pytest.raises(StoreError, match="unknown log level 'LOUD'"):
        db.logs.append([entry(1), entry(2, "LOUD")])
    with pytest.raises(StoreError, match="naive"):
        db.logs.append([entry(1), {**entry(2), "timestamp": datetime(2024, 1, 1)}])
    assert db.logs.find("e1") == []
    db.logs.append([])  # nothing to do


def test_delete_by_execution_and_age(db: Database) -> None:
    db.logs.append([entry(i) for i in range(10)])
    db.logs.append([{**entry(i), "execution_id": "e2"} for i in range(3)])
    assert db.logs.delete(before=T0 + timedelta(seconds=5)) == 5 + 3
    assert db.logs.find("e1")[0]["message"] == "line 5 ✓"
    assert db.logs.delete(execution_id="e1") == 5
    assert db.logs.find("e1") == []
    with pytest.raises(StoreError, match="needs execution_id or before"):
        db.logs.delete()
