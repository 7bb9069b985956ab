"""Pause, Subflow and ForEachItem through the real runtime (engine, worker, store, storage), in a
`tercel_sdk.testing.Sandbox` (several executions, resumes, kills, a restart)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from tercel.errors import TercelError
from tercel_sdk.testing import FlowResult, Sandbox, validate


@pytest.fixture
async def tercel() -> AsyncIterator[Sandbox]:
    async with Sandbox() as sandbox:
        yield sandbox


def runs(result: FlowResult) -> list[tuple[str, str]]:
    """(task id, state) of every task run, in order."""
    return [(t["taskId"], t["state"]["current"]) for t in result.task_runs]


def states(run: dict[str, Any]) -> list[str]:
    return [h["state"] for h in run["state"]["histories"]]


def entered(run: dict[str, Any], state: str) -> datetime:
    return _date(next(h["date"] for h in run["state"]["histories"] if h["state"] == state))


def _date(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))


APPROVAL = """
id: approval
namespace: tests.pause
tasks:
  - id: before
    type: tercel.core.Return
    format: ready
  - id: wait_for_approval
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
        defaults: false
      - id: reason
        type: STRING
        required: false
  - id: after
    type: tercel.core.Return
    format: "{{ outputs.wait_for_approval.onResume.approved }} / {{ outputs.wait_for_approval.onResume.reason }}"
"""


async def test_pause_waits_for_a_resume_with_typed_inputs(tercel: Sandbox) -> None:
    ex = tercel.start(APPROVAL)
    paused = await tercel.until(ex, "PAUSED")
    assert runs(paused) == [("before", "SUCCESS"), ("wait_for_approval", "PAUSED")]
    with pytest.raises(TercelError, match="approved"):
        tercel.resume(ex, {"approved": "not a boolean"})
    with pytest.raises(TercelError, match="unknown input 'aproved'"):
        tercel.resume(ex, {"aproved": True})
    tercel.resume(ex, {"approved": "true", "reason": "fine"}, by="alice")
    done = await tercel.wait(ex, timeout=20)
    assert done.state == "SUCCESS"
    pause = done.task_run("wait_for_approval")
    assert pause["outputs"]["onResume"] == {"approved": True, "reason": "fine"}
    assert pause["outputs"]["resumed"]["by"] == "alice"
    assert states(pause) == ["CREATED", "RUNNING", "PAUSED", "RUNNING", "SUCCESS"]
    assert [h["state"] for h in done.execution["state"]["histories"]] == ["CREATED", "RUNNING", "PAUSED", "RUNNING", "SUCCESS"]
    assert done.outputs("after") == {"value": "true / fine"}


async def test_resume_of_an_execution_that_is_not_paused_is_refused(tercel: Sandbox) -> None:
    done = await tercel.run("id: p\nnamespace: t\ntasks:\n  - id: r\n    type: tercel.core.Return\n    format: x\n", timeout=20)
    with pytest.raises(TercelError, match="SUCCESS, not PAUSED"):
        tercel.resume(done.id)
    with pytest.raises(TercelError, match="no execution"):
        tercel.resume("nope")


@pytest.mark.parametrize(
    ("behavior", "task_state", "execution_state"),
    [("RESUME", "SUCCESS", "SUCCESS"), ("WARN", "WARNING", "WARNING"),
     ("FAIL", "FAILED", "FAILED"), ("CANCEL", "CANCELLED", "CANCELLED")],
)
async def test_pause_duration_ends_the_pause_as_behavior_says(tercel: Sandbox, behavior: str, task_state: str, execution_state: str) -> None:
    done = await tercel.run(f"""
id: timed
namespace: t
tasks:
  - id: pause
    type: tercel.core.Pause
    pauseDuration: PT0.3S
    behavior: {behavior}
    onResume:
      - id: answer
        type: INT
        defaults: 42
  - id: after
    type: tercel.core.Return
    format: "{{{{ outputs.pause.onResume.answer ?? 'none' }}}}"
