"""`ctx.executions` (ExecutionsForTask): the namespace rule, logs, kill, resume and purges.

Executions are stored directly with the dates and states a test needs (purges select on them),
or run for real where the engine's side matters (kill, resume). Each test uses namespaces of its
own: the PostgreSQL schema is shared by the module.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tercel.engine import Execution, RunState
from tercel.errors import TercelError
from tercel.flows import load_flow
from tercel.plugins import PluginManager
from tercel.runtime import Runtime, new_id
from tercel.runtime import _executions_access as access_module
from tercel.runtime._codec import encode_header
from tercel.runtime._executions_access import ENDED_STATES, ExecutionsForTask
from tercel.settings import Settings
from tercel.storage import execution_file_uri, input_file_uri
from tercel_sdk import ExecutionsAccess, PurgeResult, State

PLUGINS = PluginManager().discover()
T0 = datetime(2024, 1, 10, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    url = None if request.param == "sqlite" else request.getfixturevalue("pg_module_url")
    return Settings(home=tmp_path / "home", database_url=url)


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    async with Runtime(settings, plugins=PLUGINS) as rt:
        yield rt


@pytest.fixture
def ns() -> str:
    """A root namespace of the test's own (the flows under test live in `<ns>.team`)."""
    return f"acme{uuid.uuid4().hex[:10]}"


def access(runtime: Runtime, namespace: str, current: str = "current-execution") -> ExecutionsForTask:
    return ExecutionsForTask(runtime, namespace, current)


def store(
    runtime: Runtime,
    namespace: str,
    flow_id: str = "flow",
    state: State = State.SUCCESS,
    started: datetime = T0,
    *,
    logs: Iterable[tuple[str, str | None, datetime]] = (),
    files: Iterable[str] = ("out.txt",),
) -> str:
    """Store an execution that started at `started` and is now in `state`, with log entries
    (`level`, `taskId`, timestamp) and files; returns its id."""
    ex = Execution(
        id=new_id(), namespace=namespace, flow_id=flow_id, flow_revision=1, state=RunState.new(State.CREATED, started)
    )
    if state is not State.CREATED:
        ex.state.to(State.RUNNING, started)
        ex.state.to(state, started + timedelta(minutes=5))
    runtime.db.executions.create(encode_header(ex), [])
    runtime.db.logs.append([
        {
            "execution_id": ex.id, "task_run_id": f"run-{task}" if task else None, "task_id": task,
            "attempt": 1 if task else None, "level": level, "timestamp": at, "message": f"{level} of {task}",
        }
        for level, task, at in logs
    ])
    for name in files:
        runtime.storage.put(execution_file_uri(namespace, flow_id, ex.id, "task", "run", name), b"data")
    return ex.id


def exists(runtime: Runtime, execution_id: str) -> bool:
    return runtime.db.executions.get(execution_id) is not None


def file_count(runtime: Runtime, namespace: str, flow_id: str, execution_id: str) -> int:
    from tercel.storage import execution_prefix_uri

    return len(runtime.storage.list(execution_prefix_uri(namespace, flow_id, execution_id)))


def messages(runtime: Runtime, execution_id: str) -> list[str]:
    return [e["message"] for e in runtime.db.logs.find(execution_id)]


async def wait_for_state(runtime: Runtime, execution_id: str, state: State, timeout: float = 20) -> None:
    for _ in range(int(timeout / 0.05)):
        ex = runtime.get_execution(execution_id)
        if ex is not None and ex.state.current is state:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"execution {execution_id} never reached {state}")


# ------------------------------------------------------------------------------ namespace rule


async def test_it_implements_the_sdk_protocol(runtime: Runtime, ns: str) -> None:
    assert isinstance(access(runtime, ns), ExecutionsAccess)


