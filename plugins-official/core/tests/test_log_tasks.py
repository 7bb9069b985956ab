"""The log tasks Fetch and PurgeLogs, through the real runtime.

One execution (`run_flow`) where one is enough; a `tercel_sdk.testing.Sandbox` where a test
needs several executions in one backend (fetching or purging another execution's logs).
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tercel_plugin_core.log import Fetch, PurgeLogs
from tercel_sdk import ion
from tercel_sdk.testing import FlowResult, Sandbox, run_flow, validate

TYPES = [Fetch, PurgeLogs]


@pytest.fixture
async def tercel() -> AsyncIterator[Sandbox]:
    async with Sandbox(types=TYPES) as sandbox:
        yield sandbox


def rows(data: bytes) -> list[dict[str, Any]]:
    return list(ion.read_rows(io.BytesIO(data)))


def fetched(result: FlowResult, task_id: str = "fetch") -> list[dict[str, Any]]:
    out = result.outputs(task_id)
    found = rows(result.read(out["uri"]))
    assert out["size"] == len(found)
    return found


def error(ex: FlowResult, task_id: str) -> str:
    (tr,) = [t for t in ex.task_runs if t["taskId"] == task_id]
    assert tr["state"]["current"] == "FAILED", (tr["state"]["current"], tr.get("error"))
    return str(tr["error"])


LOGS = """\
  - id: debug
    type: tercel.core.Log
    level: DEBUG
    message: a debug line
  - id: hello
    type: tercel.core.Log
    message: [hello, again]
  - id: warn
    type: tercel.core.Log
    level: WARN
    message: careful
  - id: boom
    type: tercel.core.Log
    level: ERROR
    message: boom
"""


# ----------------------------------------------------------------------------------------- Fetch


def test_fetch_writes_the_current_execution_logs_at_info_and_above() -> None:
    result = run_flow(
        "id: fetch_logs\nnamespace: company.team\ntasks:\n" + LOGS + "  - id: fetch\n    type: io.kestra.plugin.core.log.Fetch\n",
        types=TYPES,
    )
    assert result.state == "SUCCESS"
    entries = fetched(result)
    assert [(e["taskId"], e["level"], e["message"]) for e in entries] == [
        ("hello", "INFO", "hello"), ("hello", "INFO", "again"), ("warn", "WARN", "careful"), ("boom", "ERROR", "boom"),
    ]
    first = entries[0]
    assert set(first) == {"namespace", "flowId", "executionId", "taskId", "taskRunId", "attemptNumber", "timestamp", "level", "message"}
    assert (first["namespace"], first["flowId"], first["executionId"]) == ("company.team", "fetch_logs", result.id)
    assert first["taskRunId"] == result.task_run("hello")["id"] and first["attemptNumber"] == 1
    assert isinstance(first["timestamp"], datetime) and first["timestamp"].tzinfo is not None
    uri = result.outputs("fetch")["uri"]
    assert uri.startswith(f"tercel:///company/team/fetch_logs/executions/{result.id}/tasks/fetch/") and uri.endswith("/fetch.ion")


@pytest.mark.parametrize(
    ("level", "expected"),
    [("TRACE", ["debug", "hello", "hello", "warn", "boom"]), ("DEBUG", ["debug", "hello", "hello", "warn", "boom"]),
     ("WARN", ["warn", "boom"]), ("ERROR", ["boom"])],
)
def test_fetch_level_is_the_lowest_level_kept(level: str, expected: list[str]) -> None:
    result = run_flow(
        "id: f\nnamespace: company.team\ntasks:\n" + LOGS + f"  - id: fetch\n    type: tercel.core.log.Fetch\n    level: {level}\n",
        types=TYPES,
    )
    assert [e["taskId"] for e in fetched(result)] == expected


def test_fetch_tasks_id_keeps_those_tasks_task_after_task() -> None:
    result = run_flow(
        "id: f\nnamespace: company.team\ntasks:\n" + LOGS
        + "  - id: fetch\n    type: io.kestra.core.tasks.log.Fetch\n    level: DEBUG\n    tasksId: [boom, debug]\n"
        + "  - id: both\n    type: tercel.core.log.Fetch\n    tasksId: [warn]\n    taskIds: [\"{{ 'hel' ~ 'lo' }}\"]\n"
        + "  - id: none\n    type: tercel.core.log.Fetch\n    tasksId: [nothing_here]\n",
        types=TYPES,
    )
    assert [e["taskId"] for e in fetched(result)] == ["boom", "debug"]
    assert [e["message"] for e in fetched(result, "both")] == ["careful", "hello", "again"]
    assert fetched(result, "none") == [] and result.outputs("none")["size"] == 0
    assert rows(result.read(result.outputs("none")["uri"])) == []


def test_fetch_sees_its_own_execution_logs_written_just_before() -> None:
    result = run_flow(
        "id: f\nnamespace: company.team\ntasks:\n"
        "  - id: par\n    type: tercel.core.Parallel\n    tasks:\n"
        "      - id: one\n        type: tercel.core.Log\n        message: from one\n"
        "      - id: two\n        type: tercel.core.Log\n        message: from two\n"
        "  - id: fetch\n    type: tercel.core.log.Fetch\n    tasksId: [one, two]\n"
        "  - id: count\n    type: tercel.core.Return\n    format: \"{{ outputs.fetch.size }}\"\n",
        types=TYPES,
    )
    assert result.outputs("count") == {"value": "2"}


CHILD = """
id: child
namespace: company.team.etl
tasks:
  - id: extract
    type: tercel.core.Log
    message: extracting
  - id: load
    type: tercel.core.Log
    level: ERROR
    message: load failed
