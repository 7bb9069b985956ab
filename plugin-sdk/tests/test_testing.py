"""The testing module itself: tasks, flows, sandboxes, triggers and flowables through the real
core, and failure messages that say what was expected and what happened."""

from __future__ import annotations

import asyncio
import io
import sys
import types
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field
from tercel_sdk import (
    FlowableResult,
    FlowableTask,
    Output,
    PollingTrigger,
    Property,
    RealtimeTrigger,
    RunnableTask,
    State,
    TaskList,
    TriggerEvent,
    block_state,
    hookimpl,
    ion,
    resolve_sequential,
    testing,
)
from tercel_sdk.testing import (
    FlowableSim,
    FlowResult,
    IncrementalFlowableSim,
    Sandbox,
    TaskResult,
    TriggerCheck,
    listen_trigger,
    poll_trigger,
    run_flow,
    run_task,
    validate,
)

# ------------------------------------------------------------------------------ test plugin


class GreetOutput(Output):
    greeting: str
    uri: str
    token: str
    setting: Any = None
    script: str | None = None


class Greet(RunnableTask):
    """Greets, uses every capability a test may seed: secrets, KV, namespace files, files."""

    type_name = "tests.testing.Greet"

    name: Property[str] = Field(description="Who to greet.")
    times: Property[int] = Field(default=Property.of(1), description="How many greetings.")

    def run(self, ctx: Any) -> GreetOutput:
        name = ctx.render(self.name)
        for _ in range(ctx.render(self.times)):
            ctx.logger.info("hello %s", name)
            ctx.metric("greetings", 1, tags={"lang": "en"})
        ctx.logger.debug("done")
        ctx.metric("size", 3, type="gauge")
        ctx.metric("size", 5, type="gauge")
        buffer = io.BytesIO()
        ion.write_rows([{"name": name, "at": datetime(2024, 1, 1, tzinfo=UTC)}], buffer)
        uri = ctx.put_file(buffer.getvalue(), "greeting.ion")
        script = ctx.namespace_files.read("scripts/run.sh").decode() if ctx.namespace_files.exists("scripts/run.sh") else None
        token = ctx.secret("TOKEN") if "TOKEN" in ctx.variables.get("vars", {}).get("wanted", []) else ""
        return GreetOutput(greeting=f"hello {name}", uri=uri, token=token, setting=ctx.kv.get("setting"), script=script)


class Typed(RunnableTask):
    """Returns its inputs as the task sees them (types kept)."""

    type_name = "tests.testing.Typed"

    def run(self, ctx: Any) -> dict[str, Any]:
        return dict(ctx.variables["inputs"])


def _plugin_module(name: str = "tercel_plugin_testing_fake") -> types.ModuleType:
    """An entry-point module as a plugin ships it: types and a non-type hook."""
    module = types.ModuleType(name)

    @hookimpl
    def tercel_task_types() -> list[type]:
        return [Greet]

    @hookimpl
    def tercel_expression_functions() -> dict[str, Any]:
        return {"shout": lambda text: str(text).upper() + "!"}

    module.tercel_task_types = tercel_task_types  # type: ignore[attr-defined]
    module.tercel_expression_functions = tercel_expression_functions  # type: ignore[attr-defined]
    return module


# --------------------------------------------------------------------------------- run_task


def test_run_task_with_properties_variables_inputs_and_everything_seeded() -> None:
    result = run_task(
        Greet,
        {"name": "{{ vars.greeting_to }} {{ inputs.last }}", "times": "{{ inputs.n }}"},
        variables={"greeting_to": "Ada", "wanted": ["TOKEN"]},
        inputs={"last": "Lovelace", "n": 2},
        secrets={"TOKEN": "t0ken-value"},
        kv={"tests": {"setting": {"retries": 3}}},
        namespace_files={"tests": {"scripts/run.sh": "echo hi"}},
    )
    assert isinstance(result, TaskResult)
    result.assert_success()
    assert result.outputs["greeting"] == "hello Ada Lovelace"
    assert result.outputs["token"] == "t0ken-value"
    assert result.outputs["setting"] == {"retries": 3}
    assert result.outputs["script"] == "echo hi"
    assert result.messages("INFO") == ["hello Ada Lovelace", "hello Ada Lovelace"]
    assert result.messages(level="DEBUG") == ["done"]
    assert result.logs[-1] == ("DEBUG", "done")
    assert [e["level"] for e in result.logs_of("WARNING")] == []


