"""ForEach over 1,000 and 10,000 values: time, peak memory and stored size, side by side.

Requirement: "Memory stays flat when a ForEach has 10,000 iterations (outputs are not copied into
every task run)". The flow below runs, through the real runtime on the embedded default (SQLite +
local storage, one process), a `tercel.core.ForEach` whose child `tercel.core.Return` produces an
output per iteration, then a task that reads one iteration's output (`outputs.ret['7'].value`).

Each size runs in a fresh subprocess, so its peak RSS (`ru_maxrss` at the end of the child) is its
own. The child first runs the same flow over 10 values (imports, plugin loading, template
compilation) and takes the peak RSS then as its baseline; `growth` is what the big run adds on top.
The stored execution is read back from the SQLite file: the header document and every task-run
document, to check that a task run's stored size does not grow with the number of iterations.

Run: `.venv/bin/python bench/foreach_memory.py` (or `bench/run.py --foreach-memory`).
Options: `--sizes 1000,10000`, `--concurrency 1` (the ForEach's `concurrencyLimit`; 0 = all at
once), `--tracemalloc` (one more child per size with tracemalloc on: Python-heap peak; slower, so
its times are not used), `--json`. Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

WARMUP = 10
READ_VALUE = 7

# targets (bench/README.md)
MAX_PEAK_RATIO = 10.0  # peak RSS at 10k / at 1k: "well under 10x"
MAX_GROWTH_PER_ITERATION_RATIO = 1.5  # memory added per iteration, 10k vs 1k: linear, not quadratic
MAX_TIME_PER_ITERATION_RATIO = 1.5
MAX_STORED_PER_TASK_RUN_RATIO = 1.1


def flow_source(n: int, concurrency: int, flow_id: str = "foreach_memory") -> str:
    return (
        f"id: {flow_id}\nnamespace: bench\ntasks:\n"
        "  - id: each\n    type: tercel.core.ForEach\n"
        f"    concurrencyLimit: {concurrency}\n"
        f"    values: \"{{{{ range(1, {n}) }}}}\"\n"
        "    tasks:\n"
        "      - id: ret\n        type: tercel.core.Return\n"
        "        format: \"value {{ taskrun.value }} (iteration {{ taskrun.iteration }})\"\n"
        "  - id: read\n    type: tercel.core.Return\n"
        f"    format: \"{{{{ outputs.ret['{READ_VALUE}'].value }}}}\"\n"
    )


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def _stored_sizes(db_file: Path, execution_id: str) -> dict[str, Any]:
    """Sizes of the execution as stored: header document and task-run documents (bytes)."""
    con = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    try:
        (header,) = con.execute("SELECT length(CAST(document AS BLOB)) FROM executions WHERE id = ?", (execution_id,)).fetchone()
        count, total, largest = con.execute(
            "SELECT count(*), sum(length(CAST(document AS BLOB))), max(length(CAST(document AS BLOB)))"
            " FROM task_runs WHERE execution_id = ?",
            (execution_id,),
        ).fetchone()
    finally:
        con.close()
    return {
        "header_bytes": header,
        "task_runs": count,
        "task_runs_bytes": total,
        "bytes_per_task_run": round(total / count, 1),
        "largest_task_run_bytes": largest,
        "db_file_bytes": db_file.stat().st_size + sum(p.stat().st_size for p in db_file.parent.glob(db_file.name + "-*")),
    }


async def _child(n: int, concurrency: int, trace: bool) -> dict[str, Any]:
    from tercel.flows import load_flow
    from tercel.plugins import PluginManager
    from tercel.runtime import Runtime
    from tercel.settings import Settings

    out: dict[str, Any] = {"iterations": n, "concurrency": concurrency}
    with tempfile.TemporaryDirectory(prefix="tercel-bench-foreach-") as tmp:
        settings = Settings(home=Path(tmp))
        plugins = PluginManager().discover()
        async with Runtime(settings, plugins=plugins) as rt:
            warm = rt.register_flow(load_flow(flow_source(WARMUP, concurrency, "warmup"), plugins))
            done = await rt.wait(rt.create_execution(warm).id, timeout=120)
            assert done.state.current.value == "SUCCESS", done.error
            del done
            baseline = _peak_rss_bytes()
            if trace:
                import tracemalloc

                tracemalloc.start()
            flow = rt.register_flow(load_flow(flow_source(n, concurrency), plugins))
            start = time.perf_counter()
            ex = rt.create_execution(flow)
            done = await rt.wait(ex.id, timeout=None)
            elapsed = time.perf_counter() - start
            peak = _peak_rss_bytes()
            if trace:
                out["tracemalloc_peak_bytes"] = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
            failed = [tr.error for tr in done.task_runs if tr.error]
            assert done.state.current.value == "SUCCESS", (done.state.current, done.error, failed[:3])
            read = next(tr for tr in done.task_runs if tr.task_id == "read")
            expected = f"value {READ_VALUE} (iteration {READ_VALUE - 1})"
            assert read.outputs == {"value": expected}, read.outputs
            assert sum(1 for tr in done.task_runs if tr.task_id == "ret") == n
            execution_id = done.id
            del done, ex
        out.update(
            seconds=round(elapsed, 3),
            ms_per_iteration=round(elapsed * 1000 / n, 3),
            baseline_rss_bytes=baseline,
            peak_rss_bytes=peak,
            growth_bytes=peak - baseline,
            growth_bytes_per_iteration=round((peak - baseline) / n, 1),
        )
        out["stored"] = _stored_sizes(settings.home / "tercel.db", execution_id)
    return out


def run_child(n: int, concurrency: int, trace: bool = False, timeout: float | None = None) -> dict[str, Any]:
    """One measurement in a fresh interpreter; returns what the child printed (JSON)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(n), "--concurrency", str(concurrency)]
    if trace:
        cmd.append("--tracemalloc")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"child for {n} iterations failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(sizes: list[int], concurrency: int = 1, trace: bool = False, timeout: float | None = None) -> dict[str, Any]:
    """Every size in its own child, then the ratios of the largest size to the smallest."""
    runs = [run_child(n, concurrency, timeout=timeout) for n in sizes]
    if trace:
        for run, n in zip(runs, sizes, strict=True):
            run["tracemalloc_peak_bytes"] = run_child(n, concurrency, trace=True, timeout=timeout)["tracemalloc_peak_bytes"]
    small, big = runs[0], runs[-1]
    ratios = {
        "iterations": round(big["iterations"] / small["iterations"], 1),
        "peak_rss": round(big["peak_rss_bytes"] / small["peak_rss_bytes"], 2),
        "growth_per_iteration": round(big["growth_bytes_per_iteration"] / max(small["growth_bytes_per_iteration"], 1.0), 2),
        "time_per_iteration": round(big["ms_per_iteration"] / small["ms_per_iteration"], 2),
        "stored_bytes_per_task_run": round(big["stored"]["bytes_per_task_run"] / small["stored"]["bytes_per_task_run"], 3),
        "largest_stored_task_run": round(big["stored"]["largest_task_run_bytes"] / small["stored"]["largest_task_run_bytes"], 3),
    }
    if trace:
        ratios["tracemalloc_peak"] = round(big["tracemalloc_peak_bytes"] / small["tracemalloc_peak_bytes"], 2)
    return {"runs": runs, "ratios": ratios}


