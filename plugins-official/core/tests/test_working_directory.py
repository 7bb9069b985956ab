"""WorkingDirectory through the real runtime: one folder shared by the tasks inside."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tercel_sdk import Output, Property, RunnableTask
from tercel_sdk.testing import run_flow


class Listing(Output):
    files: list[str]
    content: str | None = None
    folder: str


class ListDir(RunnableTask):
    """Lists the working directory and reads one file of it (what a script task would see)."""

    type_name = "tests.ListDir"
    read: Property[str] | None = None

    def run(self, ctx: Any) -> Listing:
        root = ctx.working_dir
        files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        name = ctx.render(self.read) if self.read is not None else None
        content = (root / name).read_text() if name and (root / name).exists() else None
        return Listing(files=files, content=content, folder=str(root))


class WriteDir(RunnableTask):
    """Writes a file into the working directory."""

    type_name = "tests.WriteDir"
    path: Property[str]
    content: Property[str]

    def run(self, ctx: Any) -> None:
        target = ctx.working_dir / ctx.render(self.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(ctx.render(self.content))


TYPES = [ListDir, WriteDir]


def test_tasks_inside_share_one_folder_with_input_and_output_files() -> None:
    result = run_flow(
        """
id: wd
namespace: tests.wd
tasks:
  - id: source
    type: tercel.core.storage.Write
    content: from storage
  - id: wdir
    type: io.kestra.plugin.core.flow.WorkingDirectory
    inputFiles:
      query.sql: "SELECT {{ 40 + 2 }}"
      copied.txt: "{{ outputs.source.uri }}"
    outputFiles:
      - "*.csv"
      - "out/**"
    tasks:
      - id: write
        type: tests.WriteDir
        path: out/result.csv
        content: "a,b"
      - id: write_top
        type: tests.WriteDir
        path: top.csv
        content: "1,2"
      - id: list
        type: tests.ListDir
        read: query.sql
  - id: read_back
    type: tercel.core.Return
    format: "{{ read(outputs.wdir.outputFiles['out/result.csv']) }} | {{ read(outputs.wdir.outputFiles['top.csv']) }}"
""",
        types=TYPES,
    )
    assert result.state == "SUCCESS", result.logs
    listing = result.outputs("list")
    assert listing["files"] == ["copied.txt", "out/result.csv", "query.sql", "top.csv"]
    assert listing["content"] == "SELECT 42"
    assert sorted(result.outputs("wdir")["outputFiles"]) == ["out/result.csv", "top.csv"]
    assert result.outputs("read_back")["value"] == "a,b | 1,2"
    assert not Path(listing["folder"]).exists()  # deleted at the end
    assert [t["taskId"] for t in result.execution["taskRunList"]] == ["source", "wdir", "write", "write_top", "list", "read_back"]


def test_a_failure_inside_still_collects_output_files_and_runs_errors_in_the_folder() -> None:
    result = run_flow(
        """
id: wd_fail
namespace: tests.wd
tasks:
  - id: wdir
    type: tercel.core.WorkingDirectory
    outputFiles: ["*.log"]
    tasks:
      - id: write
        type: tests.WriteDir
        path: run.log
        content: started
      - id: boom
        type: tercel.core.Fail
        errorMessage: broken
    errors:
      - id: inspect
        type: tests.ListDir
        read: run.log
""",
        types=TYPES,
    )
    assert result.state == "FAILED"
    assert result.outputs("inspect")["content"] == "started"
    assert list(result.outputs("wdir")["outputFiles"]) == ["run.log"]
    assert result.task_run("wdir")["state"]["current"] == "FAILED"


def test_two_working_directories_do_not_see_each_other() -> None:
    result = run_flow(
        """
id: wd_two
namespace: tests.wd
tasks:
  - id: parallel
    type: tercel.core.Parallel
    tasks:
      - id: first
        type: tercel.core.WorkingDirectory
        tasks:
          - id: write_a
            type: tests.WriteDir
            path: a.txt
            content: a
          - id: list_a
            type: tests.ListDir
      - id: second
        type: tercel.core.WorkingDirectory
        tasks:
          - id: write_b
            type: tests.WriteDir
            path: b.txt
            content: b
          - id: list_b
            type: tests.ListDir
  - id: outside
    type: tests.ListDir
""",
        types=TYPES,
    )
    assert result.state == "SUCCESS"
    assert result.outputs("list_a")["files"] == ["a.txt"]
    assert result.outputs("list_b")["files"] == ["b.txt"]
    assert result.outputs("outside")["files"] == []


def test_cache_is_restored_in_the_next_execution_until_its_ttl(tmp_path: Path) -> None:
    flow = """
id: wd_cache
namespace: tests.wd
tasks:
  - id: wdir
    type: tercel.core.WorkingDirectory
    cache:
      patterns: ["deps/**"]
      ttl: PT1H
    tasks:
      - id: before
        type: tests.ListDir
      - id: install
        type: tests.WriteDir
        path: deps/lib.txt
        content: "installed in {{ execution.id }}"
      - id: scratch
        type: tests.WriteDir
        path: scratch.txt
        content: not cached
"""
    first = run_flow(flow, types=TYPES, home=tmp_path)
    assert first.state == "SUCCESS"
    assert first.outputs("before")["files"] == []
    second = run_flow(flow, types=TYPES, home=tmp_path)
    assert second.state == "SUCCESS"
    assert second.outputs("before")["files"] == ["deps/lib.txt"]


def test_namespace_files_are_copied_in_with_include_and_exclude() -> None:
    result = run_flow(
        """
id: wd_ns
namespace: tests.wd
tasks:
  - id: seed
    type: tercel.core.WorkingDirectory
    tasks:
      - id: write_script
        type: tests.WriteDir
        path: scripts/etl.py
        content: print('etl')
      - id: write_note
        type: tests.WriteDir
        path: notes.md
        content: notes
    outputFiles: ["**"]
  - id: upload
    type: tercel.core.namespace.UploadFiles
    filesMap:
      scripts/etl.py: "{{ outputs.seed.outputFiles['scripts/etl.py'] }}"
      notes.md: "{{ outputs.seed.outputFiles['notes.md'] }}"
  - id: wdir
    type: tercel.core.WorkingDirectory
    namespaceFiles:
      enabled: true
      include: ["scripts/**", "*.md"]
      exclude: ["*.md"]
    tasks:
      - id: list
        type: tests.ListDir
        read: scripts/etl.py
""",
        types=TYPES,
    )
    assert result.state == "SUCCESS", [(t["taskId"], t.get("error")) for t in result.execution["taskRunList"]]
    assert result.outputs("list")["files"] == ["scripts/etl.py"]
    assert result.outputs("list")["content"] == "print('etl')"


def test_bad_input_file_paths_are_refused() -> None:
    result = run_flow(
        """
id: wd_bad
namespace: tests.wd
tasks:
  - id: wdir
    type: tercel.core.WorkingDirectory
    inputFiles:
      ../escape.txt: nope
    tasks:
      - id: list
        type: tests.ListDir
""",
        types=TYPES,
    )
    assert result.state == "FAILED"
    assert "'../escape.txt' is not a file path inside the working directory" in (result.task_run("wdir")["error"] or "")
    assert [t["taskId"] for t in result.execution["taskRunList"]] == ["wdir"]
