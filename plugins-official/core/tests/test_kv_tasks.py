"""The KV tasks (`tercel.core.kv.*`) and the state store tasks (`tercel.core.state.*`).

Flows run through the real engine (`tercel_sdk.testing.run_flow`); the classes are passed with
`types=` until the plugin registers them. Failing tasks use `allowFailure` so that one flow
checks several failures (the task run ends in WARNING and keeps its error).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from tercel_plugin_core import kv, state
from tercel_plugin_core.kv import convert_kv_value
from tercel_plugin_core.state import merge_state, state_key
from tercel_sdk import Output, RunnableTask, TaskFailed
from tercel_sdk.testing import FlowResult, run_flow

KV_TYPES: list[type[RunnableTask]] = [kv.Set, kv.Get, kv.GetKeys, kv.Delete]
STATE_TYPES: list[type[RunnableTask]] = [state.Set, state.Get, state.Delete]
ALL_TYPES = KV_TYPES + STATE_TYPES


def run(yaml: str, *, home: Path | None = None) -> FlowResult:
    return run_flow(yaml, types=list(ALL_TYPES), home=home)


def current(result: FlowResult, task_id: str, value: Any = None) -> str:
    return result.task_run(task_id, value)["state"]["current"]


def error(result: FlowResult, task_id: str) -> str:
    run_ = result.task_run(task_id)
    text = run_.get("error") or ""
    return text + "\n" + "\n".join(result.messages(task_id))


# ------------------------------------------------------------------------------- Set / Get


def test_set_then_get_keeps_types_and_kv_function_sees_them():
    result = run(
        """
id: kv_types
namespace: tercel.tests.kv

tasks:
  - id: set_when
    type: tercel.core.kv.Set
    key: when
    value: "{{ execution.startDate }}"
  - id: set_number
    type: io.kestra.plugin.core.kv.Set
    key: count
    value: "41"
    kvType: NUMBER
  - id: set_json
    type: tercel.core.kv.Set
    key: doc
    value: '{"regions": ["eu", "us"], "retries": 3}'
    kvType: JSON
  - id: set_map
    type: tercel.core.kv.Set
    key: literal.map
    value:
      a: 1
      b: [true, null]
  - id: set_flag
    type: tercel.core.kv.Set
    key: flag
    value: "TRUE"
    kvType: BOOLEAN
  - id: get_when
    type: io.kestra.plugin.core.kv.Get
    key: when
  - id: get_number
    type: tercel.core.kv.Get
    key: count
  - id: get_json
    type: tercel.core.kv.Get
    key: doc
  - id: get_map
    type: tercel.core.kv.Get
    key: literal.map
  - id: get_flag
    type: tercel.core.kv.Get
    key: flag
  - id: from_function
    type: tercel.core.OutputValues
    values:
      when: "{{ kv('when') }}"
      next: "{{ kv('count') + 1 }}"
      region: "{{ kv('doc').regions[1] }}"
      same: "{{ kv('when') == outputs.get_when.value }}"
"""
    )
    assert result.state == "SUCCESS", result.task_runs
    when = result.outputs("get_when")["value"]
    assert isinstance(when, datetime) and when.tzinfo is not None
    assert result.outputs("get_number")["value"] == 41
    assert result.outputs("get_json")["value"] == {"regions": ["eu", "us"], "retries": 3}
    assert result.outputs("get_map")["value"] == {"a": 1, "b": [True, None]}
    assert result.outputs("get_flag")["value"] is True
    values = result.outputs("from_function")["values"]
    assert values["when"] == when
    assert values["next"] == 42
    assert values["region"] == "us"
    assert values["same"] is True


def test_ttl_expires_the_pair():
    result = run(
        """
id: kv_ttl
namespace: tercel.tests.kv

tasks:
  - id: set
    type: tercel.core.kv.Set
    key: short_lived
    value: here
    ttl: PT0.3S
  - id: set_forever
    type: tercel.core.kv.Set
    key: long_lived
    value: still here
    ttl: P1D
  - id: before
    type: tercel.core.kv.Get
    key: short_lived
  - id: sleep
    type: tercel.core.Sleep
    duration: PT0.4S
  - id: after
    type: tercel.core.kv.Get
    key: short_lived
  - id: keys
    type: tercel.core.kv.GetKeys
  - id: function
    type: tercel.core.OutputValues
    values:
      gone: "{{ kv('short_lived', errorOnMissing=false) }}"
      kept: "{{ kv('long_lived') }}"
  - id: overwrite_expired
    type: tercel.core.kv.Set
    key: short_lived
    value: again
    overwrite: false
