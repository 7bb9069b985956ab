"""WorkingDirectory: child tasks that share one folder on the worker."""

from __future__ import annotations

import io
import tarfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from tercel_sdk import (
    Duration,
    Example,
    FlowableContext,
    FlowableResult,
    FlowableTask,
    Property,
    RunContext,
    TaskFailed,
    TaskList,
    block_state,
    resolve_sequential,
)

from ..storage import (
    _CHUNK,
    _glob_match,
    _input_files,
    _inside,
    _is_storage_uri,
    _open,
    _storage_name,
)

__all__ = ["NamespaceFilesSpec", "WorkingDirectory", "WorkingDirectoryCache"]


class NamespaceFilesSpec(BaseModel):
    """Which namespace files to copy into the working directory."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, defer_build=True)

    enabled: bool = Field(default=True, description="Copy namespace files in.")
    include: list[str] | None = Field(default=None, description="Globs of the files to copy (default: all).")
    exclude: list[str] | None = Field(default=None, description="Globs of the files to leave out.")
    namespaces: list[str] | None = Field(
        default=None, description="Namespaces to copy from, in order (later ones win); default: the flow's own."
    )


class WorkingDirectoryCache(BaseModel):
    """Files kept from one execution to the next (installed dependencies, downloads)."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, defer_build=True)

    patterns: list[str] = Field(min_length=1, description="Globs of the files to cache, relative to the working directory.")
    ttl: Duration | None = Field(default=None, description="How long the cache is used before it is rebuilt (default: forever).")


