"""One process running executions: the executor and a worker over the store's durable queue.

The same code serves `tercel run` and the server: events for the executor and jobs for workers
go through the `Queue` (SQLite or PostgreSQL), so a crash loses nothing: unacknowledged jobs
come back when their lease ends, and an execution is re-settled from what the store holds.
Within one process the queue's listener wakes the loops at once, with no polling delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tercel_sdk import Output, State, TaskFailed, TaskWarning, ion

from tercel.engine import (
    Cancel,
    Delay,
    Dispatch,
    Execution,
    Executor,
    Finished,
    FlowableTimer,
    KillSubflows,
    LogEffect,
    RestartError,
    RunState,
    SlaTimer,
    StartSubflows,
    Step,
    TaskResult,
    TaskRun,
    build_variables,
    iso,
    outputs_map,
)
from tercel.errors import TercelError
from tercel.flows import Flow, TaskNode
from tercel.plugins import PluginManager, TypeInfo
from tercel.settings import Settings

from ._codec import decode_execution, decode_typed, encode_header, encode_task_run
from ._context import RenderError, TaskRunContext, execution_functions, overlay

__all__ = ["LogEntry", "Runtime"]

EXECUTOR_TOPIC = "executor"
WORKER_TOPIC = "worker"
#: The queue topic of state changes Flow triggers listen to (`Runtime.announced_states`): put in
#: the transaction that changes the state, so none is lost in a crash.
STATES_TOPIC = "execution-states"
LEASE = 60.0
STARTED_EVENT_AFTER = 0.1
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def set_soon(loop: asyncio.AbstractEventLoop | None, event: asyncio.Event | None) -> None:
    """Set `event` of `loop` from any thread (at once when called in the loop itself): how a
    store callback or another process's wake-up reaches a loop waiting on it."""
    if loop is None or event is None or loop.is_closed():
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        event.set()
    else:
        loop.call_soon_threadsafe(event.set)


def new_id() -> str:
    """Kestra-style id: a random UUID in base 62 (22 characters)."""
    return base62(uuid.uuid4().int)


def base62(n: int) -> str:
    """A 128-bit number as Kestra writes ids: base 62, 22 characters."""
    out = []
    while n:
        n, r = divmod(n, 62)
        out.append(_B62[r])
    return "".join(reversed(out)).rjust(22, "0")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class LogEntry:
    execution_id: str
    task_run_id: str | None
    task_id: str | None
    attempt: int | None
    level: str
    timestamp: datetime
    message: str

    def to_row(self) -> dict[str, Any]:
        return {
            "execution_id": self.execution_id,
            "task_run_id": self.task_run_id,
            "task_id": self.task_id,
            "attempt": self.attempt,
            "level": self.level,
            "timestamp": self.timestamp,
            "message": self.message,
        }


class _Ports:
    """What the pure executor needs, bound to this runtime."""

    def __init__(self, runtime: Runtime, flow: Flow) -> None:
        self._rt = runtime
        self._flow = flow

    def task_class(self, node: TaskNode) -> type:
        return self._rt.plugins.load_class(node.type)

    def render(
        self, execution: Execution, task_run: TaskRun | None, value: Any, variables: Mapping[str, Any] | None = None
    ) -> Any:
        context = self._rt.variables(execution, self._flow, task_run)
        if variables:
            context = overlay(context, variables)
        return self._rt.expressions.render_value(value, context)

    def new_id(self) -> str:
        return new_id()