TARGETS = {
    "peak_rss": (f"< {MAX_PEAK_RATIO:g}x (well under)", MAX_PEAK_RATIO),
    "growth_per_iteration": (f"<= {MAX_GROWTH_PER_ITERATION_RATIO:g}x", MAX_GROWTH_PER_ITERATION_RATIO),
    "time_per_iteration": (f"<= {MAX_TIME_PER_ITERATION_RATIO:g}x", MAX_TIME_PER_ITERATION_RATIO),
    "stored_bytes_per_task_run": (f"<= {MAX_STORED_PER_TASK_RUN_RATIO:g}x", MAX_STORED_PER_TASK_RUN_RATIO),
    "largest_stored_task_run": (f"<= {MAX_STORED_PER_TASK_RUN_RATIO:g}x", MAX_STORED_PER_TASK_RUN_RATIO),
}


def report(result: dict[str, Any]) -> str:
    mb = 1024 * 1024
    lines = []
    for r in result["runs"]:
        s = r["stored"]
        line = (
            f"ForEach x {r['iterations']:>6} (concurrencyLimit {r['concurrency']}): "
            f"{r['seconds']:.2f} s = {r['ms_per_iteration']:.3f} ms/iteration; "
            f"peak RSS {r['peak_rss_bytes'] / mb:.1f} MiB (baseline {r['baseline_rss_bytes'] / mb:.1f}, "
            f"+{r['growth_bytes'] / mb:.1f} MiB = {r['growth_bytes_per_iteration'] / 1024:.2f} KiB/iteration)"
        )
        if "tracemalloc_peak_bytes" in r:
            line += f"; tracemalloc peak {r['tracemalloc_peak_bytes'] / mb:.1f} MiB"
        line += (
            f"; stored: header {s['header_bytes']} B, {s['task_runs']} task runs, "
            f"{s['bytes_per_task_run']:.0f} B/task run (largest {s['largest_task_run_bytes']} B), "
            f"db file {s['db_file_bytes'] / mb:.1f} MiB"
        )
        lines.append(line)
    for key, value in result["ratios"].items():
        target = TARGETS.get(key)
        met = target is not None and (value < target[1] if key == "peak_rss" else value <= target[1])
        mark = "" if target is None else ("  ok" if met else f"  MISSES target {target[0]}")
        lines.append(f"ratio {key:28} {value}x{mark}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated iteration counts, smallest first")
    parser.add_argument("--concurrency", type=int, default=1, help="the ForEach's concurrencyLimit")
    parser.add_argument("--tracemalloc", action="store_true", help="also measure the Python-heap peak (extra, slower runs)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds allowed per child")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(asyncio.run(_child(args.child, args.concurrency, args.tracemalloc))))
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    result = measure(sizes, args.concurrency, args.tracemalloc, args.timeout)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
