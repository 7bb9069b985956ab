"""What running a task in a plugin host costs over running it in the worker.

Requirement (issue "Plugin versions side by side"): a plugin host starts in under 0.5 s, and a
warm run adds at most ~5 ms at the median over an in-process run of the same trivial task.

The task renders one `Property[str]` holding an expression and logs one line, then returns a
one-key dict; a sync variant (`run` in a thread, the common case) and an async one. Both sides use
the real core: a `Runtime` (not started: no engine loops competing for the CPU), a stored
execution and, for every run, a fresh `TaskRunContext`, as the worker makes one per attempt.

- in-process: `Runtime._execute(node, ctx)`, what the worker does today (class loaded, model
  validated, `run` in the runtime's thread pool or on the loop, outputs made a dict);
- host: `HostPool.run(spec, class_path, node.spec, ctx)` with a real host started from this
  interpreter (`sys.executable`) holding the same task class (on its `PYTHONPATH`), kept warm;
- host start: spawn → "ready" handshake of a new host process (median of `--starts`), and the
  first run of a fresh pool (start, importing the task module, first validation).

Runs alternate in blocks of 50 (in-process, then host) so drift hits both alike. Also measured:
the encodings considered for the protocol, on its small messages (round trip, µs).

Run: `.venv/bin/python bench/plugin_host_overhead.py [--runs 1000] [--starts 7] [--json]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pickle
import statistics
import sys
import tempfile
import textwrap
import time
import timeit
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

TARGET_START = 0.5
TARGET_OVERHEAD = 0.005
BLOCK = 50

PACKAGE = '''
"""Tasks for bench/plugin_host_overhead.py."""
from pydantic import Field
from tercel_sdk import Property, RunnableTask, hookimpl


class Trivial(RunnableTask):
    """Render one property, log one line."""

    type_name = "bench.host.Trivial"
    name: Property[str] = Field(description="Who to greet.")

    def run(self, ctx):
        name = ctx.render(self.name)
        ctx.logger.info("hello %s", name)
        return {"greeting": name}


class TrivialAsync(RunnableTask):
    """The same, async."""

    type_name = "bench.host.TrivialAsync"
    name: Property[str] = Field(description="Who to greet.")

    async def run(self, ctx):
        name = ctx.render(self.name)
        ctx.logger.info("hello %s", name)
        return {"greeting": name}


@hookimpl
def tercel_task_types():
    return [Trivial, TrivialAsync]
'''

FLOW = """
id: overhead
namespace: bench.hosts
tasks:
  - id: sync
    type: bench.host.Trivial
    name: "{{ execution.id }}"
  - id: async
    type: bench.host.TrivialAsync
    name: "{{ execution.id }}"
"""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _encodings() -> dict[str, dict[str, float]]:
    """Round trip (encode + decode) of the protocol's small messages, µs, best of 5."""
    from tercel_sdk import ion

    messages: dict[str, Any] = {
        "log (tell)": ["tell", 1, "log", ["INFO", "hello world 42"]],
        "render (call)": ["call", 1, 7, "render", ["{{ inputs.name }}", None, "name"], {}],
        "outputs (done)": ["done", 1, {"greeting": "abc", "n": 3}],
        "typed outputs (done)": ["done", 1, {"when": datetime.now(UTC), "day": date.today(), "amount": Decimal("1.50"),
                                             "blob": b"\x00\x01", "nested": [{"a": [1, 2, {"b": None}]}]}],
    }
    codecs = {
        "ion": (ion.dumps, ion.loads),
        "json": (json.dumps, json.loads),
        "pickle": (pickle.dumps, pickle.loads),
    }
    out: dict[str, dict[str, float]] = {}
    for name, message in messages.items():
        out[name] = {}
        for codec, (dumps, loads) in codecs.items():
            try:
                dumps(message)
            except TypeError:
                out[name][codec] = float("nan")  # json cannot carry datetime, Decimal, bytes
                continue
            n = 5000
            best = min(timeit.repeat(lambda m=message, d=dumps, lo=loads: lo(d(m)), number=n, repeat=5))
            out[name][codec] = best / n * 1e6
    return out