async def test_executions_of_the_namespace_and_its_children_are_reachable(runtime: Runtime, ns: str) -> None:
    own = store(runtime, f"{ns}.team")
    child = store(runtime, f"{ns}.team.sub.deeper", "etl")
    executions = access(runtime, f"{ns}.team")
    assert executions.get(own)["namespace"] == f"{ns}.team"
    assert executions.get(child) == {
        "id": child, "namespace": f"{ns}.team.sub.deeper", "flowId": "etl", "state": "SUCCESS",
        "startDate": "2024-01-10T12:00:00Z", "endDate": "2024-01-10T12:05:00Z",
    }


@pytest.mark.parametrize("other", ["{ns}.other", "{ns}.teamx", "{ns}", "elsewhere"])
async def test_an_execution_of_another_namespace_is_refused_by_every_method(runtime: Runtime, ns: str, other: str) -> None:
    namespace = other.format(ns=ns)
    target = store(runtime, namespace, logs=[("INFO", "t", T0)])
    executions = access(runtime, f"{ns}.team")
    calls = {
        "read": lambda: executions.get(target),
        "read the logs of": lambda: executions.logs(target),
        "kill": lambda: executions.kill(target),
        "resume": lambda: executions.resume(target),
        "purge": lambda: executions.purge(execution_id=target, end=T0 + DAY),
    }
    for action, call in calls.items():
        with pytest.raises(TercelError) as err:
            call()
        assert str(err.value) == (
            f"cannot {action} execution {target!r}: it belongs to namespace {namespace!r}, and a flow of "
            f"'{ns}.team' reaches only its own namespace and its children"
        )
    # nothing happened to it
    assert exists(runtime, target) and messages(runtime, target) == ["INFO of t"]


async def test_an_unknown_or_blank_execution_id_is_refused(runtime: Runtime, ns: str) -> None:
    executions = access(runtime, ns)
    with pytest.raises(TercelError, match="cannot kill execution 'nope': no such execution"):
        executions.kill("nope")
    with pytest.raises(TercelError, match="cannot read the logs of execution 'nope': no such execution"):
        executions.logs("nope")
    with pytest.raises(TercelError, match="cannot resume: an execution id is required, got ''"):
        executions.resume("")


# ------------------------------------------------------------------------------------------ logs


async def test_logs_keep_the_level_and_above_in_kestra_shape(runtime: Runtime, ns: str) -> None:
    target = store(runtime, f"{ns}.team", "etl", logs=[
        ("DEBUG", "a", T0), ("INFO", "a", T0 + timedelta(seconds=1)), ("WARN", "b", T0 + timedelta(seconds=2)),
        ("ERROR", None, T0 + timedelta(seconds=3)), ("TRACE", "b", T0 + timedelta(seconds=4)),
    ])
    executions = access(runtime, f"{ns}.team")
    entries = executions.logs(target)  # INFO by default
    assert [(e["level"], e.get("taskId")) for e in entries] == [("INFO", "a"), ("WARN", "b"), ("ERROR", None)]
    assert entries[0] == {
        "namespace": f"{ns}.team", "flowId": "etl", "executionId": target, "taskId": "a", "taskRunId": "run-a",
        "attemptNumber": 1, "timestamp": T0 + timedelta(seconds=1), "level": "INFO", "message": "INFO of a",
    }
    assert "taskId" not in entries[2] and "taskRunId" not in entries[2]  # the execution's own entry
    assert [e["level"] for e in executions.logs(target, min_level="trace")] == ["DEBUG", "INFO", "WARN", "ERROR", "TRACE"]
    assert [e["level"] for e in executions.logs(target, min_level="WARNING")] == ["WARN", "ERROR"]
    assert [e["level"] for e in executions.logs(target, min_level="ERROR")] == ["ERROR"]
    with pytest.raises(TercelError, match="unknown log level 'LOUD': use one of TRACE, DEBUG, INFO, WARN, ERROR"):
        executions.logs(target, min_level="LOUD")


