"""`ctx.run_task` (inline tasks) and `ctx.namespace_files`, through the real engine.

The task types are defined here and registered with `types=`; each flow runs on a throwaway
embedded backend (`tercel_sdk.testing.run_flow`). Failing tasks use `allowFailure`, so one flow
checks several failures: the task run ends in WARNING and keeps its error.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import Field
from tercel.storage import LocalStorage, NamespaceFiles
from tercel_sdk import NamespaceFilesAccess, Output, Property, RunContext, RunnableTask, TaskFailed
from tercel_sdk.testing import FlowResult, run_flow

# ------------------------------------------------------------------------------ test types


class NsOp(RunnableTask):
    """Call one method of `ctx.namespace_files` and return what it gave."""

    type_name = "tests.ns.Op"
    type_title = "Namespace files operation."

    op: Literal["list", "read", "exists", "write", "delete", "protocol"] = Field(description="The method.")
    path: Property[str] = Field(default=Property.of(""), description="The path (or list prefix).")
    content: Property[str] | None = Field(default=None, description="What `write` writes.")
    namespace: Property[str] | None = Field(default=None, description="The `namespace=` argument.")
    overwrite: bool = Field(default=True, description="The `overwrite=` argument of `write`.")

    def run(self, ctx: RunContext) -> dict[str, Any]:
        files = ctx.namespace_files
        kwargs: dict[str, Any] = {}
        if self.namespace is not None:
            kwargs["namespace"] = ctx.render(self.namespace)
        path = ctx.render(self.path)
        if self.op == "protocol":
            return {"value": isinstance(files, NamespaceFilesAccess)}
        if self.op == "list":
            return {"value": [[f.path, f.size, f.uri] for f in files.list(path, **kwargs)]}
        if self.op == "read":
            return {"value": files.read(path, **kwargs).decode()}
        if self.op == "exists":
            return {"value": files.exists(path, **kwargs)}
        if self.op == "delete":
            return {"value": files.delete(path, **kwargs)}
        data = (ctx.render(self.content) if self.content is not None else "").encode()
        written = files.write(path, data, overwrite=self.overwrite, **kwargs)
        return {"value": [written.path, written.size, written.uri]}


class Inline(RunnableTask):
    """Run `definition` inline and return its outputs (or mark that there were none)."""

    type_name = "tests.inline.Inline"
    type_title = "Run a task inline."

    definition: Any = Field(description="The task to run inline.")
    prepare: str | None = Field(default=None, description="Text written to `prepared.txt` of the working directory first.")

    async def run(self, ctx: RunContext) -> dict[str, Any]:
        if self.prepare is not None:
            (ctx.working_dir / "prepared.txt").write_text(self.prepare, encoding="utf-8")
        ctx.logger.info("outer before")
        outputs = await ctx.run_task(self.definition)
        ctx.logger.info("outer after")
        return {"inner": outputs, "none": outputs is None}


class EchoOutput(Output):
    some_value: str = Field(description="The rendered text.")
    task_id: str = Field(description="The inner task's own id.")
    in_event_loop: bool = Field(description="Whether `run` ran on the event loop's thread.")
    nothing: None = Field(default=None, description="Always null (kept in the outputs).")


class SyncEcho(RunnableTask):
    """A sync task: renders `text`, logs, writes a file, reads the shared working directory."""

    type_name = "tests.inline.SyncEcho"
    type_title = "Echo (sync)."

    text: Property[str] = Field(description="Rendered and returned.")
    count: Property[int] = Field(default=Property.of(1), description="A typed property.")

    def run(self, ctx: RunContext) -> EchoOutput:
        try:
            asyncio.get_running_loop()
            in_loop = True
        except RuntimeError:
            in_loop = False
        ctx.logger.info("inner says %s", ctx.render(self.text))
        ctx.metric("inner.count", ctx.render(self.count))
        return EchoOutput(some_value=ctx.render(self.text), task_id=self.id, in_event_loop=in_loop)


class AsyncEcho(RunnableTask):
    """An async task: returns a plain dict with what it saw of the shared context."""

    type_name = "tests.inline.AsyncEcho"
    type_title = "Echo (async)."

    text: Property[str] = Field(description="Rendered and returned.")

    async def run(self, ctx: RunContext) -> dict[str, Any]:
        prepared = ctx.working_dir / "prepared.txt"
        uri = ctx.put_file(b"written inline", "inline.txt")
        return {
            "text": ctx.render(self.text),
            "prepared": prepared.read_text(encoding="utf-8") if prepared.exists() else None,
            "uri": uri,
            "taskRunId": ctx.task_run_id,
        }


class Nothing(RunnableTask):
    type_name = "tests.inline.Nothing"
    type_title = "Return nothing."

    def run(self, ctx: RunContext) -> None:
        return None


class BadReturn(RunnableTask):
    type_name = "tests.inline.BadReturn"
    type_title = "Return something that is not outputs."

    def run(self, ctx: RunContext) -> Any:
        return 42


class Failing(RunnableTask):
    type_name = "tests.inline.Failing"
    type_title = "Fail."

    message: str = Field(description="The failure message.")

    def run(self, ctx: RunContext) -> None:
        raise TaskFailed(self.message)


TYPES: list[type[RunnableTask]] = [NsOp, Inline, SyncEcho, AsyncEcho, Nothing, BadReturn, Failing]


def run(yaml: str, *, home: Path | None = None) -> FlowResult:
    return run_flow(yaml, types=list(TYPES), home=home)


def state(result: FlowResult, task_id: str) -> str:
    return result.task_run(task_id)["state"]["current"]


def error(result: FlowResult, task_id: str) -> str:
    return result.task_run(task_id).get("error") or ""


def value(result: FlowResult, task_id: str) -> Any:
    return result.outputs(task_id)["value"]


# ----------------------------------------------------------------------- inline: success


def test_inline_sync_task_outputs_logs_and_metrics_belong_to_the_outer_task():
    result = run(
        """
