"""Fuzz every operation of the published OpenAPI document: no request makes the server answer 5xx.

Schemathesis reads the app's own `/api/v1/openapi/openapi.json` and sends generated requests (valid
and invalid ones) to every operation in process, over ASGI. The one check is `not_a_server_error`:
whatever a client sends, the answer is a 2xx, 3xx or 4xx, never a 500 that names nothing to fix.

What the test adds to the document before fuzzing it (the app is not changed for it):

* request bodies: many handlers read the raw body (YAML flows, JSON inputs, KV values, uploads), so
  the document does not describe one; `BODIES` describes them loosely, so bodies are sent too;
* seeded resources: the app starts with flows, an execution, a KV value and a namespace file, and
  the generated path and query values are sometimes swapped for theirs (`KNOWN`), so requests
  reach existing resources as well as missing ones. A successful DELETE or PUT is followed by
  seeding again, so later operations still find them;
* text that is not Unicode: a JSON body sometimes carries an escaped lone surrogate (`"\\ud800"`),
  which JSON parsers accept and generated strings never hold.

It is bounded: few examples per operation (`TERCEL_FUZZ_EXAMPLES` asks for more, for a deeper run
by hand), `derandomize=True` (the same requests on every run), a request timeout (which also cuts
the live `/follow` streams short, so none is excluded), and one app lifespan (the runtime started
and stopped once) for the whole module. An API token authenticates every request.
"""

from __future__ import annotations

import asyncio
import copy
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from litestar import Litestar
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi
from tercel_server import ServerConfig, create_app
from tercel_server._auth import Credentials

OPENAPI = "/api/v1/openapi/openapi.json"
USER, PASSWORD = "fuzzer", "fuzz-pass"
MAX_EXAMPLES = int(os.environ.get("TERCEL_FUZZ_EXAMPLES", "15"))  # per operation, besides schemathesis' coverage cases
REQUEST_TIMEOUT = 5.0  # seconds; an SSE `/follow` stream is cut there (schemathesis keeps what came)

NAMESPACE = "fuzz.team"
HELLO = f"""id: hello
namespace: {NAMESPACE}
inputs:
  - id: name
    type: STRING
    defaults: world
  - id: attachment
    type: FILE
    required: false
tasks:
  - id: say
    type: tercel.core.Return
    format: "hello {{{{ inputs.name }}}}"
triggers:
  - id: yearly
    type: tercel.core.trigger.Schedule
    cron: "0 0 1 1 *"
  - id: hook
    type: tercel.core.trigger.Webhook
    key: fuzz-key
"""
NESTED = f"""id: nested
namespace: {NAMESPACE}
tasks:
  - id: each
    type: tercel.core.Parallel
    tasks:
      - id: a
        type: tercel.core.Log
        message: a
      - id: b
        type: tercel.core.Return
        format: b
"""
NAMESPACE_FILE = "/scripts/hello.py"

# Path and query values of the seeded resources (the execution's are filled in by `_seed`).
KNOWN: dict[str, list[str]] = {
    "namespace": [NAMESPACE],
    "flow_id": ["hello", "nested"],
    "trigger_id": ["yearly", "hook"],
    "key": ["greeting", "fuzz-key"],  # a KV key, and the Webhook trigger's key
    "type_name": ["tercel.core.Return", "tercel.core.Parallel"],
    "kind": ["flow"],
    "execution_id": [],
    "file_uri": [],
    "task_run_id": [],
}

