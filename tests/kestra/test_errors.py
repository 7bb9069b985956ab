"""Failures and their handling combined: errors/finally at several levels, allowFailure, Dag, Exit,
retries with warningOnRetry, timeouts."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def _seconds(state: dict[str, Any]) -> float:
    def date(value: Any) -> datetime:
        return value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))

    return (date(state["endDate"]) - date(state["startDate"])).total_seconds()


def test_errors_inside_a_foreach_inside_a_parallel(kestra) -> None:
    # Iteration "b" fails: no new iteration starts ("c" never runs), the loop's own errors run once
    # (no value), the sibling branch still ends, the Parallel fails, then the flow's errors and
    # finally run; the task after the Parallel never runs.
    result = kestra.run("errors_foreach_in_parallel")
    assert result.state == "FAILED"
    assert kestra.trace(result.execution, "errors_foreach_in_parallel") == [
        "branches FAILED",
        "items FAILED",
        "side SUCCESS x1",
        "process[a] SUCCESS x1",
        "process[b] FAILED x1",
        "loop_handler SUCCESS x1",
        "flow_handler SUCCESS x1",
        "cleanup SUCCESS x1",
    ]
    assert result.task_run("process", "b")["error"] == "cannot process b"
    assert result.outputs("loop_handler") == {"value": "process: cannot process b"}
    assert result.outputs("flow_handler") == {"value": "branches;items;process;"}
    assert result.outputs("cleanup") == {"value": "cleaned"}


def test_allow_failure_task_and_block_with_errors_and_finally_end_warning(kestra) -> None:
    # allowFailure turns the failed task into a WARNING; the AllowFailure block stops at its
    # failure, runs its errors then its finally and ends WARNING; the flow goes on, its errors
    # never run (the execution does not fail), its finally does; the execution ends WARNING.
    result = kestra.run("allow_failure_errors_finally")
    assert result.state == "WARNING"
    assert kestra.trace(result.execution, "allow_failure_errors_finally") == [
        "flaky WARNING x1",
        "best_effort WARNING",
        "first SUCCESS x1",
        "boom FAILED x1",
        "block_handler SUCCESS x1",
        "block_cleanup SUCCESS x1",
        "after SUCCESS x1",
        "flow_cleanup SUCCESS x1",
    ]
    assert result.task_run("flaky")["error"] == "flaky test"
    assert result.outputs("after") == {"value": "handled one"}
    assert result.outputs("flow_cleanup") == {"value": "handled one"}


def test_dag_with_a_failing_branch_runs_its_errors_and_never_starts_the_dependent_task(kestra) -> None:
    result = kestra.run("dag_failing_branch")
    assert result.state == "FAILED"
    assert kestra.trace(result.execution, "dag_failing_branch") == [
        "pipeline FAILED",
        "extract SUCCESS x1",
        "transform_ok SUCCESS x1",
        "transform_bad FAILED x1",
        "dag_handler SUCCESS x1",
    ]
    assert result.task_run("transform_bad")["error"] == "bad rows"
    assert result.outputs("dag_handler") == {"value": "rows ok"}


def test_exit_killed_inside_a_parallel_kills_the_running_sibling(kestra) -> None:
    result = kestra.run("exit_in_parallel", {"state": "KILLED"})
    assert result.state == "KILLED"
    assert kestra.trace(result.execution, "exit_in_parallel") == [
        "branches KILLED",
        "slow KILLED x1",
        "checks KILLED",
        "check SUCCESS x1",
        "stop KILLED x1",
    ]


def test_exit_warning_inside_a_parallel_ends_the_execution_at_once(kestra) -> None:
    result = kestra.run("exit_in_parallel", {"state": "WARNING"})
    assert result.state == "WARNING"
    runs = {r["taskId"]: r["state"]["current"] for r in result.task_runs}
    assert (runs["stop"], runs["checks"], runs["branches"]) == ("WARNING", "WARNING", "WARNING")
    assert "end" not in runs
    assert _seconds(result.execution["state"]) < 1.0, "the execution ends at the Exit, not after the 2 s sleep"


def test_documented_retry_example_succeeds_on_the_fifth_attempt_with_a_warning(kestra) -> None:
    result = kestra.run("retry_warning_on_retry")
    assert result.state == "WARNING"
    assert kestra.trace(result.execution, "retry_warning_on_retry") == ["failed WARNING x5"]
    attempts = [a["state"]["current"] for a in result.task_run("failed")["attempts"]]
    assert attempts == ["FAILED", "FAILED", "FAILED", "FAILED", "SUCCESS"]


def test_timeout_with_retry_and_allow_failure_ends_warning_and_goes_on(kestra) -> None:
    result = kestra.run("timeout_retry_allow_failure")
    assert result.state == "WARNING"
    assert kestra.trace(result.execution, "timeout_retry_allow_failure") == [
        "slow_api WARNING x2",
        "next SUCCESS x1",
    ]
    assert [a["state"]["current"] for a in result.task_run("slow_api")["attempts"]] == ["FAILED", "FAILED"]
    assert result.outputs("next") == {"value": "after next"}