"""
    )
    assert result.state == "SUCCESS", result.task_runs
    assert result.outputs("before")["value"] == "here"
    assert result.outputs("after")["value"] is None
    assert result.outputs("keys")["keys"] == ["long_lived"]
    values = result.outputs("function")["values"]
    assert values.get("gone") is None
    assert values["kept"] == "still here"
    assert current(result, "overwrite_expired") == "SUCCESS"  # an expired pair is no pair


def test_overwrite_false_fails_on_an_existing_key_with_a_clear_message():
    result = run(
        """
id: kv_overwrite
namespace: tercel.tests.kv

tasks:
  - id: first
    type: tercel.core.kv.Set
    key: once
    value: 1
    overwrite: false
  - id: second
    type: tercel.core.kv.Set
    key: once
    value: 2
    overwrite: false
    allowFailure: true
  - id: replace
    type: tercel.core.kv.Set
    key: once
    value: 3
  - id: get
    type: tercel.core.kv.Get
    key: once
"""
    )
    assert current(result, "first") == "SUCCESS"
    assert current(result, "second") == "WARNING"
    message = error(result, "second")
    assert "Cannot set value for key 'once' in namespace 'tercel.tests.kv'" in message
    assert "`overwrite` is set to `false`" in message
    assert result.outputs("get")["value"] == 3


def test_error_on_missing_both_ways_for_get_and_delete():
    result = run(
        """
id: kv_missing
namespace: tercel.tests.kv

tasks:
  - id: get_lenient
    type: tercel.core.kv.Get
    key: nothing_here
  - id: get_strict
    type: tercel.core.kv.Get
    key: nothing_here
    errorOnMissing: true
    allowFailure: true
  - id: set_null
    type: tercel.core.kv.Set
    key: explicit_null
    value: null
  - id: get_null_strict
    type: tercel.core.kv.Get
    key: explicit_null
    errorOnMissing: "{{ true }}"
  - id: delete_lenient
    type: tercel.core.kv.Delete
    key: nothing_here
  - id: delete_strict
    type: io.kestra.plugin.core.kv.Delete
    key: nothing_here
    errorOnMissing: true
    allowFailure: true
"""
    )
    assert current(result, "get_lenient") == "SUCCESS"
    assert result.outputs("get_lenient") == {"value": None}
    assert current(result, "get_strict") == "WARNING"
    assert (
        "No value found for key 'nothing_here' in namespace 'tercel.tests.kv' "
        "and `errorOnMissing` is set to true"
    ) in error(result, "get_strict")
    assert current(result, "get_null_strict") == "SUCCESS"  # a stored null is a value
    assert result.outputs("get_null_strict") == {"value": None}
    assert result.outputs("delete_lenient") == {"deleted": False}
    assert current(result, "delete_strict") == "WARNING"
    assert "No value found for key 'nothing_here'" in error(result, "delete_strict")


def test_get_keys_delete_and_another_namespace():
    result = run(
        """
id: kv_keys
namespace: tercel.tests.kv

tasks:
  - id: set_a
    type: tercel.core.kv.Set
    key: my_var_b
    value: b
  - id: set_b
    type: tercel.core.kv.Set
    key: my_var_a
    value: a
  - id: set_c
    type: tercel.core.kv.Set
    key: other
    value: c
  - id: set_elsewhere
    type: tercel.core.kv.Set
    key: my_var_remote
    value: remote
    namespace: "{{ flow.namespace }}.other"
  - id: prefixed
    type: io.kestra.plugin.core.kv.GetKeys
    prefix: my_var
  - id: all
    type: tercel.core.kv.GetKeys
  - id: none
    type: tercel.core.kv.GetKeys
    prefix: zzz
  - id: remote_keys
    type: tercel.core.kv.GetKeys
    namespace: tercel.tests.kv.other
  - id: remote_here
    type: tercel.core.kv.Get
    key: my_var_remote
  - id: remote_there
    type: tercel.core.kv.Get
    key: my_var_remote
    namespace: tercel.tests.kv.other
  - id: remote_function
    type: tercel.core.Return
    format: "{{ kv('my_var_remote', namespace='tercel.tests.kv.other') }}"
  - id: delete
    type: tercel.core.kv.Delete
    key: my_var_a
  - id: delete_again
    type: tercel.core.kv.Delete
    key: my_var_a
  - id: delete_remote
    type: tercel.core.kv.Delete
    key: my_var_remote
    namespace: tercel.tests.kv.other
  - id: after
    type: tercel.core.kv.GetKeys
    prefix: my_var
  - id: get_deleted
    type: tercel.core.kv.Get
    key: my_var_a
  - id: remote_after
    type: tercel.core.kv.GetKeys
    namespace: tercel.tests.kv.other
