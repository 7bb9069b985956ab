"""The `Sandbox`: one embedded tercel (runtime, executor, worker, store and storage) open for
as long as a test needs it.

Everything else that runs something goes through it: `run_flow`/`run_task` are one execution
in a fresh sandbox, `poll_trigger`/`listen_trigger` one trigger check or listener in one.
Tests needing several executions (one acting on another), KV or namespace files changing
between checks, or a scheduler use it directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import tempfile
import time
import types as _types
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .._task import PluginType
from ._environment import SeededSecrets, plugin_manager, sandbox_settings
from ._results import FlowResult, TriggerCheck
from ._sources import FlowSource, Seeds, explained, flow_text

__all__ = ["Sandbox"]


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
            settings = sandbox_settings(home, self._overrides)
            runtime = Runtime(settings, plugins=plugin_manager(settings, self._types, self._plugins))
            if self._secrets:
                runtime.secrets = SeededSecrets(self._secrets, runtime.secrets)
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
        text, name = flow_text(flow)
        try:
            return self.runtime.deploy_flow(text, name=name)
        except Exception as exc:
            raise explained(exc, name, self.runtime.plugins) from None

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
