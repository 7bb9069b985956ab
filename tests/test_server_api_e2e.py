"""Every endpoint of the REST API once, over real HTTP against the real `tercel server local`
process (one per module), with what a user of each one sees: answers, errors and streams.

Each test works in its own namespace, so the tests do not depend on each other's order.
"""

from __future__ import annotations

import io
import json
import re
import threading
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import jsonschema
import pytest
from server_support import (
    PASSWORD,
    PRESET,
    USER,
    YAML,
    Event,
    Server,
    deploy,
    execution_in,
    sse,
    until,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("api") / "home", PRESET)
    yield srv
    assert srv.stop() == 0, srv.text()


TOKEN_NAME = "e2e-api"


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[httpx.Client]:
    with server.client(token=server.token(TOKEN_NAME)) as client:
        yield client


def _ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, f"{answer.request.method} {answer.request.url}: {answer.status_code} {answer.text}"
    return answer.json() if answer.content else None


def _error(answer: httpx.Response, status: int) -> str:
    """The message of an error answer (always JSON: `{"message", "details"?}`)."""
    assert answer.status_code == status, f"{answer.request.method} {answer.request.url}: {answer.status_code} {answer.text}"
    assert answer.headers["content-type"].startswith("application/json"), answer.headers
    return str(answer.json()["message"])


# -- what the server serves ---------------------------------------------------------------------------

#: Every endpoint of the API, as its OpenAPI document lists them; each is walked by a test below.
ENDPOINTS = {
    "/api/v1/health": {"GET"},
    "/api/v1/version": {"GET"},
    "/api/v1/metrics": {"GET"},
    "/api/v1/flows": {"POST"},
    "/api/v1/flows/search": {"GET"},
    "/api/v1/flows/validate": {"POST"},
    "/api/v1/flows/graph": {"POST"},
    "/api/v1/flows/{namespace}/{flow_id}": {"GET", "PUT", "DELETE"},
    "/api/v1/flows/{namespace}/{flow_id}/revisions": {"GET"},
    "/api/v1/flows/{namespace}/{flow_id}/graph": {"GET"},
    "/api/v1/executions/{namespace}/{flow_id}": {"POST"},
    "/api/v1/executions/search": {"GET"},
    "/api/v1/executions/{execution_id}": {"GET", "DELETE"},
    "/api/v1/executions/{execution_id}/follow": {"GET"},
    "/api/v1/executions/{execution_id}/kill": {"DELETE"},
    "/api/v1/executions/{execution_id}/restart": {"POST"},
    "/api/v1/executions/{execution_id}/replay": {"POST"},
    "/api/v1/executions/{execution_id}/resume": {"POST"},
    "/api/v1/executions/{execution_id}/labels": {"POST"},
    "/api/v1/executions/{execution_id}/file": {"GET"},
    "/api/v1/executions/{execution_id}/file/metas": {"GET"},
    "/api/v1/executions/{execution_id}/files": {"GET"},
    "/api/v1/executions/webhook/{namespace}/{flow_id}/{key}": {"GET", "POST", "PUT"},
    "/api/v1/logs/{execution_id}": {"GET"},
    "/api/v1/logs/{execution_id}/download": {"GET"},
    "/api/v1/logs/{execution_id}/follow": {"GET"},
    "/api/v1/namespaces/{namespace}/kv": {"GET", "DELETE"},
    "/api/v1/namespaces/{namespace}/kv/{key}": {"GET", "PUT", "DELETE"},
    "/api/v1/namespaces/{namespace}/files": {"GET", "POST", "PUT", "DELETE"},
    "/api/v1/namespaces/{namespace}/files/directory": {"GET", "POST"},
    "/api/v1/namespaces/{namespace}/files/stats": {"GET"},
    "/api/v1/namespaces/{namespace}/files/search": {"GET"},
    "/api/v1/namespaces/{namespace}/files/export": {"GET"},
    "/api/v1/plugins": {"GET"},
    "/api/v1/plugins/schemas/{kind}": {"GET"},
    "/api/v1/plugins/{type_name}": {"GET"},
    "/api/v1/plugins/{type_name}/schema": {"GET"},
    # plugin versions: walked by tests/test_plugin_versions_e2e.py (real installs take seconds)
    "/api/v1/plugins/versions": {"GET", "POST"},
    "/api/v1/plugins/versions/{distribution}/{version}": {"DELETE"},
    "/api/v1/plugins/locks": {"GET"},
    "/api/v1/triggers": {"PUT"},
    "/api/v1/triggers/search": {"GET"},
    "/api/v1/triggers/set-disabled": {"POST"},
    "/api/v1/triggers/set-disabled/by-triggers": {"POST"},
    "/api/v1/triggers/backfill/delete": {"POST"},
    "/api/v1/triggers/{namespace}/{flow_id}": {"GET"},
    "/api/v1/triggers/{namespace}/{flow_id}/{trigger_id}": {"PUT"},
    "/api/v1/triggers/{namespace}/{flow_id}/{trigger_id}/unlock": {"POST"},
    "/api/v1/triggers/{namespace}/{flow_id}/{trigger_id}/backfill": {"POST", "DELETE"},
}


def test_health_and_openapi_need_no_credentials_and_list_every_endpoint(server: Server, api: httpx.Client) -> None:
    with httpx.Client(base_url=f"{server.url}/api/v1", timeout=30) as anonymous:
        assert _ok(anonymous.get("/health")) == {"status": "UP", "components": {"database": "UP"}}
        document = _ok(anonymous.get("/openapi/openapi.json"))
    assert document["openapi"].startswith("3.")
    served = {
        path: {method.upper() for method in operations if method in ("get", "post", "put", "delete", "patch")}
        for path, operations in document["paths"].items()
    }
    assert served == ENDPOINTS, (
        "the API changed: walk the new endpoints in this module and list them in ENDPOINTS "
        f"(new: {sorted((p, sorted(m)) for p, m in served.items() if ENDPOINTS.get(p) != m)}, "
            f"gone: {sorted((p, sorted(m)) for p, m in ENDPOINTS.items() if served.get(p) != m)})"
    )
    versions = _ok(api.get("/version"))
    assert set(versions) >= {"tercel-core", "tercel-server"} and all(re.match(r"\d+\.\d+", v) for v in versions.values())


