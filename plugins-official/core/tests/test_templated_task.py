"""`tercel.core.templating.TemplatedTask`: a task whose definition is rendered, then run inline.

Flows run through the real engine (`tercel_sdk.testing.run_flow`); the classes are passed with
`types=` until the plugin registers them. Failing tasks use `allowFailure`, so one flow checks
several failures (the task run ends in WARNING and keeps its error).
"""

from __future__ import annotations

import re

import pytest
from tercel_plugin_core import storage
from tercel_plugin_core.namespace import DeleteFiles, DownloadFiles, UploadFiles
from tercel_plugin_core.templating import TemplatedTask, parse_spec
from tercel_sdk import RunnableTask, TaskFailed
from tercel_sdk.testing import FlowResult, run_flow

TYPES: list[type[RunnableTask]] = [TemplatedTask, UploadFiles, DownloadFiles, DeleteFiles, storage.Write]


def run(yaml: str, *, inputs: dict | None = None, files: dict[str, dict[str, str]] | None = None) -> FlowResult:
    return run_flow(yaml, inputs, types=list(TYPES), namespace_files=files)


def state(result: FlowResult, task_id: str) -> str:
    return result.task_run(task_id)["state"]["current"]


def error(result: FlowResult, task_id: str) -> str:
    return result.task_run(task_id).get("error") or ""


# ---------------------------------------------------------------------------------- running


def test_property_names_and_values_come_from_expressions():
    result = run(
        """
id: templated
namespace: company.team

variables:
  property: content
  value: Hello from a templated task

tasks:
  - id: templated
    type: io.kestra.plugin.core.templating.TemplatedTask
    spec: |
      type: tercel.core.storage.Write
      extension: .txt
      {{ vars.property }}: {{ vars.value }}
  - id: log
    type: tercel.core.Log
    message: "wrote {{ outputs.templated.uri }}"
"""
    )
    assert result.state == "SUCCESS", result.task_runs
    uri = result.outputs("templated")["uri"]
    assert result.read(uri) == b"Hello from a templated task"
    # the inner task has no id of its own: its file is named after the TemplatedTask
    assert "/tasks/templated/" in uri and uri.endswith("/templated.txt")
    assert [t["taskId"] for t in result.task_runs] == ["templated", "log"]
    assert result.messages("log") == [f"wrote {uri}"]


def test_the_type_and_lists_can_be_templated_and_ids_given():
    result = run(
        """
id: templated_list
namespace: company.team

inputs:
  - id: kind
    type: STRING
    defaults: Write
  - id: lines
    type: ARRAY
    itemType: STRING
    defaults: ["one", "two"]

tasks:
  - id: write
    type: io.kestra.core.tasks.templating.TemplatedTask
    spec: |
      id: inner_write
      type: tercel.core.storage.{{ inputs.kind }}
      content: |
      {% for line in inputs.lines %}
        {{ line }}
      {% endfor %}
  - id: upload
    type: tercel.core.templating.TemplatedTask
    spec: |
      type: tercel.core.namespace.UploadFiles
      filesMap:
      {% for name in ['a.txt', 'b.txt'] %}
        {{ name }}: "{{ outputs.write.uri }}"
      {% endfor %}
"""
    )
    assert result.state == "SUCCESS", result.task_runs
    uri = result.outputs("write")["uri"]
    assert uri.endswith("/inner_write.tmp")
    assert result.read(uri).decode().split() == ["one", "two"]
    assert sorted(result.outputs("upload")["files"]) == ["/a.txt", "/b.txt"]


def test_the_inner_tasks_properties_render_in_the_outer_context():
    result = run(
        """
id: templated_context
namespace: company.team

tasks:
  - id: download
    type: tercel.core.templating.TemplatedTask
    spec: |
      type: tercel.core.namespace.DownloadFiles
      files: ["{{ '**.' ~ 'sql' }}"]
""",
        files={"company.team": {"q/orders.sql": "SELECT 1"}},
    )
    assert result.state == "SUCCESS", result.task_runs
    files = result.outputs("download")["files"]
    assert list(files) == ["/q/orders.sql"]
    assert result.read(files["/q/orders.sql"]) == b"SELECT 1"
    metrics = result.task_run("download")["attempts"][-1]["metrics"]
    assert [(m["name"], m["value"]) for m in metrics] == [("downloaded", 1.0)]


def test_a_task_without_outputs_gives_none():
    result = run(
        """
id: templated_log
namespace: company.team

tasks:
  - id: log
    type: tercel.core.templating.TemplatedTask
    spec: |
      type: tercel.core.Log
      message: "templated {{ flow.id }}"
"""
    )
    assert result.state == "SUCCESS", result.task_runs
    assert result.outputs("log") == {}
    assert "templated templated_log" in result.messages("log")


