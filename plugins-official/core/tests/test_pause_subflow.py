"""Pause, Subflow and ForEachItem through the real runtime (engine, worker, store, storage)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tercel.errors import TercelError
from tercel.flows import load_flow
from tercel.plugins import PluginManager
from tercel.runtime import Runtime
from tercel.settings import Settings
from tercel_sdk import State, ion

PLUGINS = PluginManager().discover()


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with Runtime(Settings(home=tmp_path / "home"), plugins=PLUGINS) as rt:
        yield rt


def _flow(runtime: Runtime, source: str):  # type: ignore[no-untyped-def]
    return runtime.register_flow(load_flow(source, PLUGINS))


async def _until(runtime: Runtime, execution_id: str, state: State, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.02)):
        ex = runtime.get_execution(execution_id)
        if ex is not None and ex.state.current is state:
            return ex
        await asyncio.sleep(0.02)
    raise AssertionError(f"execution never became {state.value}: {runtime.get_execution(execution_id)}")


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


async def test_pause_waits_for_a_resume_with_typed_inputs(runtime: Runtime) -> None:
    flow = _flow(runtime, APPROVAL)
    ex = runtime.create_execution(flow)
    paused = await _until(runtime, ex.id, State.PAUSED)
    assert [(t.task_id, t.state.current) for t in paused.task_runs] == [
        ("before", State.SUCCESS), ("wait_for_approval", State.PAUSED)
    ]
    with pytest.raises(TercelError, match="approved"):
        runtime.resume_execution(ex.id, {"approved": "not a boolean"})
    with pytest.raises(TercelError, match="unknown input 'aproved'"):
        runtime.resume_execution(ex.id, {"aproved": True})
    runtime.resume_execution(ex.id, {"approved": "true", "reason": "fine"}, by="alice")
    done = await runtime.wait(ex.id, timeout=20)
    assert done.state.current is State.SUCCESS
    pause = done.task_runs[1]
    assert pause.outputs is not None
    assert pause.outputs["onResume"] == {"approved": True, "reason": "fine"}
    assert pause.outputs["resumed"]["by"] == "alice"
    assert [s for s, _ in pause.state.histories] == [State.CREATED, State.RUNNING, State.PAUSED, State.RUNNING, State.SUCCESS]
    assert [s for s, _ in done.state.histories] == [State.CREATED, State.RUNNING, State.PAUSED, State.RUNNING, State.SUCCESS]
    assert done.task_runs[2].outputs == {"value": "true / fine"}


async def test_resume_of_an_execution_that_is_not_paused_is_refused(runtime: Runtime) -> None:
    flow = _flow(runtime, "id: p\nnamespace: t\ntasks:\n  - id: r\n    type: tercel.core.Return\n    format: x\n")
    ex = runtime.create_execution(flow)
    await runtime.wait(ex.id, timeout=20)
    with pytest.raises(TercelError, match="SUCCESS, not PAUSED"):
        runtime.resume_execution(ex.id)
    with pytest.raises(TercelError, match="no execution"):
        runtime.resume_execution("nope")


@pytest.mark.parametrize(
    ("behavior", "task_state", "execution_state"),
    [("RESUME", State.SUCCESS, State.SUCCESS), ("WARN", State.WARNING, State.WARNING),
     ("FAIL", State.FAILED, State.FAILED), ("CANCEL", State.CANCELLED, State.CANCELLED)],
)
async def test_pause_duration_ends_the_pause_as_behavior_says(runtime: Runtime, behavior: str, task_state: State, execution_state: State) -> None:
    flow = _flow(runtime, f"""
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
""")
    ex = runtime.create_execution(flow)
    done = await runtime.wait(ex.id, timeout=20)
    pause = done.task_runs[0]
    assert pause.state.current is task_state
    assert done.state.current is execution_state
    paused_at = next(d for st, d in pause.state.histories if st is State.PAUSED)
    paused_for = (pause.state.histories[-1][1] - paused_at).total_seconds()
    assert paused_for >= 0.3
    if behavior in ("RESUME", "WARN"):
        assert done.task_runs[-1].task_id == "after"
    if behavior == "RESUME":
        assert done.task_runs[-1].outputs == {"value": "42"}
    if behavior == "FAIL":
        assert "is over (behavior FAIL)" in (pause.error or "")
        assert [t.task_id for t in done.task_runs] == ["pause"]


async def test_deprecated_delay_and_timeout(runtime: Runtime) -> None:
    delayed = _flow(runtime, "id: d\nnamespace: t\ntasks:\n  - id: pause\n    type: io.kestra.core.tasks.flows.Pause\n    delay: PT0.1S\n    tasks:\n      - id: inside\n        type: tercel.core.Return\n        format: after the delay\n")
    done = await runtime.wait(runtime.create_execution(delayed).id, timeout=20)
    assert done.state.current is State.SUCCESS
    assert [t.task_id for t in done.task_runs] == ["pause", "inside"]
    timed_out = _flow(runtime, "id: to\nnamespace: t\ntasks:\n  - id: pause\n    type: tercel.core.Pause\n    timeout: PT0.2S\n")
    done = await runtime.wait(runtime.create_execution(timed_out).id, timeout=20)
    assert done.state.current is State.FAILED
    assert "not resumed within the timeout of PT0.2S" in (done.task_runs[0].error or "")


async def test_a_resume_before_the_timeout_wins(runtime: Runtime) -> None:
    flow = _flow(runtime, "id: to\nnamespace: t\ntasks:\n  - id: pause\n    type: tercel.core.Pause\n    timeout: PT30S\n")
    ex = runtime.create_execution(flow)
    await _until(runtime, ex.id, State.PAUSED)
    runtime.resume_execution(ex.id)
    done = await runtime.wait(ex.id, timeout=20)
    assert done.state.current is State.SUCCESS


async def test_other_branches_go_on_while_a_pause_waits_and_kill_ends_it(runtime: Runtime) -> None:
    flow = _flow(runtime, """
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
    ex = runtime.create_execution(flow)
    for _ in range(500):
        current = runtime.get_execution(ex.id)
        assert current is not None
        states = {t.task_id: t.state.current for t in current.task_runs}
        if states.get("work") is State.SUCCESS and current.state.current is State.PAUSED:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the other branch did not finish while paused")
    runtime.kill(ex.id)
    done = await runtime.wait(ex.id, timeout=20)
    assert done.state.current is State.KILLED
    assert {t.task_id: t.state.current for t in done.task_runs} == {
        "parallel": State.KILLED, "pause": State.KILLED, "work": State.SUCCESS
    }