id: inline_sync
namespace: tests.inline

variables:
  who: world

tasks:
  - id: outer
    type: tests.inline.Inline
    definition:
      type: tests.inline.SyncEcho
      text: "hello {{ vars.who }}"
      count: "{{ 1 + 2 }}"
"""
    )
    assert result.state == "SUCCESS", result.task_runs
    outputs = result.outputs("outer")
    assert outputs["none"] is False
    # an Output model is dumped by alias, None kept
    assert outputs["inner"] == {
        "someValue": "hello world",
        "taskId": "outer",  # no `id` in the definition: the outer task's
        "inEventLoop": False,  # a sync run goes to a thread
        "nothing": None,
    }
    assert [t["taskId"] for t in result.task_runs] == ["outer"]  # no task run of its own
    assert result.messages("outer") == ["outer before", "inner says hello world", "outer after"]
    metrics = result.task_run("outer")["attempts"][-1]["metrics"]
    assert [(m["name"], m["value"]) for m in metrics] == [("inner.count", 3.0)]


def test_inline_async_task_shares_working_directory_and_files():
    result = run(
        """
id: inline_async
namespace: tests.inline

tasks:
  - id: outer
    type: tests.inline.Inline
    prepare: made by the outer task
    definition:
      id: inner
      type: tests.inline.AsyncEcho
      text: "{{ task.id }}"
"""
    )
    assert result.state == "SUCCESS", result.task_runs
    inner = result.outputs("outer")["inner"]
    assert inner["text"] == "outer"  # rendered in the outer task's context
    assert inner["prepared"] == "made by the outer task"
    assert inner["taskRunId"] == result.task_run("outer")["id"]
    assert "/tasks/outer/" in inner["uri"]
    assert result.read(inner["uri"]) == b"written inline"


def test_inline_task_with_no_outputs_and_disabled_ones_return_none():
    result = run(
        """