async def _measure(runs: int, starts: int) -> dict[str, Any]:
    from tercel.engine import RunState, TaskRun
    from tercel.flows import load_flow
    from tercel.plugins import PluginManager
    from tercel.plugins._hosts import HostPool, HostSpec, _Host
    from tercel.runtime import Runtime
    from tercel.runtime._context import TaskRunContext
    from tercel.runtime._runtime import new_id, utcnow
    from tercel.settings import Settings
    from tercel_sdk import State

    with tempfile.TemporaryDirectory(prefix="tercel-bench-hosts-") as tmp:
        root = Path(tmp)
        (root / "pkg" / "tercel_bench_hosted").mkdir(parents=True)
        (root / "pkg" / "tercel_bench_hosted" / "__init__.py").write_text(textwrap.dedent(PACKAGE), encoding="utf-8")
        sys.path.insert(0, str(root / "pkg"))
        import tercel_bench_hosted  # type: ignore[import-not-found]

        settings = Settings(home=root / "home")
        plugins = PluginManager(cache_dir=settings.cache_dir).discover()
        plugins.add_module(tercel_bench_hosted, distribution="tercel-plugin-bench", version="1.0.0")
        runtime = Runtime(settings, plugins=plugins, run_worker=False, run_executor=False)
        flow = load_flow(FLOW, runtime.plugins)
        runtime.register_flow(flow)
        ex = runtime.create_execution(flow)
        logs: list[tuple[str, str]] = []

        def emit(level: str, message: str) -> None:
            logs.append((level, runtime.masker.mask(message)))

        task_runs = {}
        for task_id in ("sync", "async"):
            tr = TaskRun(new_id(), ex.id, ex.namespace, ex.flow_id, task_id, None, None, None, RunState.new(State.RUNNING, utcnow()))
            ex.add(tr)
            task_runs[task_id] = tr

        def make_ctx(task_id: str) -> TaskRunContext:
            tr = task_runs[task_id]
            return TaskRunContext(runtime, ex, tr, flow.tasks[task_id], 1, runtime.variables(ex, flow, tr), emit)

        spec = HostSpec("tercel-plugin-bench", "1.0.0", Path(sys.executable), {"PYTHONPATH": str(root / "pkg")})
        paths = {"sync": "tercel_bench_hosted:Trivial", "async": "tercel_bench_hosted:TrivialAsync"}

        # host start: spawn -> ready, each a new process
        start_times = []
        for _ in range(starts):
            t0 = time.perf_counter()
            host = await _Host.start(spec, runtime_logger(), lambda h: None)
            start_times.append(time.perf_counter() - t0)
            await host.stop(5.0)

        pool = HostPool()
        t0 = time.perf_counter()
        first = await pool.run(spec, paths["sync"], flow.tasks["sync"].spec, make_ctx("sync"))
        first_run = time.perf_counter() - t0
        assert first == {"greeting": ex.id}, first

        results: dict[str, Any] = {}
        for task_id in ("sync", "async"):
            node = flow.tasks[task_id]
            for _ in range(20):  # warm both paths
                await runtime._execute(node, make_ctx(task_id))
                await pool.run(spec, paths[task_id], node.spec, make_ctx(task_id))
            inproc: list[float] = []
            hosted: list[float] = []
            while len(inproc) < runs:
                for _ in range(BLOCK):
                    ctx = make_ctx(task_id)
                    t0 = time.perf_counter()
                    out = await runtime._execute(node, ctx)
                    inproc.append(time.perf_counter() - t0)
                    ctx.cleanup()
                for _ in range(BLOCK):
                    ctx = make_ctx(task_id)
                    t0 = time.perf_counter()
                    out2 = await pool.run(spec, paths[task_id], node.spec, ctx)
                    hosted.append(time.perf_counter() - t0)
                    ctx.cleanup()
                assert out == out2 == {"greeting": ex.id}, (out, out2)
            results[task_id] = {
                "in_process_median_ms": statistics.median(inproc) * 1e3,
                "in_process_p95_ms": _pct(inproc, 0.95) * 1e3,
                "host_median_ms": statistics.median(hosted) * 1e3,
                "host_p95_ms": _pct(hosted, 0.95) * 1e3,
                "overhead_median_ms": (statistics.median(hosted) - statistics.median(inproc)) * 1e3,
            }
        assert logs[-1] == ("INFO", f"hello {ex.id}"), logs[-1]
        hosts = pool.hosts()
        await pool.close()
        sys.path.remove(str(root / "pkg"))
        return {
            "runs": runs,
            "host_start_median_s": statistics.median(start_times),
            "host_start_max_s": max(start_times),
            "first_run_s": first_run,
            "hosts_used": len(hosts),
            **results,
        }


def runtime_logger() -> Any:
    import logging

    return logging.getLogger("bench.hosts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000, help="runs per side and variant")
    parser.add_argument("--starts", type=int, default=7, help="host starts measured")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(_measure(args.runs, args.starts))
    result["encodings_us"] = _encodings()
    if args.json:
        print(json.dumps(result, indent=2))
        return
    start = result["host_start_median_s"]
    print(f"host start (spawn -> ready), median of {args.starts}: {start:.3f} s (max {result['host_start_max_s']:.3f} s)"
          f"  target < {TARGET_START} s: {'met' if result['host_start_max_s'] < TARGET_START else 'MISSED'}")
    print(f"first run of a fresh pool (start + import + first validation): {result['first_run_s']:.3f} s")
    for variant in ("sync", "async"):
        r = result[variant]
        print(f"{variant:>5}: in-process median {r['in_process_median_ms']:.3f} ms (p95 {r['in_process_p95_ms']:.3f}), "
              f"host median {r['host_median_ms']:.3f} ms (p95 {r['host_p95_ms']:.3f}); overhead {r['overhead_median_ms']:.3f} ms"
              f"  target <= {TARGET_OVERHEAD * 1e3:g} ms: {'met' if r['overhead_median_ms'] <= TARGET_OVERHEAD * 1e3 else 'MISSED'}")
    print("encodings, round trip in µs (best of 5):")
    for name, codecs in result["encodings_us"].items():
        print(f"  {name:<22} " + "  ".join(f"{codec} {value:6.1f}" for codec, value in codecs.items()))


if __name__ == "__main__":
    main()
