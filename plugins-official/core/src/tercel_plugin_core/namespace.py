"""Namespace files tasks: `tercel.core.namespace.UploadFiles`, `DownloadFiles` and `DeleteFiles`.

Kestra's `io.kestra.plugin.core.namespace.*`, over the namespace files the run context offers
(`ctx.namespace_files`). A flow uses the files of its own namespace (the default) and of its
child namespaces; any other namespace is refused.

Paths are written as in Kestra, from the namespace root with or without a leading `/`
(`/scripts/etl.py` and `scripts/etl.py` are the same file); outputs key files by their path with
the leading `/` (`outputs.download.files['/scripts/etl.py']`), as Kestra does.

Patterns (`files`) are Java-style globs, as in Kestra: `*` and `?` stay within one folder, `**`
crosses folders (`**/` also matches no folder at all), `[abc]`, `[!abc]` and `{sql,py}` work as
usual, `\\` escapes. A pattern may say its syntax: `glob:**/dbt/**`, or `regex:.*\\.sql` (a
regular expression matching the whole path, with or without its leading `/`). For namespace
files (`DownloadFiles`, `DeleteFiles`), a bare pattern that starts with a letter or a digit
matches in any folder, like Kestra (`input.txt` is `**/input.txt`); patterns match a path
written with or without its leading `/`, so `*.sql` matches the `.sql` files of the root.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import Literal
from urllib.parse import unquote, urlparse

from pydantic import ConfigDict, Field, model_validator
from tercel_sdk import (
    Example,
    MetricDoc,
    NamespaceFilesAccess,
    Output,
    Property,
    RunContext,
    RunnableTask,
    TaskFailed,
)

from ._namespaces import target_namespace
from .storage import _storage_name

__all__ = [
    "Conflict",
    "DeleteFiles",
    "DeleteFilesOutput",
    "DownloadFiles",
    "DownloadFilesOutput",
    "UploadFiles",
    "UploadFilesOutput",
    "compile_pattern",
    "matches",
]

Conflict = Literal["OVERWRITE", "ERROR", "SKIP"]
"""What `UploadFiles` does with a file that already exists (Kestra's `Namespace.Conflicts`)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WORD_START = re.compile(r"\w")

# ------------------------------------------------------------------------------------ helpers




def _clean_path(text: str, prop: str, *, folder: bool = False) -> str:
    """A namespace path as Kestra writes it (leading `/` optional) → relative, checked.

    The core checks again; checking here lets the error name the property it comes from.
    """
    if not isinstance(text, str):
        raise TaskFailed(f"`{prop}` must be a path, got {type(text).__name__}")
    path = text.lstrip("/")
    if folder:
        path = path.strip().strip("/")
        if not path:
            return ""
    if not path or path.endswith("/"):
        raise TaskFailed(f"`{prop}`: {text!r} does not name a file")
    if "\\" in path:
        raise TaskFailed(f"`{prop}`: invalid path {text!r}: separate folders with '/', not '\\'")
    if _CONTROL.search(path):
        raise TaskFailed(f"`{prop}`: invalid path {text!r}: NUL and control characters are not allowed")
    for segment in path.split("/"):
        if not segment:
            raise TaskFailed(f"`{prop}`: invalid path {text!r}: empty segments ('//') are not allowed")
        if segment in (".", ".."):
            raise TaskFailed(f"`{prop}`: invalid path {text!r}: {segment!r} segments are not allowed")
    return path


def _join(folder: str, path: str) -> str:
    return f"{folder}/{path}" if folder else path


def _shown(path: str) -> str:
    """A namespace path as Kestra shows it: from the root, with a leading `/`."""
    return "/" + path


def _is_storage_uri(value: str) -> bool:
    return value.startswith(("tercel://", "kestra://")) and "\n" not in value


def _uri_name(uri: str) -> str:
    return unquote(PurePosixPath(urlparse(uri).path).name)


# ----------------------------------------------------------------------------------- patterns


def _glob_regex(glob: str) -> str:
    """A Java-style glob as a regular expression (ValueError says what is malformed)."""
    out: list[str] = []
    i, n, depth = 0, len(glob), 0
    while i < n:
        c = glob[i]
        if c == "\\":
            if i + 1 >= n:
                raise ValueError("it ends with an escaping '\\'")
            out.append(re.escape(glob[i + 1]))
            i += 2
        elif glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            j = i + 1
            negate = j < n and glob[j] in "!^"
            if negate:
                j += 1
            start = j
            if j < n and glob[j] == "]":  # a ']' first in the class is a literal
                j += 1
            while j < n and glob[j] != "]":
                j += 1
            if j >= n:
                raise ValueError("a '[' is never closed")
            body = glob[start:j]
            if "/" in body:
                raise ValueError("a '[...]' class cannot hold '/'")
            chars = "".join(ch if ch == "-" else re.escape(ch) for ch in body)
            out.append(f"[^/{chars}]" if negate else f"[{chars}]")
            i = j + 1
        elif c == "{":
            out.append("(?:")
            depth += 1
            i += 1
        elif c == "}" and depth:
            out.append(")")
            depth -= 1
            i += 1
        elif c == "," and depth:
            out.append("|")
            i += 1
        else:
            out.append(re.escape(c))
            i += 1
    if depth:
        raise ValueError("a '{' is never closed")
    return "".join(out)


def compile_pattern(pattern: str, *, anywhere: bool = False) -> re.Pattern[str]:
    """One `files` pattern (`glob:…`, `regex:…` or a bare glob) as a compiled regex.

    With `anywhere`, a bare glob starting with a letter or digit matches in any folder (Kestra's
    rule for namespace files). Match it with `matches`. ValueError says what is malformed.
    """
    if pattern.startswith("regex:"):
        try:
            return re.compile(pattern[len("regex:"):])
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
    if pattern.startswith("glob:"):
        glob = pattern[len("glob:"):]
    else:
        glob = pattern
        if anywhere and _WORD_START.match(glob):
            glob = "**/" + glob
    return re.compile(_glob_regex(glob), re.DOTALL)


def _compile_all(patterns: list[str], prop: str, *, anywhere: bool) -> list[re.Pattern[str]]:
    compiled = []
    for i, pattern in enumerate(patterns):
        try:
            compiled.append(compile_pattern(pattern, anywhere=anywhere))
        except ValueError as exc:
            raise TaskFailed(f"`{prop}[{i}]`: invalid pattern {pattern!r}: {exc}") from None
    return compiled


def matches(path: str, compiled: Iterable[re.Pattern[str]]) -> bool:
    """Whether a relative path (`scripts/etl.py`) matches one of the patterns, with or without
    its leading `/`."""
    rooted = "/" + path
    return any(p.fullmatch(path) or p.fullmatch(rooted) for p in compiled)


def _pattern_list(value: str | list[str] | None, prop: str) -> list[str]:
    """`files` as a list of patterns: one pattern, or a list (a JSON list in text is parsed)."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                value = [text]
        else:
            value = [text]
    if not isinstance(value, list):
        raise TaskFailed(f"`{prop}` must be a pattern or a list of patterns, got {type(value).__name__}")
    patterns = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise TaskFailed(f"`{prop}[{i}]` must be a non-empty pattern, got {item!r}")
        patterns.append(item.strip())
    if not patterns:
        raise TaskFailed(f"`{prop}` needs at least one pattern (`**` matches every file)")
    return patterns


# ---------------------------------------------------------------------------------- UploadFiles


class UploadFilesOutput(Output):
    """What `UploadFiles` produces."""

    files: dict[str, str] = Field(
        default_factory=dict,
        description="The files written (skipped ones are not): namespace path (with its leading `/`) → URI.",
    )


class UploadFiles(RunnableTask):
    """Upload files of internal storage or of the working directory to namespace files.

    `filesMap` maps a namespace path to the URI of a file (a task output, an input): the way to
    rename or relocate files while uploading. It may be a map or a JSON string of one, like the
    `files` output of `DownloadFiles`, so a flow copies files between namespaces.

    `files` lists glob patterns of files of the task's working directory (relative to it: use it
    inside a `WorkingDirectory`); an item that is an internal storage URI uploads that file under
    its own name. Paths keep their folders below `destination`. Kestra's older `files` map
    (path → URI) is read like `filesMap`.

    `conflict` says what happens when a file already exists: `OVERWRITE` (the default), `SKIP`
    it, or fail with `ERROR`, in which case nothing is uploaded. A source URI that does not
    exist, or two sources for one path, fail the task before anything is written.
    """

    type_name = "tercel.core.namespace.UploadFiles"
    type_aliases = ("io.kestra.plugin.core.namespace.UploadFiles",)
    type_title = "Upload one or multiple files to a namespace."
    type_metrics = (MetricDoc(name="uploaded", type="counter", description="Files written to the namespace."),)
    type_examples = (
        Example(
            title="Write a SQL script and upload it, renamed, to the flow's namespace.",
            full=True,
            code="""\