""", timeout=20)
    pause = done.task_runs[0]
    assert pause["state"]["current"] == task_state
    assert done.state == execution_state
    paused_for = (_date(pause["state"]["histories"][-1]["date"]) - entered(pause, "PAUSED")).total_seconds()
    assert paused_for >= 0.3
    if behavior in ("RESUME", "WARN"):
        assert done.task_runs[-1]["taskId"] == "after"
    if behavior == "RESUME":
        assert done.task_runs[-1]["outputs"] == {"value": "42"}
    if behavior == "FAIL":
        assert "is over (behavior FAIL)" in (pause.get("error") or "")
        assert [t["taskId"] for t in done.task_runs] == ["pause"]


async def test_deprecated_delay_and_timeout(tercel: Sandbox) -> None:
    done = await tercel.run("id: d\nnamespace: t\ntasks:\n  - id: pause\n    type: io.kestra.core.tasks.flows.Pause\n    delay: PT0.1S\n    tasks:\n      - id: inside\n        type: tercel.core.Return\n        format: after the delay\n", timeout=20)
    assert done.state == "SUCCESS"
    assert [t["taskId"] for t in done.task_runs] == ["pause", "inside"]
    done = await tercel.run("id: to\nnamespace: t\ntasks:\n  - id: pause\n    type: tercel.core.Pause\n    timeout: PT0.2S\n", timeout=20)
    assert done.state == "FAILED"
    assert "not resumed within the timeout of PT0.2S" in (done.task_runs[0].get("error") or "")


async def test_a_resume_before_the_timeout_wins(tercel: Sandbox) -> None:
    ex = tercel.start("id: to\nnamespace: t\ntasks:\n  - id: pause\n    type: tercel.core.Pause\n    timeout: PT30S\n")
    await tercel.until(ex, "PAUSED")
    tercel.resume(ex)
    done = await tercel.wait(ex, timeout=20)
    assert done.state == "SUCCESS"


async def test_other_branches_go_on_while_a_pause_waits_and_kill_ends_it(tercel: Sandbox) -> None:
    ex = tercel.start("""
id: branches
namespace: t
tasks:
  - id: parallel
    type: tercel.core.Parallel
    tasks:
      - id: pause
        type: tercel.core.Pause
      - id: work
        type: tercel.core.Return
        format: done while paused
""")
    await tercel.until(ex, lambda r: r.state == "PAUSED" and dict(runs(r)).get("work") == "SUCCESS", timeout=10)
    tercel.kill(ex)
    done = await tercel.wait(ex, timeout=20)
    assert done.state == "KILLED"
    assert dict(runs(done)) == {"parallel": "KILLED", "pause": "KILLED", "work": "SUCCESS"}


async def test_a_paused_execution_survives_a_restart(tmp_path: Path) -> None:
    async with Sandbox(home=tmp_path / "home") as first:
        ex = first.start(APPROVAL)
        await first.until(ex, "PAUSED")
    async with Sandbox(home=tmp_path / "home") as second:
        second.resume(ex, {"approved": True})
        done = await second.wait(ex, timeout=20)
    assert done.state == "SUCCESS"
    assert done.outputs("after") == {"value": "true / "}


# ------------------------------------------------------------------------------------ Subflow

CHILD = """
id: child
namespace: tests.sub
inputs:
  - id: name
    type: STRING
  - id: fail
    type: BOOLEAN
    defaults: false
tasks:
  - id: greet
    type: tercel.core.Return
    format: "hello {{ inputs.name }} from {{ trigger.flowId }} ({{ labels.team ?? 'no team' }})"
  - id: maybe_fail
    type: tercel.core.Fail
    condition: "{{ inputs.fail }}"
    errorMessage: asked to fail
outputs:
  - id: greeting
    type: STRING
    value: "{{ outputs.greet.value }}"
"""


def _parent(extra: str = "", inputs: str = "name: Ada") -> str:
    return f"""
id: parent
namespace: tests.sub
labels:
  team: data
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: tests.sub
    flowId: child
    inputs:
      {inputs}
{extra}
  - id: after
    type: tercel.core.Return
    format: "{{{{ outputs.call.outputs.greeting ?? 'none' }}}} / {{{{ outputs.call.state ?? 'none' }}}}"