def test_metrics_add_up_for_counters_and_give_the_last_gauge() -> None:
    result = run_task(Greet, {"name": "x", "times": 3})
    assert result.metric("greetings") == 3
    assert result.metric("greetings", tags={"lang": "en"}) == 3
    assert result.metric("size") == 5
    with pytest.raises(KeyError, match=r"recorded no metric 'nope' \(recorded: greetings"):
        result.metric("nope")
    with pytest.raises(KeyError, match="with tags"):
        result.metric("greetings", tags={"lang": "fr"})
    assert {m["name"] for m in result.metrics} == {"greetings", "size"}


def test_files_of_a_task_by_uri_with_their_contents() -> None:
    result = run_task(Greet, {"name": "Ada"})
    (uri,) = result.files
    assert uri == result.outputs["uri"] and uri.endswith("/greeting.ion")
    stored = result.file(uri)
    assert stored.name == "greeting.ion"
    assert stored.rows() == [{"name": "Ada", "at": datetime(2024, 1, 1, tzinfo=UTC)}]
    assert result.read(uri) == stored.data
    assert result.file(uri.replace("tercel://", "kestra://")).data == stored.data
    with pytest.raises(KeyError, match=r"no file 'tercel:///nope'.*files of execution .*greeting\.ion"):
        result.file("tercel:///nope")


def test_inputs_keep_their_python_types() -> None:
    when = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    values = {
        "text": "[not json]", "count": 7, "ratio": 0.5, "flag": True, "when": when, "day": date(2024, 5, 1),
        "wait": timedelta(minutes=5), "data": {"a": [1, 2]},
    }
    outputs = run_task(Typed, inputs=values).assert_success().outputs
    assert outputs == values


def test_a_failed_task_says_why_and_assert_success_shows_the_error_and_the_logs() -> None:
    result = run_task("tercel.core.Fail", {"errorMessage": "no {{ vars.what }}"}, variables={"what": "luck"})
    assert result.state == "FAILED" and result.error == "no luck"
    assert result.assert_failed(match="^no l") == "no luck"
    with pytest.raises(AssertionError) as info:
        result.assert_success()
    message = str(info.value)
    assert "expected task 'task' to succeed, it ended FAILED" in message
    assert "FAILED    task: no luck" in message and "ERROR [task] no luck" in message
    with pytest.raises(AssertionError, match="does not match 'other'"):
        result.assert_failed(match="other")
    with pytest.raises(AssertionError, match="expected task 'task' to fail, it ended SUCCESS"):
        run_task("tercel.core.Return", {"format": "x"}).assert_failed()


def test_a_task_class_without_a_type_name_is_refused() -> None:
    class Nameless(RunnableTask):
        def run(self, ctx: Any) -> None:
            return None

    with pytest.raises(TypeError, match="Nameless has no type_name"):
        run_task(Nameless)


# --------------------------------------------------------------------------------- run_flow

FLOW = """\
id: hello
namespace: company.team
inputs:
  - id: name
    type: STRING
tasks:
  - id: greet
    type: tests.testing.Greet
    name: "{{ inputs.name }}"
  - id: loud
    type: tercel.core.Return
    format: "{{ shout(outputs.greet.greeting) }}"
  - id: each
    type: tercel.core.ForEach
    values: [a, b]
    tasks:
      - id: echo
        type: tercel.core.Log
        level: WARN
        message: "item {{ taskrun.value }}"
"""


