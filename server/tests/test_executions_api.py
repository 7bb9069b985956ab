"""`/api/v1/executions` and `/api/v1/logs` over a real runtime."""

from __future__ import annotations

import asyncio
import json

from litestar.testing import AsyncTestClient

YAML = {"content-type": "application/x-yaml"}
GREET = """id: greet
namespace: team.a
inputs:
  - id: name
    type: STRING
  - id: file
    type: FILE
    required: false
tasks:
  - id: hello
    type: tercel.core.Return
    format: "hi {{ inputs.name }}{{ inputs.file is not none and (' ' ~ read(inputs.file)) or '' }}"
"""
PAUSED = "id: paused\nnamespace: team.a\ntasks:\n  - id: wait\n    type: tercel.core.Pause\n    onResume:\n      - id: ok\n        type: BOOLEAN\n  - id: after\n    type: tercel.core.Return\n    format: \"{{ outputs.wait.onResume.ok }}\"\n"
FAILING = "id: failing\nnamespace: team.a\ntasks:\n  - id: boom\n    type: tercel.core.Fail\n    condition: \"{{ kv('broken', errorOnMissing=false) ?? true }}\"\n"


async def _deploy(client: AsyncTestClient, source: str) -> None:
    assert (await client.post("/api/v1/flows", content=source, headers=YAML)).status_code == 200


async def _until(client: AsyncTestClient, execution_id: str, state: str) -> dict:  # type: ignore[type-arg]
    for _ in range(500):
        doc = (await client.get(f"/api/v1/executions/{execution_id}")).json()
        if doc["state"]["current"] == state:
            return doc
        await asyncio.sleep(0.02)
    raise AssertionError(f"never {state}: {doc['state']}")


async def test_trigger_with_json_inputs_and_wait(client: AsyncTestClient) -> None:
    await _deploy(client, GREET)
    answer = await client.post("/api/v1/executions/team.a/greet?wait=true&labels=team:data", json={"name": "Ada"})
    assert answer.status_code == 200
    doc = answer.json()
    assert doc["state"]["current"] == "SUCCESS"
    assert doc["labels"] == {"team": "data"}
    assert doc["taskRunList"][0]["outputs"] == {"value": "hi Ada"}
    again = await client.get(f"/api/v1/executions/{doc['id']}")
    assert again.json()["id"] == doc["id"]


async def test_trigger_with_a_multipart_file(client: AsyncTestClient) -> None:
    await _deploy(client, GREET)
    answer = await client.post(
        "/api/v1/executions/team.a/greet?wait=true", data={"name": "Bob"}, files={"file": ("note.txt", b"from a file")}
    )
    assert answer.json()["taskRunList"][0]["outputs"] == {"value": "hi Bob from a file"}
    assert answer.json()["inputs"]["file"].startswith("tercel:///team/a/greet/executions/")
    assert answer.json()["inputs"]["file"].endswith("/inputs/file/note.txt")  # the name it was sent with
    tricky = await client.post(
        "/api/v1/executions/team.a/greet?wait=true", data={"name": "Eve"}, files={"file": ("../../etc/passwd", b"x")}
    )
    assert tricky.status_code == 200, tricky.text
    assert tricky.json()["inputs"]["file"].endswith("/inputs/file/passwd")


async def test_bad_inputs_unknown_flows_and_unknown_executions(client: AsyncTestClient) -> None:
    await _deploy(client, GREET)
    missing = await client.post("/api/v1/executions/team.a/greet", json={})
    assert missing.status_code == 422 and missing.json()["details"][0]["path"] == "inputs.name"
    local_path = await client.post("/api/v1/executions/team.a/greet", json={"name": "x", "file": "/etc/passwd"})
    assert local_path.status_code == 422
    assert (await client.post("/api/v1/executions/team.a/nope", json={})).status_code == 404
    assert (await client.get("/api/v1/executions/nope")).status_code == 404
    not_json = await client.post("/api/v1/executions/team.a/greet", content=b"{", headers={"content-type": "application/json"})
    assert not_json.status_code == 400


