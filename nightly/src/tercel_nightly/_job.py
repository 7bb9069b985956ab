"""One suite, start to end: fetch the sdist, make the environment, run the tests, judge them.

Everything a plugin can do wrong ends here as a `Result` (`error`, `failed`, `timeout`), never
as an exception: the night goes on. Only the runner's own failures (the registry gone, the
run stopped) leave this module as exceptions. The folder of the run is removed in every case.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ._client import DownloadError, RegistryClient
from ._environment import Installer, InstallFailed, subprocess_env
from ._junit import JUnitError, junit_names, outcomes_from_log, parse_junit
from ._matrix import SdkRelease
from ._process import Finished, run_contained
from ._results import Counts, Environment, Result, Status, Target, TestOutcome
from ._sdist import SdistError, extract_sdist, find_tests
from ._text import read_tail, tail
from .errors import NightlyError, RegistryRefused

__all__ = ["JobSettings", "Stopped", "judge", "run_job"]

_OUTCOME_WORDS = ("PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL", "XPASS")
_TEST_ID = re.compile(r"(\S+::\S+)")
_LOG_SCAN_BYTES = 8 * 1024 * 1024  # of a killed suite's log, read for the outcomes it had reported


class Stopped(NightlyError):
    """The run was stopped (Ctrl-C, a killed task) while this suite ran: nothing is posted."""


@dataclass(frozen=True)
class JobSettings:
    """What every suite of a night shares."""

    client: RegistryClient
    installer: Installer
    work_dir: Path
    timeout: float
    memory: int
    core: str
    platform: str
    find_links: Callable[[SdkRelease], Path]
    sdks: dict[str, SdkRelease]
    stop: threading.Event


def _now() -> datetime:
    return datetime.now(UTC)


def _running_test(log_tail: str) -> str | None:
    """The test pytest -v was in when it was killed: the last test id with no outcome yet."""
    for line in reversed(log_tail.splitlines()):
        found = _TEST_ID.search(line)
        if found:
            return None if any(word in line for word in _OUTCOME_WORDS) else found.group(1)
    return None


def _unfinished(test_id: str, timeout: float) -> TestOutcome:
    """The test a timeout cut short, as an error (named as JUnit names tests)."""
    classname, name = junit_names(test_id)
    return TestOutcome(classname, name, "error", 0.0, f"did not finish: the suite was killed after {timeout:g} s")


def _last_line(log_tail: str) -> str:
    lines = [line.strip() for line in log_tail.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _first(tests: Sequence[TestOutcome], outcome: str) -> str:
    test = next(t for t in tests if t.outcome == outcome)
    where = "::".join(p for p in (test.classname, test.name) if p)
    message = (test.message or "").strip().splitlines()
    return f"{where}: {message[0]}" if message else where


def judge(
    finished: Finished, tests: Sequence[TestOutcome] | None, report_problem: str | None, log_tail: str,
    *, timeout: float, memory: int,
) -> tuple[Status, str | None]:
    """The status of a finished suite and the reason a reader needs (None when all is well).

    `tests` is None when pytest left no readable JUnit report (`report_problem` says why).
    """
    status: Status
    reason: str | None
    counts = Counts.of(tests or ())
    memory_error = any("MemoryError" in (t.message or "") for t in tests or ()) or (
        tests is None and "MemoryError" in log_tail
    )
    if finished.timed_out:
        running = _running_test(log_tail)
        where = f" (in {running})" if running else ""
        status, reason = "timeout", f"the tests ran longer than {timeout:g} s{where}; their process group was killed"
    elif finished.returncode < 0:
        try:
            name = signal.Signals(-finished.returncode).name
        except ValueError:
            name = f"signal {-finished.returncode}"
        hint = f" (the memory limit is {memory} MB)" if memory_error else ""
        status, reason = "error", f"pytest was killed by {name}{hint}: {_last_line(log_tail)}"
    elif memory_error:
        status, reason = "error", f"the tests ran out of memory (the limit is {memory} MB)"
        if tests and any("MemoryError" in (t.message or "") for t in tests):
            culprit = next(t for t in tests if "MemoryError" in (t.message or ""))
            reason += f": MemoryError in {culprit.classname}::{culprit.name}"
    elif finished.returncode == 5 or (tests is not None and counts.total == 0 and finished.returncode == 0):
        status, reason = "error", "pytest collected no tests from the sdist's tests/"
    elif finished.returncode == 2 and counts.errors:
        status, reason = "error", f"the tests could not be collected: {_first(tests or (), 'error')}"
    elif finished.returncode not in (0, 1) or tests is None:
        problem = report_problem or f"pytest exited with {finished.returncode}"
        status, reason = "error", f"{problem}: {_last_line(log_tail)}"
    elif finished.returncode == 1 or counts.failed or counts.errors:
        status = "failed"
        if counts.failed:
            reason = f"{counts.failed} failed, first {_first(tests, 'failed')}"
        elif counts.errors:
            reason = f"{counts.errors} errors, first {_first(tests, 'error')}"
        else:
            reason = f"pytest exited with 1 although no test failed: {_last_line(log_tail)}"
    else:
        status, reason = "passed", None
    if finished.leftovers:
        note = f"the tests left {finished.leftovers} process{'es' if finished.leftovers > 1 else ''} behind (killed)"
        reason = f"{reason}; {note}" if reason else note
    return status, reason


def _pytest_args(python: Path, tests: Path, root: Path, junit: Path, timeout: float) -> list[str]:
    return [
        str(python), "-P", "-m", "pytest", str(tests), f"--junitxml={junit}", "-p", "no:cacheprovider",
        "--import-mode=importlib", f"--rootdir={root}", "-v", "-rfE", "--color=no",
        # a test that hangs dumps every thread's traceback into the log before it is killed
        "-o", f"faulthandler_timeout={max(1, int(timeout * 0.8))}",
    ]


class _CannotRun(Exception):
    """The suite cannot run (no sdist, a bad archive, an install that failed): an `error` result."""

    def __init__(self, reason: str, log: str = "") -> None:
        super().__init__(reason)
        self.reason, self.log = reason, log or reason


def _unpacked_tests(target: Target, settings: JobSettings, folder: Path) -> tuple[Path, Path]:
    """The version's sdist, downloaded (hash checked) and unpacked: (its root, its tests/)."""
    try:
        doc = settings.client.version(target.plugin, target.version)
    except RegistryRefused as exc:
        raise _CannotRun(f"the registry does not describe {target}: {exc}") from None
    sdists = [f for f in doc.get("files") or () if str(f.get("filename", "")).endswith((".tar.gz", ".tgz"))]
    if not sdists:
        raise _CannotRun(f"{target} has no sdist in the registry: its tests cannot be run")
    try:
        archive = settings.client.download(
            str(sdists[0]["url"]), folder / str(sdists[0]["filename"]), (sdists[0].get("hashes") or {}).get("sha256"),
        )
        root = extract_sdist(archive, folder / "sdist")
        return root, find_tests(root)
    except (DownloadError, SdistError) as exc:
        raise _CannotRun(str(exc)) from None


