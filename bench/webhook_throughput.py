"""Webhook-triggered two-task flows at increasing constant rates, against the real server.

Issue: "webhook-triggered two-task flows at increasing rates. Kestra's open-source build holds
about 1,500 executions a minute under 1 s latency on 4 vCPUs with a separate database; the target
here is at least 3,000 a minute with p95 latency under 1 s on this 2-core machine, embedded
default."

What it does:
  1. starts the real server, `python -m tercel server local --port P`, in a subprocess with a fresh
     temporary TERCEL_HOME (SQLite + local storage: the embedded default) and preset basic-auth
     credentials, and waits for /api/v1/health;
  2. creates the flow below through the API: a `tercel.core.Return` rendering `trigger.body.n`,
     then a `tercel.core.Log` using its output, and a Webhook trigger;
  3. warms up (a few seconds at a low rate, not reported), then for each rate fires
     `POST /api/v1/executions/webhook/bench/webhook_throughput/{key}` (JSON body, no credentials)
     open-loop: request i is sent at start + i / rate whatever happened to the previous ones
     (asyncio + one httpx.AsyncClient with 32 connections), recording the wall-clock send time
     and the execution id of each answer;
  4. after each step, waits until none of the flow's executions is still running, reads them back
     (`GET /api/v1/executions/search`, paged) and takes each one's `state.endDate`.

Latency = the execution's end date (server clock) - the client's send time (client clock); both
are this machine's clock. Per step it reports the offered rate, the executions per minute achieved
(successful executions / (last end - first send)), p50/p95/p99 latency, failures (a non-2xx
answer, no answer, or an execution that did not end SUCCESS), where the latency went (send ->
execution created, created -> ended, p95 each), the server's CPU (user + system time of its
process / wall time, so 1.0 = one full core) and the whole machine's busy share over the step.
The client runs on the same 2 cores and its own CPU is reported too.

The summary is the highest rate whose step met p95 < 1 s with no failure, in executions/minute,
against the target of 3,000/min (50/s).

Run: `.venv/bin/python bench/webhook_throughput.py` (about 5 minutes; `--quick`: 3 short steps).
The rates go past the target (50/s) to show where the server stops keeping up; a step with p95
above 10 s or more than 5 % failures ends the run (`--all-steps` runs the rest anyway).
Options: `--rates 20,35,50,65,80,100,150,200,250,300` (per second), `--duration 25` (seconds per
step), `--client raw` (plain asyncio streams instead of httpx for the webhooks: far less client
CPU), `--json`, `--keep-home` (keep the server's TERCEL_HOME and log), `--py-spy FILE` (record
the server with py-spy, if installed, during the first step at or above `--profile-rate`, from its
first request until its last execution ended: FILE.svg a flame graph, FILE.json speedscope, else
collapsed stacks; `--gil`: only the thread holding the GIL, i.e. the Python work, which one
interpreter does one thread at a time). Not a test: figures depend on the machine (and this VM is
noisy). Results: bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "bench"
FLOW_ID = "webhook_throughput"
KEY = "bench-webhook-key-1"
HOOK = f"/api/v1/executions/webhook/{NAMESPACE}/{FLOW_ID}/{KEY}"
USER, PASSWORD = "bench", "bench-password"
FLOW = f"""\
id: {FLOW_ID}
namespace: {NAMESPACE}
tasks:
  - id: first
    type: tercel.core.Return
    format: "{{{{ trigger.body.n }}}}"
  - id: second
    type: tercel.core.Log
    message: "request {{{{ outputs.first.value }}}} done"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: {KEY}