def test_run_flow_from_a_file_with_a_plugin_module_registered_like_an_installed_one(tmp_path: Path) -> None:
    path = tmp_path / "hello.yaml"
    path.write_text(FLOW, encoding="utf-8")
    result = run_flow(path, {"name": "Ada"}, plugins=[_plugin_module()], labels={"team": "data"})
    assert isinstance(result, FlowResult)
    result.assert_success()
    assert result.outputs("loud") == {"value": "HELLO ADA!"}
    assert result.labels["team"] == "data"
    assert result.messages("echo", level="WARN") == ["item a", "item b"]
    assert [e["message"] for e in result.logs_of(level="WARNING")] == ["item a", "item b"]
    assert result.metric("greet", "greetings") == 1
    assert result.files_of("greet") == [result.outputs("greet")["uri"]]
    assert result.files_of("loud") == []
    assert result.outputs("echo", value="b") == {}
    assert result.task_run("echo", value="a")["value"] == "a"


def test_a_plugin_module_not_installed_takes_its_packages_name_and_version() -> None:
    package = types.ModuleType("tercel_plugin_versioned")
    package.__version__ = "2.3.0"  # type: ignore[attr-defined]
    module = _plugin_module("tercel_plugin_versioned.plugin")
    sys.modules["tercel_plugin_versioned"] = package
    try:
        flow = "id: f\nnamespace: t\ntasks:\n  - id: g\n    type: tests.testing.Greet\n    name: x\n    version: \"~=2.3\"\n"
        result = run_flow(flow, plugins=[module])
    finally:
        del sys.modules["tercel_plugin_versioned"]
    assert result.assert_success().execution["plugins"]["tests.testing.Greet"] == {
        "distribution": "tercel-plugin-versioned", "version": "2.3.0"
    }


def test_settings_overrides_reach_the_core(tmp_path: Path) -> None:
    flow = "id: f\nnamespace: company.team\ntasks:\n  - id: get\n    type: tercel.core.Return\n    format: \"{{ kv('k', namespace='shared.data') }}\"\n"
    denied = run_flow(flow, kv={"shared.data": {"k": "shared"}})
    assert "may not use the KV store of namespace 'shared.data'" in denied.errors["get"]
    allowed = run_flow(flow, kv={"shared.data": {"k": "shared"}}, settings={"namespace_access": {"shared.data": ["company"]}})
    assert allowed.assert_success().outputs("get") == {"value": "shared"}


def test_an_installed_plugin_module_is_taken_as_installed() -> None:
    import tercel_plugin_core.plugin

    result = run_flow(
        "id: f\nnamespace: t\ntasks:\n  - id: r\n    type: tercel.core.Return\n    format: ok\n",
        plugins=[tercel_plugin_core.plugin],
    )
    assert result.assert_success().outputs("r") == {"value": "ok"}


def test_a_test_class_that_an_installed_plugin_already_names_is_refused() -> None:
    class Impostor(RunnableTask):
        type_name = "tercel.core.Log"

        def run(self, ctx: Any) -> None:
            return None

    with pytest.raises(ValueError, match="also provided by the installed tercel-plugin-core"):
        run_task(Impostor)


def test_subflows_come_from_flows() -> None:
    child = "id: child\nnamespace: company.team\ninputs:\n  - id: x\n    type: INT\ntasks:\n  - id: r\n    type: tercel.core.Return\n    format: \"{{ inputs.x * 2 }}\"\noutputs:\n  - id: doubled\n    type: STRING\n    value: \"{{ outputs.r.value }}\"\n"
    parent = "id: parent\nnamespace: company.team\ntasks:\n  - id: call\n    type: tercel.core.Subflow\n    namespace: company.team\n    flowId: child\n    inputs:\n      x: 21\n"
    result = run_flow(parent, flows=[child])
    assert result.assert_success().outputs("call")["outputs"] == {"doubled": "42"}


