"""Kill, Resume and PurgeExecutions: tasks acting on executions, through the real runtime.

Most tests need several executions in one backend (the one acted on and the one acting), so
they drive the runtime directly; a flow acting on itself uses `run_flow`.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tercel.engine import Execution
from tercel.flows import load_flow
from tercel.plugins import PluginManager
from tercel.runtime import Runtime
from tercel.settings import Settings
from tercel_plugin_core.execution import Kill, PurgeExecutions, Resume
from tercel_sdk import State, hookimpl
from tercel_sdk.testing import run_flow

TYPES = [Kill, Resume, PurgeExecutions]


def _plugins() -> PluginManager:
    module = types.ModuleType("tercel_test_admin_tasks")

    @hookimpl
    def tercel_task_types() -> list[type]:
        return list(TYPES)

    module.tercel_task_types = tercel_task_types  # type: ignore[attr-defined]
    plugins = PluginManager().discover()
    plugins.add_module(module, distribution="tercel-test-admin-tasks", version="0")
    return plugins


PLUGINS = _plugins()


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with Runtime(Settings(home=tmp_path / "home"), plugins=PLUGINS) as rt:
        yield rt


def start(runtime: Runtime, source: str, inputs: Mapping[str, Any] | None = None) -> Execution:
    return runtime.create_execution(runtime.register_flow(load_flow(source, PLUGINS)), inputs)


async def run(runtime: Runtime, source: str, inputs: Mapping[str, Any] | None = None) -> Execution:
    return await runtime.wait(start(runtime, source, inputs).id, timeout=60)


async def until(runtime: Runtime, execution_id: str, state: State, timeout: float = 20) -> Execution:
    for _ in range(int(timeout / 0.02)):
        ex = runtime.get_execution(execution_id)
        if ex is not None and ex.state.current is state:
            return ex
        await asyncio.sleep(0.02)
    raise AssertionError(f"execution never became {state.value}: {runtime.get_execution(execution_id)}")


def task_run(ex: Execution, task_id: str) -> Any:
    (tr,) = [t for t in ex.task_runs if t.task_id == task_id]
    return tr


def error(ex: Execution, task_id: str) -> str:
    tr = task_run(ex, task_id)
    assert tr.state.current is State.FAILED, (tr.state.current, tr.error)
    return str(tr.error)


def messages(runtime: Runtime, ex: Execution, task_id: str) -> list[str]:
    return [e["message"] for e in runtime.logs(ex.id) if e.get("task_id") == task_id]


SLEEPER = """
id: sleeper
namespace: {namespace}
tasks:
  - id: sleep
    type: tercel.core.Sleep
    duration: PT60S
"""

ACTOR = """
id: actor
namespace: company.team
inputs:
  - id: target
    type: STRING
tasks:
"""


# ------------------------------------------------------------------------------------------ Kill


def test_kill_without_execution_id_kills_the_current_execution() -> None:
    result = run_flow(
        "id: self_kill\nnamespace: company.team\ntasks:\n"
        "  - id: par\n    type: tercel.core.Parallel\n    tasks:\n"
        "      - id: sleep\n        type: tercel.core.Sleep\n        duration: PT30S\n"
        "      - id: kill\n        type: io.kestra.plugin.core.execution.Kill\n"
        "  - id: after\n    type: tercel.core.Log\n    message: never\n",
        types=TYPES,
    )
    assert result.state == "KILLED"
    assert result.task_run("sleep")["state"]["current"] == "KILLED"
    assert result.task_run("kill")["state"]["current"] == "SUCCESS"
    assert [t["taskId"] for t in result.task_runs if t["taskId"] == "after"] == []
    assert f"Killing the current execution {result.id}" in result.messages("kill")


def test_kill_with_run_if_false_lets_the_flow_go_on() -> None:
    (example,) = [e for e in Kill.type_examples if "shouldKill" in e.code]
    assert run_flow(example.code, types=TYPES).state == "SUCCESS"
    assert run_flow(example.code, {"shouldKill": True}, types=TYPES).state == "KILLED"


async def test_kill_with_its_own_execution_id_kills_the_current_execution(runtime: Runtime) -> None:
    ex = await run(runtime, ACTOR + "  - id: kill\n    type: tercel.core.Kill\n    executionId: \"{{ execution.id }}\"\n"
                   "  - id: after\n    type: tercel.core.Log\n    message: never\n", {"target": "-"})
    assert ex.state.current is State.KILLED
    assert [t.task_id for t in ex.task_runs] == ["kill"]


async def started_subflow(runtime: Runtime, parent_id: str) -> str:
    """The id of the subflow execution the parent's first task started, once it runs."""
    for _ in range(1000):
        current = runtime.get_execution(parent_id)
        for tr in current.task_runs if current else ():
            child_id = (tr.outputs or {}).get("executionId")
            child = runtime.get_execution(child_id) if child_id else None
            if child is not None and child.task_runs and child.task_runs[0].state.current is State.RUNNING:
                return str(child_id)
        await asyncio.sleep(0.02)
    raise AssertionError("the subflow never started")


