"""The namespace files tasks (`tercel.core.namespace.*`): UploadFiles, DownloadFiles, DeleteFiles.

Flows run through the real engine (`tercel_sdk.testing.run_flow`); the classes are passed with
`types=` until the plugin registers them. Namespace files are put in place by `run_flow`'s
`namespace_files=` before the flow runs, or by a first task of the flow. Failing tasks use
`allowFailure`, so one flow checks several failures (the task run ends in WARNING and keeps its
error).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field
from tercel_plugin_core import storage
from tercel_plugin_core.namespace import (
    DeleteFiles,
    DownloadFiles,
    UploadFiles,
    compile_pattern,
    matches,
)
from tercel_plugin_core.templating import TemplatedTask
from tercel_sdk import RunContext, RunnableTask
from tercel_sdk.testing import FlowResult, run_flow, validate

NS = "company.team"
PREFIX = "tercel:///company/team/_files/"


class InWorkdir(RunnableTask):
    """Create files in the working directory, then run `then` inline (it shares the directory)."""

    type_name = "tests.namespace.InWorkdir"
    type_title = "Create working-directory files, then run a task inline."

    files: dict[str, str] = Field(description="Relative path → text content.")
    links: dict[str, str] = Field(default_factory=dict, description="Relative path → symlink target.")
    then: dict[str, Any] = Field(description="The task to run inline.")

    async def run(self, ctx: RunContext) -> dict[str, Any] | None:
        root = ctx.working_dir
        for rel, content in self.files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        for rel, target in self.links.items():
            os.symlink(target, root / rel)
        return await ctx.run_task(self.then)


TYPES: list[type[RunnableTask]] = [
    UploadFiles,
    DownloadFiles,
    DeleteFiles,
    TemplatedTask,
    InWorkdir,
    storage.Write,
]


def run(yaml: str, *, files: dict[str, dict[str, str]] | None = None, home: Path | None = None) -> FlowResult:
    """Run a flow with these namespace files in place first (namespace → path → text)."""
    return run_flow(yaml, types=list(TYPES), namespace_files=files, home=home)


def namespace_files(result: FlowResult, namespace: str = NS) -> dict[str, str]:
    """The namespace's files when the execution ended: path → text."""
    prefix = "tercel:///" + namespace.replace(".", "/") + "/_files/"
    return {uri[len(prefix):]: data.decode() for uri, data in result.files.items() if uri.startswith(prefix)}


def state(result: FlowResult, task_id: str) -> str:
    return result.task_run(task_id)["state"]["current"]


def error(result: FlowResult, task_id: str) -> str:
    return result.task_run(task_id).get("error") or ""


# --------------------------------------------------------------------------------- patterns