id: upload_files
namespace: company.team

tasks:
  - id: query
    type: tercel.core.storage.Write
    content: SELECT * FROM orders
    extension: .sql

  - id: upload
    type: tercel.core.namespace.UploadFiles
    namespace: "{{ flow.namespace }}"
    filesMap:
      /queries/orders.sql: "{{ outputs.query.uri }}"
    conflict: ERROR
""",
        ),
        Example(
            title="Copy the scripts of a namespace to one of its children, keeping existing files.",
            full=True,
            code="""\
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
    filesMap: "{{ outputs.download.files }}"
    conflict: SKIP
""",
        ),
    )

    # the same rule as `_needs_files`, in the JSON Schema too, so a flow is checked when saved
    model_config = ConfigDict(json_schema_extra={"anyOf": [{"required": ["files"]}, {"required": ["filesMap"]}]})

    namespace: Property[str] | None = Field(
        default=None, description="The namespace to upload to: the flow's own (the default) or a child of it."
    )
    files: Property[list[str] | dict[str, str] | str] | None = Field(
        default=None,
        description="Glob patterns of files of the working directory to upload (`**/*.sql`, `glob:**/dbt/**`), and/or internal storage URIs of files to upload under their own name.",
    )
    files_map: Property[dict[str, str]] | None = Field(
        default=None,
        description="Namespace path → internal storage URI of the file to upload there; a map or a JSON string of one.",
    )
    destination: Property[str] = Field(
        default=Property.of("/"), description="The namespace folder the files go to; `/` (the root) by default."
    )
    conflict: Property[Conflict] = Field(
        default=Property.of("OVERWRITE"),
        description="What to do when a file already exists: `OVERWRITE` it, `SKIP` it, or fail with `ERROR` (nothing is uploaded then).",
    )

    @model_validator(mode="after")
    def _needs_files(self) -> UploadFiles:
        if self.files is None and self.files_map is None:
            raise ValueError("UploadFiles needs `files` or `filesMap`")
        return self

    def run(self, ctx: RunContext) -> UploadFilesOutput:
        namespace = target_namespace(ctx, self.namespace)
        destination = _clean_path(ctx.render(self.destination), "destination", folder=True)
        conflict = ctx.render(self.conflict)
        # target path → (where it comes from, the source: a URI or a local file)
        plan: dict[str, tuple[str, str | Path]] = {}

        def add(target: str, label: str, source: str | Path) -> None:
            if target in plan:
                raise TaskFailed(
                    f"`{plan[target][0]}` and `{label}` would both be uploaded to {_shown(target)!r}"
                )
            plan[target] = (label, source)

        def add_map(mapping: dict[str, str], prop: str) -> None:
            for key, uri in mapping.items():
                label = f"{prop}[{key!r}]"
                if not isinstance(uri, str) or not _is_storage_uri(uri.strip()):
                    raise TaskFailed(f"`{label}` must be an internal storage URI (tercel:///...), got {uri!r}")
                add(_join(destination, _clean_path(str(key), label)), label, uri.strip())

        files = ctx.render(self.files) if self.files is not None else None
        if isinstance(files, str) and files.strip().startswith("{"):
            files = _json_map(files, "files")
        if isinstance(files, dict):
            add_map(files, "files")
        elif files is not None and files != []:
            patterns: list[str] = []
            for i, item in enumerate(_pattern_list(files, "files")):
                if _is_storage_uri(item):
                    add(_join(destination, _uri_name(item)), f"files[{i}]", item)
                else:
                    patterns.append(item)
            if patterns:
                self._add_local(ctx, patterns, destination, add)
        if self.files_map is not None:
            add_map(ctx.render(self.files_map), "filesMap")

        access = ctx.namespace_files
        for label, source in plan.values():
            if isinstance(source, str) and not ctx.file_exists(source):
                raise TaskFailed(f"`{label}`: file not found in internal storage: {source}")
        existing = {target for target in plan if access.exists(target, namespace=namespace)}
        if conflict == "ERROR" and existing:
            shown = ", ".join(repr(_shown(t)) for t in sorted(existing))
            raise TaskFailed(
                f"File {shown} already exists in namespace '{namespace}' and conflict is set to ERROR: nothing was uploaded"
                if len(existing) == 1
                else f"Files {shown} already exist in namespace '{namespace}' and conflict is set to ERROR: nothing was uploaded"
            )

        written: dict[str, str] = {}
        for target, (_label, source) in plan.items():
            if target in existing and conflict == "SKIP":
                ctx.logger.info("%s already exists in namespace '%s': skipped", _shown(target), namespace)
                continue
            overwrite = conflict == "OVERWRITE"
            if isinstance(source, Path):
                stored = access.write(target, source, namespace=namespace, overwrite=overwrite)
            else:
                with ctx.open_file(source) as fp:
                    stored = access.write(target, fp, namespace=namespace, overwrite=overwrite)
            verb = "overwritten" if target in existing else "added"
            ctx.logger.debug("%s %s in namespace '%s'", _shown(target), verb, namespace)
            written[_shown(stored.path)] = stored.uri
        ctx.metric("uploaded", len(written))
        ctx.logger.info("%d file(s) uploaded to namespace '%s'", len(written), namespace)
        return UploadFilesOutput(files=written)

    @staticmethod
    def _add_local(
        ctx: RunContext, patterns: list[str], destination: str, add: Callable[[str, str, Path], None]
    ) -> None:
        """Files of the working directory matching the patterns (regular files, not symlinks)."""
        compiled = _compile_all(patterns, "files", anywhere=False)
        root = ctx.working_dir
        found = 0
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(folder, d)))
            for name in sorted(names):
                full = Path(folder) / name
                if full.is_symlink() or not full.is_file():
                    continue
                rel = full.relative_to(root).as_posix()
                if matches(rel, compiled):
                    found += 1
                    add(_join(destination, rel), f"files: {rel}", full)
        if not found:
            ctx.logger.warning("no file of the working directory matches `files` %s", patterns)


def _json_map(text: str, prop: str) -> dict[str, str]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise TaskFailed(f"`{prop}`: not a map nor a JSON object: {exc}") from None
    if not isinstance(value, dict):
        raise TaskFailed(f"`{prop}` must be a map of path to URI, got {type(value).__name__}")
    return value


# -------------------------------------------------------------------------------- DownloadFiles


class DownloadFilesOutput(Output):
    """What `DownloadFiles` produces."""

    files: dict[str, str] = Field(
        default_factory=dict,
        description="The downloaded files: namespace path (with its leading `/`) → URI of the copy in internal storage.",
    )


def _matching(
    access: NamespaceFilesAccess, namespace: str, patterns: list[str], ctx: RunContext
) -> list[tuple[str, str]]:
    """(path, uri) of the namespace files matching the patterns, sorted by path."""
    compiled = _compile_all(patterns, "files", anywhere=True)
    found = [(f.path, f.uri) for f in access.list("", namespace=namespace) if matches(f.path, compiled)]
    if not found:
        ctx.logger.warning("no file of namespace '%s' matches `files` %s", namespace, patterns)
    return found


class DownloadFiles(RunnableTask):
    """Download namespace files to internal storage, for the next tasks to read by URI.

    `files` is a pattern or a list of them, matched against the paths of the namespace's files
    (see the module notes: `**` for all, `/scripts/**`, `**.sql`, `regex:...`). Each matching
    file is copied to a file of this task run; `files` maps its namespace path to the copy's URI.
    Patterns that match nothing are not an error: a warning is logged and `files` is empty.
    Internal storage keeps one folder per task run, so a file below a folder gets a short unique
    prefix in its stored name (`8c1f…-etl.py`); the output's keys keep the paths.
    """

    type_name = "tercel.core.namespace.DownloadFiles"
    type_aliases = ("io.kestra.plugin.core.namespace.DownloadFiles",)
    type_title = "Download one or multiple files from namespace files."
    type_metrics = (MetricDoc(name="downloaded", type="counter", description="Files downloaded."),)
    type_examples = (
        Example(
            title="Download the SQL files of a child namespace and log the URI of one of them.",
            full=True,
            code="""\