"""

TARGET_PER_MINUTE = 3000
TARGET_P95_S = 1.0
CONNECTIONS = 32
SATURATED_P95_S = 10.0  # a step this slow ends the run (unless --all-steps)
NOT_ENDED = ("CREATED", "SUBMITTED", "QUEUED", "RUNNING", "RETRYING", "RESTARTED", "KILLING", "PAUSED", "BREAKPOINT")
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- the server ------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`python -m tercel server local` on a free loopback port, its home in `home`."""

    def __init__(self, home: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        home.mkdir(parents=True, exist_ok=True)
        self.output = home.parent / "server.log"
        self._log = open(self.output, "w")  # noqa: SIM115 - closed in stop()
        env = {
            **os.environ, "TERCEL_HOME": str(home),
            "TERCEL_BASIC_AUTH_USERNAME": USER, "TERCEL_BASIC_AUTH_PASSWORD": PASSWORD,
            "PYTHONUNBUFFERED": "1",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tercel", "server", "local", "--port", str(self.port)],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT, env=env,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {self.output.read_text()[-4000:]}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server did not start: {self.output.read_text()[-4000:]}")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (/proc/<pid>/stat)."""
        return _proc_cpu(self.proc.pid)

    def rss_bytes(self) -> int:
        try:
            with open(f"/proc/{self.proc.pid}/statm") as fp:
                return int(fp.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            return 0

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        finally:
            self._log.close()
        return code


def _proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fp:
            fields = fp.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15)


def _machine_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as fp:
        values = [int(v) for v in fp.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return total - idle, total


# -- one step --------------------------------------------------------------------------------------
@dataclass
class Sent:
    n: int
    intended: float  # wall clock (time.time()) the schedule asked for
    sent: float = 0.0  # wall clock when the request was handed to the client
    answered: float = 0.0
    status: int = 0
    execution_id: str | None = None
    error: str | None = None


@dataclass
class Step:
    rate: float
    duration: float
    sends: list[Sent] = field(default_factory=list)
    ended: dict[str, dict[str, Any]] = field(default_factory=dict)
    send_window: tuple[float, float] = (0.0, 0.0)
    drained_at: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    machine_busy: float = 0.0
    server_rss: int = 0
    server_cpu_s: float = 0.0
    loadavg: tuple[float, float, float] = (0.0, 0.0, 0.0)


async def _send(client: httpx.AsyncClient, url: str, item: Sent) -> None:
    """One webhook call through httpx (the default client)."""
    item.sent = time.time()
    try:
        response = await client.post(url, json={"n": item.n})
    except httpx.HTTPError as exc:
        item.error = f"{type(exc).__name__}: {exc}"
        item.answered = time.time()
        return
    item.answered = time.time()
    item.status = response.status_code
    if response.is_success:
        try:
            item.execution_id = response.json()["id"]
        except (ValueError, KeyError) as exc:
            item.error = f"bad answer: {exc}"
    else:
        item.error = f"HTTP {response.status_code}: {response.text[:200]}"


class RawClient:
    """`--client raw`: the webhook POST over plain asyncio streams, HTTP/1.1 keep-alive, at most
    `connections` at once. A quarter to a fifth of httpx's CPU per request (0.4-0.6 ms against
    2-2.6 ms here): on 2 cores the load generator then takes less from the server, which shows
    whether a ceiling is the server's."""

    KEEP_ALIVE = 4.0  # uvicorn closes a connection idle for 5 s: don't reuse one that old

    def __init__(self, url: str, path: str, connections: int) -> None:
        parsed = httpx.URL(url)
        self.host, self.port = parsed.host, parsed.port
        self.head = (
            f"POST {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\ncontent-type: application/json\r\n"
            "user-agent: tercel-bench\r\ncontent-length: %d\r\n\r\n"
        ).encode()
        self.idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter, float] | None] = asyncio.Queue()
        for _ in range(connections):
            self.idle.put_nowait(None)

    async def __call__(self, item: Sent) -> None:
        item.sent = time.time()
        conn = await self.idle.get()
        try:
            if conn is not None and time.monotonic() - conn[2] > self.KEEP_ALIVE:
                conn[1].close()
                conn = None
            for attempt in (1, 2):
                reused = conn is not None
                if conn is None:
                    reader, writer = await asyncio.open_connection(self.host, self.port)
                else:
                    reader, writer = conn[0], conn[1]
                try:
                    status, data, keep = await self._exchange(reader, writer, item.n)
                    break
                except (asyncio.IncompleteReadError, ConnectionError) as exc:
                    writer.close()
                    conn = None
                    partial = getattr(exc, "partial", b"")
                    if not (reused and not partial and attempt == 1):  # else: closed while idle, not sent
                        raise
            item.answered = time.time()
            item.status = status
            conn = (reader, writer, time.monotonic()) if keep else None
            if not keep:
                writer.close()
            if 200 <= status < 300:
                try:
                    item.execution_id = json.loads(data)["id"]
                except (ValueError, KeyError) as exc:
                    item.error = f"bad answer: {exc}"
            else:
                item.error = f"HTTP {status}: {data[:200].decode(errors='replace')}"
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            item.answered = time.time()
            item.error = f"{type(exc).__name__}: {exc}"
            conn = None
        finally:
            self.idle.put_nowait(conn)

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> tuple[int, bytes, bool]:
        body = b'{"n": %d}' % n
        writer.write(self.head % len(body) + body)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        if "content-length" not in headers:
            raise ValueError(f"an answer without content-length: {lines[0]}")
        data = await reader.readexactly(int(headers["content-length"]))
        return status, data, headers.get("connection", "").lower() != "close"

    async def aclose(self) -> None:
        while not self.idle.empty():
            conn = self.idle.get_nowait()
            if conn is not None:
                conn[1].close()