async def test_search_filters(client: AsyncTestClient) -> None:
    await _deploy(client, GREET)
    for name in ("a", "b"):
        await client.post("/api/v1/executions/team.a/greet?wait=true", json={"name": name})
    found = await client.get("/api/v1/executions/search?namespace=team.a&flowId=greet&state=SUCCESS")
    assert found.json()["total"] == 2
    none = await client.get("/api/v1/executions/search?state=FAILED")
    assert none.json()["results"] == []
    bad = await client.get("/api/v1/executions/search?state=NOPE")
    assert bad.status_code == 400
    for name in ("c", "d", "e"):
        await client.post("/api/v1/executions/team.a/greet?wait=true", json={"name": name})
    pages = [(await client.get(f"/api/v1/executions/search?namespace=team.a&size=2&page={p}")).json() for p in (1, 2, 3)]
    assert [page["total"] for page in pages] == [5, 5, 5]  # every page tells the whole count
    assert [len(page["results"]) for page in pages] == [2, 2, 1]
    assert [page["more"] for page in pages] == [True, True, False]


async def test_pause_resume_and_follow(client: AsyncTestClient) -> None:
    await _deploy(client, PAUSED)
    ex = (await client.post("/api/v1/executions/team.a/paused", json={})).json()
    await _until(client, ex["id"], "PAUSED")
    bad = await client.post(f"/api/v1/executions/{ex['id']}/resume", json={"ok": "maybe"})
    assert bad.status_code == 422
    ok = await client.post(f"/api/v1/executions/{ex['id']}/resume", json={"ok": True})
    assert ok.status_code == 200
    events = []
    async with client.stream("GET", f"/api/v1/executions/{ex['id']}/follow") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data:"):
                events.append(json.loads(line[5:]))
    assert events[-1]["state"]["current"] == "SUCCESS"
    assert events[-1]["taskRunList"][1]["outputs"] == {"value": "true"}
    wait_run = events[-1]["taskRunList"][0]
    assert wait_run["outputs"]["resumed"]["by"] == "tester"
    logs = (await client.get(f"/api/v1/logs/{ex['id']}")).json()
    assert any("resumed" in entry["message"] for entry in logs)
    text = await client.get(f"/api/v1/logs/{ex['id']}/download")
    assert "resumed" in text.text


async def test_kill_restart_and_replay(client: AsyncTestClient) -> None:
    await _deploy(client, PAUSED)
    ex = (await client.post("/api/v1/executions/team.a/paused", json={})).json()
    await _until(client, ex["id"], "PAUSED")
    killed = await client.delete(f"/api/v1/executions/{ex['id']}/kill")
    assert killed.status_code == 202
    await _until(client, ex["id"], "KILLED")
    assert (await client.delete(f"/api/v1/executions/{ex['id']}/kill")).status_code == 400
    await _deploy(client, FAILING)
    failed = (await client.post("/api/v1/executions/team.a/failing?wait=true", json={})).json()
    assert failed["state"]["current"] == "FAILED"
    restarted = await client.post(f"/api/v1/executions/{failed['id']}/restart")
    assert restarted.status_code == 200
    done = await _until(client, failed["id"], "FAILED")
    assert len(done["taskRunList"][0]["attempts"]) == 2
    replay = await client.post(f"/api/v1/executions/{failed['id']}/replay?taskRunId={failed['taskRunList'][0]['id']}")
    assert replay.status_code == 200 and replay.json()["id"] != failed["id"]
    assert (await client.post(f"/api/v1/executions/{failed['id']}/replay?taskRunId=nope")).status_code == 422
    assert (await client.delete(f"/api/v1/executions/{failed['id']}")).status_code == 204
    assert (await client.get(f"/api/v1/executions/{failed['id']}")).status_code == 404
