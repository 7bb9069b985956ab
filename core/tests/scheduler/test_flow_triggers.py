"""Flow triggers over a real runtime, on SQLite and PostgreSQL: an execution ends, the flows
whose Flow trigger it satisfies start, with Kestra's `trigger.*` variables; preconditions over
several flows are stored, so a restart between two upstream executions loses nothing. The
time windows read the test's clock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tercel.engine import Execution
from tercel.plugins import PluginManager
from tercel.runtime import Runtime
from tercel.scheduler import Scheduler
from tercel.settings import Settings
from tercel_sdk import State

NS = "tests.flowtrigger"


def upstream(flow_id: str, *, fail: bool = False, output: str | None = None, labels: str = "") -> str:
    task = "  - id: boom\n    type: tercel.core.Fail\n" if fail else "  - id: work\n    type: tercel.core.Return\n    format: done\n"
    outputs = f'outputs:\n  - id: result\n    type: STRING\n    value: "{output}"\n' if output is not None else ""
    return f"id: {flow_id}\nnamespace: {NS}\n{labels}tasks:\n{task}{outputs}"


def downstream(flow_id: str, trigger: str, *, inputs: str = "") -> str:
    return f"""\
id: {flow_id}
namespace: {NS}
{inputs}
tasks:
  - id: seen
    type: tercel.core.Return
    format: "after {{{{ trigger.flowId }}}} {{{{ trigger.executionId }}}} {{{{ trigger.state }}}}"
triggers:
{trigger}"""


def executions(rt: Runtime, flow_id: str) -> list[Execution]:
    found = [rt.get_execution(h["id"]) for h in rt.db.executions.find(namespace=NS, flow_id=flow_id, limit=100)]
    return sorted((e for e in found if e is not None), key=lambda e: e.state.histories[0][1])


async def run(rt: Runtime, flow_id: str, inputs: dict[str, Any] | None = None, labels: dict[str, str] | None = None) -> Execution:
    """Run one execution of `flow_id` to its end (the Flow triggers hear it through the queue)."""
    flow = rt.get_flow(NS, flow_id)
    assert flow is not None
    ex = rt.create_execution(flow, inputs or {}, labels=labels)
    return await rt.wait(ex.id, timeout=30)


async def ended(rt: Runtime, flow_id: str, count: int = 1) -> list[Execution]:
    """The executions of `flow_id`, once `count` of them ended."""
    for _ in range(1500):
        found = executions(rt, flow_id)
        if len(found) >= count and all(e.state.current.is_terminated for e in found):
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"{flow_id} did not end {count} time(s): {[e.state.current for e in executions(rt, flow_id)]}")


ON_A_FAILED = """\
  - id: on_failure
    type: io.kestra.plugin.core.trigger.Flow
    inputs:
      upstream: "{{ trigger.executionId }}"
      owner: "{{ trigger.executionLabels.owner }}"
    labels:
      cause: "{{ trigger.flowId }}"
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: tests.flowtrigger
        flowId: a
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in: [FAILED]
"""
INPUTS = "inputs:\n  - id: upstream\n    type: STRING\n  - id: owner\n    type: STRING\n"


async def test_a_failed_execution_starts_the_flow_listening_for_it(runtime: Runtime, clock: Any) -> None:
    runtime.deploy_flow(upstream("a", fail=True, labels="labels:\n  owner: ana\n"))
    runtime.deploy_flow(downstream("b", ON_A_FAILED, inputs=INPUTS))
    async with Scheduler(runtime, clock=clock):
        a = await run(runtime, "a", labels={"system.correlationId": "chain-1"})
        assert a.state.current is State.FAILED
        (b,) = await ended(runtime, "b")
    assert b.state.current is State.SUCCESS, b.error
    assert b.trigger is not None
    assert b.trigger["executionId"] == a.id
    assert {k: b.trigger[k] for k in ("id", "type", "namespace", "flowId", "flowRevision", "state", "firstFailedTaskId", "lastTaskId")} == {
        "id": "on_failure", "type": "io.kestra.plugin.core.trigger.Flow", "namespace": NS, "flowId": "a",
        "flowRevision": 1, "state": "FAILED", "firstFailedTaskId": "boom", "lastTaskId": "boom",
    }
    assert b.trigger["executionLabels"] == {"owner": "ana"}
    assert b.trigger["endDate"] == a.state.end_date
    assert b.inputs == {"upstream": a.id, "owner": "ana"}
    assert b.labels["cause"] == "a"
    assert b.labels["system.correlationId"] == "chain-1"  # the chain keeps its correlation id
    assert b.task_runs[0].outputs == {"value": f"after a {a.id} FAILED"}
    row = runtime.db.triggers.get(NS, "b", "on_failure")
    assert row is not None and row.date == clock.now and not row.disabled


async def test_executions_the_conditions_refuse_start_nothing_and_a_flow_never_triggers_itself(runtime: Runtime, clock: Any) -> None:
    runtime.deploy_flow(upstream("a"))  # succeeds: b listens to failures only
    runtime.deploy_flow(downstream("b", ON_A_FAILED, inputs=INPUTS))
    runtime.deploy_flow(downstream("echo", """\
  - id: any_success
    type: tercel.core.trigger.Flow
    states: [SUCCESS]
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionNamespace
        namespace: tests
        comparison: PREFIX