async def test_logs_of_some_tasks_come_task_after_task(runtime: Runtime, ns: str) -> None:
    target = store(runtime, ns, logs=[
        ("INFO", "a", T0), ("INFO", "b", T0 + timedelta(seconds=1)), ("INFO", "a", T0 + timedelta(seconds=2)),
        ("INFO", "c", T0 + timedelta(seconds=3)),
    ])
    executions = access(runtime, ns)
    assert [e["taskId"] for e in executions.logs(target, task_ids=["b", "a"])] == ["b", "a", "a"]
    assert executions.logs(target, task_ids=["missing"]) == []
    assert len(executions.logs(target, task_ids=[])) == 4  # an empty list filters nothing


# ------------------------------------------------------------------------------------------ kill


async def test_kill_stops_a_running_execution_of_the_namespace(runtime: Runtime, ns: str) -> None:
    flow = runtime.register_flow(load_flow(
        f"id: long\nnamespace: {ns}.team.sub\ntasks:\n  - id: sleep\n    type: tercel.core.Sleep\n    duration: PT60S\n", PLUGINS,
    ))
    ex = runtime.create_execution(flow)
    await wait_for_state(runtime, ex.id, State.RUNNING)
    assert access(runtime, f"{ns}.team").kill(ex.id) is True
    done = await runtime.wait(ex.id, timeout=20)
    assert done.state.current is State.KILLED
    assert done.task_runs[0].state.current is State.KILLED


async def test_killing_an_ended_execution_does_nothing(runtime: Runtime, ns: str) -> None:
    target = store(runtime, ns, state=State.SUCCESS)
    assert access(runtime, ns).kill(target) is False
    await asyncio.sleep(0.2)
    ex = runtime.get_execution(target)
    assert ex is not None and ex.state.current is State.SUCCESS


async def test_kill_hands_the_propagation_choice_to_the_runtime(runtime: Runtime, ns: str, monkeypatch: pytest.MonkeyPatch) -> None:
    target = store(runtime, ns, state=State.RUNNING)
    calls: list[tuple[str, bool]] = []

    def kill(execution_id: str, *, propagate: bool = True) -> None:
        calls.append((execution_id, propagate))

    monkeypatch.setattr(runtime, "kill", kill)
    executions = access(runtime, ns)
    executions.kill(target)
    executions.kill(target, propagate=False)
    assert calls == [(target, True), (target, False)]


# ---------------------------------------------------------------------------------------- resume

PAUSE_FLOW = """
id: approval
namespace: {ns}.team
tasks:
  - id: wait
    type: tercel.core.Pause
    onResume:
      - id: approved
        type: BOOLEAN
      - id: comment
        type: STRING
        defaults: none given
  - id: after
    type: tercel.core.Return
    format: "{{{{ outputs.wait.onResume.approved }}}} / {{{{ outputs.wait.onResume.comment }}}}"
"""


async def test_resume_continues_a_paused_execution_with_its_onresume_inputs(runtime: Runtime, ns: str) -> None:
    flow = runtime.register_flow(load_flow(PAUSE_FLOW.format(ns=ns), PLUGINS))
    ex = runtime.create_execution(flow)
    await wait_for_state(runtime, ex.id, State.PAUSED)
    access(runtime, ns).resume(ex.id, {"approved": "true"})
    done = await runtime.wait(ex.id, timeout=20)
    assert done.state.current is State.SUCCESS, [tr.error for tr in done.task_runs]
    assert done.task_runs[-1].outputs == {"value": "true / none given"}


async def test_resume_refuses_inputs_the_pause_does_not_accept(runtime: Runtime, ns: str) -> None:
    flow = runtime.register_flow(load_flow(PAUSE_FLOW.format(ns=ns), PLUGINS))
    ex = runtime.create_execution(flow)
    await wait_for_state(runtime, ex.id, State.PAUSED)
    with pytest.raises(TercelError, match="approved"):
        access(runtime, ns).resume(ex.id, {"comment": "no answer to the required input"})
    assert runtime.get_execution(ex.id).state.current is State.PAUSED  # type: ignore[union-attr]
    runtime.kill(ex.id)
    await runtime.wait(ex.id, timeout=20)


async def test_resume_of_an_execution_that_is_not_paused_is_refused(runtime: Runtime, ns: str) -> None:
    target = store(runtime, ns, state=State.SUCCESS)
    with pytest.raises(TercelError, match="PAUSED"):
        access(runtime, ns).resume(target)