async def fire(send: Callable[[Sent], Awaitable[None]], rate: float, duration: float, first_n: int = 0) -> list[Sent]:
    """Open loop: request i goes at start + i / rate, whether or not earlier ones were answered."""
    count = max(1, round(rate * duration))
    loop = asyncio.get_running_loop()
    start_mono = loop.time() + 0.05
    start_wall = time.time() + (start_mono - loop.time())
    items = [Sent(n=first_n + i, intended=start_wall + i / rate) for i in range(count)]
    tasks = []
    for i, item in enumerate(items):
        delay = start_mono + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(item)))
    await asyncio.gather(*tasks)
    return items


async def wait_ended(client: httpx.AsyncClient, timeout: float) -> bool:
    """Until no execution of the flow is in a state that is not final."""
    deadline = time.monotonic() + timeout
    params = [("flowId", FLOW_ID), ("namespace", NAMESPACE), ("size", "1"), *(("state", s) for s in NOT_ENDED)]
    while time.monotonic() < deadline:
        found = (await client.get("/api/v1/executions/search", params=params)).json()
        if not found["results"]:
            return True
        await asyncio.sleep(0.2)
    return False


def _iso(value: float) -> str:
    return datetime.fromtimestamp(value).astimezone().isoformat()


async def fetch(client: httpx.AsyncClient, since: float, ids: set[str]) -> dict[str, dict[str, Any]]:
    """The step's executions as stored: id -> {state, created, end} (epoch seconds)."""
    out: dict[str, dict[str, Any]] = {}
    page = 1
    while True:
        params = {"flowId": FLOW_ID, "namespace": NAMESPACE, "startDate": _iso(since), "size": "500", "page": str(page)}
        found = (await client.get("/api/v1/executions/search", params=params)).json()
        for ex in found["results"]:
            if ex["id"] in ids:
                out[ex["id"]] = _summary(ex)
        if not found["more"]:
            break
        page += 1
    for missing in ids - out.keys():  # paging raced with something: read them one by one
        response = await client.get(f"/api/v1/executions/{missing}")
        if response.is_success:
            out[missing] = _summary(response.json())
    return out


def _ts(text: str | None) -> float | None:
    return None if text is None else datetime.fromisoformat(text).timestamp()


def _summary(ex: dict[str, Any]) -> dict[str, Any]:
    state = ex["state"]
    created = next((h["date"] for h in state.get("histories", []) if h["state"] == "CREATED"), state.get("startDate"))
    return {"state": state["current"], "created": _ts(created), "end": _ts(state.get("endDate"))}


