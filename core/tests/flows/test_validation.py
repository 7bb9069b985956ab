"""Flow validation reports every problem at once, each with its line and column."""

from __future__ import annotations

import time

import pytest
from tercel.errors import Position
from tercel.expressions import ExpressionEngine
from tercel.flows import FlowSyntaxError, FlowValidationError, load_flow
from tercel.plugins import PluginManager

PLUGINS = PluginManager().discover()
CHECK = ExpressionEngine().check


def problems(source: str) -> list:
    with pytest.raises((FlowValidationError, FlowSyntaxError)) as info:
        load_flow(source, PLUGINS, name="flow.yaml", check_expression=CHECK)
    return info.value.problems


def one(source: str):
    found = problems(source)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


def test_a_valid_flow_loads_with_its_tasks_indexed_and_types_locked() -> None:
    flow = load_flow(
        "id: f\nnamespace: a.b\ntasks:\n  - id: p\n    type: tercel.core.Parallel\n    tasks:\n      - id: x\n        type: tercel.core.Log\n        message: hi\n",
        PLUGINS,
    )
    assert set(flow.tasks) == {"p", "x"}
    assert flow.tasks["x"].parent_id == "p"
    assert flow.lock["tercel.core.Log"]["distribution"] == "tercel-plugin-core"
    assert flow.source.startswith("id: f")


def test_source_is_kept_verbatim_with_comments() -> None:
    source = "# my flow\nid: f   # the id\nnamespace: a\ntasks:\n  - id: x\n    type: tercel.core.Log\n    message: hi\n"
    assert load_flow(source, PLUGINS).source == source


def test_malformed_yaml_names_line_and_column() -> None:
    p = one("id: f\nnamespace: a\ntasks:\n  - id: x\n    type: [unclosed\n")
    assert p.position is not None and p.position.line >= 5
    assert str(p).startswith("flow.yaml:")


def test_duplicate_keys_are_refused_with_position() -> None:
    p = one("id: f\nnamespace: a\nid: g\ntasks: []\n")
    assert "duplicate" in p.message
    assert p.position == Position(3, 1)


def test_unknown_type_has_a_did_you_mean_and_position() -> None:
    p = one("id: f\nnamespace: a\ntasks:\n  - id: x\n    type: tercel.core.Lgo\n    message: hi\n")
    assert "unknown task type 'tercel.core.Lgo'" in p.message
    assert "tercel.core.Log" in (p.hint or "")
    assert p.position == Position(5, 5)


def test_wrong_property_type_names_property_line_and_expected_type() -> None:
    p = one("id: f\nnamespace: a\ntasks:\n  - id: p\n    type: tercel.core.Parallel\n    concurrent: lots\n    tasks:\n      - id: x\n        type: tercel.core.Log\n        message: hi\n")
    assert p.path == ("tasks", 0, "concurrent")
    assert "integer" in p.message and '"lots"' in p.message
    assert p.position == Position(6, 5)


def test_an_unquoted_expression_is_shown_as_written_with_the_fix() -> None:
    p = one("id: f\nnamespace: a\ntasks:\n  - id: x\n    type: tercel.core.Log\n    message: {{ inputs.x }}\n")
    assert p.path == ("tasks", 0, "message")
    assert 'got mapping {"{inputs.x}": null}' in p.message
    assert "must be quoted in YAML" in p.message and "ordereddict" not in p.message


def test_an_expression_is_accepted_where_a_typed_value_is_expected() -> None:
    flow = load_flow("id: f\nnamespace: a\ntasks:\n  - id: x\n    type: tercel.core.Log\n    level: \"{{ vars.level }}\"\n    message: hi\n", PLUGINS)
    assert flow.tasks["x"].spec["level"] == "{{ vars.level }}"
    # a literal of the wrong kind is still refused
    assert "must be" in one("id: f\nnamespace: a\ntasks:\n  - id: x\n    type: tercel.core.Log\n    level: LOUD\n    message: hi\n").message


