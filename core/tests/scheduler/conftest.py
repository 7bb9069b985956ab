"""Fixtures of the scheduler suite: a clock tests drive, the trigger and condition types
registered, and settings on both backends (a real SQLite file, the real PostgreSQL server)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url
from tercel.plugins import PluginManager
from tercel.runtime import Runtime
from tercel.settings import Settings

PG_URL = os.environ.get("TERCEL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


PLUGINS = PluginManager().discover()


class Clock:
    """A `now()` the test moves."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, when: datetime) -> datetime:
        self.now = when
        return when


@pytest.fixture
def plugins() -> PluginManager:
    """The installed plugins, the scheduler's types among them."""
    return PLUGINS


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2030, 1, 7, 8, 0, 0, tzinfo=UTC))  # a Monday


@pytest.fixture
def pg_test_url() -> Iterator[str]:
    """A schema of its own for one test: a scheduler reads every flow of its database."""
    libpq = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        admin = psycopg.connect(libpq, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        pytest.fail(f"PostgreSQL is not reachable at {make_url(PG_URL)!s} ({exc})", pytrace=False)
    schema = f"tercel_sched_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
                hide_password=False
            )
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    url = None if request.param == "sqlite" else request.getfixturevalue("pg_test_url")
    return Settings(home=tmp_path / "home", database_url=url)


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    async with Runtime(settings, plugins=PLUGINS) as rt:
        yield rt
