"""Plugin hosts, for real: tasks run in `python -m tercel_sdk.host` processes started from this
interpreter, against a real core `TaskRunContext` (a stored execution of a not-started Runtime).

The task classes live in a package written to a temporary folder: the hosts import it through
`HostSpec.environ["PYTHONPATH"]`, and this process imports it too, so that the very same task can
run in-process (`Runtime._execute`, what the worker does today) and the two outcomes be compared:
what a user sees (outputs, the stored error, the logs) must not depend on where a task ran.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from tercel.engine import RunState, TaskRun
from tercel.errors import TercelError
from tercel.flows import load_flow
from tercel.plugins import PluginError, PluginManager
from tercel.plugins._hosts import HostPool, HostSpec, PluginHostCrashed, PluginTaskError
from tercel.runtime import Runtime
from tercel.runtime._context import RenderError, TaskRunContext
from tercel.runtime._namespace_access import NamespaceAccessDenied
from tercel.runtime._runtime import new_id, utcnow
from tercel.settings import Settings
from tercel_sdk import State, TaskFailed, TaskWarning

pytestmark = pytest.mark.asyncio(loop_scope="module")

SECRET = "s3cr3t-value-42"
DIST, VERSION = "tercel-plugin-hosttest", "1.0.0"

PACKAGE = r'''
"""Task types of the plugin host tests."""
import asyncio
import io
import os
import sys
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from pydantic import Field
from tercel_sdk import (FlowableTask, Output, Property, RunContext, RunnableTask, TaskFailed,
                        TaskWarning, hookimpl)


class Logs(RunnableTask):
    """Every level, with and without args; a secret; what a plugin prints."""

    type_name = "tests.hosts.Logs"
    prints: bool = False

    def run(self, ctx):
        token = ctx.secret("TOKEN")
        ctx.logger.trace("trace %d", 1)
        ctx.logger.debug("debug %s", "two")
        ctx.logger.info("the token is %s", token)
        ctx.logger.warning("warning %r", [1])
        ctx.logger.warn("warn")
        ctx.logger.error("error %s %s", "a")            # bad args: joined
        ctx.logger.info("100%% sure, no args")
        if self.prints:
            print("printed to stdout")
            print("printed to stderr", file=sys.stderr)
            sys.stdout.buffer.write(b"\x00\x00\x00\x05raw bytes on fd 1\n")
            sys.stdout.flush()
            os.write(1, b"written to fd 1\n")
        return {"length": len(token), "secretInEnv": "SECRET_TOKEN" in os.environ}


class Render(RunnableTask):
    """Properties rendered in the worker, coerced here."""

    type_name = "tests.hosts.Render"
    count: Property[int]
    when: Property[datetime]
    items: Property[list[int]]
    literal: Property[int] = Property.of(5)
    text: Property[str] = Property.of("plain")

    def run(self, ctx):
        return {
            "count": ctx.render(self.count),
            "when": ctx.render(self.when),
            "items": ctx.render(self.items),
            "literal": ctx.render(self.literal),
            "text": ctx.render(self.text),
            "overlay": ctx.render(Property.of("{{ item }}"), {"item": Decimal("1.50")}),
            "value": ctx.render({"a": ["{{ flow.id }}", 1]}),
            "string": ctx.render_string("{{ flow.namespace }}/{{ item }}", {"item": 3}),
            "flowId": ctx.variables["flow"]["id"],
            "taskId": ctx.variables["task"]["id"],
            "ids": [ctx.execution_id, ctx.namespace, ctx.flow_id, ctx.task_id, ctx.task_run_id, ctx.attempt],
            "protocol": isinstance(ctx, RunContext),
        }


class Typed(RunnableTask):
    """Outputs of every type Ion keeps."""

    type_name = "tests.hosts.Typed"

    def run(self, ctx) -> "TypedOutput":
        return TypedOutput(
            when=datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc),
            day=date(2024, 5, 6), amount=Decimal("12.50"), blob=b"\x00\xff",
            nested={"a": [1, {"b": None, "c": 1.5}], "d": timedelta(minutes=90)}, nothing=None,
        )


class TypedOutput(Output):
    when: datetime
    day: date
    amount: Decimal
    blob: bytes
    nested: dict[str, Any]
    nothing: None = None


class Files(RunnableTask):
    """Internal storage and the working directory."""

    type_name = "tests.hosts.Files"

    def run(self, ctx):
        local = ctx.working_dir / "local.txt"
        local.write_bytes(b"from a path")
        big = bytes(range(256)) * 5000  # over the inline limit: spooled to a file
        uris = {
            "bytes": ctx.put_file(b"some bytes", "a.bin"),
            "path": ctx.put_file(local, "b.txt"),
            "stream": ctx.put_file(io.BytesIO(b"a stream"), "c.txt"),
            "big": ctx.put_file(io.BytesIO(big), "big.bin"),
        }
        with ctx.open_file(uris["big"]) as fp:
            head = fp.read(10)
            fp.seek(256 * 4000)
            chunks = [fp.read(300_000), fp.read()]
        return {
            "workingDir": str(ctx.working_dir),
            "uris": uris,
            "read": ctx.read_file(uris["bytes"]),
            "stream": ctx.read_file(uris["stream"]),
            "path": ctx.read_file(uris["path"]),
            "bigOk": ctx.read_file(uris["big"]) == big,
            "head": head,
            "tail": b"".join(chunks) == big[256 * 4000:],
            "size": ctx.file_size(uris["big"]),
            "exists": ctx.file_exists(uris["bytes"]),
            "deleted": ctx.delete_file(uris["bytes"]),
            "existsAfter": ctx.file_exists(uris["bytes"]),
        }


class Store(RunnableTask):
    """KV, namespace files, executions, and what is refused."""

    type_name = "tests.hosts.Store"
    other: str = ""

    async def run(self, ctx):
        key = "k-" + ctx.task_run_id
        ctx.kv.set(key, {"when": date(2024, 1, 2), "n": Decimal("3.0")}, ttl=timedelta(hours=1))
        ctx.kv.set("child-" + key, 7, namespace=ctx.namespace + ".child")
        out = {"get": ctx.kv.get(key), "missing": ctx.kv.get("nothing-" + key),
               "keys": [k for k in ctx.kv.keys("k-") if k == key],
               "child": ctx.kv.get("child-" + key, namespace=ctx.namespace + ".child")}
        problems = {}
        for name, call in {
            "overwrite": lambda: ctx.kv.set(key, 1, overwrite=False),
            "denied": lambda: ctx.kv.get("x", namespace="other.team"),
            "secret": lambda: ctx.secret("NOPE"),
            "nsDenied": lambda: ctx.namespace_files.read("x", namespace="other.team"),
            "kill": lambda: ctx.executions.kill(self.other),
            "label": lambda: ctx.update_labels({"system.x": "y"}),
        }.items():
            try:
                call()
            except Exception as exc:
                problems[name] = [type(exc).__name__, str(exc)]
        out["problems"] = problems
        out["deleted"] = ctx.kv.delete(key)
        written = ctx.namespace_files.write("scripts/" + key + ".sql", b"select 1")
        listed = ctx.namespace_files.list("scripts")
        out["nsf"] = {
            "written": [type(written).__name__, written.path, written.size],
            "listed": [f.path for f in listed if f.path == written.path],
            "types": sorted({type(f).__name__ for f in listed}),
            "read": ctx.namespace_files.read(written.path),
            "exists": ctx.namespace_files.exists(written.path),
            "deleted": ctx.namespace_files.delete(written.path),
        }
        header = ctx.executions.get(ctx.execution_id)
        purged = ctx.executions.purge(end=datetime(2000, 1, 1, tzinfo=timezone.utc))
        out["executions"] = {"id": header["id"], "state": header["state"], "purged": [type(purged).__name__, purged.executions],
                             "logs": isinstance(ctx.executions.logs(ctx.execution_id), list)}
        return out


class Updates(RunnableTask):
    """Changes to the execution, and metrics."""

    type_name = "tests.hosts.Updates"

    def run(self, ctx):
        ctx.update_labels({"team": "data"})
        ctx.set_variables({"when": date(2024, 1, 2), "n": 1})
        ctx.unset_variables(["old"])
        ctx.exit_execution("warning")
        ctx.metric("rows", 3)
        ctx.metric("took", 0.5, type="timer", tags={"step": "load"})
        try:
            ctx.metric("bad", 1, type="histogram")
        except ValueError as exc:
            return {"metricError": str(exc)}
        return None


class Inline(RunnableTask):
    """`ctx.run_task`: a core type run in the worker, from a task in a host."""

    type_name = "tests.hosts.Inline"

    async def run(self, ctx):
        outputs = await ctx.run_task({"type": "tercel.core.Return", "format": "{{ flow.id }}!"})
        return {"inner": outputs}


class Fail(RunnableTask):
    """Every way a task can end badly."""

    type_name = "tests.hosts.Fail"
    how: str
    message: Property[str] = Property.of("boom")

    async def run(self, ctx):
        message = ctx.render(self.message)
        if self.how == "zero":
            return 1 / 0
        if self.how == "value":
            raise ValueError(message)
        if self.how == "failed":
            raise TaskFailed(message)
        if self.how == "warning":
            raise TaskWarning(message, {"partial": date(2024, 1, 2)})
        if self.how == "denied":
            return ctx.kv.get("x", namespace="other.team")  # let through: the worker's own error
        if self.how == "keyerror":
            return {}["missing"]
        if self.how == "return":
            return 42
        if self.how == "unstorable":
            return {"s": {1, 2}}
        if self.how == "secret":
            raise RuntimeError("leaked " + ctx.secret("TOKEN"))
        return {"ok": True}


class Sleeper(RunnableTask):
    """An async task that waits; logs when it is cancelled."""

    type_name = "tests.hosts.Sleeper"
    seconds: float = 30.0

    async def run(self, ctx):
        try:
            await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:
            ctx.logger.warning("cancelled: cancelled=%s", ctx.is_cancelled())
            raise
        return {"pid": os.getpid()}


class Busy(RunnableTask):
    """A sync task: `stuck` ignores cancellation, otherwise it watches `is_cancelled`."""

    type_name = "tests.hosts.Busy"
    stuck: bool = False

    def run(self, ctx):
        ctx.logger.info("started")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not self.stuck and ctx.is_cancelled():
                ctx.logger.info("saw the cancel")
                return {"stopped": True}
            time.sleep(0.005)
        return {"stopped": False}


class Pid(RunnableTask):
    """Which process ran it; optionally dies."""

    type_name = "tests.hosts.Pid"
    exit_code: int | None = None

    def run(self, ctx):
        if self.exit_code is not None:
            os._exit(self.exit_code)
        return {"pid": os.getpid()}


class Leaky(RunnableTask):
    """Leaves a thread behind that uses the context after the task ended."""

    type_name = "tests.hosts.Leaky"

    def run(self, ctx):
        import threading

        def later():
            time.sleep(0.1)
            ctx.logger.info("late line")
            try:
                ctx.set_variables({"late": True})
            except Exception as exc:
                print("late call refused:", exc)

        threading.Thread(target=later, daemon=True).start()
        return None


class Phased(FlowableTask):
    """A flowable whose I/O phase runs on a worker."""

    type_name = "tests.hosts.Phased"

    def resolve(self, ctx):
        raise NotImplementedError

    async def work(self, ctx, phase):
        ctx.logger.info("phase %s", phase)
        return {"phase": phase}


@hookimpl
def tercel_task_types():
    return [Logs, Render, Typed, Files, Store, Updates, Inline, Fail, Sleeper, Busy, Pid, Phased, Leaky]
'''

FLOW = """
id: hosts
namespace: tests.hosts
tasks:
  - id: logs
    type: tests.hosts.Logs
    logLevel: DEBUG
  - id: prints
    type: tests.hosts.Logs
    prints: true
  - id: render
    type: tests.hosts.Render
    count: "{{ 40 + 2 }}"
    when: "{{ execution.startDate }}"
    items: "[1, {{ 1 + 1 }}]"
  - id: bad_render
    type: tests.hosts.Render
    count: "{{ 'abc' ~ secret('TOKEN') }}"
    when: "2024-01-01T00:00:00Z"
    items: []
  - id: undefined_render
    type: tests.hosts.Render
    count: "{{ nowhere.to_be.found }}"
    when: "2024-01-01T00:00:00Z"
    items: []
  - id: invalid
    type: tests.hosts.Render
    count: 1
    when: "2024-01-01T00:00:00Z"
    items: []
  - id: typed
    type: tests.hosts.Typed
  - id: files
    type: tests.hosts.Files
  - id: store
    type: tests.hosts.Store
  - id: updates
    type: tests.hosts.Updates
  - id: inline
    type: tests.hosts.Inline
  - id: fail
    type: tests.hosts.Fail
    how: ok
  - id: sleeper
    type: tests.hosts.Sleeper
  - id: busy
    type: tests.hosts.Busy
  - id: pid
    type: tests.hosts.Pid
