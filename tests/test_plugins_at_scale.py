"""Discovery at scale: with 300 plugin distributions installed, the real CLI lists every type and
validates a flow using one of them without importing any plugin module (manifests only)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from e2e_support import ROOT
from plugin_farm import IMPORTED_MARKERS, make_farm, type_name

COUNT = 300


def _tercel(site: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
           "TERCEL_HOME": str(home), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "tercel", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)


def test_300_installed_plugins_are_listed_and_used_without_importing_them(tmp_path: Path) -> None:
    site = tmp_path / "site"
    names = make_farm(site, COUNT)
    listed = _tercel(site, tmp_path / "home", "plugins", "list")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split()[0] for line in listed.stdout.splitlines()[1:]]
    assert set(names) <= set(rows) and "tercel.core.Log" in rows
    assert "tercel-plugin-farm-150 1.0.0" in listed.stdout
    by_plugin = _tercel(site, tmp_path / "home", "plugins", "list", "--plugins")
    assert by_plugin.returncode == 0, by_plugin.stderr
    assert f"tercel-plugin-farm-150 1.0.0  (1 types, in-process)  {site / 'tercel_plugin_farm_150'}\n    {type_name(150)}\n" in by_plugin.stdout
    assert "tercel-plugin-core 1.0.0  (" in by_plugin.stdout
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        f"id: farm\nnamespace: scale\ntasks:\n  - id: hello\n    type: {type_name(150)}\n    format: hi\n"
        f"  - id: bad\n    type: {type_name(151)}\n    nope: 1\n"
    )
    validated = _tercel(site, tmp_path / "home", "validate", str(flow))
    assert validated.returncode == 1  # the second task has a property its type does not have
    assert "tasks[1].nope" in validated.stderr + validated.stdout and "tasks[0]" not in validated.stderr + validated.stdout
    assert list((site / IMPORTED_MARKERS).iterdir()) == []  # no plugin module was imported