SUBFLOW_THEN_KILL = """
id: parent
namespace: company.team
tasks:
  - id: par
    type: tercel.core.Parallel
    tasks:
      - id: sub
        type: tercel.core.Subflow
        namespace: company.team
        flowId: sleeper
        wait: {wait}
      - id: seq
        type: tercel.core.Sequential
        tasks:
          - id: settle
            type: tercel.core.Sleep
            duration: PT0.5S
          - id: kill
            type: tercel.core.Kill
"""


@pytest.mark.parametrize("wait", ["true", "false"])
async def test_killing_the_current_execution_kills_the_subflows_it_started(runtime: Runtime, wait: str) -> None:
    runtime.register_flow(load_flow(SLEEPER.format(namespace="company.team"), PLUGINS))
    parent = start(runtime, SUBFLOW_THEN_KILL.format(wait=wait))
    child = await started_subflow(runtime, parent.id)
    assert (await runtime.wait(parent.id, timeout=20)).state.current is State.KILLED
    assert (await runtime.wait(child, timeout=20)).state.current is State.KILLED


async def test_kill_another_running_execution_of_a_child_namespace(runtime: Runtime) -> None:
    target = start(runtime, SLEEPER.format(namespace="company.team.sub"))
    await until(runtime, target.id, State.RUNNING)
    ex = await run(runtime, ACTOR + "  - id: kill\n    type: tercel.core.Kill\n    executionId: \"{{ inputs.target }}\"\n"
                   "  - id: after\n    type: tercel.core.Return\n    format: still here\n", {"target": target.id})
    assert ex.state.current is State.SUCCESS, [t.error for t in ex.task_runs]
    assert messages(runtime, ex, "kill") == [f"Kill requested for execution {target.id} and the subflow executions it started"]
    killed = await runtime.wait(target.id, timeout=20)
    assert killed.state.current is State.KILLED and killed.task_runs[0].state.current is State.KILLED


PARENT = """
id: parent
namespace: company.team
tasks:
  - id: sub
    type: tercel.core.Subflow
    namespace: company.team
    flowId: sleeper
    wait: {wait}
  - id: sleep
    type: tercel.core.Sleep
    duration: PT60S
"""


@pytest.mark.parametrize("wait", ["true", "false"])
async def test_kill_another_execution_kills_its_subflows(runtime: Runtime, wait: str) -> None:
    runtime.register_flow(load_flow(SLEEPER.format(namespace="company.team"), PLUGINS))
    parent = start(runtime, PARENT.format(wait=wait))
    child = await started_subflow(runtime, parent.id)
    ex = await run(runtime, ACTOR + "  - id: kill\n    type: tercel.core.Kill\n    executionId: \"{{ inputs.target }}\"\n", {"target": parent.id})
    assert ex.state.current is State.SUCCESS
    assert (await runtime.wait(parent.id, timeout=20)).state.current is State.KILLED
    assert (await runtime.wait(child, timeout=20)).state.current is State.KILLED