def test_missing_required_property() -> None:
    p = one("id: f\nnamespace: a\ntasks:\n  - id: x\n    type: tercel.core.Log\n")
    assert "missing required property 'message'" in p.message
    assert p.position == Position(4, 5)


def test_unknown_property_has_a_did_you_mean() -> None:
    p = one("id: f\nnamespace: a\ntasks:\n  - id: x\n    type: tercel.core.Log\n    mesage: hi\n    message: hi\n")
    assert "unknown property 'mesage'" in p.message and "'message'" in (p.hint or "")
    assert p.position == Position(6, 5)


def test_every_problem_is_reported_at_once() -> None:
    found = problems(
        "id: f\nnamespace: a\nfoo: 1\ninputs:\n  - id: n\n    type: INTEGER\ntasks:\n"
        "  - id: x\n    type: tercel.core.Nope\n"
        "  - id: x\n    type: tercel.core.Log\n"
        "  - id: y\n    type: tercel.core.Log\n    message: \"{{ broken( }}\"\n"
    )
    messages = " | ".join(p.message for p in found)
    assert len(found) >= 5, messages
    assert "unknown flow property 'foo'" in messages
    assert "INTEGER" in messages
    assert "tercel.core.Nope" in messages
    assert "duplicate task id 'x'" in messages
    assert "missing required property 'message'" in messages
    assert "invalid expression" in messages
    assert all(p.position is not None for p in found)


def test_bad_expression_syntax_points_at_the_property() -> None:
    p = one("id: f\nnamespace: a\ntasks:\n  - id: x\n    type: tercel.core.Log\n    message: \"{{ 1 + }}\"\n")
    assert "invalid expression" in p.message and p.position == Position(6, 5)


def test_flow_id_and_namespace_rules() -> None:
    found = problems("id: my flow\nnamespace: \"a b\"\ntasks:\n  - id: x\n    type: tercel.core.Log\n    message: hi\n")
    assert {p.path for p in found} == {("id",), ("namespace",)}


def test_missing_tasks_and_empty_documents() -> None:
    assert "tasks" in one("id: f\nnamespace: a\n").message
    assert "empty" in one("# nothing\n").message


def test_kestra_names_and_old_names_are_accepted() -> None:
    flow = load_flow(
        "id: f\nnamespace: a\ntasks:\n"
        "  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
        "  - id: b\n    type: io.kestra.core.tasks.log.Log\n    message: hi\n"
        "  - id: c\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n      - id: d\n        type: io.kestra.plugin.core.debug.Return\n        format: x\n",
        PLUGINS,
    )
    assert list(flow.lock) == ["tercel.core.Log", "tercel.core.Parallel", "tercel.core.Return"]


def test_plugin_defaults_apply_by_type_and_prefix_and_forced_wins() -> None:
    flow = load_flow(
        "id: f\nnamespace: a\n"
        "pluginDefaults:\n"
        "  - type: tercel.core.Log\n    values:\n      level: WARN\n      message: default message\n"
        "  - type: io.kestra.plugin.core\n    forced: true\n    values:\n      description: forced\n"
        "tasks:\n  - id: x\n    type: tercel.core.Log\n    level: ERROR\n"
        "  - id: y\n    type: io.kestra.plugin.core.log.Log\n",
        PLUGINS,
    )
    assert flow.tasks["x"].spec["level"] == "ERROR"
    assert flow.tasks["x"].spec["message"] == "default message"
    assert flow.tasks["y"].spec["level"] == "WARN"
    assert flow.tasks["y"].spec["description"] == "forced"
    # an alias is the same type: Kestra-named defaults apply to tercel-named tasks too
    assert flow.tasks["x"].spec["description"] == "forced"


def test_problems_inside_nested_flowables_point_at_the_child() -> None:
    p = one("id: f\nnamespace: a\ntasks:\n  - id: s\n    type: tercel.core.Sequential\n    tasks:\n      - id: x\n        type: tercel.core.Log\n        level: LOUD\n        message: hi\n")
    assert p.path == ("tasks", 0, "tasks", 0, "level")
    assert p.position == Position(9, 9)