"""
    )
    assert result.state == "SUCCESS", result.task_runs
    assert result.outputs("prefixed") == {"keys": ["my_var_a", "my_var_b"]}
    assert result.outputs("all") == {"keys": ["my_var_a", "my_var_b", "other"]}
    assert result.outputs("none") == {"keys": []}
    assert result.outputs("remote_keys") == {"keys": ["my_var_remote"]}
    assert result.outputs("remote_here") == {"value": None}
    assert result.outputs("remote_there") == {"value": "remote"}
    assert result.outputs("remote_function") == {"value": "remote"}
    assert result.outputs("delete") == {"deleted": True}
    assert result.outputs("delete_again") == {"deleted": False}
    assert result.outputs("delete_remote") == {"deleted": True}
    assert result.outputs("after") == {"keys": ["my_var_b"]}
    assert result.outputs("get_deleted") == {"value": None}
    assert result.outputs("remote_after") == {"keys": []}


def test_pairs_outlive_the_execution(tmp_path):
    run(
        """
id: writer
namespace: tercel.tests.kv
tasks:
  - id: set
    type: tercel.core.kv.Set
    key: shared
    value: "{{ flow.id }}"
""",
        home=tmp_path,
    )
    result = run(
        """
id: reader
namespace: tercel.tests.kv
tasks:
  - id: get
    type: tercel.core.kv.Get
    key: shared
    errorOnMissing: true
""",
        home=tmp_path,
    )
    assert result.outputs("get") == {"value": "writer"}


# ---------------------------------------------------------------------------------- kvType


def test_kv_type_conversions_and_errors_through_the_engine():
    result = run(
        """
id: kv_kinds
namespace: tercel.tests.kv

tasks:
  - id: datetime
    type: tercel.core.kv.Set
    key: dt
    value: "2024-05-01T10:00:00Z"
    kvType: DATETIME
  - id: date
    type: tercel.core.kv.Set
    key: d
    value: "2024-05-01"
    kvType: DATE
  - id: duration
    type: tercel.core.kv.Set
    key: dur
    value: PT1H30M
    kvType: DURATION
  - id: string
    type: tercel.core.kv.Set
    key: s
    value: 42
    kvType: STRING
  - id: dynamic_type
    type: tercel.core.kv.Set
    key: f
    value: "2.5"
    kvType: "{{ 'NUMBER' }}"
  - id: bad_number
    type: tercel.core.kv.Set
    key: bad
    value: forty-two
    kvType: NUMBER
    allowFailure: true
  - id: bad_json
    type: tercel.core.kv.Set
    key: bad
    value: "{not json"
    kvType: JSON
    allowFailure: true
  - id: bad_type
    type: tercel.core.kv.Set
    key: bad
    value: x
    kvType: "{{ 'UUID' }}"
    allowFailure: true
  - id: bad_key
    type: tercel.core.kv.Set
    key: "not a key!"
    value: x
    allowFailure: true
  - id: bad_namespace
    type: tercel.core.kv.Get
    key: k
    namespace: "{{ 'company team' }}"
    allowFailure: true
  - id: read
    type: tercel.core.OutputValues
    values:
      dt: "{{ kv('dt') }}"
      d: "{{ kv('d') }}"
      dur: "{{ kv('dur') }}"
      s: "{{ kv('s') }}"
      f: "{{ kv('f') }}"
      bad: "{{ kv('bad', errorOnMissing=false) }}"
