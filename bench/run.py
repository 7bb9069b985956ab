"""tercel benchmarks (issue targets in bench/README.md). Run: `make bench` or `.venv/bin/python bench/run.py`.

Measures, on the embedded default (SQLite + local storage, one process):
  1. a chain of 10 no-op tasks, run 20 times: engine overhead per task
  2. a ForEach over 100 values: engine overhead per task
  3. a cold `tercel run` of a one-task flow (a new process each time), median
  4. 100,000 typed rows (int, float, string, datetime) written as Ion by one task, read and
     rewritten by the next, read back by a third: time per execution
  5. with --foreach-memory: a ForEach over 1,000 and 10,000 values, time, peak memory and stored
     size side by side (bench/foreach_memory.py, each size in a fresh process; takes minutes)
Not a test: numbers depend on the machine; compare them side by side in one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import types
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tercel_sdk import Output, Property, RunnableTask, hookimpl, ion

ROWS = 100_000


class Noop(RunnableTask):
    """Does nothing: what is left is the engine's own cost."""

    type_name = "bench.Noop"

    def run(self, ctx: Any) -> None:
        return None


class RowsOut(Output):
    uri: str
    rows: int


class Generate(RunnableTask):
    """Write `rows` typed rows to internal storage as Ion."""

    type_name = "bench.Generate"
    rows: Property[int]

    def run(self, ctx: Any) -> RowsOut:
        n = ctx.render(self.rows)
        base = datetime(2024, 1, 1, tzinfo=UTC)
        path = ctx.working_dir / "rows.ion"
        count = ion.write_rows_file(path, ({"id": i, "score": i * 0.5, "name": f"row {i}", "at": base + timedelta(seconds=i)} for i in range(n)))
        return RowsOut(uri=ctx.put_file(path, "rows.ion"), rows=count)


class Transform(RunnableTask):
    """Read rows, change each one (types kept), write them again."""

    type_name = "bench.Transform"
    uri: Property[str]

    def run(self, ctx: Any) -> RowsOut:
        src = ctx.render(self.uri)
        path = ctx.working_dir / "out.ion"
        with ctx.open_file(src) as fp:
            rows = ({**r, "score": r["score"] * 2, "at": r["at"] + timedelta(days=1)} for r in ion.read_rows(fp))
            count = ion.write_rows_file(path, rows)
        return RowsOut(uri=ctx.put_file(path, "out.ion"), rows=count)


class CheckOut(Output):
    rows: int
    last: datetime


class Check(RunnableTask):
    """Read rows back and check the types survived."""

    type_name = "bench.Check"
    uri: Property[str]

    def run(self, ctx: Any) -> CheckOut:
        n, last = 0, None
        with ctx.open_file(ctx.render(self.uri)) as fp:
            for row in ion.read_rows(fp):
                n += 1
                last = row["at"]
        assert isinstance(last, datetime) and last.tzinfo is not None, type(last)
        return CheckOut(rows=n, last=last)


def bench_plugin() -> types.ModuleType:
    module = types.ModuleType("tercel_bench_plugin")

    @hookimpl
    def tercel_task_types() -> list[type]:
        return [Noop, Generate, Transform, Check]

    module.tercel_task_types = tercel_task_types  # type: ignore[attr-defined]
    return module


CHAIN = "id: chain\nnamespace: bench\ntasks:\n" + "".join(f"  - id: t{i}\n    type: bench.Noop\n" for i in range(10))
FOREACH = "id: loop\nnamespace: bench\ntasks:\n  - id: each\n    type: tercel.core.ForEach\n    concurrencyLimit: 0\n    values: \"{{ range(1, 100) }}\"\n    tasks:\n      - id: step\n        type: bench.Noop\n"
ROWS_FLOW = (
    "id: rows\nnamespace: bench\ntasks:\n"
    f"  - id: generate\n    type: bench.Generate\n    rows: {ROWS}\n"
    "  - id: transform\n    type: bench.Transform\n    uri: \"{{ outputs.generate.uri }}\"\n"
    "  - id: check\n    type: bench.Check\n    uri: \"{{ outputs.transform.uri }}\"\n"
)


