"""`tercel.core.metric.Publish` (Kestra's `io.kestra.plugin.core.metric.Publish`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from tercel_sdk import Example, Property, RunContext, RunnableTask, TaskFailed, parse_duration

__all__ = ["MetricSpec", "Publish"]


class MetricSpec(BaseModel):
    """One metric to publish: a counter adds up, a timer is a duration, a gauge is a level."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["counter", "timer", "gauge"]
    name: Property[str]
    value: Property[Any] = Field(description="A number (counter, gauge) or an ISO 8601 duration (timer).")
    tags: Property[dict[str, str]] | None = None
    description: str | None = None


class Publish(RunnableTask):
    """Publish metrics of the task run (shown with the execution and on its attempts)."""

    type_name = "tercel.core.metric.Publish"
    type_aliases = ("io.kestra.plugin.core.metric.Publish",)
    type_title = "Publish metrics."
    type_examples = (
        Example(
            title="A timer and a counter with tags.",
            full=True,
            code="""\
id: publish_metrics
namespace: company.team

tasks:
  - id: metric
    type: tercel.core.metric.Publish
    metrics:
      - type: timer
        name: duration
        value: PT10M
        tags:
          flow: "{{ flow.id }}"
      - type: counter
        name: number
        value: 42
""",
        ),
    )

    metrics: Annotated[list[MetricSpec], Field(min_length=1)] = Field(description="The metrics to publish.")

    def run(self, ctx: RunContext) -> None:
        for index, metric in enumerate(self.metrics):
            name = ctx.render(metric.name)
            raw = ctx.render(metric.value)
            try:
                if metric.type == "timer":
                    value = parse_duration(raw).total_seconds()
                else:
                    value = float(raw)
            except (TypeError, ValueError) as exc:
                raise TaskFailed(f"metrics[{index}] ({name}): {exc}") from None
            tags = ctx.render(metric.tags) if metric.tags is not None else None
            ctx.metric(name, value, type=metric.type, tags=tags)