id: inline_none
namespace: tests.inline

tasks:
  - id: nothing
    type: tests.inline.Inline
    definition:
      type: tests.inline.Nothing
  - id: disabled
    type: tests.inline.Inline
    definition:
      type: tests.inline.Failing
      message: never
      disabled: true
"""
    )
    assert result.state == "SUCCESS", result.task_runs
    assert result.outputs("nothing") == {"inner": None, "none": True}
    assert result.outputs("disabled") == {"inner": None, "none": True}
    assert "the inline tests.inline.Failing task is disabled: skipped" in result.messages("disabled")


# ----------------------------------------------------------------------- inline: failures


def test_inline_definitions_that_cannot_run_fail_with_clear_errors():
    result = run(
        """
id: inline_bad
namespace: tests.inline

tasks:
  - id: not_a_mapping
    type: tests.inline.Inline
    definition: [1, 2]
    allowFailure: true
  - id: no_type
    type: tests.inline.Inline
    definition:
      text: hello
    allowFailure: true
  - id: blank_type
    type: tests.inline.Inline
    definition:
      type: "  "
    allowFailure: true
  - id: unknown_type
    type: tests.inline.Inline
    definition:
      type: tests.inline.SyncEko
    allowFailure: true
  - id: flowable
    type: tests.inline.Inline
    definition:
      type: io.kestra.plugin.core.flow.Sequential
      tasks:
        - id: x
          type: tests.inline.Nothing
    allowFailure: true
  - id: bad_properties
    type: tests.inline.Inline
    definition:
      type: tests.inline.SyncEcho
      count: [1]
      colour: blue
    allowFailure: true
  - id: bad_id
    type: tests.inline.Inline
    definition:
      id: "not an id!"
      type: tests.inline.Nothing
    allowFailure: true
  - id: bad_return
    type: tests.inline.Inline
    definition:
      type: tests.inline.BadReturn
    allowFailure: true
  - id: inner_fails
    type: tests.inline.Inline
    definition:
      type: tests.inline.Failing
      message: the inner task failed on purpose
    allowFailure: true
"""
    )
    assert result.state == "WARNING"
    assert all(state(result, t["taskId"]) == "WARNING" for t in result.task_runs)
    assert error(result, "not_a_mapping") == (
        "task 'not_a_mapping': an inline task must be a mapping with a `type` and its properties, not list"
    )
    assert "task 'no_type': the inline task has no `type`; say which task to run" in error(result, "no_type")
    assert "the inline task has no `type` (got '  ')" in error(result, "blank_type")
    unknown = error(result, "unknown_type")
    assert "task 'unknown_type': cannot run 'tests.inline.SyncEko' inline: unknown type 'tests.inline.SyncEko'" in unknown
    assert "did you mean 'tests.inline.SyncEcho'" in unknown
    assert error(result, "flowable") == (
        "task 'flowable': 'io.kestra.plugin.core.flow.Sequential' is a flowable task (it runs other tasks) "
        "and cannot run inline: only runnable tasks can"
    )
    bad = error(result, "bad_properties")
    assert bad.startswith("task 'bad_properties': the inline tests.inline.SyncEcho task is invalid: ")
    assert "property `text` is required" in bad
    assert "property `count`:" in bad
    assert "unknown property `colour`" in bad
    assert "property `id`: String should match pattern" in error(result, "bad_id")
    assert error(result, "bad_return") == (
        "the inline task tests.inline.BadReturn returned int: a task must return an Output, a dict or None"
    )
    assert error(result, "inner_fails") == "the inner task failed on purpose"
    # an expected failure: no traceback in the logs
    assert not any("Traceback" in m for m in result.messages("inner_fails"))


# ------------------------------------------------------------------- namespace files access


def test_namespace_files_of_the_flow_namespace():
    result = run(
        """
id: ns_files
namespace: company.team