async def run_step(server: Server, client: httpx.AsyncClient, send: Callable[[Sent], Awaitable[None]], rate: float,
                   duration: float, first_n: int, drain_timeout: float, profile: Path | None = None) -> Step:
    """One rate: send, wait until the executions ended, read them back. With `profile`, py-spy
    records the server from just before the first send until the last execution ended."""
    step = Step(rate=rate, duration=duration)
    spy = _start_py_spy(server.proc.pid, profile) if profile is not None else None
    if spy is not None:
        await asyncio.sleep(1.0)  # attached
    cpu0, client0, machine0 = server.cpu_seconds(), time.process_time(), _machine_times()
    t0 = time.time()
    step.sends = await fire(send, rate, duration, first_n)
    t1 = time.time()
    step.send_window = (step.sends[0].intended, t1)
    await wait_ended(client, drain_timeout)
    step.drained_at = time.time()
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=120)
    cpu1, client1, machine1 = server.cpu_seconds(), time.process_time(), _machine_times()
    wall = step.drained_at - t0
    step.server_cpu = (cpu1 - cpu0) / wall
    step.server_cpu_s = cpu1 - cpu0
    step.loadavg = os.getloadavg()
    step.client_cpu = (client1 - client0) / wall
    busy, total = machine1[0] - machine0[0], machine1[1] - machine0[1]
    step.machine_busy = busy / total if total else 0.0
    step.server_rss = server.rss_bytes()
    ids = {s.execution_id for s in step.sends if s.execution_id}
    step.ended = await fetch(client, t0 - 1, ids)
    return step


