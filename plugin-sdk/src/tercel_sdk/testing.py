"""Test a plugin through the real tercel: tasks, whole flows, triggers and flowable decisions.

This is the one module of the SDK that uses the tercel core (put `tercel-core` in your test
dependencies): tasks run through the real engine, worker, expressions, storage and KV store, on
a throwaway SQLite database and storage folder, so a test sees exactly what a user would.

    from tercel_sdk.testing import run_flow, run_task

    result = run_task(MyTask, {"url": "{{ vars.base }}/users"}, variables={"base": "http://127.0.0.1:8080"})
    result.assert_success()
    assert result.outputs["status"] == 200 and result.metric("requests") == 1

    result = run_flow("tests/flows/hello.yaml", {"name": "Ada"}, plugins=[my_plugin.plugin])
    assert result.outputs("hello")["value"] == "Hello Ada"

`run_task` and `run_flow` cover one execution; a `Sandbox` keeps one embedded tercel open for
tests that need several executions (one acting on another), a scheduler, or trigger checks;
`FlowableSim` drives a flowable task's `resolve` decisions child by child.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import re
import tempfile
import threading
import time
import types as _types
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from typing import Any, TypeVar

from ._flowable import INHERIT, FlowableResult, TaskRunView
from ._hooks import hookimpl
from ._property import Property
from ._states import State
from ._task import FlowableTask, PluginType

__all__ = [
    "FlowResult",
    "FlowableSim",
    "IncrementalFlowableSim",
    "Sandbox",
    "StoredFile",
    "TaskResult",
    "TriggerCheck",
    "arun_flow",
    "arun_task",
    "listen_trigger",
    "poll_trigger",
    "run_flow",
    "run_task",
    "validate",
]

T = TypeVar("T")

FlowSource = str | Path
"""A flow: its YAML text, or the path of a `.yaml`/`.yml` file."""
Seeds = Mapping[str, Mapping[str, Any]]
"""What to put in place before a run, by namespace: `{"company.team": {"key": value}}`."""

_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")
_LAST_LOGS = 15


# ------------------------------------------------------------------------------------ results


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

        from . import ion

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


# --------------------------------------------------------------------------- the plugins


def _adhoc_plugin(classes: Sequence[type[PluginType]]) -> _types.ModuleType:
    """A plugin module registering classes defined in the tests themselves."""
    module = _types.ModuleType("tercel_testing_adhoc")

    def of_kind(kind: str) -> list[type[PluginType]]:
        return [c for c in classes if getattr(c, "type_kind", "task") == kind]

    @hookimpl
    def tercel_task_types() -> list[type[PluginType]]:
        return of_kind("task")

    @hookimpl
    def tercel_trigger_types() -> list[type[PluginType]]:
        return of_kind("trigger")

    @hookimpl
    def tercel_condition_types() -> list[type[PluginType]]:
        return of_kind("condition")

    module.tercel_task_types = tercel_task_types  # type: ignore[attr-defined]
    module.tercel_trigger_types = tercel_trigger_types  # type: ignore[attr-defined]
    module.tercel_condition_types = tercel_condition_types  # type: ignore[attr-defined]
    return module


def _distribution_of(module: _types.ModuleType) -> tuple[str, str]:
    """The distribution and version a plugin module comes from: the installed distribution
    holding its package, else its package's name (`tercel_plugin_x` is `tercel-plugin-x`) and
    `__version__` (0.0.0 without one)."""
    import sys
    from importlib import metadata

    top = module.__name__.partition(".")[0]
    names = metadata.packages_distributions().get(top) or []
    if names:
        name = re.sub(r"[-_.]+", "-", names[0]).lower()
        try:
            return name, metadata.version(names[0])
        except metadata.PackageNotFoundError:
            pass
    else:
        name = top.replace("_", "-").lower()
    version = getattr(module, "__version__", None) or getattr(sys.modules.get(top), "__version__", None)
    return name, str(version or "0.0.0")


def _plugin_manager(settings: Any, types: Sequence[type[PluginType]], plugins: Sequence[_types.ModuleType]) -> Any:
    """The installed plugins (this sandbox's plugin environments only), plus the plugin
    modules and classes of the test, registered as an installed plugin's would be."""
    manager = settings.plugin_manager().discover()
    for module in plugins:
        if not isinstance(module, _types.ModuleType):
            raise TypeError(f"plugins= takes entry-point modules (with @hookimpl functions), not {module!r}")
        distribution, version = _distribution_of(module)
        known = manager.plugins.get(distribution)
        if known is not None and known.module == module.__name__ and not known.error:
            continue  # installed in this environment: discovered like any other plugin
        manager.hook  # noqa: B018 - the hook relay first, so this very module's hooks are registered
        manager.add_module(module, distribution=distribution, version=version)
    if types:
        for cls in types:
            if not (isinstance(cls, type) and issubclass(cls, PluginType)) or not cls.type_name:
                raise TypeError(f"types= takes plugin type classes with a type_name, not {cls!r}")
        manager.add_module(_adhoc_plugin(list(types)), distribution="tercel-testing-adhoc", version="0")
        for cls in types:
            info = manager.get_type(cls.type_name)
            if info.class_path != f"{cls.__module__}:{cls.__qualname__}" and info.distribution != "tercel-testing-adhoc":
                raise ValueError(
                    f"type {cls.type_name!r} of {cls.__module__}.{cls.__qualname__} is also provided by the installed "
                    f"{info.distribution} {info.version} ({info.class_path}): the installed one would run; "
                    "give the test's class another type_name, or test the installed plugin with plugins=[...]"
                )
    return manager


def _settings(home: Path, overrides: Mapping[str, Any] | None) -> Any:
    """Settings of a throwaway tercel in `home`: its own database, storage and plugin
    environments, whatever `TERCEL_DATABASE_URL`/`TERCEL_STORAGE_PATH`/`TERCEL_HOME` say."""
    from tercel.settings import Settings

    values: dict[str, Any] = {
        "home": home,
        "database_url": f"sqlite:///{home / 'tercel.db'}",
        "storage_path": home / "storage",
    }
    values.update(overrides or {})
    return Settings(**values)


class _SeededSecrets:
    """The test's secrets first, then the usual `SECRET_<NAME>` environment variables."""

    def __init__(self, values: Mapping[str, str], fallback: Any) -> None:
        self._values = {str(k): str(v) for k, v in values.items()}
        self._fallback = fallback

    def get(self, namespace: str, name: str) -> str:
        if name in self._values:
            return self._values[name]
        return self._fallback.get(namespace, name)

    def list_names(self) -> list[str]:
        return sorted({*self._values, *self._fallback.list_names()})


# ---------------------------------------------------------------------------- sources


def _source(flow: FlowSource) -> tuple[str, str]:
    """(YAML text, name for error messages) of a flow given as text or as a file path."""
    if isinstance(flow, Path) or ("\n" not in flow and flow.strip().endswith((".yaml", ".yml"))):
        path = Path(flow)
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except OSError as exc:
            raise FileNotFoundError(f"flow file {path} cannot be read: {exc.strerror}") from None
    found = re.search(r"^id:\s*['\"]?([\w.-]+)", flow, re.MULTILINE)
    return flow, f"<flow {found.group(1)}>" if found else "<flow>"


def _explained(exc: Exception, name: str, plugins: Any) -> Exception:
    """A flow that does not load: the same error, saying which flow, plus broken plugins."""
    problems = getattr(exc, "problems", None)
    if problems is None:
        return exc
    summary = f"{name} cannot be loaded: {exc.summary}"  # type: ignore[attr-defined]
    broken = [p for p in getattr(plugins, "problems", ()) if "unusable" in p or "failed to load" in p]
    if broken:
        summary += " (plugins with problems: " + "; ".join(broken) + ")"
    return type(exc)(problems, summary=summary)


# ---------------------------------------------------------------------------- the sandbox


class Sandbox:
    """One throwaway embedded tercel: a runtime (executor and worker) over its own SQLite
    database and storage folder, for tests that need more than one execution.

        async with Sandbox(types=[Kill]) as tercel:
            target = tercel.start(SLEEPER)
            await tercel.until(target, "RUNNING")
            result = await tercel.run(KILLER, {"target": target})
            (await tercel.wait(target)).assert_state("KILLED")

    `types` are plugin classes defined in the tests, `plugins` entry-point modules registered
    as if installed (their hooks too), `secrets` secret values by name, `kv` and
    `namespace_files` what to put in place by namespace, `home` a folder to keep (several
    sandboxes on the same one see the same executions, KV and files), `settings` overrides of
    the core's `Settings` fields (say `{"namespace_access": {...}}`).
    """

    def __init__(
        self,
        *,
        types: Sequence[type[PluginType]] | None = None,
        plugins: Sequence[_types.ModuleType] | None = None,
        secrets: Mapping[str, str] | None = None,
        kv: Seeds | None = None,
        namespace_files: Seeds | None = None,
        home: Path | None = None,
        settings: Mapping[str, Any] | None = None,
        timeout: float = 120.0,
    ) -> None:
        self._types = list(types or ())
        self._plugins = list(plugins or ())
        self._secrets = dict(secrets or {})
        self._kv = kv or {}
        self._namespace_files = namespace_files or {}
        self._home = None if home is None else Path(home)
        self._overrides = dict(settings or {})
        self.timeout = timeout
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._runtime: Any = None
        self._memory: dict[tuple[str, str, str], dict[str, Any]] = {}

    # -- lifecycle
    async def __aenter__(self) -> Sandbox:
        from tercel.runtime import Runtime

        if self._home is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="tercel-test-")
            home = Path(self._tmp.name)
        else:
            home = self._home
        try:
            settings = _settings(home, self._overrides)
            runtime = Runtime(settings, plugins=_plugin_manager(settings, self._types, self._plugins))
            if self._secrets:
                runtime.secrets = _SeededSecrets(self._secrets, runtime.secrets)
            for namespace, entries in self._kv.items():
                for key, value in entries.items():
                    runtime.kv.set(namespace, key, value)
            for namespace, files in self._namespace_files.items():
                for path, data in files.items():
                    self._put_namespace_file(runtime, namespace, path, data)
            await runtime.start()
        except BaseException:
            self._cleanup()
            raise
        self._runtime = runtime
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self._runtime is not None:
                await self._runtime.stop()
        finally:
            self._runtime = None
            self._cleanup()

    def _cleanup(self) -> None:
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                self._tmp.cleanup()
            self._tmp = None

    @property
    def runtime(self) -> Any:
        """The core's `Runtime` under the sandbox, for what this class does not cover."""
        if self._runtime is None:
            raise RuntimeError("the sandbox is not running: use it as `async with Sandbox(...) as tercel:`")
        return self._runtime

    @property
    def home(self) -> Path:
        return Path(self.runtime.settings.home)

    # -- flows and executions
    def deploy(self, flow: FlowSource) -> tuple[str, str]:
        """Validate and store a flow (a new revision if it changed); its (namespace, id)."""
        loaded = self._load(flow)
        return loaded.namespace, loaded.id

    def _load(self, flow: FlowSource) -> Any:
        text, name = _source(flow)
        try:
            return self.runtime.deploy_flow(text, name=name)
        except Exception as exc:
            raise _explained(exc, name, self.runtime.plugins) from None

    def start(
        self,
        flow: FlowSource | tuple[str, str],
        inputs: Mapping[str, Any] | None = None,
        *,
        labels: Mapping[str, str] | None = None,
    ) -> str:
        """Start an execution of a flow (its source, deployed first, or a deployed flow's
        (namespace, id)); its id. Inputs are checked and typed as the API does."""
        if isinstance(flow, tuple):
            loaded = self.runtime.get_flow(*flow)
            if loaded is None:
                raise KeyError(f"no flow {flow[0]}.{flow[1]} in the sandbox: deploy it first")
        else:
            loaded = self._load(flow)
        return str(self.runtime.create_execution(loaded, inputs, labels=labels).id)

    async def run(
        self,
        flow: FlowSource | tuple[str, str],
        inputs: Mapping[str, Any] | None = None,
        *,
        labels: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> FlowResult:
        """Start an execution and wait for its end."""
        return await self.wait(self.start(flow, inputs, labels=labels), timeout=timeout)

    async def wait(self, execution_id: str, timeout: float | None = None) -> FlowResult:
        """Wait for an execution to end; a `TimeoutError` says where it stands otherwise."""
        limit = self.timeout if timeout is None else timeout
        try:
            await self.runtime.wait(execution_id, timeout=limit)
        except TimeoutError:
            now = self.execution(execution_id)
            where = now.summary() if now is not None else "it does not exist"
            raise TimeoutError(f"execution {execution_id} did not end within {limit:g} s\n{where}") from None
        result = self.execution(execution_id)
        assert result is not None
        return result

    async def until(
        self,
        execution_id: str,
        condition: str | Iterable[str] | Callable[[FlowResult], bool],
        timeout: float = 20.0,
    ) -> FlowResult:
        """Wait until an execution is in a state (or one of several), or until
        `condition(result)` holds (it sees the execution document, not logs or files)."""
        if isinstance(condition, str):
            states = {condition.upper()}
        elif callable(condition):
            states = None
        else:
            states = {str(s).upper() for s in condition}
        deadline = time.monotonic() + timeout
        while True:
            ex = self.runtime.get_execution(execution_id)
            if ex is not None:
                light = FlowResult(ex.to_dict())
                reached = light.state in states if states is not None else condition(light)  # type: ignore[operator]
                if reached:
                    break
            if time.monotonic() > deadline:
                wanted = " or ".join(sorted(states)) if states is not None else "the condition to hold"
                now = self.execution(execution_id)
                where = now.summary() if now is not None else "it does not exist"
                raise TimeoutError(f"execution {execution_id}: waited {timeout:g} s for {wanted}\n{where}")
            await asyncio.sleep(0.02)
        result = self.execution(execution_id)
        assert result is not None
        return result

    def execution(self, execution_id: str) -> FlowResult | None:
        """The execution as it is now (None if there is none), with its logs and the files."""
        ex = self.runtime.get_execution(execution_id)
        if ex is None:
            return None
        return FlowResult(ex.to_dict(), self.logs(execution_id), self.files())

    def executions(self, *, namespace: str | None = None, flow_id: str | None = None, state: str | None = None) -> list[str]:
        """Ids of the stored executions (of a namespace, a flow, in a state), oldest first."""
        found = self.runtime.db.executions.find(namespace=namespace, flow_id=flow_id, state=state, limit=100_000)
        return [str(h["id"]) for h in reversed(found)]

    def kill(self, execution_id: str, *, propagate: bool = True) -> None:
        self.runtime.kill(execution_id, propagate=propagate)

    def resume(self, execution_id: str, inputs: Mapping[str, Any] | None = None, *, by: str | None = None) -> None:
        """Resume a PAUSED execution; `inputs` answer its Pause's `onResume` declarations."""
        self.runtime.resume_execution(execution_id, inputs, by=by)

    def logs(self, execution_id: str) -> list[dict[str, Any]]:
        return list(self.runtime.logs(execution_id))

    # -- storage, KV, namespace files
    def files(self, prefix: str = "tercel:///") -> dict[str, bytes]:
        """Every file of internal storage under `prefix`, by URI."""
        storage = self.runtime.storage
        return {info.uri: storage.get_bytes(info.uri) for info in storage.list(prefix)}

    def read(self, uri: str) -> bytes:
        return bytes(self.runtime.storage.get_bytes(uri))

    def set_kv(self, namespace: str, key: str, value: Any, *, ttl: timedelta | None = None) -> None:
        self.runtime.kv.set(namespace, key, value, ttl=ttl)

    def kv(self, namespace: str, key: str) -> Any:
        """A KV value (None when there is none or it expired)."""
        return self.runtime.kv.get(namespace, key)

    def put_namespace_file(self, namespace: str, path: str, data: bytes | str) -> str:
        """Create or replace a namespace file; its URI."""
        return self._put_namespace_file(self.runtime, namespace, path, data)

    @staticmethod
    def _put_namespace_file(runtime: Any, namespace: str, path: str, data: bytes | str) -> str:
        from tercel.storage import NamespaceFiles

        content = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        return str(NamespaceFiles(runtime.storage).put(namespace, path, content).uri)

    def namespace_file(self, namespace: str, path: str) -> bytes:
        from tercel.storage import NamespaceFiles

        return bytes(NamespaceFiles(self.runtime.storage).get(namespace, path))

    def delete_namespace_file(self, namespace: str, path: str) -> bool:
        from tercel.storage import NamespaceFiles

        return bool(NamespaceFiles(self.runtime.storage).delete(namespace, path))

    # -- triggers
    def _trigger(
        self, trigger: type[PluginType] | str, properties: Mapping[str, Any] | None, trigger_id: str
    ) -> Any:
        cls = self.runtime.plugins.load_class(trigger) if isinstance(trigger, str) else trigger
        name = trigger if isinstance(trigger, str) else cls.type_name
        return cls.model_validate({"id": trigger_id, "type": name, **dict(properties or {})})

    def _trigger_context(self, namespace: str, flow_id: str, trigger_id: str, now: datetime | None) -> Any:
        from tercel.runtime import flow_context
        from tercel.scheduler import TriggerContext

        flow = _types.SimpleNamespace(id=flow_id, namespace=namespace, revision=1, variables={}, labels={})
        return TriggerContext(
            self.runtime, namespace=namespace, flow_id=flow_id, trigger_id=trigger_id,
            variables=flow_context(self.runtime, flow), memory=self._memory.get((namespace, flow_id, trigger_id), {}),
            now=now or datetime.now(UTC),
        )

    async def poll(
        self,
        trigger: type[PluginType] | str,
        properties: Mapping[str, Any] | None = None,
        *,
        namespace: str = "tests",
        flow_id: str = "test_trigger",
        trigger_id: str = "trigger",
        now: datetime | None = None,
        memory: Mapping[str, Any] | None = None,
    ) -> TriggerCheck:
        """One check of a polling trigger (`evaluate(ctx)`) with the scheduler's context; its
        `memory` is kept for the next check of the same trigger id, as the scheduler keeps it
        (`memory=` replaces what was kept)."""
        task = self._trigger(trigger, properties, trigger_id)
        if memory is not None:
            self._memory[(namespace, flow_id, trigger_id)] = dict(memory)
        ctx = self._trigger_context(namespace, flow_id, trigger_id, now)
        before = set(self.files())
        if inspect.iscoroutinefunction(task.evaluate):
            event = await task.evaluate(ctx)
        else:
            event = await asyncio.to_thread(task.evaluate, ctx)
        self._memory[(namespace, flow_id, trigger_id)] = dict(ctx.memory)
        after = self.files()
        return TriggerCheck(event, dict(ctx.memory), {u: d for u, d in after.items() if u not in before})

    async def listen(
        self,
        trigger: type[PluginType] | str,
        properties: Mapping[str, Any] | None = None,
        *,
        events: int = 1,
        timeout: float = 10.0,
        namespace: str = "tests",
        flow_id: str = "test_trigger",
        trigger_id: str = "trigger",
    ) -> list[Any]:
        """Run a realtime trigger's listener (`events(ctx)`) until it yields `events` events
        (a `None`, which only saves memory, does not count); the events, in order."""
        task = self._trigger(trigger, properties, trigger_id)
        ctx = self._trigger_context(namespace, flow_id, trigger_id, None)
        got: list[Any] = []

        async def collect() -> None:
            stream = task.events(ctx)
            try:
                async for event in stream:
                    self._memory[(namespace, flow_id, trigger_id)] = dict(ctx.memory)
                    if event is not None:
                        got.append(event)
                        if len(got) >= events:
                            return
            finally:
                with contextlib.suppress(Exception):
                    await stream.aclose()

        try:
            await asyncio.wait_for(collect(), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"trigger '{trigger_id}' yielded {len(got)} of {events} events within {timeout:g} s"
            ) from None
        return got

    def memory(self, trigger_id: str = "trigger", *, namespace: str = "tests", flow_id: str = "test_trigger") -> dict[str, Any]:
        """What a trigger kept in `ctx.memory` after its last check or event."""
        return dict(self._memory.get((namespace, flow_id, trigger_id), {}))

    def scheduler(self, *, clock: Callable[[], datetime] | None = None) -> Any:
        """The core's `Scheduler` over this sandbox (`async with`, or `await .tick()`), with a
        clock of the test's choosing: schedules fire, polling triggers are checked and Flow
        triggers follow executions as in a server."""
        from tercel.scheduler import Scheduler

        return Scheduler(self.runtime, clock=clock)


@dataclass(frozen=True)
class TriggerCheck:
    """One check of a polling trigger: the event (None: no execution), what it kept in
    memory, and the files it stored for the execution (by URI)."""

    event: Any
    memory: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)