"""))
    async with Scheduler(runtime, clock=clock):
        await run(runtime, "a")
        (echo,) = await ended(runtime, "echo")  # echo's own success does not start echo again
        await asyncio.sleep(0.3)
    assert executions(runtime, "b") == []
    assert len(executions(runtime, "echo")) == 1
    assert echo.trigger["flowId"] == "a"


BOTH = """\
  - id: both_done
    type: tercel.core.trigger.Flow
    inputs:
      first: "{{ trigger.outputs['tests.flowtrigger'].x.result }}"
      second: "{{ trigger.outputs['tests.flowtrigger'].y.result }}"
    preconditions:
      id: xy
      flows:
        - namespace: tests.flowtrigger
          flowId: x
          states: [SUCCESS]
        - namespace: tests.flowtrigger
          flowId: y
          states: [SUCCESS]
"""
BOTH_INPUTS = "inputs:\n  - id: first\n    type: STRING\n  - id: second\n    type: STRING\n"


async def test_preconditions_over_two_flows_survive_a_restart_between_them(settings: Settings, plugins: PluginManager, clock: Any) -> None:
    async with Runtime(settings, plugins=plugins) as rt:
        rt.deploy_flow(upstream("x", output="from x"))
        rt.deploy_flow(upstream("y", output="from y"))
        rt.deploy_flow(downstream("z", BOTH, inputs=BOTH_INPUTS))
        async with Scheduler(rt, clock=clock):
            await run(rt, "x")
            await asyncio.sleep(0.2)
            assert executions(rt, "z") == []
        row = rt.db.triggers.get(NS, "z", "both_done")
        assert row is not None and len(row.context["preconditions"]["met"]) == 1
    clock.advance(hours=3)  # still the same day: the same window
    async with Runtime(settings, plugins=plugins) as rt, Scheduler(rt, clock=clock):  # all started afresh
        y = await run(rt, "y")
        (z,) = await ended(rt, "z")
        assert z.state.current is State.SUCCESS, z.error
        assert z.trigger["executionId"] == y.id  # the one that met the last precondition
        assert z.inputs == {"first": "from x", "second": "from y"}
        assert z.trigger["outputs"]["result"] == "from y"
        # resetOnSuccess: y alone again starts nothing
        await run(rt, "y")
        await asyncio.sleep(0.2)
        assert len(executions(rt, "z")) == 1
        progress = rt.db.triggers.get(NS, "z", "both_done").context["preconditions"]
        assert len(progress["met"]) == 1


async def test_preconditions_must_all_be_met_within_the_window(runtime: Runtime, clock: Any) -> None:
    runtime.deploy_flow(upstream("x", output="1"))
    runtime.deploy_flow(upstream("y", output="2"))
    runtime.deploy_flow(downstream("z", BOTH, inputs=BOTH_INPUTS))
    async with Scheduler(runtime, clock=clock):
        await run(runtime, "x")
        clock.advance(days=1)  # the next day: a new window
        await run(runtime, "y")
        await asyncio.sleep(0.2)
        assert executions(runtime, "z") == []
        await run(runtime, "x")  # y was met today
        (z,) = await ended(runtime, "z")
    assert z.state.current is State.SUCCESS


async def test_stop_after_disables_the_trigger_when_its_execution_ends_in_one_of_the_states(runtime: Runtime, clock: Any) -> None:
    runtime.deploy_flow(upstream("a", fail=True))
    runtime.deploy_flow(f"""\
