"""Requests that made the server answer 500, found by fuzzing the API (`test_openapi_fuzz.py`
and probes in its spirit): each one now gets a 4xx that says what is wrong, or is served."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from tercel_server._errors import ApiError
from tercel_server._requests import lone_surrogate, parse_json
from tercel_server._webhooks import body_variable

YAML = {"content-type": "application/x-yaml"}
JSON = {"content-type": "application/json"}
FLOW = """id: hello
namespace: team.fuzz
inputs:
  - id: name
    type: STRING
    required: false
tasks:
  - id: say
    type: tercel.core.Return
    format: x
triggers:
  - id: hook
    type: tercel.core.trigger.Webhook
    key: the-key
"""
TOO_DEEP = b"[" * 100_000 + b"]" * 100_000  # deeper than Python's recursion limit
LONE = b'{"name": "\\ud800"}'  # valid JSON grammar, but no Unicode text


def _form(payload: bytes, charset: str = "utf-8", name: str = "name") -> tuple[bytes, dict[str, str]]:
    body = (
        f'--zz\r\nContent-Disposition: form-data; name="{name}"\r\nContent-Type: text/plain; charset={charset}\r\n\r\n'.encode()
        + payload + b"\r\n--zz--\r\n"
    )
    return body, {"content-type": "multipart/form-data; boundary=zz"}


async def _deploy(client: AsyncTestClient) -> None:
    answer = await client.post("/api/v1/flows", content=FLOW, headers=YAML)
    assert answer.status_code == 200, answer.text


async def _execution(client: AsyncTestClient) -> dict[str, Any]:
    await _deploy(client)
    answer = await client.post("/api/v1/executions/team.fuzz/hello?wait=true")
    assert answer.status_code == 200, answer.text
    return answer.json()


# -- pure helpers ------------------------------------------------------------------------------
def test_lone_surrogates_are_found_with_where_they_are() -> None:
    assert lone_surrogate({"a": ["ok", "é 😀"], "b": 1, "c": None}) is None
    assert lone_surrogate("\ud800") == "$"
    assert lone_surrogate({"tasks": [{"format": "x\udfffy"}]}) == "$.tasks[0].format"
    assert lone_surrogate({"ok": {"\ud800": 1}}) == "$.ok (a key)"


def test_json_bodies_that_python_cannot_hold_are_refused() -> None:
    assert parse_json(b'{"a": [1, "\\u00e9"]}') == {"a": [1, "é"]}
    with pytest.raises(ApiError, match="not valid JSON: maximum recursion depth"):
        parse_json(TOO_DEEP)
    with pytest.raises(ApiError, match=r"text at \$\.name escapes a lone UTF-16 surrogate"):
        parse_json(LONE)


def test_a_webhook_body_in_a_charset_that_is_no_text_is_kept_as_bytes() -> None:
    encoded = base64.b64encode(b"abc").decode()
    assert body_variable(b"abc", "text/plain; charset=base64") == encoded  # a codec, but not for text
    assert body_variable(b"abc", "text/plain; charset=undefined") == encoded  # a codec that always fails
    assert body_variable(b"+2AA-", "text/plain; charset=utf-7") == base64.b64encode(b"+2AA-").decode()  # '\ud800'
    assert body_variable(b'{"\\ud800": 1}', "application/json") == '{"\\ud800": 1}'  # kept as its text
    assert body_variable(b'{"a": 1}', "application/json") == {"a": 1}


# -- the API -----------------------------------------------------------------------------------
async def test_a_namespace_with_any_characters_can_be_exported(client: AsyncTestClient) -> None:
    # the zip's name went into a Latin-1 header as it was: 500 for anything beyond Latin-1
    exported = await client.get("/api/v1/namespaces/%F3%BB%9A%90/files/export")
    assert exported.status_code == 200
    assert exported.headers["content-disposition"] == "attachment; filename*=UTF-8''%F3%BB%9A%90_files.zip"
    quoted = await client.get('/api/v1/namespaces/a"b/files/export')  # a quote no longer breaks the header
    assert quoted.headers["content-disposition"] == "attachment; filename*=UTF-8''a%22b_files.zip"
    plain = await client.get("/api/v1/namespaces/team.fuzz/files/export")
    assert plain.headers["content-disposition"] == 'attachment; filename="team.fuzz_files.zip"'


async def test_execution_search_refuses_what_the_store_cannot_compare(client: AsyncTestClient) -> None:
    page = await client.get("/api/v1/executions/search", params={"page": str(2**62)})
    assert page.status_code == 400 and "page" in page.text
    for name, when in (("startDate", "0001-01-01T00:00:00+14:00"), ("endDate", "9999-12-31T23:59:59-14:00")):
        answer = await client.get("/api/v1/executions/search", params={name: when})
        assert answer.status_code == 400
        assert answer.json()["message"] == f"{name} {when} is out of range: in UTC it falls outside the years 1-9999"
    fine = await client.get("/api/v1/executions/search", params={"page": "3", "startDate": "2024-01-01T00:00:00Z"})
    assert fine.status_code == 200


@pytest.mark.parametrize("body", [TOO_DEEP, LONE, b'{"\\udc00": 1}'], ids=["too-deep", "lone-surrogate", "lone-surrogate-key"])
async def test_json_bodies_are_refused_with_what_is_wrong(client: AsyncTestClient, body: bytes) -> None:
    execution = await _execution(client)
    for method, url in (
        ("POST", "/api/v1/flows"),
        ("POST", "/api/v1/flows/validate"),
        ("POST", "/api/v1/flows/graph"),
        ("PUT", "/api/v1/flows/team.fuzz/hello"),
        ("POST", "/api/v1/executions/team.fuzz/hello"),
        ("POST", f"/api/v1/executions/{execution['id']}/labels"),
        ("POST", "/api/v1/triggers/set-disabled"),
        ("PUT", "/api/v1/triggers"),
    ):
        answer = await client.request(method, url, content=body, headers=JSON)
        assert answer.status_code == 400, (method, url, answer.text)
        assert answer.json()["message"].startswith("the body is not valid JSON: "), (method, url, answer.text)


async def test_a_kv_value_escaping_a_lone_surrogate_is_refused_as_json_kept_as_text(client: AsyncTestClient) -> None:
    # the store's error named the key as it was, and that answer could not be encoded
    refused = await client.put("/api/v1/namespaces/team.fuzz/kv/k", content=b'{"\\udc00": 1}', headers=JSON)
    assert refused.status_code == 400
    assert refused.json()["message"].startswith("the body is not valid JSON: the text at $ (a key) escapes a lone UTF-16 surrogate")
    text = await client.put("/api/v1/namespaces/team.fuzz/kv/k", content=b'{"\\udc00": 1}', headers={"content-type": "text/plain"})
    assert text.status_code == 200 and text.json()["type"] == "STRING"  # not JSON, so the text it is
    assert (await client.get("/api/v1/namespaces/team.fuzz/kv/k")).json()["value"] == '{"\\udc00": 1}'


async def test_a_json_flow_too_deep_for_yaml_is_refused(client: AsyncTestClient) -> None:
    answer = await client.post("/api/v1/flows", content=b"[" * 600 + b"]" * 600, headers=JSON)
    assert answer.status_code == 400
    assert answer.json()["message"] == "the flow nests lists or objects too deeply to be turned into YAML"


async def test_a_yaml_flow_escaping_a_lone_surrogate_is_refused_not_stored(client: AsyncTestClient) -> None:
    # stored, it answered 500 for good: its JSON could not be encoded
    bad = FLOW.replace("format: x", 'format: "\\ud800"')
    for method, url in (("POST", "/api/v1/flows"), ("POST", "/api/v1/flows/validate"), ("POST", "/api/v1/flows/graph")):
        answer = await client.request(method, url, content=bad, headers=YAML)
        assert answer.status_code == 400, (url, answer.text)
        assert "the text at $.tasks[0].format escapes a lone UTF-16 surrogate" in answer.json()["message"]
    assert (await client.get("/api/v1/flows/team.fuzz/hello")).status_code == 404
    several = await client.post("/api/v1/flows/validate", content=FLOW + "---\n" + bad, headers=YAML)
    assert several.status_code == 400 and "(document 2)" in several.json()["message"]
    escaped = await client.post("/api/v1/flows", content=FLOW.replace("format: x", 'format: "\\u00e9 \\U0001F600"'), headers=YAML)
    assert escaped.status_code == 200 and escaped.json()["tasks"][0]["format"] == "é 😀"


@pytest.mark.parametrize(
    ("payload", "charset", "message"),
    [
        (b"\xff", "utf-8", "a field of the form is not text in its charset: 'utf-8' codec can't decode"),
        (b"abc", "base64", "a field of the form is not text in its charset: 'base64' is not a text encoding"),
        (b"abc", "undefined", "a field of the form is not text in its charset"),
        (b"\\ud800", "unicode_escape", "a field of the form is not Unicode text"),
    ],
    ids=["invalid-utf-8", "no-text-charset", "failing-charset", "lone-surrogate"],
)
async def test_form_fields_that_are_not_text_are_refused(
    client: AsyncTestClient, payload: bytes, charset: str, message: str
) -> None:
    await _deploy(client)
    body, headers = _form(payload, charset)
    for url in (
        "/api/v1/executions/team.fuzz/hello",
        "/api/v1/executions/webhook/team.fuzz/hello/the-key",
        "/api/v1/namespaces/team.fuzz/files",
    ):
        answer = await client.post(url, content=body, headers=headers)
        assert answer.status_code == 400, (url, answer.text)
        assert answer.json()["message"].startswith(message), (url, answer.text)
    latin1, headers = _form(b"\xe9", "latin-1")
    fine = await client.post("/api/v1/executions/team.fuzz/hello?wait=true", content=latin1, headers=headers)
    assert fine.status_code == 200 and fine.json()["inputs"]["name"] == "é"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b'{"\\ud800": 1}', "application/json"), (b"+2AA-", "text/plain; charset=utf-7"), (b"abc", "text/plain; charset=base64")],
    ids=["json-lone-surrogate", "utf-7-lone-surrogate", "no-text-charset"],
)
async def test_webhook_bodies_that_are_not_unicode_text_start_an_execution(
    client: AsyncTestClient, body: bytes, content_type: str
) -> None:
    await _deploy(client)
    answer = await client.post("/api/v1/executions/webhook/team.fuzz/hello/the-key", content=body, headers={"content-type": content_type})
    assert answer.status_code == 200, answer.text


SCHEDULED = """id: nightly
namespace: team.fuzz
tasks:
  - id: say
    type: tercel.core.Return
    format: x
