"""Shared fixtures: one engine for the whole suite, like one per process in production."""

from __future__ import annotations

import pytest
from tercel.expressions import ExpressionEngine


@pytest.fixture(scope="session")
def engine() -> ExpressionEngine:
    return ExpressionEngine()
