"""Fixtures shared by the core's suites: a throw-away schema on the real PostgreSQL server.

PostgreSQL is part of this project's test environment (the machine and CI run it on
127.0.0.1:5432), so an unreachable server is an error that says how to start it, never a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from sqlalchemy import make_url

PG_URL = os.environ.get("TERCEL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def with_search_path(url: str, schema: str) -> str:
    """The URL with every connection's ``search_path`` set to ``schema``."""
    return make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


@contextmanager
def _fresh_schema() -> Iterator[str]:
    """A URL into a new schema of the test server, dropped afterwards."""
    libpq = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        admin = psycopg.connect(libpq, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {make_url(PG_URL)!s} ({exc}). Start it with "
            "'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start', "
            "or point TERCEL_TEST_PG_URL at a server.",
            pytrace=False,
        )
    schema = f"tercel_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield with_search_path(PG_URL, schema)
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """One schema for the session (the store suite empties its tables before each test)."""
    with _fresh_schema() as url:
        yield url


@pytest.fixture(scope="module")
def pg_module_url() -> Iterator[str]:
    """A schema of its own for one test module (runtimes recover what they find at start)."""
    with _fresh_schema() as url:
        yield url
