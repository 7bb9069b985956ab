"""A night: what to run, what is already recorded, N suites at once, each result posted.

The runner is shared by `tercel nightly run` and the `io.tercel.nightly.Run` task: both give it
options and a `progress` callback. Suites run in worker threads (each one a few subprocesses);
everything else — progress lines, posting, counting — happens in the caller's thread, so a
task's logger is only ever called from the thread that runs the task.
"""

from __future__ import annotations

import platform
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from typing import Any

from ._client import RegistryClient
from ._environment import Installer
from ._job import JobSettings, Stopped, run_job
from ._matrix import SdkRelease, available_sdks, choose_sdks, sdk_requirement
from ._options import Options
from ._results import STATUSES, Environment, Result, Target
from ._selection import pending, recorded_keys, select_versions
from ._wheels import CORE_DISTRIBUTION, CoreWheel, core_wheel, find_links, running_sdk
from .errors import NightlyError, OptionError, RegistryRefused

__all__ = ["NightlyRunner", "Summary", "progress_line"]

Progress = Callable[[str], None]


@dataclass
class Summary:
    """What a night did: results by status, what it skipped, how long it took."""

    night: str
    total: int = 0
    skipped: int = 0
    duplicates: int = 0  # recorded by another runner meanwhile (409)
    broken: list[str] = field(default_factory=list)  # suites the runner itself failed on
    results: list[Result] = field(default_factory=list)
    duration: float = 0.0

    def counts(self) -> dict[str, int]:
        return {status: sum(r.status == status for r in self.results) for status in STATUSES}

    def line(self) -> str:
        counts = ", ".join(f"{n} {status}" for status, n in self.counts().items())
        extra = f", {self.duplicates} recorded by another runner" if self.duplicates else ""
        broken = f", {len(self.broken)} not run (runner errors)" if self.broken else ""
        return (
            f"nightly {self.night}: {len(self.results)} run in {self.duration:.1f} s ({counts}); "
            f"{self.skipped} skipped (already recorded){extra}{broken}"
        )

    def outputs(self) -> dict[str, Any]:
        return {
            "night": self.night, "counts": self.counts(), "total": self.total, "run": len(self.results),
            "skipped": self.skipped + self.duplicates, "duration": round(self.duration, 3),
        }


def progress_line(index: int, total: int, result: Result, *, matrix: bool) -> str:
    """`[3/12] tercel-plugin-x 1.0.0 … passed (12 passed, 0 failed) in 8.1 s`"""
    sdk = f" (sdk {result.environment.sdk})" if matrix else ""
    c = result.counts
    counts = f"{c.passed} passed, {c.failed} failed" + (f", {c.errors} errors" if c.errors else "")
    reason = f": {result.reason.splitlines()[0]}" if result.reason and result.status != "passed" else ""
    return (
        f"[{index}/{total}] {result.target}{sdk} … {result.status} ({counts}) in {result.elapsed:.1f} s"
        f"{reason}"
    )


def _now() -> str:
    return datetime.now(UTC).isoformat()


