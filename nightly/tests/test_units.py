"""The runner's pure parts: JUnit reports, which versions and SDKs, what is skipped, how a suite
is judged, and the options; plus the small real things they stand on (tar files, wheels)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from tercel_nightly._job import judge
from tercel_nightly._junit import MAX_MESSAGE_CHARS, JUnitError, outcomes_from_log, parse_junit
from tercel_nightly._matrix import SdkRelease, available_sdks, choose_sdks, sdk_requirement
from tercel_nightly._options import Options, parse_night, parse_versions
from tercel_nightly._process import Finished
from tercel_nightly._results import MAX_TESTS, Counts, Environment, Result, Target, TestOutcome
from tercel_nightly._runner import Summary, progress_line
from tercel_nightly._sdist import SdistError, extract_sdist, find_tests
from tercel_nightly._selection import pending, recorded_keys, select_versions
from tercel_nightly._text import tail, trim_installer_message
from tercel_nightly._wheels import core_wheel
from tercel_nightly.errors import NightlyError, OptionError

# ------------------------------------------------------------------------------------- JUnit

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests"><testsuite name="pytest" errors="1" failures="2" skipped="1" tests="6" time="1.5">
<testcase classname="tests.test_a" name="test_ok" time="0.010" />
<testcase classname="tests.test_a" name="test_wrong" time="0.020"><failure message="assert 1 == 2">def test_wrong():
&gt;       assert 1 == 2</failure></testcase>
<testcase classname="tests.test_a" name="test_fixture" time="0.001"><error message="failed on setup with &quot;boom&quot;">trace</error></testcase>
<testcase classname="tests.test_a" name="test_skip" time="0.000"><skipped type="pytest.skip" message="not here">skip</skipped></testcase>
<testcase classname="tests.test_a" name="test_both" time="0.3"><failure message="bad">x</failure><error message="teardown">y</error></testcase>
<testcase classname="tests.test_a" name="test_long" time="bad"><failure>""" + "x" * 5000 + """</failure></testcase>
</testsuite></testsuites>
"""


def test_junit_gives_each_case_its_outcome_and_message(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    report.write_text(JUNIT)
    tests = parse_junit(report)
    assert [(t.name, t.outcome) for t in tests] == [
        ("test_ok", "passed"), ("test_wrong", "failed"), ("test_fixture", "error"),
        ("test_skip", "skipped"), ("test_both", "failed"), ("test_long", "failed"),
    ]
    assert tests[0] == TestOutcome("tests.test_a", "test_ok", "passed", 0.01, None)
    assert tests[1].message == "assert 1 == 2"
    assert tests[2].message == 'failed on setup with "boom"'
    assert tests[3].message == "not here"
    assert tests[5].duration == 0 and len(tests[5].message or "") == MAX_MESSAGE_CHARS
    assert Counts.of(tests) == Counts(passed=1, failed=3, errors=1, skipped=1)


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "wrote no JUnit report"), ("<testsuites><testcase", "not valid XML"), ("<html/>", "has the root <html>")],
)
def test_a_missing_or_broken_report_says_what_is_wrong(tmp_path: Path, content: str | None, expected: str) -> None:
    report = tmp_path / "junit.xml"
    if content is not None:
        report.write_text(content)
    with pytest.raises(JUnitError, match=expected):
        parse_junit(report)


def test_a_report_with_an_entity_bomb_is_refused(tmp_path: Path) -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8)
    ) + ']><testsuites><testcase name="&i;"/></testsuites>'
    report = tmp_path / "junit.xml"
    report.write_text(bomb)
    with pytest.raises(JUnitError, match="not valid XML"):
        parse_junit(report)


def test_a_killed_suites_verbose_log_still_gives_the_outcomes_it_reported() -> None:
    log = """\
collecting ... collected 5 items

tests/test_a.py::test_ok PASSED                                          [ 20%]
tests/test_a.py::TestB::test_c[x-1] FAILED                               [ 40%]
tests/sub/test_d.py::test_skip SKIPPED (no reason)                       [ 60%]
tests/sub/test_d.py::test_teardown PASSED                                [ 80%]
tests/sub/test_d.py::test_teardown ERROR                                 [ 80%]
tests/sub/test_d.py::test_hangs Timeout (0:00:16)!
"""
    assert [(t.classname, t.name, t.outcome) for t in outcomes_from_log(log)] == [
        ("tests.test_a", "test_ok", "passed"), ("tests.test_a.TestB", "test_c[x-1]", "failed"),
        ("tests.sub.test_d", "test_skip", "skipped"), ("tests.sub.test_d", "test_teardown", "error"),
    ]


