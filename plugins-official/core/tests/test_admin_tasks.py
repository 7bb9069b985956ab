"""Kill, Resume and PurgeExecutions: tasks acting on executions, through the real runtime.

Most tests need several executions in one backend (the one acted on and the one acting): they
use a `tercel_sdk.testing.Sandbox`; a flow acting on itself uses `run_flow`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tercel_plugin_core.execution import Kill, PurgeExecutions, Resume
from tercel_sdk.testing import FlowResult, Sandbox, run_flow, validate

TYPES = [Kill, Resume, PurgeExecutions]


@pytest.fixture
async def tercel() -> AsyncIterator[Sandbox]:
    async with Sandbox(types=TYPES) as sandbox:
        yield sandbox


def task_run(result: FlowResult, task_id: str) -> dict[str, Any]:
    (tr,) = [t for t in result.task_runs if t["taskId"] == task_id]
    return tr


def error(result: FlowResult, task_id: str) -> str:
    tr = task_run(result, task_id)
    assert tr["state"]["current"] == "FAILED", (tr["state"]["current"], tr.get("error"))
    return str(tr["error"])


def state(tercel: Sandbox, execution_id: str) -> str | None:
    now = tercel.execution(execution_id)
    return None if now is None else now.state


async def started_subflow(tercel: Sandbox, parent_id: str) -> str:
    """The id of the subflow execution the parent's first task started, once it runs."""
    parent = await tercel.until(parent_id, lambda r: any((t.get("outputs") or {}).get("executionId") for t in r.task_runs))
    child_id = next(t["outputs"]["executionId"] for t in parent.task_runs if (t.get("outputs") or {}).get("executionId"))
    await tercel.until(child_id, lambda r: bool(r.task_runs) and r.task_runs[0]["state"]["current"] == "RUNNING")
    return str(child_id)


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


async def test_kill_with_its_own_execution_id_kills_the_current_execution(tercel: Sandbox) -> None:
    ex = await tercel.run(ACTOR + "  - id: kill\n    type: tercel.core.Kill\n    executionId: \"{{ execution.id }}\"\n"
                          "  - id: after\n    type: tercel.core.Log\n    message: never\n", {"target": "-"})
    assert ex.state == "KILLED"
    assert [t["taskId"] for t in ex.task_runs] == ["kill"]


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
async def test_killing_the_current_execution_kills_the_subflows_it_started(tercel: Sandbox, wait: str) -> None:
    tercel.deploy(SLEEPER.format(namespace="company.team"))
    parent = tercel.start(SUBFLOW_THEN_KILL.format(wait=wait))
    child = await started_subflow(tercel, parent)
    assert (await tercel.wait(parent, timeout=20)).state == "KILLED"
    assert (await tercel.wait(child, timeout=20)).state == "KILLED"


async def test_kill_another_running_execution_of_a_child_namespace(tercel: Sandbox) -> None:
    target = tercel.start(SLEEPER.format(namespace="company.team.sub"))
    await tercel.until(target, "RUNNING")
    ex = await tercel.run(ACTOR + "  - id: kill\n    type: tercel.core.Kill\n    executionId: \"{{ inputs.target }}\"\n"
                          "  - id: after\n    type: tercel.core.Return\n    format: still here\n", {"target": target})
    assert ex.state == "SUCCESS", ex.summary()
    assert ex.messages("kill") == [f"Kill requested for execution {target} and the subflow executions it started"]
    killed = await tercel.wait(target, timeout=20)
    assert killed.state == "KILLED" and killed.task_runs[0]["state"]["current"] == "KILLED"


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
async def test_kill_another_execution_kills_its_subflows(tercel: Sandbox, wait: str) -> None:
    tercel.deploy(SLEEPER.format(namespace="company.team"))
    parent = tercel.start(PARENT.format(wait=wait))
    child = await started_subflow(tercel, parent)
    ex = await tercel.run(ACTOR + "  - id: kill\n    type: tercel.core.Kill\n    executionId: \"{{ inputs.target }}\"\n", {"target": parent})
    assert ex.state == "SUCCESS"
    assert (await tercel.wait(parent, timeout=20)).state == "KILLED"
    assert (await tercel.wait(child, timeout=20)).state == "KILLED"