"""


async def test_subflow_waits_and_passes_outputs(tercel: Sandbox) -> None:
    tercel.deploy(CHILD)
    done = await tercel.run(_parent("    inheritLabels: true\n    labels:\n      extra: yes"), timeout=30)
    assert done.state == "SUCCESS", done.summary()
    call = done.outputs("call")
    child = tercel.execution(call["executionId"])
    assert child is not None and child.flow_id == "child"
    assert child.labels == {"team": "data", "extra": "yes", "system.correlationId": done.id}
    assert child.execution["trigger"] is not None and child.execution["trigger"]["executionId"] == done.id
    assert call["state"] == "SUCCESS"
    assert done.outputs("after") == {"value": "hello Ada from parent (data) / SUCCESS"}


@pytest.mark.parametrize(("transmit", "expected"), [("true", "FAILED"), ("false", "SUCCESS")])
async def test_subflow_failure_is_transmitted_only_when_asked(tercel: Sandbox, transmit: str, expected: str) -> None:
    tercel.deploy(CHILD)
    done = await tercel.run(_parent(f"    transmitFailed: {transmit}", inputs="name: Ada\n      fail: true"), timeout=30)
    call = done.task_run("call")
    assert call["state"]["current"] == expected
    assert call["outputs"] is not None and call["outputs"]["state"] == "FAILED"
    if expected == "FAILED":
        assert f"subflow execution {call['outputs']['executionId']} ended FAILED" in (call.get("error") or "")
        assert done.state == "FAILED"


async def test_subflow_without_wait_goes_on_at_once(tercel: Sandbox) -> None:
    tercel.deploy(CHILD.replace("  - id: greet\n", "  - id: slow\n    type: tercel.core.Sleep\n    duration: PT0.5S\n  - id: greet\n"))
    done = await tercel.run(_parent("    wait: false"), timeout=30)
    assert done.state == "SUCCESS"
    assert done.outputs("after") == {"value": "none / none"}
    child_id = done.outputs("call")["executionId"]
    assert tercel.execution(child_id).state == "RUNNING"  # type: ignore[union-attr]
    child = await tercel.wait(child_id, timeout=30)
    assert child.state == "SUCCESS"


async def test_subflow_of_a_missing_flow_or_with_bad_inputs_fails_clearly(tercel: Sandbox) -> None:
    tercel.deploy(CHILD)
    done = await tercel.run(_parent().replace("flowId: child", "flowId: nope"), timeout=30)
    assert done.state == "FAILED"
    assert "flow tests.sub.nope does not exist" in done.errors["call"]
    done = await tercel.run(_parent(inputs="nam: Ada"), timeout=30)
    assert done.state == "FAILED"
    assert "subflow execution not created" in done.errors["call"]
    assert "'nam'" in done.errors["call"]


async def test_killing_the_parent_kills_the_subflow(tercel: Sandbox) -> None:
    tercel.deploy(CHILD.replace("  - id: greet\n", "  - id: slow\n    type: tercel.core.Sleep\n    duration: PT60S\n  - id: greet\n"))
    ex = tercel.start(_parent())
    started = await tercel.until(ex, lambda r: bool(r.task_runs and (r.task_runs[0].get("outputs") or {}).get("executionId")))
    child_id = started.task_runs[0]["outputs"]["executionId"]
    await tercel.until(child_id, lambda r: bool(r.task_runs) and r.task_runs[0]["state"]["current"] == "RUNNING")
    tercel.kill(ex)
    done = await tercel.wait(ex, timeout=30)
    assert done.state == "KILLED"
    child_done = await tercel.wait(child_id, timeout=30)
    assert child_done.state == "KILLED"


# -------------------------------------------------------------------------------- ForEachItem

ITEM_CHILD = """
id: item
namespace: tests.items
inputs:
  - id: batch
    type: FILE
  - id: number
    type: INT