def test_bad_or_missing_credentials_get_401_basic_and_bearer(server: Server) -> None:
    url = f"{server.url}/api/v1"
    flow = "id: never\nnamespace: e2e.auth\ntasks:\n  - id: r\n    type: tercel.core.Return\n    format: x\n"
    attempts = {
        "no credentials": {},
        "wrong password": {"auth": (USER, PASSWORD + "x")},
        "unknown user": {"auth": ("root", PASSWORD)},
        "malformed basic": {"headers": {"Authorization": "Basic not-base64!"}},
        "unknown token": {"headers": {"Authorization": "Bearer tcl_not-a-token"}},
        "unknown scheme": {"headers": {"Authorization": "Digest username=ops"}},
    }
    for why, how in attempts.items():
        for method, path, body in (("POST", "/flows", flow), ("GET", "/metrics", None)):
            answer = httpx.request(method, url + path, content=body, headers={**YAML, **how.get("headers", {})},
                                   auth=how.get("auth"), timeout=30)
            assert answer.status_code == 401, (why, method, path, answer.text)
            assert "Basic" in answer.headers["www-authenticate"] and "Bearer" in answer.headers["www-authenticate"]
            assert answer.json()["message"], why
    assert httpx.get(f"{url}/flows/e2e.auth/never", auth=(USER, PASSWORD)).status_code == 404  # nothing was created

    with server.client() as basic:  # the account's password
        assert basic.get("/flows/search").status_code == 200
    bearer = {"Authorization": f"Bearer {server.token('e2e-ci')}"}
    assert httpx.get(f"{url}/flows/search", headers=bearer, timeout=30).status_code == 200  # read by the running server
    assert httpx.post(f"{url}/flows", content=flow, headers={**YAML, **bearer}, timeout=30).status_code == 200
    assert server.cli("server", "token", "revoke", "e2e-ci").returncode == 0
    revoked = httpx.get(f"{url}/flows/search", headers=bearer, timeout=30)
    assert revoked.status_code == 401 and "revoked" in revoked.json()["message"]


# -- flows --------------------------------------------------------------------------------------------

HELLO = """\
# a flow, kept as it was written: comments, blank lines, quotes and key order
id: hello
namespace: e2e.flows.team   # a trailing comment

description: "Says héllo"
tasks:
  # the only task, with a Kestra alias
  - id: say
    type: io.kestra.plugin.core.debug.Return
    format: 'hi from {{ flow.id }}'
"""


def _simple(flow_id: str, namespace: str, message: str = "m") -> str:
    return f"id: {flow_id}\nnamespace: {namespace}\ntasks:\n  - id: t\n    type: tercel.core.Log\n    message: {message}\n"


def test_a_flow_is_created_read_searched_updated_and_deleted(api: httpx.Client) -> None:
    created = _ok(api.post("/flows", content=HELLO.encode(), headers=YAML))
    assert created["revision"] == 1 and created["source"] == HELLO
    assert "already exists" in _error(api.post("/flows", content=HELLO, headers=YAML), 409)

    raw = api.get("/flows/e2e.flows.team/hello", headers={"Accept": "application/x-yaml"})
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("application/x-yaml")
    assert raw.content == HELLO.encode()  # byte for byte, comments included
    doc = _ok(api.get("/flows/e2e.flows.team/hello"))
    assert doc["tasks"] == [{"id": "say", "type": "io.kestra.plugin.core.debug.Return", "format": "hi from {{ flow.id }}"}]
    assert doc["description"] == "Says héllo" and "source" not in doc and doc["revision"] == 1
    assert _ok(api.get("/flows/e2e.flows.team/hello", params={"source": "true"}))["source"] == HELLO
    ran = _ok(api.post("/executions/e2e.flows.team/hello", params={"wait": "true"}))
    assert ran["state"]["current"] == "SUCCESS" and ran["taskRunList"][0]["outputs"] == {"value": "hi from hello"}

    from_json = {"id": "from_json", "namespace": "e2e.flows.team.sub", "tasks": [{"id": "t", "type": "tercel.core.Log", "message": "j"}]}
    assert "id: from_json" in _ok(api.post("/flows", json=from_json))["source"]
    deploy(api, _simple("other", "e2e.flows.elsewhere"))

    def ids(**params: Any) -> list[str]:
        return sorted(r["id"] for r in _ok(api.get("/flows/search", params=params))["results"])

    assert ids(namespace="e2e.flows.team") == ["from_json", "hello"]  # a namespace and its children
    assert ids(namespace="e2e.flows", q="héllo") == ["hello"]  # text in the source
    assert ids(namespace="e2e.flows", q="ELSEWHERE") == ["other"]
    pages = [_ok(api.get("/flows/search", params={"namespace": "e2e.flows", "size": 2, "page": p})) for p in (1, 2, 3)]
    assert [p["total"] for p in pages] == [3, 3, 3] and [len(p["results"]) for p in pages] == [2, 1, 0]
    assert sorted(r["id"] for p in pages for r in p["results"]) == ["from_json", "hello", "other"]
    assert api.get("/flows/search", params={"size": 0}).status_code == 400

    assert _ok(api.put("/flows/e2e.flows.team/hello", content=HELLO, headers=YAML))["revision"] == 1  # unchanged
    changed = HELLO.replace("hi from", "hello from")
    updated = _ok(api.put("/flows/e2e.flows.team/hello", content=changed, headers=YAML))
    assert updated["revision"] == 2 and updated["source"] == changed
    assert "differ from the URL" in _error(api.put("/flows/e2e.flows.team/other", content=changed, headers=YAML), 400)
    assert _error(api.put("/flows/e2e.flows.team/nope", content=changed.replace("id: hello", "id: nope"), headers=YAML), 404)
    revisions = _ok(api.get("/flows/e2e.flows.team/hello/revisions", params={"source": "true"}))
    assert [(r["revision"], r["deleted"], r["source"]) for r in revisions] == [(1, False, HELLO), (2, False, changed)]
    assert _ok(api.get("/flows/e2e.flows.team/hello", params={"revision": 1, "source": "true"}))["source"] == HELLO
    assert api.get("/flows/e2e.flows.team/hello", params={"revision": 3}).status_code == 404

    assert api.delete("/flows/e2e.flows.team/hello").status_code == 204
    assert "does not exist" in _error(api.get("/flows/e2e.flows.team/hello"), 404)
    assert api.delete("/flows/e2e.flows.team/hello").status_code == 404
    assert api.post("/executions/e2e.flows.team/hello").status_code == 404
    assert ids(namespace="e2e.flows.team") == ["from_json"]
    history = _ok(api.get("/flows/e2e.flows.team/hello/revisions"))
    assert [r["deleted"] for r in history] == [False, False, True]  # a tombstone: the history is kept