"""

OTHER = """
id: child
namespace: company.other
tasks:
  - id: secret
    type: tercel.core.Log
    message: not for company.team
"""


async def test_fetch_the_logs_of_another_execution_of_a_child_namespace(tercel: Sandbox) -> None:
    child = await tercel.run(CHILD)
    ex = await tercel.run(
        "id: collect\nnamespace: company.team\ninputs:\n  - id: target\n    type: STRING\ntasks:\n"
        "  - id: fetch\n    type: tercel.core.log.Fetch\n    executionId: \"{{ inputs.target }}\"\n    tasksId: [extract]\n"
        "  - id: checked\n    type: tercel.core.log.Fetch\n    namespace: company.team.etl\n    flowId: child\n"
        "    executionId: \"{{ inputs.target }}\"\n    level: ERROR\n",
        {"target": child.id},
    )
    assert ex.state == "SUCCESS", ex.summary()
    by_task = {t["taskId"]: t["outputs"] for t in ex.task_runs}
    first = rows(ex.read(by_task["fetch"]["uri"]))
    assert [(e["executionId"], e["namespace"], e["flowId"], e["message"]) for e in first] == [
        (child.id, "company.team.etl", "child", "extracting")
    ]
    assert [e["message"] for e in rows(ex.read(by_task["checked"]["uri"]))] == ["load failed"]
    # the file belongs to the execution that fetched, not to the one fetched
    assert by_task["fetch"]["uri"].startswith(f"tercel:///company/team/collect/executions/{ex.id}/")


async def test_fetch_refuses_an_execution_of_another_namespace(tercel: Sandbox) -> None:
    other = await tercel.run(OTHER)
    ex = await tercel.run(
        "id: snoop\nnamespace: company.team\ninputs:\n  - id: target\n    type: STRING\ntasks:\n"
        "  - id: fetch\n    type: tercel.core.log.Fetch\n    executionId: \"{{ inputs.target }}\"\n",
        {"target": other.id},
    )
    assert ex.state == "FAILED"
    assert error(ex, "fetch") == (
        f"cannot read the logs of execution {other.id!r}: it belongs to namespace 'company.other', and a flow of "
        "'company.team' reaches only its own namespace and its children"
    )


async def test_fetch_checks_namespace_and_flow_id_against_the_execution(tercel: Sandbox) -> None:
    child = await tercel.run(CHILD)
    task = "  - id: fetch\n    type: tercel.core.log.Fetch\n    executionId: \"{{ inputs.target }}\"\n"
    head = "id: check\nnamespace: company.team\ninputs:\n  - id: target\n    type: STRING\ntasks:\n"
    wrong = await tercel.run(head + task + "    namespace: company.team.etl\n    flowId: other\n", {"target": child.id})
    assert error(wrong, "fetch") == (
        f"execution {child.id} is not an execution of flow company.team.etl.other: it belongs to company.team.etl.child"
    )
    half = await tercel.run(head + task + "    namespace: company.team.etl\n", {"target": child.id})
    assert error(half, "fetch") == "`namespace` and `flowId` go together: with `executionId`, set both of them or neither"


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ("    namespace: company.team\n    flowId: f\n",
         "`namespace` and `flowId` are only used with `executionId`: without it the task acts on the current execution"),
        ("    executionId: doesNotExist\n", "cannot read the logs of execution 'doesNotExist': no such execution"),
        ("    executionId: \"{{ vars.empty }}\"\n",
         "`executionId` rendered to an empty value ('{{ vars.empty }}'): give a value or leave the property out"),
    ],
)
def test_fetch_failures_say_what_is_wrong(properties: str, message: str) -> None:
    result = run_flow(
        "id: f\nnamespace: company.team\nvariables:\n  empty: \"\"\ntasks:\n  - id: fetch\n    type: tercel.core.log.Fetch\n" + properties,
        types=TYPES,
    )
    assert result.state == "FAILED"
    assert result.task_run("fetch")["error"] == message


def test_fetch_level_is_checked_when_the_flow_is_loaded() -> None:
    with pytest.raises(Exception, match="property 'level' must be one of TRACE, DEBUG, INFO, WARN, ERROR"):
        run_flow("id: f\nnamespace: company.team\ntasks:\n  - id: fetch\n    type: tercel.core.log.Fetch\n    level: LOUD\n", types=TYPES)


# ------------------------------------------------------------------------------------- PurgeLogs

PURGE = """
id: purge
namespace: company.team
inputs:
  - id: end
    type: DATETIME