async def test_kill_without_propagation_leaves_the_subflows_running(tercel: Sandbox) -> None:
    tercel.deploy(SLEEPER.format(namespace="company.team"))
    parent = tercel.start(PARENT.format(wait="true"))
    child = await started_subflow(tercel, parent)
    ex = await tercel.run(ACTOR + "  - id: kill\n    type: tercel.core.Kill\n    executionId: \"{{ inputs.target }}\"\n"
                          "    propagateKill: false\n", {"target": parent})
    assert ex.messages("kill") == [f"Kill requested for execution {parent}"]
    assert (await tercel.wait(parent, timeout=20)).state == "KILLED"
    await asyncio.sleep(0.5)
    try:
        assert state(tercel, child) == "RUNNING"
    finally:
        tercel.kill(child)
        await tercel.wait(child, timeout=20)


async def test_killing_an_ended_execution_changes_nothing(tercel: Sandbox) -> None:
    done = await tercel.run("id: quick\nnamespace: company.team\ntasks:\n  - id: ok\n    type: tercel.core.Return\n    format: done\n")
    ex = await tercel.run(ACTOR + "  - id: kill\n    type: tercel.core.Kill\n    executionId: \"{{ inputs.target }}\"\n", {"target": done.id})
    assert ex.state == "SUCCESS"
    assert ex.messages("kill") == [f"Execution {done.id} already ended SUCCESS: nothing to kill"]
    assert state(tercel, done.id) == "SUCCESS"


async def test_kill_refuses_an_execution_of_another_namespace(tercel: Sandbox) -> None:
    target = tercel.start(SLEEPER.format(namespace="company.other"))
    await tercel.until(target, "RUNNING")
    ex = await tercel.run(ACTOR + "  - id: kill\n    type: tercel.core.Kill\n    executionId: \"{{ inputs.target }}\"\n", {"target": target})
    assert error(ex, "kill") == (
        f"cannot kill execution {target!r}: it belongs to namespace 'company.other', and a flow of 'company.team' "
        "reaches only its own namespace and its children"
    )
    await asyncio.sleep(0.3)
    assert state(tercel, target) == "RUNNING"
    tercel.kill(target)
    await tercel.wait(target, timeout=20)


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


async def paused(tercel: Sandbox, source: str = APPROVAL) -> str:
    """The id of a new execution of `source`, once it is PAUSED."""
    return (await tercel.until(tercel.start(source), "PAUSED")).id


async def test_resume_a_paused_execution_with_its_onresume_inputs(tercel: Sandbox) -> None:
    target = await paused(tercel)
    ex = await tercel.run(RESUME + "    inputs:\n      approved: \"{{ 1 == 1 }}\"\n      comment: looks good\n", {"target": target})
    assert ex.state == "SUCCESS", ex.summary()
    assert ex.messages("resume") == [f"Resumed execution {target}"]
    done = await tercel.wait(target, timeout=20)
    assert done.state == "SUCCESS"
    assert task_run(done, "after")["outputs"] == {"value": "true / looks good"}
    assert task_run(done, "wait")["outputs"]["resumed"]["by"] == f"execution {ex.id}"


async def test_resume_checks_namespace_and_flow_id_as_kestra_does(tercel: Sandbox) -> None:
    target = await paused(tercel)
    wrong = await tercel.run(RESUME + "    namespace: company.team.sub\n    flowId: other\n    inputs:\n      approved: true\n", {"target": target})
    assert error(wrong, "resume") == (
        f"execution {target} is not an execution of flow company.team.sub.other: it belongs to company.team.sub.approval"
    )
    half = await tercel.run(RESUME + "    flowId: approval\n", {"target": target})
    assert error(half, "resume") == "`namespace` and `flowId` go together: with `executionId`, set both of them or neither"
    assert state(tercel, target) == "PAUSED"
    right = await tercel.run(RESUME + "    namespace: company.team.sub\n    flowId: approval\n    inputs:\n      approved: false\n", {"target": target})
    assert right.state == "SUCCESS", right.summary()
    assert task_run(await tercel.wait(target, timeout=20), "after")["outputs"] == {"value": "false / no comment"}


