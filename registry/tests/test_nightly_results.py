"""Nightly test results on the real server: what `tercel nightly run` posts (runs, results once
per night and environment, only with a `nightly` token), and everything that shows them: the
catalog's `nightly` fields, a plugin's history, the runs with what broke and was fixed since
the previous night that has each result, the badges (parsed SVG) and the pages (parsed HTML).

Five plugins over three nights: alpha 1.1.0 passes then fails on SDK 0.1.0 but passes on SDK
0.2.0 (its status is the newest SDK's), alpha 1.0.0 fails then passes, beta ends in an error,
gamma in a timeout, eps passes, skips a night, then fails; delta was tested only in a version
that is now yanked.
"""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from registry_support import Node, RegistryServer, links_work, parse, plugin_wheel, upload
from tercel_registry import Registry, RegistryConfig
from tercel_registry._errors import Forbidden
from tercel_registry._store import TokenRecord

ALPHA, BETA, GAMMA, DELTA, EPS = (f"tercel-plugin-{n}" for n in ("alpha", "beta", "gamma", "delta", "eps"))
EXTRA = "tercel-plugin-extra"  # what the tests post besides the three nights, away from the others' statuses
N1, N2, N3 = "2024-05-01", "2024-05-02", "2024-05-03"
ENV = {"python": "3.11.7", "sdk": "0.1.0", "core": "0.1.0"}
NEW_SDK = {"python": "3.12.1", "sdk": "0.2.0", "core": "0.1.0"}
RUN_ENV = {**ENV, "platform": "linux-x86_64"}
COUNTS = {
    "passed": {"passed": 3, "failed": 0, "errors": 0, "skipped": 1},
    "failed": {"passed": 2, "failed": 1, "errors": 0, "skipped": 1},
    "error": {"passed": 0, "failed": 0, "errors": 1, "skipped": 0},
    "timeout": {"passed": 1, "failed": 0, "errors": 0, "skipped": 0},
}
SVG = "{http://www.w3.org/2000/svg}"


def result(plugin: str, version: str, status: str, *, env: dict[str, str] = ENV, **extra: Any) -> dict[str, Any]:
    """A result as the runner posts it."""
    tests = [
        {"classname": "tests.test_plugin", "name": "test_fetch", "outcome": "passed", "duration": 0.02, "message": None},
        {"classname": "tests.test_plugin", "name": "test_skipped", "outcome": "skipped", "duration": 0.0, "message": "no network"},
    ]
    if status == "failed":
        tests.append({"classname": "tests.test_plugin", "name": "test_notify", "outcome": "failed", "duration": 0.1,
                      "message": "AssertionError: assert 500 == 200"})
    return {
        "plugin": plugin, "version": version, "environment": env, "status": status,
        "reason": {"error": "the plugin did not install: no matching distribution for tercel-plugin-sdk>=9",
                   "timeout": "the tests ran longer than 600 s"}.get(status),
        "counts": COUNTS[status], "duration": 12.5, "tests": tests, "logTail": f"collected 3 items\n{status}\n",
        "startedAt": "2024-05-01T02:00:00Z", "finishedAt": "2024-05-01T02:00:12.5+00:00", **extra,
    }


NIGHTS: dict[str, list[dict[str, Any]]] = {
    N1: [
        result(ALPHA, "1.1.0", "passed"), result(ALPHA, "1.0.0", "failed"), result(BETA, "0.1.0", "passed"),
        result(GAMMA, "2.0.0", "passed"), result(EPS, "1.0.0", "passed"), result(DELTA, "1.1.0", "passed"),
    ],
    N2: [
        result(ALPHA, "1.1.0", "failed"), result(ALPHA, "1.1.0", "passed", env=NEW_SDK), result(ALPHA, "1.0", "passed"),
        result(BETA, "0.1.0", "error", logTail="x" * 64 * 1024),  # exactly 64 KB: accepted
        result(GAMMA, "2.0.0", "timeout"),
    ],
    N3: [result(EPS, "1.0.0", "failed")],
}