def test_validation_answers_every_problem_with_its_line_and_column(api: httpx.Client) -> None:
    good = _simple("fine", "e2e.validate")
    bad = (
        "id: wrong\n"
        "namespace: e2e.validate\n"
        "tasks:\n"
        "  - id: t1\n"
        "    type: tercel.core.Log\n"  # no message
        "  - id: t2\n"
        "    type: tercel.core.Nope\n"
    )
    # the broken flow first, so that its positions are the body's own
    results = _ok(api.post("/flows/validate", content=bad + "---\n" + good, headers=YAML))
    assert [(r["index"], r.get("flow")) for r in results] == [(0, None), (1, "fine")]
    assert results[1]["problems"] == []
    problems = {(p["path"], p["line"], p["column"]) for p in results[0]["problems"]}
    assert problems == {("tasks[0]", 4, 5), ("tasks[1].type", 7, 5)}, results[0]  # every problem, not the first
    assert "tercel.core.Nope" in results[0]["constraints"] and "message" in results[0]["constraints"]
    assert api.get("/flows/e2e.validate/fine").status_code == 404  # validating saves nothing


def test_invalid_flows_get_422_naming_the_line_and_column(api: httpx.Client) -> None:
    malformed = "id: broken\nnamespace: e2e.invalid\ntasks:\n  - id: t\n    type: tercel.core.Log\n    message: [unclosed\n"
    answer = api.post("/flows", content=malformed, headers=YAML)
    assert "YAML" in _error(answer, 422)
    (detail,) = answer.json()["details"]
    assert isinstance(detail["line"], int) and isinstance(detail["column"], int) and detail["line"] >= 6
    tabbed = "id: tabbed\nnamespace: e2e.invalid\ntasks:\n\t- id: t\n"
    assert api.post("/flows", content=tabbed, headers=YAML).json()["details"][0]["line"] == 4
    indented = "id: indented\nnamespace: e2e.invalid\ntasks:\n  - id: t\n    type: tercel.core.Log\n     message: x\n"
    (detail,) = api.post("/flows", content=indented, headers=YAML).json()["details"]
    assert (detail["line"], detail["column"]) == (6, 13) and "mapping values" in detail["message"]
    twice = "id: twice\nnamespace: e2e.invalid\nid: again\ntasks: []\n"
    (detail,) = api.post("/flows", content=twice, headers=YAML).json()["details"]
    assert (detail["line"], detail["column"]) == (3, 1) and "duplicate key" in detail["message"]

    unknown = "id: unknown\nnamespace: e2e.invalid\ntasks:\n  - id: t\n    type: tercel.core.Lgo\n    message: hi\n"
    answer = api.post("/flows", content=unknown, headers=YAML)
    _error(answer, 422)
    (detail,) = answer.json()["details"]
    assert "tercel.core.Lgo" in detail["message"] and "tercel.core.Log" in detail["hint"]
    assert (detail["path"], detail["line"], detail["column"]) == ("tasks[0].type", 5, 5)
    graph = api.post("/flows/graph", content=unknown, headers=YAML)
    assert graph.status_code == 422 and graph.json()["details"][0]["line"] == 5
    for flow_id in ("broken", "tabbed", "indented", "twice", "again", "unknown"):
        assert api.get(f"/flows/e2e.invalid/{flow_id}").status_code == 404  # nothing saved
    assert api.post("/flows", content=_simple("pdf", "e2e.invalid"), headers={"content-type": "application/pdf"}).status_code == 400
    assert api.post("/flows", content=b"\xff\xfe", headers=YAML).status_code == 400


def test_unknown_flows_executions_and_types_get_404(api: httpx.Client) -> None:
    for method, path in (
        ("GET", "/flows/e2e.nowhere/nope"), ("PUT", "/flows/e2e.nowhere/nope"), ("DELETE", "/flows/e2e.nowhere/nope"),
        ("GET", "/flows/e2e.nowhere/nope/revisions"), ("GET", "/flows/e2e.nowhere/nope/graph"),
        ("POST", "/executions/e2e.nowhere/nope"), ("GET", "/triggers/e2e.nowhere/nope"),
        ("GET", "/executions/nope"), ("DELETE", "/executions/nope"), ("DELETE", "/executions/nope/kill"),
        ("POST", "/executions/nope/restart"), ("POST", "/executions/nope/replay"), ("POST", "/executions/nope/resume"),
        ("POST", "/executions/nope/labels"), ("GET", "/executions/nope/files"), ("GET", "/executions/nope/follow"),
        ("GET", "/logs/nope"), ("GET", "/logs/nope/download"), ("GET", "/logs/nope/follow"),
        ("GET", "/plugins/tercel.core.Lgo"), ("GET", "/plugins/tercel.core.Lgo/schema"), ("GET", "/plugins/schemas/task"),
        ("GET", "/namespaces/e2e.nowhere/kv/nope"), ("GET", "/namespaces/e2e.nowhere/files?path=/nope.txt"),
        ("POST", "/executions/webhook/e2e.nowhere/nope/some-key"), ("GET", "/no/such/endpoint"),
    ):
        content = _simple("nope", "e2e.nowhere") if method == "PUT" else (b"[]" if "labels" in path else None)
        answer = api.request(method, path, content=content, headers=YAML if method == "PUT" else {"content-type": "application/json"})
        assert answer.status_code == 404, (method, path, answer.status_code, answer.text)
        assert answer.json()["message"], (method, path)
    suggestion = api.get("/plugins/tercel.core.Lgo").json()
    assert "tercel.core.Log" in [d["suggestion"] for d in suggestion["details"]]


# -- executions ---------------------------------------------------------------------------------------

GREET = """\
id: greet
namespace: e2e.exec
inputs:
  - id: name
    type: STRING
  - id: count
    type: INT
    defaults: 1
  - id: doc
    type: FILE
    required: false
tasks:
  - id: hello
    type: tercel.core.Return
    format: "hi {{ inputs.name }} x{{ inputs.count }}"
  - id: read
    type: tercel.core.Return
    format: "{{ inputs.doc is not none and read(inputs.doc) or '-' }}"
  - id: write
    type: tercel.core.storage.Write
    content: "report for {{ inputs.name }}"
    extension: .txt
"""