async def test_kill_without_propagation_leaves_the_subflows_running(runtime: Runtime) -> None:
    runtime.register_flow(load_flow(SLEEPER.format(namespace="company.team"), PLUGINS))
    parent = start(runtime, PARENT.format(wait="true"))
    child = await started_subflow(runtime, parent.id)
    ex = await run(runtime, ACTOR + "  - id: kill\n    type: tercel.core.Kill\n    executionId: \"{{ inputs.target }}\"\n"
                   "    propagateKill: false\n", {"target": parent.id})
    assert messages(runtime, ex, "kill") == [f"Kill requested for execution {parent.id}"]
    assert (await runtime.wait(parent.id, timeout=20)).state.current is State.KILLED
    await asyncio.sleep(0.5)
    try:
        assert runtime.get_execution(child).state.current is State.RUNNING  # type: ignore[union-attr]
    finally:
        runtime.kill(child)
        await runtime.wait(child, timeout=20)


async def test_killing_an_ended_execution_changes_nothing(runtime: Runtime) -> None:
    done = await run(runtime, "id: quick\nnamespace: company.team\ntasks:\n  - id: ok\n    type: tercel.core.Return\n    format: done\n")
    ex = await run(runtime, ACTOR + "  - id: kill\n    type: tercel.core.Kill\n    executionId: \"{{ inputs.target }}\"\n", {"target": done.id})
    assert ex.state.current is State.SUCCESS
    assert messages(runtime, ex, "kill") == [f"Execution {done.id} already ended SUCCESS: nothing to kill"]
    assert runtime.get_execution(done.id).state.current is State.SUCCESS  # type: ignore[union-attr]


async def test_kill_refuses_an_execution_of_another_namespace(runtime: Runtime) -> None:
    target = start(runtime, SLEEPER.format(namespace="company.other"))
    await until(runtime, target.id, State.RUNNING)
    ex = await run(runtime, ACTOR + "  - id: kill\n    type: tercel.core.Kill\n    executionId: \"{{ inputs.target }}\"\n", {"target": target.id})
    assert error(ex, "kill") == (
        f"cannot kill execution {target.id!r}: it belongs to namespace 'company.other', and a flow of 'company.team' "
        "reaches only its own namespace and its children"
    )
    await asyncio.sleep(0.3)
    assert runtime.get_execution(target.id).state.current is State.RUNNING  # type: ignore[union-attr]
    runtime.kill(target.id)
    await runtime.wait(target.id, timeout=20)


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ("    executionId: nope\n", "cannot kill execution 'nope': no such execution"),
        ("    executionId: \"{{ vars.empty }}\"\n",
         "`executionId` rendered to an empty value ('{{ vars.empty }}'): give a value or leave the property out"),
        ("    executionId: x\n    propagateKill: \"{{ 'maybe' }}\"\n", "property 'propagateKill'"),
    ],
)
def test_kill_failures_say_what_is_wrong(properties: str, message: str) -> None:
    result = run_flow(
        "id: k\nnamespace: company.team\nvariables:\n  empty: \"\"\ntasks:\n  - id: kill\n    type: tercel.core.Kill\n" + properties,
        types=TYPES,
    )
    assert result.state == "FAILED"
    assert message in result.task_run("kill")["error"]


# ---------------------------------------------------------------------------------------- Resume

APPROVAL = """
id: approval
namespace: company.team.sub
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
      - id: comment
        type: STRING
        defaults: no comment
  - id: after
    type: tercel.core.Return
    format: "{{ outputs.wait.onResume.approved }} / {{ outputs.wait.onResume.comment }}"
"""

RESUME = ACTOR + "  - id: resume\n    type: tercel.core.Resume\n    executionId: \"{{ inputs.target }}\"\n"


async def paused(runtime: Runtime, source: str = APPROVAL) -> Execution:
    ex = start(runtime, source)
    return await until(runtime, ex.id, State.PAUSED)


