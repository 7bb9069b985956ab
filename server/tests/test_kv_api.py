"""`/api/v1/namespaces/{namespace}/kv` over a real runtime, and how PUT bodies become values."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient
from tercel_server import ServerConfig, create_app
from tercel_server._kv_values import BadValue, parse_ttl, parse_value

KV = "/api/v1/namespaces/team.kv/kv"


def _auth(config: ServerConfig) -> dict[str, str]:
    pair = f"{config.basic_auth_username}:{config.basic_auth_password}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}

JSON = {"content-type": "application/json"}
TEXT = {"content-type": "text/plain"}


@pytest.mark.parametrize(
    ("body", "kind", "expected"),
    [
        (b'"text"', "application/json", "text"),
        (b"42", "application/json", 42),
        (b"1.10", "application/json", Decimal("1.10")),
        (b'{"a": [1, true, null]}', "application/json; charset=utf-8", {"a": [1, True, None]}),
        (b"hello world", "text/plain", "hello world"),
        (b"12", "text/plain", 12),
        (b"true", "", True),
        (b"2024-01-31", "text/plain", date(2024, 1, 31)),
        (b"2024-01-31T10:00:00Z", "text/plain", datetime(2024, 1, 31, 10, tzinfo=UTC)),
        (b"PT5M", "text/plain", timedelta(minutes=5)),
        (b'"PT5M"', "text/plain", "PT5M"),
        (b"2024-13-45", "text/plain", "2024-13-45"),  # looks like a date, is not one: text
        (b"2024-01-31T10:00:00", "text/plain", "2024-01-31T10:00:00"),  # no offset: text
        (b"", "text/plain", ""),
    ],
)
def test_put_bodies_become_typed_values(body: bytes, kind: str, expected: object) -> None:
    assert parse_value(body, kind) == expected


@pytest.mark.parametrize(
    ("body", "kind", "message"),
    [
        (b"{", "application/json", "not valid JSON"),
        (b"NaN", "application/json", "not valid JSON"),
        (b"", "application/json", "empty"),
        (b"", "", "empty"),
        (b"\xff", "text/plain", "UTF-8"),
        (b"x", "application/xml", "application/json or text/plain"),
        (b"[" * 100_000, "application/json", "levels deep"),
        (b"[" * 65 + b"]" * 65, "application/json", "levels deep"),
        (b'{"a":' * 65 + b"1" + b"}" * 65, "text/plain", "levels deep"),
        (b"1e99999", "application/json", "out of range"),
        (b"9" * 5000, "application/json", "not valid JSON"),
    ],
)
def test_bad_put_bodies_are_refused(body: bytes, kind: str, message: str) -> None:
    with pytest.raises(BadValue, match=message):
        parse_value(body, kind)


def test_ttls() -> None:
    assert parse_ttl(None) is None and parse_ttl(" ") is None
    assert parse_ttl("PT1H") == timedelta(hours=1)
    for bad in ("soon", "-PT1S", "PT0S"):
        with pytest.raises(BadValue, match="invalid ttl"):
            parse_ttl(bad)


async def test_put_get_list_and_delete(client: AsyncTestClient) -> None:
    put = await client.put(f"{KV}/greeting", content=b'"hello"', headers=JSON)
    assert put.status_code == 200
    assert put.json()["key"] == "greeting" and put.json()["type"] == "STRING"
    assert put.json()["expirationDate"] is None
    got = await client.get(f"{KV}/greeting")
    assert got.status_code == 200 and got.json() == {"type": "STRING", "value": "hello"}

    await client.put(f"{KV}/when", content=b"2024-01-31T10:00:00+02:00", headers=TEXT)
    assert (await client.get(f"{KV}/when")).json() == {"type": "DATETIME", "value": "2024-01-31T10:00:00+02:00"}
    await client.put(f"{KV}/price", content=b"12.50", headers=JSON)
    assert (await client.get(f"{KV}/price")).json() == {"type": "NUMBER", "value": 12.5}
    await client.put(f"{KV}/config", json={"retries": 3, "hosts": ["a", "b"]})
    assert (await client.get(f"{KV}/config")).json() == {"type": "JSON", "value": {"retries": 3, "hosts": ["a", "b"]}}
    await client.put(f"{KV}/wait", content=b"PT5M", headers=TEXT)
    assert (await client.get(f"{KV}/wait")).json() == {"type": "DURATION", "value": "PT5M"}

    listed = await client.get(KV)
    assert listed.status_code == 200
    assert [e["key"] for e in listed.json()] == ["config", "greeting", "price", "wait", "when"]
    assert set(listed.json()[0]) == {"key", "type", "creationDate", "updateDate", "expirationDate"}
    assert [e["key"] for e in (await client.get(f"{KV}?prefix=w")).json()] == ["wait", "when"]
    assert (await client.get("/api/v1/namespaces/team.kv.child/kv")).json() == []  # only this namespace

    again = await client.put(f"{KV}/greeting", content=b"bonjour", headers=TEXT)
    assert again.json()["creationDate"] == put.json()["creationDate"]  # an update keeps its creation
    assert (await client.get(f"{KV}/greeting")).json()["value"] == "bonjour"

    deleted = await client.delete(f"{KV}/greeting")
    assert deleted.status_code == 200 and deleted.json() is True
    assert (await client.get(f"{KV}/greeting")).status_code == 404
    gone = await client.delete(f"{KV}/greeting")
    assert gone.status_code == 404 and "greeting" in gone.json()["message"]

    bulk = await client.request("DELETE", KV, json={"keys": ["price", "nope", "wait"]})
    assert bulk.status_code == 200 and bulk.json() == {"keys": ["price", "wait"]}
    assert [e["key"] for e in (await client.get(KV)).json()] == ["config", "when"]


async def test_ttl_from_the_header_or_the_query(client: AsyncTestClient) -> None:
    before = datetime.now(UTC)
    header = await client.put(f"{KV}/short", content=b"1", headers={**JSON, "ttl": "PT1H"})
    expires = datetime.fromisoformat(header.json()["expirationDate"])
    assert timedelta(minutes=59) < expires - before < timedelta(minutes=61)
    query = await client.put(f"{KV}/daily?ttl=P1D", content=b"1", headers=JSON)
    expires = datetime.fromisoformat(query.json()["expirationDate"])
    assert timedelta(hours=23) < expires - before < timedelta(hours=25)
    listed = {e["key"]: e for e in (await client.get(KV)).json()}
    assert listed["short"]["expirationDate"] == header.json()["expirationDate"]


async def test_expired_values_are_gone(config: ServerConfig) -> None:
    from tercel.kv import KVStore
    from tercel.runtime import Runtime

    async with Runtime(config.settings()) as runtime, AsyncTestClient(create_app(config, runtime=runtime)) as client:
        client.headers.update(_auth(config))
        yesterday = KVStore(runtime.storage, clock=lambda: datetime.now(UTC) - timedelta(days=1))
        yesterday.set("team.kv", "stale", "old", ttl=timedelta(minutes=1))  # expired long ago
        assert (await client.get(f"{KV}/stale")).status_code == 404
        assert (await client.get(KV)).json() == []
        assert (await client.delete(f"{KV}/stale")).status_code == 404


async def test_kv_errors(client: AsyncTestClient) -> None:
    bad_key = await client.put(f"{KV}/-bad", content=b"1", headers=JSON)
    assert bad_key.status_code == 422 and "invalid KV key" in bad_key.json()["message"]
    assert (await client.get(f"{KV}/..")).status_code in (404, 422)
    assert (await client.get(f"{KV}/.hidden")).status_code == 422
    assert (await client.get(f"{KV}/{'k' * 300}")).status_code == 422
    bad_namespace = await client.get("/api/v1/namespaces/a..b/kv")
    assert bad_namespace.status_code == 422 and "namespace" in bad_namespace.json()["message"]
    assert (await client.get("/api/v1/namespaces/a..b/kv/key")).status_code == 422
    assert (await client.get(f"{KV}/missing")).status_code == 404
    not_json = await client.put(f"{KV}/k", content=b"{oops", headers=JSON)
    assert not_json.status_code == 400 and "JSON" in not_json.json()["message"]
    empty = await client.put(f"{KV}/k", content=b"", headers=JSON)
    assert empty.status_code == 400
    wrong_type = await client.put(f"{KV}/k", content=b"<a/>", headers={"content-type": "application/xml"})
    assert wrong_type.status_code == 400
    bad_ttl = await client.put(f"{KV}/k", content=b"1", headers={**JSON, "ttl": "tomorrow"})
    assert bad_ttl.status_code == 400 and "ttl" in bad_ttl.json()["message"]
    negative = await client.put(f"{KV}/k?ttl=-PT1M", content=b"1", headers=JSON)
    assert negative.status_code == 400
    both = await client.put(f"{KV}/k?ttl=PT1M", content=b"1", headers={**JSON, "ttl": "PT2M"})
    assert both.status_code == 400 and "two different TTLs" in both.json()["message"]
    assert (await client.get(f"{KV}/k")).status_code == 404  # nothing was written by the failures
    bulk_bad = await client.request("DELETE", KV, json={"keys": "k"})
    assert bulk_bad.status_code == 400
    bulk_not_json = await client.request("DELETE", KV, content=b"{", headers=JSON)
    assert bulk_not_json.status_code == 400
    await client.put(f"{KV}/keep", content=b"1", headers=JSON)
    bulk_invalid = await client.request("DELETE", KV, json={"keys": ["keep", "../x"]})
    assert bulk_invalid.status_code == 422
    assert (await client.get(f"{KV}/keep")).status_code == 200  # checked before anything is deleted
    unauthenticated = await client.get(KV, headers={"Authorization": ""})
    assert unauthenticated.status_code == 401