class WorkingDirectory(FlowableTask):
    """Run tasks one after the other in the same working directory on the worker.

    Every task inside sees the same `ctx.working_dir`: files a task writes are there for the next
    ones without going through internal storage. Before the first task the folder receives
    `inputFiles` (text, or a `tercel://` file to copy), the namespace's files with
    `namespaceFiles`, and what `cache` kept from an earlier execution; after the last one the
    files matching `outputFiles` are stored and become `outputs.<id>.outputFiles` (path → URI),
    the `cache` is saved, and the folder is deleted. `errors` and `finally` run in the same folder.
    Unlike Kestra, flowable tasks work inside too (their tasks share the folder).
    """

    type_name = "tercel.core.WorkingDirectory"
    type_aliases = ("io.kestra.plugin.core.flow.WorkingDirectory", "io.kestra.core.tasks.flows.WorkingDirectory")
    type_title = "Run tasks sequentially in the same working directory."
    type_examples = (
        Example(
            title="Create a file, read it in the next task, and keep it as an output.",
            full=True,
            code="""\
id: working_directory
namespace: company.team

tasks:
  - id: wdir
    type: tercel.core.WorkingDirectory
    inputFiles:
      query.sql: SELECT 1
    outputFiles:
      - "*.txt"
    tasks:
      - id: write
        type: tercel.core.storage.LocalFiles
        inputs:
          result.txt: "{{ flow.id }}"
      - id: read
        type: tercel.core.storage.LocalFiles
        outputs:
          - query.sql

  - id: log
    type: tercel.core.Log
    message: "{{ read(outputs.wdir.outputFiles['result.txt']) }}"
""",
        ),
    )

    shares_working_directory = True

    tasks: TaskList = Field(min_length=1, description="The tasks to run in the shared folder, in order.")
    input_files: Property[dict[str, str] | str] | None = Field(
        default=None, description="Files to create first: relative path → content (text, or a `tercel://` URI to copy)."
    )
    output_files: Property[list[str]] | None = Field(
        default=None, description="Globs of the files to store at the end (seen as `outputs.<id>.outputFiles`)."
    )
    namespace_files: NamespaceFilesSpec | None = Field(default=None, description="Copy the namespace's files in first.")
    cache: WorkingDirectoryCache | None = Field(default=None, description="Keep some files for the next executions.")

    def resolve(self, ctx: FlowableContext) -> FlowableResult:
        done = ctx.task_run.phases_done
        if "setup" not in done:
            return FlowableResult(work="setup")
        nexts = resolve_sequential(ctx, self.tasks, self.errors, self.finally_)
        if nexts:
            return FlowableResult(next=nexts)
        state = block_state(ctx, self.tasks, self.errors, self.finally_)
        if state is None:
            return FlowableResult()
        if "teardown" not in done:
            return FlowableResult(work="teardown")
        return FlowableResult(state=state)

    # -- work on the worker ------------------------------------------------------------------------
    def work(self, ctx: RunContext, phase: str) -> dict[str, Any] | None:
        root = ctx.working_dir.resolve()
        if phase == "setup":
            self._restore_cache(ctx, root)
            self._copy_namespace_files(ctx, root)
            self._write_input_files(ctx, root)
            return None
        if phase == "teardown":
            try:
                outputs = self._store_output_files(ctx, root)
                self._save_cache(ctx, root)
            finally:
                import shutil

                shutil.rmtree(root, ignore_errors=True)
            return {"outputFiles": outputs}
        raise TaskFailed(f"WorkingDirectory has no work phase {phase!r}")

    def _write_input_files(self, ctx: RunContext, root: Path) -> None:
        if self.input_files is None:
            return
        for name, content in _input_files(ctx.render(self.input_files)).items():
            path = _inside(root, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            if _is_storage_uri(content):
                with _open(ctx, content, f"inputFiles.{name}") as src, open(path, "wb") as out:
                    while chunk := src.read(_CHUNK):
                        out.write(chunk)
            else:
                path.write_text(content, encoding="utf-8")

    def _copy_namespace_files(self, ctx: RunContext, root: Path) -> None:
        spec = self.namespace_files
        if spec is None or not spec.enabled:
            return
        copied = 0
        for namespace in spec.namespaces or [None]:
            for file in ctx.namespace_files.list(namespace=namespace):
                if spec.include and not any(_glob_match(file.path, p) for p in spec.include):
                    continue
                if spec.exclude and any(_glob_match(file.path, p) for p in spec.exclude):
                    continue
                path = _inside(root, file.path)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(ctx.namespace_files.read(file.path, namespace=namespace))
                copied += 1
        ctx.logger.debug("%d namespace file(s) copied into the working directory", copied)

    def _store_output_files(self, ctx: RunContext, root: Path) -> dict[str, str]:
        patterns = ctx.render(self.output_files) if self.output_files is not None else []
        uris: dict[str, str] = {}
        if not patterns or not root.exists():
            return uris
        for rel in sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()):
            if any(_glob_match(rel, pattern) for pattern in patterns):
                uris[rel] = ctx.put_file(root / rel, _storage_name(rel))
        return uris

    # -- cache: an archive stored as a file of the execution that built it, found through KV ---------
    def _cache_key(self, ctx: RunContext) -> str:
        return f"tercel.cache.{ctx.flow_id}.{self.id}"

    def _restore_cache(self, ctx: RunContext, root: Path) -> None:
        if self.cache is None:
            return
        entry = ctx.kv.get(self._cache_key(ctx))
        if not isinstance(entry, dict) or not entry.get("uri"):
            ctx.logger.info("no cache yet: it is built at the end of this execution")
            return
        try:
            data = ctx.read_file(str(entry["uri"]))
        except Exception:
            ctx.logger.warning("the cache archive is gone (purged?): it is built again")
            return
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            archive.extractall(root, filter="data")
        ctx.logger.info("cache restored (%d bytes)", len(data))

    def _save_cache(self, ctx: RunContext, root: Path) -> None:
        if self.cache is None or not root.exists():
            return
        if isinstance(ctx.kv.get(self._cache_key(ctx)), dict):  # still valid: kept until its ttl ends
            return
        files = [p for p in sorted(root.rglob("*")) if p.is_file()
                 and any(_glob_match(p.relative_to(root).as_posix(), pat) for pat in self.cache.patterns)]
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for path in files:
                archive.add(path, arcname=path.relative_to(root).as_posix())
        uri = ctx.put_file(buffer.getvalue(), "working-directory-cache.tar.gz")
        ttl: timedelta | None = self.cache.ttl
        ctx.kv.set(self._cache_key(ctx), {"uri": uri, "files": len(files)}, ttl=ttl)
        ctx.logger.info("cache saved: %d file(s)", len(files))