# ------------------------------------------------------------------------------- selection


VERSIONS = [
    {"version": "2.0.0rc1", "yanked": False}, {"version": "1.2.0", "yanked": True},
    {"version": "1.1.0", "yanked": False}, {"version": "1.10.0", "yanked": False},
    {"version": "1.0.0", "yanked": False}, {"version": "not-a-version", "yanked": False},
]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("latest", ["1.10.0"]), ("all", ["2.0.0rc1", "1.10.0", "1.1.0", "1.0.0"]),
        (2, ["2.0.0rc1", "1.10.0"]), (10, ["2.0.0rc1", "1.10.0", "1.1.0", "1.0.0"]),
    ],
)
def test_versions_are_chosen_newest_first_never_yanked(choice: str | int, expected: list[str]) -> None:
    assert select_versions(VERSIONS, choice) == expected  # type: ignore[arg-type]


def test_latest_is_a_prerelease_only_when_there_is_no_final_release() -> None:
    assert select_versions([{"version": "1.0.0b2"}, {"version": "1.0.0a1"}], "latest") == ["1.0.0b2"]
    assert select_versions([{"version": "1.0.0", "yanked": True}], "latest") == []


def test_runs_already_recorded_are_skipped_by_plugin_version_and_environment() -> None:
    recorded = recorded_keys([
        {"plugin": "tercel-plugin-x", "version": "1.0", "environment": {"python": "3.11.7", "sdk": "0.1.0", "core": "0.1.0", "platform": "x"}},
        {"plugin": "tercel-plugin-y", "version": "1.0.0", "environment": {"python": "3.11.7", "sdk": "0.2.0", "core": "0.1.0"}},
    ])
    targets = [
        Target("Tercel_Plugin.X", "1.0.0", "0.1.0"),  # same run, written differently
        Target("tercel-plugin-x", "1.0.0", "0.2.0"),  # another SDK
        Target("tercel-plugin-y", "1.0.0", "0.1.0"),  # another SDK
        Target("tercel-plugin-y", "1.0.0", "0.2.0"),
    ]
    to_run, done = pending(targets, lambda t: Environment("3.11.7", t.sdk, "0.1.0", "linux"), recorded)
    assert done == [targets[0], targets[3]]
    assert to_run == [targets[1], targets[2]]
    other_core = pending(targets, lambda t: Environment("3.11.7", t.sdk, "0.2.0"), recorded)
    assert other_core == (targets, [])


# ---------------------------------------------------------------------------------- matrix


def _sdk(version: str) -> SdkRelease:
    return SdkRelease(version, Path(f"tercel_plugin_sdk-{version}-py3-none-any.whl"))


RUNNING = _sdk("0.3.0")
RELEASES = [_sdk("0.1.0"), _sdk("0.2.0"), RUNNING, _sdk("0.4.0")]


@pytest.mark.parametrize(
    ("requirement", "matrix", "expected"),
    [
        (">=0.1,<0.5", False, ["0.3.0"]),
        (">=0.1,<0.5", True, ["0.1.0", "0.4.0"]),
        (">=0.2,<0.3", True, ["0.2.0"]),
        (">=99", True, ["0.3.0"]),  # none fits: the running SDK, and the installer says why
        (None, True, ["0.1.0", "0.4.0"]),
        ("not a specifier", True, ["0.1.0", "0.4.0"]),
        (SpecifierSet("~=0.2.0"), True, ["0.2.0"]),
    ],
)
def test_the_matrix_runs_the_oldest_and_newest_admitted_sdk(requirement: object, matrix: bool, expected: list[str]) -> None:
    chosen = choose_sdks(requirement, RELEASES, RUNNING, matrix=matrix)  # type: ignore[arg-type]
    assert [s.version for s in chosen] == expected