# --------------------------------------------------------------------------------- failures


def test_specs_that_cannot_run_fail_with_clear_errors():
    result = run(
        """
id: templated_failures
namespace: company.team

tasks:
  - id: bad_yaml
    type: tercel.core.templating.TemplatedTask
    spec: |
      type: tercel.core.Log
      message: [unclosed
    allowFailure: true
  - id: a_list
    type: tercel.core.templating.TemplatedTask
    spec: |
      - type: tercel.core.Log
        message: hi
    allowFailure: true
  - id: a_string
    type: tercel.core.templating.TemplatedTask
    spec: just text
    allowFailure: true
  - id: empty
    type: tercel.core.templating.TemplatedTask
    spec: "{{ '' }}"
    allowFailure: true
  - id: no_type
    type: tercel.core.templating.TemplatedTask
    spec: |
      message: hi
    allowFailure: true
  - id: flowable
    type: tercel.core.templating.TemplatedTask
    spec: |
      type: tercel.core.Sequential
      tasks:
        - id: hello
          type: tercel.core.Log
          message: hi
    allowFailure: true
  - id: nested
    type: tercel.core.templating.TemplatedTask
    spec: |
      type: io.kestra.plugin.core.templating.TemplatedTask
      spec: "type: tercel.core.Log"
    allowFailure: true
  - id: unknown_type
    type: tercel.core.templating.TemplatedTask
    spec: |
      type: tercel.core.Lgo
      message: hi
    allowFailure: true
  - id: bad_property
    type: tercel.core.templating.TemplatedTask
    spec: |
      type: tercel.core.storage.Write
      contents: typo
    allowFailure: true
  - id: bad_render
    type: tercel.core.templating.TemplatedTask
    spec: "{{ nope.missing }}"
    allowFailure: true
  - id: inner_fails
    type: tercel.core.templating.TemplatedTask
    spec: |
      type: tercel.core.namespace.DownloadFiles
      namespace: other.team
      files: "**"
    allowFailure: true
"""
    )
    assert result.state == "WARNING"
    assert all(state(result, t["taskId"]) == "WARNING" for t in result.task_runs)
    assert error(result, "bad_yaml").startswith("`spec` is not valid YAML: ")
    assert "(line 3, column 1)" in error(result, "bad_yaml")
    one_task = "`spec` must hold one task, a mapping with a `type` and its properties"
    assert error(result, "a_list") == f"{one_task}, not a list"
    assert error(result, "a_string") == f"{one_task}, not a string"
    assert error(result, "empty") == "`spec` is empty: it must hold one task, a mapping with a `type` and its properties"
    assert error(result, "no_type") == "`spec` has no `type`: say which task to run, e.g. `type: tercel.core.Log`"
    assert error(result, "flowable") == (
        "task 'flowable': 'tercel.core.Sequential' is a flowable task (it runs other tasks) "
        "and cannot run inline: only runnable tasks can"
    )
    assert error(result, "nested") == (
        "`spec` cannot be another io.kestra.plugin.core.templating.TemplatedTask: give the task it should run"
    )
    unknown = error(result, "unknown_type")
    assert "cannot run 'tercel.core.Lgo' inline: unknown type 'tercel.core.Lgo'" in unknown
    assert "did you mean 'tercel.core.Log'" in unknown
    bad = error(result, "bad_property")
    assert bad.startswith("task 'bad_property': the inline tercel.core.storage.Write task is invalid: ")
    assert "property `content` is required" in bad and "unknown property `contents`" in bad
    assert error(result, "bad_render").startswith("task 'bad_render' property 'spec': ")
    assert "may not use the files of namespace 'other.team'" in error(result, "inner_fails")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [", "`spec` is not valid YAML: "),
        ("a: 1\na: 2", "`spec` is not valid YAML: "),
        ("42", "not a number"),
        ("true", "not a boolean"),
        ("type: 3", "`spec` has no `type`"),
        ("type: tercel.core.templating.TemplatedTask", "`spec` cannot be another tercel.core.templating.TemplatedTask"),
    ],
)
def test_parse_spec_refuses(text: str, message: str):
    with pytest.raises(TaskFailed, match=re.escape(message)):
        parse_spec(text)


def test_parse_spec_reads_yaml_safely():
    assert parse_spec("type: tercel.core.Log\nmessage: hi\n") == {"type": "tercel.core.Log", "message": "hi"}
    with pytest.raises(TaskFailed, match="not valid YAML"):
        parse_spec("type: !!python/object/apply:os.system ['true']")


# --------------------------------------------------------------------------------- examples


@pytest.mark.parametrize("index", range(len(TemplatedTask.type_examples)))
def test_examples_run(index: int):
    result = run(TemplatedTask.type_examples[index].code)
    assert result.state == "SUCCESS", result.task_runs
