"""Prometheus metrics of a tercel server, computed from what the store holds.

Families (all gauges: they are counts of what is stored now, which a purge can lower)::

    tercel_up                                             1 when the database answers, else 0
    tercel_info{version}                                  1, with the core's version
    tercel_flows                                          live flows (latest revisions)
    tercel_executions{namespace,flow_id,state}            executions by flow and current state
    tercel_task_runs{namespace,flow_id,state}             task runs by flow and current state
    tercel_task_runs_all                                  every stored task run (their sum)
    tercel_queue_jobs{topic}                              jobs waiting or running in the queue
    tercel_metrics_scrape_duration_seconds                how long this collection took

`render` writes the text exposition format (version 0.0.4). `MetricsCollector` reads the store;
task runs are read once per version of an execution and remembered, so a scrape costs one header
query per page of executions plus the executions that changed since the last one.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CONTENT_TYPE", "Family", "MetricsCollector", "count_executions", "render"]

CONTENT_TYPE = "text/plain; version=0.0.4"
QUEUE_TOPICS = ("executor", "worker")  # the runtime's topics
_PAGE = 1000


@dataclass
class Family:
    """One metric family: its samples are (labels, value)."""

    name: str
    help: str
    kind: str = "gauge"
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def render(families: Iterable[Family]) -> str:
    """The Prometheus text exposition format of these families."""
    lines = []
    for family in families:
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for labels, value in family.samples:
            if labels:
                text = ",".join(f'{k}="{_escape_label(str(v))}"' for k, v in labels.items())
                lines.append(f"{family.name}{{{text}}} {_number(value)}")
            else:
                lines.append(f"{family.name} {_number(value)}")
    return "\n".join(lines) + "\n"


def count_executions(headers: Iterable[Mapping[str, Any]]) -> Counter[tuple[str, str, str]]:
    """Executions by (namespace, flow id, current state), from stored headers."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for header in headers:
        state = (header.get("state") or {}).get("current") or "CREATED"
        counts[(str(header.get("namespace")), str(header.get("flowId")), str(state))] += 1
    return counts


def count_task_runs(task_runs: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """Task runs by current state, from stored task-run documents."""
    return Counter(str((run.get("state") or {}).get("current") or "CREATED") for run in task_runs)


def _by_flow(name: str, help_text: str, counts: Mapping[tuple[str, str, str], int]) -> Family:
    family = Family(name, help_text)
    for (namespace, flow_id, state), value in sorted(counts.items()):
        family.samples.append(({"namespace": namespace, "flow_id": flow_id, "state": state}, value))
    return family


class MetricsCollector:
    """Reads the metrics of one runtime's store; keep one per server (it remembers task-run
    counts per execution version between scrapes)."""

    def __init__(self) -> None:
        self._runs: dict[str, tuple[int, Counter[str]]] = {}

    def collect(self, runtime: Any, version: str = "") -> list[Family]:
        from tercel.store import VERSION_KEY

        started = time.perf_counter()
        up = Family("tercel_up", "Whether the server is up and its database answers (1) or not (0).")
        info = Family("tercel_info", "The tercel core version this server runs.")
        info.samples.append(({"version": version}, 1))
        try:
            db = runtime.db
            flows = len(db.flows.list())
            headers: list[dict[str, Any]] = []
            offset = 0
            while True:
                page = db.executions.find(limit=_PAGE, offset=offset)
                headers += page
                if len(page) < _PAGE:
                    break
                offset += _PAGE
            runs = self._task_runs(db, headers, VERSION_KEY)
            queue = {topic: db.queue.pending(topic) for topic in QUEUE_TOPICS}
        except Exception:
            up.samples.append(({}, 0))
            return [up, info]
        up.samples.append(({}, 1))
        families = [up, info]
        families.append(Family("tercel_flows", "Flows deployed (latest revisions of live flows).", samples=[({}, flows)]))
        families.append(_by_flow(
            "tercel_executions", "Executions in the store, by namespace, flow and current state.", count_executions(headers)
        ))
        families.append(_by_flow("tercel_task_runs", "Task runs in the store, by namespace, flow and current state.", runs))
        families.append(Family("tercel_task_runs_all", "Every task run in the store.", samples=[({}, sum(runs.values()))]))
        families.append(Family(
            "tercel_queue_jobs", "Jobs waiting, delayed or running in the durable queue, by topic.",
            samples=[({"topic": topic}, depth) for topic, depth in queue.items()],
        ))
        families.append(Family(
            "tercel_metrics_scrape_duration_seconds", "How long collecting these metrics took.",
            samples=[({}, round(time.perf_counter() - started, 6))],
        ))
        return families

    def _task_runs(self, db: Any, headers: list[dict[str, Any]], version_key: str) -> Counter[tuple[str, str, str]]:
        totals: Counter[tuple[str, str, str]] = Counter()
        seen = set()
        for header in headers:
            execution_id = str(header.get("id"))
            version = int(header.get(version_key) or 0)
            seen.add(execution_id)
            cached = self._runs.get(execution_id)
            if cached is None or cached[0] != version:
                found = db.executions.get(execution_id)
                if found is None:  # deleted since the header was read
                    continue
                stored_header, task_runs = found
                cached = (int(stored_header.get(version_key) or version), count_task_runs(task_runs))
                self._runs[execution_id] = cached
            for state, value in cached[1].items():
                totals[(str(header.get("namespace")), str(header.get("flowId")), state)] += value
        for gone in set(self._runs) - seen:
            del self._runs[gone]
        return totals