# -------------------------------------------------------------------------- run and validate


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, or in a helper thread when called from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        inside_loop = False
    else:
        inside_loop = True
    if not inside_loop:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="tercel-testing")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


async def arun_flow(
    flow: FlowSource,
    inputs: Mapping[str, Any] | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    flows: Sequence[FlowSource] | None = None,
    types: Sequence[type[PluginType]] | None = None,
    plugins: Sequence[_types.ModuleType] | None = None,
    secrets: Mapping[str, str] | None = None,
    kv: Seeds | None = None,
    namespace_files: Seeds | None = None,
    home: Path | None = None,
    settings: Mapping[str, Any] | None = None,
    timeout: float = 120.0,
) -> FlowResult:
    """Run a flow to its end; see `run_flow`."""
    async with Sandbox(
        types=types, plugins=plugins, secrets=secrets, kv=kv, namespace_files=namespace_files,
        home=home, settings=settings, timeout=timeout,
    ) as sandbox:
        for other in flows or ():
            sandbox.deploy(other)
        return await sandbox.run(flow, inputs, labels=labels)


def run_flow(
    flow: FlowSource,
    inputs: Mapping[str, Any] | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    flows: Sequence[FlowSource] | None = None,
    types: Sequence[type[PluginType]] | None = None,
    plugins: Sequence[_types.ModuleType] | None = None,
    secrets: Mapping[str, str] | None = None,
    kv: Seeds | None = None,
    namespace_files: Seeds | None = None,
    home: Path | None = None,
    settings: Mapping[str, Any] | None = None,
    timeout: float = 120.0,
) -> FlowResult:
    """Run a flow to its end on a throwaway embedded tercel and return what happened.

    `flow` is YAML text or a path; `flows` are other flows it may call (subflows); `types` are
    plugin classes defined in the test; `plugins` entry-point modules registered as if
    installed (hooks included); `secrets` values by name; `kv` and `namespace_files` what to
    put in place first, by namespace (`{"company.team": {"key": value}}`); `home` a folder kept
    between runs. A flow that does not load raises the core's `FlowValidationError` (or
    `FlowSyntaxError`) naming the flow and listing every problem.
    """
    return _run_sync(
        arun_flow(
            flow, inputs, labels=labels, flows=flows, types=types, plugins=plugins, secrets=secrets,
            kv=kv, namespace_files=namespace_files, home=home, settings=settings, timeout=timeout,
        )
    )


