"""Internal-storage tasks (Kestra's `io.kestra.plugin.core.storage.*`).

Files are streamed: line files are read line by line, row files (Amazon Ion, one value a line)
row by row through `tercel_sdk.ion`, and results are written to the attempt's working directory
before they are stored, so no task holds a whole file in memory.

Per-item expressions (`FilterItems.filterCondition`, `DeduplicateItems.expr`) see the item's
fields as top-level variables, as in Kestra (`{{ customer_email }}`), plus the whole item as
`row` (`{{ row['first name'] }}`, or a row that is not a struct). The RunContext can only render
in the task's own context, so items are handed to the expression engine in batches through a
scratch file in internal storage and Kestra's `read` and `fromIon` functions; the template
stays the same from one batch to the next (compiled once) and the values keep their Ion types
(a timestamp is a datetime in the expression).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, ClassVar, Literal
from urllib.parse import urlparse

from pydantic import ConfigDict, Field, PositiveInt, model_validator
from tercel_sdk import (
    Example,
    Output,
    Property,
    RunContext,
    RunnableTask,
    TaskFailed,
    ion,
    is_truthy,
)

__all__ = [
    "Concat",
    "DeduplicateItems",
    "DeduplicateItemsOutput",
    "Delete",
    "DeleteOutput",
    "FilterItems",
    "FilterItemsOutput",
    "LocalFiles",
    "LocalFilesOutput",
    "Reverse",
    "Size",
    "SizeOutput",
    "Split",
    "SplitOutput",
    "UriOutput",
    "parse_bytes",
]

_CHUNK = 1 << 20

# ------------------------------------------------------------------------------------ helpers


class UriOutput(Output):
    """A task that produced one file of internal storage."""

    uri: str = Field(description="The URI of the file created in internal storage.")


def _open(ctx: RunContext, uri: str, prop: str) -> BinaryIO:
    """Open a file of internal storage; a clear error naming the property when it is missing."""
    if not isinstance(uri, str) or not uri.strip():
        raise TaskFailed(f"`{prop}` must be an internal storage URI, got {uri!r}")
    if not ctx.file_exists(uri):
        raise TaskFailed(f"`{prop}`: file not found in internal storage: {uri}")
    return ctx.open_file(uri)


def _extension(uri: str) -> str:
    """The extension of the file a URI names (`.csv`), `.tmp` when it has none (as Kestra)."""
    suffix = PurePosixPath(urlparse(uri).path).suffix
    return suffix or ".tmp"


def _normalize_ext(ext: str | None, default: str = ".tmp") -> str:
    if not ext:
        return default
    ext = ext.strip()
    if "/" in ext or "\\" in ext:
        raise TaskFailed(f"`extension` must not contain a path separator, got {ext!r}")
    return ext if ext.startswith(".") else "." + ext


def _scratch(ctx: RunContext, name: str) -> Path:
    return ctx.working_dir / name


def _lines(fp: BinaryIO, encoding: str = "utf-8") -> Iterator[str]:
    """Lines of a text stream without their end (`\\n`, `\\r\\n` or `\\r`), like Java's readLine."""
    text = io.TextIOWrapper(fp, encoding=encoding, newline=None)
    for line in text:
        yield line[:-1] if line.endswith("\n") else line