"""

OTHER_FLOW = """
id: elsewhere
namespace: other.team
tasks:
  - id: r
    type: tercel.core.Return
    format: x
"""


@dataclass
class Outcome:
    """What a user sees of one task run: outputs or the stored error, logs, metrics, updates."""

    outputs: Any = None
    error: str | None = None
    state: str = "SUCCESS"
    logs: list[tuple[str, str]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    updates: dict[str, Any] = field(default_factory=dict)
    exc: BaseException | None = None
    ctx: Any = None


class World:
    """A Runtime (not started), the test flow's execution, and a pool of hosts of the package."""

    def __init__(self, root: Path, pool: HostPool) -> None:
        self.root = root
        self.pool = pool
        self.spec = HostSpec(DIST, VERSION, Path(sys.executable), {"PYTHONPATH": str(root / "pkg")})
        settings = Settings(home=root / "home")
        plugins = PluginManager(cache_dir=settings.cache_dir).discover()
        import tercel_hosttest  # type: ignore[import-not-found]

        plugins.add_module(tercel_hosttest, distribution=DIST, version=VERSION)
        self.runtime = Runtime(settings, plugins=plugins, run_worker=False, run_executor=False)
        self.flow = load_flow(FLOW, self.runtime.plugins)
        self.runtime.register_flow(self.flow)
        self.execution = self.runtime.create_execution(self.flow)
        other = load_flow(OTHER_FLOW, self.runtime.plugins)
        self.runtime.register_flow(other)
        self.other_execution = self.runtime.create_execution(other)

    def spec_of(self, task_id: str, **changes: Any) -> dict[str, Any]:
        return {**self.flow.tasks[task_id].spec, **changes}

    def context(self, task_id: str, outcome: Outcome) -> TaskRunContext:
        ex = self.execution
        tr = TaskRun(new_id(), ex.id, ex.namespace, ex.flow_id, task_id, None, None, None, RunState.new(State.RUNNING, utcnow()))
        ex.add(tr)

        def emit(level: str, message: str) -> None:  # what Runtime._run_job's emit stores
            outcome.logs.append((level, self.runtime.masker.mask(message)))

        node = self.flow.tasks[task_id]
        return TaskRunContext(self.runtime, ex, tr, node, 1, self.runtime.variables(ex, self.flow, tr), emit)

    def _settle(self, outcome: Outcome, ctx: TaskRunContext, exc: BaseException | None) -> Outcome:
        """The task run's state and error as `Runtime._run_job` stores them."""
        outcome.ctx = ctx
        outcome.exc = exc
        outcome.metrics = ctx.metrics
        outcome.updates = ctx.execution_updates
        if isinstance(exc, TaskWarning):
            outcome.state, outcome.error = "WARNING", str(exc)
            outcome.outputs = dict(exc.outputs) if exc.outputs is not None else None
        elif isinstance(exc, TaskFailed | TercelError):
            outcome.state, outcome.error = "FAILED", self.runtime.masker.mask(str(exc))
        elif exc is not None:
            outcome.state, outcome.error = "FAILED", self.runtime.masker.mask(f"{type(exc).__name__}: {exc}")
        return outcome

    async def in_process(self, task_id: str, **changes: Any) -> Outcome:
        outcome = Outcome()
        ctx = self.context(task_id, outcome)
        node = self.flow.tasks[task_id]
        if changes:
            from dataclasses import replace

            node = replace(node, spec=self.spec_of(task_id, **changes))
        try:
            outcome.outputs = await self.runtime._execute(node, ctx)
            return self._settle(outcome, ctx, None)
        except Exception as exc:
            return self._settle(outcome, ctx, exc)

    async def hosted(self, task_id: str, *, pool: HostPool | None = None, spec: HostSpec | None = None, **changes: Any) -> Outcome:
        outcome = Outcome()
        ctx = self.context(task_id, outcome)
        node = self.flow.tasks[task_id]
        class_path = self.runtime.plugins.get_type(node.type).class_path
        try:
            outcome.outputs = await (pool or self.pool).run(spec or self.spec, class_path, self.spec_of(task_id, **changes), ctx)
            return self._settle(outcome, ctx, None)
        except Exception as exc:
            return self._settle(outcome, ctx, exc)

    def pids(self, pool: HostPool | None = None) -> list[int]:
        return [h.pid for h in (pool or self.pool).hosts()]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("hosts")
    (root / "pkg" / "tercel_hosttest").mkdir(parents=True)
    (root / "pkg" / "tercel_hosttest" / "__init__.py").write_text(textwrap.dedent(PACKAGE), encoding="utf-8")
    sys.path.insert(0, str(root / "pkg"))
    old = os.environ.get("SECRET_TOKEN")
    os.environ["SECRET_TOKEN"] = base64.b64encode(SECRET.encode()).decode()
    yield root
    sys.path.remove(str(root / "pkg"))
    sys.modules.pop("tercel_hosttest", None)
    if old is None:
        os.environ.pop("SECRET_TOKEN", None)
    else:
        os.environ["SECRET_TOKEN"] = old


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(root: Path) -> AsyncIterator[World]:
    pool = HostPool(stop_grace=0.5)
    world = World(root, pool)
    yield world
    await pool.close()
    world.runtime._threads.shutdown(wait=False)
    world.runtime.db.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie until reaped counts as gone
    try:
        with open(f"/proc/{pid}/stat") as fp:
            return fp.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# ------------------------------------------------------------------------------ the RunContext