class NightlyRunner:
    """Runs one night with `options`, reporting through `progress`; `should_stop` is polled
    (a task's cancellation) and stops the suites in flight, killing their processes."""

    def __init__(
        self, options: Options, *, progress: Progress = print, should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.options = options
        self.progress = progress
        self.should_stop = should_stop
        self.stop = threading.Event()
        self.python = Installer.python_version()
        self.core = metadata.version(CORE_DISTRIBUTION)
        self.platform = platform.platform()[:64]  # the registry keeps 64 characters

    # ---------------------------------------------------------------------------- targets

    def _targets(self, client: RegistryClient, running: SdkRelease, sdks: list[SdkRelease]) -> list[Target]:
        names = list(self.options.plugins) or client.plugin_names()
        targets: list[Target] = []
        for name in names:
            doc = client.plugin(name)
            if doc is None:
                if self.options.plugins:
                    raise OptionError(f"plugin: the registry {client.base} has no plugin {name!r}")
                continue  # removed between the listing and now
            by_version = {str(v["version"]): v for v in doc.get("versions") or ()}
            for version in select_versions(doc.get("versions") or (), self.options.versions):
                requirement: Any = by_version[version].get("sdkRequirement")
                if self.options.matrix and requirement is None:
                    requirement = sdk_requirement(client.version(doc["name"], version).get("requiresDist") or ())
                for sdk in choose_sdks(requirement, sdks, running, matrix=self.options.matrix):
                    targets.append(Target(str(doc["name"]), version, sdk.version))
        return targets

    def _environment(self, target: Target) -> Environment:
        return Environment(self.python, target.sdk, self.core)

    def _settings(self, client: RegistryClient, core: CoreWheel, sdks: list[SdkRelease]) -> JobSettings:
        options = self.options
        return JobSettings(
            client=client, installer=Installer(stop=self.stop), work_dir=options.work_dir,
            timeout=options.timeout, memory=options.memory, core=self.core, platform=self.platform,
            find_links=cache(lambda sdk: find_links(options.work_dir, core, sdk)),
            sdks={s.version: s for s in sdks}, stop=self.stop,
        )

    # -------------------------------------------------------------------------------- run

    def run(self) -> Summary:
        """The night, start to end; raises `NightlyError` only when the runner cannot work."""
        options = self.options
        started = time.monotonic()
        summary = Summary(options.night)
        options.work_dir.mkdir(parents=True, exist_ok=True)
        running = running_sdk(options.work_dir)
        core = core_wheel(options.work_dir)
        sdks = available_sdks(running, options.sdk_wheels)
        with RegistryClient(options.registry, options.token) as client:
            client.start_run(options.night, {
                "startedAt": _now(),
                "environment": Environment(self.python, running.version, self.core, self.platform).to_json(),
                "options": options.to_json(),
            })
            targets = self._targets(client, running, sdks)
            to_run, done = pending(targets, self._environment, recorded_keys(client.results(options.night)))
            summary.total, summary.skipped = len(targets), len(done)
            self.progress(
                f"nightly {options.night}: {len(targets)} suites on {options.registry}, "
                f"{len(done)} skipped (already recorded), {len(to_run)} to run with {options.jobs} at once"
            )
            if to_run:
                self._run_all(client, to_run, summary, self._settings(client, core, sdks))
            summary.duration = time.monotonic() - started
            if not summary.broken:  # else the night stays open for a run that records them
                client.finish_run(options.night, _now())
        self.progress(summary.line())
        return summary

    def _run_all(self, client: RegistryClient, targets: list[Target], summary: Summary, settings: JobSettings) -> None:
        total = len(targets)
        pool = ThreadPoolExecutor(max_workers=self.options.jobs, thread_name_prefix="nightly")
        futures: dict[Future[Result], Target] = {pool.submit(run_job, t, settings): t for t in targets}
        try:
            waiting = set(futures)
            while waiting:
                finished, waiting = wait(waiting, timeout=0.5, return_when=FIRST_COMPLETED)
                if self.should_stop():
                    self.stop.set()
                for future in finished:
                    self._record(client, futures[future], future, summary, total)
        except BaseException:
            self.stop.set()  # Ctrl-C, the registry gone: the suites in flight are killed
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if self.stop.is_set():
            raise NightlyError(f"the nightly {summary.night} was stopped; run it again to finish the night")

    def _record(self, client: RegistryClient, target: Target, future: Future[Result], summary: Summary, total: int) -> None:
        index = len(summary.results) + len(summary.broken) + summary.duplicates + 1
        try:
            result = future.result()
        except Stopped:
            return
        except NightlyError:
            raise
        except Exception as exc:  # a bug of the runner on this suite: say it, go on, exit non-zero
            summary.broken.append(f"{target}: {exc!r}")
            self.progress(f"[{index}/{total}] {target} … not run: the runner failed on it: {exc!r}")
            return
        try:
            refused = client.post_result(summary.night, result.to_json())
        except RegistryRefused as exc:
            if exc.status_code in (401, 403):
                raise
            summary.broken.append(f"{target}: the registry refused its result: {exc}")
            self.progress(f"[{index}/{total}] {target} … {result.status}, but the registry refused the result: {exc}")
            return
        if refused is None:
            summary.results.append(result)
            self.progress(progress_line(index, total, result, matrix=self.options.matrix))
        else:
            summary.duplicates += 1
            self.progress(f"[{index}/{total}] {target} … skipped (the registry has it already: {refused})")