_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?b)?\s*$", re.IGNORECASE)
_UNITS = {None: 1, "b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "tb": 1 << 40}


def parse_bytes(text: str | int) -> int:
    """A readable size (`10MB`, `512KB`, `1024`) in bytes; units are binary, as in Kestra."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        match = _SIZE.match(str(text))
        if not match:
            raise TaskFailed(f"`bytes`: invalid size {text!r}; expected a number with an optional unit (B, KB, MB, GB, TB), like '10MB'")
        unit = match.group(2).lower() if match.group(2) else None
        value = int(match.group(1)) * _UNITS[unit]
    if value <= 0:
        raise TaskFailed(f"`bytes` must be greater than 0, got {text!r}")
    return value


# -------------------------------------------------------------------------------------- Write


class Write(RunnableTask):
    """Write text to a new file in internal storage and output its URI.

    Use it to turn a value (a rendered template, another task's output) into a file that later
    tasks read by URI, without any script.
    """

    type_name = "tercel.core.storage.Write"
    type_aliases = ("io.kestra.plugin.core.storage.Write",)
    type_title = "Write data to a file in internal storage."
    type_examples = (
        Example(
            title="Write a text file and log its size.",
            full=True,
            code="""\
id: write
namespace: company.team

tasks:
  - id: write
    type: tercel.core.storage.Write
    content: Hello World
    extension: .txt

  - id: size
    type: tercel.core.storage.Size
    uri: "{{ outputs.write.uri }}"
""",
        ),
    )

    content: Property[str] = Field(description="The file content (written as UTF-8).")
    extension: Property[str] | None = Field(default=None, description="The file extension, like `.txt`; `.tmp` when not set.")

    def run(self, ctx: RunContext) -> UriOutput:
        content = ctx.render(self.content)
        ext = _normalize_ext(ctx.render(self.extension) if self.extension is not None else None)
        uri = ctx.put_file(content.encode("utf-8"), f"{self.id}{ext}")
        return UriOutput(uri=uri)


# ------------------------------------------------------------------------------------- Concat


class Concat(RunnableTask):
    """Concatenate files of internal storage, in order, into one new file.

    `files` is a list of URIs or a JSON string holding one (for example a rendered output list).
    `separator`, when set, is written between two files. Files are streamed, never loaded whole.
    """

    type_name = "tercel.core.storage.Concat"
    type_aliases = ("io.kestra.plugin.core.storage.Concat", "io.kestra.core.tasks.storages.Concat")
    type_title = "Concatenate files from internal storage."
    type_examples = (
        Example(
            title="Concatenate two files with a new line between them.",
            full=True,
            code="""\
id: concat_example
namespace: company.team

tasks:
  - id: first_file
    type: tercel.core.storage.Write
    content: Hello John

  - id: second_file
    type: tercel.core.storage.Write
    content: Hello Jane

  - id: concat
    type: tercel.core.storage.Concat
    separator: "\\n"
    extension: .txt
    files:
      - "{{ outputs.first_file.uri }}"
      - "{{ outputs.second_file.uri }}"
""",
        ),
    )

    files: Property[list[str]] = Field(description="The URIs of the files to concatenate: a list, or a JSON string of one.")
    separator: Property[str] | None = Field(default=None, description="Text written between two files; none by default.")
    extension: Property[str] = Field(default=Property.of(".tmp"), description="The extension of the created file.")

    def run(self, ctx: RunContext) -> UriOutput:
        files = ctx.render(self.files)
        separator = ctx.render(self.separator) if self.separator is not None else None
        sep = separator.encode("utf-8") if separator else b""
        ext = _normalize_ext(ctx.render(self.extension))
        target = _scratch(ctx, f"concat{ext}")
        with open(target, "wb") as out:
            for i, uri in enumerate(files):
                if i and sep:
                    out.write(sep)
                with _open(ctx, uri, f"files[{i}]") as src:
                    while chunk := src.read(_CHUNK):
                        out.write(chunk)
        return UriOutput(uri=ctx.put_file(target, f"{self.id}{ext}"))


# -------------------------------------------------------------------------------------- Split


class SplitOutput(Output):
    """What `Split` produces."""

    uris: list[str] = Field(default_factory=list, description="The URIs of the split files, in order.")


class Split(RunnableTask):
    """Split a line file of internal storage into several files.

    Give exactly one way to split: `bytes` (a new file once the current one reached this size),
    `partitions` (this many files, lines dealt round-robin), `rows` (this many lines a file) or
    `regexPattern` (one file per value of the pattern's first capture group; lines that do not
    match are left out). Every line is written followed by `separator`. Files keep the source's
    extension; empty files are not output.
    """

    type_name = "tercel.core.storage.Split"
    type_aliases = ("io.kestra.plugin.core.storage.Split", "io.kestra.core.tasks.storages.Split")
    type_title = "Split a file from internal storage into multiple files."
    type_examples = (
        Example(
            title="Split a file into files of 1000 rows and process each one.",
            full=True,
            code="""\
id: split_file
namespace: company.team

inputs:
  - id: file
    type: FILE

tasks:
  - id: split
    type: tercel.core.storage.Split
    from: "{{ inputs.file }}"
    rows: 1000

  - id: each
    type: tercel.core.ForEach
    values: "{{ outputs.split.uris }}"
    tasks:
      - id: size
        type: tercel.core.storage.Size
        uri: "{{ taskrun.value }}"
""",
        ),
        Example(
            title="Split a file by size.",
            full=True,
            code="""\
id: split_by_size
namespace: company.team

inputs:
  - id: file
    type: FILE

tasks:
  - id: split
    type: tercel.core.storage.Split
    from: "{{ inputs.file }}"
    bytes: 10MB
""",
        ),
        Example(
            title="Split a file in 8 partitions.",
            full=True,
            code="""\
id: split_by_partitions
namespace: company.team

inputs:
  - id: file
    type: FILE

tasks:
  - id: split
    type: tercel.core.storage.Split
    from: "{{ inputs.file }}"
    partitions: 8
""",
        ),
    )

    # the same rule as `_one_way`, in the JSON Schema too, so `tercel validate` catches it
    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": [n]} for n in ("bytes", "partitions", "rows", "regexPattern")]}
    )

    from_: Property[str] = Field(alias="from", description="The URI of the file to split.")
    bytes: Property[str] | None = Field(default=None, description="Split by size: the size of a file, like `10MB` (binary units: 1KB = 1024 bytes).")
    partitions: Property[PositiveInt] | None = Field(default=None, description="Split into this many files.")
    rows: Property[PositiveInt] | None = Field(default=None, description="Split by rows: the number of lines of a file.")
    regex_pattern: Property[str] | None = Field(default=None, description="Split by the value of the first capture group of this regular expression.")
    separator: Property[str] = Field(default=Property.of("\n"), description="Written after every line.")

    @model_validator(mode="after")
    def _one_way(self) -> Split:
        given = [n for n in ("bytes", "partitions", "rows", "regexPattern") if getattr(self, _FIELD[n]) is not None]
        if not given:
            raise ValueError("Split needs one of `bytes`, `partitions`, `rows` or `regexPattern`")
        if len(given) > 1:
            raise ValueError(f"Split takes only one of `bytes`, `partitions`, `rows` or `regexPattern`, got {', '.join(given)}")
        return self

    def run(self, ctx: RunContext) -> SplitOutput:
        uri = ctx.render(self.from_)
        ext = _extension(uri)
        separator = ctx.render(self.separator)
        sep = separator.encode("utf-8")
        with _open(ctx, uri, "from") as src:
            lines = (line.encode("utf-8") + sep for line in _lines(src))
            if self.regex_pattern is not None:
                paths = self._by_regex(ctx, lines, re.compile(ctx.render(self.regex_pattern)), len(sep), ext)
            elif self.bytes is not None:
                limit = parse_bytes(ctx.render(self.bytes))
                paths = self._sequential(ctx, lines, lambda size, _count: size >= limit, ext)
            elif self.partitions is not None:
                paths = self._partition(ctx, lines, ctx.render(self.partitions), ext)
            else:
                rows = ctx.render(self.rows)
                paths = self._sequential(ctx, lines, lambda _size, count: count >= rows, ext)
        return SplitOutput(uris=[ctx.put_file(p, f"{self.id}-{i}{ext}") for i, p in enumerate(paths)])

    def _sequential(self, ctx: RunContext, lines: Iterable[bytes], full: Callable[[int, int], bool], ext: str) -> list[Path]:
        paths: list[Path] = []
        out: BinaryIO | None = None
        size = count = 0
        try:
            for data in lines:
                if out is None or full(size, count):
                    if out is not None:
                        out.close()
                    path = _scratch(ctx, f"split-{len(paths)}{ext}")
                    paths.append(path)
                    out = open(path, "wb")  # noqa: SIM115 - closed above or in finally
                    size = count = 0
                out.write(data)
                size += len(data)
                count += 1
        finally:
            if out is not None:
                out.close()
        return paths

    def _partition(self, ctx: RunContext, lines: Iterable[bytes], n: int, ext: str) -> list[Path]:
        paths = [_scratch(ctx, f"split-{i}{ext}") for i in range(n)]
        outs = [open(p, "wb") for p in paths]  # noqa: SIM115 - closed in finally
        try:
            for i, data in enumerate(lines):
                outs[i % n].write(data)
        finally:
            for out in outs:
                out.close()
        return [p for p in paths if p.stat().st_size > 0]

    def _by_regex(self, ctx: RunContext, lines: Iterable[bytes], pattern: re.Pattern[str], sep_len: int, ext: str) -> list[Path]:
        if pattern.groups < 1:
            raise TaskFailed("`regexPattern` needs a capture group, like '\\[(\\w+)\\]'")
        outs: dict[str, BinaryIO] = {}
        paths: list[Path] = []
        try:
            for data in lines:
                line = data[: len(data) - sep_len].decode("utf-8")
                match = pattern.search(line)
                if match is None or match.group(1) is None:
                    continue
                key = match.group(1)
                out = outs.get(key)
                if out is None:
                    path = _scratch(ctx, f"split-{len(paths)}{ext}")
                    paths.append(path)
                    out = outs[key] = open(path, "wb")  # noqa: SIM115 - closed in finally
                out.write(data)
        finally:
            for out in outs.values():
                out.close()
        return paths


_FIELD = {"bytes": "bytes", "partitions": "partitions", "rows": "rows", "regexPattern": "regex_pattern"}


# --------------------------------------------------------------------------------------- Size


class SizeOutput(Output):
    """What `Size` produces."""

    size: int = Field(description="The size of the file, in bytes.")


class Size(RunnableTask):
    """Output the size, in bytes, of a file of internal storage."""

    type_name = "tercel.core.storage.Size"
    type_aliases = ("io.kestra.plugin.core.storage.Size", "io.kestra.core.tasks.storages.Size")
    type_title = "Get the size of a file from internal storage."
    type_examples = (
        Example(
            title="Write a file and get its size.",
            full=True,
            code="""\
id: file_size
namespace: company.team

tasks:
  - id: write
    type: tercel.core.storage.Write
    content: Hello World

  - id: size
    type: tercel.core.storage.Size
    uri: "{{ outputs.write.uri }}"

  - id: log
    type: tercel.core.Log
    message: "{{ outputs.size.size }} bytes"
""",
        ),
    )

    uri: Property[str] = Field(description="The URI of the file.")

    def run(self, ctx: RunContext) -> SizeOutput:
        uri = ctx.render(self.uri)
        if not ctx.file_exists(uri):
            raise TaskFailed(f"`uri`: file not found in internal storage: {uri}")
        return SizeOutput(size=ctx.file_size(uri))


# ------------------------------------------------------------------------------------- Delete


class DeleteOutput(Output):
    """What `Delete` produces."""

    uri: str = Field(description="The URI of the file that was to be deleted.")
    deleted: bool = Field(description="Whether a file was there and was deleted.")


class Delete(RunnableTask):
    """Delete a file from internal storage.

    A missing file is not an error unless `errorOnMissing` is true; `deleted` says what happened.
    """

    type_name = "tercel.core.storage.Delete"
    type_aliases = ("io.kestra.plugin.core.storage.Delete", "io.kestra.core.tasks.storages.Delete")
    type_title = "Delete a file from internal storage."
    type_examples = (
        Example(
            title="Write a file, then delete it.",
            full=True,
            code="""\
id: delete_file
namespace: company.team

tasks:
  - id: write
    type: tercel.core.storage.Write
    content: temporary data

  - id: delete
    type: tercel.core.storage.Delete
    uri: "{{ outputs.write.uri }}"
    errorOnMissing: true
""",
        ),
    )

    uri: Property[str] = Field(description="The URI of the file to delete.")
    error_on_missing: Property[bool] = Field(default=Property.of(False), description="Fail the task if there is no such file.")

    def run(self, ctx: RunContext) -> DeleteOutput:
        uri = ctx.render(self.uri)
        deleted = ctx.delete_file(uri)
        if not deleted and ctx.render(self.error_on_missing):
            raise TaskFailed(f"Unable to find file '{uri}'")
        return DeleteOutput(uri=uri, deleted=deleted)


# ------------------------------------------------------------------------------------ Reverse


class Reverse(RunnableTask):
    """Reverse the lines of a file of internal storage: last line first.

    Lines end at `\\n`, `\\r\\n` or `\\r` and are written each followed by `separator`, in the
    file's `charset`. The new file keeps the source's extension. The file is reversed in bounded
    chunks on disk, never loaded whole.
    """

    type_name = "tercel.core.storage.Reverse"
    type_aliases = ("io.kestra.plugin.core.storage.Reverse", "io.kestra.core.tasks.storages.Reverse")
    type_title = "Reverse a file from internal storage, last line first."
    type_examples = (
        Example(
            title="Reverse a file of numbers.",
            full=True,
            code="""\
id: reverse_file
namespace: company.team

tasks:
  - id: numbers
    type: tercel.core.storage.Write
    content: "1\\n2\\n3\\n"
    extension: .txt

  - id: reverse
    type: tercel.core.storage.Reverse
    from: "{{ outputs.numbers.uri }}"
""",
        ),
    )

    from_: Property[str] = Field(alias="from", description="The URI of the file to reverse.")
    separator: Property[str] = Field(default=Property.of("\n"), description="Written after every line (`\\r\\n` for Windows).")
    charset: Property[str] = Field(default=Property.of("UTF-8"), description="The charset of the file, like `UTF-8` or `ISO-8859-1`.")

    chunk_chars: ClassVar[int] = 4 << 20
    """About how much text is reversed in memory at a time (the rest waits on disk)."""

    def run(self, ctx: RunContext) -> UriOutput:
        uri = ctx.render(self.from_)
        separator = ctx.render(self.separator)
        charset = ctx.render(self.charset)
        try:
            codec = io.TextIOWrapper(io.BytesIO(), encoding=charset).encoding
        except LookupError:
            raise TaskFailed(f"`charset`: unknown charset {charset!r}") from None
        ext = _extension(uri)
        chunks: list[Path] = []

        def flush(buffer: list[str]) -> None:
            path = _scratch(ctx, f"reverse-{len(chunks)}.part")
            with open(path, "w", encoding=codec, newline="") as out:
                out.writelines(line + separator for line in reversed(buffer))
            chunks.append(path)

        buffer: list[str] = []
        held = 0
        with _open(ctx, uri, "from") as src:
            for line in _lines(src, codec):
                buffer.append(line)
                held += len(line) + 1
                if held >= self.chunk_chars:
                    flush(buffer)
                    buffer, held = [], 0
        if buffer or not chunks:
            flush(buffer)
        target = _scratch(ctx, f"reverse{ext}")
        with open(target, "wb") as out:
            for part in reversed(chunks):
                with open(part, "rb") as fp:
                    while data := fp.read(_CHUNK):
                        out.write(data)
                part.unlink()
        return UriOutput(uri=ctx.put_file(target, f"{self.id}{ext}"))


# ------------------------------------------------------------------------- per-item expressions

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_RESERVED = frozenset(
    {"true", "false", "none", "null", "True", "False", "None", "and", "or", "not", "in", "is", "if", "else", "loop", "row"}
)
_LOCATION = re.compile(r" \(line \d+(, column \d+)? of `.*$", re.DOTALL)


class _ItemRenderer:
    """Renders one template per item: the item's fields are variables, the whole item is `row`.

    Kestra exposes an item's fields as top-level variables (`{{ customer_email }}`); `row` also
    reaches fields whose names are not identifiers (`row['first name']`) and items that are not
    structs. A field named `row` wins over it. Values keep their types (a datetime is a datetime).
    """

    def __init__(self, ctx: RunContext, template: str, prop: str) -> None:
        self.ctx = ctx
        self.template = template
        self.prop = prop

    def render(self, item: Any) -> str | Exception:
        """The rendered text for an item, or the error rendering it raised (a TaskFailed propagates)."""
        variables: dict[str, Any] = {"row": item}
        if isinstance(item, dict):
            variables.update(
                (k, v) for k, v in item.items() if isinstance(k, str) and _NAME.match(k) and k not in _RESERVED
            )
        try:
            return self.ctx.render_string(self.template, variables=variables)
        except TaskFailed:
            raise
        except Exception as exc:
            return exc

    def error(self, exc: Exception, index: int, item: Any) -> TaskFailed:
        message = _LOCATION.sub("", str(exc))
        message = re.sub(r"^task '[^']*': ", "", message)
        preview = repr(item)
        preview = preview if len(preview) <= 200 else preview[:197] + "..."
        return TaskFailed(f"`{self.prop}` {self.template!r} failed on item {index} {preview}: {message}")


# -------------------------------------------------------------------------------- FilterItems


class FilterItemsOutput(Output):
    """What `FilterItems` produces."""

    uri: str = Field(description="The URI of the filtered row file.")
    processed_items_total: int = Field(description="The number of items read.")
    dropped_items_total: int = Field(description="The number of items left out.")


class FilterItems(RunnableTask):
    """Filter a row file (Ion) with an expression evaluated on every item.

    `filterCondition` is rendered for each item; the item matches when the result is true
    (`false`, `0`, `-0`, `null` and blank text are false, anything else is true). With
    `filterType: INCLUDE` (the default) matching items are kept, with `EXCLUDE` they are dropped.
    When the expression fails on an item (an undefined field, a bad comparison),
    `errorOrNullBehavior` decides: `FAIL` the task (the default), `INCLUDE` or `EXCLUDE` the item.
    A null result renders as blank text, so it is false.

    The expression sees the item's fields as variables (`{{ amount }}`), as in Kestra, and the
    whole item as `row` (`{{ row['first name'] }}`; also for items that are not structs). Fields
    whose names are not identifiers, or are `row`, `loop`, `true`, `null`… are only reachable
    through `row`. Values keep their Ion types: a timestamp is a datetime, a decimal a Decimal.
    """

    type_name = "tercel.core.storage.FilterItems"
    type_aliases = ("io.kestra.plugin.core.storage.FilterItems", "io.kestra.core.tasks.storages.FilterItems")
    type_title = "Filter a file's items with an expression."
    type_examples = (
        Example(
            title="Keep the orders of product 20.",
            full=True,
            code="""\
id: filter_items
namespace: company.team

inputs:
  - id: orders
    type: FILE

tasks:
  - id: filter
    type: tercel.core.storage.FilterItems
    from: "{{ inputs.orders }}"
    filterCondition: "{{ product_id == 20 }}"
    filterType: INCLUDE

  - id: log
    type: tercel.core.Log
    message: "kept {{ outputs.filter.processedItemsTotal - outputs.filter.droppedItemsTotal }} orders"
""",
        ),
    )

    from_: Property[str] = Field(alias="from", description="The URI of the row file (Ion) to filter.")
    filter_condition: str = Field(description="The expression rendered for each item; true means the item matches.")
    filter_type: Property[Literal["INCLUDE", "EXCLUDE"]] = Field(
        default=Property.of("INCLUDE"), description="`INCLUDE` keeps the matching items, `EXCLUDE` drops them."
    )
    error_or_null_behavior: Property[Literal["FAIL", "INCLUDE", "EXCLUDE"]] = Field(
        default=Property.of("FAIL"), description="When the expression fails on an item: `FAIL` the task, `INCLUDE` or `EXCLUDE` the item."
    )

    def run(self, ctx: RunContext) -> FilterItemsOutput:
        uri = ctx.render(self.from_)
        keep_match = ctx.render(self.filter_type) == "INCLUDE"
        on_error = ctx.render(self.error_or_null_behavior)
        renderer = _ItemRenderer(ctx, self.filter_condition, "filterCondition")
        counts = {"processed": 0, "dropped": 0}

        def kept(rows: Iterator[Any]) -> Iterator[Any]:
            index = 0
            for index, item in enumerate(rows):
                result = renderer.render(item)
                if isinstance(result, Exception):
                    if on_error == "FAIL":
                        raise renderer.error(result, index, item)
                    keep = on_error == "INCLUDE"
                else:
                    keep = is_truthy(result.strip()) == keep_match
                if keep:
                    yield item
                else:
                    counts["dropped"] += 1
                counts["processed"] = index + 1

        target = _scratch(ctx, "filtered.ion")
        with _open(ctx, uri, "from") as src, open(target, "wb", buffering=_CHUNK) as out:
            ion.write_rows(kept(ion.read_rows(src)), out)
        return FilterItemsOutput(
            uri=ctx.put_file(target, f"{self.id}.ion"),
            processed_items_total=counts["processed"],
            dropped_items_total=counts["dropped"],
        )


# --------------------------------------------------------------------------- DeduplicateItems


class DeduplicateItemsOutput(Output):
    """What `DeduplicateItems` produces."""

    uri: str = Field(description="The URI of the deduplicated row file.")
    num_keys: int = Field(description="The number of distinct keys.")
    processed_items_total: int = Field(description="The number of items read.")
    dropped_items_total: int = Field(description="The number of items left out.")


class DeduplicateItems(RunnableTask):
    """Deduplicate a row file (Ion), keeping the last item of each key, in the file's order.

    `expr` is rendered for each item to its key (text; build a composite key with several
    fields). The file is read twice rather than loaded: the first pass finds the last item of
    each key (only the keys are held in memory), the second writes those items.

    The expression sees the item's fields as variables (`{{ amount }}`), as in Kestra, and the
    whole item as `row` (`{{ row['first name'] }}`; also for items that are not structs). Fields
    whose names are not identifiers, or are `row`, `loop`, `true`, `null`… are only reachable
    through `row`. Values keep their Ion types: a timestamp is a datetime, a decimal a Decimal.
    """

    type_name = "tercel.core.storage.DeduplicateItems"
    type_aliases = ("io.kestra.plugin.core.storage.DeduplicateItems", "io.kestra.core.tasks.storages.DeduplicateItems")
    type_title = "Deduplicate a file's items by a key."
    type_examples = (
        Example(
            title="Keep the last order of each customer.",
            full=True,
            code="""\
id: deduplicate_items
namespace: company.team

inputs:
  - id: orders
    type: FILE

tasks:
  - id: dedup
    type: tercel.core.storage.DeduplicateItems
    from: "{{ inputs.orders }}"
    expr: "{{ customer_email }}"

  - id: log
    type: tercel.core.Log
    message: "{{ outputs.dedup.numKeys }} customers"
""",
        ),
    )

    from_: Property[str] = Field(alias="from", description="The URI of the row file (Ion) to deduplicate.")
    expr: str = Field(description="The expression rendered for each item to its deduplication key.")

    def run(self, ctx: RunContext) -> DeduplicateItemsOutput:
        uri = ctx.render(self.from_)
        renderer = _ItemRenderer(ctx, self.expr, "expr")
        last: dict[str, int] = {}
        index = 0
        with _open(ctx, uri, "from") as src:
            for index, item in enumerate(ion.read_rows(src), start=1):
                key = renderer.render(item)
                if isinstance(key, Exception):
                    raise renderer.error(key, index - 1, item)
                last[key] = index - 1
        keep = set(last.values())
        num_keys = len(last)
        del last
        target = _scratch(ctx, "deduplicated.ion")
        with _open(ctx, uri, "from") as src, open(target, "wb", buffering=_CHUNK) as out:
            ion.write_rows((row for i, row in enumerate(ion.read_rows(src)) if i in keep), out)
        return DeduplicateItemsOutput(
            uri=ctx.put_file(target, f"{self.id}.ion"),
            num_keys=num_keys,
            processed_items_total=index,
            dropped_items_total=index - len(keep),
        )


# --------------------------------------------------------------------------------- LocalFiles


class LocalFilesOutput(Output):
    """What `LocalFiles` produces."""

    uris: dict[str, str] = Field(default_factory=dict, description="The stored files: path relative to the working directory → URI.")


class LocalFiles(RunnableTask):
    """Create files in the task's working directory and store the ones matching globs.

    Deprecated in Kestra (script tasks' `inputFiles`/`outputFiles` replace it), kept so flows
    using it run. `inputs` maps file names (relative paths) to their content; a content that is
    an internal storage URI is replaced by that file's bytes. `outputs` lists globs relative to
    the working directory (`*.txt`, `sub/**`); every matching file is stored and output by path.
    """

    type_name = "tercel.core.storage.LocalFiles"
    type_aliases = ("io.kestra.plugin.core.storage.LocalFiles", "io.kestra.core.tasks.storages.LocalFiles")
    type_title = "Create local files and store them in internal storage (deprecated)."
    type_examples = (
        Example(
            title="Create two files and store the text ones.",
            full=True,
            code="""\
id: local_files
namespace: company.team

tasks:
  - id: files
    type: tercel.core.storage.LocalFiles
    inputs:
      hello.txt: "Hello World\\n"
      data/flow.txt: "{{ flow.id }}"
    outputs:
      - "*.txt"
      - "data/**"

  - id: log
    type: tercel.core.Log
    message: "{{ outputs.files.uris['hello.txt'] }}"
""",
        ),
    )

    inputs: Property[dict[str, str] | str] | None = Field(default=None, description="Files to create: relative path → content (text, or an internal storage URI to copy); a map or a JSON string of one.")
    outputs: Property[list[str]] | None = Field(default=None, description="Globs, relative to the working directory, of the files to store.")

    def run(self, ctx: RunContext) -> LocalFilesOutput:
        root = ctx.working_dir.resolve()
        for name, content in _input_files(ctx.render(self.inputs) if self.inputs is not None else {}).items():
            path = _inside(root, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            if _is_storage_uri(content):
                with _open(ctx, content, f"inputs.{name}") as src, open(path, "wb") as out:
                    while chunk := src.read(_CHUNK):
                        out.write(chunk)
            else:
                path.write_text(content, encoding="utf-8")
        uris: dict[str, str] = {}
        patterns = ctx.render(self.outputs) if self.outputs is not None else []
        if patterns:
            files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
            for rel in files:
                if any(_glob_match(rel, pattern) for pattern in patterns):
                    uris[rel] = ctx.put_file(root / rel, _storage_name(rel))
        return LocalFilesOutput(uris=uris)


def _input_files(value: dict[str, str] | str) -> dict[str, str]:
    """`inputs` as a map: given as one, or as a JSON object in text (as Kestra allows)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise TaskFailed(f"`inputs`: not a map nor a JSON object: {exc}") from None
        if not isinstance(value, dict):
            raise TaskFailed(f"`inputs` must be a map of file name to content, got {type(value).__name__}")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


def _storage_name(rel: str) -> str:
    """A file name for internal storage (one segment): nested paths get a short unique prefix."""
    if "/" not in rel:
        return rel
    digest = hashlib.sha1(rel.encode("utf-8"), usedforsecurity=False).hexdigest()[:10]
    return f"{digest}-{PurePosixPath(rel).name}"


def _is_storage_uri(value: str) -> bool:
    return value.startswith(("tercel://", "kestra://")) and "\n" not in value


def _inside(root: Path, name: str) -> Path:
    path = (root / name).resolve()
    if not name or path == root or not path.is_relative_to(root):
        raise TaskFailed(f"`inputs`: {name!r} is not a file path inside the working directory")
    return path


def _glob_match(rel: str, pattern: str) -> bool:
    """Java-style glob: `*` stays in one folder, `**` crosses folders."""
    pattern = pattern.removeprefix("./")
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            regex += ".*"
            i += 2
        elif pattern[i] == "*":
            regex += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            regex += "[^/]"
            i += 1
        else:
            regex += re.escape(pattern[i])
            i += 1
    return re.fullmatch(regex, rel) is not None
