"""The registry on PostgreSQL (a schema of its own on the test server, dropped afterwards): the
same publish / list / download path as on SQLite, with twine and uv, plus concurrent uploads
to one project (the project row is locked while its latest version is recomputed), and nightly
results (one result posted at once from several clients is recorded once)."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest
from registry_support import RegistryServer, plugin_wheel, twine, upload, uv
from sqlalchemy import make_url

pytestmark = pytest.mark.postgres

PG_URL = os.environ.get("TERCEL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NAME = "tercel-plugin-pg"


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    libpq = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        admin = psycopg.connect(libpq, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        pytest.fail(f"PostgreSQL is not reachable at {make_url(PG_URL)!s} ({exc}); point TERCEL_TEST_PG_URL at a server", pytrace=False)
    schema = f"tercel_registry_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> Iterator[RegistryServer]:
    registry = RegistryServer(tmp_path_factory.mktemp("pg") / "registry", {"TERCEL_REGISTRY_DATABASE_URL": pg_url})
    yield registry
    assert registry.stop() == 0, registry.text()


def test_publish_list_download_on_postgresql(server: RegistryServer, pg_url: str, tmp_path: Path) -> None:
    assert not (server.home / "registry.db").exists()  # the database is PostgreSQL, not the default file
    token = server.token("ci", "tercel-plugin-pg*")
    wheel = plugin_wheel(tmp_path / "dist", NAME, "1.0.0", summary="Stored in PostgreSQL.", keywords=["database"])
    done = twine(tmp_path / "twine", server.url, token, wheel)
    assert done.returncode == 0, done.stdout + done.stderr
    again = twine(tmp_path / "twine", server.url, token, wheel)
    assert again.returncode == 1 and "409 Conflict" in again.stdout + again.stderr

    page = httpx.get(f"{server.url}/simple/{NAME}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}).json()
    assert page["versions"] == ["1.0.0"] and page["files"][0]["filename"] == wheel.name
    installed = uv(tmp_path / "uv", "pip", "install", "--python", sys.executable, "--index-url", f"{server.url}/simple/",
                   "--target", tmp_path / "target", "--no-deps", f"{NAME}==1.0.0")
    assert installed.returncode == 0, installed.stderr
    found = httpx.get(f"{server.url}/api/v1/plugins", params={"q": "postgresql"}).json()
    assert [r["name"] for r in found["results"]] == [NAME]
    by_type = httpx.get(f"{server.url}/api/v1/plugins", params={"type": "io.tercel.pg.Fetch"}).json()  # the types indexed
    assert [r["name"] for r in by_type["results"]] == [NAME]
    assert [p["name"] for p in httpx.get(f"{server.url}/api/v1/types/io.tercel.pg.Notify").json()["plugins"]] == [NAME]
    assert httpx.get(f"{server.url}/api/v1/plugins/{NAME}").json()["downloads"] == 1

    with psycopg.connect(make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
    assert {"registry_projects", "registry_releases", "registry_files", "registry_tokens"} <= tables


def test_concurrent_uploads_to_one_project(server: RegistryServer, tmp_path: Path) -> None:
    token = server.token("burst", "*")
    wheels = [plugin_wheel(tmp_path / "dist", "tercel-plugin-pg-burst", f"1.{n}.0") for n in range(8)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda w: upload(server.url, w, token), wheels))
    assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
    plugin = httpx.get(f"{server.url}/api/v1/plugins/tercel-plugin-pg-burst").json()
    assert plugin["latestVersion"] == "1.7.0" and len(plugin["versions"]) == 8
    with ThreadPoolExecutor(4) as pool:
        same = list(pool.map(lambda _: upload(server.url, wheels[0], token).status_code, range(4)))
    assert same == [409] * 4


def test_nightly_results_on_postgresql(server: RegistryServer, tmp_path: Path) -> None:
    """Results recorded once even when posted at once (the release row is locked), the previous
    night found by its correlated lookup, the catalog's summary rewritten with each result."""
    name = "tercel-plugin-pg-nightly"
    assert upload(server.url, plugin_wheel(tmp_path / "dist", name, "1.0.0"), server.token("pg-ci", name)).status_code == 200
    auth = {"Authorization": f"Bearer {server.token('pg-nightly', 'nightly')}"}
    env = {"python": "3.11.7", "sdk": "0.1.0", "core": "0.1.0"}
    counts = {"passed": 1, "failed": 0, "errors": 0, "skipped": 0}
    for night, status in (("2024-05-01", "passed"), ("2024-05-02", "failed")):
        run = httpx.put(f"{server.url}/api/v1/nightly/runs/{night}", headers=auth,
                        json={"startedAt": f"{night}T02:00:00Z", "environment": env})
        assert run.status_code == 201, run.text
        body = {"plugin": name, "version": "1.0.0", "environment": env, "status": status, "counts": counts, "duration": 1.5,
                "tests": [{"name": "test_it", "outcome": status}], "startedAt": f"{night}T02:00:00Z", "finishedAt": f"{night}T02:00:02Z"}
        url = f"{server.url}/api/v1/nightly/runs/{night}/results"
        with ThreadPoolExecutor(4) as pool:
            codes = sorted(pool.map(lambda b: httpx.post(url, headers=auth, json=b).status_code, [body] * 4))  # noqa: B023
        assert codes == [201, 409, 409, 409]
    broken = httpx.get(f"{server.url}/api/v1/nightly/runs/2024-05-02").json()["broken"]
    assert [(b["plugin"], b["status"], b["previous"]) for b in broken] == [(name, "failed", {"night": "2024-05-01", "status": "passed"})]
    [version] = httpx.get(f"{server.url}/api/v1/plugins/{name}").json()["versions"]
    assert (version["nightly"]["status"], version["nightly"]["night"]) == ("failed", "2024-05-02")
    history = httpx.get(f"{server.url}/api/v1/plugins/{name}/nightly").json()
    assert [n["night"] for n in history["nights"]] == ["2024-05-02", "2024-05-01"]