async def test_a_paused_execution_survives_a_restart(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    async with Runtime(settings, plugins=PLUGINS) as first:
        flow = _flow(first, APPROVAL)
        ex = first.create_execution(flow)
        await _until(first, ex.id, State.PAUSED)
    async with Runtime(settings, plugins=PLUGINS) as second:
        second.resume_execution(ex.id, {"approved": True})
        done = await second.wait(ex.id, timeout=20)
    assert done.state.current is State.SUCCESS
    assert done.task_runs[2].outputs == {"value": "true / "}


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


async def test_subflow_waits_and_passes_outputs(runtime: Runtime) -> None:
    _flow(runtime, CHILD)
    parent = _flow(runtime, _parent("    inheritLabels: true\n    labels:\n      extra: yes"))
    ex = runtime.create_execution(parent)
    done = await runtime.wait(ex.id, timeout=30)
    assert done.state.current is State.SUCCESS, done.task_runs
    call = done.task_runs[0]
    assert call.outputs is not None
    child = runtime.get_execution(call.outputs["executionId"])
    assert child is not None and child.flow_id == "child"
    assert child.labels == {"team": "data", "extra": "yes", "system.correlationId": ex.id}
    assert child.trigger is not None and child.trigger["executionId"] == ex.id
    assert call.outputs["state"] == "SUCCESS"
    assert done.task_runs[1].outputs == {"value": "hello Ada from parent (data) / SUCCESS"}


@pytest.mark.parametrize(("transmit", "expected"), [("true", State.FAILED), ("false", State.SUCCESS)])
async def test_subflow_failure_is_transmitted_only_when_asked(runtime: Runtime, transmit: str, expected: State) -> None:
    _flow(runtime, CHILD)
    parent = _flow(runtime, _parent(f"    transmitFailed: {transmit}", inputs="name: Ada\n      fail: true"))
    done = await runtime.wait(runtime.create_execution(parent).id, timeout=30)
    call = done.task_runs[0]
    assert call.state.current is expected
    assert call.outputs is not None and call.outputs["state"] == "FAILED"
    if expected is State.FAILED:
        assert f"subflow execution {call.outputs['executionId']} ended FAILED" in (call.error or "")
        assert done.state.current is State.FAILED


async def test_subflow_without_wait_goes_on_at_once(runtime: Runtime) -> None:
    _flow(runtime, CHILD.replace("  - id: greet\n", "  - id: slow\n    type: tercel.core.Sleep\n    duration: PT0.5S\n  - id: greet\n"))
    parent = _flow(runtime, _parent("    wait: false"))
    done = await runtime.wait(runtime.create_execution(parent).id, timeout=30)
    assert done.state.current is State.SUCCESS
    assert done.task_runs[1].outputs == {"value": "none / none"}
    child_id = done.task_runs[0].outputs["executionId"]  # type: ignore[index]
    assert runtime.get_execution(child_id).state.current is State.RUNNING  # type: ignore[union-attr]
    child = await runtime.wait(child_id, timeout=30)
    assert child.state.current is State.SUCCESS


async def test_subflow_of_a_missing_flow_or_with_bad_inputs_fails_clearly(runtime: Runtime) -> None:
    _flow(runtime, CHILD)
    missing = _flow(runtime, _parent().replace("flowId: child", "flowId: nope"))
    done = await runtime.wait(runtime.create_execution(missing).id, timeout=30)
    assert done.state.current is State.FAILED
    assert "flow tests.sub.nope does not exist" in (done.task_runs[0].error or "")
    bad = _flow(runtime, _parent(inputs="nam: Ada"))
    done = await runtime.wait(runtime.create_execution(bad).id, timeout=30)
    assert done.state.current is State.FAILED
    assert "subflow execution not created" in (done.task_runs[0].error or "")
    assert "'nam'" in (done.task_runs[0].error or "")


async def test_killing_the_parent_kills_the_subflow(runtime: Runtime) -> None:
    _flow(runtime, CHILD.replace("  - id: greet\n", "  - id: slow\n    type: tercel.core.Sleep\n    duration: PT60S\n  - id: greet\n"))
    parent = _flow(runtime, _parent())
    ex = runtime.create_execution(parent)
    for _ in range(500):
        current = runtime.get_execution(ex.id)
        if current and current.task_runs and (current.task_runs[0].outputs or {}).get("executionId"):
            child_id = current.task_runs[0].outputs["executionId"]  # type: ignore[index]
            child = runtime.get_execution(child_id)
            if child and child.task_runs and child.task_runs[0].state.current is State.RUNNING:
                break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the subflow never started")
    runtime.kill(ex.id)
    done = await runtime.wait(ex.id, timeout=30)
    assert done.state.current is State.KILLED
    child_done = await runtime.wait(child_id, timeout=30)
    assert child_done.state.current is State.KILLED


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


async def test_for_each_item_runs_one_subflow_per_batch_and_merges_outputs(runtime: Runtime) -> None:
    _flow(runtime, ITEM_CHILD.replace("{{ inputs.number == 3 }}", "false"))
    parent = _flow(runtime, _items_parent())
    done = await runtime.wait(runtime.create_execution(parent).id, timeout=60)
    assert done.state.current is State.SUCCESS, [(t.task_id, t.error) for t in done.task_runs]
    runs = {t.task_id: t for t in done.task_runs}
    assert [t.task_id for t in done.task_runs] == ["write", "each", "each_split", "each_items", "each_merge"]
    assert runs["each_split"].outputs["numberOfBatches"] == 3  # type: ignore[index]
    items = runs["each_items"].outputs
    assert items is not None and items["numberOfBatches"] == 3 and items["iterations"] == {"SUCCESS": 3}
    assert len(runs["each_items"].attempts) == 1
    merged = ion.read_rows(runtime.storage.open(runs["each_merge"].outputs["subflowOutputs"]))  # type: ignore[index]
    assert list(merged) == [{"lines": "a+b", "number": 1}, {"lines": "c+d", "number": 2}, {"lines": "e", "number": 3}]
    children = runtime.db.executions.find(namespace="tests.items", flow_id="item", limit=10)
    assert len(children) == 3


async def test_for_each_item_fails_when_a_batch_fails_with_transmit_failed(runtime: Runtime) -> None:
    _flow(runtime, ITEM_CHILD)
    parent = _flow(runtime, _items_parent())
    done = await runtime.wait(runtime.create_execution(parent).id, timeout=60)
    runs = {t.task_id: t for t in done.task_runs}
    assert done.state.current is State.FAILED
    assert runs["each_items"].outputs["iterations"] == {"SUCCESS": 2, "FAILED": 1}  # type: ignore[index]
    assert "1 of 3 subflow executions did not succeed" in (runs["each_items"].error or "")
    assert runs["each"].state.current is State.FAILED and "each_merge" not in runs
    lenient = _flow(runtime, _items_parent("    transmitFailed: false").replace("id: items_parent", "id: lenient"))
    done = await runtime.wait(runtime.create_execution(lenient).id, timeout=60)
    assert done.state.current is State.SUCCESS


async def test_for_each_item_of_an_empty_file_or_a_non_uri(runtime: Runtime) -> None:
    _flow(runtime, ITEM_CHILD)
    empty = _flow(runtime, _items_parent().replace('content: "a\\nb\\nc\\nd\\ne\\n"', 'content: ""'))
    done = await runtime.wait(runtime.create_execution(empty).id, timeout=30)
    assert done.state.current is State.SUCCESS
    runs = {t.task_id: t for t in done.task_runs}
    assert runs["each_items"].outputs["numberOfBatches"] == 0  # type: ignore[index]
    not_uri = _flow(runtime, _items_parent().replace("items: \"{{ outputs.write.uri }}\"", "items: just text"))
    done = await runtime.wait(runtime.create_execution(not_uri).id, timeout=30)
    assert done.state.current is State.FAILED
    runs = {t.task_id: t for t in done.task_runs}
    assert "`items` must be the URI of a file of internal storage" in (runs["each_split"].error or "")


def test_for_each_item_internal_tasks_are_checked_when_the_flow_is_saved() -> None:
    from tercel.flows import FlowValidationError

    with pytest.raises(FlowValidationError, match="is internal: another type creates it"):
        load_flow("id: x\nnamespace: t\ntasks:\n  - id: s\n    type: tercel.core.ForEachItemSplit\n    items: x\n", PLUGINS)
    clash = _items_parent().replace("  - id: write\n", "  - id: each_merge\n    type: tercel.core.Log\n    message: x\n  - id: write\n")
    with pytest.raises(FlowValidationError, match="each_merge"):
        load_flow(clash, PLUGINS)
    flow = load_flow(_items_parent(), PLUGINS)
    assert [flow.tasks[i].parent_id for i in ("each_split", "each_items", "each_merge")] == ["each"] * 3