async def test_logs_levels_args_and_masking_match_in_process(world: World) -> None:
    inproc = await world.in_process("logs")
    hosted = await world.hosted("logs")
    assert hosted.error is None, hosted.error
    assert hosted.logs == inproc.logs
    assert hosted.logs == [  # logLevel DEBUG: no TRACE; the secret masked in the worker
        ("DEBUG", "debug two"),
        ("INFO", "the token is ******"),
        ("WARN", "warning [1]"),
        ("WARN", "warn"),
        ("ERROR", "error %s %s a"),
        ("INFO", "100%% sure, no args"),
    ]
    # the host's environment does not carry the worker's secrets
    assert hosted.outputs == {"length": len(SECRET), "secretInEnv": False}


async def test_what_a_plugin_prints_goes_to_the_task_log(world: World) -> None:
    hosted = await world.hosted("prints")
    assert hosted.error is None, hosted.error
    assert hosted.outputs["length"] == len(SECRET)
    printed = [message for level, message in hosted.logs if level == "INFO" and "the token" not in message]
    assert printed[-4:] == [
        "printed to stdout", "printed to stderr", "\x00\x00\x00\x05raw bytes on fd 1", "written to fd 1",
    ]
    # and the protocol survived it
    again = await world.hosted("fail")
    assert again.outputs == {"ok": True}


