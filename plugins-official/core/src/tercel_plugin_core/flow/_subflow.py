"""Subflow and ForEachItem: tasks that start executions of other flows.

Both only decide: they ask the engine for `SubflowRequest`s, the engine starts the executions
(all or none, in the same transaction as the decision) and reports each one's end back through
`subflow_ended`, folded into this task run's outputs. ForEachItem works through three task runs
of its own, as in Kestra: `_split` and `_merge` run on a worker, `_items` starts the subflows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator
from pydantic.alias_generators import to_camel
from tercel_sdk import (
    Example,
    FlowableContext,
    FlowableResult,
    FlowableTask,
    Output,
    Property,
    RunContext,
    RunnableTask,
    State,
    SubflowRequest,
    TaskFailed,
    block_state,
    ion,
    resolve_sequential,
)

__all__ = [
    "ForEachItem",
    "ForEachItemBatch",
    "ForEachItemExecutable",
    "ForEachItemMergeOutputs",
    "ForEachItemSplit",
    "Subflow",
]

_FAILED_LIKE = {State.FAILED.value, State.KILLED.value, State.CANCELLED.value}


def _labels(value: Any) -> dict[str, str]:
    """Labels as Kestra accepts them: a map, or a list of `{key, value}`."""
    if value is None:
        return {}
    if isinstance(value, list):
        try:
            return {str(item["key"]): str(item["value"]) for item in value}
        except (KeyError, TypeError):
            raise TaskFailed("labels in list form need a `key` and a `value` in each item") from None
    if isinstance(value, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    raise TaskFailed(f"labels must be a map or a list of key/value pairs, not {type(value).__name__}")


class _CallsFlow(FlowableTask):
    """What Subflow and ForEachItem share: which flow, with what, and how to wait for it."""

    namespace: Property[str] = Field(description="The namespace of the flow to run.")
    flow_id: Property[str] = Field(description="The id of the flow to run.")
    revision: PositiveInt | None = Field(default=None, description="The flow revision to run (default: the latest).")
    inputs: dict[str, Any] | None = Field(default=None, description="Inputs of the subflow execution (rendered).")
    labels: dict[str, Any] | list[dict[str, Any]] | None = Field(default=None, description="Labels of the subflow execution: a map or a list of `{key, value}`.")
    inherit_labels: bool = Field(default=False, description="Give the subflow execution this execution's labels too.")
    wait: bool = Field(default=True, description="Wait for the subflow execution to end before going on.")
    transmit_failed: bool = Field(
        default=True, description="With `wait`, fail this task when the subflow execution fails or is killed."
    )
    schedule_date: Property[datetime] | None = Field(default=None, description="Start the subflow execution at this date, not now.")
    restart_behavior: Literal["RETRY_FAILED", "NEW_EXECUTION"] = Field(
        default="RETRY_FAILED",
        description="When this execution is restarted: restart the failed subflow execution itself (RETRY_FAILED) or start a new one.",
    )

    def _request(self, ctx: FlowableContext, *, variables: Mapping[str, Any] | None = None, iteration: int | None = None,
                 outputs: Mapping[str, Any] | None = None) -> SubflowRequest:
        labels = _labels(ctx.render(self.labels, variables)) if self.labels else {}
        if self.inherit_labels:
            labels = {**{k: v for k, v in (ctx.render("{{ labels }}") or {}).items() if not str(k).startswith("system.")}, **labels}
        delay = None
        if self.schedule_date is not None:
            when = ctx.render(self.schedule_date, variables)
            delay = max(when - ctx.now, timedelta(0)) if when is not None else None
        return SubflowRequest(
            namespace=ctx.render(self.namespace, variables),
            flow_id=ctx.render(self.flow_id, variables),
            revision=self.revision,
            inputs=ctx.render(self.inputs, variables) if self.inputs else {},
            labels=labels,
            wait=self.wait,
            iteration=iteration,
            outputs=outputs,
            schedule_delay=delay,
        )


class SubflowOutput(Output):
    execution_id: str = Field(description="The id of the subflow execution.")
    state: State | None = Field(default=None, description="Its final state (with `wait`).")
    outputs: dict[str, Any] | None = Field(default=None, description="Its flow outputs (with `wait`).")


class Subflow(_CallsFlow):
    """Run another flow as a subflow, like calling a function: its own execution, with inputs
    and labels, optionally waited for.

    With `wait` (the default) this task ends when the subflow execution ends: in its state for
    SUCCESS and WARNING; for FAILED, KILLED or CANCELLED it fails with `transmitFailed` (the
    default) and succeeds without. `outputs.<id>.outputs` holds the subflow's flow outputs,
    `outputs.<id>.executionId` its id. The subflow execution sees the caller as
    `trigger.executionId`, `trigger.namespace`, `trigger.flowId`. Killing this execution kills
    the subflow executions it started.
    """

    type_name = "tercel.core.Subflow"
    type_aliases = ("io.kestra.plugin.core.flow.Subflow", "io.kestra.core.tasks.flows.Subflow", "io.kestra.core.tasks.flows.Flow")
    type_title = "Run another flow and wait for its result."
    type_examples = (
        Example(
            title="Call a subflow with inputs and use its outputs.",
            full=True,
            code="""\
