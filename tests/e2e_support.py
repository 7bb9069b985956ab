"""Helpers of the end-to-end tests: the real `tercel` CLI in a subprocess, its own TERCEL_HOME."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


class Cli:
    def __init__(self, home: Path, workdir: Path) -> None:
        self.home = home
        self.workdir = workdir
        self.env = {**os.environ, "TERCEL_HOME": str(home), "NO_COLOR": "1"}

    def __call__(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tercel", *args],
            capture_output=True, text=True, cwd=self.workdir, env={**self.env, **(env or {})}, timeout=timeout,
        )

    def flow(self, name: str, text: str) -> Path:
        path = self.workdir / name
        path.write_text(text)
        return path

    def run_json(self, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
        result = self("run", *args, "--json", env=env)
        try:
            doc = json.loads(result.stdout)
        except ValueError:
            pytest.fail(f"no JSON on stdout (rc={result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result.returncode, doc, result.stderr


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
