"""Settings from `TERCEL_*` variables: the folders and namespaces flows may reach."""

from __future__ import annotations

from pathlib import Path

import pytest
from tercel.settings import Settings


def test_namespace_access_rules(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TERCEL_NAMESPACE_ACCESS", "company.shared=*; company.finance=company.reports,ops")
    settings = Settings(home=tmp_path)
    assert settings.may_access("company.team", "company.team")
    assert settings.may_access("company.team", "company.team.sub")  # children
    assert not settings.may_access("company.team", "company")  # not its parent
    assert not settings.may_access("company.team", "company.teamx")  # not a look-alike
    assert settings.may_access("anyone", "company.shared.data")  # shared with all, children too
    assert settings.may_access("company.reports.q1", "company.finance")  # a reader's children too
    assert settings.may_access("ops", "company.finance.ledger")
    assert not settings.may_access("company.team", "company.finance")


def test_bad_rules_and_allowed_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TERCEL_NAMESPACE_ACCESS", "company.shared")
    with pytest.raises(ValueError, match=r"TERCEL_NAMESPACE_ACCESS: 'company\.shared' must be written target=namespace"):
        Settings(home=tmp_path)
    monkeypatch.delenv("TERCEL_NAMESPACE_ACCESS")
    monkeypatch.setenv("TERCEL_ALLOWED_PATHS", f"{tmp_path / 'a'}:{tmp_path / 'b'}:")
    assert Settings(home=tmp_path).allowed_paths == [tmp_path / "a", tmp_path / "b"]
