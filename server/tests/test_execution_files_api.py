"""`/api/v1/executions/{id}/file(s)` and `/labels` over a real runtime, and their pure helpers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from tercel.storage import FileInfo
from tercel_server._execution_files import file_entry
from tercel_server._labels import LabelsError, parse_labels, replace_labels

YAML = {"content-type": "application/x-yaml"}
WRITER = """id: writer
namespace: team.ef
inputs:
  - id: attachment
    type: FILE
    required: false
tasks:
  - id: write
    type: tercel.core.storage.Write
    content: "hello from {{ flow.id }}"
    extension: .txt
"""
PAUSED = "id: paused\nnamespace: team.ef\ntasks:\n  - id: wait\n    type: tercel.core.Pause\n"


# -- pure helpers ------------------------------------------------------------------------------
def test_labels_are_parsed_and_checked() -> None:
    assert parse_labels([{"key": "team", "value": "data"}, {"key": "n", "value": 3}]) == {"team": "data", "n": "3"}
    assert parse_labels({"ok": True}) == {"ok": "true"}
    assert parse_labels([]) == {}
    for bad, message in (
        ("team:data", "send the labels"),
        ([{"key": "x"}], "'key' and a 'value'"),
        ([{"key": "", "value": "v"}], "non-empty"),
        ({"system.correlationId": "x"}, "set by tercel only"),
        ([{"key": "a", "value": "1"}, {"key": "a", "value": "2"}], "given twice"),
        ({"a": {"nested": 1}}, "must be text"),
        ({"a": None}, "must be text"),
    ):
        with pytest.raises(LabelsError, match=message):
            parse_labels(bad)


def test_replacing_labels_keeps_the_system_ones() -> None:
    current = {"system.correlationId": "c1", "team": "a", "old": "x"}
    assert replace_labels(current, {"team": "b"}) == {"system.correlationId": "c1", "team": "b"}
    assert replace_labels(current, {}) == {"system.correlationId": "c1"}


def test_file_entries_say_where_a_file_comes_from() -> None:
    prefix = "tercel:///team/ef/writer/executions/E1/"
    when = datetime(2024, 1, 1, tzinfo=UTC)

    def info(rest: str) -> FileInfo:
        return FileInfo("tercel:///team/ef/writer/executions/E1/" + rest, "team/ef/writer/executions/E1/" + rest, 5, when)

    task = file_entry(prefix, info("tasks/write/TR1/out.txt"))
    assert task == {
        "uri": "tercel:///team/ef/writer/executions/E1/tasks/write/TR1/out.txt", "path": "tasks/write/TR1/out.txt",
        "fileName": "out.txt", "size": 5, "lastModifiedTime": 1704067200000, "taskId": "write", "taskRunId": "TR1",
    }
    assert file_entry(prefix, info("inputs/attachment/a.csv"))["input"] == "attachment"
    other = file_entry(prefix, info("misc.bin"))
    assert "taskId" not in other and "input" not in other


# -- the API -----------------------------------------------------------------------------------
async def _run_writer(client: AsyncTestClient, **kwargs: Any) -> dict[str, Any]:
    assert (await client.post("/api/v1/flows", content=WRITER, headers=YAML)).status_code == 200
    answer = await client.post("/api/v1/executions/team.ef/writer?wait=true", **kwargs)
    assert answer.status_code == 200
    execution = answer.json()
    assert execution["state"]["current"] == "SUCCESS"
    return execution


async def test_list_and_download_the_files_of_an_execution(client: AsyncTestClient) -> None:
    execution = await _run_writer(client, data={}, files={"attachment": ("notes.csv", b"a,b\n1,2\n")})
    base = f"/api/v1/executions/{execution['id']}"
    output = execution["taskRunList"][0]["outputs"]["uri"]
    upload = execution["inputs"]["attachment"]

    listed = await client.get(f"{base}/files")
    assert listed.status_code == 200
    by_uri = {f["uri"]: f for f in listed.json()}
    assert set(by_uri) == {output, upload}
    assert by_uri[output]["taskId"] == "write" and by_uri[output]["taskRunId"] == execution["taskRunList"][0]["id"]
    assert by_uri[upload]["input"] == "attachment" and by_uri[upload]["size"] == 8

    downloaded = await client.get(f"{base}/file", params={"path": output})
    assert downloaded.status_code == 200 and downloaded.content == b"hello from writer"
    assert downloaded.headers["content-type"] == "application/octet-stream"
    assert output.rsplit("/", 1)[-1] in downloaded.headers["content-disposition"]
    kestra = await client.get(f"{base}/file", params={"path": upload.replace("tercel:///", "kestra:///")})
    assert kestra.content == b"a,b\n1,2\n"
    metas = await client.get(f"{base}/file/metas", params={"path": upload})
    assert metas.status_code == 200 and metas.json() == {"size": 8}


async def test_files_outside_the_namespace_are_refused(client: AsyncTestClient) -> None:
    execution = await _run_writer(client)
    base = f"/api/v1/executions/{execution['id']}"
    await client.post("/api/v1/namespaces/team.other/files?path=/secret.txt", files={"fileContent": ("secret.txt", b"s")})
    await client.post("/api/v1/namespaces/team.efx/files?path=/secret.txt", files={"fileContent": ("secret.txt", b"s")})
    await client.post("/api/v1/namespaces/team.ef.child/files?path=/shared.txt", files={"fileContent": ("shared.txt", b"c")})

    for uri in ("tercel:///team/other/_files/secret.txt", "tercel:///team/efx/_files/secret.txt", "kestra:///team/other/_files/secret.txt"):
        for suffix in ("file", "file/metas"):
            refused = await client.get(f"{base}/{suffix}", params={"path": uri})
            assert refused.status_code == 403, (uri, suffix)
            assert "team.ef" in refused.json()["message"]
    child = await client.get(f"{base}/file", params={"path": "tercel:///team/ef/child/_files/shared.txt"})
    assert child.status_code == 200 and child.content == b"c"  # a child namespace's files are the namespace's

    for bad in ("tercel:///team/ef/../other/_files/secret.txt", "/etc/passwd", "file:///etc/passwd", "tercel:///team/ef/a%00b", "tercel:////etc/passwd", "tercel:///"):
        invalid = await client.get(f"{base}/file", params={"path": bad})
        assert invalid.status_code == 422, bad
        assert "storage URI" in invalid.json()["message"], bad
    missing = await client.get(f"{base}/file", params={"path": "tercel:///team/ef/writer/executions/nope.txt"})
    assert missing.status_code == 404
    assert (await client.get(f"{base}/file/metas", params={"path": "tercel:///team/ef/nope"})).status_code == 404
    assert (await client.get(f"{base}/file")).status_code == 400  # path is required
    for suffix in ("file?path=tercel:///team/ef/x", "file/metas?path=tercel:///team/ef/x", "files"):
        assert (await client.get(f"/api/v1/executions/nope/{suffix}")).status_code == 404, suffix
    assert (await client.get(f"{base}/files", headers={"Authorization": ""})).status_code == 401


async def test_labels_of_an_ended_execution(client: AsyncTestClient) -> None:
    # a system label the execution carries from its flow (the API refuses to set one itself)
    labelled = WRITER.replace("namespace: team.ef\n", "namespace: team.ef\nlabels:\n  system.origin: api\n", 1)
    assert (await client.post("/api/v1/flows", content=labelled, headers=YAML)).status_code == 200
    started = await client.post("/api/v1/executions/team.ef/writer?wait=true&labels=team:a&labels=old:x")
    execution_id = started.json()["id"]
    labels_url = f"/api/v1/executions/{execution_id}/labels"

    changed = await client.post(labels_url, json=[{"key": "team", "value": "b"}, {"key": "env", "value": "prod"}])
    assert changed.status_code == 200
    assert changed.json()["labels"] == {"system.origin": "api", "team": "b", "env": "prod"}
    stored = await client.get(f"/api/v1/executions/{execution_id}")
    assert stored.json()["labels"] == {"system.origin": "api", "team": "b", "env": "prod"}
    assert stored.json()["state"]["current"] == "SUCCESS"  # nothing else changed
    found = await client.get("/api/v1/executions/search?labels=env:prod")
    assert [r["id"] for r in found.json()["results"]] == [execution_id]  # the search index follows
    as_object = await client.post(labels_url, json={"team": "c"})
    assert as_object.json()["labels"] == {"system.origin": "api", "team": "c"}

    system = await client.post(labels_url, json=[{"key": "system.origin", "value": "me"}])
    assert system.status_code == 400 and "system." in system.json()["message"]
    assert (await client.post(labels_url, content=b"{", headers={"content-type": "application/json"})).status_code == 400
    assert (await client.post(labels_url, json="team:a")).status_code == 400
    assert (await client.post(labels_url, json=[{"key": "a", "value": "1"}, {"key": "a", "value": "2"}])).status_code == 400
    assert (await client.post(labels_url)).status_code == 400  # no body
    assert (await client.get(f"/api/v1/executions/{execution_id}")).json()["labels"] == {"system.origin": "api", "team": "c"}
    assert (await client.post("/api/v1/executions/nope/labels", json={"a": "b"})).status_code == 404
    assert (await client.post(labels_url, json={"a": "b"}, headers={"Authorization": ""})).status_code == 401


async def test_labels_of_a_running_execution_are_refused(client: AsyncTestClient) -> None:
    assert (await client.post("/api/v1/flows", content=PAUSED, headers=YAML)).status_code == 200
    execution_id = (await client.post("/api/v1/executions/team.ef/paused")).json()["id"]
    for _ in range(500):
        state = (await client.get(f"/api/v1/executions/{execution_id}")).json()["state"]["current"]
        if state == "PAUSED":
            break
        await asyncio.sleep(0.02)
    refused = await client.post(f"/api/v1/executions/{execution_id}/labels", json={"team": "x"})
    assert refused.status_code == 400 and "PAUSED" in refused.json()["message"]