def test_executions_with_json_and_multipart_inputs_their_files_and_search(api: httpx.Client) -> None:
    deploy(api, GREET)
    by_json = _ok(api.post("/executions/e2e.exec/greet", params={"wait": "true", "labels": ["team:data", "env:ci"]},
                           json={"name": "Ada", "count": 3}))
    assert by_json["state"]["current"] == "SUCCESS", by_json
    assert by_json["inputs"] == {"name": "Ada", "count": 3, "doc": None}  # typed as declared
    assert by_json["labels"] == {"team": "data", "env": "ci"}
    assert [t["outputs"].get("value") for t in by_json["taskRunList"][:2]] == ["hi Ada x3", "-"]
    assert by_json["plugins"]["tercel.core.Return"]["distribution"] == "tercel-plugin-core"
    assert _ok(api.get(f"/executions/{by_json['id']}"))["state"] == by_json["state"]

    body = b"from a file\nline two\n"
    by_form = _ok(api.post("/executions/e2e.exec/greet", params={"wait": "true"},
                           data={"name": "Bob", "count": "2"}, files={"doc": ("note.txt", body, "text/plain")}))
    assert by_form["state"]["current"] == "SUCCESS", by_form
    assert [t["outputs"].get("value") for t in by_form["taskRunList"][:2]] == ["hi Bob x2", body.decode()]
    doc_uri = by_form["inputs"]["doc"]
    assert doc_uri.startswith(f"tercel:///e2e/exec/greet/executions/{by_form['id']}/")
    report_uri = by_form["taskRunList"][2]["outputs"]["uri"]

    files = _ok(api.get(f"/executions/{by_form['id']}/files"))
    assert {f["uri"]: f["size"] for f in files} == {doc_uri: len(body), report_uri: len(b"report for Bob")}
    download = api.get(f"/executions/{by_form['id']}/file", params={"path": doc_uri})
    assert download.status_code == 200 and download.content == body
    report = api.get(f"/executions/{by_form['id']}/file", params={"path": report_uri})
    assert report.content == b"report for Bob" and report.headers["content-disposition"].endswith('.txt"')
    assert _ok(api.get(f"/executions/{by_form['id']}/file/metas", params={"path": report_uri})) == {"size": 14}
    other_namespace = "tercel:///tutorial/hello_world/executions/x/file.txt"
    assert _error(api.get(f"/executions/{by_form['id']}/file", params={"path": other_namespace}), 403)
    assert _error(api.get(f"/executions/{by_form['id']}/file", params={"path": doc_uri + "/../../../../x"}), 422)
    assert _error(api.get(f"/executions/{by_form['id']}/file", params={"path": "/etc/passwd"}), 422)
    assert _error(api.get(f"/executions/{by_form['id']}/file/metas", params={"path": doc_uri + ".missing"}), 404)

    wrong = api.post("/executions/e2e.exec/greet", json={"name": "x", "count": "many"})
    assert _error(wrong, 422) and wrong.json()["details"][0]["path"] == "inputs.count"
    missing = api.post("/executions/e2e.exec/greet", json={})
    assert _error(missing, 422) and missing.json()["details"][0]["path"] == "inputs.name"
    assert _error(api.post("/executions/e2e.exec/greet", json={"name": "x", "doc": "/etc/passwd"}), 422)  # no server paths
    assert _error(api.post("/executions/e2e.exec/greet", content=b"{", headers={"content-type": "application/json"}), 400)
    assert _error(api.post("/executions/e2e.exec/greet", json=["not", "an", "object"]), 400)

    def found(**params: Any) -> set[str]:
        answer = _ok(api.get("/executions/search", params={"namespace": "e2e.exec", **params}))
        return {r["id"] for r in answer["results"]}

    both = {by_json["id"], by_form["id"]}
    assert found() == both and found(flowId="greet", state="SUCCESS") == both
    assert found(labels="team:data") == {by_json["id"]} and found(labels=["team:data", "env:prod"]) == set()
    assert found(state=["FAILED", "KILLED"]) == set()
    first, second = (_ok(api.get("/executions/search", params={"namespace": "e2e.exec", "size": 1, "page": p})) for p in (1, 2))
    assert first["more"] and not second["more"] and {first["results"][0]["id"], second["results"][0]["id"]} == both
    assert found(startDate="2000-01-01T00:00:00Z") == both and found(endDate="2000-01-01T00:00:00Z") == set()
    assert "unknown state" in _error(api.get("/executions/search", params={"state": "NOPE"}), 400)
    assert _error(api.get("/executions/search", params={"startDate": "2000-01-01T00:00:00"}), 400)  # no timezone
    assert _error(api.get("/executions/search", params={"labels": "no-colon"}), 400)


SLEEPY = "id: sleepy\nnamespace: e2e.kill\ntasks:\n  - id: nap\n    type: tercel.core.Sleep\n    duration: PT60S\n"


def test_a_running_execution_is_killed_and_its_stream_ends(api: httpx.Client) -> None:
    deploy(api, SLEEPY)
    ex = _ok(api.post("/executions/e2e.kill/sleepy"))
    until(lambda: [t["state"]["current"] for t in api.get(f"/executions/{ex['id']}").json()["taskRunList"]] == ["RUNNING"],
          what="the task running")
    with ThreadPoolExecutor(2) as pool:
        ready = threading.Event()
        followed = pool.submit(sse, api, f"/executions/{ex['id']}/follow", ready=ready)
        logs = pool.submit(sse, api, f"/logs/{ex['id']}/follow")
        assert ready.wait(10), "no first event"
        assert "kill it before deleting it" in _error(api.delete(f"/executions/{ex['id']}"), 400)
        assert _ok(api.delete(f"/executions/{ex['id']}/kill"), 202) == {"id": ex["id"], "state": "KILLING"}
        events, log_events = followed.result(), logs.result()
    assert {e.event for e in events} == {"execution"}
    assert events[0].data["state"]["current"] == "RUNNING"  # followed live,
    assert events[-1].data["state"]["current"] == "KILLED"  # and the stream ended by itself with the execution
    assert [h["state"] for h in events[-1].data["state"]["histories"]][-2:] == ["KILLING", "KILLED"]
    assert all(e.event == "log" for e in log_events) and log_events[-1].data["message"] == f"execution {ex['id']} ended KILLED"
    assert [int(e.id or 0) for e in log_events] == sorted(int(e.id or 0) for e in log_events)
    done = _ok(api.get(f"/executions/{ex['id']}"))
    assert done["state"]["current"] == "KILLED" and done["taskRunList"][0]["state"]["current"] == "KILLED"
    assert "already ended KILLED" in _error(api.delete(f"/executions/{ex['id']}/kill"), 400)
    assert api.delete(f"/executions/{ex['id']}").status_code == 204
    assert api.get(f"/executions/{ex['id']}").status_code == 404


PAUSED = """\
id: approval
namespace: e2e.pause
tasks:
  - id: wait
    type: tercel.core.Pause
    onResume:
      - id: approver
        type: STRING
      - id: amount
        type: INT
  - id: after
    type: tercel.core.Log
    message: "approved by {{ outputs.wait.onResume.approver }} for {{ outputs.wait.onResume.amount + 1 }}"
  - id: warn
    type: tercel.core.Log
    level: WARN
    message: careful
"""