id: parent_flow
namespace: company.team

tasks:
  - id: call_subflow
    type: tercel.core.Subflow
    namespace: company.team
    flowId: subflow
    inputs:
      user: Rick Astley
    wait: true
    transmitFailed: true

  - id: log
    type: tercel.core.Log
    message: "{{ outputs.call_subflow.outputs.greeting }}"
""",
        ),
    )

    outputs: dict[str, Any] | None = Field(
        default=None, description="Deprecated: values rendered in the subflow's context when it ends, added to `outputs.<id>.outputs`."
    )

    def restart_subflows(self, outputs: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]] | None:
        child = outputs.get("executionId")
        if self.restart_behavior != "RETRY_FAILED" or not self.wait or not child or outputs.get("state") not in _FAILED_LIKE:
            return None
        return {"executionId": child}, [str(child)]

    def resolve(self, ctx: FlowableContext) -> FlowableResult:
        run = ctx.task_run
        if "subflows" not in run.phases_done:
            return FlowableResult(subflows=[self._request(ctx, outputs=self.outputs)])
        if not self.wait:
            return FlowableResult(state=State.SUCCESS)
        own = run.outputs or {}
        child_state = own.get("state")
        if child_state is None:
            return FlowableResult()  # the subflow execution still runs
        if child_state in _FAILED_LIKE:
            if not self.transmit_failed:
                return FlowableResult(state=State.SUCCESS)
            return FlowableResult(state=State.FAILED, error=f"subflow execution {own.get('executionId')} ended {child_state}")
        return FlowableResult(state=State.WARNING if child_state == State.WARNING.value else State.SUCCESS)


class ForEachItemBatch(BaseModel):
    """How ForEachItem cuts its items into batches (one subflow execution each)."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, defer_build=True)

    rows: PositiveInt | None = Field(default=None, description="Lines per batch (the default: 1).")
    bytes: str | None = Field(default=None, description="Size of a batch, like `10MB`.")
    partitions: PositiveInt | None = Field(default=None, description="This many batches.")
    separator: str = Field(default="\n", description="Written after every line of a batch.")

    @model_validator(mode="after")
    def _one(self) -> ForEachItemBatch:
        given = [n for n in ("rows", "bytes", "partitions") if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError(f"batch takes only one of `rows`, `bytes` or `partitions`, got {', '.join(given)}")
        return self


class ForEachItem(_CallsFlow):
    """Run a subflow for each batch of items of a file of internal storage.

    `items` is a line file (each line one item, Ion or JSON lines or text), cut into batches by
    `batch` (`rows`, default 1; or `bytes`; or `partitions`). Each batch becomes a file and one
    subflow execution, whose inputs may use `{{ taskrun.items }}` (the batch file's URI) and
    `{{ taskrun.iteration }}` (the batch number, from 1). As in Kestra, the work shows as three
    task runs: `<id>_split` (outputs `splits`, the file listing the batches), `<id>_items`
    (outputs `numberOfBatches`, `iterations`: how many subflow executions ended in each state,
    and `uri`) and, with `wait`, `<id>_merge` (outputs `subflowOutputs`: an Ion file with the
    flow outputs of each subflow execution, in batch order). With `wait` and `transmitFailed`
    the task fails if any subflow execution did not succeed.
    """

    type_name = "tercel.core.ForEachItem"
    type_aliases = ("io.kestra.plugin.core.flow.ForEachItem", "io.kestra.core.tasks.flows.ForEachItem")
    type_title = "Run a subflow for each batch of items of a file."
    type_internal_tasks = (
        ("_split", "tercel.core.ForEachItemSplit"),
        ("_items", "tercel.core.ForEachItemExecutable"),
        ("_merge", "tercel.core.ForEachItemMergeOutputs"),
    )
    type_examples = (
        Example(
            title="One subflow execution per line of a file, their outputs merged.",
            full=True,
            code="""\
id: orders_parallel
namespace: company.team

inputs:
  - id: orders
    type: FILE

tasks:
  - id: each
    type: tercel.core.ForEachItem
    items: "{{ inputs.orders }}"
    batch:
      rows: 1
    namespace: company.team
    flowId: orders
    wait: true
    transmitFailed: true
    inputs:
      order: "{{ taskrun.items }}"

  - id: merged
    type: tercel.core.Log
    message: "{{ read(outputs.each_merge.subflowOutputs) }}"
""",
        ),
    )

    items: Property[str] = Field(description="The URI of a file of internal storage, one item a line.")
    batch: ForEachItemBatch = Field(default_factory=ForEachItemBatch, description="How to cut the items into batches.")

    def resolve(self, ctx: FlowableContext) -> FlowableResult:
        steps = [{"id": self.id + suffix} for suffix, _ in self.type_internal_tasks]
        if not self.wait:
            steps = steps[:2]  # nothing to merge: the subflows are not waited for
        nexts = resolve_sequential(ctx, steps)
        if nexts:
            return FlowableResult(next=nexts)
        return FlowableResult(state=block_state(ctx, steps))


def _owner(task_id: str, suffix: str) -> str:
    return task_id[: -len(suffix)]


def _split_outputs(variables: Mapping[str, Any], owner: str) -> dict[str, Any]:
    """What `<owner>_split` produced (read by `_items` and `_merge`)."""
    found = (variables.get("outputs") or {}).get(f"{owner}_split")
    if not isinstance(found, Mapping) or "numberOfBatches" not in found:
        raise TaskFailed(f"the outputs of '{owner}_split' are missing: it must run first")
    return dict(found)


class ForEachItemSplit(RunnableTask):
    """ForEachItem's first step: cut the items into batch files."""

    type_name = "tercel.core.ForEachItemSplit"
    type_aliases = ("io.kestra.plugin.core.flow.ForEachItem$ForEachItemSplit",)
    type_title = "Split the items of a ForEachItem into batches."
    type_internal = True
    model_config = ConfigDict(extra="ignore")  # it gets its ForEachItem's properties

    items: Property[str] = Field(description="The URI of a file of internal storage, one item a line.")
    batch: ForEachItemBatch = Field(default_factory=ForEachItemBatch, description="How to cut the items into batches.")

    def run(self, ctx: RunContext) -> dict[str, Any]:
        from ..storage import Split

        uri = ctx.render(self.items)
        if not isinstance(uri, str) or not uri.startswith(("tercel://", "kestra://")):
            raise TaskFailed(f"`items` must be the URI of a file of internal storage, got {uri!r}")
        spec: dict[str, Any] = {"id": "batch", "type": Split.type_name, "from": uri, "separator": self.batch.separator}
        if self.batch.bytes is not None:
            spec["bytes"] = self.batch.bytes
        elif self.batch.partitions is not None:
            spec["partitions"] = self.batch.partitions
        else:
            spec["rows"] = self.batch.rows or 1
        uris = Split.model_validate(spec).run(ctx).uris
        splits = ctx.put_file("".join(f"{u}\n" for u in uris).encode("utf-8"), "splits.txt")
        template = ""
        if uris:  # Split names its files `batch-<n><ext>` side by side: one template says all
            folder, name = uris[0].rsplit("/", 1)
            template = f"{folder}/batch-{{index}}{name[len('batch-0'):]}"
            if any(u != template.replace("{index}", str(i)) for i, u in enumerate(uris)):
                raise TaskFailed("internal error: the batch files are not named as expected")
        ctx.logger.info("%d batch(es) of items from %s", len(uris), uri)
        return {"splits": splits, "numberOfBatches": len(uris), "batchUriTemplate": template}


class ForEachItemExecutable(ForEachItem):
    """ForEachItem's second step: one subflow execution per batch, counted as they end."""

    type_name = "tercel.core.ForEachItemExecutable"
    type_aliases = ("io.kestra.plugin.core.flow.ForEachItem$ForEachItemExecutable",)
    type_title = "Start the subflow executions of a ForEachItem."
    type_internal = True
    type_internal_tasks = ()
    type_examples = ()

    def resolve(self, ctx: FlowableContext) -> FlowableResult:
        run = ctx.task_run
        own = dict(run.outputs or {})
        if "subflows" not in run.phases_done:
            split = _split_outputs(ctx.render("{{ {'outputs': outputs} }}") or {}, _owner(self.id, "_items"))
            count = int(split["numberOfBatches"])
            template = str(split.get("batchUriTemplate") or "")
            folder = template.rsplit("/", 1)[0]
            if count == 0:
                return FlowableResult(state=State.SUCCESS, outputs={"numberOfBatches": 0, "iterations": {}, "uri": split.get("splits")})
            requests = []
            for i in range(1, count + 1):
                variables = {"taskrun": {"items": template.replace("{index}", str(i - 1)), "iteration": i}}
                request = self._request(ctx, variables=variables, iteration=i)
                outputs_uri = f"{folder}/subflow-outputs-{i}.ion" if self.wait else None
                requests.append(replace(request, outputs_uri=outputs_uri))
            return FlowableResult(subflows=requests, outputs={"numberOfBatches": count, "uri": split.get("splits")})
        if not self.wait:
            return FlowableResult(state=State.SUCCESS)
        count = int(own.get("numberOfBatches") or 0)
        iterations: dict[str, int] = dict(own.get("iterations") or {})
        if sum(n for state, n in iterations.items() if State(state).is_terminated) < count:
            return FlowableResult()
        failed = sum(n for state, n in iterations.items() if state in _FAILED_LIKE)
        if failed and self.transmit_failed:
            return FlowableResult(state=State.FAILED, error=f"{failed} of {count} subflow executions did not succeed")
        return FlowableResult(state=State.WARNING if iterations.get(State.WARNING.value) else State.SUCCESS)

    def subflows_started(self, outputs: Mapping[str, Any], started: list[dict[str, Any]]) -> dict[str, Any]:
        return {**outputs, "iterations": {State.CREATED.value: len(started)}}

    def subflow_ended(self, outputs: Mapping[str, Any], result: Mapping[str, Any]) -> dict[str, Any]:
        iterations = dict(outputs.get("iterations") or {})
        if iterations.get(State.CREATED.value):
            iterations[State.CREATED.value] -= 1
            if not iterations[State.CREATED.value]:
                del iterations[State.CREATED.value]
        state = str(result["state"])
        iterations[state] = iterations.get(state, 0) + 1
        return {**outputs, "iterations": iterations}


class ForEachItemMergeOutputs(RunnableTask):
    """ForEachItem's last step (with `wait`): the subflows' outputs in one Ion file."""

    type_name = "tercel.core.ForEachItemMergeOutputs"
    type_aliases = ("io.kestra.plugin.core.flow.ForEachItem$ForEachItemMergeOutputs",)
    type_title = "Merge the outputs of a ForEachItem's subflow executions."
    type_internal = True
    model_config = ConfigDict(extra="ignore")  # it gets its ForEachItem's properties

    def run(self, ctx: RunContext) -> dict[str, Any]:
        split = _split_outputs(ctx.variables, _owner(self.id, "_merge"))
        count = int(split["numberOfBatches"])
        folder = str(split.get("batchUriTemplate") or "").rsplit("/", 1)[0]
        path = ctx.working_dir / "subflow-outputs.ion"

        def rows() -> Any:  # one struct per batch whose subflow ended with outputs, in batch order
            for i in range(1, count + 1):
                uri = f"{folder}/subflow-outputs-{i}.ion"
                if ctx.file_exists(uri):
                    yield ion.loads(ctx.read_file(uri))
                    ctx.delete_file(uri)

        written = ion.write_rows_file(path, rows())
        ctx.logger.info("outputs of %d subflow execution(s) merged", written)
        return {"subflowOutputs": ctx.put_file(path, "subflow-outputs.ion")}