def test_a_trigger_type_used_as_a_task_and_unknown_triggers() -> None:
    p = one("id: f\nnamespace: a\ntasks:\n  - id: x\n    type: tercel.core.Log\n    message: hi\ntriggers:\n  - id: t\n    type: tercel.core.Shedule\n")
    assert "unknown trigger type" in p.message


def test_yaml_alias_bomb_is_refused_quickly() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    start = time.perf_counter()
    p = one("\n".join(lines) + "\n")
    assert time.perf_counter() - start < 0.5
    assert "alias bomb" in p.message


def test_oversized_and_binary_sources_are_refused() -> None:
    assert "limit" in one("a: " + "x" * (3 * 1024 * 1024)).message
    with pytest.raises(FlowSyntaxError) as info:
        load_flow(b"\xff\xfe\x00", PLUGINS)
    assert "UTF-8" in str(info.value)


def test_labels_in_list_form() -> None:
    flow = load_flow("id: f\nnamespace: a\nlabels:\n  - key: team\n    value: data\ntasks:\n  - id: x\n    type: tercel.core.Log\n    message: hi\n", PLUGINS)
    assert flow.labels == {"team": "data"}


def test_exactly_one_of_rules_declared_in_a_schema_are_reported_readably() -> None:
    found = problems(
        "id: f\nnamespace: a\ntasks:\n"
        "  - id: none\n    type: tercel.core.storage.Split\n    from: \"tercel:///a/x.txt\"\n"
        "  - id: two\n    type: tercel.core.storage.Split\n    from: \"tercel:///a/x.txt\"\n    rows: 10\n    partitions: 2\n"
    )
    assert [str(p).split(": ", 2)[-1] for p in found] == [
        "tercel.core.storage.Split needs exactly one of bytes, partitions, rows, regexPattern; got none",
        "tercel.core.storage.Split needs exactly one of bytes, partitions, rows, regexPattern; got partitions, rows",
    ]
    assert [p.position.line for p in found] == [4, 7]


def test_dag_dependencies_are_checked_at_validation_unknown_ids_and_cycles() -> None:
    found = problems(
        "id: d\nnamespace: t\ntasks:\n  - id: dag\n    type: tercel.core.Dag\n    tasks:\n"
        "      - task: {id: a, type: tercel.core.Log, message: a}\n        dependsOn: [c]\n"
        "      - task: {id: b, type: tercel.core.Log, message: b}\n        dependsOn: [a, nope]\n"
        "      - task: {id: c, type: tercel.core.Log, message: c}\n        dependsOn: [b]\n"
    )
    messages = sorted(p.message for p in found)
    assert messages == [
        "task 'b' depends on unknown task 'nope'",
        "the dependencies form a cycle: a -> c -> b -> a",
    ]
    by_message = {p.message: p for p in found}
    assert by_message["task 'b' depends on unknown task 'nope'"].path == ("tasks", 0, "tasks", 1, "dependsOn", 1)
    assert by_message["task 'b' depends on unknown task 'nope'"].position is not None


def test_a_valid_dag_indexes_its_children() -> None:
    flow = load_flow(
        "id: d\nnamespace: t\ntasks:\n  - id: dag\n    type: tercel.core.Dag\n    tasks:\n"
        "      - task: {id: a, type: tercel.core.Log, message: a}\n"
        "      - task: {id: b, type: tercel.core.Log, message: b}\n        dependsOn: [a]\n",
        PLUGINS,
    )
    assert flow.tasks["b"].parent_id == "dag" and flow.tasks["b"].path == ("tasks", 0, "tasks", 1, "task")


def test_flow_level_retry_is_validated_in_place() -> None:
    p = one("id: f\nnamespace: a\nretry:\n  type: constant\n  maxAttempts: 3\ntasks:\n  - id: x\n    type: tercel.core.Log\n    message: hi\n")
    assert p.path == ("retry", "interval") and "Field required" in p.message
    p = one("id: f\nnamespace: a\nretry:\n  type: sometimes\ntasks:\n  - id: x\n    type: tercel.core.Log\n    message: hi\n")
    assert p.path[0] == "retry" and p.position is not None