async def test_resume_with_inputs_the_pause_refuses_fails_and_keeps_it_paused(tercel: Sandbox) -> None:
    target = await paused(tercel)
    missing = await tercel.run(RESUME, {"target": target})
    assert f"execution {target} cannot resume" in error(missing, "resume") and "approved" in error(missing, "resume")
    typo = await tercel.run(RESUME + "    inputs:\n      aproved: true\n", {"target": target})
    assert "unknown input 'aproved'" in error(typo, "resume")
    assert state(tercel, target) == "PAUSED"
    tercel.kill(target)
    await tercel.wait(target, timeout=20)


async def test_resume_of_an_execution_that_is_not_paused_fails(tercel: Sandbox) -> None:
    done = await tercel.run("id: quick\nnamespace: company.team\ntasks:\n  - id: ok\n    type: tercel.core.Return\n    format: done\n")
    ex = await tercel.run(RESUME, {"target": done.id})
    assert error(ex, "resume") == f"execution {done.id} is SUCCESS, not PAUSED: there is nothing to resume"


async def test_resume_refuses_an_execution_of_another_namespace(tercel: Sandbox) -> None:
    target = await paused(tercel, APPROVAL.replace("company.team.sub", "company.other"))
    ex = await tercel.run(RESUME + "    inputs:\n      approved: true\n", {"target": target})
    assert error(ex, "resume") == (
        f"cannot resume execution {target!r}: it belongs to namespace 'company.other', and a flow of 'company.team' "
        "reaches only its own namespace and its children"
    )
    # with namespace and flowId naming it, still refused
    named = await tercel.run(RESUME + "    namespace: company.other\n    flowId: approval\n", {"target": target})
    assert f"cannot read execution {target!r}: it belongs to namespace 'company.other'" in error(named, "resume")
    assert state(tercel, target) == "PAUSED"
    tercel.kill(target)
    await tercel.wait(target, timeout=20)


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


def files_of(tercel: Sandbox, ex: FlowResult) -> int:
    """How many files of internal storage belong to an execution."""
    return len(tercel.files("tercel:///" + "/".join([*ex.namespace.split("."), ex.flow_id, "executions", ex.id]) + "/"))


async def test_purge_executions_deletes_ended_executions_with_their_logs_and_files(tercel: Sandbox) -> None:
    ok = await tercel.run(WRITER.format(namespace="company.team"))
    failed = await tercel.run(WRITER.format(namespace="company.team.sub"), {"fail": True})
    other = await tercel.run(WRITER.format(namespace="company.other"))
    assert (ok.state, failed.state) == ("SUCCESS", "FAILED")
    sleeping = tercel.start(SLEEPER.format(namespace="company.team"))
    waiting = await paused(tercel)
    await tercel.until(sleeping, "RUNNING")
    assert files_of(tercel, ok) == 1 and tercel.logs(ok.id)

    ex = await tercel.run(PURGE + "  - id: after\n    type: tercel.core.Return\n    format: \"{{ outputs.purge.executionsCount }}\"\n")

    assert ex.state == "SUCCESS", ex.summary()
    outputs = task_run(ex, "purge")["outputs"]
    assert outputs["executionsCount"] == 2 and outputs["storagesCount"] == 2 and outputs["metricsCount"] == 0
    assert outputs["logsCount"] >= 4
    assert task_run(ex, "after")["outputs"] == {"value": "2"}
    for gone in (ok, failed):
        assert tercel.execution(gone.id) is None and tercel.logs(gone.id) == [] and files_of(tercel, gone) == 0
    # another namespace, the running and the paused executions, and the purging one itself, stay
    assert tercel.execution(other.id) is not None and files_of(tercel, other) == 1
    assert state(tercel, sleeping) == "RUNNING"
    assert state(tercel, waiting) == "PAUSED"
    assert tercel.execution(ex.id) is not None
    assert ex.messages("purge")[0].startswith(f"Purged 2 executions, {outputs['logsCount']} log entries and 2 files")
    tercel.kill(sleeping)
    tercel.kill(waiting)
    await tercel.wait(sleeping, timeout=20)
    await tercel.wait(waiting, timeout=20)


