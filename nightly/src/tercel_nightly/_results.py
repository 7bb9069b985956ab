"""What one nightly run of one (plugin, version, environment) found, in the registry's JSON shape.

These are plain values so that the pure parts (JUnit parsing, skip logic, summaries) can be
tested without a process, and so the task type and the CLI report the very same things.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = ["MAX_TESTS", "STATUSES", "Counts", "Environment", "Result", "Status", "Target", "TestOutcome"]

Status = Literal["passed", "failed", "error", "timeout"]
#: Every status a result can have, in the order summaries list them.
STATUSES: tuple[Status, ...] = ("passed", "failed", "error", "timeout")
Outcome = Literal["passed", "failed", "error", "skipped"]
#: The most test cases one result carries (the registry's limit): the ones not passed first.
MAX_TESTS = 20_000


@dataclass(frozen=True)
class Environment:
    """The versions a suite ran with; with (plugin, version) it names a result once per night."""

    python: str
    sdk: str
    core: str
    platform: str | None = None  # said, not part of the identity

    def to_json(self) -> dict[str, str]:
        out = {"python": self.python, "sdk": self.sdk, "core": self.core}
        if self.platform:
            out["platform"] = self.platform
        return out


@dataclass(frozen=True)
class Target:
    """One suite to run: a plugin version against one SDK release (`sdk` is its version)."""

    plugin: str
    version: str
    sdk: str

    def __str__(self) -> str:
        return f"{self.plugin} {self.version}"


@dataclass(frozen=True)
class TestOutcome:
    """One test case of the JUnit report."""

    __test__ = False  # not a pytest class, despite its name

    classname: str
    name: str
    outcome: Outcome
    duration: float
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "classname": self.classname, "name": self.name or self.classname or "(unnamed)", "outcome": self.outcome,
            "duration": round(self.duration, 3), "message": self.message,
        }


@dataclass(frozen=True)
class Counts:
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0

    @classmethod
    def of(cls, tests: Iterable[TestOutcome]) -> Counts:
        seen = Counter(t.outcome for t in tests)
        return cls(seen["passed"], seen["failed"], seen["error"], seen["skipped"])

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.errors + self.skipped

    def to_json(self) -> dict[str, int]:
        return {"passed": self.passed, "failed": self.failed, "errors": self.errors, "skipped": self.skipped}


@dataclass(frozen=True)
class Result:
    """A finished run of one target, as posted to `POST /api/v1/nightly/runs/{night}/results`.

    `duration` is the time the test suite ran (0 when it never started); `started_at` and
    `finished_at` bound the whole run, environment and install included.
    """

    target: Target
    environment: Environment
    status: Status
    reason: str | None
    started_at: datetime
    finished_at: datetime
    duration: float = 0.0
    counts: Counts = field(default_factory=Counts)
    tests: tuple[TestOutcome, ...] = ()
    log_tail: str = ""

    @property
    def elapsed(self) -> float:
        """The whole run, in seconds."""
        return (self.finished_at - self.started_at).total_seconds()

    def _kept_tests(self) -> list[TestOutcome]:
        if len(self.tests) <= MAX_TESTS:
            return list(self.tests)
        return sorted(self.tests, key=lambda t: t.outcome == "passed")[:MAX_TESTS]

    def to_json(self) -> dict[str, Any]:
        return {
            "plugin": self.target.plugin,
            "version": self.target.version,
            "environment": self.environment.to_json(),
            "status": self.status,
            "reason": self.reason,
            "counts": self.counts.to_json(),
            "duration": round(self.duration, 3),
            "tests": [t.to_json() for t in self._kept_tests()],
            "logTail": self.log_tail,
            "startedAt": self.started_at.isoformat(),
            "finishedAt": self.finished_at.isoformat(),
        }
