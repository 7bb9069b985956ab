"""The execution conditions (`ExecutionStatus`, `ExecutionFlow`, `ExecutionNamespace`,
`ExecutionLabels`, `ExecutionOutputs`) and `Expression`/`Not`/`Or` on executions, evaluated with
the real expression engine; then every documented Flow trigger and execution condition example
runs for real: an upstream execution ends, the example's flow starts (or not)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError
from tercel_plugin_core import condition, trigger
from tercel_plugin_core.condition import CONDITION_TYPES
from tercel_sdk import Property
from tercel_sdk.testing import Sandbox, validate

_CONDITIONS = {name: cls for cls in CONDITION_TYPES for name in cls.all_names()}


class Ctx:
    """A condition context as a Flow trigger's: the upstream `execution`, `trigger.*`, …"""

    def __init__(self, variables: Mapping[str, Any]) -> None:
        from tercel.expressions import ExpressionEngine

        self.variables = variables
        self._engine = ExpressionEngine()

    def render(self, value: Any) -> Any:
        if isinstance(value, Property):
            return value.coerce(self._engine.render_value(value.raw, self.variables))
        return self._engine.render_value(value, self.variables)

    def test(self, definition: Mapping[str, Any]) -> bool:
        return check(definition, self.variables)


def check(definition: Mapping[str, Any], variables: Mapping[str, Any]) -> bool:
    cls = _CONDITIONS[definition["type"]]
    return cls.model_validate(dict(definition)).test(Ctx(variables))


def ended(state: str = "SUCCESS", namespace: str = "company.team", flow_id: str = "flow_a", **more: Any) -> dict[str, Any]:
    """The context of a Flow trigger looking at an execution that ended in `state`."""
    execution = {
        "id": "e1", "namespace": namespace, "flowId": flow_id, "flowRevision": 1, "state": state,
        "labels": more.pop("labels", {"env": "prod", "owner": "john.doe"}), "outputs": more.pop("outputs", {}),
    }
    return {
        "execution": execution,
        "labels": execution["labels"],
        "trigger": {"executionId": "e1", "namespace": namespace, "flowId": flow_id, "state": state, "outputs": execution["outputs"]},
        **more,
    }


@pytest.mark.parametrize(
    ("spec", "state", "holds"),
    [
        ({"in": ["FAILED", "KILLED"]}, "FAILED", True),
        ({"in": ["FAILED", "KILLED"]}, "SUCCESS", False),
        ({"notIn": ["SUCCESS"]}, "WARNING", True),
        ({"notIn": ["SUCCESS"]}, "SUCCESS", False),
        ({"in": ["FAILED", "WARNING"], "notIn": ["WARNING"]}, "WARNING", False),
        ({}, "SKIPPED", True),
    ],
)
def test_execution_status(spec: dict[str, Any], state: str, holds: bool) -> None:
    assert check({"type": "io.kestra.plugin.core.condition.ExecutionStatus", **spec}, ended(state)) is holds
    assert check({"type": "io.kestra.core.models.conditions.types.ExecutionStatusCondition", **spec}, ended(state)) is holds


def test_execution_status_refuses_unknown_states() -> None:
    with pytest.raises(ValidationError, match="FINISHED"):
        check({"type": "tercel.core.condition.ExecutionStatus", "in": ["FINISHED"]}, ended())


def test_execution_flow() -> None:
    spec = {"type": "io.kestra.plugin.core.condition.ExecutionFlow", "namespace": "company.team", "flowId": "flow_a"}
    assert check(spec, ended())
    assert not check(spec, ended(flow_id="flow_b"))
    assert not check(spec, ended(namespace="company.team.sub"))
    with pytest.raises(ValidationError, match="flowId"):
        check({"type": "tercel.core.condition.ExecutionFlow", "namespace": "company.team"}, ended())


@pytest.mark.parametrize(
    ("spec", "namespace", "holds"),
    [
        ({"namespace": "company.team"}, "company.team", True),
        ({"namespace": "company"}, "company.team", False),
        ({"namespace": "company", "comparison": "PREFIX"}, "company.team", True),
        ({"namespace": "company", "prefix": True}, "company.team", True),
        ({"namespace": "company", "prefix": True, "comparison": "EQUALS"}, "company.team", False),  # comparison wins
        ({"namespace": ".team", "comparison": "SUFFIX"}, "company.team", True),
        ({"namespace": ".team", "comparison": "SUFFIX"}, "company.teams", False),
    ],
)
def test_execution_namespace(spec: dict[str, Any], namespace: str, holds: bool) -> None:
    assert check({"type": "io.kestra.plugin.core.condition.ExecutionNamespace", **spec}, ended(namespace=namespace)) is holds