def test_a_flow_that_does_not_load_names_itself_and_every_problem() -> None:
    from tercel.flows import FlowValidationError

    with pytest.raises(FlowValidationError) as info:
        run_flow("id: broken\nnamespace: t\ntasks:\n  - id: a\n    type: tercel.core.Lgo\n  - id: b\n    type: tercel.core.Return\n    format: '{{ 1 + }}'\n")
    text = str(info.value)
    assert text.startswith("<flow broken> cannot be loaded: flow is invalid (2 problems):")
    assert "<flow broken>:5:5: tasks[0].type: unknown task type 'tercel.core.Lgo'" in text
    assert "tasks[1].format: invalid expression" in text
    assert len(info.value.problems) == 2
    with pytest.raises(FlowValidationError, match=r"^<flow child> cannot be loaded"):
        run_flow("id: ok\nnamespace: t\ntasks:\n  - id: a\n    type: tercel.core.Log\n    message: x\n", flows=["id: child\nnamespace: t\ntasks:\n  - id: x\n    type: no.Such\n"])


def test_a_missing_flow_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"flow file .*nope\.yaml cannot be read"):
        run_flow(tmp_path / "nope.yaml")


def test_assert_state_tells_the_task_runs_and_the_last_logs() -> None:
    result = run_flow("id: f\nnamespace: t\ntasks:\n  - id: ok\n    type: tercel.core.Log\n    message: fine\n  - id: boom\n    type: tercel.core.Fail\n    errorMessage: it broke\n")
    assert result.errors == {"boom": "it broke"}
    with pytest.raises(AssertionError) as info:
        result.assert_success()
    message = str(info.value)
    assert message.startswith(f"expected SUCCESS, got FAILED\nexecution {result.id} of t.f is FAILED")
    assert "  SUCCESS   ok\n  FAILED    boom: it broke" in message
    assert "INFO  [ok] fine" in message and "ERROR [boom] it broke" in message
    assert result.assert_state("FAILED", "KILLED") is result
    with pytest.raises(KeyError, match=r"no task run of 'ghost' in execution .* \(task runs: boom, ok\)"):
        result.task_run("ghost")
    with pytest.raises(ValueError, match="unknown log level 'LOUD'"):
        result.logs_of(level="LOUD")


async def test_run_flow_works_inside_a_running_event_loop() -> None:
    assert asyncio.get_running_loop() is not None
    result = run_task("tercel.core.Return", {"format": "{{ 6 * 7 }}"})
    assert result.outputs == {"value": "42"}
    again = await testing.arun_task("tercel.core.Return", {"format": "again"})
    assert again.outputs == {"value": "again"}


def test_the_sandbox_ignores_the_users_tercel_home_and_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user_home = tmp_path / "user-home"
    monkeypatch.setenv("TERCEL_HOME", str(user_home))
    monkeypatch.setenv("TERCEL_DATABASE_URL", f"sqlite:///{tmp_path / 'user.db'}")
    monkeypatch.setenv("TERCEL_STORAGE_PATH", str(tmp_path / "user-storage"))

    async def scenario() -> None:
        async with Sandbox() as sandbox:
            assert sandbox.runtime.plugins.environments_root == sandbox.home / "plugins"
            assert str(sandbox.home / "tercel.db") in str(sandbox.runtime.settings.database_url)
            (await sandbox.run("id: f\nnamespace: t\ntasks:\n  - id: w\n    type: tercel.core.storage.Write\n    content: x\n")).assert_success()

    asyncio.run(scenario())
    assert not user_home.exists() and not (tmp_path / "user.db").exists() and not (tmp_path / "user-storage").exists()


