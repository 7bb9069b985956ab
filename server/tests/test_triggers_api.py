"""`/api/v1/triggers` over a real runtime and the real scheduler, and the pure part."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from tercel.scheduler import TriggerState
from tercel_server import ServerConfig, create_app
from tercel_server._triggers import (
    BadRequest,
    TriggerRef,
    backfill_request,
    definitions,
    disabled_request,
    flow_triggers,
    matches,
    trigger_refs,
)

AUTH = {"Authorization": "Basic " + base64.b64encode(b"tester:secret-pass").decode()}  # conftest's account
YAML = {"content-type": "application/x-yaml"}
API = "/api/v1/triggers"

NIGHTLY = """id: nightly
namespace: team.sched
inputs:
  - id: region
    type: STRING
    defaults: eu
tasks:
  - id: r
    type: tercel.core.Return
    format: "{{ trigger.date }} {{ inputs.region }}"
triggers:
  - id: daily
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 0 * * *"
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: the-key
"""
OTHER = """id: other
namespace: team.other
tasks:
  - id: r
    type: tercel.core.Return
    format: x
triggers:
  - id: hourly
    type: tercel.core.trigger.Schedule
    cron: "0 * * * *"
    disabled: true
"""
PLAIN = "id: plain\nnamespace: team.sched\ntasks:\n  - id: r\n    type: tercel.core.Return\n    format: x\n"
STUCK = """id: stuck
namespace: team.sched
tasks:
  - id: wait
    type: tercel.core.Pause
triggers:
  - id: every_second
    type: tercel.core.trigger.Schedule
    cron: "* * * * * *"
    withSeconds: true
