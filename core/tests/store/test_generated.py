"""The SQL compiled ahead of time for SQLite is exactly what its Core definitions compile to."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from pathlib import Path

import pytest
from tercel.store import _generate, _sqlite_sql, _statements
from tercel.store._sql import variant


def test_generated_module_is_up_to_date() -> None:
    """Fails after a change to `_statements` or `_schema` until the module is regenerated."""
    fresh = _generate.render()
    assert _generate.MODULE.read_text(encoding="utf-8") == fresh, (
        "tercel/store/_sqlite_sql.py is out of date: run python -m tercel.store._generate"
    )


def test_check_mode_reports_a_stale_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "_sqlite_sql.py"
    stale.write_text("STATEMENTS = {}\n", encoding="utf-8")
    monkeypatch.setattr(_generate, "MODULE", stale)
    assert _generate.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert _generate.main([]) == 0  # regenerates
    assert _generate.main(["--check"]) == 0
    assert stale.read_text(encoding="utf-8") == _generate.render()


def test_every_statement_is_generated_once() -> None:
    assert list(_sqlite_sql.STATEMENTS) == _statements.names("sqlite")
    assert len(set(_sqlite_sql.STATEMENTS)) == len(_sqlite_sql.STATEMENTS)


def test_every_variant_a_repository_can_ask_for_exists() -> None:
    """Repositories name a variant by the filters they got; all subsets are there."""
    for query, (_, filters) in _statements.DYNAMIC.items():
        for mask in range(1, 2 ** len(filters)):
            chosen = [f for i, f in enumerate(filters) if mask >> i & 1]
            assert variant(query, chosen) in _sqlite_sql.STATEMENTS, (query, chosen)
    assert variant("logs.delete", []) not in _sqlite_sql.STATEMENTS  # never delete every log


def test_generated_sql_prepares_against_the_generated_schema() -> None:
    """Every statement names tables and columns that exist (SQLite checks on prepare)."""
    raw = sqlite3.connect(":memory:")
    try:
        for ddl in _sqlite_sql.SCHEMA:
            raw.execute(ddl)
        for name, (sql, _) in _sqlite_sql.STATEMENTS.items():
            try:
                raw.execute(f"EXPLAIN {sql}", defaultdict(lambda: None))
            except sqlite3.Error as e:  # pragma: no cover - the assertion reports it
                pytest.fail(f"{name}: {e}\n{sql}")
    finally:
        raw.close()


def test_unknown_statement_names_are_refused() -> None:
    with pytest.raises(KeyError):
        _statements.build("logs.find[colour]", "sqlite")
    with pytest.raises(KeyError):
        _statements.build("logs.find[task_run_id,after_id]", "sqlite")  # not in sorted order
    with pytest.raises(ValueError, match="unknown dialect"):
        _statements.build("queue.put", "mysql")