def test_execution_labels_as_a_mapping_or_a_list() -> None:
    as_map = {"type": "io.kestra.plugin.core.condition.ExecutionLabels", "labels": {"env": "prod", "owner": "john.doe"}}
    as_list = {"type": "io.kestra.plugin.core.condition.ExecutionLabels", "labels": [{"key": "env", "value": "prod"}]}
    assert check(as_map, ended()) and check(as_list, ended())
    assert not check(as_map, ended(labels={"env": "prod"}))
    assert not check(as_list, ended(labels={"env": "dev"}))
    # values compare as Kestra writes them: `true`, not `True`
    flag = {"type": "tercel.core.condition.ExecutionLabels", "labels": {"critical": True}}
    assert check(flag, ended(labels={"critical": "true"}))
    with pytest.raises(ValidationError, match="system labels cannot be tested"):
        check({"type": "tercel.core.condition.ExecutionLabels", "labels": {"system.correlationId": "x"}}, ended())


def test_execution_outputs() -> None:
    spec = {"type": "io.kestra.plugin.core.condition.ExecutionOutputs", "expression": "{{ trigger.outputs.flow_a_output == 'hello' }}"}
    assert check(spec, ended(outputs={"flow_a_output": "hello"}))
    assert not check(spec, ended(outputs={"flow_a_output": "bye"}))
    assert not check(spec, ended(outputs={}))  # no outputs: never
    blank = {"type": "tercel.core.condition.ExecutionOutputs", "expression": "{{ '' }}"}
    assert not check(blank, ended(outputs={"x": 1}))
    assert check({"type": "tercel.core.condition.ExecutionOutputs", "expression": True}, ended(outputs={"x": 1}))
    with pytest.raises(ValidationError, match="boolean"):
        check({"type": "tercel.core.condition.ExecutionOutputs", "expression": "maybe"}, ended())


def test_expression_not_and_or_on_executions() -> None:
    failed_in_prod = {"type": "io.kestra.plugin.core.condition.Expression", "expression": "{{ execution.state == 'FAILED' and labels.env == 'prod' }}"}
    assert check(failed_in_prod, ended("FAILED")) and not check(failed_in_prod, ended("SUCCESS"))
    not_team = {"type": "io.kestra.plugin.core.condition.Not", "conditions": [
        {"type": "io.kestra.plugin.core.condition.ExecutionNamespace", "namespace": "company.team"},
    ]}
    assert not check(not_team, ended()) and check(not_team, ended(namespace="other"))
    either = {"type": "io.kestra.plugin.core.condition.Or", "conditions": [
        {"type": "io.kestra.plugin.core.condition.ExecutionStatus", "in": ["FAILED"]},
        {"type": "io.kestra.plugin.core.condition.ExecutionFlow", "namespace": "company.team", "flowId": "flow_b"},
    ]}
    assert check(either, ended("FAILED")) and check(either, ended(flow_id="flow_b")) and not check(either, ended())


@pytest.mark.parametrize("cls", [condition.ExecutionStatus, condition.ExecutionFlow, condition.ExecutionNamespace, condition.ExecutionLabels, condition.ExecutionOutputs])
def test_execution_conditions_need_an_execution(cls: type) -> None:
    spec = {
        condition.ExecutionStatus: {},
        condition.ExecutionFlow: {"namespace": "a", "flowId": "b"},
        condition.ExecutionNamespace: {"namespace": "a"},
        condition.ExecutionLabels: {"labels": {"a": "b"}},
        condition.ExecutionOutputs: {"expression": "{{ true }}"},
    }[cls]
    with pytest.raises(ValueError, match="use it on a Flow trigger"):
        check({"type": cls.type_name, **spec}, {"trigger": {"date": "2030-01-07T10:00:00Z"}})  # a schedule's context
    assert not cls.schedule_condition  # a Schedule leaves them out


def test_the_date_conditions_work_on_a_flow_trigger_with_its_date() -> None:
    assert check({"type": "io.kestra.plugin.core.condition.Weekend"}, ended(trigger={"date": "2030-01-12T10:00:00Z"}))


# ------------------------------------------------------------------------------ for real