id: b
namespace: {NS}
tasks:
  - id: also_fails
    type: tercel.core.Fail
triggers:
  - id: on_failure
    type: tercel.core.trigger.Flow
    stopAfter: [FAILED]
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: {NS}
        flowId: a
""")
    async with Scheduler(runtime, clock=clock) as scheduler:
        await run(runtime, "a")
        (b,) = await ended(runtime, "b")
        assert b.state.current is State.FAILED
        for _ in range(100):  # its end is heard through the queue, a moment later
            if next(s for s in scheduler.triggers(NS, "b")).disabled:
                break
            await asyncio.sleep(0.05)
        assert next(s for s in scheduler.triggers(NS, "b")).disabled
        await run(runtime, "a")
        await asyncio.sleep(0.2)
        assert len(executions(runtime, "b")) == 1
        # enabled again through the API, it listens again
        assert not scheduler.set_disabled(NS, "b", "on_failure", False).disabled
        await run(runtime, "a")
        await ended(runtime, "b", 2)


async def test_a_trigger_disabled_through_the_api_neither_fires_nor_counts(runtime: Runtime, clock: Any) -> None:
    runtime.deploy_flow(upstream("x", output="1"))
    runtime.deploy_flow(upstream("y", output="2"))
    runtime.deploy_flow(downstream("z", BOTH, inputs=BOTH_INPUTS))
    async with Scheduler(runtime, clock=clock) as scheduler:
        scheduler.set_disabled(NS, "z", "both_done", True)
        await run(runtime, "x")
        scheduler.set_disabled(NS, "z", "both_done", False)
        await run(runtime, "y")
        await asyncio.sleep(0.2)
        assert executions(runtime, "z") == []  # x ended while it was disabled: not counted
        await run(runtime, "x")
        await ended(runtime, "z")


async def test_inputs_that_cannot_be_rendered_give_a_failed_execution_with_the_reason(runtime: Runtime, clock: Any) -> None:
    runtime.deploy_flow(upstream("a", fail=True))
    runtime.deploy_flow(downstream("b", """\
  - id: on_failure
    type: tercel.core.trigger.Flow
    inputs:
      count: "{{ trigger.outputs.missing.deeper }}"
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in: [FAILED]
""", inputs="inputs:\n  - id: count\n    type: INT\n"))
    async with Scheduler(runtime, clock=clock):
        await run(runtime, "a")
        (b,) = await ended(runtime, "b")
    assert b.state.current is State.FAILED
    assert b.error is not None and "trigger 'on_failure' of flow tests.flowtrigger.b" in b.error


async def test_a_condition_that_cannot_be_evaluated_starts_nothing(runtime: Runtime, clock: Any, caplog: pytest.LogCaptureFixture) -> None:
    runtime.deploy_flow(upstream("a"))
    runtime.deploy_flow(downstream("b", """\
  - id: broken
    type: tercel.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.Expression
        expression: "{{ undefined_function() }}"