async def test_resume_a_paused_execution_with_its_onresume_inputs(runtime: Runtime) -> None:
    target = await paused(runtime)
    ex = await run(runtime, RESUME + "    inputs:\n      approved: \"{{ 1 == 1 }}\"\n      comment: looks good\n", {"target": target.id})
    assert ex.state.current is State.SUCCESS, [t.error for t in ex.task_runs]
    assert messages(runtime, ex, "resume") == [f"Resumed execution {target.id}"]
    done = await runtime.wait(target.id, timeout=20)
    assert done.state.current is State.SUCCESS
    assert task_run(done, "after").outputs == {"value": "true / looks good"}
    assert task_run(done, "wait").outputs["resumed"]["by"] == f"execution {ex.id}"


async def test_resume_checks_namespace_and_flow_id_as_kestra_does(runtime: Runtime) -> None:
    target = await paused(runtime)
    wrong = await run(runtime, RESUME + "    namespace: company.team.sub\n    flowId: other\n    inputs:\n      approved: true\n", {"target": target.id})
    assert error(wrong, "resume") == (
        f"execution {target.id} is not an execution of flow company.team.sub.other: it belongs to company.team.sub.approval"
    )
    half = await run(runtime, RESUME + "    flowId: approval\n", {"target": target.id})
    assert error(half, "resume") == "`namespace` and `flowId` go together: with `executionId`, set both of them or neither"
    assert runtime.get_execution(target.id).state.current is State.PAUSED  # type: ignore[union-attr]
    right = await run(runtime, RESUME + "    namespace: company.team.sub\n    flowId: approval\n    inputs:\n      approved: false\n", {"target": target.id})
    assert right.state.current is State.SUCCESS, [t.error for t in right.task_runs]
    assert task_run(await runtime.wait(target.id, timeout=20), "after").outputs == {"value": "false / no comment"}


async def test_resume_with_inputs_the_pause_refuses_fails_and_keeps_it_paused(runtime: Runtime) -> None:
    target = await paused(runtime)
    missing = await run(runtime, RESUME, {"target": target.id})
    assert f"execution {target.id} cannot resume" in error(missing, "resume") and "approved" in error(missing, "resume")
    typo = await run(runtime, RESUME + "    inputs:\n      aproved: true\n", {"target": target.id})
    assert "unknown input 'aproved'" in error(typo, "resume")
    assert runtime.get_execution(target.id).state.current is State.PAUSED  # type: ignore[union-attr]
    runtime.kill(target.id)
    await runtime.wait(target.id, timeout=20)


async def test_resume_of_an_execution_that_is_not_paused_fails(runtime: Runtime) -> None:
    done = await run(runtime, "id: quick\nnamespace: company.team\ntasks:\n  - id: ok\n    type: tercel.core.Return\n    format: done\n")
    ex = await run(runtime, RESUME, {"target": done.id})
    assert error(ex, "resume") == f"execution {done.id} is SUCCESS, not PAUSED: there is nothing to resume"


async def test_resume_refuses_an_execution_of_another_namespace(runtime: Runtime) -> None:
    target = await paused(runtime, APPROVAL.replace("company.team.sub", "company.other"))
    ex = await run(runtime, RESUME + "    inputs:\n      approved: true\n", {"target": target.id})
    assert error(ex, "resume") == (
        f"cannot resume execution {target.id!r}: it belongs to namespace 'company.other', and a flow of 'company.team' "
        "reaches only its own namespace and its children"
    )
    # with namespace and flowId naming it, still refused
    named = await run(runtime, RESUME + "    namespace: company.other\n    flowId: approval\n", {"target": target.id})
    assert f"cannot read execution {target.id!r}: it belongs to namespace 'company.other'" in error(named, "resume")
    assert runtime.get_execution(target.id).state.current is State.PAUSED  # type: ignore[union-attr]
    runtime.kill(target.id)
    await runtime.wait(target.id, timeout=20)