def _upstream(namespace: str, flow_id: str, *, fail: bool = False, labels: dict[str, str] | None = None, outputs: dict[str, str] | None = None) -> str:
    lines = [f"id: {flow_id}", f"namespace: {namespace}"]
    if labels:
        lines += ["labels:", *(f"  {k}: {v}" for k, v in labels.items())]
    lines += ["tasks:", "  - id: work", "    type: tercel.core.Fail" if fail else "    type: tercel.core.Log\n    message: working"]
    if outputs:
        lines += ["outputs:", *(f"  - id: {k}\n    type: STRING\n    value: \"{v}\"" for k, v in outputs.items())]
    return "\n".join(lines) + "\n"


# (the example's class and index, the upstream flows run in order with whether the example's
# flow starts after each one)
_CASES: list[tuple[type, int, list[tuple[str, bool]]]] = [
    (trigger.Flow, 0, [
        (_upstream("company.team", "extract", fail=True), False),
        (_upstream("company.team", "extract", outputs={"date": "2030-01-05"}), True),
    ]),
    (trigger.Flow, 1, [
        (_upstream("company.team", "loader", fail=True), True),
        (_upstream("other", "loader", fail=True), False),
        (_upstream("company.team", "loader"), False),
    ]),
    (trigger.Flow, 2, [
        (_upstream("company.team", "bronze_orders", outputs={"rows": "12"}), False),
        (_upstream("company.team", "bronze_customers"), True),
        (_upstream("company.team", "bronze_orders"), False),
    ]),
    (trigger.Flow, 3, [
        (_upstream("company.team", "payroll", fail=True, labels={"env": "dev"}), False),
        (_upstream("company.team", "payroll", fail=True, labels={"env": "prod"}), True),
    ]),
    (condition.ExecutionStatus, 0, [
        (_upstream("anywhere", "anything"), False),
        (_upstream("anywhere", "anything", fail=True), True),
    ]),
    (condition.ExecutionFlow, 0, [
        (_upstream("company.team", "flow_b"), False),
        (_upstream("company.team", "flow_a", fail=True), False),
        (_upstream("company.team", "flow_a"), True),
    ]),
    (condition.ExecutionNamespace, 0, [
        (_upstream("company.engineering.web", "deploy", fail=True), True),
        (_upstream("company.marketing", "deploy", fail=True), False),
    ]),
    (condition.ExecutionLabels, 0, [
        (_upstream("company.team", "job", fail=True, labels={"owner": "john.doe"}), False),
        (_upstream("company.team", "job", fail=True, labels={"owner": "john.doe", "env": "prod"}), True),
    ]),
    (condition.ExecutionOutputs, 0, [
        (_upstream("company.team", "flow_a", outputs={"flow_a_output": "bye"}), False),
        (_upstream("company.team", "flow_a", outputs={"flow_a_output": "hello"}), True),
    ]),
]


def test_every_flow_and_execution_condition_example_is_exercised() -> None:
    covered = {(cls, i) for cls, i, _ in _CASES}
    for cls in (trigger.Flow, *(c for c in CONDITION_TYPES if not c.schedule_condition)):
        assert {(cls, i) for i in range(len(cls.type_examples))} <= covered, cls.type_name


@pytest.mark.parametrize(("cls", "index", "runs"), _CASES, ids=[f"{c.__name__}-{i}" for c, i, _ in _CASES])
async def test_the_documented_examples_start_their_flow_for_real(cls: type, index: int, runs: list[tuple[str, bool]]) -> None:
    now = datetime(2030, 1, 7, 6, 0, tzinfo=UTC)  # a Monday, before 9:00 in Paris
    async with Sandbox() as tercel:
        namespace, flow_id = tercel.deploy(cls.type_examples[index].code)
        async with tercel.scheduler(clock=lambda: now):
            started = 0
            for source, starts in runs:
                upstream = await tercel.run(source, timeout=30)
                assert upstream.state in ("SUCCESS", "FAILED")
                found = tercel.executions(namespace=namespace, flow_id=flow_id)
                started += starts
                assert len(found) == started, (upstream.flow_id, found)
            for execution_id in found:
                done = await tercel.wait(execution_id, timeout=30)
                assert done.state == "SUCCESS", done.summary()
                assert done.execution["trigger"]["type"] in trigger.Flow.all_names()


def test_examples_are_valid_under_the_validator() -> None:
    for cls in (trigger.Flow, trigger.Webhook, *CONDITION_TYPES):
        for example in cls.type_examples:
            assert validate(example.code) == [], cls.type_name
            assert "\ntriggers:\n" in example.code