def test_a_paused_execution_is_resumed_with_inputs_while_its_streams_are_followed(api: httpx.Client) -> None:
    deploy(api, PAUSED)
    ex = _ok(api.post("/executions/e2e.pause/approval"))
    execution_in(api, ex["id"], "PAUSED")
    with ThreadPoolExecutor(2) as pool:
        ready = threading.Event(), threading.Event()
        followed = pool.submit(sse, api, f"/executions/{ex['id']}/follow", ready=ready[0])
        logs = pool.submit(sse, api, f"/logs/{ex['id']}/follow", ready=ready[1])
        assert ready[0].wait(10) and ready[1].wait(10), "the streams did not start"
        refused = api.post(f"/executions/{ex['id']}/resume", json={"approver": "Ada", "amount": "lots"})
        assert "inputs.amount" in _error(refused, 422)
        assert _ok(api.post(f"/executions/{ex['id']}/resume", json={"approver": "Ada", "amount": 41})) == {"id": ex["id"], "state": "RUNNING"}
        events, log_events = followed.result(), logs.result()

    assert events[0].data["state"]["current"] == "PAUSED" and events[-1].data["state"]["current"] == "SUCCESS"
    assert [int(e.id or 0) for e in events] == sorted({int(e.id or 0) for e in events})  # one event per new version
    messages = [e.data["message"] for e in log_events]
    assert messages == [
        "task 'wait' paused the execution", f"task 'wait' resumed by {TOKEN_NAME}", "approved by Ada for 42", "careful",
        f"execution {ex['id']} ended SUCCESS",
    ]
    assert "not PAUSED" in _error(api.post(f"/executions/{ex['id']}/resume", json={"approver": "x", "amount": 1}), 422)

    searched = _ok(api.get(f"/logs/{ex['id']}"))
    assert [entry["message"] for entry in searched] == messages
    assert all(entry["executionId"] == ex["id"] for entry in searched)
    assert [entry["message"] for entry in _ok(api.get(f"/logs/{ex['id']}", params={"minLevel": "WARN"}))] == ["careful"]
    after_run = next(t for t in events[-1].data["taskRunList"] if t["taskId"] == "after")
    assert [entry["message"] for entry in _ok(api.get(f"/logs/{ex['id']}", params={"taskRunId": after_run["id"]}))] == ["approved by Ada for 42"]
    assert "unknown log level" in _error(api.get(f"/logs/{ex['id']}", params={"minLevel": "LOUD"}), 400)
    text = api.get(f"/logs/{ex['id']}/download")
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    assert f'filename="{ex["id"]}.log"' in text.headers["content-disposition"]
    lines = text.text.splitlines()
    assert len(lines) == len(messages) and all(line.endswith(m) for line, m in zip(lines, messages, strict=True))
    assert re.match(r"\d{4}-\d\d-\d\dT\S+ WARN +warn careful$", lines[3]), lines[3]


FAILING = """\
id: flaky
namespace: e2e.restart
tasks:
  - id: first
    type: tercel.core.Return
    format: "{{ execution.id }}"
  - id: boom
    type: tercel.core.Fail
    condition: "{{ kv('broken', errorOnMissing=false) ?? true }}"
    errorMessage: still broken
  - id: last
    type: tercel.core.Return
    format: fixed
"""


def test_a_failed_execution_is_restarted_replayed_labelled_and_deleted(api: httpx.Client) -> None:
    deploy(api, FAILING)
    failed = _ok(api.post("/executions/e2e.restart/flaky", params={"wait": "true"}))
    assert failed["state"]["current"] == "FAILED"
    assert [t["taskId"] for t in failed["taskRunList"]] == ["first", "boom"]
    logs = _ok(api.get(f"/logs/{failed['id']}", params={"minLevel": "ERROR"}))
    assert any("still broken" in entry["message"] for entry in logs), logs

    assert _ok(api.put("/namespaces/e2e.restart/kv/broken", json=False))["type"] == "BOOLEAN"  # what the task reads
    restarted = _ok(api.post(f"/executions/{failed['id']}/restart"))
    assert restarted["id"] == failed["id"] and restarted["state"]["current"] == "RESTARTED"
    done = execution_in(api, failed["id"], "SUCCESS", "FAILED")
    assert done["state"]["current"] == "SUCCESS", done
    attempts = {t["taskId"]: len(t["attempts"]) for t in done["taskRunList"]}
    assert attempts == {"first": 1, "boom": 2, "last": 1}  # only the failed task ran again
    assert done["labels"].get("system.restarted") == "true"
    assert "no failed task run" in _error(api.post(f"/executions/{failed['id']}/restart"), 422)

    boom = next(t for t in done["taskRunList"] if t["taskId"] == "boom")
    replay = _ok(api.post(f"/executions/{failed['id']}/replay", params={"taskRunId": boom["id"]}))
    assert replay["id"] != failed["id"] and replay["originalId"] == failed["id"]
    replayed = execution_in(api, replay["id"], "SUCCESS", "FAILED")
    assert replayed["state"]["current"] == "SUCCESS"
    first_run = next(t for t in replayed["taskRunList"] if t["taskId"] == "first")
    assert first_run["outputs"] == {"value": failed["id"]}  # kept from the original, not run again
    whole = execution_in(api, _ok(api.post(f"/executions/{failed['id']}/replay"))["id"], "SUCCESS", "FAILED")
    assert next(t for t in whole["taskRunList"] if t["taskId"] == "first")["outputs"] == {"value": whole["id"]}
    assert _error(api.post(f"/executions/{failed['id']}/replay", params={"taskRunId": "nope"}), 422)

    labelled = _ok(api.post(f"/executions/{failed['id']}/labels", json=[{"key": "reviewed", "value": "yes"}]))
    assert labelled["labels"]["reviewed"] == "yes" and labelled["labels"]["system.restarted"] == "true"
    assert _ok(api.post(f"/executions/{failed['id']}/labels", json={"reviewed": "twice"}))["labels"]["reviewed"] == "twice"
    assert "system." in _error(api.post(f"/executions/{failed['id']}/labels", json=[{"key": "system.x", "value": "1"}]), 400)
    assert _error(api.post(f"/executions/{failed['id']}/labels", content=b"{", headers={"content-type": "application/json"}), 400)
    searched = _ok(api.get("/executions/search", params={"namespace": "e2e.restart", "labels": "reviewed:twice"}))
    assert [r["id"] for r in searched["results"]] == [failed["id"]]

    assert api.delete(f"/executions/{failed['id']}").status_code == 204
    assert api.get(f"/executions/{failed['id']}").status_code == 404
    left = _ok(api.get("/executions/search", params={"namespace": "e2e.restart"}))
    assert {r["id"] for r in left["results"]} == {replay["id"], whole["id"]}


# -- KV and namespace files ---------------------------------------------------------------------------