@pytest.mark.parametrize(
    ("pattern", "anywhere", "matching"),
    [
        ("**", True, {"a.sql", "queries/b.sql", "queries/deep/c.py", "input.txt", "x/input.txt"}),
        ("**.sql", True, {"a.sql", "queries/b.sql"}),
        ("*.sql", True, {"a.sql"}),
        ("/*.sql", True, {"a.sql"}),
        ("input.txt", True, {"input.txt", "x/input.txt"}),  # Kestra: a bare name matches anywhere
        ("input.txt", False, {"input.txt"}),  # working directory: from its root
        ("/input.txt", True, {"input.txt"}),
        ("queries/*", True, {"queries/b.sql"}),
        ("queries/**", True, {"queries/b.sql", "queries/deep/c.py"}),
        ("**/*.py", True, {"queries/deep/c.py"}),
        ("**/deep/**", True, {"queries/deep/c.py"}),
        ("glob:**/deep/**", False, {"queries/deep/c.py"}),
        ("**.{sql,py}", True, {"a.sql", "queries/b.sql", "queries/deep/c.py"}),
        ("?.sql", True, {"a.sql"}),
        ("[ab].sql", True, {"a.sql"}),
        ("[!a].sql", True, set()),
        ("regex:.*/b\\.sql", True, {"queries/b.sql"}),
        ("regex:[a-z]+\\.txt", True, {"input.txt"}),
        ("nothing*", True, set()),
    ],
)
def test_patterns_follow_kestra_globs(pattern: str, anywhere: bool, matching: set[str]) -> None:
    paths = ["a.sql", "queries/b.sql", "queries/deep/c.py", "input.txt", "x/input.txt"]
    compiled = [compile_pattern(pattern, anywhere=anywhere)]
    assert {p for p in paths if matches(p, compiled)} == matching


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("[abc", "a '[' is never closed"),
        ("{a,b", "a '{' is never closed"),
        ("a\\", "it ends with an escaping"),
        ("[a/b]", "cannot hold '/'"),
        ("regex:(", "invalid regular expression"),
    ],
)
def test_malformed_patterns_say_why(pattern: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        compile_pattern(pattern)


def test_special_characters_are_literal() -> None:
    compiled = [compile_pattern("/data (1).csv")]
    assert matches("data (1).csv", compiled)
    assert not matches("data 1.csv", compiled)
    assert matches("a+b.txt", [compile_pattern("a+b.txt")])
    assert matches("x[1].txt", [compile_pattern("x\\[1\\].txt")])


# ------------------------------------------------------------------------------ UploadFiles


def test_upload_files_map_with_destination_and_kestra_alias():
    result = run(
        """
id: upload_map
namespace: company.team

tasks:
  - id: query
    type: tercel.core.storage.Write
    content: SELECT 1
    extension: .sql
  - id: config
    type: tercel.core.storage.Write
    content: "debug: true"
  - id: upload
    type: io.kestra.plugin.core.namespace.UploadFiles
    destination: /project/
    filesMap:
      /queries/one.sql: "{{ outputs.query.uri }}"
      config.yml: "{{ outputs.config.uri }}"
"""
    )
    assert result.state == "SUCCESS", result.task_runs
    assert result.outputs("upload")["files"] == {
        "/project/queries/one.sql": PREFIX + "project/queries/one.sql",
        "/project/config.yml": PREFIX + "project/config.yml",
    }
    assert namespace_files(result) == {"project/queries/one.sql": "SELECT 1", "project/config.yml": "debug: true"}
    assert result.metric("upload", "uploaded") == 2
    assert "2 file(s) uploaded to namespace 'company.team'" in result.messages("upload")


def test_upload_files_given_as_uris_keep_their_names():
    result = run(
        """
id: upload_uris
namespace: company.team

tasks:
  - id: report
    type: tercel.core.storage.Write
    content: "a,b"
    extension: .csv
  - id: upload
    type: tercel.core.namespace.UploadFiles
    files:
      - "{{ outputs.report.uri }}"
    destination: reports
"""
    )
    assert result.state == "SUCCESS", result.task_runs
    assert result.outputs("upload")["files"] == {"/reports/report.csv": PREFIX + "reports/report.csv"}
    assert namespace_files(result) == {"reports/report.csv": "a,b"}


def test_upload_files_map_as_json_copies_between_namespaces(tmp_path):
    files = {NS: {"scripts/etl.py": "print('etl')", "scripts/lib/util.py": "pass", "README.md": "#"}}
    result = run(
        """
id: copy_scripts
namespace: company.team

tasks:
  - id: download
    type: tercel.core.namespace.DownloadFiles
    files:
      - "/scripts/**"
  - id: upload
    type: tercel.core.namespace.UploadFiles
    namespace: company.team.staging
    filesMap: "{{ outputs.download.files | toJson }}"
""",
        files=files,
    )
    assert result.state == "SUCCESS", result.task_runs
    assert namespace_files(result, "company.team.staging") == {"scripts/etl.py": "print('etl')", "scripts/lib/util.py": "pass"}
    assert set(result.outputs("upload")["files"]) == {"/scripts/etl.py", "/scripts/lib/util.py"}


def test_upload_accepts_kestras_older_files_map():
    result = run(
        """
id: upload_old_map
namespace: company.team

tasks:
  - id: script
    type: tercel.core.storage.Write
    content: print(1)
  - id: upload
    type: tercel.core.namespace.UploadFiles
    namespace: company.team.dev
    files:
      /scripts/main.py: "{{ outputs.script.uri }}"
"""
    )
    assert result.state == "SUCCESS", result.task_runs
    assert namespace_files(result, "company.team.dev") == {"scripts/main.py": "print(1)"}


def test_upload_working_directory_files_by_glob():
    result = run(
        """
id: upload_globs
namespace: company.team

tasks:
  - id: sql
    type: tests.namespace.InWorkdir
    files:
      top.sql: "1"
      models/a.sql: "2"
      models/deep/b.sql: "3"
      models/readme.md: "4"
      notes.txt: "5"
    then:
      type: tercel.core.namespace.UploadFiles
      files: ["**/*.sql", "*.txt"]
      destination: /dbt
  - id: folder
    type: tests.namespace.InWorkdir
    files:
      repo/dbt/models/x.sql: "x"
      repo/dbt/dbt_project.yml: "name: x"
      repo/other.txt: "no"
    then:
      type: tercel.core.namespace.UploadFiles
      files: ["glob:**/dbt/**"]
      destination: /copy
  - id: regex
    type: tests.namespace.InWorkdir
    files:
      a1.csv: "a"
      b2.csv: "b"
      c.csv: "c"
    then:
      type: tercel.core.namespace.UploadFiles
      files: ["regex:[a-z][0-9]\\\\.csv"]
      destination: /csv
  - id: nothing
    type: tests.namespace.InWorkdir
    files:
      a.txt: "a"
    then:
      type: tercel.core.namespace.UploadFiles
      files: ["*.parquet"]
"""
    )
    assert result.state == "SUCCESS", result.task_runs
    assert namespace_files(result) == {
        "dbt/top.sql": "1",
        "dbt/models/a.sql": "2",
        "dbt/models/deep/b.sql": "3",
        "dbt/notes.txt": "5",
        "copy/repo/dbt/models/x.sql": "x",
        "copy/repo/dbt/dbt_project.yml": "name: x",
        "csv/a1.csv": "a",
        "csv/b2.csv": "b",
    }
    assert sorted(result.outputs("sql")["files"]) == [
        "/dbt/models/a.sql",
        "/dbt/models/deep/b.sql",
        "/dbt/notes.txt",
        "/dbt/top.sql",
    ]
    assert result.outputs("nothing")["files"] == {}
    assert "no file of the working directory matches `files` ['*.parquet']" in result.messages("nothing", "WARN")


def test_upload_does_not_follow_symlinks(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("host secret")
    result = run(
        f"""
id: upload_links
namespace: company.team

tasks:
  - id: upload
    type: tests.namespace.InWorkdir
    files:
      real.txt: "real"
    links:
      link.txt: "{outside}"
    then:
      type: tercel.core.namespace.UploadFiles
      files: ["**"]
"""
    )
    assert result.state == "SUCCESS", result.task_runs
    assert namespace_files(result) == {"real.txt": "real"}


def test_upload_conflict_modes(tmp_path):
    files = {NS: {"a.txt": "old a", "b.txt": "old b"}}
    result = run(
        """
id: upload_conflicts
namespace: company.team

tasks:
  - id: new
    type: tercel.core.storage.Write
    content: new
  - id: error
    type: tercel.core.namespace.UploadFiles
    conflict: ERROR
    filesMap:
      c.txt: "{{ outputs.new.uri }}"
      a.txt: "{{ outputs.new.uri }}"
    allowFailure: true
  - id: error_many
    type: tercel.core.namespace.UploadFiles
    conflict: ERROR
    filesMap:
      b.txt: "{{ outputs.new.uri }}"
      a.txt: "{{ outputs.new.uri }}"
    allowFailure: true
  - id: skip
    type: tercel.core.namespace.UploadFiles
    conflict: SKIP
    filesMap:
      a.txt: "{{ outputs.new.uri }}"
      d.txt: "{{ outputs.new.uri }}"
  - id: overwrite
    type: tercel.core.namespace.UploadFiles
    filesMap:
      b.txt: "{{ outputs.new.uri }}"
""",
        files=files,
    )
    assert state(result, "error") == "WARNING"
    assert error(result, "error") == (
        "File '/a.txt' already exists in namespace 'company.team' and conflict is set to ERROR: nothing was uploaded"
    )
    assert error(result, "error_many") == (
        "Files '/a.txt', '/b.txt' already exist in namespace 'company.team' and conflict is set to ERROR: nothing was uploaded"
    )
    assert result.outputs("skip")["files"] == {"/d.txt": PREFIX + "d.txt"}
    assert "/a.txt already exists in namespace 'company.team': skipped" in result.messages("skip")
    assert result.outputs("overwrite")["files"] == {"/b.txt": PREFIX + "b.txt"}
    # ERROR uploaded nothing (not even c.txt), SKIP kept a.txt, OVERWRITE replaced b.txt
    assert namespace_files(result) == {"a.txt": "old a", "b.txt": "new", "d.txt": "new"}


def test_upload_failures_name_the_property():
    result = run(
        """
id: upload_failures
namespace: company.team

tasks:
  - id: file
    type: tercel.core.storage.Write
    content: data
  - id: not_a_uri
    type: tercel.core.namespace.UploadFiles
    filesMap:
      a.txt: /tmp/a.txt
    allowFailure: true
  - id: missing_source
    type: tercel.core.namespace.UploadFiles
    filesMap:
      a.txt: tercel:///company/team/flow/executions/x/tasks/t/r/gone.txt
    allowFailure: true
  - id: same_target
    type: tercel.core.namespace.UploadFiles
    destination: /data
    files:
      - "{{ outputs.file.uri }}"
    filesMap:
      /file.tmp: "{{ outputs.file.uri }}"
    allowFailure: true
  - id: dot_dot
    type: tercel.core.namespace.UploadFiles
    filesMap:
      ../escape.txt: "{{ outputs.file.uri }}"
    allowFailure: true
  - id: bad_destination
    type: tercel.core.namespace.UploadFiles
    destination: "a//b"
    filesMap:
      x.txt: "{{ outputs.file.uri }}"
    allowFailure: true
  - id: backslash
    type: tercel.core.namespace.UploadFiles
    filesMap:
      "a\\\\b.txt": "{{ outputs.file.uri }}"
    allowFailure: true
  - id: folder_key
    type: tercel.core.namespace.UploadFiles
    filesMap:
      "dir/": "{{ outputs.file.uri }}"
    allowFailure: true
  - id: other_namespace
    type: tercel.core.namespace.UploadFiles
    namespace: other.team
    filesMap:
      x.txt: "{{ outputs.file.uri }}"
    allowFailure: true
  - id: parent_namespace
    type: tercel.core.namespace.UploadFiles
    namespace: company
    filesMap:
      x.txt: "{{ outputs.file.uri }}"
    allowFailure: true
  - id: bad_namespace
    type: tercel.core.namespace.UploadFiles
    namespace: "company/team"
    filesMap:
      x.txt: "{{ outputs.file.uri }}"
    allowFailure: true
  - id: bad_pattern
    type: tests.namespace.InWorkdir
    files: {}
    then:
      type: tercel.core.namespace.UploadFiles
      files: ["[abc"]
    allowFailure: true
  - id: bad_json
    type: tercel.core.namespace.UploadFiles
    files: "{not json"
    allowFailure: true
"""
    )
    assert result.state == "WARNING"
    assert error(result, "not_a_uri") == "`filesMap['a.txt']` must be an internal storage URI (tercel:///...), got '/tmp/a.txt'"
    assert error(result, "missing_source") == (
        "`filesMap['a.txt']`: file not found in internal storage: tercel:///company/team/flow/executions/x/tasks/t/r/gone.txt"
    )
    assert error(result, "same_target") == "`files[0]` and `filesMap['/file.tmp']` would both be uploaded to '/data/file.tmp'"
    assert error(result, "dot_dot") == "`filesMap['../escape.txt']`: invalid path '../escape.txt': '..' segments are not allowed"
    assert error(result, "bad_destination") == "`destination`: invalid path 'a//b': empty segments ('//') are not allowed"
    assert error(result, "backslash") == "`filesMap['a\\\\b.txt']`: invalid path 'a\\\\b.txt': separate folders with '/', not '\\'"
    assert error(result, "folder_key") == "`filesMap['dir/']`: 'dir/' does not name a file"
    assert error(result, "other_namespace") == (
        "namespace 'company.team' may not use the files of namespace 'other.team': "
        "a flow reaches only its own namespace and its children (company.team.*), unless an administrator allows it (TERCEL_NAMESPACE_ACCESS)"
    )
    assert "may not use the files of namespace 'company'" in error(result, "parent_namespace")
    assert error(result, "bad_namespace") == (
        "`namespace`: invalid namespace 'company/team': use dot-separated parts of letters, digits, '_' and '-'"
    )
    assert error(result, "bad_pattern") == "`files[0]`: invalid pattern '[abc': a '[' is never closed"
    assert error(result, "bad_json").startswith("`files`: not a map nor a JSON object: ")
    assert namespace_files(result) == {}
    assert namespace_files(result, "other.team") == {}


def test_upload_needs_files_or_files_map():
    problems = validate(
        """
id: upload_nothing
namespace: company.team

tasks:
  - id: upload
    type: tercel.core.namespace.UploadFiles
    destination: /x
""", types=list(TYPES)
    )
    assert any('needs at least one of files, filesMap' in p for p in problems), problems


def test_upload_refuses_an_unknown_conflict_mode():
    problems = validate(
        """
id: upload_bad_conflict
namespace: company.team

tasks:
  - id: upload
    type: tercel.core.namespace.UploadFiles
    files: ["**"]
    conflict: REPLACE
""", types=list(TYPES)
    )
    assert any("'conflict' must be one of OVERWRITE, ERROR, SKIP" in p for p in problems), problems


# ---------------------------------------------------------------------------- DownloadFiles


FILES = {
    "input.txt": "top input",
    "queries/orders.sql": "SELECT * FROM orders",
    "queries/deep/items.sql": "SELECT * FROM items",
    "scripts/etl.py": "print('etl')",
    "scripts/input.txt": "nested input",
}


def test_download_by_patterns(tmp_path):
    files = {NS: FILES, "company.team.analytics": {"a.sql": "child"}, "company.teamx": {"x.sql": "no"}}
    result = run(
        """
id: download
namespace: company.team

tasks:
  - id: all
    type: tercel.core.namespace.DownloadFiles
    files: "**"
  - id: sql
    type: io.kestra.plugin.core.namespace.DownloadFiles
    namespace: company.team
    files:
      - "**.sql"
  - id: bare_name
    type: tercel.core.namespace.DownloadFiles
    files: [input.txt]
  - id: rooted
    type: tercel.core.namespace.DownloadFiles
    files: ["/input.txt", "/scripts/*.py"]
  - id: top_level
    type: tercel.core.namespace.DownloadFiles
    files: ["*.txt"]
  - id: regex
    type: tercel.core.namespace.DownloadFiles
    files: ["regex:.*/deep/.*"]
  - id: child
    type: tercel.core.namespace.DownloadFiles
    namespace: company.team.analytics
    files: ["**"]
  - id: none
    type: tercel.core.namespace.DownloadFiles
    files: ["**.parquet", "missing.csv"]
  - id: destination
    type: tercel.core.namespace.DownloadFiles
    files: ["/input.txt"]
    destination: /out
""",
        files=files,
    )
    assert result.state == "SUCCESS", result.task_runs
    every = result.outputs("all")["files"]
    assert sorted(every) == ["/input.txt", "/queries/deep/items.sql", "/queries/orders.sql", "/scripts/etl.py", "/scripts/input.txt"]
    assert {path: result.read(uri).decode() for path, uri in every.items()} == {"/" + p: t for p, t in FILES.items()}
    assert all("/executions/" in uri and "/tasks/all/" in uri for uri in every.values())
    assert every["/input.txt"].endswith("/input.txt")
    assert every["/scripts/etl.py"].endswith("-etl.py")  # folders are folded into the stored name
    assert result.metric("all", "downloaded") == 5
    assert sorted(result.outputs("sql")["files"]) == ["/queries/deep/items.sql", "/queries/orders.sql"]
    assert sorted(result.outputs("bare_name")["files"]) == ["/input.txt", "/scripts/input.txt"]
    assert sorted(result.outputs("rooted")["files"]) == ["/input.txt", "/scripts/etl.py"]
    assert sorted(result.outputs("top_level")["files"]) == ["/input.txt"]
    assert sorted(result.outputs("regex")["files"]) == ["/queries/deep/items.sql"]
    child = result.outputs("child")["files"]
    assert list(child) == ["/a.sql"] and result.read(child["/a.sql"]) == b"child"
    assert result.outputs("none")["files"] == {}
    assert result.metric("none", "downloaded") == 0
    assert "no file of namespace 'company.team' matches `files` ['**.parquet', 'missing.csv']" in result.messages("none", "WARN")
    copied = result.outputs("destination")["files"]
    assert list(copied) == ["/input.txt"] and result.read(copied["/input.txt"]) == b"top input"


def test_download_failures(tmp_path):
    files = {"company.other": {"secret.txt": "secret"}, "company": {"parent.txt": "p"}}
    result = run(
        """
id: download_failures
namespace: company.team

tasks:
  - id: sibling
    type: tercel.core.namespace.DownloadFiles
    namespace: company.other
    files: "**"
    allowFailure: true
  - id: parent
    type: tercel.core.namespace.DownloadFiles
    namespace: company
    files: "**"
    allowFailure: true
  - id: empty_list
    type: tercel.core.namespace.DownloadFiles
    files: []
    allowFailure: true
  - id: blank_pattern
    type: tercel.core.namespace.DownloadFiles
    files: ["**", " "]
    allowFailure: true
  - id: bad_pattern
    type: tercel.core.namespace.DownloadFiles
    files: ["ok", "{a,b"]
    allowFailure: true
  - id: bad_regex
    type: tercel.core.namespace.DownloadFiles
    files: "regex:(unclosed"
    allowFailure: true
""",
        files=files,
    )
    assert result.state == "WARNING"
    assert error(result, "sibling") == (
        "namespace 'company.team' may not use the files of namespace 'company.other': "
        "a flow reaches only its own namespace and its children (company.team.*), unless an administrator allows it (TERCEL_NAMESPACE_ACCESS)"
    )
    assert "may not use the files of namespace 'company'" in error(result, "parent")
    assert error(result, "empty_list") == "`files` needs at least one pattern (`**` matches every file)"
    assert error(result, "blank_pattern") == "`files[1]` must be a non-empty pattern, got ' '"
    assert error(result, "bad_pattern") == "`files[1]`: invalid pattern '{a,b': a '{' is never closed"
    assert error(result, "bad_regex").startswith("`files[0]`: invalid pattern 'regex:(unclosed': invalid regular expression: ")
    assert not any("/tasks/sibling/" in uri or "/tasks/parent/" in uri for uri in result.files)


# ------------------------------------------------------------------------------ DeleteFiles


def test_delete_by_patterns(tmp_path):
    files = {
        NS: {**FILES, "tmp/a.upl": "1", "tmp/b/c.upl": "2", "keep.upl.txt": "3"},
        "company.team.sandbox": {"x.txt": "x", "y/z.txt": "z"},
    }
    result = run(
        """
id: delete
namespace: company.team

tasks:
  - id: upl
    type: io.kestra.plugin.core.namespace.DeleteFiles
    namespace: company.team
    files:
      - "**.upl"
    deleteParentFolder: true
  - id: one
    type: tercel.core.namespace.DeleteFiles
    files: /queries/orders.sql
  - id: sandbox
    type: tercel.core.namespace.DeleteFiles
    namespace: company.team.sandbox
    files: "**"
    deleteParentFolder: false
  - id: none
    type: tercel.core.namespace.DeleteFiles
    files: ["*.parquet"]
""",
        files=files,
        home=tmp_path,
    )
    assert result.state == "SUCCESS", result.task_runs
    assert result.outputs("upl")["files"] == {"/tmp/a.upl": PREFIX + "tmp/a.upl", "/tmp/b/c.upl": PREFIX + "tmp/b/c.upl"}
    assert result.metric("upl", "deleted") == 2
    assert result.outputs("one")["files"] == {"/queries/orders.sql": PREFIX + "queries/orders.sql"}
    assert sorted(result.outputs("sandbox")["files"]) == ["/x.txt", "/y/z.txt"]
    assert result.outputs("none")["files"] == {}
    assert result.metric("none", "deleted") == 0
    assert "no file of namespace 'company.team' matches `files` ['*.parquet']" in result.messages("none", "WARN")
    remaining = namespace_files(result)
    assert sorted(remaining) == ["input.txt", "keep.upl.txt", "queries/deep/items.sql", "scripts/etl.py", "scripts/input.txt"]
    assert namespace_files(result, "company.team.sandbox") == {}
    # folders left empty are gone (folders exist only through their files)
    storage_root = tmp_path / "storage" / "company" / "team" / "_files"
    assert not (storage_root / "tmp").exists()
    assert (storage_root / "queries" / "deep").is_dir()


def test_delete_failures(tmp_path):
    files = {"other.team": {"secret.txt": "secret"}}
    result = run(
        """
id: delete_failures
namespace: company.team

tasks:
  - id: other
    type: tercel.core.namespace.DeleteFiles
    namespace: other.team
    files: "**"
    allowFailure: true
  - id: bad_flag
    type: tercel.core.namespace.DeleteFiles
    files: "**"
    deleteParentFolder: "{{ 'maybe' }}"
    allowFailure: true
  - id: bad_pattern
    type: tercel.core.namespace.DeleteFiles
    files: "a\\\\"
    allowFailure: true
""",
        files=files,
    )
    assert result.state == "WARNING"
    assert error(result, "other") == (
        "namespace 'company.team' may not use the files of namespace 'other.team': "
        "a flow reaches only its own namespace and its children (company.team.*), unless an administrator allows it (TERCEL_NAMESPACE_ACCESS)"
    )
    assert "deleteParentFolder" in error(result, "bad_flag")
    assert error(result, "bad_pattern") == "`files[0]`: invalid pattern 'a\\\\': it ends with an escaping '\\'"
    assert namespace_files(result, "other.team") == {"secret.txt": "secret"}


# --------------------------------------------------------------------------------- examples


@pytest.mark.parametrize(
    ("cls", "index"),
    [(cls, i) for cls in (UploadFiles, DownloadFiles, DeleteFiles) for i in range(len(cls.type_examples))],
    ids=lambda x: x.__name__ if isinstance(x, type) else str(x),
)
def test_examples_run(cls, index, tmp_path):
    files = {
        NS: {"scripts/etl.py": "print(1)", "a.tmp": "", "staging/x.csv": ""},
        "company.team.analytics": {"queries/orders.sql": "SELECT 1"},
        "company.team.sandbox": {"anything.txt": ""},
    }
    result = run(cls.type_examples[index].code, files=files)
    assert result.state == "SUCCESS", result.task_runs