async def test_render_and_variables_match_in_process(world: World) -> None:
    inproc = await world.in_process("render")
    hosted = await world.hosted("render")
    assert hosted.error is None, hosted.error
    out = hosted.outputs
    assert out["count"] == 42 and out["items"] == [1, 2] and out["literal"] == 5 and out["text"] == "plain"
    assert out["when"] == world.execution.state.start_date and isinstance(out["when"], datetime)
    assert out["overlay"] == Decimal("1.50") and isinstance(out["overlay"], Decimal)
    assert out["value"] == {"a": ["hosts", 1]}
    assert out["string"] == "tests.hosts/3"
    assert out["flowId"] == "hosts" and out["taskId"] == "render"
    assert out["protocol"] is True
    ctx = hosted.ctx
    assert out["ids"] == [ctx.execution_id, ctx.namespace, ctx.flow_id, ctx.task_id, ctx.task_run_id, ctx.attempt]
    inproc.outputs["ids"][4] = ctx.task_run_id  # each run has its own task run
    assert out == inproc.outputs


async def test_render_errors_read_as_in_process(world: World) -> None:
    for task_id in ("bad_render", "undefined_render"):
        inproc = await world.in_process(task_id)
        hosted = await world.hosted(task_id)
        assert hosted.state == "FAILED"
        assert hosted.error == inproc.error, task_id
        assert hosted.error.startswith(f"task '{task_id}' property 'count': "), hosted.error
    assert SECRET not in hosted.error
    coerced = await world.hosted("bad_render")
    assert "******" in coerced.error and SECRET not in coerced.error


