"""A flow's triggers are validated when it is saved: their properties against their type's
schema, and their `conditions` (nested ones too) as condition types with valid properties.
Every problem at once, each with its line and column."""

from __future__ import annotations

import pytest
from tercel.errors import Position
from tercel.expressions import ExpressionEngine
from tercel.flows import FlowValidationError, load_flow
from tercel.plugins import PluginManager

PLUGINS = PluginManager().discover()
CHECK = ExpressionEngine().check
HEAD = "id: f\nnamespace: company.team\ntasks:\n  - id: x\n    type: tercel.core.Log\n    message: hi\ntriggers:\n"


def problems(triggers: str) -> list:
    with pytest.raises(FlowValidationError) as info:
        load_flow(HEAD + triggers, PLUGINS, name="flow.yaml", check_expression=CHECK)
    return info.value.problems


def one(triggers: str):
    found = problems(triggers)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


def test_an_unknown_condition_type_is_refused_with_its_position_and_a_suggestion() -> None:
    p = one("""\
  - id: daily
    type: tercel.core.trigger.Schedule
    cron: "0 9 * * *"
    conditions:
      - type: io.kestra.plugin.core.condition.DayWek
        dayOfWeek: MONDAY
""")
    assert p.message == "unknown condition type 'io.kestra.plugin.core.condition.DayWek'"
    assert p.position == Position(12, 9)
    assert "io.kestra.plugin.core.condition.DayWeek" in (p.hint or "")


def test_a_condition_with_bad_or_missing_properties_is_refused() -> None:
    found = problems("""\
  - id: after
    type: io.kestra.plugin.core.trigger.Flow
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionStatus
        in: [FINISHED]
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: company.team
      - type: io.kestra.plugin.core.condition.ExecutionNamespace
        namespace: company
        comparsion: PREFIX
      - type: io.kestra.plugin.core.condition.TimeBetween
""")
    messages = [p.message for p in found]
    assert len(found) == 4, messages
    assert "FINISHED" in messages[0] and found[0].position is not None and found[0].position.line == 12
    assert messages[1] == "missing required property 'flowId' of tercel.core.condition.ExecutionFlow"
    assert messages[2].startswith("unknown property 'comparsion'") and "comparison" in (found[2].hint or "")
    assert messages[3] == "tercel.core.condition.TimeBetween needs at least one of after, before; got none"


def test_conditions_nested_in_not_and_or_are_checked_too() -> None:
    p = one("""\
  - id: daily
    type: tercel.core.trigger.Schedule
    cron: "0 9 * * *"
    conditions:
      - type: io.kestra.plugin.core.condition.Not
        conditions:
          - type: io.kestra.plugin.core.condition.Or
            conditions:
              - type: io.kestra.plugin.core.condition.DayWeek
                dayOfWeek: FUNDAY
""")
    assert "FUNDAY" in p.message and p.position == Position(17, 17)
    assert p.path == ("triggers", 0, "conditions", 0, "conditions", 0, "conditions", 0, "dayOfWeek")


def test_a_task_type_or_a_condition_without_type_is_not_a_condition() -> None:
    found = problems("""\
  - id: daily
    type: tercel.core.trigger.Schedule
    cron: "0 9 * * *"
    conditions:
      - type: tercel.core.Log
        message: x
      - dayOfWeek: MONDAY
      - just text
""")
    assert [p.message for p in found] == [
        "'tercel.core.Log' is a task, not a condition",
        "condition is missing its 'type'",
        "a condition must be a mapping with a type, got string",
    ]


def test_flow_trigger_definitions_are_checked_where_they_are_wrong() -> None:
    found = problems("""\
  - id: nothing
    type: io.kestra.plugin.core.trigger.Flow
  - id: bad_window
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: p
      timeWindow:
        type: DAILY_TIME_DEADLINE
      flows:
        - flowId: extract
  - id: bad_filter
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: p
      where:
        - id: w
          filters:
            - field: NAMESPACE
              type: STARTS_WITH
""")
    messages = [p.message for p in found]
    assert messages == [
        "tercel.core.trigger.Flow needs at least one of conditions, preconditions; got none",
        "missing required property 'deadline' of tercel.core.trigger.Flow",
        "missing required property 'namespace' of tercel.core.trigger.Flow",
        "missing required property 'value' of tercel.core.trigger.Flow",
    ]
    assert [p.position.line for p in found] == [8, 14, 17, 25]


def test_webhook_definitions_are_checked() -> None:
    found = problems("""\
  - id: no_key
    type: io.kestra.plugin.core.trigger.Webhook
  - id: bad_key
    type: tercel.core.trigger.Webhook
    key: a/b
    wait: maybe
""")
    assert [p.message.split(",")[0] for p in found] == [
        "missing required property 'key' of tercel.core.trigger.Webhook",
        "property 'key' must be a string or an expression ({{ ... }})",
        "property 'wait' must be a boolean",
    ]


def test_valid_triggers_load_and_lock_their_condition_types() -> None:
    flow = load_flow(HEAD + """\
  - id: after
    type: io.kestra.plugin.core.trigger.Flow
    states: [FAILED]
    conditions:
      - type: io.kestra.plugin.core.condition.Not
        conditions:
          - type: io.kestra.plugin.core.condition.ExecutionNamespace
            namespace: company.team
    preconditions:
      id: p
      timeWindow:
        type: SLIDING_WINDOW
        window: PT1H
      flows:
        - namespace: company.team
          flowId: extract
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{ secret('KEY') }}"
""", PLUGINS, check_expression=CHECK)
    assert flow.lock["tercel.core.condition.Not"]["distribution"] == "tercel-plugin-core"
    assert "tercel.core.condition.ExecutionNamespace" in flow.lock
    assert "tercel.core.trigger.Flow" in flow.lock and "tercel.core.trigger.Webhook" in flow.lock