def test_resume_of_the_current_running_execution_explains_why_not() -> None:
    result = run_flow("id: r\nnamespace: company.team\ntasks:\n  - id: resume\n    type: io.kestra.plugin.core.execution.Resume\n", types=TYPES)
    assert result.state == "FAILED"
    message = result.task_run("resume")["error"]
    assert message.startswith(f"cannot resume the current execution {result.id!r}: it is RUNNING, not PAUSED (it is running this very task)")
    assert "Pause in another branch (of a Parallel, say)" in message and "set `executionId`" in message


def test_resume_of_the_current_execution_paused_by_another_branch() -> None:
    result = run_flow(
        "id: self_resume\nnamespace: company.team\ntasks:\n"
        "  - id: par\n    type: tercel.core.Parallel\n    tasks:\n"
        "      - id: wait\n        type: tercel.core.Pause\n        onResume:\n          - id: ok\n            type: BOOLEAN\n"
        "      - id: resume\n        type: tercel.core.Resume\n        inputs:\n          ok: true\n"
        "        retry:\n          type: constant\n          interval: PT0.1S\n          maxAttempts: 20\n"
        "  - id: after\n    type: tercel.core.Return\n    format: \"{{ outputs.wait.onResume.ok }}\"\n",
        types=TYPES,
    )
    assert result.state == "SUCCESS", [(t["taskId"], t.get("error")) for t in result.task_runs]
    assert result.outputs("after") == {"value": "true"}


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ("    namespace: company.team\n    flowId: r\n",
         "`namespace` and `flowId` are only used with `executionId`: without it the task acts on the current execution"),
        ("    executionId: nope\n", "cannot resume execution 'nope': no such execution"),
        ("    executionId: nope\n    namespace: company.team\n    flowId: r\n", "cannot read execution 'nope': no such execution"),
        ("    executionId: \"{{ vars.empty }}\"\n", "`executionId` rendered to an empty value"),
    ],
)
def test_resume_failures_say_what_is_wrong(properties: str, message: str) -> None:
    result = run_flow(
        "id: r\nnamespace: company.team\nvariables:\n  empty: \"\"\ntasks:\n  - id: resume\n    type: tercel.core.Resume\n" + properties,
        types=TYPES,
    )
    assert result.state == "FAILED"
    assert message in result.task_run("resume")["error"]


# ------------------------------------------------------------------------------- PurgeExecutions

WRITER = """
id: writer
namespace: {namespace}
inputs:
  - id: fail
    type: BOOLEAN
    defaults: false
tasks:
  - id: write
    type: tercel.core.storage.Write
    content: some data
  - id: log
    type: tercel.core.Log
    message: wrote it
  - id: fail
    type: tercel.core.Fail
    condition: "{{{{ inputs.fail }}}}"
"""

PURGE = """
id: purge
namespace: company.team
tasks:
  - id: purge
    type: tercel.core.PurgeExecutions
    endDate: "{{ now() | dateAdd(1, 'DAYS') }}"
"""


def files_of(runtime: Runtime, ex: Execution) -> int:
    from tercel.storage import execution_prefix_uri

    return len(runtime.storage.list(execution_prefix_uri(ex.namespace, ex.flow_id, ex.id)))