id: download_files
namespace: company.team

tasks:
  - id: download
    type: tercel.core.namespace.DownloadFiles
    namespace: company.team.analytics
    files:
      - "**.sql"

  - id: log
    type: tercel.core.Log
    message: "{{ outputs.download.files['/queries/orders.sql'] }}"
""",
        ),
        Example(
            title="Download all files of the flow's namespace.",
            full=True,
            code="""\
id: download_all_files
namespace: company.team

tasks:
  - id: download
    type: tercel.core.namespace.DownloadFiles
    files: "**"
""",
        ),
    )

    namespace: Property[str] | None = Field(
        default=None, description="The namespace to download from: the flow's own (the default) or a child of it."
    )
    files: Property[str | list[str]] = Field(
        description="A pattern or a list of patterns of the files to download (`**` for all, `/scripts/*.py`, `**.sql`, `regex:...`)."
    )
    destination: Property[str] = Field(
        default=Property.of(""),
        description="Kestra's folder for the copies in internal storage; internal storage keeps one folder per task run, so here it only changes the copies' stored names.",
    )

    def run(self, ctx: RunContext) -> DownloadFilesOutput:
        namespace = target_namespace(ctx, self.namespace)
        patterns = _pattern_list(ctx.render(self.files), "files")
        destination = _clean_path(ctx.render(self.destination), "destination", folder=True)
        downloaded: dict[str, str] = {}
        for path, uri in _matching(ctx.namespace_files, namespace, patterns, ctx):
            with ctx.open_file(uri) as fp:
                stored = ctx.put_file(fp, _storage_name(_join(destination, path)))
            ctx.logger.debug("downloaded %s to %s", _shown(path), stored)
            downloaded[_shown(path)] = stored
        ctx.metric("downloaded", len(downloaded))
        return DownloadFilesOutput(files=downloaded)


# ---------------------------------------------------------------------------------- DeleteFiles


class DeleteFilesOutput(Output):
    """What `DeleteFiles` produces."""

    files: dict[str, str] = Field(
        default_factory=dict,
        description="The deleted files: namespace path (with its leading `/`) → the URI it had.",
    )


class DeleteFiles(RunnableTask):
    """Delete namespace files matching patterns.

    `files` is a pattern or a list of them, matched as in `DownloadFiles` (`**` deletes every
    file of the namespace). Patterns that match nothing are not an error: a warning is logged and
    `files` is empty. Folders exist only through the files in them, so a folder left empty is
    gone whatever `deleteParentFolder` says (Kestra keeps empty folders unless it is true).
    """

    type_name = "tercel.core.namespace.DeleteFiles"
    type_aliases = ("io.kestra.plugin.core.namespace.DeleteFiles",)
    type_title = "Delete one or multiple files from namespace files."
    type_metrics = (MetricDoc(name="deleted", type="counter", description="Files deleted."),)
    type_examples = (
        Example(
            title="Delete the temporary files of the flow's namespace.",
            full=True,
            code="""\