tasks:
  - id: protocol
    type: tests.ns.Op
    op: protocol
  - id: write
    type: tests.ns.Op
    op: write
    path: scripts/etl.py
    content: print('etl')
  - id: write_other
    type: tests.ns.Op
    op: write
    path: README.md
    content: "# team"
  - id: read
    type: tests.ns.Op
    op: read
    path: scripts/etl.py
  - id: exists
    type: tests.ns.Op
    op: exists
    path: scripts/etl.py
  - id: missing
    type: tests.ns.Op
    op: exists
    path: scripts/nope.py
  - id: list
    type: tests.ns.Op
    op: list
  - id: list_scripts
    type: tests.ns.Op
    op: list
    path: scripts
  - id: overwrite_off
    type: tests.ns.Op
    op: write
    path: README.md
    content: replaced?
    overwrite: false
    allowFailure: true
  - id: delete
    type: tests.ns.Op
    op: delete
    path: scripts/etl.py
  - id: delete_again
    type: tests.ns.Op
    op: delete
    path: scripts/etl.py
  - id: after
    type: tests.ns.Op
    op: list
"""
    )
    assert value(result, "protocol") is True
    assert value(result, "write") == ["scripts/etl.py", 12, "tercel:///company/team/_files/scripts/etl.py"]
    assert value(result, "read") == "print('etl')"
    assert value(result, "exists") is True
    assert value(result, "missing") is False
    assert value(result, "list") == [
        ["README.md", 6, "tercel:///company/team/_files/README.md"],
        ["scripts/etl.py", 12, "tercel:///company/team/_files/scripts/etl.py"],
    ]
    assert [p for p, _, _ in value(result, "list_scripts")] == ["scripts/etl.py"]
    assert state(result, "overwrite_off") == "WARNING"
    assert error(result, "overwrite_off") == (
        "namespace file 'README.md' already exists in namespace 'company.team' (overwrite is off)"
    )
    assert value(result, "delete") is True
    assert value(result, "delete_again") is False
    assert value(result, "after") == [["README.md", 6, "tercel:///company/team/_files/README.md"]]
    assert result.read("tercel:///company/team/_files/README.md") == b"# team"


def test_child_namespaces_are_allowed_others_refused(tmp_path: Path):
    seeded = NamespaceFiles(LocalStorage(tmp_path / "storage"))
    seeded.put("company", "parent.txt", b"parent")
    seeded.put("company.other", "secret.txt", b"secret")
    seeded.put("company.teamx", "lookalike.txt", b"x")
    seeded.put("company.team.child", "shared.txt", b"from the child")
    result = run(
        """
id: ns_access
namespace: company.team

tasks:
  - id: read_child
    type: tests.ns.Op
    op: read
    path: shared.txt
    namespace: company.team.child
  - id: write_grandchild
    type: tests.ns.Op
    op: write
    path: out.txt
    content: deep
    namespace: company.team.child.deep
  - id: own_by_name
    type: tests.ns.Op
    op: list
    namespace: "{{ flow.namespace }}"
  - id: parent
    type: tests.ns.Op
    op: read
    path: parent.txt
    namespace: company
    allowFailure: true
  - id: sibling
    type: tests.ns.Op
    op: list
    namespace: company.other
    allowFailure: true
  - id: lookalike
    type: tests.ns.Op
    op: exists
    path: lookalike.txt
    namespace: company.teamx
    allowFailure: true
  - id: write_elsewhere
    type: tests.ns.Op
    op: write
    path: planted.txt
    content: nope
    namespace: other.team
    allowFailure: true
  - id: delete_elsewhere
    type: tests.ns.Op
    op: delete
    path: secret.txt
    namespace: company.other
    allowFailure: true
  - id: blank
    type: tests.ns.Op
    op: list
    namespace: "  "
    allowFailure: true