"""))
    async with Scheduler(runtime, clock=clock):
        await run(runtime, "a")
        await asyncio.sleep(0.2)
    assert executions(runtime, "b") == []
    assert any("cannot be evaluated" in r.getMessage() for r in caplog.records)


async def test_outputs_labels_and_expressions_of_the_upstream_execution(runtime: Runtime, clock: Any) -> None:
    runtime.deploy_flow(upstream("a", output="hello", labels="labels:\n  env: prod\n"))
    runtime.deploy_flow(downstream("b", """\
  - id: hello_in_prod
    type: tercel.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionOutputs
        expression: "{{ trigger.outputs.result == 'hello' }}"
      - type: io.kestra.plugin.core.condition.ExecutionLabels
        labels:
          env: prod
      - type: io.kestra.plugin.core.condition.Not
        conditions:
          - type: io.kestra.plugin.core.condition.Expression
            expression: "{{ execution.state == 'FAILED' or outputs.work.value != 'done' }}"
      - type: io.kestra.plugin.core.condition.DayWeek
        dayOfWeek: MONDAY
"""))
    async with Scheduler(runtime, clock=clock):  # the clock says Monday; the execution ends now
        await run(runtime, "a", labels={"env": "dev"})  # labels given at creation win over the flow's
        await asyncio.sleep(0.2)
        assert executions(runtime, "b") == []
        a = await run(runtime, "a")
        (b,) = await ended(runtime, "b")
    assert b.trigger["executionId"] == a.id and b.trigger["outputs"] == {"result": "hello"}


async def test_scheduler_without_loop_only_hears_ended_executions(runtime: Runtime, clock: Any) -> None:
    runtime.deploy_flow(upstream("a", fail=True))
    runtime.deploy_flow(downstream("b", ON_A_FAILED, inputs=INPUTS))
    scheduler = Scheduler(runtime, clock=clock, schedules=False)
    await scheduler.start()
    try:
        await run(runtime, "a")
        await ended(runtime, "b")
    finally:
        await scheduler.stop()


async def test_the_scheduler_leaves_webhooks_to_the_server_but_stores_their_disabled_flag(runtime: Runtime, clock: Any) -> None:
    runtime.deploy_flow(f"""\
id: hook
namespace: {NS}
tasks:
  - id: seen
    type: tercel.core.Return
    format: "{{{{ trigger.body }}}}"
triggers:
  - id: webhook
    type: tercel.core.trigger.Webhook
    key: s3cr3t-key
    stopAfter: [FAILED]