id: delete_files
namespace: company.team

tasks:
  - id: delete
    type: tercel.core.namespace.DeleteFiles
    files:
      - "**.tmp"
      - "/staging/**"
    deleteParentFolder: true
""",
        ),
        Example(
            title="Delete every file of a child namespace.",
            full=True,
            code="""\
id: delete_all_files
namespace: company.team

tasks:
  - id: delete
    type: tercel.core.namespace.DeleteFiles
    namespace: company.team.sandbox
    files: "**"
""",
        ),
    )

    namespace: Property[str] | None = Field(
        default=None, description="The namespace to delete from: the flow's own (the default) or a child of it."
    )
    files: Property[str | list[str]] = Field(
        description="A pattern or a list of patterns of the files to delete (`**` for all, `/tmp/**`, `**.upl`, `regex:...`)."
    )
    delete_parent_folder: Property[bool] = Field(
        default=Property.of(False),
        description="Remove folders left empty. Folders exist only through their files here, so they always go; accepted for Kestra flows.",
    )

    def run(self, ctx: RunContext) -> DeleteFilesOutput:
        namespace = target_namespace(ctx, self.namespace)
        patterns = _pattern_list(ctx.render(self.files), "files")
        ctx.render(self.delete_parent_folder)  # checked, though empty folders never remain
        access = ctx.namespace_files
        deleted: dict[str, str] = {}
        for path, uri in _matching(access, namespace, patterns, ctx):
            if access.delete(path, namespace=namespace):
                ctx.logger.debug("deleted %s", _shown(path))
                deleted[_shown(path)] = uri
        ctx.metric("deleted", len(deleted))
        return DeleteFilesOutput(files=deleted)
