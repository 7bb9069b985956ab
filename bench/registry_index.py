"""The registry's index and catalog with 500 plugins x 10 versions, over HTTP.

Requirement (issue "plugin registry"): "with 500 plugins x 10 versions (one wheel each), the
simple index page of one plugin and a catalog search answer in under 50 ms at the median,
measured over HTTP against the real server process".

What it does:
  1. builds 5,000 real plugin wheels (`tests/plugin_wheels.py`'s `build_wheel`: a package with a
     `tercel.plugins` entry point, a `tercel-manifest.json` of three types with their JSON
     Schemas, a `tercel-plugin-sdk>=0.1,<0.2` requirement), and seeds them straight into a fresh
     registry (SQLite by default, `--database URL` for another): each one goes through the same
     upload checks (`inspect_upload`), files folder and database writes as an upload, without
     the HTTP round trip;
  2. starts the real server, `python -m tercel registry serve --port P`, on that home;
  3. with one keep-alive httpx client, after 20 warm-up requests each, sends `--requests` (200)
     requests per measure, one at a time, and reports the median and p95 of the wall time:
     - `simple JSON`: `GET /simple/<plugin>/` with pip's Accept header (PEP 691 JSON: 10 files);
     - `simple HTML`: the same page as PEP 503 HTML (what older clients ask for);
     - `search`: `GET /api/v1/plugins?q=http` (a word ~1 plugin in 15 has in its name, summary
       or types: ranked, first page of 20, total);
     - `search 2 words`: `GET /api/v1/plugins?q=send+message` (matches hundreds, by type titles);
     - `plugin`: `GET /api/v1/plugins/<plugin>` (every version), for scale.
     The plugin asked for rotates over all 500 so no answer is the previous one.

Run: `.venv/bin/python bench/registry_index.py [--plugins 500] [--versions 10] [--requests 200]
[--database URL] [--json]` (about a minute, most of it seeding). Results: bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from plugin_wheels import SDK_RANGE, build_wheel  # noqa: E402

TARGET = 0.050
WORDS = ["http", "slack", "kafka", "s3", "postgres", "mysql", "redis", "email", "teams", "git",
         "docker", "ssh", "ftp", "gcs", "azure"]
VERBS = [("Fetch", "Fetch a document"), ("Send", "Send a message"), ("Watch", "Watch for changes")]


def _manifest(name: str, version: str, module: str, index: int) -> dict:
    word = WORDS[index % len(WORDS)]
    types = []
    for verb, title in VERBS:
        schema = {
            "title": title, "type": "object", "required": ["id", "type", "target"],
            "properties": {
                "id": {"type": "string"}, "type": {"const": f"io.tercel.{word}{index}.{verb}"},
                "target": {"anyOf": [{"type": "string"}, {"type": "string", "pattern": "{{.*}}"}], "description": "Where."},
                "timeout": {"type": "string", "format": "duration", "default": "PT1M"},
                "options": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
        types.append({
            "type": f"io.tercel.{word}{index}.{verb}", "aliases": [], "kind": "task", "flowable": False,
            "class": f"{module}:{verb}", "title": f"{title} with {word}", "description": f"{title} through {word}.",
            "properties": {"target": {"required": True, "dynamic": True, "description": "Where."},
                           "timeout": {"required": False, "dynamic": False, "description": "", "default": "PT1M"}},
            "taskSlots": {}, "schema": schema, "outputs": {"type": "object", "properties": {"value": {"type": "string"}}},
            "examples": [{"title": "", "code": f"id: x\ntype: io.tercel.{word}{index}.{verb}\ntarget: here\n", "full": False}],
            "metrics": [],
        })
    return {"manifestVersion": 1, "distribution": name, "version": version, "module": module,
            "hooks": ["tercel_task_types"], "types": types}


def seed(home: Path, database: str | None, plugins: int, versions: int) -> tuple[float, list[str]]:
    """Build and publish plugins x versions wheels into the registry at `home`; (seconds, names)."""
    from tercel_registry import Registry, RegistryConfig

    registry = Registry(RegistryConfig.load(home=home, database_url=database)).open()
    names = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        for index in range(plugins):
            word = WORDS[index % len(WORDS)]
            name = f"tercel-plugin-{word}{index}"
            names.append(name)
            package = name.replace("-", "_")
            for minor in range(versions):
                version = f"1.{minor}.0"
                files = {
                    f"{package}/__init__.py": f'"""{name}."""\n',
                    f"{package}/plugin.py": "from tercel_sdk import hookimpl\n",
                    f"{package}/tercel-manifest.json": json.dumps(_manifest(name, version, f"{package}.plugin", index)),
                }
                path = build_wheel(Path(scratch), name, version, files, requires=[SDK_RANGE],
                                   entry_points={"tercel.plugins": {word: f"{package}.plugin"}},
                                   summary=f"{word.upper()} tasks for tercel, number {index}")
                data = path.read_bytes()
                path.unlink()
                registry.keep(registry.inspect(path.name, data), data, "bench")
    registry.close()
    return time.perf_counter() - started, names


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(home: Path, database: str | None) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    port = _free_port()
    env = {**os.environ, "TERCEL_REGISTRY_HOME": str(home)}
    if database:
        env["TERCEL_REGISTRY_DATABASE_URL"] = database
    proc = subprocess.Popen([sys.executable, "-m", "tercel", "registry", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the registry exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the registry did not start")


def measure(client: object, requests: list[tuple[str, dict[str, str], dict[str, str]]], warmup: int = 20) -> dict[str, float]:
    times = []
    for index, (path, params, headers) in enumerate(requests[:warmup] + requests):
        started = time.perf_counter()
        answer = client.get(path, params=params, headers=headers)  # type: ignore[attr-defined]
        elapsed = time.perf_counter() - started
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:200])
        if index >= warmup:
            times.append(elapsed)
    times.sort()
    return {"median": statistics.median(times), "p95": times[int(len(times) * 0.95) - 1], "n": len(times)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugins", type=int, default=500)
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database", help="a database URL (default: SQLite in the temporary home)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import httpx

    with tempfile.TemporaryDirectory(prefix="registry-bench-") as tmp:
        home = Path(tmp) / "registry"
        seconds, names = seed(home, args.database, args.plugins, args.versions)
        proc, url = serve(home, args.database)
        try:
            pip_accept = {"Accept": "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"}
            n = args.requests
            measures = {
                "simple JSON": [(f"/simple/{names[i % len(names)]}/", {}, pip_accept) for i in range(n)],
                "simple HTML": [(f"/simple/{names[i % len(names)]}/", {}, {"Accept": "text/html"}) for i in range(n)],
                "search": [("/api/v1/plugins", {"q": "http"}, {}) for _ in range(n)],
                "search 2 words": [("/api/v1/plugins", {"q": "send message"}, {}) for _ in range(n)],
                "plugin": [(f"/api/v1/plugins/{names[i % len(names)]}", {}, {}) for i in range(n)],
            }
            with httpx.Client(base_url=url, timeout=30) as client:
                total = client.get("/api/v1/plugins", params={"q": "http"}).json()["total"]
                results = {label: measure(client, requests) for label, requests in measures.items()}
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
    report = {
        "plugins": args.plugins, "versions": args.versions, "files": args.plugins * args.versions,
        "database": args.database or "sqlite", "seed_seconds": round(seconds, 1), "search_http_total": total,
        "target_median_ms": TARGET * 1000,
        "results": {k: {"median_ms": round(v["median"] * 1000, 2), "p95_ms": round(v["p95"] * 1000, 2), "n": v["n"]} for k, v in results.items()},
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['files']} wheels ({args.plugins} plugins x {args.versions} versions) seeded in {seconds:.1f} s "
              f"on {report['database']}; 'http' matches {total} plugins")
        print(f"{'measure':<16} {'median':>10} {'p95':>10}  target (median)")
        for label, value in report["results"].items():
            met = "" if label == "plugin" else (" met" if value["median_ms"] < TARGET * 1000 else " MISSED")
            target = "" if label == "plugin" else f"< {TARGET * 1000:.0f} ms{met}"
            print(f"{label:<16} {value['median_ms']:>7.2f} ms {value['p95_ms']:>7.2f} ms  {target}")
    failed = any(v["median"] >= TARGET for k, v in results.items() if k != "plugin")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