@dataclass
class Seeded:
    server: RegistryServer
    nightly: str
    publisher: str

    def send(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.request(method, f"{self.server.url}/api/v1/nightly{path}", headers=headers, timeout=30, **kwargs)

    def get(self, path: str, **params: Any) -> Any:
        answer = httpx.get(f"{self.server.url}{path}", params=params, timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json() if answer.headers["content-type"].startswith("application/json") else answer


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    work = tmp_path_factory.mktemp("nightly")
    server = RegistryServer(work / "registry")
    seed = Seeded(server, nightly=server.token("nightly", "nightly"), publisher=server.token("ci", "*"))
    dist = work / "dist"
    for name, version in ((ALPHA, "1.0.0"), (ALPHA, "1.1.0"), (BETA, "0.1.0"), (GAMMA, "2.0.0"), (DELTA, "1.0.0"),
                          (DELTA, "1.1.0"), (EPS, "1.0.0"), (EXTRA, "1.0.0")):
        answer = upload(server.url, plugin_wheel(dist, name, version, summary=f"{name} for the nightly tests"), seed.publisher)
        assert answer.status_code == 200, answer.text
    for night, results in NIGHTS.items():
        run = {"startedAt": f"{night}T02:00:00Z", "environment": RUN_ENV, "options": {"parallel": 4, "plugins": "*"}}
        created = seed.send("PUT", f"/runs/{night}", seed.nightly, json=run)
        assert created.status_code == 201, created.text
        for body in results:
            posted = seed.send("POST", f"/runs/{night}/results", seed.nightly, json=body)
            assert posted.status_code == 201, posted.text
        if night != N3:  # the last night is still running
            finished = seed.send("PATCH", f"/runs/{night}", seed.nightly, json={"finishedAt": f"{night}T03:30:00Z"})
            assert finished.status_code == 200, finished.text
    yanked = httpx.post(f"{server.url}/api/v1/projects/{DELTA}/versions/1.1.0/yank", json={"reason": "broken"},
                        headers={"Authorization": f"Bearer {seed.publisher}"})
    assert yanked.status_code == 200, yanked.text
    yield seed
    assert server.stop() == 0, server.text()


# -------------------------------------------------------------------------------- posting


def test_a_run_is_created_once_and_found_again(seeded: Seeded) -> None:
    again = seeded.send("PUT", f"/runs/{N1}", seeded.nightly,
                        json={"startedAt": "2024-05-01T09:00:00Z", "environment": ENV, "options": {}})
    assert again.status_code == 200, again.text
    run = again.json()
    assert run["night"] == N1 and run["startedAt"] == "2024-05-01T02:00:00.000000Z"  # the first PUT's, kept
    assert run["environment"] == RUN_ENV and run["options"] == {"parallel": 4, "plugins": "*"}
    assert run["counts"] == {"passed": 5, "failed": 1, "error": 0, "timeout": 0} and run["total"] == 6
    assert run["finished"] is True and run["finishedAt"] == "2024-05-01T03:30:00.000000Z" and run["previousNight"] is None
    assert seeded.get(f"/api/v1/nightly/runs/{N3}")["finished"] is False


def test_a_result_is_recorded_once_a_night(seeded: Seeded) -> None:
    again = seeded.send("POST", f"/runs/{N2}/results", seeded.nightly, json=result(ALPHA, "1.1.0", "passed"))
    assert again.status_code == 409, again.text
    assert "already recorded for this night" in again.json()["message"] and ALPHA in again.json()["message"]
    # concurrent posts of one new result: exactly one is recorded
    body = result(EXTRA, "1.0.0", "passed", env={**ENV, "python": "3.13.0"})
    with ThreadPoolExecutor(6) as pool:
        codes = sorted(pool.map(lambda _: seeded.send("POST", f"/runs/{N3}/results", seeded.nightly, json=body).status_code, range(6)))
    assert codes == [201] + [409] * 5


def test_posting_needs_the_nightly_scope(seeded: Seeded) -> None:
    body = result(GAMMA, "2.0.0", "passed")
    anonymous = seeded.send("POST", f"/runs/{N3}/results", json=body)
    assert anonymous.status_code == 401 and "registry token" in anonymous.json()["message"]
    assert seeded.send("POST", f"/runs/{N3}/results", "trg_unknown", json=body).status_code == 401
    publisher = seeded.send("POST", f"/runs/{N3}/results", seeded.publisher, json=body)
    assert publisher.status_code == 403 and "needs the scope 'nightly'" in publisher.json()["message"]
    for method, path in (("PUT", "/runs/2024-05-04"), ("PATCH", f"/runs/{N3}")):
        assert seeded.send(method, path, seeded.publisher, json={}).status_code == 403
        assert seeded.send(method, path, json={}).status_code == 401
    # and a nightly token cannot publish
    wheel = plugin_wheel(seeded.server.home.parent / "more", GAMMA, "2.1.0")
    refused = upload(seeded.server.url, wheel, seeded.nightly)
    assert refused.status_code == 403 and "'nightly' only posts nightly results" in refused.text


def test_scopes_keep_publishing_and_reporting_apart(tmp_path: Path) -> None:
    registry = Registry(RegistryConfig.load(home=tmp_path)).open()
    try:
        def token(*scopes: str) -> TokenRecord:
            return registry.tokens.create("-".join(scopes).replace("*", "all"), scopes)[1]

        with pytest.raises(Forbidden, match="may not post nightly results"):
            registry.tokens.authorize_nightly(token("*"))
        with pytest.raises(Forbidden):
            registry.tokens.authorize_nightly(token("night*"))
        with pytest.raises(Forbidden, match="may not publish to 'nightly'"):  # the scope is no project pattern
            registry.tokens.authorize(token("nightly"), "nightly")
        both = token("nightly", "tercel-plugin-*")
        registry.tokens.authorize_nightly(both)
        registry.tokens.authorize(both, ALPHA)
    finally:
        registry.close()


@pytest.mark.parametrize(
    ("night", "change", "status", "message"),
    [
        (N3, {"plugin": "tercel-plugin-nope"}, 404, "no plugin named 'tercel-plugin-nope'"),
        (N3, {"version": "9.9.9"}, 404, f"{ALPHA} has no version 9.9.9"),
        ("2024-06-30", {}, 404, "no nightly run for 2024-06-30"),
        ("2024-13-01", {}, 400, "night '2024-13-01' is not a date"),
        ("yesterday", {}, 400, "YYYY-MM-DD"),
        (N3, {"status": "flaky"}, 400, 'status: "flaky" is not one of passed, failed, error, timeout'),
        (N3, {"counts": {"passed": 1}}, 400, "counts: missing 'failed', 'errors', 'skipped'"),
        (N3, {"counts": {**COUNTS["passed"], "failed": -1}}, 400, "counts.failed must be a whole number"),
        (N3, {"duration": "12s"}, 400, "duration must be a number of seconds"),
        (N3, {"environment": {"python": "3.11"}}, 400, "environment: missing 'sdk', 'core'"),
        (N3, {"startedAt": "2024-05-03T02:00:00"}, 400, "startedAt: '2024-05-03T02:00:00' has no time zone"),
        (N3, {"finishedAt": "2024-05-01T01:00:00Z"}, 400, "finishedAt (2024-05-01T01:00:00Z) is before startedAt"),
        (N3, {"log_tail": "x"}, 400, "the result: unknown field 'log_tail'"),
        (N3, {"tests": [{"name": "t", "outcome": "xfail"}]}, 400, 'tests[0].outcome: "xfail" is not one of'),
        (N3, {"tests": [{"name": "t", "outcome": "passed"}] * 20_001}, 400, "tests has 20001 entries: at most 20000"),
        (N3, {"logTail": "é" * (32 * 1024) + "!"}, 400, "logTail is 65537 bytes: at most 65536"),
    ],
)
def test_a_bad_result_is_refused_saying_what_and_where(
    seeded: Seeded, night: str, change: dict[str, Any], status: int, message: str,
) -> None:
    answer = seeded.send("POST", f"/runs/{night}/results", seeded.nightly, json={**result(ALPHA, "1.1.0", "passed"), **change})
    assert answer.status_code == status, answer.text
    assert message in answer.json()["message"]


def test_long_messages_are_cut_and_kept(seeded: Seeded) -> None:
    long = "Traceback (most recent call last):\n" + "  frame\n" * 2_000
    body = result(EXTRA, "1.0.0", "failed", env={**ENV, "python": "3.12.0"}, reason="r" * 10_000,
                  tests=[{"classname": "c", "name": "test_" + "n" * 5_000, "outcome": "failed", "message": long}])
    assert seeded.send("POST", f"/runs/{N3}/results", seeded.nightly, json=body).status_code == 201
    found = seeded.get(f"/api/v1/nightly/runs/{N3}/results", plugin=EXTRA, version="1.0.0")
    [stored] = [r for r in found["results"] if r["environment"]["python"] == "3.12.0"]
    [test] = stored["tests"]
    assert test["message"].startswith(long[:4000]) and test["message"].endswith(f"[cut: {len(long)} characters in all]")
    assert len(test["name"]) < 1_100 and stored["reason"].endswith("[cut: 10000 characters in all]")
    assert seeded.send("POST", f"/runs/{N3}/results", seeded.nightly, content=b"{not json").status_code == 400


def test_a_finished_run_takes_no_more_results(seeded: Seeded) -> None:
    late = seeded.send("POST", f"/runs/{N1}/results", seeded.nightly, json=result(GAMMA, "2.0.0", "passed", env=NEW_SDK))
    assert late.status_code == 409 and "has finished" in late.json()["message"]
    before = seeded.send("PATCH", f"/runs/{N3}", seeded.nightly, json={"finishedAt": "2024-05-01T00:00:00Z"})
    assert before.status_code == 400 and "before the run's start" in before.json()["message"]
    assert seeded.send("PATCH", "/runs/2024-06-30", seeded.nightly, json={"finishedAt": "2024-06-30T03:00:00Z"}).status_code == 404


# -------------------------------------------------------------------------------- reading


def _key(doc: dict[str, Any]) -> tuple[Any, ...]:
    previous = doc.get("previous") or {}
    return (doc["plugin"], doc["version"], doc["environment"]["sdk"], doc["status"], previous.get("night"), previous.get("status"))


def test_a_run_lists_what_broke_and_what_was_fixed(seeded: Seeded) -> None:
    run = seeded.get(f"/api/v1/nightly/runs/{N2}")
    assert run["previousNight"] == N1
    assert [_key(r) for r in run["broken"]] == [
        (ALPHA, "1.1.0", "0.1.0", "failed", N1, "passed"),
        (BETA, "0.1.0", "0.1.0", "error", N1, "passed"),
        (GAMMA, "2.0.0", "0.1.0", "timeout", N1, "passed"),
    ]
    assert [_key(r) for r in run["fixed"]] == [(ALPHA, "1.0.0", "0.1.0", "passed", N1, "failed")]
    assert [(r["plugin"], r["version"], r["environment"]["sdk"]) for r in run["results"]] == [
        (ALPHA, "1.1.0", "0.2.0"), (ALPHA, "1.1.0", "0.1.0"), (ALPHA, "1.0.0", "0.1.0"), (BETA, "0.1.0", "0.1.0"),
        (GAMMA, "2.0.0", "0.1.0"),
    ]
    assert all("tests" not in r and "logTail" not in r for r in run["results"])
    beta = next(r for r in run["broken"] if r["plugin"] == BETA)
    assert beta["reason"].startswith("the plugin did not install") and beta["counts"] == COUNTS["error"]
    # eps was not run on N2: N3 compares it with N1, the previous run that has it
    later = seeded.get(f"/api/v1/nightly/runs/{N3}")
    assert [_key(r) for r in later["broken"]] == [(EPS, "1.0.0", "0.1.0", "failed", N1, "passed")]
    assert later["fixed"] == []
    first = seeded.get(f"/api/v1/nightly/runs/{N1}")
    assert first["broken"] == first["fixed"] == [] and first["previousNight"] is None


def test_the_runs_newest_first_with_their_counts(seeded: Seeded) -> None:
    runs = seeded.get("/api/v1/nightly/runs")
    assert [r["night"] for r in runs["runs"]] == [N3, N2, N1] and runs["total"] == 3
    assert runs["runs"][1]["counts"] == {"passed": 2, "failed": 1, "error": 1, "timeout": 1}
    paged = seeded.get("/api/v1/nightly/runs", size=2, page=2)
    assert [r["night"] for r in paged["runs"]] == [N1] and paged["total"] == 3


def test_a_results_details_with_its_tests(seeded: Seeded) -> None:
    found = seeded.get(f"/api/v1/nightly/runs/{N2}/results", plugin="Tercel_Plugin.Alpha", version="1.1")
    assert found["plugin"] == ALPHA and found["version"] == "1.1.0" and found["total"] == 2
    newest, older = found["results"]
    assert newest["environment"] == NEW_SDK and newest["status"] == "passed"
    assert older["status"] == "failed" and older["logTail"] == "collected 3 items\nfailed\n"
    assert [t["name"] for t in older["tests"] if t["outcome"] == "failed"] == ["test_notify"]
    assert older["tests"][2]["message"] == "AssertionError: assert 500 == 200"
    beta = seeded.get(f"/api/v1/nightly/runs/{N2}/results", plugin=BETA)["results"][0]
    assert len(beta["logTail"].encode()) == 64 * 1024
    every = seeded.get(f"/api/v1/nightly/runs/{N2}/results", size=2)
    assert every["total"] == 5 and len(every["results"]) == 2 and "tests" in every["results"][0]
    brief = seeded.get(f"/api/v1/nightly/runs/{N2}/results", size=100, details="false")
    assert len(brief["results"]) == 5 and not any("tests" in r or "logTail" in r for r in brief["results"])
    assert httpx.get(f"{seeded.server.url}/api/v1/nightly/runs/{N2}/results", params={"version": "1.0.0"}).status_code == 400


def _nightly(seeded: Seeded, name: str) -> dict[str, dict[str, Any]]:
    return {v["version"]: v["nightly"] for v in seeded.get(f"/api/v1/plugins/{name}")["versions"]}


def test_the_catalog_shows_each_versions_latest_status(seeded: Seeded) -> None:
    alpha = _nightly(seeded, ALPHA)
    newest = alpha["1.1.0"]
    assert (newest["status"], newest["night"], newest["environment"]) == ("passed", N2, NEW_SDK)  # the newest SDK first
    assert newest["counts"] == COUNTS["passed"] and newest["duration"] == 12.5
    assert [(e["environment"]["sdk"], e["status"], e["night"]) for e in newest["environments"]] == [
        ("0.2.0", "passed", N2), ("0.1.0", "failed", N2),
    ]
    assert (alpha["1.0.0"]["status"], alpha["1.0.0"]["night"]) == ("passed", N2)
    assert _nightly(seeded, BETA)["0.1.0"]["status"] == "error"
    assert _nightly(seeded, GAMMA)["2.0.0"]["status"] == "timeout"
    assert (_nightly(seeded, EPS)["1.0.0"]["status"], _nightly(seeded, EPS)["1.0.0"]["night"]) == ("failed", N3)
    delta = _nightly(seeded, DELTA)
    assert delta["1.0.0"] == {"status": "not run"} and delta["1.1.0"]["status"] == "passed"
    version = seeded.get(f"/api/v1/plugins/{ALPHA}/versions/1.1.0")
    assert version["nightly"] == newest


def test_a_plugins_history_newest_first(seeded: Seeded) -> None:
    history = seeded.get(f"/api/v1/plugins/{ALPHA}/nightly")
    assert history["total"] == 2 and history["name"] == ALPHA and history["version"] is None
    assert [n["night"] for n in history["nights"]] == [N2, N1]
    assert [(r["version"], r["environment"]["sdk"], r["status"], r["counts"]["passed"]) for r in history["nights"][0]["results"]] == [
        ("1.1.0", "0.2.0", "passed", 3), ("1.1.0", "0.1.0", "failed", 2), ("1.0.0", "0.1.0", "passed", 3),
    ]
    assert [(r["version"], r["status"]) for r in history["nights"][1]["results"]] == [("1.1.0", "passed"), ("1.0.0", "failed")]
    pages = [seeded.get(f"/api/v1/plugins/{ALPHA}/nightly", size=1, page=n) for n in (1, 2, 3)]
    assert [[n["night"] for n in p["nights"]] for p in pages] == [[N2], [N1], []]
    one = seeded.get(f"/api/v1/plugins/{ALPHA}/nightly", version="1.0.0")
    assert [[(r["version"], r["status"]) for r in n["results"]] for n in one["nights"]] == [[("1.0.0", "passed")], [("1.0.0", "failed")]]
    assert httpx.get(f"{seeded.server.url}/api/v1/plugins/tercel-plugin-nope/nightly").status_code == 404


def _badge(seeded: Seeded, name: str, status: int = 200) -> tuple[str, str]:
    answer = httpx.get(f"{seeded.server.url}/badges/{name}.svg")
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "image/svg+xml" and answer.headers["cache-control"] == "max-age=300"
    svg = ET.fromstring(answer.text)
    assert svg.tag == f"{SVG}svg"
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert texts[:2] == ["nightly", "nightly"]
    colours = [r.get("fill") for r in svg.iter(f"{SVG}rect") if r.get("x")]
    assert svg.find(f"{SVG}title").text == f"nightly: {texts[2]}"
    return str(texts[2]), str(colours[0])


def test_the_badges(seeded: Seeded) -> None:
    assert _badge(seeded, ALPHA) == ("passing", "#4c1")
    assert _badge(seeded, EPS) == ("failing", "#e05d44")
    assert _badge(seeded, BETA) == ("error", "#fe7d37")
    assert _badge(seeded, GAMMA) == ("timeout", "#fe7d37")
    assert _badge(seeded, DELTA) == ("not run", "#9f9f9f")  # 1.1.0 passed, but it is yanked
    assert _badge(seeded, "tercel-plugin-nope", 404) == ("unknown", "#9f9f9f")
    assert httpx.get(f"{seeded.server.url}/badges/{ALPHA}.png").status_code == 404


# -------------------------------------------------------------------------------- pages


def _page(seeded: Seeded, path: str) -> tuple[str, Node]:
    answer = httpx.get(f"{seeded.server.url}{path}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    return str(answer.url), parse(answer.text)


def _rows(table: Node) -> list[tuple[str | None, ...]]:
    return [(tr.attrs.get("data-plugin"), tr.attrs.get("data-version"), tr.attrs.get("data-status")) for tr in table.all("tr")
            if tr.attrs.get("data-status")]


def test_the_plugin_page_shows_each_versions_status(seeded: Seeded) -> None:
    url, page = _page(seeded, f"/plugins/{ALPHA}/")
    versions = {tr.attrs["data-version"]: tr.one("a", "status").text for tr in page.one("table", "all-versions").all("tr")
                if tr.attrs.get("data-version")}
    assert versions == {"1.1.0": "passed", "1.0.0": "passed"}
    facts = page.one("td", id="nightly")
    assert facts.one("a", "status").text == "passed" and N2 in facts.text and "SDK 0.2.0" in facts.text
    assert "SDK 0.1.0" in facts.text and "failed" in facts.text  # the other environment
    links_work(url, page)
    _, delta = _page(seeded, f"/plugins/{DELTA}/?version=1.0.0")
    assert delta.one("td", id="nightly").one("a", "status").text == "not run"


def test_the_run_page_lists_what_broke_then_every_result(seeded: Seeded) -> None:
    url, page = _page(seeded, f"/nightly/{N2}/")
    assert page.one("h1").text == f"Nightly run {N2}"
    assert _rows(page.one("table", id="broken")) == [(ALPHA, "1.1.0", "failed"), (BETA, "0.1.0", "error"), (GAMMA, "2.0.0", "timeout")]
    before = [tr.one("td", "previous") for tr in page.one("table", id="broken").all("tr") if tr.attrs.get("data-status")]
    assert [(td.attrs["data-night"], td.attrs["data-status"]) for td in before] == [(N1, "passed")] * 3
    assert _rows(page.one("table", id="fixed")) == [(ALPHA, "1.0.0", "passed")]
    assert len(_rows(page.one("table", id="results"))) == 5
    counts = page.one("td", id="counts").text
    assert "2 passed" in counts and "1 timeout" in counts
    links_work(url, page)
    _, first = _page(seeded, f"/nightly/{N1}/")
    assert "Nothing that passed before failed" in first.one(id="broken").text
    assert first.one("td", id="finished").text == "2024-05-01 03:30 UTC"


def test_the_runs_page_and_a_results_page(seeded: Seeded) -> None:
    url, page = _page(seeded, "/nightly/")
    assert [tr.attrs["data-night"] for tr in page.one("table", "runs").all("tr") if tr.attrs.get("data-night")] == [N3, N2, N1]
    links_work(url, page)
    url, page = _page(seeded, f"/nightly/{N2}/{ALPHA}/1.1.0/")
    sections = page.all("section", "result")
    assert [s.attrs["data-sdk"] for s in sections] == ["0.2.0", "0.1.0"]
    failures = sections[1].one("table", "failures").text
    assert "test_notify" in failures and "AssertionError: assert 500 == 200" in failures
    assert "collected 3 items" in sections[1].one("pre", "log").text
    links_work(url, page)
    assert httpx.get(f"{seeded.server.url}/nightly/{N2}/{EPS}/1.0.0/").status_code == 404  # not run that night
    assert httpx.get(f"{seeded.server.url}/nightly/2024-06-30/").status_code == 404


def test_the_history_page(seeded: Seeded) -> None:
    url, page = _page(seeded, f"/plugins/{ALPHA}/nightly/")
    rows = [(tr.attrs["data-night"], tr.attrs["data-version"], tr.attrs["data-status"]) for tr in page.one("table", "history").all("tr")
            if tr.attrs.get("data-night")]
    assert rows == [(N2, "1.1.0", "passed"), (N2, "1.1.0", "failed"), (N2, "1.0.0", "passed"), (N1, "1.1.0", "passed"), (N1, "1.0.0", "failed")]
    assert f"/badges/{ALPHA}.svg" in page.one("pre").text
    links_work(url, page)
    _, one = _page(seeded, f"/plugins/{ALPHA}/nightly/?version=1.0.0")
    assert {tr.attrs["data-version"] for tr in one.all("tr") if tr.attrs.get("data-night")} == {"1.0.0"}


# -------------------------------------------------------------------------------- the schema


def test_a_registry_database_of_schema_1_is_upgraded(tmp_path: Path) -> None:
    """The nightly tables are created, and every release's types and keywords indexed again
    (schema 1 left them out on PostgreSQL)."""
    config = RegistryConfig.load(home=tmp_path / "home")
    registry = Registry(config).open()
    wheel = plugin_wheel(tmp_path / "dist", ALPHA, "1.0.0", keywords=["http"])
    registry.keep(registry.inspect(wheel.name, wheel.read_bytes()), wheel.read_bytes(), "test")
    registry.close()
    database = config.home / "registry.db"
    with sqlite3.connect(database) as conn:  # what a schema 1 database on PostgreSQL looks like
        for table in ("registry_nightly_details", "registry_nightly_results", "registry_nightly_runs"):
            conn.execute(f"DROP TABLE {table}")
        conn.execute("DELETE FROM registry_types")
        conn.execute("DELETE FROM registry_keywords")
        conn.execute("UPDATE registry_meta SET value = '1' WHERE key = 'schema_version'")
    conn.close()
    registry = Registry(config).open()
    try:
        assert [p["name"] for p in registry.search(None, type_name="io.tercel.alpha.Fetch", keyword="http", page=1, size=10)["results"]] == [ALPHA]
        assert registry.plugin(ALPHA)["versions"][0]["nightly"] == {"status": "not run"}
    finally:
        registry.close()
    with sqlite3.connect(database) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = conn.execute("SELECT value FROM registry_meta WHERE key = 'schema_version'").fetchone()[0]
    conn.close()
    assert {"registry_nightly_runs", "registry_nightly_results", "registry_nightly_details"} <= tables
    assert version == "2"
