"""Echo, Assert and metric.Publish through the real engine."""

from __future__ import annotations

from tercel_plugin_core.debug import Echo
from tercel_plugin_core.execution import Assert
from tercel_plugin_core.metric import Publish
from tercel_sdk.testing import run_flow

TYPES = [Echo, Assert, Publish]


def test_echo_logs_at_its_level_under_kestras_name() -> None:
    result = run_flow(
        "id: e\nnamespace: t\ntasks:\n  - id: e\n    type: io.kestra.plugin.core.debug.Echo\n    level: WARN\n    format: \"hello {{ flow.id }}\"\n",
        types=TYPES,
    )
    assert result.state == "SUCCESS"
    assert result.messages("e", "WARN") == ["hello e"]


def test_assert_passes_and_counts() -> None:
    result = run_flow(
        "id: a\nnamespace: t\ninputs:\n  - id: p\n    type: STRING\ntasks:\n  - id: check\n    type: tercel.core.Assert\n"
        "    conditions:\n      - \"{{ inputs.p == 'ok' }}\"\n      - \"{{ 1 + 1 == 2 }}\"\n",
        {"p": "ok"},
        types=TYPES,
    )
    assert result.state == "SUCCESS"
    metrics = {m["name"]: m["value"] for m in result.task_run("check")["attempts"][0]["metrics"]}
    assert metrics == {"success": 2.0, "failed": 0.0}


def test_assert_reports_every_false_condition_then_fails() -> None:
    result = run_flow(
        "id: a\nnamespace: t\ntasks:\n  - id: check\n    type: tercel.core.Assert\n"
        "    conditions:\n      - \"{{ 1 == 2 }}\"\n      - \"{{ true }}\"\n      - \"{{ '' }}\"\n    errorMessage: \"numbers are off\"\n",
        types=TYPES,
    )
    assert result.state == "FAILED"
    run = result.task_run("check")
    assert run["error"] == "2 of 3 assertions failed: numbers are off"
    errors = result.messages("check", "ERROR")
    assert any("assertion 1 failed" in m for m in errors) and any("assertion 3 failed" in m for m in errors)


def test_publish_records_counters_timers_and_gauges_with_tags() -> None:
    result = run_flow(
        "id: m\nnamespace: t\ntasks:\n  - id: metric\n    type: io.kestra.plugin.core.metric.Publish\n    metrics:\n"
        "      - type: timer\n        name: duration\n        value: PT10M\n        tags:\n          flow: \"{{ flow.id }}\"\n"
        "      - type: counter\n        name: number\n        value: \"{{ 40 + 2 }}\"\n"
        "      - type: gauge\n        name: level\n        value: 0.5\n",
        types=TYPES,
    )
    assert result.state == "SUCCESS"
    metrics = result.task_run("metric")["attempts"][0]["metrics"]
    assert [(m["name"], m["type"], m["value"], m["tags"]) for m in metrics] == [
        ("duration", "timer", 600.0, {"flow": "m"}),
        ("number", "counter", 42.0, {}),
        ("level", "gauge", 0.5, {}),
    ]


def test_publish_refuses_a_value_that_is_not_a_number() -> None:
    result = run_flow(
        "id: m\nnamespace: t\ntasks:\n  - id: metric\n    type: tercel.core.metric.Publish\n    metrics:\n"
        "      - type: counter\n        name: rows\n        value: \"many\"\n",
        types=TYPES,
    )
    assert result.state == "FAILED"
    assert "metrics[0] (rows)" in result.task_run("metric")["error"]