class Runtime:
    """Runs executions of flows; use as `async with Runtime(settings) as rt:`."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        plugins: PluginManager | None = None,
        on_log: Callable[[LogEntry], None] | None = None,
        run_worker: bool = True,
        run_executor: bool = True,
    ) -> None:
        from tercel.expressions import ExpressionEngine
        from tercel.kv import KVStore
        from tercel.secrets import EnvSecretBackend, SecretMasker
        from tercel.storage import LocalStorage
        from tercel.store import Database

        self.settings = settings or Settings()
        self.settings.home.mkdir(parents=True, exist_ok=True)
        self.plugins = (plugins or self.settings.plugin_manager()).discover()
        self.db = Database.open(str(self.settings.database_url))
        self.db.create_schema()
        assert self.settings.storage_path is not None
        self.storage = LocalStorage(self.settings.storage_path)
        self.kv = KVStore(self.storage)
        self.secrets = EnvSecretBackend()
        self.masker = SecretMasker()
        self.expressions = ExpressionEngine(
            functions=self.plugins.collect("tercel_expression_functions"),
            filters=self.plugins.collect("tercel_expression_filters"),
        )
        self.envs = {k[4:].lower(): v for k, v in os.environ.items() if k.startswith("ENV_")}
        self.on_log = on_log
        self._run_worker = run_worker
        self._run_executor = run_executor
        self._consumer = f"{socket.gethostname()}:{os.getpid()}:{new_id()[:6]}"
        self._flows: dict[tuple[str, str, int], Flow] = {}
        self._executors: dict[tuple[str, str, int], Executor] = {}
        self._executions: dict[str, Execution] = {}
        self._waiters: dict[str, list[asyncio.Future[Execution]]] = {}
        self._logs: list[LogEntry] = []
        self._running: dict[str, tuple[asyncio.Task[Any], TaskRunContext | None]] = {}
        self._threads = ThreadPoolExecutor(self.settings.worker_threads, thread_name_prefix="tercel-task")
        self._hosts: Any = None
        self._wake_executor = asyncio.Event()
        self._wake_worker = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: Any = None  # the open transaction while an execution is advanced (one per thread)
        self._next_delayed: float | None = None  # when this process's next delayed event is due
        self._finished_listeners: list[Callable[[Execution], Any]] = []
        self._flow_listeners: list[Callable[[str, str], Any]] = []
        self._listener_tasks: set[asyncio.Future[Any]] = set()
        self._pg_listener: Any = None
        #: The execution states whose every reaching is queued on `STATES_TOPIC` (in the same
        #: transaction): the scheduler sets it to what its Flow triggers listen to.
        self.announced_states: frozenset[str] = frozenset()
        #: Handlers of the worker jobs that are not task runs, by their `kind` (the scheduler
        #: registers "poll": a polling trigger's check runs on a worker).
        self.job_handlers: dict[str, Callable[[dict[str, Any]], Any]] = {}

    # -- lifecycle -----------------------------------------------------------------------------
    async def __aenter__(self) -> Runtime:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake_executor = asyncio.Event()
        self._wake_worker = asyncio.Event()
        self.db.queue.add_listener(self._on_queue_put)
        if self.db.dialect == "postgresql" and (self._run_executor or self._run_worker):
            # jobs put by other processes (an API process, other executors and workers) wake
            # this one at once instead of at its next poll
            from tercel.store import PostgresListener

            self._pg_listener = PostgresListener(
                str(self.settings.database_url), self._on_queue_put, on_reconnect=self._wake_all,
                application_name="tercel-runtime",
            )
            try:
                await asyncio.to_thread(self._pg_listener.start)
            except Exception as exc:  # wake-ups are a hint: the loops poll every second anyway
                import logging

                logging.getLogger("tercel.runtime").warning("no wake-ups from other processes: %s", exc)
                self._pg_listener = None
        if self._run_executor:
            self._tasks.append(asyncio.create_task(self._executor_loop(), name="tercel-executor"))
        if self._run_worker:
            self._tasks.append(asyncio.create_task(self._worker_loop(), name="tercel-worker"))
            self._tasks.append(asyncio.create_task(self._heartbeat_loop(), name="tercel-heartbeat"))
        self._tasks.append(asyncio.create_task(self._log_flush_loop(), name="tercel-logs"))

    async def stop(self) -> None:
        """Stop the loops; running task runs are handed back (their jobs return to the queue)."""
        self._stopping = True
        self._wake_executor.set()
        self._wake_worker.set()
        jobs = []
        for task, ctx in list(self._running.values()):
            if ctx is not None:
                ctx.cancel()
            task.cancel()
            jobs.append(task)
        if jobs:  # let each one hand its job back before the database closes
            await asyncio.wait(jobs, timeout=10)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._hosts is not None:
            with contextlib.suppress(Exception):
                await self._hosts.close()
            self._hosts = None
        self._flush_logs()
        self.db.queue.remove_listener(self._on_queue_put)
        if self._pg_listener is not None:
            await asyncio.to_thread(self._pg_listener.stop)
            self._pg_listener = None
        self._threads.shutdown(wait=False, cancel_futures=True)
        self.db.close()

    def add_finished_listener(self, callback: Callable[[Execution], Any]) -> None:
        """Call `callback(execution)` (after its commit) whenever this process ends an execution:
        what Flow triggers and `--follow` clients hear. A coroutine function is scheduled as a task;
        an error in a listener is logged, never raised into the engine."""
        self._finished_listeners.append(callback)

    def _announce_finished(self, ex: Execution) -> None:
        import logging

        for callback in list(self._finished_listeners):
            try:
                result = callback(ex)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    self._listener_tasks.add(task)  # kept until done (the loop holds weak refs)
                    task.add_done_callback(self._listener_tasks.discard)
            except Exception:
                logging.getLogger("tercel.runtime").exception("a finished-execution listener failed")

    def _wake_all(self) -> None:
        self._on_queue_put(EXECUTOR_TOPIC)
        self._on_queue_put(WORKER_TOPIC)

    def _on_queue_put(self, topic: str) -> None:
        loop = self._loop
        if loop is None:
            return
        if topic not in (EXECUTOR_TOPIC, WORKER_TOPIC):
            return
        set_soon(loop, self._wake_executor if topic == EXECUTOR_TOPIC else self._wake_worker)

    # -- flows ---------------------------------------------------------------------------------
    def add_flow_listener(self, callback: Callable[[str, str], Any]) -> None:
        """Call `callback(namespace, flow_id)` after a flow is saved or deleted through this
        runtime (the scheduler re-reads the flow's triggers)."""
        self._flow_listeners.append(callback)

    def _flow_changed(self, namespace: str, flow_id: str) -> None:
        import logging

        for callback in list(self._flow_listeners):
            try:
                callback(namespace, flow_id)
            except Exception:
                logging.getLogger("tercel.runtime").exception("a flow listener failed")

    def delete_flow(self, namespace: str, flow_id: str) -> bool:
        """Delete a flow (a tombstone revision: its history stays); False if there was none."""
        deleted = self.db.flows.delete(namespace, flow_id) is not None
        if deleted:
            self._flow_changed(namespace, flow_id)
        return deleted

    def register_flow(self, flow: Flow, *, persist: bool = True) -> Flow:
        """Store a validated flow (a new revision if its source changed) and keep it ready."""
        if persist:
            flow.revision = self.db.flows.save(flow.namespace, flow.id, flow.source, lock=flow.lock)
            self._flow_changed(flow.namespace, flow.id)
        key = (flow.namespace, flow.id, flow.revision)
        self._flows[key] = flow
        self._executors[key] = Executor(flow, _Ports(self, flow), error_message=self._error_text)
        return flow

    def load_flow_source(self, source: str | bytes, *, name: str | None = None) -> Flow:
        """Parse and validate a flow against the installed plugins (nothing stored);
        `FlowSyntaxError`/`FlowValidationError` list every problem with its position."""
        from tercel.flows import load_flow

        return load_flow(source, self.plugins, name=name, check_expression=self.expressions.check)

    def deploy_flow(self, source: str | bytes, *, name: str | None = None) -> Flow:
        """Validate and store a flow: a new revision when its source changed (kept byte for byte)."""
        return self.register_flow(self.load_flow_source(source, name=name))

    def get_flow(self, namespace: str, flow_id: str, revision: int | None = None) -> Flow | None:
        """A stored flow (the latest revision unless one is named), or None if there is none."""
        try:
            return self._flow_for(namespace, flow_id, revision, None)
        except TercelError:
            return None

    def _executor_for(self, ex: Execution) -> Executor:
        key = (ex.namespace, ex.flow_id, ex.flow_revision)
        executor = self._executors.get(key)
        if executor is None:
            record = self.db.flows.get(ex.namespace, ex.flow_id, ex.flow_revision, conn=self._conn)
            if record is None:
                raise TercelError(f"flow {ex.namespace}.{ex.flow_id} revision {ex.flow_revision} is gone")
            from tercel.flows import load_flow

            flow = load_flow(record.source, self.plugins, name=f"{ex.namespace}.{ex.flow_id}", lock=record.lock)
            flow.revision = record.revision
            self.register_flow(flow, persist=False)
            executor = self._executors[key]
        return executor

    def _error_text(self, exc: BaseException) -> str:
        if isinstance(exc, TercelError | TaskFailed | ValueError):
            return self.masker.mask(str(exc))
        return self.masker.mask(f"{type(exc).__name__}: {exc}")

    # -- executions ----------------------------------------------------------------------------
    def variables(self, ex: Execution, flow: Flow, task_run: TaskRun | None) -> dict[str, Any]:
        outputs = outputs_map(ex)  # kept up to date on the execution, not rebuilt per call
        node_type = flow.tasks[task_run.task_id].type if task_run is not None and task_run.task_id in flow.tasks else None
        variables = build_variables(
            ex, flow.variables, task_run, task_type=node_type, envs=self.envs, outputs=outputs,
            functions=execution_functions(self, ex),
        )
        final = ex.variables.get("__finalState")
        if final:
            variables["execution"]["state"] = final
        return variables

    def create_execution(
        self,
        flow: Flow,
        inputs: Mapping[str, Any] | None = None,
        *,
        labels: Mapping[str, str] | None = None,
        trigger: dict[str, Any] | None = None,
        local_files: bool = True,
        execution_id: str | None = None,
        conn: Any = None,
    ) -> Execution:
        """Validate the inputs, store a CREATED execution and queue its start.

        With `conn`, the execution is stored in that open transaction (a scheduler records its
        trigger's new state in the same one: a date fires once or not at all)."""
        ex = self._prepare_execution(
            flow, inputs, labels=labels, trigger=trigger, execution_id=execution_id, local_files=local_files
        )
        if conn is not None:
            self._insert_execution(ex, conn)
            return ex
        with self.db.transaction() as own:
            self._insert_execution(ex, own)
        self._executions[ex.id] = ex
        return ex

    def _prepare_execution(
        self,
        flow: Flow,
        inputs: Mapping[str, Any] | None,
        *,
        labels: Mapping[str, str] | None,
        trigger: dict[str, Any] | None,
        execution_id: str | None = None,
        local_files: bool = True,
    ) -> Execution:
        """A CREATED execution with its inputs checked and typed (`InputsError` otherwise)."""
        from tercel.inputs import resolve_inputs
        from tercel.storage import input_file_uri

        execution_id = execution_id or new_id()

        def store_file(input_id: str, filename: str, data: bytes) -> str:
            uri = input_file_uri(flow.namespace, flow.id, execution_id, input_id, filename)
            return self.storage.put(uri, data)

        def render(value: Any, context: Mapping[str, Any]) -> Any:
            return self.expressions.render_value(value, {**context, "flow": {"id": flow.id, "namespace": flow.namespace}})

        typed_inputs = resolve_inputs(
            flow.inputs, dict(inputs or {}), render=render, store_file=store_file, on_secret=self.masker.add, local_files=local_files
        )
        now = utcnow()
        ex = Execution(
            id=execution_id,
            namespace=flow.namespace,
            flow_id=flow.id,
            flow_revision=flow.revision,
            state=RunState.new(State.CREATED, now),
            labels={**flow.labels, **dict(labels or {})},
            inputs=typed_inputs,
            plugins=dict(flow.lock),
            trigger=trigger,
        )
        return ex

    def _insert_execution(self, ex: Execution, conn: Any, delay: float = 0.0) -> None:
        """Store a prepared execution and queue its start (after `delay` seconds)."""
        ex.version = self.db.executions.create(encode_header(ex), [], conn=conn)
        if delay > 0:
            self._put_later({"kind": "start", "execution": ex.id}, delay, conn)
        else:
            self.db.queue.put(EXECUTOR_TOPIC, ion.dumps({"kind": "start", "execution": ex.id}), key=ex.id, conn=conn)

    # -- subflows ------------------------------------------------------------------------------
    def _flow_for(self, namespace: str, flow_id: str, revision: int | None, conn: Any) -> Flow:
        """A stored flow (its latest revision unless one is named), loaded and ready."""
        record = self.db.flows.get(namespace, flow_id, revision, conn=conn)
        if record is None:
            which = f" revision {revision}" if revision is not None else ""
            raise TercelError(f"flow {namespace}.{flow_id}{which} does not exist")
        key = (namespace, flow_id, record.revision)
        flow = self._flows.get(key)
        if flow is None:
            from tercel.flows import load_flow

            flow = load_flow(record.source, self.plugins, name=f"{namespace}.{flow_id}", lock=record.lock)
            flow.revision = record.revision
            self.register_flow(flow, persist=False)
        return flow

    def _start_subflows(self, ex: Execution, effect: StartSubflows, conn: Any) -> None:
        """Create every execution a flowable asked for, in the caller's transaction (all or none),
        and tell the flowable what was started."""
        parent_tr = ex.task_run(effect.task_run_id)
        correlation = ex.labels.get("system.correlationId", ex.id)
        started: list[dict[str, Any]] = []
        error = None
        prepared: list[tuple[Execution, float]] = []
        try:  # every child is checked before any is stored: all or none
            for child_id, request in effect.children:
                flow = self._flow_for(request.namespace, request.flow_id, request.revision, conn)
                trigger = {
                    "type": "io.kestra.plugin.core.flow.Subflow",
                    "id": parent_tr.task_id,
                    "executionId": ex.id,
                    "namespace": ex.namespace,
                    "flowId": ex.flow_id,
                    "flowRevision": ex.flow_revision,
                    "taskRunId": parent_tr.id,
                    "iteration": request.iteration,
                    "wait": request.wait,
                    "outputs": dict(request.outputs) if request.outputs else None,
                    "outputsUri": request.outputs_uri,
                }
                labels = {**dict(request.labels), "system.correlationId": correlation}
                child = self._prepare_execution(
                    flow, request.inputs, labels=labels, trigger=trigger, execution_id=child_id, local_files=False
                )
                prepared.append((child, request.schedule_delay.total_seconds() if request.schedule_delay else 0.0))
                started.append({"executionId": child_id, "iteration": request.iteration, "wait": request.wait})
        except Exception as exc:
            started, prepared = [], []
            error = f"task '{parent_tr.task_id}': subflow execution not created: {self._error_text(exc)}"
        for child, delay in prepared:
            self._insert_execution(child, conn, delay)
        event = {"kind": "subflows-started", "execution": ex.id, "taskRun": parent_tr.id, "started": started, "error": error}
        self.db.queue.put(EXECUTOR_TOPIC, ion.dumps(event), key=ex.id, conn=conn)

    def _notify_parent(self, ex: Execution, conn: Any) -> None:
        """A subflow execution ended: its parent's flowable hears of it (if it waits)."""
        trigger = ex.trigger or {}
        if trigger.get("type") != "io.kestra.plugin.core.flow.Subflow" or not trigger.get("wait"):
            return
        outputs = dict(ex.outputs)
        extra = trigger.get("outputs")
        if extra:  # Kestra's deprecated Subflow `outputs`: rendered in the child's context
            try:
                flow = self._executor_for(ex).flow
                outputs.update(self.expressions.render_value(extra, self.variables(ex, flow, None)))
            except Exception as exc:
                self._log(LogEntry(ex.id, None, None, None, "ERROR", utcnow(), f"subflow outputs: {self._error_text(exc)}"))
        if trigger.get("outputsUri"):  # ForEachItem merges these files at its end
            try:
                self.check_file_access(str(trigger["namespace"]), str(trigger["outputsUri"]))
                self.storage.put(str(trigger["outputsUri"]), ion.dumps(outputs))
            except Exception as exc:
                self._log(LogEntry(ex.id, None, None, None, "ERROR", utcnow(), f"subflow outputs not stored: {self._error_text(exc)}"))
        result = {
            "executionId": ex.id,
            "state": ex.state.current.value,
            "outputs": outputs,
            "iteration": trigger.get("iteration"),
            "error": ex.error,
        }
        event = {"kind": "subflow", "execution": trigger["executionId"], "taskRun": trigger["taskRunId"], "result": result}
        self.db.queue.put(EXECUTOR_TOPIC, ion.dumps(event), key=trigger["executionId"], conn=conn)

    def _kill_subflows(self, ex: Execution, conn: Any) -> None:
        """Kill what this execution started and still runs (the kill cascades down)."""
        correlation = ex.labels.get("system.correlationId", ex.id)
        children = self.db.executions.find(
            labels={"system.correlationId": correlation},
            state=["CREATED", "QUEUED", "RUNNING", "PAUSED", "RETRYING"],
            limit=100_000,
            conn=conn,
        )
        for child in children:
            if (decode_typed(child.get("trigger")) or {}).get("executionId") == ex.id:
                self.db.queue.put(EXECUTOR_TOPIC, ion.dumps({"kind": "kill", "execution": child["id"]}), key=child["id"], conn=conn)

    def change_labels(self, execution_id: str, change: Callable[[dict[str, str]], dict[str, str]]) -> bool:
        """Set an ended execution's labels to `change(current labels)`, under its lock and version
        check (`ConcurrentModification` if it moved meanwhile); False if there is no such
        execution. A running execution's labels are the executor's to write: refused."""
        with self.db.transaction() as conn, self.db.lock_execution(execution_id, conn):
            found = self.db.executions.get(execution_id, conn=conn)
            if found is None:
                return False
            header, _ = found
            from tercel.store import VERSION_KEY

            version = header.pop(VERSION_KEY)
            state = State(header["state"]["current"])
            if not state.is_terminated:
                raise TercelError(f"execution {execution_id} is {state.value}: labels can be changed once it has ended")
            current = header.get("labels") or {}
            if isinstance(current, list):  # Kestra's form
                current = {i["key"]: i.get("value") for i in current if isinstance(i, dict) and "key" in i}
            header["labels"] = change(dict(current))
            self.db.executions.save(header, [], expected_version=version, conn=conn)
        self._executions.pop(execution_id, None)
        return True

    def restart_execution(self, execution_id: str) -> None:
        """Run the failed task runs of an ended execution again, in the same execution."""
        from tercel.engine import prepare_restart

        self._executions.pop(execution_id, None)  # read it afresh, under the lock
        with self.db.transaction() as conn, self.db.lock_execution(execution_id, conn):
            self._conn = conn
            try:
                ex = self._load(execution_id, conn)
                if ex is None:
                    raise TercelError(f"no execution {execution_id!r}")
                executor = self._executor_for(ex)
                try:
                    plan = prepare_restart(executor.flow, ex, utcnow(), executor._instance)
                except RestartError as exc:
                    raise TercelError(str(exc)) from None
                ex.version = self.db.executions.save(
                    encode_header(ex), [encode_task_run(tr) for tr in ex.task_runs],
                    expected_version=ex.version, removed_task_runs=plan.removed, conn=conn,
                )
                self.db.queue.put(EXECUTOR_TOPIC, ion.dumps({"kind": "restarted", "execution": ex.id}), key=ex.id, conn=conn)
                self._log(LogEntry(ex.id, None, None, None, "INFO", utcnow(), f"execution {ex.id} restarted"))
            except BaseException:
                self._executions.pop(execution_id, None)
                raise
            finally:
                self._conn = None
        for child in plan.subflows:  # Subflow's RETRY_FAILED: the failed subflow restarts in place
            try:
                self.restart_execution(child)
            except TercelError as exc:  # gone or not restartable: the parent hears how it ended
                self._log(LogEntry(execution_id, None, None, None, "WARN", utcnow(), f"subflow execution {child} not restarted: {exc}"))
                ended = self.get_execution(child)
                if ended is not None:
                    with self.db.transaction() as conn:
                        self._notify_parent(ended, conn)

    def replay_execution(self, execution_id: str, task_run_id: str | None = None, *, revision: int | None = None) -> Execution:
        """A new execution replaying this one from a task run (or from the start), optionally on
        another revision of the flow."""
        from tercel.engine import prepare_replay

        ex = self.get_execution(execution_id)
        if ex is None:
            raise TercelError(f"no execution {execution_id!r}")
        with self.db.transaction() as conn:
            flow = self._flow_for(ex.namespace, ex.flow_id, revision or ex.flow_revision, conn)
            try:
                replay = prepare_replay(flow, ex, task_run_id, new_id, utcnow(), revision=flow.revision)
            except RestartError as exc:
                raise TercelError(str(exc)) from None
            replay.version = self.db.executions.create(encode_header(replay), [encode_task_run(tr) for tr in replay.task_runs], conn=conn)
            kind = "restarted" if replay.state.current is State.RESTARTED else "start"
            self.db.queue.put(EXECUTOR_TOPIC, ion.dumps({"kind": kind, "execution": replay.id}), key=replay.id, conn=conn)
        return replay

    def resume_execution(self, execution_id: str, inputs: Mapping[str, Any] | None = None, *, by: str | None = None) -> None:
        """Resume a PAUSED execution; `inputs` answer its paused Pause tasks' `onResume`."""
        from tercel.inputs import resolve_inputs

        ex = self.get_execution(execution_id)
        if ex is None:
            raise TercelError(f"no execution {execution_id!r}")
        if ex.state.current is not State.PAUSED:
            raise TercelError(f"execution {execution_id} is {ex.state.current.value}, not PAUSED: there is nothing to resume")
        flow = self._executor_for(ex).flow
        declarations: list[dict[str, Any]] = []
        for tr in ex.task_runs:
            if tr.state.current is State.PAUSED:
                declarations += list(flow.tasks[tr.task_id].spec.get("onResume") or ())
        try:
            typed = resolve_inputs(declarations, dict(inputs or {}), on_secret=self.masker.add, local_files=False)
        except Exception as exc:
            raise TercelError(f"execution {execution_id} cannot resume: {exc}") from None
        self.db.queue.put(EXECUTOR_TOPIC, ion.dumps({"kind": "unpause", "execution": ex.id, "inputs": typed, "by": by}), key=ex.id)

    def _start_next_queued(self, ended: Execution, conn: Any) -> None:
        """A slot of the flow freed up: the oldest QUEUED execution of the flow gets a start."""
        if not (self._flows_spec(ended).get("concurrency") or {}).get("limit"):
            return
        queued = self.db.executions.find(namespace=ended.namespace, flow_id=ended.flow_id, state="QUEUED", limit=1000, conn=conn)
        if queued:
            oldest = queued[-1]  # find() returns the newest first
            self.db.queue.put(EXECUTOR_TOPIC, ion.dumps({"kind": "start", "execution": oldest["id"]}), key=oldest["id"], conn=conn)

    def _flows_spec(self, ex: Execution) -> dict[str, Any]:
        return self._executor_for(ex).flow.spec

    def _retry_as_new_execution(self, failed: Execution, conn: Any) -> Execution:
        """A new execution of the same flow revision with the same inputs and labels."""
        now = utcnow()
        ex = Execution(
            id=new_id(),
            namespace=failed.namespace,
            flow_id=failed.flow_id,
            flow_revision=failed.flow_revision,
            state=RunState.new(State.CREATED, now),
            labels=dict(failed.labels),
            inputs=dict(failed.inputs),
            plugins=dict(failed.plugins),
            trigger=failed.trigger,
            original_id=failed.original_id or failed.id,
            attempt_number=failed.attempt_number + 1,
            original_start=failed.original_start or failed.state.start_date,
        )
        ex.version = self.db.executions.create(encode_header(ex), [], conn=conn)
        self.db.queue.put(EXECUTOR_TOPIC, ion.dumps({"kind": "start", "execution": ex.id}), key=ex.id, conn=conn)
        self._log(LogEntry(failed.id, None, None, None, "INFO", now, f"flow retry: execution {ex.id} started (attempt {ex.attempt_number})"))
        return ex

    def _queue_state(self, ex: Execution, conn: Any) -> None:
        """Queue the state `ex` just reached for the Flow triggers, if one listens to it: in the
        transaction that stores it, so the triggers hear it even if this process dies now.
        `step` (how many states it went through) tells a second reaching (a restart) apart."""
        state = ex.state.current.value
        if state in self.announced_states:
            event = {
                "execution": ex.id, "state": state, "step": len(ex.state.histories),
                # enough for a scheduler to see it matters to none of its triggers without reading it
                "namespace": ex.namespace, "flowId": ex.flow_id, "triggerId": (ex.trigger or {}).get("id"),
            }
            self.db.queue.put(STATES_TOPIC, ion.dumps(event), key=ex.id, conn=conn)

    def kill(self, execution_id: str, *, propagate: bool = True) -> None:
        """Kill an execution; what it runs is told to stop and, with `propagate`, the subflow
        executions it started are killed too (Kestra's kill cascade)."""
        event = {"kind": "kill", "execution": execution_id, "propagate": propagate}
        self.db.queue.put(EXECUTOR_TOPIC, ion.dumps(event), key=execution_id)

    def get_execution(self, execution_id: str) -> Execution | None:
        found = self.db.executions.get(execution_id)
        if found is None:
            return None
        header, runs = found
        from tercel.store import VERSION_KEY

        return decode_execution(header, runs, header.pop(VERSION_KEY, 0))

    async def wait(self, execution_id: str, timeout: float | None = None) -> Execution:
        """Wait until the execution ends and return it.

        Woken at once when this process ends it; the store is also checked every second, so an
        execution advanced by another process (distributed mode) is seen too. That check reads
        the execution's header only (its state), and nothing more while its version is unchanged;
        the whole execution is read once, when it has ended.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        fut: asyncio.Future[Execution] = loop.create_future()
        self._waiters.setdefault(execution_id, []).append(fut)
        seen: tuple[int, State] | None = None
        try:
            while True:
                seen = self._stored_state(execution_id, seen)
                if seen is None:
                    raise TercelError(f"no execution {execution_id!r}")
                if seen[1].is_terminated:
                    ex = self.get_execution(execution_id)
                    if ex is None:
                        raise TercelError(f"no execution {execution_id!r}")
                    if ex.state.current.is_terminated:
                        return ex
                step = 1.0 if deadline is None else min(1.0, deadline - loop.time())
                if step <= 0:
                    raise TimeoutError(f"execution {execution_id} still {seen[1].value}")
                with contextlib.suppress(asyncio.TimeoutError):
                    return await asyncio.wait_for(asyncio.shield(fut), step)
        finally:
            waiters = self._waiters.get(execution_id)
            if waiters and fut in waiters:
                waiters.remove(fut)
                if not waiters:
                    self._waiters.pop(execution_id, None)

    def _stored_state(self, execution_id: str, seen: tuple[int, State] | None) -> tuple[int, State] | None:
        """The stored (version, state) of an execution, or None if there is none; `seen` is
        the last answer: while the version is the same, the header is not read again."""
        with self.db.transaction(readonly=True) as conn:
            if seen is not None:
                row = self.db.run(conn, "executions.version", {"b_id": execution_id}).fetchone()
                if row is not None and int(row[0]) == seen[0]:
                    return seen
            row = self.db.run(conn, "executions.get", {"b_id": execution_id}).fetchone()
        if row is None:
            return None
        import json

        document = row[0]
        header = json.loads(document) if isinstance(document, str | bytes) else document
        return int(row[1]), State(header["state"]["current"])

    def _load(self, execution_id: str, conn: Any) -> Execution | None:
        from tercel.store import VERSION_KEY

        cached = self._executions.get(execution_id)
        found = self.db.executions.get(execution_id, conn=conn) if cached is None else None
        if cached is not None:
            return cached
        if found is None:
            return None
        header, runs = found
        ex = decode_execution(header, runs, header.pop(VERSION_KEY, 0))
        self._executions[ex.id] = ex
        return ex

    # -- executor loop -------------------------------------------------------------------------
    async def _executor_loop(self) -> None:
        # after a restart: executions left RUNNING are re-settled once
        await self._recover()
        limit = 128
        while not self._stopping:
            self._wake_executor.clear()
            jobs = self.db.queue.claim(EXECUTOR_TOPIC, self._consumer, limit=limit, lease=LEASE)
            if jobs:
                by_execution: dict[str, list[Any]] = {}
                for job in jobs:
                    by_execution.setdefault(job.key or "", []).append(job)
                for execution_id, group in by_execution.items():
                    self._process(execution_id, group)
                if len(jobs) == limit:
                    await asyncio.sleep(0)
                    continue  # more may be waiting
            # whatever is put from now on sets the event (it was cleared before the claim), so
            # waiting here never misses work; delayed jobs of this process wake us on time, and
            # a poll each second catches other processes' delayed jobs
            timeout = 1.0
            if self._next_delayed is not None:
                timeout = max(0.0, min(timeout, self._next_delayed - time.monotonic()))
                if timeout == 0.0:
                    self._next_delayed = None
                    continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake_executor.wait(), timeout=timeout)

    async def _recover(self) -> None:
        """After a restart, re-settle executions that were moving (idempotent: nothing runs twice)."""
        running: list[dict[str, Any]] = []
        for state in ("RUNNING", "KILLING"):
            with contextlib.suppress(Exception):
                running += self.db.executions.find(state=state, limit=1000)
        for header in running:
            if header["id"] in self._executions:
                continue
            self.db.queue.put(EXECUTOR_TOPIC, ion.dumps({"kind": "resume", "execution": header["id"]}), key=header["id"])

    def _process(self, execution_id: str, jobs: list[Any]) -> None:
        """Apply a batch of events to one execution in one transaction."""
        from tercel.store import ConcurrentModification

        finished: list[Execution] = []
        try:
            with self.db.transaction() as conn, self.db.lock_execution(execution_id, conn):
                self._conn = conn
                ex = self._load(execution_id, conn)
                if ex is None:  # deleted meanwhile: its events have nothing left to move
                    self.db.queue.ack([j.id for j in jobs], conn=conn)
                    self._conn = None
                    return
                executor = self._executor_for(ex)
                total = Step()
                now = utcnow()
                before = ex.state.current
                for job in jobs:
                    event = ion.loads(job.payload)
                    if event["kind"] == "new-execution":  # flow retry: CREATE_NEW_EXECUTION
                        self._retry_as_new_execution(ex, conn)
                        continue
                    step = self._apply(executor, ex, event, now)
                    total.changed.update(step.changed)
                    total.effects.extend(step.effects)
                    total.header_changed |= step.header_changed
                    total.removed.extend(step.removed)
                if total.changed or total.header_changed or total.removed:
                    removed = set(total.removed)
                    ex.version = self.db.executions.save(
                        encode_header(ex),
                        [encode_task_run(tr) for tr in total.changed.values() if tr.id not in removed],
                        expected_version=ex.version,
                        removed_task_runs=sorted(removed),
                        conn=conn,
                    )
                self._carry_out(ex, total, conn)
                self.db.queue.ack([j.id for j in jobs], conn=conn)
                if ex.state.current is not before:
                    self._queue_state(ex, conn)
                if total.finished:
                    finished.append(ex)
                    self._notify_parent(ex, conn)
                    self._start_next_queued(ex, conn)
                    first_start = ex.original_start or ex.state.start_date or now
                    delay = executor.new_execution_delay(ex, first_start, now)
                    if delay is not None:
                        self._log(LogEntry(ex.id, None, None, None, "WARN", now, f"flow retry: a new execution starts in {delay:g}s (attempt {ex.attempt_number + 1})"))
                        self._put_later({"kind": "new-execution", "execution": ex.id}, delay, conn)
            self._conn = None
        except ConcurrentModification:
            self._conn = None
            self._executions.pop(execution_id, None)  # someone else moved it: reload next time
            for job in jobs:
                self.db.queue.release(job.id)
            return
        except Exception as exc:  # a bug must not kill the loop; the execution fails visibly
            self._conn = None
            self._executions.pop(execution_id, None)
            self._record_crash(execution_id, exc)
            self.db.queue.ack([j.id for j in jobs])
            return
        for ex in finished:
            import shutil

            shutil.rmtree(self.settings.tmp_dir / ex.id, ignore_errors=True)  # shared working directories left by a kill
            self._flush_logs()
            self._executions.pop(ex.id, None)
            for fut in self._waiters.pop(ex.id, []):
                if not fut.done():
                    fut.set_result(ex)
            self._announce_finished(ex)

    def _record_crash(self, execution_id: str, exc: BaseException) -> None:
        import traceback

        message = f"internal error while advancing the execution: {type(exc).__name__}: {exc}"
        self._log(LogEntry(execution_id, None, None, None, "ERROR", utcnow(), message + "\n" + traceback.format_exc()))
        ex = self.get_execution(execution_id)
        if ex is None or ex.state.current.is_terminated:
            return
        ex.error = message
        ex.state.to(State.FAILED, utcnow())
        try:
            with self.db.transaction() as conn:
                self.db.executions.save(encode_header(ex), [], expected_version=ex.version, conn=conn)
                self._queue_state(ex, conn)
        except Exception:
            return  # not recorded: it is advanced again after a restart
        for fut in self._waiters.pop(execution_id, []):
            if not fut.done():
                fut.set_result(ex)
        self._announce_finished(ex)  # Flow triggers hear of this end too

    def _apply(self, executor: Executor, ex: Execution, event: dict[str, Any], now: datetime) -> Step:
        kind = event["kind"]
        if kind == "start":
            running = 0
            limit = (executor.flow.spec.get("concurrency") or {}).get("limit")
            if isinstance(limit, int):
                others = self.db.executions.find(
                    namespace=ex.namespace, flow_id=ex.flow_id, state=["RUNNING", "KILLING"], limit=limit + 1, conn=self._conn
                )
                running = sum(1 for h in others if h["id"] != ex.id)
            return executor.start(ex, now, running)
        if kind == "started":
            return executor.task_started(ex, event["taskRun"], event["attempt"], event["at"])
        if kind == "result":
            result = TaskResult(
                task_run_id=event["taskRun"],
                attempt=event["attempt"],
                state=State(event["state"]),
                started_at=event["startedAt"],
                ended_at=event["endedAt"],
                outputs=event.get("outputs"),
                error=event.get("error"),
                metrics=list(event.get("metrics") or ()),
                updates=event.get("updates"),
                log_file=event.get("logFile"),
            )
            return executor.task_finished(ex, result, now)
        if kind == "retry":
            return executor.retry_due(ex, event["taskRun"], now)
        if kind == "wake":
            return executor.wake(ex, event["taskRun"], now)
        if kind == "sla":
            return executor.sla_due(ex, event["sla"], now)
        if kind == "kill":
            return executor.kill(ex, now, propagate=event.get("propagate", True))
        if kind == "resume":
            return executor.resume_all(ex, now)
        if kind == "restarted":
            return executor.start_restarted(ex, now)
        if kind == "unpause":
            return executor.resume(ex, now, event.get("inputs"), event.get("by"))
        if kind == "subflows-started":
            return executor.subflows_started(ex, event["taskRun"], list(event.get("started") or ()), event.get("error"), now)
        if kind == "subflow":
            return executor.subflow_ended(ex, event["taskRun"], event["result"], now)
        raise TercelError(f"unknown executor event {kind!r}")

    def _carry_out(self, ex: Execution, step: Step, conn: Any) -> None:
        jobs: list[bytes] = []
        for effect in step.effects:
            if isinstance(effect, Dispatch):
                job = {"execution": ex.id, "taskRun": effect.task_run_id, "attempt": effect.attempt, "version": ex.version}
                phase = ex.task_run(effect.task_run_id).work_pending
                if phase is not None:
                    job["phase"] = phase
                jobs.append(ion.dumps(job))
            elif isinstance(effect, StartSubflows):
                self._start_subflows(ex, effect, conn)
            elif isinstance(effect, KillSubflows):
                self._kill_subflows(ex, conn)
            elif isinstance(effect, Delay):
                self._put_later({"kind": "retry", "execution": ex.id, "taskRun": effect.task_run_id}, effect.seconds, conn)
            elif isinstance(effect, FlowableTimer):
                self._put_later({"kind": "wake", "execution": ex.id, "taskRun": effect.task_run_id}, effect.seconds, conn)
            elif isinstance(effect, SlaTimer):
                self._put_later({"kind": "sla", "execution": ex.id, "sla": effect.sla_id}, effect.seconds, conn)
            elif isinstance(effect, Cancel):
                for task, ctx in list(self._running.values()):
                    if ctx is not None and ctx.task_run_id == effect.task_run_id:
                        ctx.cancel()
                        task.cancel()
            elif isinstance(effect, LogEffect):
                tr = ex.find(effect.task_run_id) if effect.task_run_id else None
                self._log(LogEntry(ex.id, effect.task_run_id, effect.task_id, len(tr.attempts) if tr else None, effect.level, utcnow(), self.masker.mask(effect.message)))
            elif isinstance(effect, Finished):
                self._log(LogEntry(ex.id, None, None, None, "INFO" if effect.state.is_success_like else "ERROR", utcnow(), f"execution {ex.id} ended {effect.state.value}"))
        if jobs:
            self.db.queue.put_many(WORKER_TOPIC, jobs, keys=[ex.id] * len(jobs), conn=conn)

    def _put_later(self, event: dict[str, Any], seconds: float, conn: Any) -> None:
        """A delayed executor event; this process's loop wakes on time for it (no polling)."""
        self.db.queue.put(EXECUTOR_TOPIC, ion.dumps(event), key=event["execution"], delay=seconds, conn=conn)
        due = time.monotonic() + seconds
        self._next_delayed = due if self._next_delayed is None else min(self._next_delayed, due)

    # -- worker --------------------------------------------------------------------------------
    async def _worker_loop(self) -> None:
        limit = self.settings.worker_concurrency
        while not self._stopping:
            self._wake_worker.clear()
            room = limit - len(self._running)
            jobs = self.db.queue.claim(WORKER_TOPIC, self._consumer, limit=room, lease=LEASE) if room > 0 else []
            for job in jobs:
                payload = ion.loads(job.payload)
                task = asyncio.create_task(self._run_job(job, payload))
                self._running[str(job.id)] = (task, None)  # the context is set when the job starts
            if jobs and len(jobs) == room:
                await asyncio.sleep(0)
                continue  # there may be more: claim again once they started
            # new jobs and freed slots set the event (cleared before the claim): nothing is missed
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake_worker.wait(), timeout=1.0)

    async def _heartbeat_loop(self) -> None:
        while not self._stopping:
            await asyncio.sleep(LEASE / 3)
            ids = [int(k) for k in self._running]
            if ids:
                with contextlib.suppress(Exception):
                    self.db.queue.extend(ids, LEASE)

    def _worker_execution(self, payload: dict[str, Any]) -> Execution | None:
        ex = self._executions.get(payload["execution"])
        if ex is not None:
            return ex
        return self.get_execution(payload["execution"])

    async def _run_other_job(self, job: Any, payload: dict[str, Any]) -> None:
        """A worker job that is not a task run: its handler runs it (a stopping worker hands it
        back); it is acknowledged once done, even when it failed (it says so in the logs)."""
        import logging

        kind = str(payload["kind"])
        handler = self.job_handlers.get(kind)
        try:
            if handler is None:
                logging.getLogger("tercel.runtime").warning("a %r job was dropped: nothing in this worker runs them", kind)
            else:
                result = handler(payload)
                if inspect.isawaitable(result):
                    await result
        except asyncio.CancelledError:
            if self._stopping:
                with contextlib.suppress(Exception):
                    self.db.queue.release(job.id)  # handed back: runs again after a restart
                self._running.pop(str(job.id), None)
                return
            raise
        except Exception:
            logging.getLogger("tercel.runtime").exception("a %r job failed", kind)
        self._running.pop(str(job.id), None)
        self.db.queue.ack([job.id])
        self._wake_worker.set()

    async def _run_job(self, job: Any, payload: dict[str, Any]) -> None:
        if "kind" in payload:
            await self._run_other_job(job, payload)
            return
        started_at = utcnow()
        ex = self._worker_execution(payload)
        tr = ex.find(payload["taskRun"]) if ex is not None else None
        if ex is None or tr is None or tr.state.current.is_terminated:
            self.db.queue.ack([job.id])
            self._running.pop(str(job.id), None)
            return
        attempt = int(payload["attempt"])
        if tr.state.current is State.KILLING:  # killed before it started: report, don't run
            with self.db.transaction() as conn:
                self.db.queue.put(EXECUTOR_TOPIC, ion.dumps({
                    "kind": "result", "execution": ex.id, "taskRun": tr.id, "attempt": attempt,
                    "state": State.KILLED.value, "startedAt": started_at, "endedAt": utcnow(),
                    "outputs": None, "error": "killed before it started", "metrics": [],
                }), key=ex.id, conn=conn)
                self.db.queue.ack([job.id], conn=conn)
            self._running.pop(str(job.id), None)
            return
        executor = self._executor_for(ex)
        node = executor.flow.tasks[tr.task_id]
        variables = self.variables(ex, executor.flow, tr)
        variables["taskrun"]["attemptsCount"] = attempt - 1  # Kestra counts the attempts already made (0 first)

        to_file = bool(node.spec.get("logToFile"))
        file_lines: list[str] = []

        def emit(level: str, message: str) -> None:
            entry = LogEntry(ex.id, tr.id, tr.task_id, attempt, level, utcnow(), self.masker.mask(message))
            if to_file:  # Kestra's logToFile: kept in a file of the attempt, not the log table
                file_lines.append(f"{iso(entry.timestamp)} {level} {entry.message}\n")
                if self.on_log is not None:
                    with contextlib.suppress(Exception):
                        self.on_log(entry)
            else:
                self._log(entry)

        phase = payload.get("phase")
        ctx = TaskRunContext(self, ex, tr, node, attempt, variables, emit, shared_dir=self._shared_dir(executor, ex, tr))
        current = asyncio.current_task()
        assert current is not None
        self._running[str(job.id)] = (current, ctx)
        state, outputs, error = State.SUCCESS, None, None
        started_sent = False

        async def announce_started() -> None:
            nonlocal started_sent
            await asyncio.sleep(STARTED_EVENT_AFTER)
            started_sent = True
            self.db.queue.put(EXECUTOR_TOPIC, ion.dumps({"kind": "started", "execution": ex.id, "taskRun": tr.id, "attempt": attempt, "at": started_at}), key=ex.id)

        announcer = asyncio.create_task(announce_started())
        cache_uri, cache_ttl = self._task_cache_entry(ex, tr, node) if phase is None else (None, None)
        try:
            cached = self._task_cache_get(cache_uri) if cache_uri else None
            if cached is not None:
                outputs = cached
                emit("INFO", "outputs reused from the task cache")
            else:
                outputs = await self._execute(node, ctx, phase, ex.plugins)
                if cache_uri and cache_ttl is not None:
                    self._task_cache_put(cache_uri, outputs, cache_ttl)
        except asyncio.CancelledError:
            state, error = State.KILLED, "killed"
            if self._stopping:
                announcer.cancel()
                self._running.pop(str(job.id), None)
                ctx.cleanup()
                with contextlib.suppress(Exception):
                    self.db.queue.release(job.id)  # handed back: runs again after a restart
                return
        except TaskWarning as exc:
            state, error = State.WARNING, str(exc)
            outputs = _outputs_dict(exc.outputs)
            emit("WARN", str(exc))
        except _Timeout as exc:
            state, error = State.FAILED, str(exc)
            emit("ERROR", str(exc))
        except (TaskFailed, RenderError, TercelError) as exc:
            state, error = State.FAILED, self.masker.mask(str(exc))
            emit("ERROR", error)
        except Exception as exc:
            import traceback

            state, error = State.FAILED, self.masker.mask(f"{type(exc).__name__}: {exc}")
            emit("ERROR", error + "\n" + self.masker.mask(traceback.format_exc()))
        finally:
            announcer.cancel()
            ctx.cleanup()
        ended_at = utcnow()
        log_file = None
        if to_file and file_lines:
            from tercel.storage import execution_file_uri

            uri = execution_file_uri(ex.namespace, ex.flow_id, ex.id, tr.task_id, tr.id, f"log-attempt-{attempt}.txt")
            log_file = self.storage.put(uri, "".join(file_lines).encode("utf-8"))
        event = {
            "kind": "result",
            "execution": ex.id,
            "taskRun": tr.id,
            "attempt": attempt,
            "state": state.value,
            "startedAt": started_at,
            "endedAt": ended_at,
            "outputs": outputs,
            "error": error,
            "metrics": ctx.metrics,
            "updates": ctx.execution_updates or None,
            "logFile": log_file,
        }
        try:
            data = ion.dumps(event)
        except Exception as exc:
            event.update(state=State.FAILED.value, outputs=None, error=f"task '{tr.task_id}' returned outputs that cannot be stored: {exc}")
            data = ion.dumps(event)
        if state is not State.SUCCESS:
            self._flush_logs()  # errors are stored before the executor reacts (errorLogs())
        with self.db.transaction() as conn:
            self.db.queue.put(EXECUTOR_TOPIC, data, key=ex.id, conn=conn)
            self.db.queue.ack([job.id], conn=conn)
        self._running.pop(str(job.id), None)
        self._wake_worker.set()  # a slot is free: claim more

    async def run_inline_task(self, ctx: TaskRunContext, definition: Mapping[str, Any]) -> dict[str, Any] | None:
        """Run another runnable task inside this task run (`ctx.run_task`, TemplatedTask)."""
        from ._inline import run_inline_task

        return await run_inline_task(self, ctx, definition)

    # -- task cache (Kestra's `taskCache`) -------------------------------------------------------
    def _task_cache_entry(self, ex: Execution, tr: TaskRun, node: TaskNode) -> tuple[str | None, float | None]:
        """Where a task's cached outputs live: keyed by the flow, the task, its definition, its
        loop value and the execution's inputs, so any change misses the cache."""
        spec = node.spec.get("taskCache")
        if not isinstance(spec, dict) or not spec.get("enabled", True):
            return None, None
        import hashlib
        import json

        from tercel_sdk import parse_duration

        from tercel.storage import to_uri

        from ._codec import to_json_ready

        material = json.dumps(
            [ex.namespace, ex.flow_id, tr.task_id, tr.value, to_json_ready(ex.inputs), to_json_ready(node.spec)],
            sort_keys=True, default=str,
        )
        digest = hashlib.sha256(material.encode()).hexdigest()
        uri = to_uri([*ex.namespace.split("."), ex.flow_id, "_task_cache", tr.task_id, f"{digest}.ion"])
        return uri, parse_duration(spec.get("ttl")).total_seconds()

    def _task_cache_get(self, uri: str) -> dict[str, Any] | None:
        try:
            entry = ion.loads(self.storage.get_bytes(uri))
        except Exception:
            return None
        if not isinstance(entry, dict) or entry.get("expires") is None or entry["expires"] <= utcnow():
            return None
        return entry.get("outputs") or {}

    def _task_cache_put(self, uri: str, outputs: dict[str, Any] | None, ttl: float) -> None:
        from datetime import timedelta

        with contextlib.suppress(Exception):  # a cache that cannot be written is only a miss later
            self.storage.put(uri, ion.dumps({"expires": utcnow() + timedelta(seconds=ttl), "outputs": outputs or {}}))

    def _shared_dir(self, executor: Executor, ex: Execution, tr: TaskRun) -> Path | None:
        """The working directory a task run shares with its siblings (WorkingDirectory), if any."""
        for run in (tr, *ex.parents(tr)):
            node = executor.flow.tasks.get(run.task_id)
            if node is not None and node.flowable and getattr(self.plugins.load_class(node.type), "shares_working_directory", False):
                return self.settings.tmp_dir / ex.id / f"wd-{run.id}"
        return None

    async def _execute(
        self, node: TaskNode, ctx: TaskRunContext, phase: str | None = None, lock: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        info = self.plugins.locked_type(node.type, lock or {}, task_id=node.id)
        if info.isolated:
            return await self._execute_in_host(info, node, ctx, phase)
        cls = self.plugins.load_class(info)
        try:
            task = cls.model_validate(node.spec)
        except Exception as exc:
            raise TercelError(f"task '{node.id}' is invalid for {node.type}: {exc}") from None
        timeout = None
        if getattr(task, "timeout", None) is not None:
            timeout = ctx.render(task.timeout).total_seconds()
        if phase is not None:  # a flowable's work phase
            run: Callable[..., Any] = functools.partial(task.work, phase=phase)
            is_async = inspect.iscoroutinefunction(task.work)
        else:
            run = task.run
            is_async = inspect.iscoroutinefunction(run)
        if is_async:
            coro = run(ctx)
        else:
            loop = asyncio.get_running_loop()
            coro = loop.run_in_executor(self._threads, run, ctx)
        try:
            result = await asyncio.wait_for(coro, timeout) if timeout is not None else await coro
        except TimeoutError:
            ctx.cancel()
            from datetime import timedelta

            from tercel_sdk import format_duration

            raise _Timeout(f"task '{node.id}' timed out after {format_duration(timedelta(seconds=timeout or 0))}") from None
        return _outputs_dict(result)

    async def _execute_in_host(
        self, info: TypeInfo, node: TaskNode, ctx: TaskRunContext, phase: str | None
    ) -> dict[str, Any] | None:
        """A task of a plugin version installed in an environment of its own: its plugin host
        runs it (DESIGN §6); a host that dies fails this task run only, and retry applies."""
        from tercel.plugins._hosts import HostSpec

        timeout = None
        if node.spec.get("timeout") is not None:
            from tercel_sdk import Duration, Property

            timeout = ctx.render(Property(node.spec["timeout"], Duration, "timeout")).total_seconds()
        spec = HostSpec(info.distribution, info.version, info.python)  # type: ignore[arg-type]
        run = self.hosts.run(spec, info.class_path, node.spec, ctx, phase=phase)
        try:
            return await asyncio.wait_for(run, timeout) if timeout is not None else await run
        except TimeoutError:
            ctx.cancel()
            from datetime import timedelta

            from tercel_sdk import format_duration

            raise _Timeout(f"task '{node.id}' timed out after {format_duration(timedelta(seconds=timeout or 0))}") from None

    @property
    def hosts(self) -> Any:
        """The plugin hosts of this process (started on first use, bounded, idle ones stop)."""
        if self._hosts is None:
            from tercel.plugins._hosts import HostPool

            self._hosts = HostPool(max_hosts=self.settings.plugin_hosts, idle_timeout=self.settings.plugin_host_idle)
        return self._hosts

    # -- logs ----------------------------------------------------------------------------------
    def _log(self, entry: LogEntry) -> None:
        self._logs.append(entry)
        if self.on_log is not None:
            with contextlib.suppress(Exception):
                self.on_log(entry)

    def flush_logs(self) -> None:
        """Store the buffered log entries now (readers of the log table call it first)."""
        self._flush_logs()

    def _flush_logs(self) -> None:
        if not self._logs:
            return
        batch, self._logs = self._logs, []
        try:
            self.db.logs.append([e.to_row() for e in batch])
        except Exception:
            self._logs = batch + self._logs

    async def _log_flush_loop(self) -> None:
        while not self._stopping:
            await asyncio.sleep(0.25)
            self._flush_logs()

    def logs(self, execution_id: str) -> list[dict[str, Any]]:
        self._flush_logs()
        return self.db.logs.find(execution_id)

    def error_logs(self, execution_id: str) -> list[dict[str, Any]]:
        """ERROR logs of an execution: stored ones, then those not flushed yet."""
        stored = self.db.logs.find(execution_id, min_level="ERROR", conn=self._conn)
        pending = [e.to_row() for e in self._logs if e.execution_id == execution_id and e.level == "ERROR"]
        return [
            {"taskId": e.get("task_id"), "message": e.get("message"), "timestamp": e.get("timestamp"), "level": e.get("level")}
            for e in [*stored, *pending]
        ]

    # -- files ---------------------------------------------------------------------------------
    def check_namespace_access(self, namespace: str, target: str, what: str = "KV store") -> None:
        """A flow uses the KV and files of its own namespace and its children, and of the
        namespaces an administrator shared with it (`TERCEL_NAMESPACE_ACCESS`); never another's."""
        if not self.settings.may_access(namespace, target):
            from ._namespace_access import NamespaceAccessDenied

            raise NamespaceAccessDenied(
                f"namespace {namespace!r} may not use the {what} of namespace {target!r}: a flow reaches only "
                f"its own namespace and its children ({namespace}.*), unless an administrator allows it "
                "(TERCEL_NAMESPACE_ACCESS)"
            )

    def check_file_access(self, namespace: str, uri: str) -> None:
        """A flow reads files of its own namespace (and its children, and what is shared with
        it), never another's."""
        from tercel.storage import split_uri

        segments = split_uri(uri)
        own = tuple(namespace.split("."))
        if segments[: len(own)] == own:
            return
        # a namespace an administrator shared that the URI lies under, shared with this one
        for target in self.settings.namespace_access:
            parts = tuple(target.split("."))
            if segments[: len(parts)] == parts and self.settings.may_access(namespace, target):
                return
        raise TercelError(f"namespace {namespace!r} may not read {uri!r}: it belongs to another namespace")

    def read_for_execution(self, ex: Execution, uri: str) -> bytes:
        """A file for an expression (`read()`): an internal storage URI, or, like Kestra, the path
        of a file of the flow's namespace (`read('queries/orders.sql')`)."""
        from tercel.storage import KESTRA_SCHEME, SCHEME, check_namespace_path, namespace_file_uri

        if not uri.startswith((f"{SCHEME}://", f"{KESTRA_SCHEME}://")):
            uri = namespace_file_uri(ex.namespace, check_namespace_path(uri.lstrip("/")))
        self.check_file_access(ex.namespace, uri)
        return self.storage.get_bytes(uri)


class _Timeout(TercelError):
    pass


def _outputs_dict(result: Any) -> dict[str, Any] | None:
    if result is None:
        return None
    if isinstance(result, Output):
        return result.model_dump(by_alias=True, mode="python", exclude_none=False)
    if isinstance(result, Mapping):
        return dict(result)
    raise TercelError(f"a task must return an Output, a dict or None, not {type(result).__name__}")