"""
    )
    values = result.outputs("read")["values"]
    assert values["dt"] == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert values["d"] == date(2024, 5, 1)
    assert values["dur"] == timedelta(hours=1, minutes=30)
    assert values["s"] == "42"
    assert values["f"] == 2.5
    assert values.get("bad") is None
    assert "Cannot set value for key 'bad': kvType NUMBER: cannot convert 'forty-two'" in error(result, "bad_number")
    assert "kvType JSON: cannot convert '{not json'" in error(result, "bad_json")
    assert "UUID" in error(result, "bad_type")
    assert "not a key!" in error(result, "bad_key")
    assert "invalid namespace 'company team'" in error(result, "bad_namespace")
    for task_id in ("bad_number", "bad_json", "bad_type", "bad_key", "bad_namespace"):
        assert current(result, task_id) == "WARNING"


@pytest.mark.parametrize(
    ("kv_type", "value", "expected"),
    [
        ("STRING", "text", "text"),
        ("STRING", 1.5, "1.5"),
        ("STRING", True, "true"),
        ("STRING", {"a": 1}, '{"a":1}'),
        ("STRING", datetime(2024, 5, 1, 10, tzinfo=UTC), "2024-05-01T10:00:00+00:00"),
        ("NUMBER", " 12 ", 12),
        ("NUMBER", "-3", -3),
        ("NUMBER", "1e3", 1000.0),
        ("NUMBER", 7, 7),
        ("NUMBER", Decimal("1.10"), Decimal("1.10")),
        ("BOOLEAN", "false", False),
        ("BOOLEAN", " True ", True),
        ("BOOLEAN", True, True),
        ("DATETIME", "2024-05-01T10:00:00+02:00", datetime(2024, 5, 1, 8, tzinfo=UTC)),
        ("DATETIME", "2024-05-01T10:00:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("DATETIME", date(2024, 5, 1), datetime(2024, 5, 1, tzinfo=UTC)),
        ("DATE", "2024-05-01T23:00:00Z", date(2024, 5, 1)),
        ("DATE", datetime(2024, 5, 1, 3, tzinfo=UTC), date(2024, 5, 1)),
        ("DURATION", "P1D", timedelta(days=1)),
        ("DURATION", timedelta(seconds=5), timedelta(seconds=5)),
        ("JSON", "[1, 2]", [1, 2]),
        ("JSON", "null", None),
        ("JSON", {"a": 1}, {"a": 1}),
    ],
)
def test_convert_kv_value(kv_type, value, expected):
    assert convert_kv_value(value, kv_type) == expected


@pytest.mark.parametrize(
    ("kv_type", "value", "fragment"),
    [
        ("NUMBER", "abc", "to a number"),
        ("NUMBER", True, "a boolean is not a number"),
        ("NUMBER", "nan", "to a number"),
        ("NUMBER", [1], "to a number"),
        ("BOOLEAN", "yes", "expected true or false"),
        ("BOOLEAN", 1, "expected true or false"),
        ("DATETIME", "yesterday", "expected ISO 8601"),
        ("DATETIME", 5, "expected ISO 8601"),
        ("DATE", "01/05/2024", "expected ISO 8601"),
        ("DURATION", "5 minutes", "e.g. PT5M"),
        ("JSON", "{'a': 1}", "to JSON"),
        ("STRING", None, "the value is null"),
        ("UUID", "x", "unknown kvType 'UUID'"),
    ],
)
def test_convert_kv_value_errors(kv_type, value, fragment):
    with pytest.raises(ValueError, match="kvType") as info:
        convert_kv_value(value, kv_type)
    assert fragment in str(info.value)


def test_a_literal_kv_type_is_checked_when_the_flow_is_loaded():
    with pytest.raises(Exception, match="kvType"):
        run(
            """
id: kv_bad_type
namespace: tercel.tests.kv
tasks:
  - id: set
    type: tercel.core.kv.Set
    key: k
    value: v
    kvType: UUID
"""
        )


# ----------------------------------------------------------------------------------- state


def test_state_set_merges_get_reads_delete_removes():
    result = run(
        """
id: state_flow
namespace: tercel.tests.state

inputs:
  - id: store
    type: STRING
    defaults: orders

