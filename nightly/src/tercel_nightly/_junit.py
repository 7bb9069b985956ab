"""Per-test outcomes from what pytest writes: its JUnit XML (`--junitxml`), or, when it was
killed before writing that (a timeout), the lines of its verbose log.

The files come from a plugin's own test run, so they are treated as untrusted input: their size
is bounded, the XML parser is the standard library's (whose expat refuses entity expansion
attacks), and every message is cut to a length the registry can store.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from ._results import Outcome, TestOutcome
from .errors import NightlyError

__all__ = ["JUnitError", "junit_names", "outcomes_from_log", "parse_junit"]

MAX_REPORT_BYTES = 32 * 1024 * 1024
MAX_MESSAGE_CHARS = 2000
# `tests/test_a.py::TestA::test_b[1] PASSED  [ 50%]`, as `pytest -v` reports a test's outcome
_VERBOSE = re.compile(r"^(?P<id>[^\s:]+\.py::\S+) (?P<word>PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b")
_WORDS: dict[str, Outcome] = {
    "PASSED": "passed", "XPASS": "passed", "FAILED": "failed", "ERROR": "error", "SKIPPED": "skipped", "XFAIL": "skipped",
}
_WORST = ("passed", "skipped", "error", "failed")


class JUnitError(NightlyError):
    """The report is missing, too large, or not JUnit XML (the run is then an `error`)."""


def _message(element: ET.Element) -> str | None:
    text = element.get("message") or (element.text or "").strip() or None
    if text is None:
        return None
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def _case(case: ET.Element) -> TestOutcome:
    outcome: Outcome = "passed"
    detail: ET.Element | None = None
    # a test that failed and then errored in its teardown is a failure; an error is a setup or
    # teardown problem; pytest reports xfail and skips alike as skipped
    for tag, kind in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
        found = case.find(tag)
        if found is not None:
            outcome, detail = kind, found  # type: ignore[assignment]
            break
    try:
        duration = float(case.get("time") or 0)
    except ValueError:
        duration = 0.0
    return TestOutcome(
        classname=case.get("classname") or "", name=case.get("name") or "", outcome=outcome,
        duration=duration, message=_message(detail) if detail is not None else None,
    )


def parse_junit(path: Path) -> list[TestOutcome]:
    """Every test case of the report, in its order."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise JUnitError(f"pytest wrote no JUnit report ({path.name})") from None
    if size > MAX_REPORT_BYTES:
        raise JUnitError(f"the JUnit report {path.name} is {size} bytes, more than {MAX_REPORT_BYTES}")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise JUnitError(f"the JUnit report {path.name} is not valid XML: {exc}") from None
    if root.tag not in ("testsuites", "testsuite"):
        raise JUnitError(f"the JUnit report {path.name} has the root <{root.tag}>, not <testsuites>")
    return [_case(case) for case in root.iter("testcase")]


def junit_names(test_id: str) -> tuple[str, str]:
    """(classname, name) of a pytest node id, as the JUnit report names it:
    `tests/test_a.py::TestA::test_b[1]` is (`tests.test_a.TestA`, `test_b[1]`)."""
    path, *parents, name = test_id.split("::")
    return ".".join([path.removesuffix(".py").replace("/", "."), *parents]), name


def outcomes_from_log(log: str) -> list[TestOutcome]:
    """The tests `pytest -v` reported an outcome for, named as the JUnit report names them
    (`tests.test_a.TestA` / `test_b`); a test reported twice (a teardown error after a pass)
    keeps its worst outcome. Durations are unknown (0)."""
    found: dict[tuple[str, str], Outcome] = {}
    for line in log.splitlines():
        match = _VERBOSE.match(line.strip())
        if match is None:
            continue
        classname, name = junit_names(match["id"])
        outcome = _WORDS[match["word"]]
        before = found.get((classname, name))
        if before is None or _WORST.index(outcome) > _WORST.index(before):
            found[(classname, name)] = outcome
    return [TestOutcome(classname, name, outcome, 0.0) for (classname, name), outcome in found.items()]
