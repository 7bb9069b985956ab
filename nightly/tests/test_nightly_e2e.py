"""`tercel nightly run` for real: a real `tercel registry serve` on loopback, four real plugins
published to it (wheel and sdist), real uv environments, real pytest runs; the results are read
back from the registry's API.

The plugins: `nsgood` passes, `nsbad` has a failing test (and no `test` extra: pytest alone),
`nsbroken` needs a dependency that exists nowhere, `nshang` hangs past the timeout after
starting a grandchild process, which must die with it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nightly_support import BuiltPlugin, build_plugin, sdk_wheel_as, shout_test
from registry_support import ROOT, RegistryServer, upload

pytestmark = pytest.mark.slow

TODAY = datetime.now(UTC).date().isoformat()
YESTERDAY = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
TWO_DAYS_AGO = (datetime.now(UTC).date() - timedelta(days=2)).isoformat()
MARKER = f"nightly-hang-{uuid.uuid4().hex}"
STOP_MARKER = f"nightly-stop-{uuid.uuid4().hex}"
TIMEOUT = 20


def _failing_tests() -> str:
    return shout_test("tercel_plugin_nsbad") + textwrap.dedent('''

        def test_shout_is_not_a_whisper():
            result = run_task(Shout, {"text": "psst"})
            assert result.outputs["text"] == "psst", "shouted instead"
        ''')


def _hanging_tests(marker: str = MARKER) -> str:
    return textwrap.dedent(f'''\
        import subprocess
        import sys
        import time


        def test_quick():
            assert True


        def test_hangs():
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "{marker}"])
            time.sleep(600)
        ''')


def _serve(work: Path, plugins: list[BuiltPlugin]) -> RegistryServer:
    """A registry with these plugins published (wheel and sdist)."""
    server = RegistryServer(work / "registry")
    try:
        publisher = server.token("publisher", "tercel-plugin-ns*")
        for plugin in plugins:
            for file in (plugin.wheel, plugin.sdist):
                answer = upload(server.url, file, publisher)
                assert answer.status_code == 200, answer.text
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RegistryServer, str]]:
    """A registry with the four plugins, and a token with the scope `nightly`."""
    work = tmp_path_factory.mktemp("nightly-e2e")
    dist = work / "dist"
    server = _serve(work, [
        build_plugin(dist, "nsgood", "1.0.0", {"test_shout.py": shout_test("tercel_plugin_nsgood")}),
        build_plugin(dist, "nsbad", "1.0.0", {"test_shout.py": _failing_tests()}, test_extra=False),
        build_plugin(dist, "nsbroken", "1.0.0", {"test_shout.py": shout_test("tercel_plugin_nsbroken")},
                     requires=["tercel-nightly-no-such-dependency>=1"]),
        build_plugin(dist, "nshang", "1.0.0", {"test_hang.py": _hanging_tests()}),
    ])
    try:
        yield server, server.token("nightly", "nightly")
    finally:
        server.stop()


def _nightly(server: RegistryServer, token: str, work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tercel", "nightly", "run", "--registry", server.url, "--token", token,
         "--work-dir", str(work), *args],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )


def _results(server: RegistryServer, night: str) -> dict[str, dict[str, Any]]:
    with server.client() as client:
        body = client.get(f"/api/v1/nightly/runs/{night}/results", params={"size": 100}).raise_for_status().json()
    return {r["plugin"]: r for r in body["results"]}


def _alive(marker: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(entry.name)
            except OSError:
                continue
    return found


def test_a_night_records_every_outcome_and_a_second_run_skips_them(
    registry: tuple[RegistryServer, str], tmp_path: Path,
) -> None:
    server, token = registry
    first = _nightly(server, token, tmp_path, "--timeout", str(TIMEOUT), "--jobs", "2", "--night", TODAY)
    assert first.returncode == 0, first.stdout + first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].startswith(f"nightly {TODAY}: 4 suites on {server.url}, 0 skipped (already recorded), 4 to run with 2 at once")
    progress = sorted(line.split("] ", 1)[1] for line in lines if line.startswith("["))
    assert [p.split(" … ")[0] for p in progress] == [
        "tercel-plugin-nsbad 1.0.0", "tercel-plugin-nsbroken 1.0.0", "tercel-plugin-nsgood 1.0.0", "tercel-plugin-nshang 1.0.0",
    ]
    assert progress[2].startswith("tercel-plugin-nsgood 1.0.0 … passed (2 passed, 0 failed) in ")
    assert lines[-1].startswith(f"nightly {TODAY}: 4 run in ")
    assert lines[-1].endswith("(1 passed, 1 failed, 1 error, 1 timeout); 0 skipped (already recorded)")

    results = _results(server, TODAY)
    assert {name: r["status"] for name, r in results.items()} == {
        "tercel-plugin-nsgood": "passed", "tercel-plugin-nsbad": "failed",
        "tercel-plugin-nsbroken": "error", "tercel-plugin-nshang": "timeout",
    }
    good, bad, broken, hang = (results[f"tercel-plugin-{n}"] for n in ("nsgood", "nsbad", "nsbroken", "nshang"))
    python = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    for result in results.values():
        assert result["version"] == "1.0.0"
        assert {k: result["environment"][k] for k in ("python", "sdk", "core")} == {"python": python, "sdk": "0.1.0", "core": "0.1.0"}

    assert good["reason"] is None and good["counts"] == {"passed": 2, "failed": 0, "errors": 0, "skipped": 1}
    assert [(t["name"], t["outcome"]) for t in good["tests"]] == [
        ("test_shout_through_the_engine", "passed"), ("test_the_installed_wheel_is_what_is_tested", "passed"),
        ("test_skipped", "skipped"),
    ]
    assert "2 passed, 1 skipped" in good["logTail"] and good["duration"] > 0

    assert bad["counts"] == {"passed": 2, "failed": 1, "errors": 0, "skipped": 1}
    failed = next(t for t in bad["tests"] if t["outcome"] == "failed")
    assert failed["name"] == "test_shout_is_not_a_whisper" and "shouted instead" in failed["message"]
    assert bad["reason"].startswith("1 failed, first tests.test_shout::test_shout_is_not_a_whisper: AssertionError: shouted instead")

    assert broken["reason"].startswith("the installation failed: ")
    assert "tercel-nightly-no-such-dependency" in broken["reason"]
    assert broken["counts"] == {"passed": 0, "failed": 0, "errors": 0, "skipped": 0} and broken["tests"] == []

    assert hang["reason"] == (
        f"the tests ran longer than {TIMEOUT} s (in tests/test_hang.py::test_hangs); their process group was killed"
    )
    assert TIMEOUT <= hang["duration"] < TIMEOUT + 10
    assert [(t["name"], t["outcome"]) for t in hang["tests"]] == [("test_quick", "passed"), ("test_hangs", "error")]
    assert hang["tests"][1]["message"] == f"did not finish: the suite was killed after {TIMEOUT} s"
    assert "test_quick PASSED" in hang["logTail"] and "Timeout" in hang["logTail"]  # faulthandler's dump
    assert _alive(MARKER) == []  # the grandchild died with the group
    assert not list((tmp_path / "jobs").iterdir())  # every environment was removed

    started = time.monotonic()
    second = _nightly(server, token, tmp_path, "--timeout", str(TIMEOUT), "--jobs", "2", "--night", TODAY)
    assert second.returncode == 0, second.stdout + second.stderr
    assert time.monotonic() - started < 15
    assert second.stdout.splitlines()[0].endswith("4 skipped (already recorded), 0 to run with 2 at once")
    assert not [line for line in second.stdout.splitlines() if line.startswith("[")]
    assert second.stdout.splitlines()[-1].endswith("4 skipped (already recorded)")
    assert len(_results(server, TODAY)) == 4


def test_the_task_type_runs_a_night_and_logs_its_progress(registry: tuple[RegistryServer, str], tmp_path: Path) -> None:
    from tercel_nightly.task import Run
    from tercel_sdk.testing import run_task

    server, token = registry
    result = run_task(
        Run,
        {"registry": server.url, "token": "{{ secret('NIGHTLY_TOKEN') }}", "plugins": ["tercel-plugin-nsgood"],
         "night": YESTERDAY, "workDir": str(tmp_path), "testTimeout": 60},
        secrets={"NIGHTLY_TOKEN": token}, timeout=120,
    )
    assert result.state == "SUCCESS", result.error
    outputs = result.outputs
    assert outputs["night"] == YESTERDAY and outputs["total"] == 1 and outputs["run"] == 1 and outputs["skipped"] == 0
    assert outputs["counts"] == {"passed": 1, "failed": 0, "error": 0, "timeout": 0}
    messages = result.flow.messages("task")
    assert messages[0].startswith(f"nightly {YESTERDAY}: 1 suites on {server.url}")
    assert messages[1].startswith("[1/1] tercel-plugin-nsgood 1.0.0 … passed (2 passed, 0 failed) in ")
    assert messages[2].startswith(f"nightly {YESTERDAY}: 1 run in ")
    assert _results(server, YESTERDAY)["tercel-plugin-nsgood"]["status"] == "passed"


def test_the_matrix_runs_the_oldest_and_newest_sdk_release_the_plugin_admits(
    registry: tuple[RegistryServer, str], tmp_path: Path,
) -> None:
    server, token = registry
    wheels = tmp_path / "sdk-wheels"
    sdk_wheel_as(wheels, "0.1.7")  # admitted by >=0.1,<0.2
    sdk_wheel_as(wheels, "0.0.9")  # too old: not chosen
    done = _nightly(
        server, token, tmp_path / "work", "--plugin", "tercel-plugin-nsgood", "--matrix", "--sdk-wheels", str(wheels),
        "--jobs", "2", "--night", TWO_DAYS_AGO,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    progress = sorted(line.split("] ", 1)[1].split(" … ")[0] for line in done.stdout.splitlines() if line.startswith("["))
    assert progress == ["tercel-plugin-nsgood 1.0.0 (sdk 0.1.0)", "tercel-plugin-nsgood 1.0.0 (sdk 0.1.7)"]
    with server.client() as client:
        body = client.get(f"/api/v1/nightly/runs/{TWO_DAYS_AGO}/results").raise_for_status().json()
    assert sorted((r["environment"]["sdk"], r["status"]) for r in body["results"]) == [("0.1.0", "passed"), ("0.1.7", "passed")]


def test_the_runner_exits_2_when_it_cannot_work(registry: tuple[RegistryServer, str], tmp_path: Path) -> None:
    server, token = registry
    publisher = server.token("not-nightly", "tercel-plugin-ns*")
    refused = _nightly(server, publisher, tmp_path)
    assert refused.returncode == 2
    assert "403" in refused.stderr and "the token needs the scope 'nightly'" in refused.stderr
    gone = subprocess.run(
        [sys.executable, "-m", "tercel", "nightly", "run", "--registry", "http://127.0.0.1:9", "--token", token,
         "--work-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert gone.returncode == 2 and "the registry does not answer" in gone.stderr
    unknown = _nightly(server, token, tmp_path, "--plugin", "tercel-plugin-nowhere", "--night", YESTERDAY)
    assert unknown.returncode == 2 and "has no plugin 'tercel-plugin-nowhere'" in unknown.stderr


def test_ctrl_c_kills_the_suites_in_flight_and_posts_nothing(tmp_path: Path) -> None:
    server = _serve(tmp_path, [build_plugin(tmp_path / "dist", "nsstop", "1.0.0", {"test_hang.py": _hanging_tests(STOP_MARKER)})])
    token = server.token("nightly", "nightly")
    try:
        _stopped_by_ctrl_c(server, token, tmp_path / "work")
    finally:
        server.stop()


def _stopped_by_ctrl_c(server: RegistryServer, token: str, work: Path) -> None:
    """Start a night whose suite hangs, Ctrl-C the runner once the test runs, check the aftermath."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tercel", "nightly", "run", "--registry", server.url, "--token", token,
         "--work-dir", str(work), "--timeout", "120", "--night", YESTERDAY],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        while not _alive(STOP_MARKER) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert _alive(STOP_MARKER), "the hanging test never started"
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, out + err
    assert time.monotonic() - started < 10
    assert "stopped: the suites in flight were killed" in err
    assert _alive(STOP_MARKER) == []
    assert _results(server, YESTERDAY) == {}
    assert not list((work / "jobs").iterdir())