async def test_resuming_the_current_running_execution_explains_why_not(runtime: Runtime, ns: str) -> None:
    current = store(runtime, ns, state=State.RUNNING)
    with pytest.raises(TercelError) as err:
        access(runtime, ns, current=current).resume(current)
    message = str(err.value)
    assert f"cannot resume the current execution {current!r}: it is RUNNING, not PAUSED" in message
    assert "Pause in another branch" in message and "set `executionId`" in message


# ----------------------------------------------------------------------------------------- purge


async def test_purge_deletes_only_ended_executions_with_their_logs_and_files(runtime: Runtime, ns: str) -> None:
    team = f"{ns}.team"
    log = [("INFO", "t", T0), ("ERROR", "t", T0 + timedelta(seconds=1))]
    ended = {s: store(runtime, team, state=State(s), logs=log) for s in ("SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED")}
    moving = {s: store(runtime, team, state=s, logs=log) for s in (State.RUNNING, State.PAUSED, State.QUEUED, State.CREATED)}
    # an input file lives under the execution too
    runtime.storage.put(input_file_uri(team, "flow", ended["SUCCESS"], "file", "in.csv"), b"a,b")

    result = access(runtime, team).purge(end=T0 + DAY)

    assert result == PurgeResult(executions=5, logs=10, files=6)
    assert not any(exists(runtime, i) for i in ended.values())
    assert all(messages(runtime, i) == [] and file_count(runtime, team, "flow", i) == 0 for i in ended.values())
    for state, execution_id in moving.items():  # skipped, untouched
        assert runtime.get_execution(execution_id).state.current is state  # type: ignore[union-attr]
        assert messages(runtime, execution_id) == ["INFO of t", "ERROR of t"]
        assert file_count(runtime, team, "flow", execution_id) == 1


async def test_purge_selects_on_the_start_date_half_open(runtime: Runtime, ns: str) -> None:
    before = store(runtime, ns, started=T0 - DAY)
    at_start = store(runtime, ns, started=T0)
    inside = store(runtime, ns, started=T0 + DAY)
    at_end = store(runtime, ns, started=T0 + 2 * DAY)
    result = access(runtime, ns).purge(start=T0, end=T0 + 2 * DAY)
    assert result.executions == 2
    assert [exists(runtime, i) for i in (before, at_start, inside, at_end)] == [True, False, False, True]
    # without a start, everything before the end; a naive end is UTC
    assert access(runtime, ns).purge(end=(T0 + 3 * DAY).replace(tzinfo=None)).executions == 2


async def test_purge_filters_on_states(runtime: Runtime, ns: str) -> None:
    ok = store(runtime, ns, state=State.SUCCESS)
    failed = store(runtime, ns, state=State.FAILED)
    cancelled = store(runtime, ns, state=State.CANCELLED)
    result = access(runtime, ns).purge(end=T0 + DAY, states=["failed", "CANCELED"])
    assert result.executions == 2
    assert exists(runtime, ok) and not exists(runtime, failed) and not exists(runtime, cancelled)


@pytest.mark.parametrize(
    ("states", "message"),
    [
        (["SUCCESS", "RUNNING"], "executions in state RUNNING cannot be purged: only ended executions are (SUCCESS"),
        (["PAUSED"], "executions in state PAUSED cannot be purged"),
        (["DONE"], "unknown state 'DONE': use one of SUCCESS"),
        ([], "`states` is empty"),
    ],
)
async def test_purge_refuses_states_that_are_not_ended_ones(runtime: Runtime, ns: str, states: list[str], message: str) -> None:
    target = store(runtime, ns, state=State.SUCCESS)
    with pytest.raises(TercelError, match=re.escape(message)):
        access(runtime, ns).purge(end=T0 + DAY, states=states)
    assert exists(runtime, target)