tasks:
  - id: purge
    type: tercel.core.PurgeLogs
    endDate: "{{ inputs.end }}"
"""


def _log_messages(tercel: Sandbox, execution_id: str) -> list[str]:
    return [e["message"] for e in tercel.logs(execution_id) if e.get("task_id")]


async def test_purge_logs_deletes_the_logs_of_ended_executions_of_the_namespace(tercel: Sandbox) -> None:
    child = await tercel.run(CHILD)
    other = await tercel.run(OTHER)
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    ex = await tercel.run(PURGE, {"end": tomorrow.isoformat()})
    assert ex.state == "SUCCESS", ex.summary()
    (purge,) = ex.task_runs
    assert purge["outputs"] is not None and purge["outputs"]["count"] >= 2
    assert tercel.logs(child.id) == []
    assert tercel.execution(child.id) is not None  # the execution stays
    assert _log_messages(tercel, other.id) == ["not for company.team"]  # another namespace: untouched
    assert any(e["message"].startswith("Purged ") for e in tercel.logs(ex.id))


async def test_purge_logs_before_the_end_date_only(tercel: Sandbox) -> None:
    child = await tercel.run(CHILD)
    last_week = datetime.now(UTC) - timedelta(days=7)
    ex = await tercel.run(PURGE, {"end": last_week.isoformat()})
    assert ex.task_runs[0]["outputs"] == {"count": 0}
    assert _log_messages(tercel, child.id) == ["extracting", "load failed"]
    # a start date after the entries: nothing either
    later = await tercel.run(
        "id: window\nnamespace: company.team\ntasks:\n  - id: purge\n    type: tercel.core.PurgeLogs\n"
        "    startDate: \"{{ now() | dateAdd(1, 'HOURS') }}\"\n    endDate: \"{{ now() | dateAdd(2, 'HOURS') }}\"\n",
    )
    assert later.task_runs[0]["outputs"] == {"count": 0}
    assert _log_messages(tercel, child.id) == ["extracting", "load failed"]


async def test_purge_logs_keeps_the_levels_not_listed(tercel: Sandbox) -> None:
    child = await tercel.run(CHILD)
    ex = await tercel.run(
        "id: keep_errors\nnamespace: company.team\ntasks:\n  - id: purge\n    type: io.kestra.plugin.core.log.PurgeLogs\n"
        "    endDate: \"{{ now() | dateAdd(1, 'DAYS') }}\"\n    logLevels: [TRACE, DEBUG, INFO, WARN]\n",
    )
    assert ex.state == "SUCCESS", ex.summary()
    assert [e["level"] for e in tercel.logs(child.id)] == ["ERROR"]  # the child's own "ended" line was INFO
    assert _log_messages(tercel, child.id) == ["load failed"]


async def test_purge_logs_of_one_flow_or_one_execution(tercel: Sandbox) -> None:
    first = await tercel.run(CHILD)
    second = await tercel.run(CHILD)
    sibling = await tercel.run(CHILD.replace("id: child", "id: sibling"))
    head = "id: p\nnamespace: company.team\ninputs:\n  - id: target\n    type: STRING\ntasks:\n  - id: purge\n    type: tercel.core.PurgeLogs\n    endDate: \"{{ now() | dateAdd(1, 'DAYS') }}\"\n"
    one = await tercel.run(head + "    executionId: \"{{ inputs.target }}\"\n", {"target": first.id})
    assert one.state == "SUCCESS", one.summary()
    assert tercel.logs(first.id) == [] and tercel.logs(second.id) and tercel.logs(sibling.id)
    flow = await tercel.run(head + "    namespace: company.team.etl\n    flowId: sibling\n", {"target": "-"})
    assert flow.state == "SUCCESS", flow.summary()
    assert tercel.logs(sibling.id) == [] and tercel.logs(second.id)


async def test_purge_logs_refuses_another_namespace(tercel: Sandbox) -> None:
    other = await tercel.run(OTHER)
    ex = await tercel.run(
        "id: p\nnamespace: company.team\ntasks:\n  - id: purge\n    type: tercel.core.PurgeLogs\n"
        "    namespace: company.other\n    endDate: \"{{ now() | dateAdd(1, 'DAYS') }}\"\n",
    )
    assert error(ex, "purge") == (
        "namespace 'company.team' may not purge executions of namespace 'company.other': a flow reaches only its "
        "own namespace and its children (company.team.*)"
    )
    assert _log_messages(tercel, other.id) == ["not for company.team"]


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ("    startDate: \"2024-02-01T00:00:00Z\"\n    endDate: \"2024-01-01T00:00:00Z\"\n",
         "`startDate` (2024-02-01T00:00:00+00:00) must be before `endDate` (2024-01-01T00:00:00+00:00)"),
        ("    endDate: \"{{ 'not a date' }}\"\n", "property 'endDate': Input should be a valid datetime"),
        ("    endDate: \"2024-01-01T00:00:00Z\"\n    logLevels: []\n",
         "`logLevels` is empty: list the levels to purge, or leave it out to purge every level"),
        ("    endDate: \"2024-01-01T00:00:00Z\"\n    namespace: \"{{ vars.empty }}\"\n", "`namespace` rendered to an empty value"),
    ],
)
def test_purge_logs_failures_say_what_is_wrong(properties: str, message: str) -> None:
    result = run_flow(
        "id: p\nnamespace: company.team\nvariables:\n  empty: \"\"\ntasks:\n  - id: purge\n    type: tercel.core.PurgeLogs\n" + properties,
        types=TYPES,
    )
    assert result.state == "FAILED"
    assert message in result.task_run("purge")["error"]


def test_purge_logs_needs_an_end_date() -> None:
    with pytest.raises(Exception, match="endDate"):
        run_flow("id: p\nnamespace: company.team\ntasks:\n  - id: purge\n    type: tercel.core.PurgeLogs\n", types=TYPES)


def test_a_naive_end_date_is_utc() -> None:
    result = run_flow(
        "id: p\nnamespace: company.team\ntasks:\n  - id: purge\n    type: tercel.core.PurgeLogs\n    endDate: \"2024-01-01T00:00:00\"\n",
        types=TYPES,
    )
    assert result.state == "SUCCESS" and result.outputs("purge") == {"count": 0}
    assert "logged before 2024-01-01T00:00:00+00:00" in " ".join(result.messages("purge"))


# -------------------------------------------------------------------------------------- examples


@pytest.mark.parametrize(("cls", "index"), [(c, i) for c in TYPES for i in range(len(c.type_examples))])
def test_examples_load(cls: type, index: int) -> None:
    example = cls.type_examples[index]  # type: ignore[attr-defined]
    assert example.full and example.code.startswith("id: ")
    assert validate(example.code, types=TYPES) == []
    assert any(f"type: {name}\n" in example.code for name in cls.all_names())  # type: ignore[attr-defined]
