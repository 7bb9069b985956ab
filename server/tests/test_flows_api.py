"""`/api/v1/flows` over a real runtime."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

YAML = {"content-type": "application/x-yaml"}
HELLO = "id: hello\nnamespace: team.a\n# a comment kept in the source\ntasks:\n  - id: say\n    type: tercel.core.Return\n    format: hi\n"


async def test_create_get_update_delete_and_revisions(client: AsyncTestClient) -> None:
    created = await client.post("/api/v1/flows", content=HELLO, headers=YAML)
    assert created.status_code == 200
    assert created.json()["revision"] == 1 and created.json()["source"] == HELLO
    again = await client.post("/api/v1/flows", content=HELLO, headers=YAML)
    assert again.status_code == 409
    got = await client.get("/api/v1/flows/team.a/hello")
    assert got.json()["tasks"] == [{"id": "say", "type": "tercel.core.Return", "format": "hi"}]
    assert "source" not in got.json()
    raw = await client.get("/api/v1/flows/team.a/hello", headers={"Accept": "application/x-yaml"})
    assert raw.text == HELLO  # byte for byte, comment included
    same = await client.put("/api/v1/flows/team.a/hello", content=HELLO, headers=YAML)
    assert same.json()["revision"] == 1  # unchanged source: no new revision
    changed = await client.put("/api/v1/flows/team.a/hello", content=HELLO.replace("format: hi", "format: hello"), headers=YAML)
    assert changed.json()["revision"] == 2
    old = await client.get("/api/v1/flows/team.a/hello?revision=1&source=true")
    assert old.json()["source"] == HELLO
    revisions = await client.get("/api/v1/flows/team.a/hello/revisions")
    assert [r["revision"] for r in revisions.json()] == [1, 2]
    assert (await client.delete("/api/v1/flows/team.a/hello")).status_code == 204
    assert (await client.get("/api/v1/flows/team.a/hello")).status_code == 404
    assert (await client.delete("/api/v1/flows/team.a/hello")).status_code == 404
    history = await client.get("/api/v1/flows/team.a/hello/revisions")
    assert [r["deleted"] for r in history.json()] == [False, False, True]


async def test_json_bodies_are_accepted(client: AsyncTestClient) -> None:
    doc = {"id": "from_json", "namespace": "team.a", "tasks": [{"id": "t", "type": "tercel.core.Log", "message": "x"}]}
    created = await client.post("/api/v1/flows", json=doc)
    assert created.status_code == 200
    assert "id: from_json" in created.json()["source"]


async def test_invalid_flows_get_422_with_positions(client: AsyncTestClient) -> None:
    bad = "id: bad\nnamespace: team.a\ntasks:\n  - id: t\n    type: tercel.core.Nope\n  - id: l\n    type: tercel.core.Log\n"
    answer = await client.post("/api/v1/flows", content=bad, headers=YAML)
    assert answer.status_code == 422
    details = answer.json()["details"]
    assert {(d["path"], d["line"]) for d in details} >= {("tasks[0].type", 5), ("tasks[1].message", 6)} or len(details) >= 2
    broken = await client.post("/api/v1/flows", content="id: [unclosed\n", headers=YAML)
    assert broken.status_code == 422 and broken.json()["details"][0]["line"] is not None
    wrong_kind = await client.post("/api/v1/flows", content=HELLO, headers={"content-type": "application/pdf"})
    assert wrong_kind.status_code == 400


async def test_update_must_match_the_url_and_exist(client: AsyncTestClient) -> None:
    mismatch = await client.put("/api/v1/flows/team.a/other", content=HELLO, headers=YAML)
    assert mismatch.status_code == 400 and "differ from the URL" in mismatch.json()["message"]
    missing = await client.put("/api/v1/flows/team.a/hello", content=HELLO, headers=YAML)
    assert missing.status_code == 404


async def test_search_and_validate(client: AsyncTestClient) -> None:
    for ns, fid in (("team.a", "one"), ("team.a.sub", "two"), ("team.b", "three")):
        await client.post("/api/v1/flows", content=f"id: {fid}\nnamespace: {ns}\ntasks:\n  - id: t\n    type: tercel.core.Log\n    message: m\n", headers=YAML)
    found = await client.get("/api/v1/flows/search?namespace=team.a")
    assert sorted(r["id"] for r in found.json()["results"]) == ["one", "two"]
    paged = await client.get("/api/v1/flows/search?size=2&page=2")
    assert paged.json()["total"] == 3 and len(paged.json()["results"]) == 1
    text = await client.get("/api/v1/flows/search?q=thr")
    assert [r["id"] for r in text.json()["results"]] == ["three"]
    validated = await client.post("/api/v1/flows/validate", content=HELLO + "---\nid: x\nnamespace: y\ntasks: []\n", headers=YAML)
    results = validated.json()
    assert results[0]["problems"] == [] and results[0]["flow"] == "hello"
    assert results[1]["problems"]
    # a problem of the second document is placed on its line of the whole body
    body = HELLO + "---\nid: x\nnamespace: y\ntasks:\n  - id: t\n    type: tercel.core.Nope\n"
    second = (await client.post("/api/v1/flows/validate", content=body, headers=YAML)).json()[1]["problems"]
    nope = body.splitlines().index("    type: tercel.core.Nope") + 1
    assert [p["line"] for p in second if "tercel.core.Nope" in p["message"]] == [nope]