async def test_purge_scope_is_the_namespace_and_its_children(runtime: Runtime, ns: str) -> None:
    own = store(runtime, f"{ns}.team")
    child = store(runtime, f"{ns}.team.sub")
    sibling = store(runtime, f"{ns}.teamx")
    parent = store(runtime, ns)
    assert access(runtime, f"{ns}.team").purge(end=T0 + DAY).executions == 2
    assert [exists(runtime, i) for i in (own, child, sibling, parent)] == [False, False, True, True]


async def test_purge_of_a_child_namespace_flow_or_execution(runtime: Runtime, ns: str) -> None:
    team = f"{ns}.team"
    own = store(runtime, team, "etl")
    child_etl = store(runtime, f"{team}.sub", "etl")
    child_other = store(runtime, f"{team}.sub", "other")
    grandchild = store(runtime, f"{team}.sub.deep", "etl")
    executions = access(runtime, team)
    # a flow: its namespace exactly
    assert executions.purge(namespace=f"{team}.sub", flow_id="etl", end=T0 + DAY).executions == 1
    assert [exists(runtime, i) for i in (own, child_etl, child_other, grandchild)] == [True, False, True, True]
    # one execution, which must also match the other filters
    assert executions.purge(execution_id=child_other, flow_id="etl", end=T0 + DAY).executions == 0
    assert executions.purge(execution_id=child_other, end=T0 - DAY).executions == 0
    assert executions.purge(execution_id=child_other, namespace=f"{team}.sub", end=T0 + DAY).executions == 1
    assert not exists(runtime, child_other)
    # a child namespace, with its own children
    assert executions.purge(namespace=f"{team}.sub", end=T0 + DAY).executions == 1
    assert [exists(runtime, i) for i in (own, grandchild)] == [True, False]


@pytest.mark.parametrize("namespace", ["{ns}.other", "{ns}", "{ns}.teamx"])
async def test_purge_of_another_namespace_is_refused(runtime: Runtime, ns: str, namespace: str) -> None:
    target = store(runtime, namespace.format(ns=ns))
    with pytest.raises(TercelError) as err:
        access(runtime, f"{ns}.team").purge(namespace=namespace.format(ns=ns), end=T0 + DAY)
    assert str(err.value) == (
        f"namespace '{ns}.team' may not purge executions of namespace {namespace.format(ns=ns)!r}: a flow "
        f"reaches only its own namespace and its children ({ns}.team.*)"
    )
    assert exists(runtime, target)


async def test_purge_of_logs_alone_bounds_the_entries_and_keeps_the_execution(runtime: Runtime, ns: str) -> None:
    entries = [
        ("DEBUG", "a", T0), ("INFO", "a", T0 + timedelta(hours=1)), ("ERROR", "a", T0 + timedelta(hours=2)),
        ("DEBUG", "b", T0 + 2 * DAY), ("INFO", None, T0 + 2 * DAY),
    ]
    old = store(runtime, ns, started=T0 - DAY, logs=entries)  # started before `start`: its later entries count
    running = store(runtime, ns, state=State.RUNNING, logs=entries)
    executions = access(runtime, ns)

    result = executions.purge(start=T0, end=T0 + DAY, executions=False, files=False, log_levels=["DEBUG", "INFO"])

    assert result == PurgeResult(logs=2)
    assert messages(runtime, old) == ["ERROR of a", "DEBUG of b", "INFO of None"]  # order kept
    assert exists(runtime, old) and file_count(runtime, ns, "flow", old) == 1
    assert len(messages(runtime, running)) == 5
    # every level, before the end date only
    assert executions.purge(end=T0 + DAY, executions=False, files=False).logs == 1
    assert messages(runtime, old) == ["DEBUG of b", "INFO of None"]
    # every level given is every level
    assert executions.purge(end=T0 + 3 * DAY, executions=False, files=False, log_levels=list(access_module._LEVELS)).logs == 2