def test_the_sdk_releases_are_the_running_one_and_the_folders_wheels(tmp_path: Path) -> None:
    running = SdkRelease("0.1.0", tmp_path / "running.whl")
    for name in ("tercel_plugin_sdk-0.2.0-py3-none-any.whl", "tercel_plugin_sdk-0.1.0-py3-none-any.whl", "other-1.0-py3-none-any.whl"):
        (tmp_path / name).write_bytes(b"")
    found = available_sdks(running, tmp_path)
    assert [(s.version, s.wheel.name) for s in found] == [("0.1.0", "running.whl"), ("0.2.0", "tercel_plugin_sdk-0.2.0-py3-none-any.whl")]
    assert available_sdks(running, None) == [running]
    (tmp_path / "tercel_plugin_sdk-oops-py3-none-any.whl").write_bytes(b"")
    with pytest.raises(OptionError, match="tercel_plugin_sdk-oops"):
        available_sdks(running, tmp_path)


def test_the_sdk_requirement_is_read_from_requires_dist_not_from_extras() -> None:
    assert sdk_requirement(['tercel-plugin-sdk>=0.9; extra == "test"', "pydantic", "Tercel_Plugin_SDK>=0.1,<0.2"]) == SpecifierSet(">=0.1,<0.2")
    assert sdk_requirement(["pydantic>=2", "not a requirement !"]) is None


# ---------------------------------------------------------------------------------- judging


def _tests(*outcomes: str, message: str | None = None) -> list[TestOutcome]:
    return [TestOutcome("tests.test_a", f"test_{i}", o, 0.1, message if o != "passed" else None) for i, o in enumerate(outcomes)]  # type: ignore[arg-type]


def _judge(finished: Finished, tests: list[TestOutcome] | None, log: str = "", problem: str | None = None) -> tuple[str, str | None]:
    return judge(finished, tests, problem, log, timeout=20, memory=512)


def test_a_suite_is_judged_by_exit_code_report_and_log() -> None:
    assert _judge(Finished(0, 1.0), _tests("passed", "skipped")) == ("passed", None)
    status, reason = _judge(Finished(1, 1.0), _tests("passed", "failed", message="assert 1 == 2\nmore"))
    assert status == "failed" and reason == "1 failed, first tests.test_a::test_1: assert 1 == 2"
    status, reason = _judge(Finished(1, 1.0), _tests("passed", "error", message="fixture 'db' not found"))
    assert status == "failed" and reason == "1 errors, first tests.test_a::test_1: fixture 'db' not found"
    status, reason = _judge(Finished(2, 1.0), [TestOutcome("", "tests.test_a", "error", 0, "collection failure")])
    assert status == "error" and reason == "the tests could not be collected: tests.test_a: collection failure"
    assert _judge(Finished(5, 1.0), [])[0] == "error"
    assert "collected no tests" in (_judge(Finished(5, 1.0), [])[1] or "")
    status, reason = _judge(Finished(4, 1.0), None, "ERROR: usage: unknown option\n", "pytest wrote no JUnit report (junit.xml)")
    assert status == "error" and reason == "pytest wrote no JUnit report (junit.xml): ERROR: usage: unknown option"


def test_a_hung_suite_is_a_timeout_naming_the_test_it_was_in() -> None:
    log = "tests/test_a.py::test_quick PASSED  [ 50%]\ntests/test_a.py::test_hangs \nTimeout (0:00:16)!\nThread 0x1 (most recent call first):\n  File x"
    status, reason = _judge(Finished(-9, 20.0, timed_out=True), None, log)
    assert status == "timeout"
    assert reason == "the tests ran longer than 20 s (in tests/test_a.py::test_hangs); their process group was killed"


def test_memory_exhaustion_and_signals_are_errors_with_the_reason() -> None:
    status, reason = _judge(Finished(1, 1.0), _tests("passed", "failed", message="MemoryError"))
    assert status == "error" and reason == "the tests ran out of memory (the limit is 512 MB): MemoryError in tests.test_a::test_1"
    status, reason = _judge(Finished(1, 1.0), None, "Traceback…\nMemoryError\n", "pytest wrote no JUnit report")
    assert status == "error" and reason == "the tests ran out of memory (the limit is 512 MB)"
    status, reason = _judge(Finished(-11, 1.0), None, "Fatal Python error: Segmentation fault")
    assert status == "error" and reason == "pytest was killed by SIGSEGV: Fatal Python error: Segmentation fault"


def test_processes_left_behind_are_noted_whatever_the_status() -> None:
    assert _judge(Finished(0, 1.0, leftovers=1), _tests("passed")) == ("passed", "the tests left 1 process behind (killed)")
    status, reason = _judge(Finished(1, 1.0, leftovers=3), _tests("failed", message="no"))
    assert status == "failed" and reason and reason.endswith("; the tests left 3 processes behind (killed)")