triggers:
  - id: daily
    type: tercel.core.trigger.Schedule
    cron: "0 2 * * *"
"""


async def test_a_backfill_out_of_range_in_utc_is_refused_and_nothing_is_stored(client: AsyncTestClient) -> None:
    assert (await client.post("/api/v1/flows", content=SCHEDULED, headers=YAML)).status_code == 200
    answer = await client.post(
        "/api/v1/triggers/team.fuzz/nightly/daily/backfill", json={"start": "0001-01-01T00:00:00+14:00"}
    )
    assert answer.status_code == 422, answer.text
    assert "backfill start 0001-01-01T00:00:00+14:00 is out of range" in answer.json()["message"]
    [state] = (await client.get("/api/v1/triggers/team.fuzz/nightly")).json()["results"]
    assert state["backfill"] is None


async def test_a_new_execution_cannot_set_system_labels_or_nul(client: AsyncTestClient) -> None:
    await _deploy(client)
    answer = await client.post("/api/v1/executions/team.fuzz/hello?labels=system.correlationId:forged", json={})
    assert answer.status_code == 400 and "set by tercel only" in answer.json()["message"]
    answer = await client.post("/api/v1/executions/team.fuzz/hello?labels=team:a%00b", json={})
    assert answer.status_code == 400 and "NUL" in answer.json()["message"]
    ok = await client.post("/api/v1/executions/team.fuzz/hello?labels=team:data", json={})
    assert ok.status_code == 200 and ok.json()["labels"]["team"] == "data"
    found = await client.get("/api/v1/executions/search?labels=team:data")
    assert [e["id"] for e in found.json()["results"]] == [ok.json()["id"]]
