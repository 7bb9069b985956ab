"""`/api/v1/plugins` over the installed plugins, and the documents it builds from manifests."""

from __future__ import annotations

from litestar.testing import AsyncTestClient
from tercel_server._plugin_docs import markdown, plugin_json, type_doc

ENTRY = {
    "type": "acme.Thing",
    "aliases": ["io.acme.Thing"],
    "kind": "task",
    "flowable": False,
    "title": "Do a thing.",
    "description": "Does a thing | well.",
    "properties": {
        "id": {"required": True, "dynamic": False, "description": "The id."},
        "size": {"required": False, "dynamic": True, "description": "How big.", "default": 3},
    },
    "schema": {"type": "object", "properties": {"size": {"type": "integer"}}, "$defs": {"X": {"type": "string"}}},
    "outputs": {"properties": {"result": {"type": "string", "description": "What came out."}}},
    "examples": [{"title": "Simple", "code": "id: x\nnamespace: y\n"}],
    "metrics": [{"name": "things", "type": "counter", "unit": None, "description": "Things done."}],
}


def test_type_doc_and_markdown() -> None:
    doc = type_doc(ENTRY, "acme-plugin", "2.0.0")
    assert doc["type"] == doc["cls"] == "acme.Thing"
    assert doc["aliases"] == ["io.acme.Thing"] and doc["distribution"] == "acme-plugin" and doc["version"] == "2.0.0"
    assert doc["properties"]["size"] == {"required": False, "dynamic": True, "description": "How big.", "default": 3, "schema": {"type": "integer"}}
    assert doc["properties"]["id"]["schema"] == {}
    assert doc["schema"]["properties"] is not ENTRY["schema"] and doc["schema"]["properties"] == ENTRY["schema"]
    assert doc["schema"]["definitions"] == {"X": {"type": "string"}}
    assert doc["outputs"] == ENTRY["outputs"] and doc["examples"] == ENTRY["examples"]
    text = markdown(ENTRY)
    assert text.startswith("# acme.Thing\n")
    assert "```yaml\nid: x\nnamespace: y\n```" in text
    assert "| `size` | no | yes | 3 | How big. |" in text
    assert "| `id` | yes | no |  | The id. |" in text
    assert "| `result` | What came out. |" in text and "`things`" in text
    assert markdown({"type": "bare"}) == "# bare\n"


def test_plugin_json_groups_types_by_kind() -> None:
    entries = [ENTRY, {**ENTRY, "type": "acme.Hook", "kind": "trigger", "aliases": []}, {**ENTRY, "type": "acme.Run", "kind": "taskRunner"}]
    out = plugin_json("acme-plugin", "2.0.0", "acme.plugin", entries, hooks=["tercel_task_types"])
    assert out["tasks"] == ["acme.Thing"] and out["triggers"] == ["acme.Hook"] and out["taskRunners"] == ["acme.Run"]
    assert [t["type"] for t in out["types"]] == ["acme.Hook", "acme.Run", "acme.Thing"]
    assert out["error"] is None and out["hooks"] == ["tercel_task_types"]
    broken = plugin_json("bad", "0.1", "bad.plugin", (), error="ImportError: boom")
    assert broken["error"] == "ImportError: boom" and broken["types"] == [] and broken["tasks"] == []


async def test_list_the_installed_plugins(client: AsyncTestClient) -> None:
    answer = await client.get("/api/v1/plugins")
    assert answer.status_code == 200
    plugins = {p["name"]: p for p in answer.json()}
    core = plugins["tercel-plugin-core"]
    assert "tercel.core.Log" in core["tasks"] and core["version"]
    log = next(t for t in core["types"] if t["type"] == "tercel.core.Log")
    assert "io.kestra.plugin.core.log.Log" in log["aliases"] and log["kind"] == "task"
    assert next(t for t in core["types"] if t["type"] == "tercel.core.Parallel")["flowable"] is True


async def test_one_type_its_schema_and_the_flow_schema(client: AsyncTestClient) -> None:
    doc = await client.get("/api/v1/plugins/tercel.core.Log")
    assert doc.status_code == 200
    body = doc.json()
    assert body["type"] == "tercel.core.Log" and body["title"] and body["description"]
    assert body["properties"]["message"]["required"] is True
    assert body["examples"] and body["markdown"].startswith("# tercel.core.Log")
    assert body["distribution"] == "tercel-plugin-core"
    by_alias = await client.get("/api/v1/plugins/io.kestra.plugin.core.log.Log")
    assert by_alias.json()["type"] == "tercel.core.Log"  # a Kestra name finds the same type

    schema = await client.get("/api/v1/plugins/tercel.core.Log/schema")
    assert schema.status_code == 200 and "message" in schema.json()["properties"]
    assert schema.json() == body["schema"]["properties"]

    flow = await client.get("/api/v1/plugins/schemas/flow")
    assert flow.status_code == 200
    assert {"id", "namespace", "tasks"} <= set(flow.json()["properties"])
    again = await client.get("/api/v1/plugins/schemas/FLOW")
    assert again.json() == flow.json()


async def test_plugin_errors(client: AsyncTestClient) -> None:
    typo = await client.get("/api/v1/plugins/tercel.core.Lgo")
    assert typo.status_code == 404
    assert "tercel.core.Log" in typo.json()["message"]  # did you mean
    assert typo.json()["details"][0]["suggestion"] == "tercel.core.Log"
    assert (await client.get("/api/v1/plugins/nothing.like.it/schema")).status_code == 404
    unknown_kind = await client.get("/api/v1/plugins/schemas/dashboard")
    assert unknown_kind.status_code == 404 and "flow" in unknown_kind.json()["message"]
    assert (await client.get("/api/v1/plugins", headers={"Authorization": ""})).status_code == 401