"""


async def _deploy(client: AsyncTestClient, *sources: str) -> None:
    for source in sources:
        answer = await client.post("/api/v1/flows", content=source, headers=YAML)
        assert answer.status_code == 200, answer.text


async def _eventually(check: Callable[[], Any], what: str, seconds: float = 20) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never {what}")
        await asyncio.sleep(0.05)


async def _state(client: AsyncTestClient, namespace: str, flow_id: str, trigger_id: str) -> dict[str, Any]:
    found = (await client.get(f"{API}/{namespace}/{flow_id}")).json()["results"]
    return next(s for s in found if s["triggerId"] == trigger_id)


# ------------------------------------------------------------------------------------ reading


async def test_search_lists_every_trigger_of_the_live_flows_with_its_state(client: AsyncTestClient) -> None:
    await _deploy(client, NIGHTLY, OTHER, PLAIN)

    async def scheduled() -> Any:
        state = await _state(client, "team.sched", "nightly", "daily")
        return state if state["nextExecutionDate"] else None

    daily = await _eventually(scheduled, "scheduled by the scheduler")
    assert daily["type"] == "io.kestra.plugin.core.trigger.Schedule" and daily["disabled"] is False
    assert datetime.fromisoformat(daily["nextExecutionDate"]) > datetime.now(UTC)

    found = (await client.get(f"{API}/search")).json()
    assert found["total"] == 3
    by_id = {r["triggerContext"]["triggerId"]: r for r in found["results"]}
    assert set(by_id) == {"daily", "hook", "hourly"}
    assert by_id["hook"]["abstractTrigger"] == {"id": "hook", "type": "io.kestra.plugin.core.trigger.Webhook", "key": "the-key"}
    assert by_id["hook"]["triggerContext"]["nextExecutionDate"] is None and by_id["hook"]["triggerContext"]["disabled"] is False
    assert by_id["hourly"]["triggerContext"]["disabled"] is True  # disabled in its definition
    assert by_id["daily"]["abstractTrigger"]["cron"] == "0 0 * * *"

    async def ids(query: str) -> list[str]:
        answer = (await client.get(f"{API}/search?{query}")).json()
        return [r["triggerContext"]["triggerId"] for r in answer["results"]]

    assert await ids("namespace=team.sched") == ["daily", "hook"]
    assert await ids("namespace=team") == ["hourly", "daily", "hook"]  # a prefix, flows by namespace
    assert await ids("namespace=team.sch") == []
    assert await ids("flowId=other") == ["hourly"]
    assert await ids("q=HOO") == ["hook"]
    page = (await client.get(f"{API}/search?size=1&page=2")).json()
    assert page["total"] == 3 and len(page["results"]) == 1
    assert (await client.get(f"{API}/search?size=0")).status_code == 400


async def test_a_flows_triggers_and_unknown_flows(client: AsyncTestClient) -> None:
    await _deploy(client, NIGHTLY, PLAIN)
    found = (await client.get(f"{API}/team.sched/nightly")).json()
    assert found["total"] == 2 and [s["triggerId"] for s in found["results"]] == ["daily", "hook"]
    assert (await client.get(f"{API}/team.sched/plain")).json() == {"results": [], "total": 0}
    missing = await client.get(f"{API}/team.sched/nope")
    assert missing.status_code == 404 and missing.json()["message"] == "flow team.sched.nope does not exist"
    await client.delete("/api/v1/flows/team.sched/nightly")
    assert (await client.get(f"{API}/team.sched/nightly")).status_code == 404
    assert (await client.get(f"{API}/search")).json()["total"] == 0


async def test_credentials_are_required(config: ServerConfig) -> None:
    async with AsyncTestClient(create_app(config)) as anonymous:
        assert (await anonymous.get(f"{API}/search")).status_code == 401
        assert (await anonymous.post(f"{API}/team.sched/nightly/daily/unlock")).status_code == 401


# ------------------------------------------------------------------------------------- acting


async def test_disable_and_enable_one_trigger(client: AsyncTestClient) -> None:
    await _deploy(client, NIGHTLY)
    off = await client.put(f"{API}/team.sched/nightly/daily", json={"disabled": True})
    assert off.status_code == 200 and off.json()["disabled"] is True and off.json()["triggerId"] == "daily"
    assert (await _state(client, "team.sched", "nightly", "daily"))["disabled"] is True
    on = (await client.put(f"{API}/team.sched/nightly/daily", json={"disabled": False})).json()
    assert on["disabled"] is False and datetime.fromisoformat(on["nextExecutionDate"]) > datetime.now(UTC)
    # Kestra's PUT /api/v1/triggers with the trigger JSON
    kestra = await client.put(f"{API}/", json={"namespace": "team.sched", "flowId": "nightly", "triggerId": "hook", "disabled": True})
    assert kestra.status_code == 200 and kestra.json()["disabled"] is True
    assert (await client.post("/api/v1/executions/webhook/team.sched/nightly/the-key")).status_code == 404


async def test_disable_several_triggers_all_or_nothing(client: AsyncTestClient) -> None:
    await _deploy(client, NIGHTLY)
    both = [{"namespace": "team.sched", "flowId": "nightly", "triggerId": t} for t in ("daily", "hook")]
    answer = await client.post(f"{API}/set-disabled", json={"triggers": both, "disabled": True})
    assert answer.status_code == 200 and answer.json() == {"count": 2}
    assert all(s["disabled"] for s in (await client.get(f"{API}/team.sched/nightly")).json()["results"])
    kestra = await client.post(f"{API}/set-disabled/by-triggers", json={"triggers": both, "disabled": False})
    assert kestra.json() == {"count": 2}
    assert not any(s["disabled"] for s in (await client.get(f"{API}/team.sched/nightly")).json()["results"])

    unknown = [*both, {"namespace": "team.sched", "flowId": "nightly", "triggerId": "nope"},
               {"namespace": "team.sched", "flowId": "gone", "triggerId": "x"}]
    refused = await client.post(f"{API}/set-disabled", json={"triggers": unknown, "disabled": True})
    assert refused.status_code == 404
    assert refused.json()["details"] == ["flow team.sched.nightly has no trigger 'nope'", "flow team.sched.gone does not exist"]
    assert not any(s["disabled"] for s in (await client.get(f"{API}/team.sched/nightly")).json()["results"])


async def test_bad_bodies_and_unknown_triggers(client: AsyncTestClient) -> None:
    await _deploy(client, NIGHTLY)
    one = f"{API}/team.sched/nightly/daily"
    for body, status in (
        ({"disabled": "yes"}, 400),
        ({}, 400),
        ([], 400),
    ):
        assert (await client.put(one, json=body)).status_code == status
    assert (await client.put(one, content=b"{", headers={"content-type": "application/json"})).status_code == 400
    assert (await client.post(f"{API}/set-disabled", json={"triggers": [], "disabled": True})).status_code == 400
    assert (await client.post(f"{API}/set-disabled", json={"triggers": [{"namespace": "a"}], "disabled": True})).status_code == 400
    assert (await client.put(f"{API}/", json={"namespace": "team.sched", "flowId": "nightly"})).status_code == 400
    for method, path, body in (
        ("PUT", f"{API}/team.sched/nightly/nope", {"disabled": True}),
        ("PUT", f"{API}/team.sched/nope/daily", {"disabled": True}),
        ("POST", f"{API}/team.sched/nightly/nope/unlock", None),
        ("POST", f"{API}/team.sched/nope/daily/backfill", {"start": "2024-01-01T00:00:00Z"}),
        ("DELETE", f"{API}/team.sched/nightly/nope/backfill", None),
        ("POST", f"{API}/backfill/delete", {"namespace": "team.sched", "flowId": "nope", "triggerId": "daily"}),
    ):
        answer = await client.request(method, path, json=body)
        assert answer.status_code == 404, (method, path, answer.text)


async def test_backfill_a_schedule_then_stop_it(client: AsyncTestClient) -> None:
    await _deploy(client, NIGHTLY)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = (today - timedelta(days=2)).isoformat()
    end = (today - timedelta(days=1)).isoformat()
    answer = await client.post(
        f"{API}/team.sched/nightly/daily/backfill",
        json={"start": start, "end": end, "inputs": {"region": "us"}, "labels": [{"key": "run", "value": "backfill"}]},
    )
    assert answer.status_code == 200, answer.text
    backfill = answer.json()["backfill"]
    assert (backfill["inputs"], backfill["labels"], backfill["source"]) == ({"region": "us"}, {"run": "backfill"}, "api")

    async def two_done() -> Any:
        found = (await client.get("/api/v1/executions/search?namespace=team.sched&state=SUCCESS&labels=run:backfill")).json()
        return found["results"] if found["total"] == 2 else None

    done = await _eventually(two_done, "backfilled")
    dates = sorted(ex["trigger"]["date"] for ex in done)
    assert [datetime.fromisoformat(d) for d in dates] == [today - timedelta(days=2), today - timedelta(days=1)]
    logs = {ex["id"]: ex for ex in done}
    for ex in logs.values():
        full = (await client.get(f"/api/v1/executions/{ex['id']}")).json()
        assert full["taskRunList"][0]["outputs"]["value"].endswith(" us")

    async def over() -> Any:
        return (await _state(client, "team.sched", "nightly", "daily"))["backfill"] is None

    await _eventually(over, "the backfill over")
    assert (await client.delete(f"{API}/team.sched/nightly/daily/backfill")).status_code == 409

    # a long one, stopped (the DELETE path, then Kestra's POST /backfill/delete)
    for stop in ("DELETE", "POST"):
        long = await client.post(f"{API}/team.sched/nightly/daily/backfill", json={"start": "2000-01-01T00:00:00Z"})
        assert long.status_code == 200 and long.json()["backfill"] is not None
        if stop == "DELETE":
            stopped = await client.delete(f"{API}/team.sched/nightly/daily/backfill")
        else:
            stopped = await client.post(f"{API}/backfill/delete", json={"namespace": "team.sched", "flowId": "nightly", "triggerId": "daily"})
        assert stopped.status_code == 200 and stopped.json()["backfill"] is None
        assert (await _state(client, "team.sched", "nightly", "daily"))["backfill"] is None


async def test_backfill_refusals(client: AsyncTestClient) -> None:
    await _deploy(client, NIGHTLY)
    url = f"{API}/team.sched/nightly/daily/backfill"
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    for body in (
        {},
        {"start": "2024-01-01T00:00:00"},  # no time zone
        {"start": "yesterday"},
        {"start": future},
        {"start": "2024-01-02T00:00:00Z", "end": "2024-01-01T00:00:00Z"},
        {"start": "2024-01-01T00:00:00Z", "inputs": [1]},
        {"start": "2024-01-01T00:00:00Z", "labels": {"system.x": "y"}},
        {"start": "2024-01-01T00:00:00Z", "nope": 1},
        "2024-01-01",
    ):
        answer = await client.post(url, json=body)
        assert answer.status_code == 400, (body, answer.text)
    webhook = await client.post(f"{API}/team.sched/nightly/hook/backfill", json={"start": "2024-01-01T00:00:00Z"})
    assert webhook.status_code == 422 and "hook" in webhook.json()["message"]
    # Kestra's PUT /api/v1/triggers with a backfill
    kestra = await client.put(f"{API}/", json={"namespace": "team.sched", "flowId": "nightly", "triggerId": "daily",
                                              "backfill": {"start": "2000-01-01T00:00:00Z"}})
    assert kestra.status_code == 200 and kestra.json()["backfill"]["start"].startswith("2000-01-01")


async def test_unlock_a_trigger_waiting_for_its_execution(client: AsyncTestClient) -> None:
    await _deploy(client, NIGHTLY)
    assert (await client.post(f"{API}/team.sched/nightly/daily/unlock")).status_code == 409
    await _deploy(client, STUCK)

    async def locked() -> Any:
        state = await _state(client, "team.sched", "stuck", "every_second")
        return state if state["executionId"] else None

    state = await _eventually(locked, "locked by its paused execution")
    paused = (await client.get(f"/api/v1/executions/{state['executionId']}")).json()
    assert paused["state"]["current"] in ("CREATED", "RUNNING", "PAUSED")
    answer = await client.post(f"{API}/team.sched/stuck/every_second/unlock")
    assert answer.status_code == 200, answer.text
    assert answer.json()["executionId"] is None or answer.json()["executionId"] != state["executionId"]
    assert (await client.put(f"{API}/team.sched/stuck/every_second", json={"disabled": True})).status_code == 200


async def test_without_the_scheduler_loop_triggers_are_still_administered(tmp_path: Path) -> None:
    """An API process of a cluster (`tercel server webserver`) runs no scheduler loop: what it
    changes is stored, under the trigger's lock, for the scheduler process to act on."""
    config = ServerConfig.load(home=tmp_path / "home", basic_auth_username="tester", basic_auth_password="secret-pass", scheduler=False)
    async with AsyncTestClient(create_app(config)) as client:
        client.headers.update(AUTH)
        await _deploy(client, NIGHTLY)
        assert (await client.get(f"{API}/search")).json()["total"] == 2
        answer = await client.put(f"{API}/team.sched/nightly/daily", json={"disabled": True})
        assert answer.status_code == 200, answer.text
        assert answer.json()["disabled"] is True
        backfill = await client.post(f"{API}/team.sched/nightly/daily/backfill", json={"start": "2024-01-01T00:00:00Z"})
        assert backfill.status_code == 200, backfill.text
        assert backfill.json()["backfill"]["start"].startswith("2024-01-01T00:00:00")
        await asyncio.sleep(0.3)
        assert (await client.get("/api/v1/executions/search?namespace=team.sched")).json()["total"] == 0  # nothing fires here
    scheduler_config = ServerConfig.load(home=tmp_path / "home", basic_auth_username="tester", basic_auth_password="secret-pass")
    async with AsyncTestClient(create_app(scheduler_config)) as client:
        client.headers.update(AUTH)
        found = (await client.get(f"{API}/team.sched/nightly")).json()["results"]
        assert [t["disabled"] for t in found if t["triggerId"] == "daily"] == [True]


