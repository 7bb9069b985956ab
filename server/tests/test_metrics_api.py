"""`/api/v1/metrics` (Prometheus text format) over a real runtime, and the pieces it is made of."""

from __future__ import annotations

import math
import re
from typing import Any

from litestar.testing import AsyncTestClient
from tercel_server._metrics import (
    Family,
    MetricsCollector,
    count_executions,
    count_task_runs,
    render,
)

YAML = {"content-type": "application/x-yaml"}
OK = "id: ok\nnamespace: team.m\ntasks:\n  - id: one\n    type: tercel.core.Return\n    format: '1'\n  - id: two\n    type: tercel.core.Return\n    format: '2'\n"
BAD = "id: bad\nnamespace: team.m\ntasks:\n  - id: boom\n    type: tercel.core.Fail\n"
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (\S+)$')


def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """A strict reading of the text format: every line a comment, a HELP/TYPE, or a sample."""
    assert text.endswith("\n")
    samples = {}
    typed = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line[7:].split(" ")
            assert kind in ("gauge", "counter", "untyped"), line
            typed.add(name)
            continue
        if line.startswith("# HELP "):
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, labels, value = match.group(1), match.group(2), match.group(3)
        assert name in typed, f"{name} has no TYPE before its samples"
        pairs = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', labels or ""))
        samples[(name, pairs)] = float(value)
    return samples


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def test_render_escapes_and_formats() -> None:
    family = Family("x_total", "help with \\ and\nnewline", "counter")
    family.samples += [({"path": 'a"b\\c\nd'}, 3), ({}, 1.5), ({"v": "nan"}, math.nan), ({"v": "inf"}, math.inf)]
    text = render([family])
    assert "# HELP x_total help with \\\\ and\\nnewline\n" in text
    assert '# TYPE x_total counter\n' in text
    assert 'x_total{path="a\\"b\\\\c\\nd"} 3\n' in text
    assert "x_total 1.5\n" in text and 'x_total{v="nan"} NaN\n' in text and 'x_total{v="inf"} +Inf\n' in text
    samples = parse(text)
    assert value(samples, "x_total") == 1.5


def test_counting_from_stored_documents() -> None:
    headers = [
        {"namespace": "a", "flowId": "f", "state": {"current": "SUCCESS"}},
        {"namespace": "a", "flowId": "f", "state": {"current": "SUCCESS"}},
        {"namespace": "a", "flowId": "g", "state": {"current": "FAILED"}},
        {"namespace": "a", "flowId": "g", "state": {}},
    ]
    assert count_executions(headers) == {("a", "f", "SUCCESS"): 2, ("a", "g", "FAILED"): 1, ("a", "g", "CREATED"): 1}
    assert count_task_runs([{"state": {"current": "SUCCESS"}}, {"state": {"current": "FAILED"}}, {}]) == {"SUCCESS": 1, "FAILED": 1, "CREATED": 1}


def test_a_database_that_does_not_answer_is_reported_down() -> None:
    class Broken:
        @property
        def db(self) -> Any:
            raise RuntimeError("database gone")

    samples = parse(render(MetricsCollector().collect(Broken(), "9.9")))
    assert value(samples, "tercel_up") == 0
    assert value(samples, "tercel_info", version="9.9") == 1
    assert not any(name == "tercel_executions" for name, _ in samples)


async def test_metrics_from_the_store(client: AsyncTestClient) -> None:
    for source in (OK, BAD):
        assert (await client.post("/api/v1/flows", content=source, headers=YAML)).status_code == 200
    for flow in ("ok", "ok", "bad"):
        done = await client.post(f"/api/v1/executions/team.m/{flow}?wait=true")
        assert done.json()["state"]["current"] in ("SUCCESS", "FAILED")

    answer = await client.get("/api/v1/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = parse(answer.text)
    assert value(samples, "tercel_up") == 1
    assert value(samples, "tercel_flows") == 2
    assert value(samples, "tercel_executions", namespace="team.m", flow_id="ok", state="SUCCESS") == 2
    assert value(samples, "tercel_executions", namespace="team.m", flow_id="bad", state="FAILED") == 1
    assert value(samples, "tercel_task_runs", namespace="team.m", flow_id="ok", state="SUCCESS") == 4
    assert value(samples, "tercel_task_runs", namespace="team.m", flow_id="bad", state="FAILED") == 1
    assert value(samples, "tercel_task_runs_all") == 5
    assert value(samples, "tercel_queue_jobs", topic="executor") is not None
    assert value(samples, "tercel_queue_jobs", topic="worker") is not None
    assert value(samples, "tercel_metrics_scrape_duration_seconds") is not None

    # a later scrape sees new executions and forgets deleted ones
    extra = (await client.post("/api/v1/executions/team.m/ok?wait=true")).json()["id"]
    failed_id = (await client.get("/api/v1/executions/search?flowId=bad")).json()["results"][0]["id"]
    assert (await client.delete(f"/api/v1/executions/{failed_id}")).status_code == 204
    later = parse((await client.get("/api/v1/metrics")).text)
    assert value(later, "tercel_executions", namespace="team.m", flow_id="ok", state="SUCCESS") == 3
    assert value(later, "tercel_executions", namespace="team.m", flow_id="bad", state="FAILED") is None
    assert value(later, "tercel_task_runs_all") == 6
    assert extra


async def test_metrics_need_credentials(client: AsyncTestClient) -> None:
    assert (await client.get("/api/v1/metrics", headers={"Authorization": ""})).status_code == 401
