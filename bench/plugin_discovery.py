"""Discovery at scale: 300 installed plugin distributions, listing and validating.

Requirement (issue "Plugin versions side by side"): "with 300 generated plugin distributions
installed, `tercel plugins list` in under 0.3 s and validating a flow in under 50 ms, with no
plugin module imported". The distributions are made by `tests/plugin_farm.py` (a package with its
shipped manifest and a `.dist-info` with the entry point each; importing one fails, and the test
`tests/test_plugins_at_scale.py` proves none is).

Measured in a fresh subprocess with the farm on `PYTHONPATH`, median of `--repeat` runs:
- `discover`: `PluginManager().discover()` (entry points + 300 manifests read);
- `list`: discover, then the rows `tercel plugins list` prints;
- `validate`: `load_flow` of a two-task flow using farm types, discovery done and the validator
  warm (what a server or an editor's language server pays); `first validate`: the first one in
  the process, which also imports the SDK and pydantic for the property models (what a one-shot
  `tercel validate` pays once);
- `cli list`: the whole `python -m tercel plugins list` process, interpreter start included
  (reported, not the target: a bare `python -c pass` is measured next to it).

Run: `.venv/bin/python bench/plugin_discovery.py [--count 300] [--repeat 7] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from plugin_farm import IMPORTED_MARKERS, make_farm, type_name  # noqa: E402

TARGET_LIST = 0.3
TARGET_VALIDATE = 0.050

CHILD = """
import json, sys, time
t0 = time.perf_counter()
from tercel.plugins import PluginManager
from tercel.flows import load_flow
t1 = time.perf_counter()
pm = PluginManager(cache_dir=None).discover()
t2 = time.perf_counter()
rows = sorted((name, info.kind, info.distribution, info.version) for name, info in pm.types.items())
t3 = time.perf_counter()
flow = load_flow(sys.argv[1], pm, name="farm.yaml")
t4 = time.perf_counter()
load_flow(sys.argv[1], pm, name="farm.yaml")
t5 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "discover": t2 - t1, "list": t3 - t1, "first_validate": t4 - t3, "validate": t5 - t4,
                  "types": len(pm.types), "plugins": len(pm.plugins), "tasks": len(flow.tasks)}))
"""


def _env(site: Path, home: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
            "TERCEL_HOME": str(home)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        site, home = Path(tmp) / "site", Path(tmp) / "home"
        make_farm(site, args.count)
        flow = (f"id: farm\nnamespace: scale\ntasks:\n  - id: a\n    type: {type_name(7)}\n    format: hi\n"
                f"  - id: b\n    type: {type_name(args.count - 1)}\n    format: \"{{{{ outputs.a.value }}}}\"\n")
        env = _env(site, home)
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run([sys.executable, "-c", CHILD, flow], capture_output=True, text=True, env=env, check=True)
            runs.append(json.loads(out.stdout))
        cli, bare = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "tercel", "plugins", "list"], capture_output=True, env=env, check=True, cwd=ROOT)
            cli.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], capture_output=True, env=env, check=True)
            bare.append(time.perf_counter() - t0)
        imported = sorted(p.name for p in (site / IMPORTED_MARKERS).iterdir())
    med = {key: statistics.median(r[key] for r in runs) for key in ("imports", "discover", "list", "first_validate", "validate")}
    result = {
        "plugins": runs[0]["plugins"], "types": runs[0]["types"], **{f"{k}_s": round(v, 4) for k, v in med.items()},
        "cli_list_s": round(statistics.median(cli), 3), "python_start_s": round(statistics.median(bare), 3),
        "plugin_modules_imported": imported,
        "list_target_met": med["list"] < TARGET_LIST, "validate_target_met": med["validate"] < TARGET_VALIDATE,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['plugins']} plugins, {result['types']} types (median of {args.repeat} fresh processes)")
        print(f"  discover            {med['discover'] * 1000:7.1f} ms")
        print(f"  list (discover+rows){med['list'] * 1000:7.1f} ms   target < {TARGET_LIST * 1000:.0f} ms: {'met' if result['list_target_met'] else 'NOT met'}")
        print(f"  validate a flow     {med['validate'] * 1000:7.1f} ms   target < {TARGET_VALIDATE * 1000:.0f} ms: {'met' if result['validate_target_met'] else 'NOT met'}")
        print(f"  first validate      {med['first_validate'] * 1000:7.1f} ms   (imports the SDK and pydantic)")
        print(f"  core imports        {med['imports'] * 1000:7.1f} ms")
        print(f"  `tercel plugins list` process {result['cli_list_s']:.3f} s (python start alone {result['python_start_s']:.3f} s)")
        print(f"  plugin modules imported: {imported or 'none'}")
    return 0 if not imported else 1


if __name__ == "__main__":
    raise SystemExit(main())