# ---------------------------------------------------------------------------- the pure part


def test_definitions_and_states() -> None:
    assert definitions(PLAIN) == (False, [])
    assert definitions("id: x\nnamespace: y\ntriggers: [") == (False, [])
    disabled, items = definitions("id: x\nnamespace: y\ndisabled: true\ntriggers:\n  - id: a\n    type: T\n  - junk\n  - type: T\n")
    assert disabled is True and items == [{"id": "a", "type": "T"}]
    stored = TriggerState("y", "x", "b", "T", disabled=False)
    pairs = flow_triggers("y", "x", "triggers:\n  - id: a\n    type: T\n  - id: b\n    type: T\n", {stored.key: stored})
    assert [(d["id"], s.disabled, s is stored) for d, s in pairs] == [("a", False, False), ("b", False, True)]
    off = flow_triggers("y", "x", "disabled: true\ntriggers:\n  - id: a\n    type: T\n", {})
    assert off[0][1].disabled is True
    defined_off = flow_triggers("y", "x", "triggers:\n  - id: b\n    type: T\n    disabled: true\n", {stored.key: stored})
    assert defined_off[0][1].disabled is True and stored.disabled is False
    assert matches(None, "a", "b", "c") and matches("B", "a", "xb", "c") and not matches("z", "a", "b", "c")