def test_concurrency_block_is_validated() -> None:
    found = problems("id: f\nnamespace: a\nconcurrency:\n  limit: 0\n  behavior: DROP\n  max: 2\ntasks:\n  - id: x\n    type: tercel.core.Log\n    message: hi\n")
    assert sorted(p.path for p in found) == [("concurrency", "behavior"), ("concurrency", "limit"), ("concurrency", "max")]
    assert all(p.position is not None for p in found)


def test_sla_entries_are_validated() -> None:
    found = problems(
        "id: f\nnamespace: a\nsla:\n  - id: s\n    type: MAX_DURATION\n    behavior: EXPLODE\n"
        "  - id: s\n    type: EXECUTION_ASSERTION\n  - id: t\n    type: SOMETIMES\n"
        "tasks:\n  - id: x\n    type: tercel.core.Log\n    message: hi\n"
    )
    messages = " | ".join(p.message for p in found)
    for text in ("behavior must be FAIL, CANCEL or NONE", "MAX_DURATION needs a `duration`", "duplicate SLA id 's'", "EXECUTION_ASSERTION needs an `assert`", "SLA type must be"):
        assert text in messages, messages


def _core_version() -> str:
    return PLUGINS.get_type("tercel.core.Log").version


def test_a_version_pin_must_be_met_by_an_installed_version() -> None:
    installed = _core_version()
    pinned = f"id: f\nnamespace: a\ntasks:\n  - id: x\n    type: tercel.core.Log\n    version: \"{installed}\"\n    message: hi\n"
    assert load_flow(pinned, PLUGINS).lock["tercel.core.Log"]["version"] == installed
    load_flow(pinned.replace(f'"{installed}"', "latest"), PLUGINS)
    load_flow(pinned.replace(f'"{installed}"', f'">={installed}"'), PLUGINS)
    p = one(pinned.replace(f'"{installed}"', '"99.0.0"'))
    assert p.path == ("tasks", 0, "version") and p.position == Position(6, 5)
    assert p.message == f"tercel.core.Log (tercel-plugin-core): version 99.0.0 is not installed (installed: {installed})"
    assert "tercel plugins list" in (p.hint or "")
    # a pin in pluginDefaults counts too, and so does a trigger's
    defaults = (
        "id: f\nnamespace: a\npluginDefaults:\n  - type: tercel.core.Log\n    values:\n      version: \"<0.0.1\"\n"
        "tasks:\n  - id: x\n    type: tercel.core.Log\n    message: hi\n"
        "triggers:\n  - id: t\n    type: tercel.core.trigger.Webhook\n    key: k\n    version: nope!\n"
    )
    messages = sorted(p.message for p in problems(defaults))
    assert messages == [
        f"tercel.core.Log (tercel-plugin-core): no installed version matches <0.0.1 (installed: {installed})",
        "tercel.core.trigger.Webhook (tercel-plugin-core): 'nope!' is not a version: write an exact version (1.2.0), "
        "a specifier (~=1.2, >=2,<3), `latest` or `oldest`",
    ]


def test_duration_literals_are_checked_when_the_flow_is_saved() -> None:
    bad = one("id: f\nnamespace: a\ntasks:\n  - id: x\n    type: tercel.core.Log\n    message: hi\n    timeout: 1 minute\n")
    assert bad.path == ("tasks", 0, "timeout") and "not an ISO 8601 duration: '1 minute'" in bad.message
    assert bad.position is not None and bad.position.line == 7
    assert bad.hint is not None and "PT30S" in bad.hint
    fine = "id: f\nnamespace: a\ntasks:\n  - id: x\n    type: tercel.core.Log\n    message: hi\n    timeout: {t}\n"
    load_flow(fine.format(t="PT1M"), PLUGINS, check_expression=CHECK)
    load_flow(fine.format(t='"{{ inputs.limit }}"'), PLUGINS, check_expression=CHECK)  # rendered at run time