def test_kv_values_are_put_with_a_ttl_read_listed_and_deleted(api: httpx.Client) -> None:
    kv = "/namespaces/e2e.kv/kv"
    short = _ok(api.put(f"{kv}/short", content="hello", headers={"content-type": "text/plain", "ttl": "PT2S"}))
    assert short["key"] == "short" and short["type"] == "STRING" and short["expirationDate"]
    assert _ok(api.get(f"{kv}/short")) == {"type": "STRING", "value": "hello"}
    assert [e["key"] for e in _ok(api.get(kv))] == ["short"]
    assert _ok(api.put(f"{kv}/day", content="2024-01-31", headers={"content-type": "text/plain"}, params={"ttl": "PT1H"}))["type"] == "DATE"
    assert _ok(api.put(f"{kv}/obj", json={"a": [1, 2], "b": None}))["type"] == "JSON"
    assert _ok(api.put(f"{kv}/n", json=42))["type"] == "NUMBER"
    assert _ok(api.get(f"{kv}/obj")) == {"type": "JSON", "value": {"a": [1, 2], "b": None}}
    assert _ok(api.get(f"{kv}/day")) == {"type": "DATE", "value": "2024-01-31"}
    listed = {e["key"]: e for e in _ok(api.get(kv))}
    assert set(listed) >= {"day", "obj", "n"} and listed["obj"]["expirationDate"] is None and listed["day"]["expirationDate"]
    assert [e["key"] for e in _ok(api.get(kv, params={"prefix": "o"}))] == ["obj"]

    until(lambda: api.get(f"{kv}/short").status_code == 404, within=5, what="the key expiring")
    assert "short" not in {e["key"] for e in _ok(api.get(kv))}

    assert _ok(api.delete(f"{kv}/obj")) is True
    assert "no value" in _error(api.delete(f"{kv}/obj"), 404)
    assert _ok(api.request("DELETE", kv, json={"keys": ["n", "day", "never-set"]})) == {"keys": ["n", "day"]}
    assert _ok(api.get(kv)) == []
    assert _error(api.put(f"{kv}/bad key!", json=1), 422)
    assert "ttl" in _error(api.put(f"{kv}/x", json=1, params={"ttl": "soon"}), 400)
    assert _error(api.request("DELETE", kv, json={"keys": ["ok", "../bad"]}), 422)


def test_namespace_files_are_uploaded_listed_moved_exported_and_deleted(server: Server, api: httpx.Client) -> None:
    files = "/namespaces/e2e.nsfiles/files"

    def upload(path: str | None, name: str, content: bytes) -> Any:
        return api.post(files, params={} if path is None else {"path": path}, files={"fileContent": (name, content)})

    assert [e["path"] for e in _ok(upload("/scripts/etl.py", "ignored.py", b"print('etl')\n"))] == ["/scripts/etl.py"]
    assert [e["path"] for e in _ok(upload("/scripts/", "query.sql", b"select 1"))] == ["/scripts/query.sql"]
    assert [e["path"] for e in _ok(upload(None, "top.txt", b"top"))] == ["/top.txt"]
    assert [e["fileName"] for e in _ok(upload("/docs/résumé €.txt", "x", "héllo".encode()))] == ["résumé €.txt"]
    named = api.get(files, params={"path": "/docs/résumé €.txt"})
    assert named.content == "héllo".encode() and "r%C3%A9sum%C3%A9%20%E2%82%AC.txt" in named.headers["content-disposition"]
    assert api.delete(files, params={"path": "/docs"}).status_code == 204
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a/one.txt", "1")
        z.writestr("two.txt", "22")
    unpacked = _ok(upload("/imported/", "bundle.zip", archive.getvalue()))
    assert sorted(e["path"] for e in unpacked) == ["/imported/a/one.txt", "/imported/two.txt"]

    got = api.get(files, params={"path": "/scripts/etl.py"})
    assert got.status_code == 200 and got.content == b"print('etl')\n"
    assert got.headers["content-disposition"].endswith('filename="etl.py"')
    root = _ok(api.get(f"{files}/directory"))
    assert {(e["fileName"], e["type"]) for e in root} == {("scripts", "Directory"), ("imported", "Directory"), ("top.txt", "File")}
    scripts = _ok(api.get(f"{files}/directory", params={"path": "/scripts"}))
    assert {(e["path"], e["size"]) for e in scripts} == {("/scripts/etl.py", 13), ("/scripts/query.sql", 8)}
    assert _ok(api.post(f"{files}/directory", params={"path": "/empty/sub"}))["type"] == "Directory"
    assert _ok(api.get(f"{files}/stats", params={"path": "/scripts/query.sql"}))["type"] == "File"
    assert _ok(api.get(f"{files}/stats", params={"path": "/imported"}))["type"] == "Directory"
    assert _ok(api.get(f"{files}/search", params={"q": "ONE"})) == ["/imported/a/one.txt"]
    assert "is a folder" in _error(api.get(files, params={"path": "/scripts"}), 400)
    assert "is a file" in _error(api.get(f"{files}/directory", params={"path": "/top.txt"}), 400)
    assert _error(upload("/top.txt/inside.txt", "x", b"x"), 409)

    assert _ok(api.put(files, params={"from": "/scripts", "to": "/code"})) == [
        {"from": "/scripts/etl.py", "to": "/code/etl.py"}, {"from": "/scripts/query.sql", "to": "/code/query.sql"},
    ]
    assert api.get(files, params={"path": "/scripts/etl.py"}).status_code == 404
    exported = api.get(f"{files}/export")
    assert exported.status_code == 200 and exported.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(exported.content)) as z:
        assert {n: z.read(n) for n in z.namelist()} == {
            "code/etl.py": b"print('etl')\n", "code/query.sql": b"select 1", "top.txt": b"top",
            "imported/a/one.txt": b"1", "imported/two.txt": b"22",
        }

    assert api.delete(files, params={"path": "/top.txt"}).status_code == 204
    assert api.delete(files, params={"path": "/imported"}).status_code == 204  # a folder, with everything in it
    assert _error(api.delete(files, params={"path": "/imported"}), 404)
    assert {e["path"] for e in _ok(api.get(f"{files}/directory"))} == {"/code/"}

    # paths that try to leave the namespace: refused, and nothing written anywhere
    tricks = ["../escaped.txt", "/../escaped.txt", "/code/../../escaped.txt", "..\\escaped.txt",
              "tercel:///e2e/escaped.txt", "/code//escaped.txt", "/code/escaped\x00.txt"]
    for trick in tricks:
        assert 400 <= upload(trick, "escaped.txt", b"x").status_code < 500, trick
        assert 400 <= api.get(files, params={"path": trick}).status_code < 500, trick
        assert 400 <= api.delete(files, params={"path": trick}).status_code < 500, trick
        assert 400 <= api.put(files, params={"from": "/code/etl.py", "to": trick}).status_code < 500, trick
    for name in ("../escaped.txt", "../../escaped.txt"):
        assert _error(upload("/code/", name, b"x"), 422)
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("fine.txt", "fine")
        z.writestr("../../escaped.txt", "evil")
    assert _error(upload("/", "evil.zip", evil.getvalue()), 422)
    assert _error(api.get("/namespaces/e2e..nsfiles/files/directory"), 422)
    assert [p.name for p in server.home.parent.rglob("*escaped*")] == []
    assert [p.name for p in server.home.parent.rglob("fine.txt")] == []  # the archive was refused as a whole
    assert {e["path"] for e in _ok(api.get(f"{files}/directory"))} == {"/code/"}
    assert _ok(api.get("/namespaces/e2e/files/directory")) == []


