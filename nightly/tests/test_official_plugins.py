"""The official plugins' own suites all pass in the nightly run: imported into a real registry
(`tercel registry import plugins-official/`), each tested from its sdist against its wheel in a
clean environment (`tercel nightly run --jobs 2`), exactly as every other plugin is."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from registry_support import RegistryServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_every_official_plugin_passes_its_own_suite_in_the_nightly(tmp_path: Path) -> None:
    server = RegistryServer(tmp_path / "registry")
    try:
        imported = subprocess.run(
            [sys.executable, "-m", "tercel", "registry", "import", str(ROOT / "plugins-official")],
            capture_output=True, text=True, env=server.env, cwd=ROOT, timeout=600,
        )
        assert imported.returncode == 0, imported.stderr
        token = server.token("nightly", "nightly")
        started = time.monotonic()
        night = subprocess.run(
            [sys.executable, "-m", "tercel", "nightly", "run", "--registry", server.url, "--token", token,
             "--jobs", "2", "--work-dir", str(tmp_path / "work")],
            capture_output=True, text=True, cwd=ROOT, timeout=1200,
        )
        took = time.monotonic() - started
        assert night.returncode == 0, night.stdout + night.stderr
        today = datetime.now(UTC).date().isoformat()
        answer = httpx.get(f"{server.url}/api/v1/nightly/runs/{today}/results", params={"details": "false"}, timeout=30).json()
        rows = answer["results"] if isinstance(answer, dict) else answer
        official = sorted(p.name for p in (ROOT / "plugins-official").iterdir() if (p / "pyproject.toml").is_file())
        assert len(rows) == len(official), rows
        failing = [(r["plugin"], r["version"], r["status"], r.get("reason"), r.get("counts")) for r in rows if r["status"] != "passed"]
        assert not failing, f"official plugins failing their own suites in the nightly: {failing}\n{night.stdout[-4000:]}"
        print(f"official plugins: {len(rows)} suites passed in {took:.1f} s with --jobs 2")
    finally:
        server.stop()