_ANY_JSON: dict[str, Any] = {}
_YAML_OR_JSON = {
    "application/x-yaml": {"schema": {"type": "string"}},
    "application/json": {"schema": {"anyOf": [{"type": "object"}, _ANY_JSON]}},
}
_INPUTS = {
    "application/json": {"schema": {"anyOf": [
        {"type": "object", "properties": {"name": {"type": "string"}, "attachment": {"type": "string"}}},
        _ANY_JSON,
    ]}},
    "multipart/form-data": {"schema": {
        "type": "object", "properties": {"name": {"type": "string"}, "attachment": {"type": "string", "format": "binary"}},
    }},
}
_TRIGGER = {
    "type": "object",
    "properties": {
        "namespace": {"type": "string"}, "flowId": {"type": "string"}, "triggerId": {"type": "string"},
        "disabled": {"type": "boolean"},
        "backfill": {"type": "object", "properties": {"start": {"type": "string"}, "end": {"type": "string"}}},
    },
}
_TRIGGERS = {"application/json": {"schema": {"anyOf": [
    {"type": "object", "properties": {"triggers": {"type": "array", "items": _TRIGGER}, "disabled": {"type": "boolean"}}},
    _TRIGGER,
    _ANY_JSON,
]}}}
_JSON = {"application/json": {"schema": _ANY_JSON}}
_WEBHOOK = {
    "application/json": {"schema": _ANY_JSON},
    "text/plain": {"schema": {"type": "string"}},
    "multipart/form-data": {"schema": {
        "type": "object", "properties": {"field": {"type": "string"}, "upload": {"type": "string", "format": "binary"}},
    }},
}

# The bodies the handlers read themselves, which the published document leaves out.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/api/v1/flows"): _YAML_OR_JSON,
    ("put", "/api/v1/flows/{namespace}/{flow_id}"): _YAML_OR_JSON,
    ("post", "/api/v1/flows/validate"): _YAML_OR_JSON,
    ("post", "/api/v1/flows/graph"): _YAML_OR_JSON,
    ("post", "/api/v1/executions/{namespace}/{flow_id}"): _INPUTS,
    ("post", "/api/v1/executions/{execution_id}/resume"): _INPUTS,
    ("post", "/api/v1/executions/{execution_id}/labels"): {"application/json": {"schema": {"anyOf": [
        {"type": "array", "items": {"type": "object", "properties": {"key": {"type": "string"}, "value": {}}}},
        {"type": "object", "additionalProperties": {"type": "string"}},
        _ANY_JSON,
    ]}}},
    ("put", "/api/v1/namespaces/{namespace}/kv/{key}"): {
        "application/json": {"schema": _ANY_JSON}, "text/plain": {"schema": {"type": "string"}},
    },
    ("delete", "/api/v1/namespaces/{namespace}/kv"): {"application/json": {"schema": {"anyOf": [
        {"type": "object", "properties": {"keys": {"type": "array", "items": {"type": "string"}}}}, _ANY_JSON,
    ]}}},
    ("post", "/api/v1/namespaces/{namespace}/files"): {"multipart/form-data": {"schema": {
        "type": "object", "properties": {"fileContent": {"type": "string", "format": "binary"}},
    }}},
    ("post", "/api/v1/executions/webhook/{namespace}/{flow_id}/{key}"): _WEBHOOK,
    ("put", "/api/v1/executions/webhook/{namespace}/{flow_id}/{key}"): _WEBHOOK,
    ("put", "/api/v1/triggers/{namespace}/{flow_id}/{trigger_id}"): _TRIGGERS,
    ("put", "/api/v1/triggers"): _TRIGGERS,
    ("post", "/api/v1/triggers/set-disabled"): _TRIGGERS,
    ("post", "/api/v1/triggers/set-disabled/by-triggers"): _TRIGGERS,
    ("post", "/api/v1/triggers/backfill/delete"): _TRIGGERS,
    ("post", "/api/v1/triggers/{namespace}/{flow_id}/{trigger_id}/backfill"): {"application/json": {"schema": {"anyOf": [
        {"type": "object", "properties": {"start": {"type": "string"}, "end": {"type": "string"}, "inputs": {"type": "object"}, "labels": {}}},
        _ANY_JSON,
    ]}}},
}


def _with_bodies(document: dict[str, Any]) -> dict[str, Any]:
    document = copy.deepcopy(document)
    for (method, path), content in BODIES.items():
        operation = document["paths"][path][method]  # a KeyError here: the API changed, update BODIES
        operation["requestBody"] = {"required": False, "content": copy.deepcopy(content)}
    return document


def _published_document() -> dict[str, Any]:
    """The app's OpenAPI document, from an app that is never started (its routes are enough)."""
    with tempfile.TemporaryDirectory() as home:
        app = create_app(ServerConfig.load(home=Path(home), basic_auth_username=USER, basic_auth_password=PASSWORD))
        return app.openapi_schema.to_schema()