def test_validate_lists_problems_without_running() -> None:
    assert validate("id: f\nnamespace: t\ntasks:\n  - id: g\n    type: tests.testing.Greet\n    name: x\n", types=[Greet]) == []
    problems = validate("id: f\nnamespace: t\ntasks:\n  - id: g\n    type: tests.testing.Greet\n    times: many\n", types=[Greet])
    assert len(problems) == 2
    assert any("tasks[0].times" in p for p in problems) and any("name" in p for p in problems)
    assert validate("id: f\nnamespace: t\ntasks:\n  - id: r\n    type: tercel.core.Return\n    format: '{{ shout(1) }}'\n", plugins=[_plugin_module("tercel_plugin_testing_v")]) == []


# ---------------------------------------------------------------------------------- Sandbox

SLEEPER = "id: sleeper\nnamespace: company.team\ntasks:\n  - id: sleep\n    type: tercel.core.Sleep\n    duration: PT60S\n"
APPROVAL = """\
id: approval
namespace: company.team
tasks:
  - id: wait
    type: tercel.core.Pause
    onResume:
      - id: ok
        type: BOOLEAN
  - id: after
    type: tercel.core.Return
    format: "{{ outputs.wait.onResume.ok }}"
"""


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(types=[Greet]) as tercel:
        yield tercel


async def test_sandbox_runs_several_executions_side_by_side(sandbox: Sandbox) -> None:
    sleeping = sandbox.start(SLEEPER)
    now = await sandbox.until(sleeping, lambda r: any(t["state"]["current"] == "RUNNING" for t in r.task_runs))
    assert now.state == "RUNNING" and now.task_run("sleep")["state"]["current"] == "RUNNING"
    assert (await sandbox.until(sleeping, "RUNNING")).state == "RUNNING"
    paused = sandbox.start(APPROVAL)
    await sandbox.until(paused, {"PAUSED"})
    sandbox.resume(paused, {"ok": True}, by="test")
    done = await sandbox.wait(paused)
    assert done.assert_success().outputs("after") == {"value": "true"}
    sandbox.kill(sleeping)
    killed = await sandbox.wait(sleeping)
    assert killed.state == "KILLED"
    assert sandbox.executions(namespace="company.team", flow_id="sleeper") == [sleeping]
    assert set(sandbox.executions()) == {sleeping, paused}
    assert sandbox.execution("nope") is None


async def test_sandbox_waits_with_a_condition_and_times_out_saying_where_it_stands(sandbox: Sandbox) -> None:
    sleeping = sandbox.start(SLEEPER)
    running = await sandbox.until(sleeping, lambda r: any(t["taskId"] == "sleep" for t in r.task_runs))
    assert running.id == sleeping
    with pytest.raises(TimeoutError, match=r"did not end within 0\.2 s\nexecution .* is RUNNING"):
        await sandbox.wait(sleeping, timeout=0.2)
    with pytest.raises(TimeoutError, match=r"waited 0\.1 s for SUCCESS"):
        await sandbox.until(sleeping, "SUCCESS", timeout=0.1)
    sandbox.kill(sleeping)
    await sandbox.wait(sleeping)


async def test_sandbox_deploys_flows_and_starts_them_by_id(sandbox: Sandbox) -> None:
    ref = sandbox.deploy("id: ret\nnamespace: company.team\ntasks:\n  - id: r\n    type: tercel.core.Return\n    format: x\n")
    assert ref == ("company.team", "ret")
    result = await sandbox.run(ref)
    assert result.outputs("r") == {"value": "x"}
    with pytest.raises(KeyError, match=r"no flow company\.team\.nope in the sandbox"):
        sandbox.start(("company.team", "nope"))