async def test_purge_executions_deletes_ended_executions_with_their_logs_and_files(runtime: Runtime) -> None:
    ok = await run(runtime, WRITER.format(namespace="company.team"))
    failed = await run(runtime, WRITER.format(namespace="company.team.sub"), {"fail": True})
    other = await run(runtime, WRITER.format(namespace="company.other"))
    assert (ok.state.current, failed.state.current) == (State.SUCCESS, State.FAILED)
    sleeping = start(runtime, SLEEPER.format(namespace="company.team"))
    waiting = await paused(runtime)
    await until(runtime, sleeping.id, State.RUNNING)
    assert files_of(runtime, ok) == 1 and runtime.logs(ok.id)

    ex = await run(runtime, PURGE + "  - id: after\n    type: tercel.core.Return\n    format: \"{{ outputs.purge.executionsCount }}\"\n")

    assert ex.state.current is State.SUCCESS, [t.error for t in ex.task_runs]
    outputs = task_run(ex, "purge").outputs
    assert outputs["executionsCount"] == 2 and outputs["storagesCount"] == 2 and outputs["metricsCount"] == 0
    assert outputs["logsCount"] >= 4
    assert task_run(ex, "after").outputs == {"value": "2"}
    for gone in (ok, failed):
        assert runtime.get_execution(gone.id) is None and runtime.logs(gone.id) == [] and files_of(runtime, gone) == 0
    # another namespace, the running and the paused executions, and the purging one itself, stay
    assert runtime.get_execution(other.id) is not None and files_of(runtime, other) == 1
    assert runtime.get_execution(sleeping.id).state.current is State.RUNNING  # type: ignore[union-attr]
    assert runtime.get_execution(waiting.id).state.current is State.PAUSED  # type: ignore[union-attr]
    assert runtime.get_execution(ex.id) is not None
    assert messages(runtime, ex, "purge")[0].startswith(f"Purged 2 executions, {outputs['logsCount']} log entries and 2 files")
    runtime.kill(sleeping.id)
    runtime.kill(waiting.id)
    await runtime.wait(sleeping.id, timeout=20)
    await runtime.wait(waiting.id, timeout=20)


async def test_purge_executions_in_some_states_only(runtime: Runtime) -> None:
    ok = await run(runtime, WRITER.format(namespace="company.team"))
    failed = await run(runtime, WRITER.format(namespace="company.team"), {"fail": True})
    ex = await run(runtime, PURGE + "    states: [FAILED, KILLED]\n")
    assert task_run(ex, "purge").outputs["executionsCount"] == 1
    assert runtime.get_execution(ok.id) is not None and runtime.get_execution(failed.id) is None


def test_purge_executions_refuses_states_that_are_not_ended_ones() -> None:
    with pytest.raises(Exception, match=r"tasks\[0\]\.states: property 'states'"):
        run_flow(PURGE + "    states: [FAILED, RUNNING]\n", types=TYPES)


async def test_purge_executions_flags_choose_what_goes(runtime: Runtime) -> None:
    ok = await run(runtime, WRITER.format(namespace="company.team"))
    logs_before = runtime.logs(ok.id)
    files_only = await run(runtime, PURGE + "    purgeExecution: false\n    purgeLog: false\n    purgeMetric: false\n")
    assert task_run(files_only, "purge").outputs == {"executionsCount": 0, "logsCount": 0, "storagesCount": 1, "metricsCount": 0}
    assert runtime.get_execution(ok.id) is not None and runtime.logs(ok.id) == logs_before and files_of(runtime, ok) == 0
    expected = len(logs_before) + len(runtime.logs(files_only.id))  # the first purge ended too
    logs_only = await run(runtime, PURGE + "    purgeExecution: false\n    purgeStorage: false\n")
    assert task_run(logs_only, "purge").outputs["logsCount"] == expected
    assert runtime.get_execution(ok.id) is not None and runtime.logs(ok.id) == []


async def test_purge_executions_of_a_flow_or_an_execution_or_a_date_window(runtime: Runtime) -> None:
    first = await run(runtime, WRITER.format(namespace="company.team.sub"))
    second = await run(runtime, WRITER.format(namespace="company.team.sub"))
    third = await run(runtime, WRITER.format(namespace="company.team.sub").replace("id: writer", "id: other"))
    past = await run(runtime, PURGE.replace("dateAdd(1, 'DAYS')", "dateAdd(-1, 'DAYS')"))
    assert task_run(past, "purge").outputs["executionsCount"] == 0
    future = await run(runtime, PURGE + "    startDate: \"{{ now() | dateAdd(1, 'HOURS') }}\"\n")
    assert task_run(future, "purge").outputs["executionsCount"] == 0
    one = await run(runtime, PURGE + "    executionId: " + first.id + "\n")
    assert task_run(one, "purge").outputs["executionsCount"] == 1, [t.error for t in one.task_runs]
    assert runtime.get_execution(first.id) is None and runtime.get_execution(second.id) is not None
    flow = await run(runtime, PURGE + "    namespace: company.team.sub\n    flowId: other\n")
    assert task_run(flow, "purge").outputs["executionsCount"] == 1
    assert runtime.get_execution(third.id) is None and runtime.get_execution(second.id) is not None