def _input_type(value: Any) -> str:
    """The input type that keeps a Python value's type through the execution's inputs."""
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "INT"
    if isinstance(value, float):
        return "FLOAT"
    if isinstance(value, str):
        return "STRING"
    if isinstance(value, datetime):
        return "DATETIME"
    if isinstance(value, date):
        return "DATE"
    if isinstance(value, time_of_day):
        return "TIME"
    if isinstance(value, timedelta):
        return "DURATION"
    if isinstance(value, Path):
        return "FILE"
    return "JSON"


def _task_flow(
    task: type[PluginType] | str,
    properties: Mapping[str, Any] | None,
    variables: Mapping[str, Any] | None,
    inputs: Mapping[str, Any] | None,
    namespace: str = "tests",
    task_id: str = "task",
) -> str:
    """The one-task flow `run_task` runs (JSON is YAML)."""
    if isinstance(task, str):
        type_name = task
    else:
        type_name = task.type_name
        if not type_name:
            raise TypeError(f"{task.__qualname__} has no type_name: set `type_name = \"...\"` on the class")
    doc: dict[str, Any] = {
        "id": "test_task",
        "namespace": namespace,
        "tasks": [{"id": task_id, "type": type_name, **dict(properties or {})}],
    }
    if variables:
        doc["variables"] = dict(variables)
    if inputs:
        doc["inputs"] = [{"id": k, "type": _input_type(v), "required": False} for k, v in inputs.items()]
    return json.dumps(doc, default=str)