# -- figures ---------------------------------------------------------------------------------------
def _pct(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def figures(step: Step) -> dict[str, Any]:
    latencies, to_created, created_to_end, http = [], [], [], []
    failures = {"http": 0, "not_success": 0, "not_ended": 0}
    ends = []
    for s in step.sends:
        if s.execution_id is None:
            failures["http"] += 1
            continue
        http.append(s.answered - s.sent)
        ex = step.ended.get(s.execution_id)
        if ex is None or ex["end"] is None:
            failures["not_ended"] += 1
            continue
        if ex["state"] != "SUCCESS":
            failures["not_success"] += 1
            continue
        latencies.append(ex["end"] - s.sent)
        ends.append(ex["end"])
        if ex["created"] is not None:
            to_created.append(ex["created"] - s.sent)
            created_to_end.append(ex["end"] - ex["created"])
    first_send = min(s.sent for s in step.sends)
    span = (max(ends) - first_send) if ends else 0.0
    lag = [s.sent - s.intended for s in step.sends]
    sent_span = step.send_window[1] - step.send_window[0]
    errors = sorted({s.error for s in step.sends if s.error})[:3]
    return {
        "offered_per_s": step.rate,
        "offered_per_min": round(step.rate * 60),
        "requests": len(step.sends),
        "seconds": step.duration,
        "achieved_per_min": round(len(latencies) / span * 60) if span > 0 else 0,
        "failures": sum(failures.values()),
        "failure_kinds": failures,
        "latency_s": {"p50": _r(_pct(latencies, 50)), "p95": _r(_pct(latencies, 95)), "p99": _r(_pct(latencies, 99)), "max": _r(max(latencies, default=None))},
        "send_to_created_p95_s": _r(_pct(to_created, 95)),
        "created_to_end_p95_s": _r(_pct(created_to_end, 95)),
        "http_answer_s": {"p50": _r(_pct(http, 50)), "p95": _r(_pct(http, 95))},
        "client_send_lag_p99_s": _r(_pct(lag, 99)),
        "drain_after_last_send_s": _r(step.drained_at - step.send_window[1], 2),
        "send_window_s": _r(sent_span, 2),
        "server_cpu_cores": _r(step.server_cpu, 2),
        "server_cpu_ms_per_execution": _r(step.server_cpu_s * 1000 / len(step.sends), 2),
        "client_cpu_cores": _r(step.client_cpu, 2),
        "machine_busy": _r(step.machine_busy, 2),
        "server_rss_mib": _r(step.server_rss / 2**20, 1),
        "loadavg_1min_at_end": _r(step.loadavg[0], 2),
        "errors": errors,
        "meets_target": not sum(failures.values()) and bool(latencies) and (_pct(latencies, 95) or 0) < TARGET_P95_S,
    }


def report(result: dict[str, Any]) -> str:
    header = (
        f"{'offered':>12} {'achieved':>9} {'p50 s':>7} {'p95 s':>7} {'p99 s':>7} {'fail':>5} "
        f"{'->created':>9} {'->end':>7} {'http p95':>8} {'drain s':>7} {'server':>6} {'ms/ex':>5} {'client':>6} {'machine':>7} {'load':>5}  p95<1s"
    )
    lines = [
        f"webhook -> 2-task flow, open loop, real server (embedded default), {result['cpus']} CPUs, "
        f"client {result['client']} ({result['connections']} connections)",
        "latency = execution end - client send; ->created / ->end: p95 of send->execution created and created->end;",
        "server/client: CPU cores used over the step (1.00 = one core); ms/ex: server CPU ms per execution;",
        "machine: share of all cores busy (other processes included); load: 1-minute load average at the end of the step",
        header, "-" * len(header),
    ]
    for f in result["steps"]:
        lat = f["latency_s"]

        def fmt(v: float | None) -> str:
            return "-" if v is None else f"{v:.3f}"

        lines.append(
            f"{f['offered_per_s']:>5g}/s {f['offered_per_min']:>4}/m {f['achieved_per_min']:>7}/m "
            f"{fmt(lat['p50']):>7} {fmt(lat['p95']):>7} {fmt(lat['p99']):>7} {f['failures']:>5} "
            f"{fmt(f['send_to_created_p95_s']):>9} {fmt(f['created_to_end_p95_s']):>7} {fmt(f['http_answer_s']['p95']):>8} "
            f"{f['drain_after_last_send_s']:>7.2f} {f['server_cpu_cores']:>6.2f} {f['server_cpu_ms_per_execution']:>5.1f} "
            f"{f['client_cpu_cores']:>6.2f} {f['machine_busy']:>7.0%} {f['loadavg_1min_at_end']:>5.1f}  "
            f"{'yes' if f['meets_target'] else 'no'}"
        )
        if f["errors"]:
            lines.append(f"      errors: {'; '.join(f['errors'])}")
    s = result["summary"]
    best = s["best_per_min"]
    lines.append(
        f"highest rate with p95 < {TARGET_P95_S:g} s and no failure: {best if best else 'none'}"
        f"{' executions/min' if best else ''}; target >= {TARGET_PER_MINUTE} executions/min: "
        f"{'met' if s['target_met'] else 'NOT met'}"
    )
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------------------
async def bench(server: Server, rates: list[float], duration: float, warmup: float, drain_timeout: float, client_kind: str,
                py_spy: Path | None, profile_rate: float, stop_when_saturated: bool, progress: bool) -> dict[str, Any]:
    # Enough connections: a webhook answers in ~10 ms while the server keeps up, so 32 carry
    # ~3,000 requests/s. Not many more: httpcore's pool walks its connections for every idle one
    # on each request (O(connections^2), httpcore 1.0), and with hundreds open the client eats the
    # CPU the server needs on 2 cores. A request waiting for a connection is already "sent": its
    # latency counts the wait. Connections idle for 4 s are not reused (uvicorn closes them at 5 s).
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS, keepalive_expiry=4.0)
    timeout = httpx.Timeout(60.0)
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=timeout, auth=(USER, PASSWORD)) as client,  # the API, with credentials
        httpx.AsyncClient(base_url=server.url, limits=limits, timeout=timeout) as hooks,  # webhooks: none (they would be in trigger.headers)
    ):
        created = await client.post("/api/v1/flows", content=FLOW, headers={"content-type": "application/x-yaml"})
        if not created.is_success:
            raise RuntimeError(f"the flow could not be created: {created.status_code} {created.text}")
        raw = RawClient(server.url, HOOK, CONNECTIONS) if client_kind == "raw" else None
        send = raw if raw is not None else functools.partial(_send, hooks, HOOK)
        n = 0
        if warmup > 0:
            warm = await run_step(server, client, send, 10, warmup, n, drain_timeout)
            n += len(warm.sends)
            if progress:
                print(f"warm-up: {len(warm.sends)} executions, {figures(warm)['failures']} failures", file=sys.stderr)
        steps = []
        profiled = False
        for rate in rates:
            profile = None
            if py_spy is not None and not profiled and rate >= profile_rate:
                profile, profiled = py_spy, True
            step = await run_step(server, client, send, rate, duration, n, drain_timeout, profile)
            n += len(step.sends)
            f = figures(step)
            steps.append(f)
            if progress:
                print(f"{rate:g}/s: p95 {f['latency_s']['p95']} s, {f['achieved_per_min']}/min, {f['failures']} failures, "
                      f"server CPU {f['server_cpu_cores']}", file=sys.stderr)
            if stop_when_saturated and _saturated(f):
                if progress:
                    print("saturated: the higher rates are not run (--all-steps runs them)", file=sys.stderr)
                break
            await asyncio.sleep(1.0)
        if raw is not None:
            await raw.aclose()
    passing = [f["offered_per_min"] for f in steps if f["meets_target"]]
    best = max(passing, default=0)
    return {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "client": client_kind,
        "connections": CONNECTIONS,
        "flow": FLOW,
        "steps": steps,
        "summary": {"best_per_min": best, "target_per_min": TARGET_PER_MINUTE, "target_p95_s": TARGET_P95_S, "target_met": best >= TARGET_PER_MINUTE},
    }