async def test_purge_executions_in_some_states_only(tercel: Sandbox) -> None:
    ok = await tercel.run(WRITER.format(namespace="company.team"))
    failed = await tercel.run(WRITER.format(namespace="company.team"), {"fail": True})
    ex = await tercel.run(PURGE + "    states: [FAILED, KILLED]\n")
    assert task_run(ex, "purge")["outputs"]["executionsCount"] == 1
    assert tercel.execution(ok.id) is not None and tercel.execution(failed.id) is None


def test_purge_executions_refuses_states_that_are_not_ended_ones() -> None:
    with pytest.raises(Exception, match=r"tasks\[0\]\.states: property 'states'"):
        run_flow(PURGE + "    states: [FAILED, RUNNING]\n", types=TYPES)


async def test_purge_executions_flags_choose_what_goes(tercel: Sandbox) -> None:
    ok = await tercel.run(WRITER.format(namespace="company.team"))
    logs_before = tercel.logs(ok.id)
    files_only = await tercel.run(PURGE + "    purgeExecution: false\n    purgeLog: false\n    purgeMetric: false\n")
    assert task_run(files_only, "purge")["outputs"] == {"executionsCount": 0, "logsCount": 0, "storagesCount": 1, "metricsCount": 0}
    assert tercel.execution(ok.id) is not None and tercel.logs(ok.id) == logs_before and files_of(tercel, ok) == 0
    expected = len(logs_before) + len(tercel.logs(files_only.id))  # the first purge ended too
    logs_only = await tercel.run(PURGE + "    purgeExecution: false\n    purgeStorage: false\n")
    assert task_run(logs_only, "purge")["outputs"]["logsCount"] == expected
    assert tercel.execution(ok.id) is not None and tercel.logs(ok.id) == []


async def test_purge_executions_of_a_flow_or_an_execution_or_a_date_window(tercel: Sandbox) -> None:
    first = await tercel.run(WRITER.format(namespace="company.team.sub"))
    second = await tercel.run(WRITER.format(namespace="company.team.sub"))
    third = await tercel.run(WRITER.format(namespace="company.team.sub").replace("id: writer", "id: other"))
    past = await tercel.run(PURGE.replace("dateAdd(1, 'DAYS')", "dateAdd(-1, 'DAYS')"))
    assert task_run(past, "purge")["outputs"]["executionsCount"] == 0
    future = await tercel.run(PURGE + "    startDate: \"{{ now() | dateAdd(1, 'HOURS') }}\"\n")
    assert task_run(future, "purge")["outputs"]["executionsCount"] == 0
    one = await tercel.run(PURGE + "    executionId: " + first.id + "\n")
    assert task_run(one, "purge")["outputs"]["executionsCount"] == 1, one.summary()
    assert tercel.execution(first.id) is None and tercel.execution(second.id) is not None
    flow = await tercel.run(PURGE + "    namespace: company.team.sub\n    flowId: other\n")
    assert task_run(flow, "purge")["outputs"]["executionsCount"] == 1
    assert tercel.execution(third.id) is None and tercel.execution(second.id) is not None


async def test_purge_executions_refuses_another_namespace(tercel: Sandbox) -> None:
    other = await tercel.run(WRITER.format(namespace="company.other"))
    ex = await tercel.run(PURGE + "    namespace: company.other\n")
    assert error(ex, "purge") == (
        "namespace 'company.team' may not purge executions of namespace 'company.other': a flow reaches only its own "
        "namespace and its children (company.team.*)"
    )
    mine = await tercel.run(PURGE + "    executionId: " + other.id + "\n")
    assert f"cannot purge execution {other.id!r}: it belongs to namespace 'company.other'" in error(mine, "purge")
    assert tercel.execution(other.id) is not None


async def test_the_kestra_alias_of_older_versions_works(tercel: Sandbox) -> None:
    ok = await tercel.run(WRITER.format(namespace="company.team"))
    ex = await tercel.run(PURGE.replace("tercel.core.PurgeExecutions", "io.kestra.plugin.core.storage.Purge"))
    assert ex.state == "SUCCESS" and tercel.execution(ok.id) is None


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
    assert validate(example.code, types=TYPES) == []
    assert any(f"type: {name}\n" in example.code for name in cls.all_names())  # type: ignore[attr-defined]