async def test_an_invalid_task_reads_as_in_process(world: World) -> None:
    changes = {"count": {"not": "an int"}, "surprise": 1}
    inproc = await world.in_process("invalid", **changes)
    hosted = await world.hosted("invalid", **changes)
    assert hosted.error == inproc.error
    assert hosted.error.startswith("task 'invalid' is invalid for tests.hosts.Render: ")


async def test_typed_outputs_keep_their_types(world: World) -> None:
    inproc = await world.in_process("typed")
    hosted = await world.hosted("typed")
    assert hosted.outputs == inproc.outputs
    assert {k: type(v) for k, v in hosted.outputs.items()} == {k: type(v) for k, v in inproc.outputs.items()}
    assert hosted.outputs["nested"]["d"].total_seconds() == 5400
    assert "nothing" in hosted.outputs and hosted.outputs["nothing"] is None


async def test_files_and_working_directory(world: World) -> None:
    hosted = await world.hosted("files")
    assert hosted.error is None, hosted.error
    out = hosted.outputs
    assert out["workingDir"] == str(hosted.ctx.working_dir)  # the worker's folder, same machine
    assert all(uri.startswith("tercel://") for uri in out["uris"].values())
    assert out["read"] == b"some bytes" and out["stream"] == b"a stream" and out["path"] == b"from a path"
    assert out["bigOk"] and out["tail"] and out["head"] == bytes(range(10))
    assert out["size"] == 256 * 5000
    assert (out["exists"], out["deleted"], out["existsAfter"]) == (True, True, False)
    storage = world.runtime.storage
    assert storage.get_bytes(out["uris"]["path"]) == b"from a path"
    assert not storage.exists(out["uris"]["bytes"])


async def test_kv_namespace_files_executions_and_refusals(world: World) -> None:
    other = world.other_execution.id
    inproc = await world.in_process("store", other=other)
    hosted = await world.hosted("store", other=other)
    assert hosted.error is None, hosted.error
    out = hosted.outputs
    assert out["get"] == {"when": date(2024, 1, 2), "n": Decimal("3.0")}
    assert out["missing"] is None and len(out["keys"]) == 1 and out["child"] == 7 and out["deleted"] is True
    # every refusal reaches the task with the worker's class name and message

    def problems(outcome: Outcome) -> dict[str, list[str]]:  # the key names its task run
        return {k: [t, m.replace(outcome.ctx.task_run_id, "<tr>")] for k, (t, m) in outcome.outputs["problems"].items()}

    assert problems(hosted) == problems(inproc)
    assert set(out["problems"]) == {"overwrite", "denied", "secret", "nsDenied", "kill", "label"}
    assert out["problems"]["denied"][0] == "NamespaceAccessDenied"
    assert "may not use the KV store of namespace 'other.team'" in out["problems"]["denied"][1]
    assert out["problems"]["secret"][0] == "SecretNotFound"
    written = out["nsf"]["written"]
    assert written[0] == "NamespaceFile" and written[2] == len(b"select 1")
    assert out["nsf"]["listed"] == [written[1]] and out["nsf"]["types"] == ["NamespaceFile"]
    assert out["nsf"]["read"] == b"select 1" and out["nsf"]["exists"] and out["nsf"]["deleted"]
    assert out["executions"] == {"id": world.execution.id, "state": "CREATED", "purged": ["PurgeResult", 0], "logs": True}