""")
    scheduler = Scheduler(runtime, clock=clock)
    assert await scheduler.tick() == []
    assert runtime.db.triggers.list() == []  # no state for a webhook until someone needs one
    with pytest.raises(Exception, match=r"is a tercel\.core\.trigger\.Webhook: the scheduler does not fire it"):
        scheduler.unlock(NS, "hook", "webhook")
    state = scheduler.set_disabled(NS, "hook", "webhook", True)
    assert state.disabled and state.type == "tercel.core.trigger.Webhook"
    assert runtime.db.triggers.get(NS, "hook", "webhook").disabled
    scheduler.set_disabled(NS, "hook", "webhook", False)
    # stopAfter of a webhook: the execution it started ends FAILED (as the server would create it)
    flow = runtime.get_flow(NS, "hook")
    ex = runtime.create_execution(flow, {}, trigger={"id": "webhook", "type": "tercel.core.trigger.Webhook", "body": None})
    ex.state.to(State.FAILED, clock.now)
    scheduler.refresh()
    scheduler.on_execution_end(ex)
    assert runtime.db.triggers.get(NS, "hook", "webhook").disabled


async def test_a_burst_of_upstream_executions_fires_once_each(runtime: Runtime, clock: Any) -> None:
    runtime.deploy_flow(upstream("a", fail=True))
    runtime.deploy_flow(downstream("b", ON_A_FAILED, inputs=INPUTS))
    async with Scheduler(runtime, clock=clock):
        flow = runtime.get_flow(NS, "a")
        created = [runtime.create_execution(flow, {}) for _ in range(8)]
        for ex in created:
            await runtime.wait(ex.id, timeout=30)
        done = await ended(runtime, "b", 8)
    assert sorted(e.trigger["executionId"] for e in done) == sorted(e.id for e in created)


async def test_two_schedulers_on_one_runtime_start_the_flow_once(runtime: Runtime, clock: Any) -> None:
    runtime.deploy_flow(upstream("a", fail=True))
    runtime.deploy_flow(downstream("b", ON_A_FAILED, inputs=INPUTS))
    async with Scheduler(runtime, clock=clock), Scheduler(runtime, clock=clock, schedules=False):
        await run(runtime, "a")
        await ended(runtime, "b")
        await asyncio.sleep(0.2)
    assert len(executions(runtime, "b")) == 1


async def test_two_processes_share_the_progress_of_preconditions(settings: Settings, plugins: PluginManager, clock: Any) -> None:
    """x ends in one process and y in another (two runtimes on one database): z starts once."""
    async with Runtime(settings, plugins=plugins) as one, Runtime(settings, plugins=plugins) as two:
        one.deploy_flow(upstream("x", output="1"))
        one.deploy_flow(upstream("y", output="2"))
        one.deploy_flow(downstream("z", BOTH, inputs=BOTH_INPUTS))
        x, y = await run(one, "x"), await run(one, "y")  # no scheduler runs yet: nobody heard them
        first, second = Scheduler(one, clock=clock, schedules=False), Scheduler(two, clock=clock, schedules=False)
        assert first.on_execution_end(x) == []
        (z,) = second.on_execution_end(y)
        assert second.on_execution_end(y) == []  # reset: y alone again is not enough
        done = await one.wait(z.id, timeout=30)
    assert done.state.current is State.SUCCESS and done.inputs == {"first": "1", "second": "2"}


ON_A = """\
  - id: on_a
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: tests.flowtrigger
        flowId: a
"""


async def test_an_end_heard_by_no_scheduler_is_delivered_when_one_starts(runtime: Runtime, clock: Any) -> None:
    """The end is queued with the execution's state: a scheduler that was not running (a
    crash, a restart) hears it when it starts, and hearing it twice starts one execution."""
    runtime.deploy_flow(upstream("a"))
    runtime.deploy_flow(downstream("b", ON_A))
    async with Scheduler(runtime, clock=clock):
        pass  # it told the runtime which states its Flow triggers listen to, then stopped
    a = await run(runtime, "a")
    await asyncio.sleep(0.2)
    assert executions(runtime, "b") == []  # nobody heard it yet
    async with Scheduler(runtime, clock=clock) as scheduler:
        (b,) = await ended(runtime, "b")
        assert b.task_runs[0].outputs["value"] == f"after a {a.id} SUCCESS"
        # the same end heard again (its job came back after a crash): nothing more starts
        assert scheduler.on_execution_end(a) == []
        assert scheduler.on_execution_end(a, step=len(a.state.histories)) == []
        assert len(executions(runtime, "b")) == 1


async def test_a_flow_trigger_can_listen_to_paused_executions(runtime: Runtime, clock: Any) -> None:
    runtime.deploy_flow(f"""\
id: a
namespace: {NS}
tasks:
  - id: wait_for_me
    type: tercel.core.Pause
  - id: after
    type: tercel.core.Return
    format: resumed
""")
    runtime.deploy_flow(downstream("b", ON_A + "    states: [PAUSED]\n"))
    async with Scheduler(runtime, clock=clock):
        flow = runtime.get_flow(NS, "a")
        assert flow is not None
        a = runtime.create_execution(flow, {})
        (b,) = await ended(runtime, "b")
        assert b.task_runs[0].outputs["value"] == f"after a {a.id} PAUSED"
        runtime.resume_execution(a.id)
        assert (await runtime.wait(a.id, timeout=30)).state.current is State.SUCCESS
        await asyncio.sleep(0.3)
        assert len(executions(runtime, "b")) == 1  # its end is not a state it listens to
