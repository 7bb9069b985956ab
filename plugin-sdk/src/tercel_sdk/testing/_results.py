"""What a test gets back: an execution (`FlowResult`), one task's run of it (`TaskResult`), a
file of internal storage (`StoredFile`) and a polling trigger's check (`TriggerCheck`).

Plain data over the core's execution document, logs and storage, with the lookups and
assertions a test needs; nothing here runs anything, so every other module of the package
can hand these back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FlowResult", "StoredFile", "TaskResult", "TriggerCheck"]

_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")
_LAST_LOGS = 15


def _level(level: str) -> str:
    """A log level as tercel stores it (`WARNING` is `WARN`); unknown ones are an error."""
    text = str(getattr(level, "value", level)).upper()
    text = "WARN" if text == "WARNING" else text
    if text not in _LEVELS:
        raise ValueError(f"unknown log level {level!r}: use one of {', '.join(_LEVELS)}")
    return text


@dataclass(frozen=True)
class StoredFile:
    """A file of internal storage as the execution left it."""

    uri: str
    data: bytes

    @property
    def name(self) -> str:
        return self.uri.rstrip("/").rsplit("/", 1)[-1]

    def text(self, encoding: str = "utf-8") -> str:
        return self.data.decode(encoding)

    def rows(self) -> list[Any]:
        """The values of an Ion file (what tasks write with `tercel_sdk.ion.write_rows`)."""
        import io

        from .. import ion

        return list(ion.read_rows(io.BytesIO(self.data)))


@dataclass
class FlowResult:
    """The end (or a moment) of an execution: its document, its logs and the storage's files."""

    execution: dict[str, Any]
    """The execution document (DESIGN §4), values still Python-typed."""
    logs: list[dict[str, Any]] = field(default_factory=list)
    """Log entries (`task_id`, `task_run_id`, `level`, `message`, `timestamp`…), oldest first."""
    files: dict[str, bytes] = field(default_factory=dict)
    """Every file of internal storage when the result was taken, by `tercel://` URI."""

    # -- the execution
    @property
    def state(self) -> str:
        return self.execution["state"]["current"]

    @property
    def id(self) -> str:
        return self.execution["id"]

    @property
    def namespace(self) -> str:
        return self.execution["namespace"]

    @property
    def flow_id(self) -> str:
        return self.execution["flowId"]

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.execution.get("labels") or {})

    @property
    def flow_outputs(self) -> dict[str, Any]:
        return dict(self.execution.get("outputs") or {})

    @property
    def task_runs(self) -> list[dict[str, Any]]:
        return list(self.execution["taskRunList"])

    def task_run(self, task_id: str, value: Any = None) -> dict[str, Any]:
        """The (last) task run of a task; `value` picks one iteration of a loop."""
        runs = self._runs(task_id, value)
        if not runs:
            which = f" with value {value!r}" if value is not None else ""
            ran = sorted({t["taskId"] for t in self.task_runs}) or ["none"]
            raise KeyError(f"no task run of {task_id!r}{which} in execution {self.id} (task runs: {', '.join(ran)})")
        return runs[-1]

    def _runs(self, task_id: str, value: Any = None) -> list[dict[str, Any]]:
        return [t for t in self.task_runs if t["taskId"] == task_id and (value is None or t["value"] == value)]

    def outputs(self, task_id: str, value: Any = None) -> dict[str, Any]:
        return dict(self.task_run(task_id, value).get("outputs") or {})

    @property
    def errors(self) -> dict[str, str]:
        """The error of every task run that has one, by task id (the last one of a loop)."""
        return {t["taskId"]: str(t["error"]) for t in self.task_runs if t.get("error")}

    # -- logs and metrics
    def logs_of(self, task_id: str | None = None, level: str | None = None) -> list[dict[str, Any]]:
        """Log entries of one task (every task run of it), at exactly `level`; None: all."""
        wanted = None if level is None else _level(level)
        return [
            e
            for e in self.logs
            if (task_id is None or e.get("task_id") == task_id) and (wanted is None or e.get("level") == wanted)
        ]

    def messages(self, task_id: str | None = None, level: str | None = None) -> list[str]:
        """The text of `logs_of(task_id, level)`."""
        return [e["message"] for e in self.logs_of(task_id, level)]

    def metrics_of(self, task_id: str, value: Any = None) -> list[dict[str, Any]]:
        """Metrics (`name`, `type`, `value`, `tags`) of the last attempt of a task run."""
        attempts = self.task_run(task_id, value).get("attempts") or []
        return list(attempts[-1].get("metrics") or []) if attempts else []

    def metric(
        self, task_id: str, name: str, *, value: Any = None, tags: Mapping[str, str] | None = None
    ) -> float:
        """One metric of a task run: counters add up, a timer or gauge gives its last value.
        `tags` keeps the entries carrying at least those tags."""
        return _metric(self.metrics_of(task_id, value), name, tags, f"task '{task_id}'")

    # -- files
    def files_of(self, task_id: str, value: Any = None) -> list[str]:
        """URIs of the files a task's runs stored (`ctx.put_file`), sorted."""
        prefixes = tuple(
            f"{self._execution_prefix()}tasks/{task_id}/{run['id']}/" for run in self._runs(task_id, value)
        )
        return sorted(uri for uri in self.files if prefixes and uri.startswith(prefixes))

    def _execution_prefix(self) -> str:
        return "tercel:///" + "/".join([*self.namespace.split("."), self.flow_id, "executions", self.id]) + "/"

    def file(self, uri: str) -> StoredFile:
        """A file of internal storage (a task's output URI, a namespace file's, a KV entry's)."""
        key = _normalize_uri(uri)
        if key not in self.files:
            mine = sorted(u for u in self.files if u.startswith(self._execution_prefix())) or ["none"]
            raise KeyError(f"no file {uri!r} in internal storage; files of execution {self.id}: {', '.join(mine)}")
        return StoredFile(key, self.files[key])

    def read(self, uri: str) -> bytes:
        """Content of a file the execution wrote to internal storage."""
        return self.file(uri).data

    # -- assertions
    def summary(self, limit: int = _LAST_LOGS) -> str:
        """What happened, for a failure message: the task runs with their states and errors,
        then the last log lines."""
        lines = [f"execution {self.id} of {self.namespace}.{self.flow_id} is {self.state}"]
        if self.execution.get("error"):
            lines.append(f"  error: {self.execution['error']}")
        lines.append("task runs:" if self.task_runs else "task runs: none")
        for run in self.task_runs:
            value = f" [{run['value']}]" if run.get("value") is not None else ""
            error = f": {run['error']}" if run.get("error") else ""
            lines.append(f"  {run['state']['current']:<9} {run['taskId']}{value}{error}")
        shown = self.logs[-limit:]
        if shown:
            lines.append(f"last {len(shown)} of {len(self.logs)} log lines:")
            for entry in shown:
                where = f"[{entry['task_id']}] " if entry.get("task_id") else ""
                lines.append(f"  {entry.get('level', ''):<5} {where}{_one_line(entry.get('message'))}")
        return "\n".join(lines)

    def assert_state(self, *states: str) -> FlowResult:
        """Raise an `AssertionError` telling what happened unless the execution is in one of
        `states`; returns the result, to chain."""
        wanted = [str(getattr(s, "value", s)).upper() for s in states]
        if self.state not in wanted:
            raise AssertionError(f"expected {' or '.join(wanted)}, got {self.state}\n{self.summary()}")
        return self

    def assert_success(self) -> FlowResult:
        """Raise unless the execution ended in SUCCESS, with its errors and last logs."""
        return self.assert_state("SUCCESS")