async def test_purge_executions_refuses_another_namespace(runtime: Runtime) -> None:
    other = await run(runtime, WRITER.format(namespace="company.other"))
    ex = await run(runtime, PURGE + "    namespace: company.other\n")
    assert error(ex, "purge") == (
        "namespace 'company.team' may not purge executions of namespace 'company.other': a flow reaches only its own "
        "namespace and its children (company.team.*)"
    )
    mine = await run(runtime, PURGE + "    executionId: " + other.id + "\n")
    assert f"cannot purge execution {other.id!r}: it belongs to namespace 'company.other'" in error(mine, "purge")
    assert runtime.get_execution(other.id) is not None


async def test_the_kestra_alias_of_older_versions_works(runtime: Runtime) -> None:
    ok = await run(runtime, WRITER.format(namespace="company.team"))
    ex = await run(runtime, PURGE.replace("tercel.core.PurgeExecutions", "io.kestra.plugin.core.storage.Purge"))
    assert ex.state.current is State.SUCCESS and runtime.get_execution(ok.id) is None


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ("    endDate: \"2024-01-01T00:00:00Z\"\n    startDate: \"2024-01-01T00:00:00Z\"\n",
         "`startDate` (2024-01-01T00:00:00+00:00) must be before `endDate` (2024-01-01T00:00:00+00:00)"),
        ("    endDate: \"2024-01-01T00:00:00Z\"\n    states: []\n",
         "`states` is empty: list the states to purge, or leave it out to purge every ended execution"),
        ("    endDate: \"2024-01-01T00:00:00Z\"\n    batchSize: 0\n", "`batchSize` must be at least 1"),
        ("    endDate: \"2024-01-01T00:00:00Z\"\n    flowId: \"{{ vars.empty }}\"\n", "`flowId` rendered to an empty value"),
        ("    endDate: \"{{ 'yesterday' }}\"\n", "property 'endDate': Input should be a valid datetime"),
    ],
)
def test_purge_executions_failures_say_what_is_wrong(properties: str, message: str) -> None:
    result = run_flow(
        "id: p\nnamespace: company.team\nvariables:\n  empty: \"\"\ntasks:\n  - id: purge\n    type: tercel.core.PurgeExecutions\n" + properties,
        types=TYPES,
    )
    assert result.state == "FAILED"
    assert message in result.task_run("purge")["error"]


def test_purge_executions_needs_an_end_date() -> None:
    with pytest.raises(Exception, match="endDate"):
        run_flow("id: p\nnamespace: company.team\ntasks:\n  - id: purge\n    type: tercel.core.PurgeExecutions\n", types=TYPES)


def test_purge_executions_reports_zero_when_nothing_matches() -> None:
    end = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    result = run_flow(f"id: p\nnamespace: company.team\ntasks:\n  - id: purge\n    type: tercel.core.PurgeExecutions\n    endDate: \"{end}\"\n", types=TYPES)
    assert result.state == "SUCCESS"
    assert result.outputs("purge") == {"executionsCount": 0, "logsCount": 0, "storagesCount": 0, "metricsCount": 0}


# -------------------------------------------------------------------------------------- examples


@pytest.mark.parametrize(("cls", "index"), [(c, i) for c in TYPES for i in range(len(c.type_examples))])
def test_examples_load(cls: type, index: int) -> None:
    example = cls.type_examples[index]  # type: ignore[attr-defined]
    assert example.full and example.code.startswith("id: ")
    flow = load_flow(example.code, PLUGINS)
    assert cls.type_name in {node.type for node in flow.tasks.values()}  # type: ignore[attr-defined]
