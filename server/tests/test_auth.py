"""Credentials: every endpoint but health needs them; basic auth and API tokens."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from tercel_server import Credentials, ServerConfig, _auth, create_app


async def test_everything_but_health_needs_credentials(config: ServerConfig) -> None:
    async with AsyncTestClient(create_app(config)) as c:
        assert (await c.get("/api/v1/health")).status_code == 200
        for method, path in (("GET", "/api/v1/flows/search"), ("GET", "/api/v1/executions/x"), ("POST", "/api/v1/flows")):
            answer = await c.request(method, path)
            assert answer.status_code == 401, path
            assert "Basic" in answer.headers["www-authenticate"]
        wrong = base64.b64encode(b"tester:wrong").decode()
        assert (await c.get("/api/v1/flows/search", headers={"Authorization": f"Basic {wrong}"})).status_code == 401
        assert (await c.get("/api/v1/flows/search", headers={"Authorization": "Basic !!!"})).status_code == 401
        assert (await c.get("/api/v1/flows/search", headers={"Authorization": "Bearer nope"})).status_code == 401


async def test_api_tokens_work_until_revoked(config: ServerConfig) -> None:
    credentials = Credentials(config.home / "server" / "credentials.json")
    app = create_app(config)
    token = credentials.create_token("ci")
    async with AsyncTestClient(create_app(config)) as c:
        ok = await c.get("/api/v1/flows/search", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200
    assert credentials.revoke_token("ci")
    async with AsyncTestClient(create_app(config)) as c:
        assert (await c.get("/api/v1/flows/search", headers={"Authorization": f"Bearer {token}"})).status_code == 401
    assert app is not None


def test_credentials_are_generated_once_and_stored_hashed(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    first = Credentials(path)
    password = first.ensure_account(None, None)
    assert password is not None
    assert password not in path.read_text()
    assert Credentials(path).ensure_account(None, None) is None  # already there: nothing generated
    assert Credentials(path).check_password("admin", password)
    assert not Credentials(path).check_password("admin", password + "x")
    preset = Credentials(path)
    assert preset.ensure_account("ops", "pw") is None
    assert Credentials(path).check_password("ops", "pw")
    assert (path.stat().st_mode & 0o777) == 0o600


async def test_oversized_bodies_get_413(tmp_path: Path) -> None:
    config = ServerConfig.load(home=tmp_path / "home", basic_auth_username="u", basic_auth_password="p", max_body_size="1KB")
    async with AsyncTestClient(create_app(config)) as c:
        auth = {"Authorization": "Basic " + base64.b64encode(b"u:p").decode(), "content-type": "application/x-yaml"}
        answer = await c.post("/api/v1/flows", content=b"x" * 4096, headers=auth)
        assert answer.status_code == 413


def test_a_verified_password_is_remembered_until_the_account_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[str] = []
    real = _auth._scrypt
    monkeypatch.setattr(_auth, "_scrypt", lambda password, salt: hashed.append(password) or real(password, salt))
    credentials = Credentials(tmp_path / "credentials.json")
    credentials.set_account("ops", "first-pass")
    hashed.clear()
    for _ in range(20):
        assert credentials.check_password("ops", "first-pass")
    assert hashed == ["first-pass"]  # scrypt once, then remembered
    assert not credentials.check_password("ops", "wrong")
    assert not credentials.check_password("ops", "wrong")
    assert hashed.count("wrong") == 2  # failures are never remembered
    assert not credentials.check_password("eve", "first-pass")
    assert "first-pass" not in (tmp_path / "credentials.json").read_text()
    credentials.set_account("ops", "second-pass")  # a changed account forgets what was verified
    assert not credentials.check_password("ops", "first-pass")
    assert credentials.check_password("ops", "second-pass")