tasks:
  - id: count
    type: tercel.core.Return
    format: "{{ read(inputs.batch) | trim | replace('\\n', '+') }}"
  - id: fail_on_three
    type: tercel.core.Fail
    condition: "{{ inputs.number == 3 }}"
outputs:
  - id: lines
    type: STRING
    value: "{{ outputs.count.value }}"
  - id: number
    type: INT
    value: "{{ inputs.number }}"
"""


def _items_parent(extra: str = "") -> str:
    return f"""
id: items_parent
namespace: tests.items
tasks:
  - id: write
    type: tercel.core.storage.Write
    content: "a\\nb\\nc\\nd\\ne\\n"
    extension: .txt
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{{{ outputs.write.uri }}}}"
    batch:
      rows: 2
    namespace: tests.items
    flowId: item
    inputs:
      batch: "{{{{ taskrun.items }}}}"
      number: "{{{{ taskrun.iteration }}}}"
{extra}
"""


async def test_for_each_item_runs_one_subflow_per_batch_and_merges_outputs(tercel: Sandbox) -> None:
    tercel.deploy(ITEM_CHILD.replace("{{ inputs.number == 3 }}", "false"))
    done = await tercel.run(_items_parent(), timeout=60)
    assert done.state == "SUCCESS", done.summary()
    assert [t["taskId"] for t in done.task_runs] == ["write", "each", "each_split", "each_items", "each_merge"]
    each = done.task_run("each")["id"]
    assert [done.task_run(i)["parentTaskRunId"] for i in ("each_split", "each_items", "each_merge")] == [each] * 3
    assert done.outputs("each_split")["numberOfBatches"] == 3
    items = done.outputs("each_items")
    assert items["numberOfBatches"] == 3 and items["iterations"] == {"SUCCESS": 3}
    assert len(done.task_run("each_items")["attempts"]) == 1
    merged = done.file(done.outputs("each_merge")["subflowOutputs"]).rows()
    assert merged == [{"lines": "a+b", "number": 1}, {"lines": "c+d", "number": 2}, {"lines": "e", "number": 3}]
    assert len(tercel.executions(namespace="tests.items", flow_id="item")) == 3


async def test_for_each_item_fails_when_a_batch_fails_with_transmit_failed(tercel: Sandbox) -> None:
    tercel.deploy(ITEM_CHILD)
    done = await tercel.run(_items_parent(), timeout=60)
    assert done.state == "FAILED"
    assert done.outputs("each_items")["iterations"] == {"SUCCESS": 2, "FAILED": 1}
    assert "1 of 3 subflow executions did not succeed" in done.errors["each_items"]
    assert done.task_run("each")["state"]["current"] == "FAILED"
    assert "each_merge" not in {t["taskId"] for t in done.task_runs}
    lenient = await tercel.run(_items_parent("    transmitFailed: false").replace("id: items_parent", "id: lenient"), timeout=60)
    assert lenient.state == "SUCCESS"


async def test_for_each_item_of_an_empty_file_or_a_non_uri(tercel: Sandbox) -> None:
    tercel.deploy(ITEM_CHILD)
    done = await tercel.run(_items_parent().replace('content: "a\\nb\\nc\\nd\\ne\\n"', 'content: ""'), timeout=30)
    assert done.state == "SUCCESS"
    assert done.outputs("each_items")["numberOfBatches"] == 0
    done = await tercel.run(_items_parent().replace("items: \"{{ outputs.write.uri }}\"", "items: just text"), timeout=30)
    assert done.state == "FAILED"
    assert "`items` must be the URI of a file of internal storage" in done.errors["each_split"]


def test_for_each_item_internal_tasks_are_checked_when_the_flow_is_saved() -> None:
    (internal,) = validate("id: x\nnamespace: t\ntasks:\n  - id: s\n    type: tercel.core.ForEachItemSplit\n    items: x\n")
    assert "is internal: another type creates it" in internal
    clash = _items_parent().replace("  - id: write\n", "  - id: each_merge\n    type: tercel.core.Log\n    message: x\n  - id: write\n")
    assert any("each_merge" in p for p in validate(clash))
    assert validate(_items_parent()) == []
