"""An app over a real runtime in a temporary home, and an authenticated client for it."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from tercel_server import ServerConfig, create_app

USER, PASSWORD = "tester", "secret-pass"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}


@pytest.fixture
def config(tmp_path: Path) -> ServerConfig:
    return ServerConfig.load(home=tmp_path / "home", basic_auth_username=USER, basic_auth_password=PASSWORD)


@pytest.fixture
async def client(config: ServerConfig) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(create_app(config)) as c:
        c.headers.update(AUTH)
        yield c
