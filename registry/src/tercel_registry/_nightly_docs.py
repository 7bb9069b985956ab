"""The nightly results as the JSON API and the pages show them (camelCase, like the catalog).

A release's summary (`nightly` in the catalog) is its latest result in each environment it was
tested with, the newest SDK's first (then the newest core, then the newest Python): the first
one's status is the release's status, the list `environments` has them all. A release never
tested is `{"status": "not run"}`. A night's `broken` results are those not passed whose
release and environment passed on the latest earlier night that has them; `fixed` the reverse.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._names import version_key
from ._nightly_input import STATUSES
from ._simple import upload_time

if TYPE_CHECKING:
    from ._nightly_store import Previous, ResultRecord, RunRecord

__all__ = ["NOT_RUN", "changes", "environment_doc", "environment_order", "result_doc", "run_doc", "summary", "with_details"]

NOT_RUN = "not run"


def _time(value: Any) -> str | None:
    return upload_time(value) if value is not None else None


def environment_doc(result: ResultRecord) -> dict[str, str]:
    out = {"python": result.python, "sdk": result.sdk, "core": result.core}
    if result.platform:
        out["platform"] = result.platform
    return out


def environment_order(result: ResultRecord) -> tuple[Any, ...]:
    """Sort key, ascending: reverse it for the newest SDK (then core, Python) first."""
    return (version_key(result.sdk), version_key(result.core), version_key(result.python), result.night)


def _counts(result: ResultRecord) -> dict[str, int]:
    return {"passed": result.passed, "failed": result.failed, "errors": result.errors, "skipped": result.skipped}


def _brief(result: ResultRecord) -> dict[str, Any]:
    return {
        "status": result.status,
        "night": result.night,
        "environment": environment_doc(result),
        "counts": _counts(result),
        "duration": result.duration,
    }


def summary(latest: Iterable[ResultRecord]) -> dict[str, Any]:
    """A release's `nightly` from its latest result in each environment."""
    ordered = sorted(latest, key=environment_order, reverse=True)
    if not ordered:
        return {"status": NOT_RUN}
    return {**_brief(ordered[0]), "environments": [_brief(r) for r in ordered]}


def result_doc(result: ResultRecord, previous: Previous | None = None) -> dict[str, Any]:
    """One result, without its tests and log (`with_details` adds them)."""
    doc = {
        "plugin": result.name,
        "displayName": result.display_name,
        "version": result.version,
        "yanked": result.yanked,
        "night": result.night,
        "environment": environment_doc(result),
        "status": result.status,
        "reason": result.reason,
        "counts": _counts(result),
        "duration": result.duration,
        "startedAt": _time(result.started),
        "finishedAt": _time(result.finished),
        "recordedAt": _time(result.recorded),
    }
    if previous is not None:
        doc["previous"] = {"night": previous.night, "status": previous.status}
    return doc


def with_details(doc: Mapping[str, Any], tests: Sequence[Mapping[str, Any]], log_tail: str) -> dict[str, Any]:
    return {**doc, "tests": list(tests), "logTail": log_tail}


def run_doc(run: RunRecord, counts: Mapping[str, int]) -> dict[str, Any]:
    """A run: when, with what, and how many results of each status."""
    return {
        "night": run.night,
        "startedAt": _time(run.started),
        "finishedAt": _time(run.finished),
        "finished": run.finished is not None,
        "environment": dict(run.environment),
        "options": dict(run.options),
        "counts": {status: int(counts.get(status, 0)) for status in STATUSES},
        "total": sum(counts.values()),
    }


def changes(
    results: Iterable[ResultRecord], previous: Mapping[int, Previous],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(broken, fixed) among a night's results, given each one's previous result."""
    broken, fixed = [], []
    for result in results:
        before = previous.get(result.id)
        if before is None:
            continue
        if before.status == "passed" and result.status != "passed":
            broken.append(result_doc(result, before))
        elif before.status != "passed" and result.status == "passed":
            fixed.append(result_doc(result, before))
    return broken, fixed