def _saturated(f: dict[str, Any]) -> bool:
    """Far past what the server holds: higher rates would only pile up requests (in the client's
    connection pool too, whose queue handling then eats the client's CPU and stalls the run)."""
    p95 = f["latency_s"]["p95"]
    return p95 is None or p95 > SATURATED_P95_S or f["failures"] > 0.05 * f["requests"]


def _start_py_spy(pid: int, out: Path) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(exe).exists():
        print("py-spy not found: no profile", file=sys.stderr)
        return None
    fmt = {".svg": "flamegraph", ".json": "speedscope"}.get(out.suffix, "raw")  # raw: collapsed stacks, one a line
    return subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--rate", "200", "--format", fmt, "--output", str(out), "--threads", "--gil"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default=None, help="comma-separated rates per second (default 20,35,50,65,80,100,150,200,250,300; --quick 20,50,80)")
    parser.add_argument("--duration", type=float, default=None, help="seconds per step (default 25; --quick 8)")
    parser.add_argument("--warmup", type=float, default=None, help="seconds at 10/s before the steps, not reported (default 5; --quick 2)")
    parser.add_argument("--drain-timeout", type=float, default=300, help="seconds to wait for a step's executions to end")
    parser.add_argument("--quick", action="store_true", help="3 short steps")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--client", choices=("httpx", "raw"), default="httpx",
                        help="what sends the webhooks: httpx.AsyncClient, or plain asyncio streams (much less CPU)")
    parser.add_argument("--all-steps", action="store_true", help="run every rate even after a step saturated the server")
    parser.add_argument("--keep-home", action="store_true", help="keep the server's home and log (printed)")
    parser.add_argument("--py-spy", type=Path, default=None, help="record the server with py-spy (if installed) into this file: .svg flame graph, .json speedscope, else collapsed stacks")
    parser.add_argument("--profile-rate", type=float, default=0, help="with --py-spy: record the first step at or above this rate")
    args = parser.parse_args()
    rates = [float(r) for r in (args.rates or ("20,50,80" if args.quick else "20,35,50,65,80,100,150,200,250,300")).split(",")]
    duration = args.duration if args.duration is not None else (8.0 if args.quick else 25.0)
    warmup = args.warmup if args.warmup is not None else (2.0 if args.quick else 5.0)
    tmp = Path(tempfile.mkdtemp(prefix="tercel-bench-webhook-"))
    server = None
    try:
        server = Server(tmp / "home")
        result = asyncio.run(bench(
            server, rates, duration, warmup, args.drain_timeout, args.client, args.py_spy, args.profile_rate,
            stop_when_saturated=not args.all_steps, progress=not args.json,
        ))
    finally:
        if server is not None:
            server.stop()
        if args.keep_home:
            print(f"server home and log kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
