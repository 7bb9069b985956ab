"""LoopUntil (Kestra's WaitFor): iterations, the condition, limits, timers, failures."""

from __future__ import annotations

from tercel_sdk.testing import run_flow


def _flow(condition: str, frequency: str = "      interval: PT0.05S\n", extra: str = "") -> str:
    return (
        "id: loop\nnamespace: t\ntasks:\n  - id: loop\n    type: io.kestra.plugin.core.flow.LoopUntil\n"
        f"    condition: \"{condition}\"\n    checkFrequency:\n{frequency}{extra}"
        "    tasks:\n      - id: return\n        type: tercel.core.Return\n        format: \"{{ outputs.loop.iterationCount }}\"\n"
    )


def test_loops_until_the_condition_holds() -> None:
    result = run_flow(_flow("{{ outputs.return.value == '4' }}"))
    assert result.state == "SUCCESS"
    runs = [r for r in result.task_runs if r["taskId"] == "return"]
    assert [r["outputs"]["value"] for r in runs] == ["1", "2", "3", "4"]
    assert [r["iteration"] for r in runs] == [1, 2, 3, 4]
    assert result.outputs("loop")["iterationCount"] == 4


def test_max_iterations_ends_in_success_or_fails_when_asked() -> None:
    ok = run_flow(_flow("{{ false }}", "      interval: PT0.01S\n      maxIterations: 3\n"))
    assert ok.state == "SUCCESS" and ok.outputs("loop")["iterationCount"] == 3
    failed = run_flow(_flow("{{ false }}", "      interval: PT0.01S\n      maxIterations: 2\n", "    failOnMaxReached: true\n"))
    assert failed.state == "FAILED"
    assert "still false after 2 iteration" in failed.task_run("loop")["error"]


def test_max_duration_stops_the_loop() -> None:
    result = run_flow(_flow("{{ false }}", "      interval: PT0.1S\n      maxDuration: PT0.3S\n"))
    assert result.state == "SUCCESS"
    assert 2 <= result.outputs("loop")["iterationCount"] <= 5


def test_a_failing_iteration_fails_the_loop_after_its_handlers() -> None:
    result = run_flow(
        "id: loop\nnamespace: t\ntasks:\n  - id: loop\n    type: tercel.core.LoopUntil\n    condition: \"{{ false }}\"\n"
        "    checkFrequency:\n      interval: PT0.01S\n"
        "    tasks:\n      - id: boom\n        type: tercel.core.Fail\n        condition: \"{{ outputs.loop.iterationCount == 2 }}\"\n"
        "    errors:\n      - id: handled\n        type: tercel.core.Log\n        message: handled\n"
    )
    assert result.state == "FAILED"
    states = [(r["taskId"], r["iteration"], r["state"]["current"]) for r in result.task_runs if r["taskId"] != "loop"]
    assert states[:2] == [("boom", 1, "SUCCESS"), ("boom", 2, "FAILED")]
    assert ("handled", None, "SUCCESS") in states