# -- plugins, graphs, triggers, metrics ---------------------------------------------------------------

def test_plugins_list_their_types_with_docs_and_json_schemas(api: httpx.Client) -> None:
    plugins = {p["name"]: p for p in _ok(api.get("/plugins"))}
    core = plugins["tercel-plugin-core"]
    assert core["error"] is None and re.match(r"\d+\.\d+\.\d+", core["version"])
    assert {"tercel.core.Log", "tercel.core.Pause", "tercel.core.Sleep"} <= set(core["tasks"])

    doc = _ok(api.get("/plugins/tercel.core.Log"))
    assert doc["type"] == "tercel.core.Log" and doc["distribution"] == "tercel-plugin-core" and doc["kind"] == "task"
    assert "io.kestra.plugin.core.log.Log" in doc["aliases"] and doc["properties"]["message"]["required"] is True
    assert _ok(api.get("/plugins/io.kestra.plugin.core.log.Log")) == doc  # an alias documents its type

    schema = _ok(api.get("/plugins/tercel.core.Log/schema"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert not list(validator.iter_errors({"id": "t", "type": "tercel.core.Log", "message": "hi"}))
    assert list(validator.iter_errors({"id": "t", "type": "tercel.core.Log"}))  # message is required

    flow_schema = _ok(api.get("/plugins/schemas/flow"))  # large: checked by using it, not against the metaschema
    assert flow_schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    flows = jsonschema.Draft202012Validator(flow_schema)
    good = {"id": "f", "namespace": "e2e.s", "tasks": [{"id": "t", "type": "io.kestra.plugin.core.log.Log", "message": "hi"}]}
    assert not list(flows.iter_errors(good))
    assert list(flows.iter_errors({**good, "tasks": [{"id": "t", "type": "tercel.core.Log"}]}))
    assert list(flows.iter_errors({"id": "f", "tasks": []}))  # no namespace


def test_the_graph_of_a_flow_has_its_tasks_clusters_and_edges(api: httpx.Client) -> None:
    source = (
        "id: branches\nnamespace: e2e.graph\ntasks:\n  - id: start\n    type: tercel.core.Log\n    message: s\n"
        "  - id: both\n    type: tercel.core.Parallel\n    tasks:\n      - id: left\n        type: tercel.core.Log\n        message: l\n"
        "      - id: right\n        type: tercel.core.Log\n        message: r\n"
        "errors:\n  - id: oops\n    type: tercel.core.Log\n    message: o\n"
    )
    deploy(api, source)
    graph = _ok(api.get("/flows/e2e.graph/branches/graph"))
    tasks = {n["task"]["id"]: n for n in graph["nodes"] if "task" in n}
    assert set(tasks) == {"start", "both", "left", "right", "oops"}
    assert tasks["left"]["parentTaskId"] == "both" and tasks["both"]["flowable"] is True
    assert len(graph["clusters"]) == 1
    relations = {(e["source"].rsplit(".", 1)[-1], e["target"].rsplit(".", 1)[-1], e["relation"]["relationType"]) for e in graph["edges"]}
    assert any(r[2] == "PARALLEL" for r in relations) and any(r[2] == "ERROR" for r in relations), relations
    assert _ok(api.post("/flows/graph", content=source, headers=YAML)) == graph  # an editor's live view of the same source
    assert _ok(api.get("/flows/e2e.graph/branches/graph", params={"revision": 1})) == graph


TRIGGERED = """\
id: triggered
namespace: e2e.triggers
tasks:
  - id: r
    type: tercel.core.Return
    format: "{{ trigger.body.n ?? trigger.date ?? 'none' }}"
triggers:
  - id: yearly
    type: tercel.core.trigger.Schedule
    cron: "0 0 1 1 *"
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: e2e-hook-key-1
    wait: true
"""


def test_triggers_are_listed_disabled_enabled_and_backfilled(server: Server, api: httpx.Client) -> None:
    deploy(api, TRIGGERED)
    hook = f"{server.url}/api/v1/executions/webhook/e2e.triggers/triggered/e2e-hook-key-1"
    called = httpx.post(hook, json={"n": 7}, timeout=60)  # no credentials: the key is the secret
    assert called.status_code == 200 and called.json()["taskRunList"][0]["outputs"] == {"value": "7"}
    assert httpx.get(hook, params={"a": "b"}, timeout=60).status_code == 200
    assert httpx.put(hook, content=b"", timeout=60).status_code == 200
    assert httpx.post(hook[:-1] + "2", json={}, timeout=60).status_code == 404

    def scheduled() -> dict[str, Any] | None:  # once the scheduler has taken the new flow up
        found = _ok(api.get("/triggers/search", params={"namespace": "e2e.triggers"}))
        by_id = {r["abstractTrigger"]["id"]: r for r in found["results"]}
        return found if by_id["yearly"]["triggerContext"]["nextExecutionDate"] else None

    found = until(scheduled, what="the schedule's next date")
    assert found["total"] == 2
    by_id = {r["abstractTrigger"]["id"]: r for r in found["results"]}
    assert by_id["yearly"]["abstractTrigger"]["cron"] == "0 0 1 1 *" and by_id["hook"]["abstractTrigger"]["key"] == "e2e-hook-key-1"
    assert re.fullmatch(r"\d{4}-01-01T00:00:00Z", by_id["yearly"]["triggerContext"]["nextExecutionDate"]), by_id["yearly"]
    assert _ok(api.get("/triggers/search", params={"q": "yearly", "namespace": "e2e"}))["total"] == 1
    assert _ok(api.get("/triggers/e2e.triggers/triggered"))["total"] == 2

    disabled = _ok(api.put("/triggers/e2e.triggers/triggered/hook", json={"disabled": True}))
    assert disabled["disabled"] is True
    assert httpx.post(hook, json={"n": 8}, timeout=60).status_code == 404  # a disabled webhook does not exist
    assert _ok(api.put("/triggers/e2e.triggers/triggered/hook", json={"disabled": False}))["disabled"] is False
    assert httpx.post(hook, json={"n": 9}, timeout=60).status_code == 200
    refs = [{"namespace": "e2e.triggers", "flowId": "triggered", "triggerId": t} for t in ("yearly", "hook")]
    assert _ok(api.post("/triggers/set-disabled", json={"triggers": refs, "disabled": True})) == {"count": 2}
    states = {r["triggerId"]: r["disabled"] for r in _ok(api.get("/triggers/e2e.triggers/triggered"))["results"]}
    assert states == {"yearly": True, "hook": True}
    missing = [*refs, {**refs[0], "triggerId": "nope"}]
    assert _error(api.post("/triggers/set-disabled/by-triggers", json={"triggers": missing, "disabled": False}), 404)
    assert all(r["disabled"] for r in _ok(api.get("/triggers/e2e.triggers/triggered"))["results"])  # nothing changed
    assert _ok(api.post("/triggers/set-disabled/by-triggers", json={"triggers": refs[1:], "disabled": False})) == {"count": 1}
    assert _ok(api.put("/triggers", json={**refs[0], "disabled": False}))["disabled"] is False
    assert _error(api.put("/triggers/e2e.triggers/triggered/nope", json={"disabled": True}), 404)
    assert _error(api.put("/triggers/e2e.triggers/triggered/hook", json={"disabled": "maybe"}), 400)
    assert "not locked" in _error(api.post("/triggers/e2e.triggers/triggered/yearly/unlock"), 409)

    backfill = {"start": "2020-01-01T00:00:00Z", "end": "2022-06-01T00:00:00Z", "labels": {"backfilled": "yes"}}
    state = _ok(api.post("/triggers/e2e.triggers/triggered/yearly/backfill", json=backfill))
    assert state["backfill"]["start"] == "2020-01-01T00:00:00Z"

    def backfilled(label: str, count: int) -> list[dict[str, Any]] | None:
        params = {"namespace": "e2e.triggers", "labels": f"backfilled:{label}", "state": "SUCCESS"}
        runs = _ok(api.get("/executions/search", params=params))["results"]
        return runs if len(runs) == count else None

    runs = until(lambda: backfilled("yes", 3), what="the backfill's three executions")
    assert sorted(r["trigger"]["date"] for r in runs) == ["2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z", "2022-01-01T00:00:00Z"]
    outputs = sorted(_ok(api.get(f"/executions/{r['id']}"))["taskRunList"][0]["outputs"]["value"] for r in runs)
    assert [o[:10] for o in outputs] == ["2020-01-01", "2021-01-01", "2022-01-01"]  # what the flow saw as trigger.date
    until(lambda: _ok(api.get("/triggers/e2e.triggers/triggered"))["results"][0]["backfill"] is None, what="the backfill ending")
    assert "no backfill" in _error(api.delete("/triggers/e2e.triggers/triggered/yearly/backfill"), 409)
    assert _error(api.post("/triggers/backfill/delete", json=refs[0]), 409)
    kestra_way = {"start": "2000-01-01T00:00:00Z", "end": "2000-01-01T00:00:00Z", "labels": {"backfilled": "put"}}
    assert _ok(api.put("/triggers", json={**refs[0], "backfill": kestra_way}))["backfill"]["end"] == "2000-01-01T00:00:00Z"
    (run,) = until(lambda: backfilled("put", 1), what="the execution of the backfill started with PUT")
    assert run["trigger"]["date"] == "2000-01-01T00:00:00Z"


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$')


def test_metrics_are_prometheus_text_counting_executions_by_flow_and_state(api: httpx.Client) -> None:
    deploy(api, "id: counted\nnamespace: e2e.metrics\ntasks:\n  - id: r\n    type: tercel.core.Return\n    format: x\n")
    for _ in range(2):
        assert _ok(api.post("/executions/e2e.metrics/counted", params={"wait": "true"}))["state"]["current"] == "SUCCESS"
    answer = api.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, float] = {}
    typed: set[str] = set()
    for line in answer.text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
        elif line and not line.startswith("#"):
            match = _SAMPLE.match(line)
            assert match, f"not a Prometheus sample: {line!r}"
            assert match.group(1) in typed, f"{match.group(1)} has no # TYPE line"
            samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    assert samples["tercel_up"] == 1
    assert samples['tercel_executions{namespace="e2e.metrics",flow_id="counted",state="SUCCESS"}'] == 2
    assert samples['tercel_task_runs{namespace="e2e.metrics",flow_id="counted",state="SUCCESS"}'] == 2
    assert samples["tercel_flows"] >= 1


# -- limits -------------------------------------------------------------------------------------------

MAX_BODY = 100 * 1024 * 1024  # the default `max_body_size` of tercel_server._config.ServerConfig


def test_bodies_above_the_size_limit_get_413_and_nothing_is_stored(server: Server, api: httpx.Client) -> None:
    too_big = b"# " + b"x" * MAX_BODY  # one flow, declared with its Content-Length
    answer = api.post("/flows", content=too_big, headers=YAML)
    assert answer.status_code == 413, answer.text

    boundary = "e2e-boundary"
    chunk = b"\0" * (1 << 20)

    def streamed() -> Iterator[bytes]:  # an upload of unknown length (chunked), refused once over the limit
        yield (f'--{boundary}\r\nContent-Disposition: form-data; name="fileContent"; filename="big.bin"\r\n'
               "Content-Type: application/octet-stream\r\n\r\n").encode()
        for _ in range(MAX_BODY // len(chunk) + 2):
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    try:
        upload = api.post("/namespaces/e2e.limits/files", params={"path": "/big.bin"}, content=streamed(),
                          headers={"content-type": f"multipart/form-data; boundary={boundary}"})
        assert upload.status_code == 413, upload.text
    except httpx.WriteError:  # the server may close the connection as soon as it refused the body
        pass
    assert api.get("/namespaces/e2e.limits/files", params={"path": "/big.bin"}).status_code == 404
    assert [p for p in server.home.rglob("big.bin")] == []
    small = _simple("small", "e2e.limits")
    assert _ok(api.post("/flows", content=small, headers=YAML))["source"] == small  # the server serves on


def test_server_sent_events_end_with_an_already_ended_execution(api: httpx.Client) -> None:
    deploy(api, "id: quick\nnamespace: e2e.sse\ntasks:\n  - id: l\n    type: tercel.core.Log\n    message: quick one\n")
    ex = _ok(api.post("/executions/e2e.sse/quick", params={"wait": "true"}))
    events: list[Event] = sse(api, f"/executions/{ex['id']}/follow", within=10)
    assert len(events) == 1 and events[0].data["state"]["current"] == "SUCCESS" and events[0].data["id"] == ex["id"]
    assert json.loads(json.dumps(events[0].data)) == _ok(api.get(f"/executions/{ex['id']}"))
    logs = sse(api, f"/logs/{ex['id']}/follow", within=10)
    assert [e.data["message"] for e in logs] == ["quick one", f"execution {ex['id']} ended SUCCESS"]

