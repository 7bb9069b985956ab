"""`/api/v1/executions/webhook/{namespace}/{flowId}/{key}` over a real runtime, and the pure part."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from tercel_server import ServerConfig, create_app
from tercel_server._webhooks import (
    NOT_FOUND,
    WebhookTrigger,
    body_variable,
    find_webhook,
    headers_variable,
    is_text,
    parameters_variable,
    part_filename,
    webhook_triggers,
)

AUTH = {"Authorization": "Basic " + base64.b64encode(b"tester:secret-pass").decode()}  # conftest's account
YAML = {"content-type": "application/x-yaml", **AUTH}
URL = "/api/v1/executions/webhook"
WEBHOOK = "tercel.core.trigger.Webhook"
KEY = "s3cr3t-k3y"


@pytest.fixture
async def client(config: ServerConfig) -> AsyncIterator[AsyncTestClient]:
    """A client without credentials: webhooks need none (the other calls pass `AUTH`)."""
    async with AsyncTestClient(create_app(config)) as c:
        yield c


def _stored(config: ServerConfig, prefix: str = "tercel:///team/hooks/hook/") -> list[str]:
    from tercel.storage import LocalStorage

    return [info.uri for info in LocalStorage(config.settings().storage_path).list(prefix)]


def _flow(trigger: str, *, flow_id: str = "hook", tasks: str | None = None, extra: str = "") -> str:
    tasks = tasks or (
        "  - id: echo\n    type: tercel.core.Return\n"
        "    format: \"{{ trigger.body | toJson }}|{{ trigger.headers['x-token'] ?? '-' }}|{{ trigger.parameters | toJson }}\"\n"
    )
    return f"id: {flow_id}\nnamespace: team.hooks\n{extra}tasks:\n{tasks}triggers:\n{trigger}"


def _trigger(key: str = KEY, *, type_name: str = WEBHOOK, more: str = "    wait: true\n", trigger_id: str = "hook") -> str:
    return f"  - id: {trigger_id}\n    type: {type_name}\n    key: {key}\n{more}"


async def _deploy(client: AsyncTestClient, source: str) -> None:
    answer = await client.post("/api/v1/flows", content=source, headers=YAML)
    assert answer.status_code == 200, answer.text


def _echo(doc: dict[str, Any]) -> str:
    assert doc["state"]["current"] == "SUCCESS", doc
    return str(doc["taskRunList"][0]["outputs"]["value"])


async def _until_ended(client: AsyncTestClient, execution_id: str) -> dict[str, Any]:
    for _ in range(1500):
        doc = (await client.get(f"/api/v1/executions/{execution_id}", headers=AUTH)).json()
        if doc["state"]["current"] in ("SUCCESS", "FAILED", "WARNING", "KILLED"):
            return dict(doc)
        await asyncio.sleep(0.02)
    raise AssertionError(f"execution {execution_id} never ended")


async def _executions(client: AsyncTestClient) -> int:
    found = await client.get("/api/v1/executions/search?namespace=team.hooks", headers=AUTH)
    return int(found.json()["total"])


# ------------------------------------------------------------------------------------ the API


async def test_a_json_post_starts_the_flow_with_the_trigger_variables(client: AsyncTestClient) -> None:
    await _deploy(client, _flow(_trigger(more="    wait: true\n    labels:\n      source: \"{{ trigger.body.who }}\"\n")))
    answer = await client.post(
        f"{URL}/team.hooks/hook/{KEY}?a=1&a=2&b=", json={"who": "ada", "n": [1, 2]}, headers={"X-Token": "t1"}
    )
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert _echo(doc) == '{"who":"ada","n":[1,2]}|["t1"]|{"a":["1","2"],"b":[""]}'
    trigger = doc["trigger"]
    assert (trigger["id"], trigger["type"]) == ("hook", WEBHOOK)
    assert trigger["body"] == {"who": "ada", "n": [1, 2]}
    assert trigger["headers"]["x-token"] == ["t1"] and trigger["headers"]["content-type"] == ["application/json"]
    assert trigger["parameters"] == {"a": ["1", "2"], "b": [""]}
    assert doc["labels"]["source"] == "ada" and doc["labels"]["system.correlationId"] == doc["id"]


async def test_get_and_put_and_kestra_aliases(client: AsyncTestClient) -> None:
    for alias, flow_id in (("io.kestra.plugin.core.trigger.Webhook", "a"), ("io.kestra.core.models.triggers.types.Webhook", "b")):
        await _deploy(client, _flow(_trigger(type_name=alias), flow_id=flow_id))
    got = await client.get(f"{URL}/team.hooks/a/{KEY}?q=x")
    assert got.status_code == 200 and _echo(got.json()) == 'null|-|{"q":["x"]}'
    put = await client.put(f"{URL}/team.hooks/b/{KEY}", content=b"plain words", headers={"content-type": "text/plain"})
    assert put.status_code == 200 and _echo(put.json()) == '"plain words"|-|{}'
    assert put.json()["trigger"]["type"] == "io.kestra.core.models.triggers.types.Webhook"


async def test_without_wait_the_answer_is_the_created_execution(client: AsyncTestClient) -> None:
    await _deploy(client, _flow(_trigger(more="")))
    answer = await client.post(f"{URL}/team.hooks/hook/{KEY}", json={"x": 1})
    assert answer.status_code == 200
    doc = answer.json()
    assert doc["state"]["current"] == "CREATED" and doc["trigger"]["body"] == {"x": 1}
    assert (await _until_ended(client, doc["id"]))["state"]["current"] == "SUCCESS"


async def test_bodies_that_are_not_json(client: AsyncTestClient) -> None:
    await _deploy(client, _flow(_trigger(more="")))

    async def body(content: bytes, content_type: str | None) -> Any:
        headers = {"content-type": content_type} if content_type else {}
        answer = await client.post(f"{URL}/team.hooks/hook/{KEY}", content=content, headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.json()["trigger"].get("body")

    assert await body(b"hello", "text/plain") == "hello"
    assert await body(b'{"a": 1}', "text/plain") == {"a": 1}  # as Kestra: a text body that is JSON is parsed
    assert await body(b"[1, 2]", None) == [1, 2]
    assert await body(b"{not json", "application/json") == "{not json"
    assert await body(b"42", "application/json") == "42"  # only objects and arrays are parsed
    assert await body(b"a=1&b=2", "application/x-www-form-urlencoded") == "a=1&b=2"
    assert await body(b"<a>1</a>", "application/xml") == "<a>1</a>"
    assert await body("café".encode("latin-1"), "text/plain; charset=latin-1") == "café"
    binary = bytes(range(256))
    assert await body(binary, "application/octet-stream") == base64.b64encode(binary).decode()
    assert await body(b"\xff\xfe not utf-8", "text/plain") == base64.b64encode(b"\xff\xfe not utf-8").decode()
    assert await body(b"", "application/json") is None


async def test_a_multipart_body_is_form_fields_and_stored_parts(client: AsyncTestClient) -> None:
    tasks = "  - id: echo\n    type: tercel.core.Return\n    format: \"{{ trigger.formFields.note[0] }}/{{ trigger.parts[0].filename }}/{{ read(trigger.parts[0].uri) }}\"\n"
    await _deploy(client, _flow(_trigger(), tasks=tasks))
    answer = await client.post(f"{URL}/team.hooks/hook/{KEY}", data={"note": "hi"}, files={"upload": ("../a.txt", b"file text", "text/plain")})
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert _echo(doc) == "hi/../a.txt/file text"
    part = doc["trigger"]["parts"][0]
    assert (part["name"], part["size"], part["contentType"]) == ("upload", 9, "text/plain")
    assert part["uri"].startswith(f"tercel:///team/hooks/hook/executions/{doc['id']}/trigger/0/a.txt")
    assert "body" not in doc["trigger"] and doc["trigger"]["formFields"] == {"note": ["hi"]}


async def test_unknown_flows_wrong_keys_and_disabled_triggers_all_look_the_same(client: AsyncTestClient) -> None:
    await _deploy(client, _flow(_trigger()))
    await _deploy(client, _flow(_trigger(more="    disabled: true\n"), flow_id="off"))
    await _deploy(client, _flow(_trigger(), flow_id="flow_off", extra="disabled: true\n"))
    no_webhook = "id: plain\nnamespace: team.hooks\ntasks:\n  - id: r\n    type: tercel.core.Return\n    format: x\n"
    await _deploy(client, no_webhook)
    for path in (
        f"team.hooks/hook/{KEY}x",  # wrong key
        f"team.hooks/hook/{KEY[:-1]}",  # a prefix of the key
        f"team.hooks/nope/{KEY}",  # unknown flow
        f"team.nope/hook/{KEY}",  # unknown namespace
        f"team.hooks/off/{KEY}",  # disabled trigger
        f"team.hooks/flow_off/{KEY}",  # disabled flow
        f"team.hooks/plain/{KEY}",  # no webhook trigger
        "team.hooks/hook/%C3%A9t%C3%A9",  # not ASCII
    ):
        for method in ("GET", "POST", "PUT"):
            answer = await client.request(method, f"{URL}/{path}", json={"a": 1})
            assert answer.status_code == 404, (method, path, answer.text)
            assert answer.json() == {"message": NOT_FOUND}
    assert await _executions(client) == 0


async def test_a_trigger_disabled_through_the_api_answers_404_until_enabled(client: AsyncTestClient) -> None:
    await _deploy(client, _flow(_trigger()))
    off = await client.put("/api/v1/triggers/team.hooks/hook/hook", json={"disabled": True}, headers=AUTH)
    assert off.status_code == 200 and off.json()["disabled"] is True
    assert (await client.post(f"{URL}/team.hooks/hook/{KEY}", json={})).status_code == 404
    assert (await client.put("/api/v1/triggers/team.hooks/hook/hook", json={"disabled": False}, headers=AUTH)).json()["disabled"] is False
    assert (await client.post(f"{URL}/team.hooks/hook/{KEY}", json={})).status_code == 200


async def test_no_credentials_needed_but_other_paths_still_need_them(client: AsyncTestClient) -> None:
    await _deploy(client, _flow(_trigger()))
    bad_auth = {"Authorization": "Basic " + base64.b64encode(b"x:y").decode()}
    assert (await client.post(f"{URL}/team.hooks/hook/{KEY}", json={}, headers=bad_auth)).status_code == 200
    assert (await client.post(f"{URL}/team.hooks/hook/{KEY}/extra", json={})).status_code == 404
    assert (await client.get("/api/v1/executions/search")).status_code == 401
    assert (await client.post(f"{URL}/hook", json={})).status_code == 401  # POST /executions/{namespace}/{flowId}


async def test_duplicate_keys_take_the_first_enabled_trigger(client: AsyncTestClient) -> None:
    triggers = _trigger(trigger_id="first", more="    disabled: true\n") + _trigger(trigger_id="second") + _trigger(trigger_id="third")
    await _deploy(client, _flow(triggers))
    answer = await client.post(f"{URL}/team.hooks/hook/{KEY}", json={})
    assert answer.json()["trigger"]["id"] == "second"


async def test_a_key_may_be_an_expression(client: AsyncTestClient) -> None:
    await _deploy(client, _flow(_trigger(key="\"{{ vars.hook_key }}\""), extra="variables:\n  hook_key: from-vars\n"))
    assert (await client.post(f"{URL}/team.hooks/hook/from-vars", json={})).status_code == 200
    assert (await client.post(f"{URL}/team.hooks/hook/{{{{ vars.hook_key }}}}", json={})).status_code == 404


async def test_inputs_are_rendered_with_the_trigger_variables(client: AsyncTestClient) -> None:
    extra = "inputs:\n  - id: n\n    type: INT\n  - id: who\n    type: STRING\n"
    tasks = "  - id: echo\n    type: tercel.core.Return\n    format: \"{{ inputs.who }} x{{ inputs.n * 2 }}\"\n"
    more = "    wait: true\n    inputs:\n      n: \"{{ trigger.body.n }}\"\n      who: \"{{ trigger.parameters.who[0] }}\"\n"
    await _deploy(client, _flow(_trigger(more=more), tasks=tasks, extra=extra))
    answer = await client.post(f"{URL}/team.hooks/hook/{KEY}?who=bob", json={"n": 21})
    assert answer.status_code == 200 and _echo(answer.json()) == "bob x42"
    invalid = await client.post(f"{URL}/team.hooks/hook/{KEY}?who=bob", json={"n": "many"})
    assert invalid.status_code == 422 and invalid.json()["details"][0]["path"] == "inputs.n"
    unrenderable = await client.post(f"{URL}/team.hooks/hook/{KEY}", json={"n": 1})  # no ?who=
    assert unrenderable.status_code == 422 and "inputs of webhook trigger 'hook' cannot be rendered" in unrenderable.json()["message"]
    assert await _executions(client) == 1


async def test_conditions_not_met_answer_204_without_an_execution(client: AsyncTestClient) -> None:
    more = "    wait: true\n    conditions:\n      - type: io.kestra.plugin.core.condition.Expression\n        expression: \"{{ trigger.body.go == true }}\"\n"
    await _deploy(client, _flow(_trigger(more=more)))
    skipped = await client.post(f"{URL}/team.hooks/hook/{KEY}", json={"go": False})
    assert skipped.status_code == 204 and skipped.content == b""
    assert await _executions(client) == 0
    assert (await client.post(f"{URL}/team.hooks/hook/{KEY}", json={"go": True})).status_code == 200


async def test_conditions_not_met_leave_no_stored_files(client: AsyncTestClient, config: ServerConfig) -> None:
    more = "    conditions:\n      - type: io.kestra.plugin.core.condition.Expression\n        expression: \"{{ trigger.formFields.go[0] == 'yes' }}\"\n"
    await _deploy(client, _flow(_trigger(more=more)))
    skipped = await client.post(f"{URL}/team.hooks/hook/{KEY}", data={"go": "no"}, files={"f": ("f.bin", b"123")})
    assert skipped.status_code == 204
    assert _stored(config) == []


async def test_wait_and_return_outputs(client: AsyncTestClient) -> None:
    outputs = "outputs:\n  - id: greeting\n    type: STRING\n    value: \"hello {{ trigger.body.who }}\"\n"
    await _deploy(client, _flow(_trigger(more="    wait: true\n    returnOutputs: true\n"), extra=outputs))
    answer = await client.post(f"{URL}/team.hooks/hook/{KEY}", json={"who": "ada"})
    assert answer.status_code == 200 and answer.json() == {"greeting": "hello ada"}


async def test_wait_on_a_failing_flow_answers_500_with_the_execution(client: AsyncTestClient) -> None:
    tasks = "  - id: boom\n    type: tercel.core.Fail\n    errorMessage: \"no {{ trigger.body.x }}\"\n"
    await _deploy(client, _flow(_trigger(), tasks=tasks))
    answer = await client.post(f"{URL}/team.hooks/hook/{KEY}", json={"x": 1})
    assert answer.status_code == 500 and answer.json()["state"]["current"] == "FAILED"


async def test_oversized_bodies_get_413(tmp_path: Any) -> None:
    config = ServerConfig.load(home=tmp_path / "home", basic_auth_username="tester", basic_auth_password="secret-pass", max_body_size="1KB")
    async with AsyncTestClient(create_app(config)) as client:
        await _deploy(client, _flow(_trigger(more="")))
        big = b"x" * 2048
        assert (await client.post(f"{URL}/team.hooks/hook/{KEY}", content=big, headers={"content-type": "text/plain"})).status_code == 413
        assert (await client.put(f"{URL}/team.hooks/hook/{KEY}", content=big)).status_code == 413
        assert (await client.post(f"{URL}/team.hooks/hook/{KEY}", files={"f": ("f.bin", big)})).status_code == 413
        assert _stored(config) == []
        assert await _executions(client) == 0
        assert (await client.post(f"{URL}/team.hooks/hook/{KEY}", content=b"small")).status_code == 200


async def test_a_namespace_named_webhook_still_runs_through_the_executions_api(client: AsyncTestClient) -> None:
    flow = "id: f\nnamespace: webhook\ntasks:\n  - id: r\n    type: tercel.core.Return\n    format: ok\n"
    await _deploy(client, flow)
    answer = await client.post("/api/v1/executions/webhook/f?wait=true", json={}, headers=AUTH)
    assert answer.status_code == 200, answer.text


# ---------------------------------------------------------------------------- the pure part


def _canonical(name: str) -> str | None:
    return WEBHOOK if name.endswith(".Webhook") else ("tercel.core.trigger.Schedule" if name.endswith("Schedule") else None)


def test_webhook_triggers_keeps_only_webhooks_with_their_options() -> None:
    found = webhook_triggers(
        [
            {"id": "s", "type": "io.kestra.plugin.core.trigger.Schedule", "cron": "* * * * *"},
            {"id": "w", "type": "io.kestra.plugin.core.trigger.Webhook", "key": "k", "wait": "true", "returnOutputs": True,
             "inputs": {"a": 1}, "conditions": [{"type": "x"}, "junk"], "disabled": False},
            {"id": "u", "type": "unknown.Thing", "key": "k"},
            {"type": WEBHOOK, "key": "no id"},
            "junk",
        ],
        _canonical,
    )
    assert [(t.id, t.wait, t.return_outputs, t.inputs, t.conditions) for t in found] == [("w", True, True, {"a": 1}, [{"type": "x"}])]
    assert webhook_triggers(None, _canonical) == []


def test_find_webhook_compares_every_key_and_skips_disabled_ones() -> None:
    a = WebhookTrigger("a", WEBHOOK, "k1", disabled=True)
    b = WebhookTrigger("b", WEBHOOK, " k1 ")  # trimmed, as Kestra does
    c = WebhookTrigger("c", WEBHOOK, "{{ bad }}")
    d = WebhookTrigger("d", WEBHOOK, None)
    seen: list[Any] = []

    def render(value: Any) -> Any:
        seen.append(value)
        if value == "{{ bad }}":
            raise ValueError("cannot render")
        return value

    def disabled(t: WebhookTrigger) -> bool:
        return t.disabled

    assert find_webhook([a, b, c, d], "k1", render_key=render, disabled=disabled) is b
    assert seen == ["k1", " k1 ", "{{ bad }}", None]  # every key looked at, even after a match
    assert find_webhook([a, c, d], "k1", render_key=render, disabled=disabled) is None
    assert find_webhook([WebhookTrigger("e", WEBHOOK, "")], "", render_key=render, disabled=disabled) is None
    assert find_webhook([b], "ké", render_key=render, disabled=disabled) is None


def test_bodies_headers_parameters_and_file_names() -> None:
    assert is_text(None) and is_text("text/csv") and is_text("application/vnd.api+json") and is_text("application/x-yaml")
    assert not is_text("application/octet-stream") and not is_text("image/png")
    assert body_variable(b"", "text/plain") is None
    assert body_variable(b'  {"a": [1]}  ', "application/json") == {"a": [1]}
    assert body_variable(b"NaN", "application/json") == "NaN"
    deep = b"[" * 100 + b"]" * 100
    assert body_variable(deep, "application/json") == deep.decode()
    assert body_variable("é".encode("utf-16"), "text/plain; charset=utf-16") == "é"
    assert body_variable(b"x", "text/plain; charset=nonsense") == "x"
    assert headers_variable([(b"X-A", b"1"), (b"x-a", b"2"), (b"Host", b"h")]) == {"x-a": ["1", "2"], "host": ["h"]}
    assert parameters_variable(b"a=1&a=%20two&flag") == {"a": ["1", " two"], "flag": [""]}
    assert part_filename("../../etc/passwd", 0) == "passwd"
    assert part_filename("C:\\dir\\x.txt", 1) == "x.txt"
    assert part_filename("..", 2) == "part-2" and part_filename(None, 3) == "part-3"