""",
        home=tmp_path,
    )
    assert value(result, "read_child") == "from the child"
    assert value(result, "write_grandchild")[2] == "tercel:///company/team/child/deep/_files/out.txt"
    assert value(result, "own_by_name") == []
    for task_id, target in (
        ("parent", "company"),
        ("sibling", "company.other"),
        ("lookalike", "company.teamx"),
        ("write_elsewhere", "other.team"),
        ("delete_elsewhere", "company.other"),
    ):
        assert state(result, task_id) == "WARNING"
        assert error(result, task_id) == (
            f"namespace 'company.team' may not use the files of namespace '{target}': "
            "a flow reaches only its own namespace and its children (company.team.*), unless an administrator allows it (TERCEL_NAMESPACE_ACCESS)"
        )
    assert error(result, "blank") == "`namespace` must name a namespace, got '  '"
    # nothing was written or deleted elsewhere
    assert seeded.get("company.other", "secret.txt") == b"secret"
    assert seeded.list("other.team") == []


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("/etc/passwd", "it must be relative to the namespace root (no leading '/')"),
        ("../company/_files/x", "'..' segments are not allowed"),
        ("a//b", "empty segments ('//') are not allowed"),
        ("a\\\\b", "backslashes are not allowed; separate folders with '/'"),
    ],
)
def test_bad_paths_fail_the_task_naming_the_path(path: str, problem: str):
    result = run(
        f"""
id: ns_bad_path
namespace: company.team

tasks:
  - id: write
    type: tests.ns.Op
    op: write
    path: "{path}"
    content: x
"""
    )
    assert result.state == "FAILED"
    shown = path.replace("\\\\", "\\")
    assert error(result, "write") == f"invalid namespace file path {shown!r}: {problem}"
    assert not any(uri.startswith("tercel:///company/team/_files/") for uri in result.files)


def test_reading_a_missing_file_names_it():
    result = run(
        """
id: ns_missing
namespace: company.team

tasks:
  - id: read
    type: tests.ns.Op
    op: read
    path: nope.sql
"""
    )
    assert result.state == "FAILED"
    assert error(result, "read") == "no namespace file 'nope.sql' in namespace 'company.team'"


KV_ACROSS = """
id: kv_across
namespace: company.team
tasks:
  - id: own_child
    type: tercel.core.kv.Set
    namespace: company.team.child
    key: k
    value: child value
  - id: set_other
    type: tercel.core.kv.Set
    namespace: company.other
    key: k
    value: planted
    allowFailure: true
  - id: get_shared
    type: tercel.core.kv.Get
    namespace: shared.data
    key: k
    allowFailure: true
  - id: read_shared
    type: tercel.core.Return
    format: "{{ kv('k', namespace='shared.data') }}"
    allowFailure: true
"""


def test_a_flow_uses_the_kv_of_its_own_namespace_and_what_is_shared_with_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tercel.kv import KVStore
    from tercel.storage import LocalStorage

    kv = KVStore(LocalStorage(tmp_path / "storage"))
    kv.set("shared.data", "k", "shared value")
    kv.set("company.other", "k", "theirs")
    denied = "namespace 'company.team' may not use the KV store of namespace '{}': a flow reaches only its own namespace"
    result = run(KV_ACROSS, home=tmp_path)
    assert state(result, "own_child") == "SUCCESS" and kv.get("company.team.child", "k") == "child value"
    for task_id, target in (("set_other", "company.other"), ("get_shared", "shared.data"), ("read_shared", "shared.data")):
        assert state(result, task_id) == "WARNING"
        assert denied.format(target) in error(result, task_id), error(result, task_id)
    assert kv.get("company.other", "k") == "theirs"  # nothing planted
    # an administrator shares `shared.data` with `company` (and its children): reading it works
    monkeypatch.setenv("TERCEL_NAMESPACE_ACCESS", "shared.data=company")
    result = run(KV_ACROSS, home=tmp_path)
    assert value(result, "read_shared") == "shared value"
    assert state(result, "get_shared") == "SUCCESS" and state(result, "set_other") == "WARNING"