# -------------------------------------------------------------------------- results, summary


def _result(status: str = "passed", tests: tuple[TestOutcome, ...] = ()) -> Result:
    start = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
    return Result(
        Target("tercel-plugin-x", "1.0.0", "0.1.0"), Environment("3.11.7", "0.1.0", "0.1.0", "linux"),
        status, None if status == "passed" else "1 failed, first t: no", start, start + timedelta(seconds=8.14),  # type: ignore[arg-type]
        duration=3.21, counts=Counts.of(tests), tests=tests, log_tail="log",
    )


def test_a_result_is_the_registry_document() -> None:
    tests = tuple(_tests("passed", "failed", message="no"))
    doc = _result("failed", tests).to_json()
    assert doc == {
        "plugin": "tercel-plugin-x", "version": "1.0.0",
        "environment": {"python": "3.11.7", "sdk": "0.1.0", "core": "0.1.0", "platform": "linux"},
        "status": "failed", "reason": "1 failed, first t: no",
        "counts": {"passed": 1, "failed": 1, "errors": 0, "skipped": 0}, "duration": 3.21,
        "tests": [t.to_json() for t in tests], "logTail": "log",
        "startedAt": "2024-05-01T02:00:00+00:00", "finishedAt": "2024-05-01T02:00:08.140000+00:00",
    }


def test_a_huge_suite_sends_the_tests_not_passed_first_up_to_the_limit() -> None:
    tests = tuple(_tests(*(["passed"] * MAX_TESTS), "failed", message="no"))
    sent = _result("failed", tests).to_json()["tests"]
    assert len(sent) == MAX_TESTS and sent[0]["outcome"] == "failed"


def test_progress_lines_and_summary() -> None:
    result = _result("failed", tuple(_tests("passed", "failed", message="no")))
    assert progress_line(3, 12, result, matrix=False) == (
        "[3/12] tercel-plugin-x 1.0.0 … failed (1 passed, 1 failed) in 8.1 s: 1 failed, first t: no"
    )
    assert progress_line(1, 2, _result(), matrix=True) == "[1/2] tercel-plugin-x 1.0.0 (sdk 0.1.0) … passed (0 passed, 0 failed) in 8.1 s"
    summary = Summary("2024-05-01", total=3, skipped=1, results=[_result(), result], duration=9.04)
    assert summary.line() == "nightly 2024-05-01: 2 run in 9.0 s (1 passed, 1 failed, 0 error, 0 timeout); 1 skipped (already recorded)"
    assert summary.outputs() == {
        "night": "2024-05-01", "counts": {"passed": 1, "failed": 1, "error": 0, "timeout": 0},
        "total": 3, "run": 2, "skipped": 1, "duration": 9.04,
    }


# ---------------------------------------------------------------------------------- options


def test_options_need_a_registry_and_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TERCEL_REGISTRY_URL", raising=False)
    monkeypatch.delenv("TERCEL_REGISTRY_TOKEN", raising=False)
    with pytest.raises(OptionError, match="no registry URL"):
        Options.build(token="t")
    with pytest.raises(OptionError, match="no registry token"):
        Options.build(registry="http://127.0.0.1:1")
    with pytest.raises(OptionError, match="expected an http"):
        Options.build(registry="127.0.0.1:1", token="t")
    monkeypatch.setenv("TERCEL_REGISTRY_URL", "http://127.0.0.1:1/")
    monkeypatch.setenv("TERCEL_REGISTRY_TOKEN", "trg_x")
    options = Options.build(plugins=["a", " a", "b", ""], versions="3", jobs="2", night="2024-05-01")
    assert (options.registry, options.token, options.plugins, options.versions, options.jobs) == (
        "http://127.0.0.1:1", "trg_x", ("a", "b"), 3, 2,
    )
    assert "token" not in options.to_json()
    with pytest.raises(OptionError, match="jobs: must be more than 0"):
        Options.build(jobs=0)
    with pytest.raises(OptionError, match="timeout: expected a number"):
        Options.build(timeout="soon")


def test_versions_and_nights_are_checked() -> None:
    assert parse_versions("LATEST") == "latest" and parse_versions("all") == "all" and parse_versions(4) == 4
    for bad, message in (("newest", "expected latest, all or a number"), ("0", "at least 1"), (-1, "at least 1")):
        with pytest.raises(OptionError, match=message):
            parse_versions(bad)
    assert parse_night("2024-05-01") == "2024-05-01"
    assert parse_night(None) == datetime.now(UTC).date().isoformat()
    with pytest.raises(OptionError, match="night: expected a date"):
        parse_night("01/05/2024")