async def arun_task(
    task: type[PluginType] | str,
    properties: Mapping[str, Any] | None = None,
    *,
    variables: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
    namespace: str = "tests",
    types: Sequence[type[PluginType]] | None = None,
    plugins: Sequence[_types.ModuleType] | None = None,
    secrets: Mapping[str, str] | None = None,
    kv: Seeds | None = None,
    namespace_files: Seeds | None = None,
    home: Path | None = None,
    settings: Mapping[str, Any] | None = None,
    timeout: float = 120.0,
) -> TaskResult:
    """Run one task; see `run_task`."""
    extra = list(types or ())
    if isinstance(task, type) and task not in extra:
        extra.insert(0, task)
    flow = _task_flow(task, properties, variables, inputs, namespace)
    result = await arun_flow(
        flow, inputs, types=extra, plugins=plugins, secrets=secrets, kv=kv, namespace_files=namespace_files,
        home=home, settings=settings, timeout=timeout,
    )
    return TaskResult(result)


def run_task(
    task: type[PluginType] | str,
    properties: Mapping[str, Any] | None = None,
    *,
    variables: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
    namespace: str = "tests",
    types: Sequence[type[PluginType]] | None = None,
    plugins: Sequence[_types.ModuleType] | None = None,
    secrets: Mapping[str, str] | None = None,
    kv: Seeds | None = None,
    namespace_files: Seeds | None = None,
    home: Path | None = None,
    settings: Mapping[str, Any] | None = None,
    timeout: float = 120.0,
) -> TaskResult:
    """Run one task (a class, or an installed type name) with these properties (as in YAML,
    camelCase), alone in a flow of `namespace`; its id is `task`.

    `variables` become the flow's `vars` (JSON values), `inputs` its inputs, each keeping its
    Python type (str, int, float, bool, datetime, date, time, timedelta, a Path as a FILE,
    anything else as JSON), so properties may use `{{ vars.x }}` and `{{ inputs.y }}`.
    `secrets`, `kv`, `namespace_files`, `types`, `plugins`: as for `run_flow`.
    """
    return _run_sync(
        arun_task(
            task, properties, variables=variables, inputs=inputs, namespace=namespace, types=types,
            plugins=plugins, secrets=secrets, kv=kv, namespace_files=namespace_files, home=home,
            settings=settings, timeout=timeout,
        )
    )