tasks:
  - id: get_empty
    type: tercel.core.state.Get
  - id: get_empty_strict
    type: tercel.core.state.Get
    errorOnMissing: true
    allowFailure: true
  - id: first
    type: io.kestra.plugin.core.state.Set
    data:
      "{{ inputs.store }}": abc
      nested: {a: 1, b: 1}
      items: [1, 2]
      kept: true
  - id: second
    type: io.kestra.core.tasks.states.Set
    data:
      orders: def
      nested: {b: 2, c: 3}
      items: [2, 3]
      kept: null
      added: "{{ 40 + 2 }}"
  - id: other_name
    type: tercel.core.state.Set
    name: myState
    data:
      only: here
  - id: get
    type: tercel.core.state.Get
  - id: get_kestra
    type: io.kestra.core.tasks.states.Get
    name: myState
  - id: as_kv
    type: tercel.core.kv.GetKeys
    prefix: state_flow_states
  - id: delete
    type: io.kestra.plugin.core.state.Delete
  - id: delete_again
    type: tercel.core.state.Delete
  - id: delete_strict
    type: tercel.core.state.Delete
    errorOnMissing: true
    allowFailure: true
  - id: get_after
    type: tercel.core.state.Get
  - id: my_state_after
    type: tercel.core.state.Get
    name: myState
"""
    )
    assert result.outputs("get_empty") == {"count": 0, "data": {}}
    assert current(result, "get_empty_strict") == "WARNING"
    assert "State 'state_flow_states_tasks-states_default' not found" in error(result, "get_empty_strict")
    assert result.outputs("first") == {"count": 4, "key": "state_flow_states_tasks-states_default"}
    assert result.outputs("second")["count"] == 5
    data = result.outputs("get")["data"]
    assert data == {
        "orders": "def",
        "nested": {"a": 1, "b": 2, "c": 3},
        "items": [1, 2, 3],
        "kept": True,
        "added": 42,
    }
    assert result.outputs("get")["count"] == 5
    assert result.outputs("get_kestra") == {"count": 1, "data": {"only": "here"}}
    assert result.outputs("as_kv")["keys"] == [
        "state_flow_states_tasks-states_default",
        "state_flow_states_tasks-states_myState",
    ]
    assert result.outputs("delete") == {"deleted": True}
    assert result.outputs("delete_again") == {"deleted": False}
    assert current(result, "delete_strict") == "WARNING"
    assert "not found" in error(result, "delete_strict")
    assert result.outputs("get_after") == {"count": 0, "data": {}}
    assert result.outputs("my_state_after")["count"] == 1


def test_state_taskrun_value_scoping():
    result = run(
        """
id: state_loop
namespace: tercel.tests.state

tasks:
  - id: each
    type: tercel.core.ForEach
    values: ["a", "b"]
    tasks:
      - id: own
        type: tercel.core.state.Set
        data:
          value: "{{ taskrun.value }}"
      - id: shared
        type: tercel.core.state.Set
        taskrunValue: false
        data:
          seen: ["{{ taskrun.value }}"]
      - id: read_own
        type: tercel.core.state.Get
  - id: outside
    type: tercel.core.state.Get
  - id: outside_shared
    type: tercel.core.state.Get
    taskrunValue: false
"""
    )
    assert result.state == "SUCCESS", result.task_runs
    assert result.outputs("read_own", "a")["data"] == {"value": "a"}
    assert result.outputs("read_own", "b")["data"] == {"value": "b"}
    assert result.outputs("own", "a")["key"] != result.outputs("own", "b")["key"]
    assert result.outputs("own", "a")["key"].startswith("state_loop_states_tasks-states_default_")
    assert result.outputs("shared", "b")["key"] == "state_loop_states_tasks-states_default"
    # outside the loop there is no taskrun.value: the un-suffixed state, the shared one
    assert result.outputs("outside")["data"] == {"seen": ["a", "b"]}
    assert result.outputs("outside_shared")["data"] == {"seen": ["a", "b"]}


def test_state_per_flow_or_shared_in_the_namespace(tmp_path):
    run(
        """
id: state_writer
namespace: tercel.tests.state
tasks:
  - id: per_flow
    type: tercel.core.state.Set
    data: {who: writer}
  - id: shared
    type: tercel.core.state.Set
    namespace: true
    data: {who: everyone}