# ------------------------------------------------------------------------------ text, sdists


def test_the_log_tail_keeps_the_end_within_lines_and_bytes() -> None:
    text = "\n".join(f"line {i}" for i in range(1000)) + "\n"
    kept = tail(text, lines=200)
    assert kept.splitlines()[0] == "line 800" and kept.endswith("line 999")
    small = tail("é" * 100 + "\n" + "x" * 50, max_bytes=60)
    assert small == "x" * 50
    assert tail("\x1b[31mred\x1b[0m") == "red"


def test_the_installer_message_starts_at_the_error() -> None:
    text = "Resolved 3 packages\n  \u00d7 No solution found when resolving dependencies:\n  ╰─▶ Because x was not found…\n"
    assert trim_installer_message(text) == "  \u00d7 No solution found when resolving dependencies:\n  ╰─▶ Because x was not found…"


def _tar(path: Path, members: list[tarfile.TarInfo], data: bytes = b"x") -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for info in members:
            if info.isfile():
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
            else:
                archive.addfile(info)
    return path


def test_an_sdist_is_unpacked_safely(tmp_path: Path) -> None:
    good = _tar(tmp_path / "x-1.0.tar.gz", [tarfile.TarInfo("x-1.0/tests/test_a.py"), tarfile.TarInfo("x-1.0/PKG-INFO")])
    root = extract_sdist(good, tmp_path / "good")
    assert root.name == "x-1.0" and find_tests(root) == root / "tests"
    evil = _tar(tmp_path / "evil-1.0.tar.gz", [tarfile.TarInfo("evil-1.0/../../outside.txt")])
    with pytest.raises(SdistError, match="cannot be unpacked"):
        extract_sdist(evil, tmp_path / "evil")
    assert not (tmp_path / "outside.txt").exists()
    link = tarfile.TarInfo("link-1.0/escape")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    with pytest.raises(SdistError, match="cannot be unpacked"):
        extract_sdist(_tar(tmp_path / "link-1.0.tar.gz", [link]), tmp_path / "link")
    bare = _tar(tmp_path / "bare-1.0.tar.gz", [tarfile.TarInfo("bare-1.0/PKG-INFO")])
    with pytest.raises(SdistError, match=r"no tests/ folder \(it has PKG-INFO\)"):
        find_tests(extract_sdist(bare, tmp_path / "bare"))
    with pytest.raises(SdistError, match=r"only \.tar\.gz"):
        extract_sdist(tmp_path / "x-1.0.zip", tmp_path / "zip")
    two = _tar(tmp_path / "two-1.0.tar.gz", [tarfile.TarInfo("a/f"), tarfile.TarInfo("b/f")])
    with pytest.raises(SdistError, match="one top folder"):
        extract_sdist(two, tmp_path / "two")


# ----------------------------------------------------------------------------------- wheels


def test_the_core_wheel_is_the_running_core_with_its_requirements(tmp_path: Path) -> None:
    built = core_wheel(tmp_path)
    assert built.path.name == f"tercel_core-{built.version}-py3-none-any.whl"
    with zipfile.ZipFile(built.path) as wheel:
        names = wheel.namelist()
        meta = wheel.read(f"tercel_core-{built.version}.dist-info/METADATA").decode()
        entry_points = wheel.read(f"tercel_core-{built.version}.dist-info/entry_points.txt").decode()
    assert "tercel/__init__.py" in names and "tercel/plugins/_sdk_wheel.py" in names
    assert not any("__pycache__" in n for n in names)
    assert "Requires-Dist: tercel-plugin-sdk" in meta and "Requires-Dist: pydantic" in meta
    assert "tercel = tercel.cli:main" in entry_points
    again = core_wheel(tmp_path)
    assert again == built and again.path.stat().st_mtime == built.path.stat().st_mtime  # reused


def test_the_exception_tree() -> None:
    from tercel.errors import TercelError
    from tercel_nightly.errors import RegistryRefused, RegistryUnavailable

    assert issubclass(NightlyError, TercelError)
    for cls in (OptionError, RegistryUnavailable, RegistryRefused, JUnitError, SdistError):
        assert issubclass(cls, NightlyError)