async def test_execution_updates_and_metrics(world: World) -> None:
    inproc = await world.in_process("updates")
    hosted = await world.hosted("updates")
    assert hosted.outputs == inproc.outputs == {"metricError": "metric type must be 'counter', 'timer' or 'gauge', got 'histogram'"}
    assert hosted.updates == inproc.updates == {
        "labels": {"team": "data"}, "setVariables": {"when": date(2024, 1, 2), "n": 1},
        "unsetVariables": ["old"], "exit": "WARNING",
    }
    assert hosted.metrics == inproc.metrics
    assert hosted.metrics == [
        {"name": "rows", "type": "counter", "value": 3.0, "tags": {}},
        {"name": "took", "type": "timer", "value": 0.5, "tags": {"step": "load"}},
    ]


async def test_run_task_runs_inline_in_the_worker(world: World) -> None:
    hosted = await world.hosted("inline")
    assert hosted.error is None, hosted.error
    assert hosted.outputs == {"inner": {"value": "hosts!"}}


async def test_a_flowables_work_phase(world: World) -> None:
    outcome = Outcome()
    ctx = world.context("pid", outcome)
    spec = {"id": "phased", "type": "tests.hosts.Phased"}
    assert await world.pool.run(world.spec, "tercel_hosttest:Phased", spec, ctx, phase="split") == {"phase": "split"}
    assert outcome.logs == [("INFO", "phase split")]


async def test_a_thread_left_behind_cannot_use_the_next_task_runs_context(world: World) -> None:
    outcome = Outcome()
    leaky = world.context("pid", outcome)
    assert await world.pool.run(world.spec, "tercel_hosttest:Leaky", {"id": "leaky", "type": "tests.hosts.Leaky"}, leaky) is None
    nxt = await world.hosted("sleeper", seconds=0.3)  # the thread wakes up during this run
    assert nxt.error is None
    # its log line was dropped and its call refused; what it printed (stderr is the process's)
    # went to the task running then, and says why
    assert outcome.logs == []
    assert nxt.logs == [("INFO", "late call refused: set_variables: the task run has ended")]
    assert leaky.execution_updates == {} and nxt.updates == {}


# ------------------------------------------------------------------------------ failures


@pytest.mark.parametrize(
    ("how", "state", "error"),
    [
        ("zero", "FAILED", "ZeroDivisionError: division by zero"),
        ("value", "FAILED", "ValueError: boom"),
        ("failed", "FAILED", "boom"),
        ("warning", "WARNING", "boom"),
        ("denied", "FAILED", None),
        ("keyerror", "FAILED", "KeyError: 'missing'"),
        ("return", "FAILED", "a task must return an Output, a dict or None, not int"),
        ("secret", "FAILED", "RuntimeError: leaked ******"),
    ],
)
async def test_a_failing_task_fails_as_in_process(world: World, how: str, state: str, error: str | None) -> None:
    inproc = await world.in_process("fail", how=how)
    hosted = await world.hosted("fail", how=how)
    assert (hosted.state, hosted.error) == (inproc.state, inproc.error)
    assert hosted.state == state
    if error is not None:
        assert hosted.error == error
    if how == "warning":
        assert hosted.outputs == inproc.outputs == {"partial": date(2024, 1, 2)}
        assert isinstance(hosted.exc, TaskWarning)
    if how == "failed":
        assert isinstance(hosted.exc, TaskFailed)
    if how == "denied":  # the worker's own exception, re-raised as it was
        assert isinstance(hosted.exc, NamespaceAccessDenied)
        assert "may not use the KV store of namespace 'other.team'" in hosted.error
    if how in ("zero", "keyerror", "secret"):  # the host's traceback: attached, and logged at ERROR
        assert isinstance(hosted.exc, PluginTaskError)
        assert hosted.exc.traceback is not None and "Traceback (most recent call last)" in hosted.exc.traceback
        assert "tercel_hosttest" in hosted.exc.traceback and "_serve.py" not in hosted.exc.traceback
        errors = [m for level, m in hosted.logs if level == "ERROR"]
        assert errors and errors[-1].endswith(error) and SECRET not in errors[-1]


async def test_outputs_that_cannot_be_stored(world: World) -> None:
    hosted = await world.hosted("fail", how="unstorable")
    assert hosted.state == "FAILED"
    assert hosted.error.startswith("task 'fail' returned outputs that cannot be stored: value.outputs.s: set is not supported")


async def test_a_render_error_is_a_render_error_in_the_worker(world: World) -> None:
    hosted = await world.hosted("fail", how="value", message="{{ nope.nope }}")
    assert isinstance(hosted.exc, RenderError)
    assert hosted.error.startswith("task 'fail' property 'message': ")


# ------------------------------------------------------------------------------ processes