def _installed(target: Target, sdk: SdkRelease, settings: JobSettings, folder: Path) -> Path:
    """A new environment with the SDK, the core, the plugin and its tests' needs: its Python."""
    try:
        python = settings.installer.create(folder / "env", cwd=folder)
        settings.installer.install(
            python,
            [f"tercel-plugin-sdk=={sdk.version}", f"tercel-core=={settings.core}",
             f"{target.plugin}[test]=={target.version}", "pytest"],
            index=f"{settings.client.base}/simple/", find_links=settings.find_links(sdk), cwd=folder,
        )
    except InstallFailed as exc:
        if settings.stop.is_set():
            raise Stopped(f"stopped while {target} was installed") from None
        raise _CannotRun(f"the installation failed: {exc}", str(exc)) from None
    return python


def _suite_env(python: Path, folder: Path) -> dict[str, str]:
    """The tests' environment: the suite's venv first on PATH, tercel's home and temp files in
    the suite's folder (removed with it), fewer malloc arenas (address space is what is capped)."""
    (folder / "tmp").mkdir()
    return subprocess_env({
        "VIRTUAL_ENV": str(python.parent.parent),
        "PATH": os.pathsep.join([str(python.parent), os.environ.get("PATH", "")]),
        "TERCEL_HOME": str(folder / "tercel-home"), "TMPDIR": str(folder / "tmp"),
        "PYTHONDONTWRITEBYTECODE": "1", "MALLOC_ARENA_MAX": "2",
    })


def _outcomes(
    finished: Finished, junit: Path, log: Path, log_tail: str, timeout: float,
) -> tuple[list[TestOutcome] | None, str | None, list[TestOutcome]]:
    """(the JUnit outcomes or None, why there are none, the outcomes to post): a suite killed
    before its report posts what its log says it had done, and the test it was cut short in."""
    try:
        return (reported := parse_junit(junit)), None, reported
    except JUnitError as exc:
        problem = str(exc)
    seen = outcomes_from_log(read_tail(log, lines=1_000_000, max_bytes=_LOG_SCAN_BYTES))
    running = _running_test(log_tail)
    if finished.timed_out and running:
        seen.append(_unfinished(running, timeout))
    return None, problem, seen


def run_job(target: Target, settings: JobSettings) -> Result:
    """Run one target's suite and judge it (see the module's docstring)."""
    if settings.stop.is_set():
        raise Stopped(f"stopped before {target} ran")
    started = _now()
    sdk = settings.sdks[target.sdk]
    environment = Environment(settings.installer.python_version(), sdk.version, settings.core, settings.platform)
    folder = settings.work_dir / "jobs" / f"{target.plugin}-{target.version}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    try:
        try:
            root, tests = _unpacked_tests(target, settings, folder)
            if settings.stop.is_set():
                raise Stopped(f"stopped before {target} ran")
            python = _installed(target, sdk, settings, folder)
        except _CannotRun as exc:
            return Result(target, environment, "error", exc.reason, started, _now(), log_tail=tail(exc.log))
        if settings.stop.is_set():
            raise Stopped(f"stopped before {target} ran")
        junit, log = folder / "junit.xml", folder / "pytest.log"
        finished = run_contained(
            _pytest_args(python, tests, root, junit, settings.timeout), cwd=root, env=_suite_env(python, folder),
            log=log, timeout=settings.timeout, memory_mb=settings.memory, stop=settings.stop,
        )
        if finished.stopped:
            raise Stopped(f"stopped while {target} ran")
        log_tail = read_tail(log)
        reported, problem, posted = _outcomes(finished, junit, log, log_tail, settings.timeout)
        status, reason = judge(finished, reported, problem, log_tail, timeout=settings.timeout, memory=settings.memory)
        return Result(
            target, environment, status, reason, started, _now(), duration=finished.duration,
            counts=Counts.of(posted), tests=tuple(posted), log_tail=log_tail,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