class SharedLifespan:
    """The app under test, started once for the module rather than once per test.

    Schemathesis starts an ASGI app's lifespan on the first request of a test and ends it after
    the test; tercel's lifespan starts and stops a whole runtime (and cannot start again once
    stopped). So schemathesis sees this wrapper, whose own lifespan does nothing but start the
    real app's once, on schemathesis' event loop where every request runs; `stop` ends it.
    """

    def __init__(self) -> None:
        self.app: Litestar | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._to_app: asyncio.Queue[dict[str, Any]]
        self._from_app: asyncio.Queue[dict[str, Any]]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert self.app is not None, "the api fixture sets the app"
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)  # type: ignore[arg-type]
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self._start()
                await send({"type": "lifespan.startup.complete"})
            else:  # the real app keeps running for the next test
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _start(self) -> None:
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._to_app, self._from_app = asyncio.Queue(), asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        assert self.app is not None
        self._task = self._loop.create_task(self.app(scope, self._to_app.get, self._from_app.put))  # type: ignore[arg-type]
        await self._to_app.put({"type": "lifespan.startup"})
        answer = await self._from_app.get()
        if answer["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"the app did not start: {answer.get('message')}")

    async def _stop(self) -> None:
        assert self._task is not None
        if self._task.done():  # it never started
            return
        await self._to_app.put({"type": "lifespan.shutdown"})
        answer = await self._from_app.get()
        await self._task
        assert answer["type"] == "lifespan.shutdown.complete", answer

    def stop(self) -> None:
        if self._task is not None and self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=60)
        self._task = self._loop = self.app = None


APP = SharedLifespan()
schema = schemathesis.openapi.from_dict(_with_bodies(_published_document()), config=SchemathesisConfig())
schema.app = APP  # every request goes to the app in process, over ASGI
schema.config.update(request_timeout=REQUEST_TIMEOUT)


def _sometimes_known(values: dict[str, Any] | None, known: dict[str, list[str]]) -> st.SearchStrategy[Any]:
    """The generated values, each one sometimes replaced with a seeded resource's."""
    if not isinstance(values, dict):  # negative cases may have none
        return st.just(values)
    return st.fixed_dictionaries({
        name: st.sampled_from([value, *known[name]]) if known.get(name) else st.just(value)
        for name, value in values.items()
    })


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    return _sometimes_known(path_parameters, KNOWN)


