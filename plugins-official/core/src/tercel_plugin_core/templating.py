"""`tercel.core.templating.TemplatedTask`: a task whose whole definition is a template.

Kestra's `io.kestra.plugin.core.templating.TemplatedTask`. The `spec` text is rendered first,
so expressions may produce any part of the definition (property names, the type, a list of
values); the result is read as YAML and run inline through `ctx.run_task`, inside this task run.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from tercel_sdk import Example, Property, RunContext, RunnableTask, TaskFailed

__all__ = ["TemplatedTask", "parse_spec"]


def _yaml_error(exc: YAMLError) -> str:
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if mark is not None:
            return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
        return str(problem)
    return str(exc).strip() or type(exc).__name__


def parse_spec(text: str) -> dict[str, Any]:
    """The rendered `spec` as a task definition; `TaskFailed` says what is wrong with it."""
    try:
        spec = YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise TaskFailed(f"`spec` is not valid YAML: {_yaml_error(exc)}") from None
    if spec is None:
        raise TaskFailed("`spec` is empty: it must hold one task, a mapping with a `type` and its properties")
    if not isinstance(spec, dict):
        raise TaskFailed(
            f"`spec` must hold one task, a mapping with a `type` and its properties, not a {_kind(spec)}"
        )
    task_type = spec.get("type")
    if not isinstance(task_type, str) or not task_type.strip():
        raise TaskFailed("`spec` has no `type`: say which task to run, e.g. `type: tercel.core.Log`")
    if task_type.strip() in TemplatedTask.all_names():
        raise TaskFailed(f"`spec` cannot be another {task_type.strip()}: give the task it should run")
    return spec


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


class TemplatedTask(RunnableTask):
    """Run a task whose definition is rendered from a template.

    `spec` holds the YAML of one runnable task (its `type` and properties; `id` is optional and
    defaults to this task's id). It is rendered first, so expressions may build any part of the
    definition: a property name, the type, a whole list. The task then runs inside this task run
    (same logs, files and working directory) and its outputs are this task's outputs.

    A flowable task (`Parallel`, `ForEach`…) cannot be templated: it needs task runs of its own.
    Retry, timeout and the other task-run settings are this task's, not the spec's.
    """

    type_name = "tercel.core.templating.TemplatedTask"
    type_aliases = (
        "io.kestra.plugin.core.templating.TemplatedTask",
        "io.kestra.core.tasks.templating.TemplatedTask",
    )
    type_title = "Templatize a task."
    type_examples = (
        Example(
            title="Choose a property and its value from variables.",
            full=True,
            code="""\
id: templated_task
namespace: company.team

variables:
  property: content
  value: Hello from a templated task

tasks:
  - id: templated
    type: tercel.core.templating.TemplatedTask
    spec: |
      type: tercel.core.storage.Write
      extension: .txt
      {{ vars.property }}: {{ vars.value }}

  - id: log
    type: tercel.core.Log
    message: "{{ outputs.templated.uri }}"
""",
        ),
        Example(
            title="Build a list property from an input.",
            full=True,
            code="""\
id: templated_list
namespace: company.team

inputs:
  - id: patterns
    type: ARRAY
    itemType: STRING
    defaults: ["**.sql", "**.py"]

tasks:
  - id: download
    type: tercel.core.templating.TemplatedTask
    spec: |
      type: tercel.core.namespace.DownloadFiles
      files:
      {% for pattern in inputs.patterns %}
        - "{{ pattern }}"
      {% endfor %}
""",
        ),
    )

    spec: Property[str] = Field(
        description="The YAML of the task to run (`type` and properties), rendered before it is read."
    )

    async def run(self, ctx: RunContext) -> dict[str, Any] | None:
        definition = parse_spec(ctx.render(self.spec))
        ctx.logger.debug("running the templated %s task", definition["type"])
        return await ctx.run_task(definition)
