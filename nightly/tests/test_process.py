"""A suite's process is contained: real subprocesses that hang, leave children behind, eat memory."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from tercel_nightly._environment import subprocess_env
from tercel_nightly._process import run_contained

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="counts processes through /proc")


def _alive(marker: str) -> list[int]:
    """The processes whose command line holds `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                    if state != "Z":
                        found.append(int(entry.name))
            except OSError:
                continue
    return found


def _spawner(marker: str, then: str) -> list[str]:
    """Python that starts a grandchild sleeping 600 s (its command line holds `marker`), then `then`."""
    code = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', {marker!r}])\n"
        f"{then}\n"
    )
    return [sys.executable, "-c", code]


def _wait_until_gone(marker: str, seconds: float = 5) -> list[int]:
    deadline = time.monotonic() + seconds
    while _alive(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _alive(marker)


def test_a_hung_command_is_killed_with_its_grandchildren(tmp_path: Path) -> None:
    marker = f"nightly-test-{uuid.uuid4().hex}"
    started = time.monotonic()
    finished = run_contained(_spawner(marker, "time.sleep(600)"), cwd=tmp_path, env=subprocess_env(), log=tmp_path / "log", timeout=1.5)
    assert finished.timed_out and finished.returncode < 0
    assert time.monotonic() - started < 10
    assert _wait_until_gone(marker) == []


def test_processes_left_behind_are_counted_and_killed(tmp_path: Path) -> None:
    marker = f"nightly-test-{uuid.uuid4().hex}"
    finished = run_contained(_spawner(marker, "time.sleep(0.3)"), cwd=tmp_path, env=subprocess_env(), log=tmp_path / "log", timeout=30)
    assert (finished.returncode, finished.timed_out, finished.leftovers) == (0, False, 1)
    assert _wait_until_gone(marker) == []


def test_the_memory_limit_gives_a_memory_error(tmp_path: Path) -> None:
    log = tmp_path / "log"
    eat = [sys.executable, "-c", "data = bytearray(1024 * 1024 * 1024)\nprint('allocated')"]
    finished = run_contained(eat, cwd=tmp_path, env=subprocess_env(), log=log, timeout=30, memory_mb=256)
    assert finished.returncode == 1
    assert "MemoryError" in log.read_text() and "allocated" not in log.read_text()
    unlimited = run_contained(eat, cwd=tmp_path, env=subprocess_env(), log=tmp_path / "log2", timeout=30)
    assert unlimited.returncode == 0


def test_a_stop_kills_the_command_at_once(tmp_path: Path) -> None:
    marker = f"nightly-test-{uuid.uuid4().hex}"
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    finished = run_contained(
        _spawner(marker, "time.sleep(600)"), cwd=tmp_path, env=subprocess_env(), log=tmp_path / "log", timeout=60, stop=stop,
    )
    assert finished.stopped and not finished.timed_out and finished.duration < 10
    assert _wait_until_gone(marker) == []


def test_the_suites_environment_hides_tercels_settings_and_python_paths() -> None:
    env = subprocess_env(base={
        "PATH": "/bin", "PYTHONPATH": "/src", "TERCEL_REGISTRY_TOKEN": "trg_secret", "TERCEL_HOME": "/h",
        "PYTEST_ADDOPTS": "-x", "UV_INDEX_URL": "http://mirror", "HOME": "/root",
    })
    assert env["PATH"] == "/bin" and env["HOME"] == "/root" and env["UV_INDEX_URL"] == "http://mirror"
    assert not {"PYTHONPATH", "TERCEL_REGISTRY_TOKEN", "TERCEL_HOME", "PYTEST_ADDOPTS"} & set(env)