async def test_purge_of_files_alone_keeps_the_execution_and_its_logs(runtime: Runtime, ns: str) -> None:
    target = store(runtime, ns, logs=[("INFO", "a", T0)], files=("a.txt", "b.txt"))
    result = access(runtime, ns).purge(end=T0 + DAY, executions=False, logs=False)
    assert result == PurgeResult(files=2)
    assert exists(runtime, target) and messages(runtime, target) == ["INFO of a"]
    assert file_count(runtime, ns, "flow", target) == 0


async def test_purge_of_executions_keeping_their_files(runtime: Runtime, ns: str) -> None:
    target = store(runtime, ns, logs=[("INFO", "a", T0)])
    assert access(runtime, ns).purge(end=T0 + DAY, files=False) == PurgeResult(executions=1, logs=1)
    assert not exists(runtime, target) and file_count(runtime, ns, "flow", target) == 1
    assert access(runtime, ns).purge(end=T0 + DAY, executions=False, logs=False, files=False) == PurgeResult()


async def test_purge_goes_page_by_page(runtime: Runtime, ns: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access_module, "PAGE_SIZE", 3)
    team = f"{ns}.team"
    ids = [store(runtime, team, started=T0 + timedelta(minutes=i), files=()) for i in range(10)]
    # interleaved with executions out of scope or still moving, which are skipped and stay
    kept = [store(runtime, f"{ns}.other", started=T0 + timedelta(minutes=i, seconds=30), files=()) for i in range(4)]
    kept += [store(runtime, team, state=State.RUNNING, started=T0 + timedelta(minutes=i, seconds=20), files=()) for i in range(4)]
    assert access(runtime, team).purge(end=T0 + DAY, executions=False, logs=False).files == 0
    assert access(runtime, team).purge(end=T0 + DAY).executions == 10
    assert not any(exists(runtime, i) for i in ids) and all(exists(runtime, i) for i in kept)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"end": None}, "a purge needs an end date"),
        ({"start": T0 + DAY, "end": T0 + DAY}, "the start date 2024-01-11T12:00:00+00:00 is not before the end date"),
        ({"end": T0 + DAY, "log_levels": []}, "`logLevels` is empty"),
        ({"end": T0 + DAY, "log_levels": ["INFO", "LOUD"]}, "unknown log level 'LOUD'"),
    ],
)
async def test_purge_refuses_bad_filters(runtime: Runtime, ns: str, kwargs: dict[str, Any], message: str) -> None:
    store(runtime, ns)
    with pytest.raises(TercelError, match=re.escape(message)):
        access(runtime, ns).purge(**kwargs)


async def test_purge_removes_a_real_run_and_leaves_the_running_flow_alone(runtime: Runtime, ns: str) -> None:
    team = f"{ns}.team"
    done_flow = runtime.register_flow(load_flow(
        f"id: done\nnamespace: {team}\ntasks:\n  - id: write\n    type: tercel.core.storage.Write\n    content: hello\n", PLUGINS,
    ))
    done = await runtime.wait(runtime.create_execution(done_flow).id, timeout=20)
    assert done.state.current is State.SUCCESS
    slow_flow = runtime.register_flow(load_flow(
        f"id: slow\nnamespace: {team}\ntasks:\n  - id: sleep\n    type: tercel.core.Sleep\n    duration: PT60S\n", PLUGINS,
    ))
    slow = runtime.create_execution(slow_flow)
    await wait_for_state(runtime, slow.id, State.RUNNING)
    assert runtime.logs(done.id) and file_count(runtime, team, "done", done.id) == 1

    result = access(runtime, team).purge(end=datetime.now(UTC) + DAY)

    assert result.executions == 1 and result.files == 1 and result.logs >= 1
    assert runtime.get_execution(done.id) is None and runtime.logs(done.id) == []
    assert runtime.get_execution(slow.id).state.current is State.RUNNING  # type: ignore[union-attr]
    runtime.kill(slow.id)
    assert (await runtime.wait(slow.id, timeout=20)).state.current is State.KILLED


def test_ended_states_are_the_terminated_ones() -> None:
    assert set(ENDED_STATES) == {s.value for s in State if s.is_terminated}
    assert "RUNNING" not in ENDED_STATES and "PAUSED" not in ENDED_STATES