async def test_a_host_is_reused(world: World) -> None:
    first = await world.hosted("pid")
    second = await world.hosted("pid")
    assert first.outputs["pid"] == second.outputs["pid"] != os.getpid()
    assert first.outputs["pid"] in world.pids()
    info = next(h for h in world.pool.hosts() if h.pid == first.outputs["pid"])
    assert (info.distribution, info.version, info.busy) == (DIST, VERSION, False) and info.runs >= 2


async def test_cancelling_an_async_task(world: World) -> None:
    pid = (await world.hosted("pid")).outputs["pid"]
    task = asyncio.create_task(world.hosted("sleeper"))
    await _until(lambda: any(h.busy for h in world.pool.hosts()))
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 0.4  # ended by the cancel, not by the grace period
    assert (await world.hosted("pid")).outputs["pid"] == pid  # the host lives on


async def test_a_timeout_through_wait_for(world: World) -> None:
    outcome = Outcome()
    ctx = world.context("sleeper", outcome)
    class_path = world.runtime.plugins.get_type("tests.hosts.Sleeper").class_path
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(world.pool.run(world.spec, class_path, world.spec_of("sleeper"), ctx), 0.2)
    assert outcome.logs == [("WARN", "cancelled: cancelled=True")]


async def test_a_sync_task_sees_is_cancelled(world: World) -> None:
    pid = (await world.hosted("pid")).outputs["pid"]
    outcome = Outcome()
    ctx = world.context("busy", outcome)
    run = asyncio.create_task(world.pool.run(world.spec, "tercel_hosttest:Busy", world.spec_of("busy"), ctx))
    await _until(lambda: ("INFO", "started") in outcome.logs)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert outcome.logs == [("INFO", "started"), ("INFO", "saw the cancel")]
    assert (await world.hosted("pid")).outputs["pid"] == pid


async def test_a_stuck_sync_task_is_really_stopped(world: World) -> None:
    pid = (await world.hosted("pid")).outputs["pid"]
    outcome = Outcome()
    ctx = world.context("busy", outcome)
    run = asyncio.create_task(world.pool.run(world.spec, "tercel_hosttest:Busy", world.spec_of("busy", stuck=True), ctx))
    await _until(lambda: ("INFO", "started") in outcome.logs)
    started = time.monotonic()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert 0.4 < time.monotonic() - started < 3  # the grace period (0.5 s), then killed
    await _until(lambda: not _alive(pid))
    assert pid not in world.pids()
    fresh = (await world.hosted("pid")).outputs["pid"]
    assert fresh != pid


async def test_a_host_killed_mid_task(world: World) -> None:
    pid = (await world.hosted("pid")).outputs["pid"]
    task = asyncio.create_task(world.hosted("sleeper"))
    await _until(lambda: any(h.busy for h in world.pool.hosts()))
    os.kill(pid, signal.SIGKILL)
    outcome = await task
    assert isinstance(outcome.exc, PluginHostCrashed)
    assert outcome.error == f"the plugin host of {DIST} {VERSION} stopped (killed by SIGKILL) while running task 'sleeper'"
    after = await world.hosted("pid")
    assert after.outputs["pid"] != pid and after.outputs["pid"] in world.pids()


async def test_a_host_exiting_mid_task(world: World) -> None:
    outcome = await world.hosted("pid", exitCode=3)
    assert isinstance(outcome.exc, PluginHostCrashed)
    assert outcome.error == f"the plugin host of {DIST} {VERSION} stopped (exit code 3) while running task 'pid'"
    assert (await world.hosted("pid")).error is None


async def test_max_hosts_and_waiting_for_a_free_host(world: World) -> None:
    pool = HostPool(max_hosts=1, stop_grace=0.5)
    try:
        environ = {**world.spec.environ, "TERCEL_TEST_POOL": "max1"}
        v1 = HostSpec(DIST, VERSION, world.spec.python, environ)
        v2 = HostSpec(DIST, "2.0.0", world.spec.python, environ)
        first = await world.hosted("pid", pool=pool, spec=v1)
        second = await world.hosted("pid", pool=pool, spec=v2)  # v1 is idle: stopped to make room
        assert [(h.version, h.pid) for h in pool.hosts()] == [("2.0.0", second.outputs["pid"])]
        assert not _alive(first.outputs["pid"])
        # v2 busy: a v1 run waits until it is free, never more than one process
        counts: list[int] = []
        slow = asyncio.create_task(world.hosted("sleeper", pool=pool, spec=v2, seconds=0.3))
        await _until(lambda: any(h.busy for h in pool.hosts()))
        waiting = asyncio.create_task(world.hosted("pid", pool=pool, spec=v1))
        while not waiting.done():
            counts.append(len(_children("max1")))
            await asyncio.sleep(0.02)
        assert (await slow).error is None
        assert (await waiting).error is None
        assert counts and max(counts) == 1
        assert [h.version for h in pool.hosts()] == ["1.0.0"]
    finally:
        await pool.close()
    assert pool.hosts() == []