@schema.hook
def flatmap_query(context: Any, query: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    if "/namespaces/" in context.operation.path:
        known = {"path": [NAMESPACE_FILE, "/scripts"], "from": [NAMESPACE_FILE], "to": ["/moved.py"]}
    else:
        known = {"path": KNOWN["file_uri"], "taskRunId": KNOWN["task_run_id"], "namespace": [NAMESPACE], "flowId": ["hello"]}
    return _sometimes_known(query, known)


def _spoiled(value: Any) -> Any:
    """`value` with a lone surrogate after each of its texts (keys kept)."""
    if isinstance(value, str):
        return value + "\ud800"
    if isinstance(value, dict):
        return {key: _spoiled(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_spoiled(item) for item in value]
    return value


def _with_lone_surrogate(body: Any, as_key: bool) -> Any:
    """`body` with lone surrogates: after each of its texts, or as a key of its own."""
    spoiled = _spoiled(body)
    if spoiled != body and not as_key:
        return spoiled
    if isinstance(body, dict):
        return {**body, "\udc00": "x"}
    if isinstance(body, list):
        return [*body, "\udfff"]
    return "\ud800"


_SPOILED: Counter[str] = Counter()


def _call_with_lone_surrogate(case: schemathesis.Case, headers: dict[str, str]) -> None:
    """The case once more, a lone surrogate added to its JSON body. Sent apart: schemathesis
    itself cannot validate such a body (nor would hypothesis generate one)."""
    request = case.as_transport_kwargs(base_url=f"http://{asgi.HOST}", headers=headers)
    body = request.pop("json", None)
    request.pop("data", None)  # a JSON `null`, or bytes from an example
    _SPOILED[case.operation.label] += 1  # every other body of an operation gets it as a key
    request["json"] = _with_lone_surrogate(body, as_key=_SPOILED[case.operation.label] % 2 == 0)  # as "\\ud800"
    request.setdefault("timeout", REQUEST_TIMEOUT)
    response = asgi.get_client(APP).request(**request)  # the app runs already: no lifespan here
    assert response.status_code < 500, (
        f"{case.operation.label} answered {response.status_code} to a JSON body with a lone surrogate "
        f"{request['json']!a}: {response.text}"
    )


def _seed(client: Any) -> None:
    """Flows, an execution (with an uploaded file), a KV value and a namespace file; idempotent."""
    for source in (HELLO, NESTED):
        answer = client.post("/api/v1/flows", data=source, headers={"content-type": "application/x-yaml"})
        assert answer.status_code in (200, 409), answer.text
    kv = client.put(f"/api/v1/namespaces/{NAMESPACE}/kv/greeting", json={"text": "hi"})
    assert kv.status_code == 200, kv.text
    upload = client.post(
        f"/api/v1/namespaces/{NAMESPACE}/files", params={"path": NAMESPACE_FILE},
        files={"fileContent": ("hello.py", b"print('hello')\n")},
    )
    assert upload.status_code in (200, 409), upload.text
    if KNOWN["execution_id"]:
        if client.get(f"/api/v1/executions/{KNOWN['execution_id'][0]}").status_code == 200:
            return
        KNOWN["execution_id"].clear()
    answer = client.post(
        f"/api/v1/executions/{NAMESPACE}/hello", params={"wait": "true"},
        data={"name": "fuzz"}, files={"attachment": ("data.txt", b"some data")},
    )
    assert answer.status_code == 200, answer.text
    execution = answer.json()
    KNOWN["execution_id"][:] = [execution["id"]]
    KNOWN["task_run_id"][:] = [run["id"] for run in execution.get("taskRunList") or []]
    files = client.get(f"/api/v1/executions/{execution['id']}/files").json()
    KNOWN["file_uri"][:] = [f["uri"] for f in files]


class Api:
    """The running app's credentials (`auth[kind]`: the headers to send), and its seeding."""

    def __init__(self, auth: dict[str, dict[str, str]]) -> None:
        self.auth = auth

    def seed(self) -> None:
        with asgi.get_client(APP) as client:
            client.headers.update(self.auth["token"])
            _seed(client)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    home = tmp_path_factory.mktemp("fuzz") / "home"
    # plugin installs (POST /plugins/versions) resolve against indexes: offline here, so a fuzzed
    # requirement never reaches past loopback, and its installer's refusal is what is checked
    offline = pytest.MonkeyPatch()
    offline.setenv("UV_OFFLINE", "1")
    offline.setenv("PIP_NO_INDEX", "1")
    offline.delenv("PIP_FIND_LINKS", raising=False)
    APP.app = create_app(ServerConfig.load(home=home, basic_auth_username=USER, basic_auth_password=PASSWORD))
    # An API token, not the basic-auth account: the account's password is checked with scrypt
    # (~40 ms a request), which would be most of this test's time. Both pass the same middleware.
    token = Credentials(home / "server" / "credentials.json").create_token("fuzzer")
    api = Api({"token": {"Authorization": f"Bearer {token}"}})
    try:
        api.seed()
        yield api
    finally:
        APP.stop()
        offline.undo()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # The credentials each request carries. Also, pytest >= 9.2 makes an item's id from its
    # function's name and its parameters alone, and schemathesis' items (one per operation) have
    # none: without a parameter they would all be `test_no_request_makes_the_server_fail`. With
    # one, each id names its operation: `test_no_request_makes_the_server_fail[GET /api/v1/flows/search][token]`.
    if "auth" in metafunc.fixturenames:
        metafunc.parametrize("auth", ["token"])


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    # generated values are often filtered (paths, formats), and the whole app runs per request
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_no_request_makes_the_server_fail(case: schemathesis.Case, api: Api, auth: str) -> None:
    headers = api.auth[auth]
    response = case.call_and_validate(headers=headers, checks=[not_a_server_error])
    if case.media_type == "application/json":
        _call_with_lone_surrogate(case, headers)
    if case.method.upper() in ("DELETE", "PUT") and response.status_code < 300:
        api.seed()  # put back what was deleted or moved, for the requests after it