@dataclass
class TaskResult:
    """One task run through the engine (the only task of its flow, whose id is `task`)."""

    flow: FlowResult
    task_id: str = "task"

    @property
    def task_run(self) -> dict[str, Any]:
        return self.flow.task_run(self.task_id)

    @property
    def state(self) -> str:
        return self.task_run["state"]["current"]

    @property
    def outputs(self) -> dict[str, Any]:
        return self.flow.outputs(self.task_id)

    @property
    def error(self) -> str | None:
        return self.task_run.get("error")

    @property
    def attempts(self) -> list[dict[str, Any]]:
        return list(self.task_run["attempts"])

    @property
    def metrics(self) -> list[dict[str, Any]]:
        """The metrics of the last attempt."""
        attempts = self.attempts
        return list(attempts[-1].get("metrics") or []) if attempts else []

    def metric(self, name: str, *, tags: Mapping[str, str] | None = None) -> float:
        """One metric: counters add up, a timer or gauge gives its last value."""
        return _metric(self.metrics, name, tags, f"task '{self.task_id}'")

    @property
    def logs(self) -> list[tuple[str, str]]:
        """The task's log lines as (level, message)."""
        return [(e["level"], e["message"]) for e in self.flow.logs_of(self.task_id)]

    def logs_of(self, level: str | None = None) -> list[dict[str, Any]]:
        return self.flow.logs_of(self.task_id, level)

    def messages(self, level: str | None = None) -> list[str]:
        return self.flow.messages(self.task_id, level)

    @property
    def files(self) -> list[str]:
        """URIs of the files the task stored (`ctx.put_file`)."""
        return self.flow.files_of(self.task_id)

    def file(self, uri: str) -> StoredFile:
        return self.flow.file(uri)

    def read(self, uri: str) -> bytes:
        return self.flow.read(uri)

    def summary(self, limit: int = _LAST_LOGS) -> str:
        return self.flow.summary(limit)

    def assert_success(self) -> TaskResult:
        """Raise an `AssertionError` with the error and the last logs unless the task succeeded."""
        if self.state != "SUCCESS":
            raise AssertionError(f"expected task '{self.task_id}' to succeed, it ended {self.state}\n{self.summary()}")
        return self

    def assert_failed(self, match: str | None = None) -> str:
        """Raise unless the task failed (with an error matching the regular expression
        `match`); returns the error."""
        error = self.error or ""
        if self.state != "FAILED":
            raise AssertionError(f"expected task '{self.task_id}' to fail, it ended {self.state}\n{self.summary()}")
        if match is not None and not re.search(match, error):
            raise AssertionError(f"task '{self.task_id}' failed with {error!r}, which does not match {match!r}")
        return error


def _metric(entries: list[dict[str, Any]], name: str, tags: Mapping[str, str] | None, where: str) -> float:
    found = [
        m for m in entries
        if m["name"] == name and all((m.get("tags") or {}).get(k) == v for k, v in (tags or {}).items())
    ]
    if not found:
        have = ", ".join(f"{m['name']}{m.get('tags') or ''}" for m in entries) or "none"
        raise KeyError(f"{where} recorded no metric {name!r}{' with tags ' + str(dict(tags)) if tags else ''} (recorded: {have})")
    if all(m["type"] == "counter" for m in found):
        return float(sum(m["value"] for m in found))
    return float(found[-1]["value"])


def _one_line(message: Any, limit: int = 300) -> str:
    text = " | ".join(str(message).splitlines())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _normalize_uri(uri: str) -> str:
    return "tercel://" + uri[len("kestra://"):] if uri.startswith("kestra://") else uri


@dataclass(frozen=True)
class TriggerCheck:
    """One check of a polling trigger: the event (None: no execution), what it kept in
    memory, and the files it stored for the execution (by URI)."""

    event: Any
    memory: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