def validate(
    flow: FlowSource,
    *,
    types: Sequence[type[PluginType]] | None = None,
    plugins: Sequence[_types.ModuleType] | None = None,
) -> list[str]:
    """The problems of a flow as saving it would report them (each with its line and
    column), without running it; an empty list when it is valid."""
    from tercel.expressions import ExpressionEngine
    from tercel.flows import load_flow

    text, name = _source(flow)
    with tempfile.TemporaryDirectory(prefix="tercel-test-") as tmp:
        settings = _settings(Path(tmp), None)
        manager = _plugin_manager(settings, list(types or ()), list(plugins or ()))
        engine = ExpressionEngine(
            functions=manager.collect("tercel_expression_functions"),
            filters=manager.collect("tercel_expression_filters"),
        )
        try:
            load_flow(text, manager, name=name, check_expression=engine.check)
        except Exception as exc:
            problems = getattr(exc, "problems", None)
            if problems is None:
                raise
            return [str(p) for p in problems]
    return []


# ---------------------------------------------------------------------------------- triggers


def poll_trigger(
    trigger: type[PluginType] | str,
    properties: Mapping[str, Any] | None = None,
    *,
    memory: Mapping[str, Any] | None = None,
    namespace: str = "tests",
    now: datetime | None = None,
    types: Sequence[type[PluginType]] | None = None,
    plugins: Sequence[_types.ModuleType] | None = None,
    secrets: Mapping[str, str] | None = None,
    kv: Seeds | None = None,
    namespace_files: Seeds | None = None,
    home: Path | None = None,
) -> TriggerCheck:
    """One check of a polling trigger in a fresh sandbox (`memory`: what an earlier check
    kept). For several checks over changing KV or files, use `Sandbox.poll`."""

    async def check() -> TriggerCheck:
        async with Sandbox(
            types=types, plugins=plugins, secrets=secrets, kv=kv, namespace_files=namespace_files, home=home
        ) as sandbox:
            return await sandbox.poll(trigger, properties, namespace=namespace, now=now, memory=memory)

    return _run_sync(check())