async def test_an_idle_host_stops(world: World) -> None:
    pool = HostPool(idle_timeout=0.2)
    try:
        pid = (await world.hosted("pid", pool=pool)).outputs["pid"]
        assert world.pids(pool) == [pid]
        await _until(lambda: not pool.hosts() and not _alive(pid), timeout=3)
    finally:
        await pool.close()


# ------------------------------------------------------------------------------ hosts that cannot start


async def test_an_interpreter_without_the_sdk(world: World, tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "env")], check=True)
    python = tmp_path / "env" / "bin" / "python"
    outcome = await world.hosted("pid", spec=HostSpec(DIST, "3.0.0", python))
    assert isinstance(outcome.exc, PluginError) and not isinstance(outcome.exc, PluginHostCrashed)
    message = str(outcome.exc)
    assert message.startswith(f"the plugin host of {DIST} 3.0.0 ({python}) stopped before it was ready (exit code 1)")
    assert "is tercel-plugin-sdk installed in that environment?" in message
    assert "No module named 'tercel_sdk'" in message


async def test_a_missing_interpreter(world: World, tmp_path: Path) -> None:
    outcome = await world.hosted("pid", spec=HostSpec(DIST, "3.0.0", tmp_path / "nowhere" / "python"))
    assert isinstance(outcome.exc, PluginError)
    assert str(outcome.exc) == f"the plugin host of {DIST} 3.0.0 cannot start: interpreter {tmp_path / 'nowhere' / 'python'}: No such file or directory"


FAKE_HOST = r"""
import os, struct, sys
protocol, sdk = os.environ["FAKE_PROTOCOL"], os.environ["FAKE_SDK"]
if sdk == "garbage":  # e.g. a sitecustomize printing before the host could take stdout over
    sys.stdout.write("hello, world\n")
    sys.stdout.flush()
else:
    body = ('$ion_1_0 // tercel ion-lines 1\n["ready",{"protocol":%s,"sdk":"%s","python":"3.99.0","pid":%d}]\n'
            % (protocol, sdk, os.getpid())).encode()
    os.write(1, struct.pack(">I", len(body)) + body)
sys.stdin.read()
"""


@pytest.mark.parametrize(
    ("protocol", "sdk", "problem"),
    [
        ("1", "9.0.0", "(PY, Python 3.99.0) has tercel-plugin-sdk 9.0.0, not compatible with this worker's SDK: install a compatible tercel-plugin-sdk in that environment"),
        ("99", "SDK", "(PY, Python 3.99.0) speaks protocol 99, this worker 1: install a compatible tercel-plugin-sdk in that environment"),
        ("1", "garbage", "(PY) wrote something that is not the protocol: b'hello, world\\n'"),
    ],
)
async def test_a_host_that_does_not_speak_our_protocol(world: World, tmp_path: Path, protocol: str, sdk: str, problem: str) -> None:
    import tercel_sdk

    fake = tmp_path / "fake" / "tercel_sdk" / "host"
    fake.mkdir(parents=True)
    (fake.parent / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text(FAKE_HOST)
    sdk = sdk.replace("SDK", tercel_sdk.__version__)
    environ = {"PYTHONPATH": str(tmp_path / "fake"), "FAKE_PROTOCOL": protocol, "FAKE_SDK": sdk, "TERCEL_TEST_POOL": "fake"}
    outcome = await world.hosted("pid", spec=HostSpec(DIST, "4.0.0", Path(sys.executable), environ))
    assert isinstance(outcome.exc, PluginError)
    expected = problem.replace("PY", sys.executable).replace("SDK", tercel_sdk.__version__)
    assert str(outcome.exc) == f"the plugin host of {DIST} 4.0.0 {expected}"
    assert _children("fake") == []  # not left behind


async def test_a_class_that_cannot_be_imported(world: World) -> None:
    pid = (await world.hosted("pid")).outputs["pid"]
    outcome = Outcome()
    ctx = world.context("pid", outcome)
    with pytest.raises(PluginError) as caught:
        await world.pool.run(world.spec, "tercel_hosttest.missing:Pid", world.spec_of("pid"), ctx)
    assert str(caught.value) == (
        f"type 'tests.hosts.Pid' (tercel_hosttest.missing:Pid) of {DIST} {VERSION} cannot be loaded in its plugin host "
        f"({sys.executable}): ModuleNotFoundError: No module named 'tercel_hosttest.missing'"
    )
    assert (await world.hosted("pid")).outputs["pid"] == pid  # the host is still fine


# ------------------------------------------------------------------------------ helpers


async def _until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def _children(marker: str) -> list[int]:
    """Live host processes of this process whose environment has `TERCEL_TEST_POOL=<marker>`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if stat[0] != "Z" and int(stat[1]) == os.getpid() and f"TERCEL_TEST_POOL={marker}".encode() in environ:
            found.append(int(entry.name))
    return found


async def test_the_sdk_side_is_importable_without_the_core() -> None:
    code = "import sys, tercel_sdk.host._serve; sys.exit(any(m == 'tercel' or m.startswith('tercel.') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0