""",
        home=tmp_path,
    )
    result = run(
        """
id: state_reader
namespace: tercel.tests.state
tasks:
  - id: per_flow
    type: tercel.core.state.Get
  - id: shared
    type: tercel.core.state.Get
    namespace: "{{ true }}"
""",
        home=tmp_path,
    )
    assert result.outputs("per_flow") == {"count": 0, "data": {}}
    assert result.outputs("shared") == {"count": 1, "data": {"who": "everyone"}}


def test_state_on_a_key_that_is_not_a_map_fails_clearly():
    result = run(
        """
id: state_clash
namespace: tercel.tests.state
tasks:
  - id: clobber
    type: tercel.core.kv.Set
    key: state_clash_states_tasks-states_default
    value: 3
  - id: get
    type: tercel.core.state.Get
    allowFailure: true
  - id: bad_name
    type: tercel.core.state.Set
    name: "my state"
    data: {a: 1}
    allowFailure: true
"""
    )
    assert "holds a int, not a state" in error(result, "get")
    assert "invalid state name 'my state'" in error(result, "bad_name")


def test_merge_state_follows_kestra():
    assert merge_state({}, {"a": 1}) == {"a": 1}
    assert merge_state({"a": 1, "b": 2}, {"b": 3}) == {"a": 1, "b": 3}
    assert merge_state({"a": 1}, {"a": None, "b": None}) == {"a": 1, "b": None}
    assert merge_state({"m": {"x": {"y": 1}}}, {"m": {"x": {"z": 2}}}) == {"m": {"x": {"y": 1, "z": 2}}}
    assert merge_state({"l": [1, 2]}, {"l": [2, 3, 3]}) == {"l": [1, 2, 3, 3]}
    assert merge_state({"l": [1]}, {"l": "text"}) == {"l": "text"}


def test_state_key_scheme():
    assert state_key("MyFlow", "default", shared=False) == "myflow_states_tasks-states_default"
    assert state_key("f", "s", shared=True) == "states_tasks-states_s"
    suffixed = state_key("f", "s", shared=False, taskrun_value="x")
    assert suffixed.startswith("f_states_tasks-states_s_") and len(suffixed) == len("f_states_tasks-states_s_") + 16
    assert suffixed != state_key("f", "s", shared=False, taskrun_value="y")
    with pytest.raises(TaskFailed, match="invalid state name"):
        state_key("f", "a/b", shared=False)


# ------------------------------------------------------------------------------- metadata


@pytest.mark.parametrize("cls", ALL_TYPES, ids=lambda c: c.type_name)
def test_every_type_is_documented(cls):
    assert cls.type_name.startswith(("tercel.core.kv.", "tercel.core.state."))
    assert cls.type_title and cls.describe()
    assert cls.type_aliases and all(a.startswith("io.kestra.") for a in cls.type_aliases)
    assert cls.type_examples and all(e.full for e in cls.type_examples)
    for example in cls.type_examples:
        doc = YAML(typ="safe").load(example.code)
        assert {"id", "namespace", "tasks"} <= set(doc)
        assert cls.type_name in {t["type"] for t in doc["tasks"]}
    output = cls.output_model()
    if cls is kv.Set:
        assert output is None  # like Kestra's (VoidOutput)
    else:
        assert output is not None and issubclass(output, Output)


def test_kestra_property_names_and_defaults():
    task = kv.Set.model_validate({"id": "s", "type": "tercel.core.kv.Set", "key": "k", "value": 1})
    assert task.overwrite.raw is True and task.namespace is None and task.ttl is None and task.kv_type is None
    get = kv.Get.model_validate({"id": "g", "type": "tercel.core.kv.Get", "key": "k"})
    assert get.error_on_missing.raw is False
    st = state.Set.model_validate({"id": "s", "type": "tercel.core.state.Set"})
    assert (st.name.raw, st.namespace.raw, st.taskrun_value.raw) == ("default", False, True)
    props = set(kv.Set.model_json_schema(by_alias=True)["properties"])
    assert {"key", "value", "namespace", "overwrite", "ttl", "kvType", "kvDescription"} <= props
    props = set(state.Get.model_json_schema(by_alias=True)["properties"])
    assert {"name", "namespace", "taskrunValue", "errorOnMissing"} <= props