async def test_sandbox_kv_namespace_files_and_storage(sandbox: Sandbox) -> None:
    sandbox.set_kv("company.team", "setting", [1, 2])
    uri = sandbox.put_namespace_file("company.team", "scripts/run.sh", "echo")
    assert uri == "tercel:///company/team/_files/scripts/run.sh"
    result = await sandbox.run("id: g\nnamespace: company.team\ntasks:\n  - id: g\n    type: tests.testing.Greet\n    name: Ada\n")
    assert result.outputs("g")["setting"] == [1, 2] and result.outputs("g")["script"] == "echo"
    assert result.read(uri) == b"echo" and sandbox.namespace_file("company.team", "scripts/run.sh") == b"echo"
    assert sandbox.read(result.outputs("g")["uri"]) == result.read(result.outputs("g")["uri"])
    assert sandbox.kv("company.team", "setting") == [1, 2] and sandbox.kv("company.team", "none") is None
    assert sandbox.delete_namespace_file("company.team", "scripts/run.sh")
    assert "tercel:///company/team/_files/scripts/run.sh" not in sandbox.files()


async def test_two_sandboxes_on_one_home_see_the_same_executions(tmp_path: Path) -> None:
    async with Sandbox(home=tmp_path) as first:
        paused = first.start(APPROVAL)
        await first.until(paused, "PAUSED")
    async with Sandbox(home=tmp_path) as second:
        second.resume(paused, {"ok": False})
        assert (await second.wait(paused)).outputs("after") == {"value": "false"}
    assert (tmp_path / "tercel.db").is_file()


def test_a_sandbox_must_be_entered() -> None:
    with pytest.raises(RuntimeError, match="async with Sandbox"):
        Sandbox().start(SLEEPER)


# ---------------------------------------------------------------------------------- triggers


class NewKeys(PollingTrigger):
    """Fires once per new KV key under a prefix; remembers what it saw."""

    type_name = "tests.testing.NewKeys"

    prefix: Property[str] = Field(description="Key prefix.")

    def evaluate(self, ctx: Any) -> TriggerEvent | None:
        seen = set(ctx.memory.get("seen", []))
        keys = sorted(k for k in ctx.kv.keys(ctx.render(self.prefix)) if k not in seen)
        if not keys:
            return None
        ctx.memory["seen"] = sorted(seen | set(keys))
        uri = ctx.put_file(",".join(keys).encode(), "keys.txt")
        return TriggerEvent(variables={"keys": keys, "uri": uri})


class Ticks(RealtimeTrigger):
    """Yields one event per tick, going on from the last one it handed over."""

    type_name = "tests.testing.Ticks"

    async def events(self, ctx: Any) -> AsyncIterator[TriggerEvent | None]:
        n = ctx.memory.get("n", 0)
        while True:
            await asyncio.sleep(0.01)
            n += 1
            ctx.memory["n"] = n
            yield None if n % 2 else TriggerEvent(variables={"n": n})


def test_poll_trigger_once_with_seeded_kv_and_memory() -> None:
    check = poll_trigger(NewKeys, {"prefix": "in_"}, kv={"tests": {"in_a": 1, "in_b": 2, "other": 3}})
    assert isinstance(check, TriggerCheck)
    assert check.event.variables["keys"] == ["in_a", "in_b"]
    assert check.memory == {"seen": ["in_a", "in_b"]}
    assert check.files == {check.event.variables["uri"]: b"in_a,in_b"}
    again = poll_trigger(NewKeys, {"prefix": "in_"}, kv={"tests": {"in_a": 1, "in_b": 2}}, memory=check.memory)
    assert again.event is None


async def test_sandbox_poll_keeps_memory_between_checks(sandbox: Sandbox) -> None:
    sandbox.set_kv("tests", "in_a", 1)
    first = await sandbox.poll(NewKeys, {"prefix": "in_"})
    assert first.event.variables["keys"] == ["in_a"]
    assert (await sandbox.poll(NewKeys, {"prefix": "in_"})).event is None
    sandbox.set_kv("tests", "in_b", 2)
    assert (await sandbox.poll(NewKeys, {"prefix": "in_"})).event.variables["keys"] == ["in_b"]
    assert sandbox.memory() == {"seen": ["in_a", "in_b"]}