def test_request_bodies() -> None:
    ref = {"namespace": "n", "flowId": "f", "triggerId": "t"}
    assert trigger_refs({"triggers": [ref, ref], "disabled": True}) == ([TriggerRef("n", "f", "t")], True)
    for bad in (None, {"triggers": [ref]}, {"triggers": ref, "disabled": True}, {"triggers": [{**ref, "flowId": ""}], "disabled": False}):
        with pytest.raises(BadRequest):
            trigger_refs(bad)
    assert disabled_request({"disabled": False}) is False
    with pytest.raises(BadRequest):
        disabled_request({"disabled": 1})
    now = datetime(2024, 6, 1, tzinfo=UTC)
    request = backfill_request({"start": "2024-01-01T00:00:00+02:00", "labels": {"a": 1}, "inputs": {"x": 1}}, now)
    assert request.start == datetime(2023, 12, 31, 22, tzinfo=UTC) and request.end is None
    assert (request.labels, request.inputs) == ({"a": "1"}, {"x": 1})
    assert backfill_request({"start": "2024-01-01T00:00:00Z", "end": None, "paused": False}, now).labels is None
    with pytest.raises(BadRequest, match="paused"):
        backfill_request({"start": "2024-01-01T00:00:00Z", "paused": True}, now)
    with pytest.raises(BadRequest, match="future"):
        backfill_request({"start": "2024-07-01T00:00:00Z"}, now)
