"""Labels, SetVariables, UnsetVariables and Exit: tasks that change their own execution."""

from __future__ import annotations

from tercel_sdk.testing import run_flow


def test_labels_are_added_and_seen_by_later_tasks() -> None:
    result = run_flow(
        "id: l\nnamespace: t\nlabels:\n  team: data\ntasks:\n"
        "  - id: label\n    type: io.kestra.plugin.core.execution.Labels\n    labels:\n      customer: \"{{ flow.namespace }}\"\n      team: platform\n"
        "  - id: list_form\n    type: tercel.core.Labels\n    labels:\n      - key: priority\n        value: high\n"
        "  - id: read\n    type: tercel.core.Return\n    format: \"{{ labels.customer }}/{{ labels.team }}/{{ labels.priority }}\"\n",
    )
    assert result.state == "SUCCESS"
    assert result.execution["labels"] == {"team": "platform", "customer": "t", "priority": "high"}
    assert result.outputs("read")["value"] == "t/platform/high"


def test_system_labels_are_reserved() -> None:
    result = run_flow("id: l\nnamespace: t\ntasks:\n  - id: label\n    type: tercel.core.Labels\n    labels:\n      system.correlationId: x\n")
    assert result.state == "FAILED"
    assert "reserved" in result.task_run("label")["error"]


def test_set_and_unset_variables_keep_types_and_override_flow_variables() -> None:
    result = run_flow(
        "id: v\nnamespace: t\nvariables:\n  name: World\ntasks:\n"
        "  - id: set\n    type: tercel.core.SetVariables\n    variables:\n      name: Tercel\n      count: \"{{ 40 + 2 }}\"\n      when: \"{{ execution.startDate }}\"\n"
        "  - id: read\n    type: tercel.core.Return\n    format: \"{{ vars.name }} {{ vars.count + 1 }} {{ vars.when is defined }}\"\n"
        "  - id: unset\n    type: tercel.core.UnsetVariables\n    variables: [count]\n"
        "  - id: after\n    type: tercel.core.Return\n    format: \"{{ vars.count ?? 'gone' }}\"\n",
    )
    assert result.state == "SUCCESS"
    assert result.outputs("read")["value"] == "Tercel 43 true"
    assert result.outputs("after")["value"] == "gone"


def test_set_variables_without_overwrite_and_unset_of_a_missing_one_fail() -> None:
    result = run_flow(
        "id: v\nnamespace: t\nvariables:\n  name: World\ntasks:\n"
        "  - id: set\n    type: tercel.core.SetVariables\n    overwrite: false\n    variables:\n      name: again\n    allowFailure: true\n"
        "  - id: unset\n    type: tercel.core.UnsetVariables\n    variables: [nope]\n",
    )
    assert result.state == "FAILED"
    assert "already exist" in result.task_run("set")["error"]
    assert "nope" in result.task_run("unset")["error"]
    ok = run_flow("id: v\nnamespace: t\ntasks:\n  - id: unset\n    type: tercel.core.UnsetVariables\n    variables: [nope]\n    ignoreMissing: true\n")
    assert ok.state == "SUCCESS"


def test_exit_warning_ends_the_flow_at_once_without_killing_running_branches() -> None:
    result = run_flow(
        "id: e\nnamespace: t\ntasks:\n"
        "  - id: par\n    type: tercel.core.Parallel\n    tasks:\n"
        "      - id: slow\n        type: tercel.core.Sleep\n        duration: PT0.5S\n"
        "      - id: seq\n        type: tercel.core.Sequential\n        tasks:\n"
        "          - id: stop\n            type: tercel.core.Exit\n            state: WARNING\n"
        "          - id: never\n            type: tercel.core.Log\n            message: x\n"
        "  - id: after\n    type: tercel.core.Log\n    message: never either\n",
    )
    assert result.state == "WARNING"
    states = {t["taskId"]: t["state"]["current"] for t in result.task_runs}
    assert "never" not in states and "after" not in states
    assert states["slow"] in ("CREATED", "RUNNING")  # not killed (only KILLED kills), the execution did not wait
    assert (states["stop"], states["seq"], states["par"]) == ("WARNING", "WARNING", "WARNING")


def test_exit_killed_kills_what_runs() -> None:
    result = run_flow(
        "id: e\nnamespace: t\ntasks:\n"
        "  - id: par\n    type: tercel.core.Parallel\n    tasks:\n"
        "      - id: slow\n        type: tercel.core.Sleep\n        duration: PT30S\n"
        "      - id: stop\n        type: tercel.core.Exit\n        state: KILLED\n",
    )
    assert result.state == "KILLED"
    states = {t["taskId"]: t["state"]["current"] for t in result.task_runs}
    assert states["slow"] == "KILLED"
    assert result.execution["state"]["duration"] < 20


def test_exit_failed_after_success_and_canceled_spelling() -> None:
    failed = run_flow("id: e\nnamespace: t\ntasks:\n  - id: stop\n    type: tercel.core.Exit\n    state: FAILED\n  - id: next\n    type: tercel.core.Log\n    message: x\n")
    assert failed.state == "FAILED" and [t["taskId"] for t in failed.task_runs] == ["stop"]
    cancelled = run_flow("id: e\nnamespace: t\ntasks:\n  - id: stop\n    type: io.kestra.plugin.core.execution.Exit\n    state: CANCELED\n")
    assert cancelled.state == "CANCELLED"