def listen_trigger(
    trigger: type[PluginType] | str,
    properties: Mapping[str, Any] | None = None,
    *,
    events: int = 1,
    timeout: float = 10.0,
    namespace: str = "tests",
    types: Sequence[type[PluginType]] | None = None,
    plugins: Sequence[_types.ModuleType] | None = None,
    secrets: Mapping[str, str] | None = None,
    kv: Seeds | None = None,
    namespace_files: Seeds | None = None,
) -> list[Any]:
    """The first `events` events of a realtime trigger's listener, in a fresh sandbox."""

    async def collect() -> list[Any]:
        async with Sandbox(types=types, plugins=plugins, secrets=secrets, kv=kv, namespace_files=namespace_files) as sandbox:
            return await sandbox.listen(trigger, properties, events=events, timeout=timeout, namespace=namespace)

    return _run_sync(collect())


# --------------------------------------------------------------------------------- flowables

_ENGINE: Any = None


def _expressions() -> Any:
    global _ENGINE
    if _ENGINE is None:
        from tercel.expressions import ExpressionEngine

        _ENGINE = ExpressionEngine()
    return _ENGINE


def _stored_value(value: Any) -> Any:
    """How the engine keeps a child's loop value: text as it is, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, default=str, separators=(",", ":"), ensure_ascii=False)


Outcome = Callable[[TaskRunView], State] | Mapping[Any, State] | None
"""How `FlowableSim.run` ends each child: a function of the child, a mapping by
`(task_id, value)` or `task_id` (default SUCCESS), or None (all SUCCESS)."""


class FlowableSim:
    """The engine's side of one flowable task run, to test `resolve` decisions in isolation.

    It is the `FlowableContext` the task decides with (its task run, its children, rendering
    with the real expression language over `variables`, a fixed `now`); `step()` resolves
    once and creates exactly the child runs returned (the same one twice is an error), and
    the test ends children in the states it chooses (`finish`), or lets `run()` drive to the
    end. `IncrementalFlowableSim` is also an `IncrementalFlowableContext`, as the engine's is:
    a flowable must decide the same with both.

        sim = FlowableSim(MyLoop.model_validate({"id": "loop", "type": "x.MyLoop", ...}))
        assert sim.run({"check": State.FAILED}).state is State.FAILED
        assert sim.ids() == ["check", "on_error"]
    """

    def __init__(
        self,
        task: FlowableTask,
        *,
        value: Any = None,
        variables: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> None:
        self.task = task
        self.variables = dict(variables or {})
        self._now = now or datetime(2026, 1, 1, tzinfo=UTC)
        self.task_run = TaskRunView(
            id="parent", task_id=task.id, parent_task_run_id=None, value=value, iteration=None,
            state=State.RUNNING, outputs={},
        )
        self.runs: list[TaskRunView] = []
        """Every child created, in creation order, with its current state."""
        self.created: list[tuple[str, Any, int | None]] = []
        """(task id, value, iteration) of each child, in creation order."""
        self.max_running = 0
        """The most children running at once so far."""
        self.resolve_calls = 0

    # -- FlowableContext
    @property
    def now(self) -> datetime:
        """A fixed engine time: decisions must not read the clock."""
        return self._now

    def children(self) -> list[TaskRunView]:
        return list(self.runs)

    def render(self, value: Any, variables: Mapping[str, Any] | None = None) -> Any:
        context = {**self.variables, **dict(variables or {})}
        if isinstance(value, Property):
            return value.coerce(_expressions().render_value(value.raw, context))
        return _expressions().render_value(value, context)

    # -- the engine
    def step(self) -> FlowableResult:
        """Resolve once and create the child runs it returns."""
        self.resolve_calls += 1
        result = self.task.resolve(self)
        if not isinstance(result, FlowableResult):
            raise AssertionError(f"{type(self.task).__name__}.resolve returned {result!r}, not a FlowableResult")
        if result.next and result.state is not None:
            raise AssertionError(f"resolve returned children to create and a final state ({result.state}) at once")
        if result.outputs:
            self.task_run = replace(self.task_run, outputs={**self.task_run.outputs, **result.outputs})
        existing = {(r.task_id, _hashable(r.value)) for r in self.runs}
        for nxt in result.next:
            value = self.task_run.value if nxt.value is INHERIT else _stored_value(nxt.value)
            key = (nxt.task["id"], _hashable(value))
            if key in existing:
                raise AssertionError(f"resolve created task run {key[0]!r} (value {value!r}) a second time")
            existing.add(key)
            run = TaskRunView(
                id=f"run-{len(self.runs)}", task_id=nxt.task["id"], parent_task_run_id=self.task_run.id,
                value=value, iteration=nxt.iteration, state=State.RUNNING, state_since=self._now,
            )
            self.runs.append(run)
            self.created.append((run.task_id, value, nxt.iteration))
            self._changed(run)
        self.max_running = max(self.max_running, len(self.running()))
        return result

    def running(self) -> list[TaskRunView]:
        return [r for r in self.runs if not r.state.is_terminated]

    def finish(
        self,
        run: TaskRunView | str,
        state: State = State.SUCCESS,
        value: Any = INHERIT,
        *,
        outputs: Mapping[str, Any] | None = None,
    ) -> TaskRunView:
        """End a running child: the one given, or the running child of that task id (and
        `value`, for a loop); `outputs` replace its outputs."""
        if isinstance(run, str):
            matching = [r for r in self.running() if r.task_id == run and (value is INHERIT or r.value == value)]
            if len(matching) != 1:
                raise AssertionError(f"{len(matching)} running task runs of {run!r}" + ("" if value is INHERIT else f" with value {value!r}"))
            run = matching[0]
        ended = replace(run, state=state, outputs=dict(outputs or run.outputs))
        self.runs = [ended if r.id == run.id else r for r in self.runs]
        self._changed(ended)
        return ended

    def run(self, outcome: Outcome = None, *, max_steps: int = 10_000) -> FlowableResult:
        """Resolve, end the oldest running child as `outcome` says, again, until the flowable
        gives its final state; that last result."""
        for _ in range(max_steps):
            result = self.step()
            if result.state is not None:
                return result
            running = self.running()
            if not running:
                raise AssertionError(f"stuck: nothing runs and resolve gave no final state (created: {self.ids()})")
            self.finish(running[0], _outcome(outcome, running[0]))
        raise AssertionError(f"no final state after {max_steps} steps")

    def ids(self) -> list[str]:
        """Task ids of the children, in creation order."""
        return [task_id for task_id, _, _ in self.created]

    def pairs(self) -> list[tuple[str, Any]]:
        """(task id, value) of the children, in creation order."""
        return [(task_id, value) for task_id, value, _ in self.created]

    def next_ids(self) -> list[str]:
        """Resolve once; the ids of the children it created."""
        return [n.task["id"] for n in self.step().next]

    def _changed(self, run: TaskRunView) -> None:
        """A child was created or ended (what an incremental context reports)."""


class IncrementalFlowableSim(FlowableSim):
    """A `FlowableSim` that is also an `IncrementalFlowableContext`, like the engine's."""

    def __init__(self, task: FlowableTask, **kwargs: Any) -> None:
        super().__init__(task, **kwargs)
        self._changes: list[TaskRunView] | None = None  # None: not asked yet

    def children_with_value(self, value: Any) -> list[TaskRunView]:
        return [r for r in self.runs if r.value == value]

    def changed_children(self) -> list[TaskRunView] | None:
        changes, self._changes = self._changes, []
        return changes

    def forget(self) -> None:
        """Forget what was reported, as after the execution was loaded again elsewhere: the
        next `changed_children()` is None."""
        self._changes = None

    def _changed(self, run: TaskRunView) -> None:
        if self._changes is not None:
            self._changes.append(run)


def _hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, dict | list) else value


def _outcome(outcome: Outcome, run: TaskRunView) -> State:
    if outcome is None:
        return State.SUCCESS
    if callable(outcome):
        return outcome(run)
    for key in ((run.task_id, run.value), run.task_id):
        with contextlib.suppress(TypeError):
            if key in outcome:
                return outcome[key]
    return State.SUCCESS

