"""End-to-end tests drive the real `tercel` CLI in subprocesses, each with its own TERCEL_HOME."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_support import Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    work = tmp_path / "work"
    work.mkdir()
    return Cli(tmp_path / "home", work)