async def run_flows(source: str, times: int, home: Path) -> list[float]:
    from tercel.flows import load_flow
    from tercel.plugins import PluginManager
    from tercel.runtime import Runtime
    from tercel.settings import Settings

    plugins = PluginManager().discover()
    plugins.add_module(bench_plugin(), distribution="tercel-bench", version="0")
    durations = []
    async with Runtime(Settings(home=home), plugins=plugins) as rt:
        flow = rt.register_flow(load_flow(source, plugins))
        for _ in range(times):
            start = time.perf_counter()
            ex = rt.create_execution(flow)
            done = await rt.wait(ex.id, timeout=600)
            durations.append(time.perf_counter() - start)
            assert done.state.current.value == "SUCCESS", (done.state.current, done.error, [tr.error for tr in done.task_runs if tr.error])
    return durations


def cold_run(times: int, home: Path) -> list[float]:
    flow = home / "one.yaml"
    flow.write_text("id: one\nnamespace: bench\ntasks:\n  - id: hello\n    type: tercel.core.Log\n    message: hi\n")
    tercel = str(Path(sys.executable).parent / "tercel")
    out = []
    subprocess.run([tercel, "run", str(flow), "--quiet"], check=True, env={"TERCEL_HOME": str(home / "cold"), "PATH": "/usr/bin:/bin"})
    for _ in range(times):
        start = time.perf_counter()
        subprocess.run([tercel, "run", str(flow), "--quiet"], check=True, env={"TERCEL_HOME": str(home / "cold"), "PATH": "/usr/bin:/bin"})
        out.append(time.perf_counter() - start)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--foreach-memory", action="store_true", help="also run bench/foreach_memory.py (1,000 and 10,000 iterations; 100 and 1,000 with --quick)")
    args = parser.parse_args()
    reps = 1 if args.quick else 3
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tercel-bench-") as tmp:
        home = Path(tmp)
        chain = asyncio.run(run_flows(CHAIN, 20, home / "chain"))
        results["chain_10x20_ms_per_task"] = round(statistics.median(chain) * 1000 / 10, 3)
        loops = asyncio.run(run_flows(FOREACH, reps, home / "loop"))
        results["foreach_100_total_s"] = round(statistics.median(loops), 3)
        results["foreach_100_ms_per_task_run"] = round(statistics.median(loops) * 1000 / 101, 3)
        cold = cold_run(5 if not args.quick else 2, home)
        results["cold_run_s_median"] = round(statistics.median(cold), 3)
        rows = asyncio.run(run_flows(ROWS_FLOW, reps, home / "rows"))
        results["ion_100k_rows_s_per_execution"] = round(statistics.median(rows), 3)
    foreach_memory = None
    if args.foreach_memory:
        import foreach_memory as fm  # bench/ is on sys.path when this file runs as a script

        foreach_memory = fm.measure([100, 1000] if args.quick else [1000, 10000])
        results["foreach_memory_ratios_10k_vs_1k"] = foreach_memory["ratios"]
    if args.json:
        if foreach_memory is not None:
            results["foreach_memory_runs"] = foreach_memory["runs"]
        print(json.dumps(results, indent=2))
    else:
        targets = {
            "chain_10x20_ms_per_task": ("<= 2 ms", 2.0),
            "foreach_100_ms_per_task_run": ("<= 2 ms", 2.0),
            "cold_run_s_median": ("< 0.5 s", 0.5),
            "ion_100k_rows_s_per_execution": ("< 1.5 s", 1.5),
        }
        for key, value in results.items():
            if key.startswith("foreach_memory"):
                continue
            target = targets.get(key)
            mark = "" if target is None else ("  ok" if value <= target[1] else f"  MISSES target {target[0]}")
            print(f"{key:36} {value}{mark}")
        if foreach_memory is not None:
            print(fm.report(foreach_memory))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
