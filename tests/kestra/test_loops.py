"""Loops combined with other flowables: Switch in ForEach, nested ForEach, EachParallel, LoopUntil."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def test_switch_inside_foreach_reads_taskrun_value_and_parents(kestra) -> None:
    # Kestra's own each-switch flow: 12 task runs; a task under the inner Switch reads
    # parents[0] (the Switch, value "2") and parents[1] (the inner ForEach, value "b").
    result = kestra.run("switch_in_foreach")
    assert result.state == "SUCCESS"
    assert kestra.trace(result.execution, "switch_in_foreach") == [
        "start SUCCESS x1",
        "letters SUCCESS",
        "by_letter[a] SUCCESS",
        "letter_a[a] SUCCESS x1",
        "by_letter[b] SUCCESS",
        "letter_b[b] SUCCESS x1",
        "numbers[b] SUCCESS",
        "by_number[1] SUCCESS",
        "number_1[1] SUCCESS x1",
        "by_number[2] SUCCESS",
        "number_2[2] SUCCESS x1",
        "end SUCCESS x1",
    ]
    assert result.outputs("letter_a", "a") == {"value": "letter_a a"}
    assert result.outputs("letter_b", "b") == {"value": "letter_b b"}
    assert result.outputs("number_1", "1") == {"value": "1"}
    assert result.outputs("number_2", "2") == {"value": "2 b"}
    assert result.outputs("by_letter", "b") == {"value": "b", "defaults": False}
    assert result.outputs("end") == {"value": "start done"}


def test_nested_foreach_outputs_by_outer_then_inner_value(kestra) -> None:
    result = kestra.run("nested_foreach_outputs")
    assert result.state == "SUCCESS"
    assert kestra.trace(result.execution, "nested_foreach_outputs") == [
        "regions SUCCESS",
        "sizes[eu] SUCCESS",
        "make[1] SUCCESS x1",
        "use[1] SUCCESS x1",
        "make[2] SUCCESS x1",
        "use[2] SUCCESS x1",
        "sizes[us] SUCCESS",
        "make[1] SUCCESS x1",
        "use[1] SUCCESS x1",
        "make[2] SUCCESS x1",
        "use[2] SUCCESS x1",
        "pick SUCCESS x1",
        "count SUCCESS x1",
    ]
    # currentEachOutput() reads the outputs of the same (outer, inner) iteration
    assert [r["outputs"]["value"] for r in result.task_runs if r["taskId"] == "use"] == [
        "eu-1:10", "eu-2:20", "us-1:10", "us-2:20",
    ]
    assert result.outputs("pick") == {"value": "us-2:20 eu-1"}
    assert result.outputs("count") == {"value": "eu,us / 1,2"}
    assert result.flow_outputs == {"picked": "us-2:20 eu-1"}


def _running_span(run: dict[str, Any]) -> tuple[datetime, datetime]:
    started = next(h["date"] for h in run["state"]["histories"] if h["state"] == "RUNNING")
    return _date(started), _date(run["state"]["endDate"])


def _date(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def test_each_parallel_with_concurrent_runs_two_values_at_a_time(kestra) -> None:
    result = kestra.run("each_parallel_concurrent")
    assert result.state == "SUCCESS"
    assert kestra.trace(result.execution, "each_parallel_concurrent") == [
        "each SUCCESS",
        "work[w] SUCCESS x1",
        "work[x] SUCCESS x1",
        "work[y] SUCCESS x1",
        "work[z] SUCCESS x1",
        "summary SUCCESS x1",
    ]
    assert result.outputs("summary") == {"value": "4 done"}
    spans = [_running_span(r) for r in result.task_runs if r["taskId"] == "work"]
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans], key=lambda e: (e[0], e[1]))
    running, most = 0, 0
    for _, delta in events:
        running += delta
        most = max(most, running)
    assert most == 2, "concurrent: 2 lets exactly two values run at once"
    # the last two values only start once a slot is free
    first_end = min(end for _, end in spans[:2])
    assert all(start >= first_end for start, _ in spans[2:])


def test_loop_until_stops_when_a_kv_counter_reaches_three(kestra) -> None:
    result = kestra.run("loop_until_kv_counter")
    assert result.state == "SUCCESS"
    assert kestra.trace(result.execution, "loop_until_kv_counter") == [
        "reset SUCCESS x1",
        "poll SUCCESS",
        "increment SUCCESS x1",
        "seen SUCCESS x1",
        "increment SUCCESS x1",
        "seen SUCCESS x1",
        "increment SUCCESS x1",
        "seen SUCCESS x1",
        "final SUCCESS x1",
    ]
    assert [r["outputs"]["value"] for r in result.task_runs if r["taskId"] == "seen"] == ["saw 1", "saw 2", "saw 3"]
    assert result.outputs("poll")["iterationCount"] == 3
    assert result.outputs("final") == {"value": 3}


def _per_value(lines: list[str], value: str) -> list[str]:
    return [line for line in lines if f"[{value}]" in line]


def test_foreach_with_concurrency_limit_and_a_parallel_inside(kestra) -> None:
    result = kestra.run("foreach_concurrency_parallel")
    assert result.state == "SUCCESS"
    lines = kestra.trace(result.execution, "foreach_concurrency_parallel")
    assert lines[0] == "for_each SUCCESS"
    assert len(lines) == 1 + 4 * 6
    for value in ("1", "2", "3", "4"):
        branch = "even_value" if int(value) % 2 == 0 else "odd_value"
        assert _per_value(lines, value) == [
            f"parallel[{value}] SUCCESS",
            f"log[{value}] SUCCESS x1",
            f"work[{value}] SUCCESS x1",
            f"even[{value}] SUCCESS",
            f"{branch}[{value}] SUCCESS x1",
            f"position[{value}] SUCCESS x1",
        ]
        parity = "even" if int(value) % 2 == 0 else "odd"
        assert result.outputs(branch, value) == {"value": f"{value} is {parity}"}
        assert result.outputs("position", value) == {"value": f"{value} at {int(value) - 1}"}
        assert result.messages("log").count(f"Processing {value}") == 1
    # concurrencyLimit: 2 -> never more than two iterations at once, and two at the start
    spans = []
    for value in ("1", "2", "3", "4"):
        runs = [r for r in result.task_runs if r["value"] == value]
        spans.append((min(_running_span(r)[0] for r in runs), max(_running_span(r)[1] for r in runs)))
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda e: (e[0], e[1]))
    running, most = 0, 0
    for _, delta in events:
        running += delta
        most = max(most, running)
    assert most == 2