def test_listen_trigger_collects_events_and_a_silent_listener_times_out() -> None:
    events = listen_trigger(Ticks, events=2)
    assert [e.variables["n"] for e in events] == [2, 4]
    with pytest.raises(TimeoutError, match=r"yielded 0 of 1 events within 0\.005 s"):
        listen_trigger(Ticks, events=1, timeout=0.005)


# --------------------------------------------------------------------------------- flowables


class Steps(FlowableTask):
    """Runs `tasks` one after the other, with `errors` and `finally`; outputs `prefix`."""

    type_name = "tests.testing.Steps"

    tasks: TaskList = Field(description="The tasks.")
    prefix: Property[str] | None = Field(default=None, description="Rendered into the outputs.")

    def resolve(self, ctx: Any) -> FlowableResult:
        outputs = {"prefix": ctx.render(self.prefix)} if self.prefix is not None else None
        nxt = resolve_sequential(ctx, self.tasks, self.errors, self.finally_)
        if nxt:
            return FlowableResult(next=nxt, outputs=outputs)
        return FlowableResult(state=block_state(ctx, self.tasks, self.errors, self.finally_), outputs=outputs)


def _steps(**extra: Any) -> Steps:
    log = [{"id": i, "type": "tercel.core.Log", "message": i} for i in ("a", "b", "c")]
    return Steps.model_validate({"id": "steps", "type": "tests.testing.Steps", "tasks": log, **extra})


@pytest.mark.parametrize("kind", [FlowableSim, IncrementalFlowableSim])
def test_flowable_sim_drives_decisions_with_chosen_outcomes(kind: type[FlowableSim]) -> None:
    sim = kind(_steps(errors=[{"id": "e", "type": "tercel.core.Log", "message": "e"}], prefix="{{ vars.p | upper }}"), variables={"vars": {"p": "x"}})
    result = sim.run({"b": State.FAILED})
    assert result.state is State.FAILED
    assert sim.ids() == ["a", "b", "e"]
    assert sim.task_run.outputs == {"prefix": "X"}
    assert sim.max_running == 1 and sim.resolve_calls == 4


def test_flowable_sim_step_by_step() -> None:
    sim = FlowableSim(_steps(), value="v1")
    assert sim.next_ids() == ["a"]
    assert sim.next_ids() == []  # a runs: nothing new
    sim.finish("a")
    assert sim.next_ids() == ["b"]
    assert sim.pairs() == [("a", "v1"), ("b", "v1")]
    with pytest.raises(AssertionError, match="0 running task runs of 'a'"):
        sim.finish("a")
    assert sim.now == datetime(2026, 1, 1, tzinfo=UTC)
    assert sim.render(Property("{{ 1 + n }}", int), {"n": 1}) == 2


def test_flowable_sim_reports_changes_as_the_engine_does() -> None:
    sim = IncrementalFlowableSim(_steps())
    assert sim.changed_children() is None
    sim.step()
    (created,) = sim.changed_children() or []
    assert created.task_id == "a"
    sim.finish(created, State.SUCCESS)
    assert [r.state for r in sim.changed_children() or []] == [State.SUCCESS]
    sim.forget()
    assert sim.changed_children() is None
    assert [r.task_id for r in sim.children_with_value(None)] == ["a"]


def test_flowable_sim_refuses_a_child_created_twice() -> None:
    class Twice(FlowableTask):
        type_name = "tests.testing.Twice"
        tasks: TaskList

        def resolve(self, ctx: Any) -> FlowableResult:
            from tercel_sdk import NextTaskRun

            return FlowableResult(next=[NextTaskRun(self.tasks[0])])

    sim = FlowableSim(Twice.model_validate({"id": "t", "type": "tests.testing.Twice", "tasks": [{"id": "a", "type": "x"}]}))
    sim.step()
    with pytest.raises(AssertionError, match="resolve created task run 'a' \\(value None\\) a second time"):
        sim.step()
