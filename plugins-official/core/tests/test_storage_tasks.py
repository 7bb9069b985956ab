"""The storage tasks (`tercel_plugin_core.storage`) through the real engine and storage."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from tercel_plugin_core.storage import (
    Concat,
    DeduplicateItems,
    Delete,
    FilterItems,
    LocalFiles,
    Reverse,
    Size,
    Split,
    Write,
    parse_bytes,
)
from tercel_sdk import TaskFailed, ion
from tercel_sdk.testing import FlowResult, run_flow, validate

TYPES = [Write, Concat, Split, Size, Delete, Reverse, FilterItems, DeduplicateItems, LocalFiles]


def flow(tasks: str, inputs: dict[str, Any] | None = None) -> FlowResult:
    return run_flow(f"id: storage\nnamespace: tests\ntasks:\n{tasks}", inputs, types=TYPES)


def rows(result: FlowResult, uri: str) -> list[Any]:
    return list(ion.read_rows(io.BytesIO(result.read(uri))))


def error(result: FlowResult, task_id: str) -> str:
    run = result.task_run(task_id)
    assert run["state"]["current"] in ("FAILED", "WARNING"), run  # WARNING with allowFailure
    assert run["attempts"][-1]["state"]["current"] == "FAILED", run
    return str(run.get("error") or "") + "\n".join(result.messages(task_id))


ORDERS = """\
{id: 1, email: "a@x.io", amount: 10.50, at: 2024-01-01T10:00:00Z}
{id: 2, email: "b@x.io", amount: 99.00, at: 2024-02-01T10:00:00Z}
{id: 3, email: "a@x.io", amount: 5.25, at: 2024-03-01T10:00:00Z}
{id: 4, email: "c@x.io", amount: null, at: 2024-04-01T10:00:00Z, "first name": "Zoe"}
"""
ORDERS_TASK = """\
  - id: orders
    type: tercel.core.storage.Write
    extension: .ion
    content: |
""" + "".join(f"      {line}\n" for line in ORDERS.splitlines())


# ------------------------------------------------------------------ Write, Size, Concat, Delete


def test_write_size_concat_delete_in_one_flow():
    result = flow("""\
  - id: one
    type: io.kestra.plugin.core.storage.Write
    content: "Hello {{ flow.id }}"
    extension: txt
  - id: two
    type: tercel.core.storage.Write
    content: "héllo"
  - id: size
    type: io.kestra.core.tasks.storages.Size
    uri: "{{ outputs.two.uri }}"
  - id: concat
    type: tercel.core.storage.Concat
    files: ["{{ outputs.one.uri }}", "{{ outputs.two.uri }}", "{{ outputs.one.uri }}"]
    separator: "\\n--\\n"
    extension: .txt
  - id: concat_json
    type: io.kestra.plugin.core.storage.Concat
    files: '["{{ outputs.two.uri }}", "{{ outputs.one.uri }}"]'
  - id: delete
    type: io.kestra.plugin.core.storage.Delete
    uri: "{{ outputs.one.uri }}"
  - id: delete_again
    type: tercel.core.storage.Delete
    uri: "{{ outputs.one.uri }}"
""")
    assert result.state == "SUCCESS", result.task_runs
    two = result.outputs("two")["uri"]
    assert two.startswith("tercel://") and two.endswith(".tmp")
    assert result.read(two) == "héllo".encode()
    assert result.outputs("size") == {"size": len("héllo".encode())}
    concat = result.outputs("concat")["uri"]
    assert concat.endswith(".txt")
    assert result.read(concat) == "Hello storage\n--\nhéllo\n--\nHello storage".encode()
    assert result.read(result.outputs("concat_json")["uri"]) == "hélloHello storage".encode()
    one = result.outputs("one")["uri"]
    assert one.endswith(".txt")
    assert one not in result.files  # deleted
    assert result.outputs("delete") == {"uri": one, "deleted": True}
    assert result.outputs("delete_again") == {"uri": one, "deleted": False}


def test_failures_missing_files_and_error_on_missing():
    result = flow("""\
  - id: delete
    type: tercel.core.storage.Delete
    uri: "tercel:///tests/storage/nope.txt"
    errorOnMissing: true
    allowFailure: true
  - id: size
    type: tercel.core.storage.Size
    uri: "tercel:///tests/storage/nope.txt"
    allowFailure: true
  - id: concat
    type: tercel.core.storage.Concat
    files: ["tercel:///tests/storage/nope.txt"]
    allowFailure: true
  - id: reverse
    type: tercel.core.storage.Reverse
    from: "tercel:///tests/storage/nope.txt"
    allowFailure: true
  - id: filter
    type: tercel.core.storage.FilterItems
    from: "tercel:///tests/storage/nope.ion"
    filterCondition: "{{ true }}"
    allowFailure: true
""")
    assert "Unable to find file 'tercel:///tests/storage/nope.txt'" in error(result, "delete")
    for task_id in ("size", "concat", "reverse", "filter"):
        assert "not found in internal storage" in error(result, task_id), task_id
    assert "`files[0]`" in error(result, "concat")
    assert "`from`" in error(result, "filter")


# -------------------------------------------------------------------------------------- Split

LINES = "\\n".join(f"line{i}" for i in range(1, 8)) + "\\n"  # 7 lines of 6 bytes each (with \n)


def test_split_by_rows_bytes_partitions_and_regex():
    result = flow(f"""\
  - id: src
    type: tercel.core.storage.Write
    content: "{LINES}"
    extension: .csv
  - id: rows
    type: io.kestra.plugin.core.storage.Split
    from: "{{{{ outputs.src.uri }}}}"
    rows: 3
  - id: bytes
    type: tercel.core.storage.Split
    from: "{{{{ outputs.src.uri }}}}"
    bytes: "12B"
  - id: partitions
    type: io.kestra.core.tasks.storages.Split
    from: "{{{{ outputs.src.uri }}}}"
    partitions: 3
    separator: ";"
  - id: many_partitions
    type: tercel.core.storage.Split
    from: "{{{{ outputs.src.uri }}}}"
    partitions: "{{{{ 10 }}}}"
  - id: regex
    type: tercel.core.storage.Split
    from: "{{{{ outputs.src.uri }}}}"
    regexPattern: "line([12])"
""")
    assert result.state == "SUCCESS", result.task_runs

    def parts(task_id: str) -> list[str]:
        uris = result.outputs(task_id)["uris"]
        assert all(u.endswith(".csv") for u in uris)
        return [result.read(u).decode() for u in uris]

    assert parts("rows") == ["line1\nline2\nline3\n", "line4\nline5\nline6\n", "line7\n"]
    assert parts("bytes") == ["line1\nline2\n", "line3\nline4\n", "line5\nline6\n", "line7\n"]
    assert parts("partitions") == ["line1;line4;line7;", "line2;line5;", "line3;line6;"]
    assert len(parts("many_partitions")) == 7  # empty partitions are not output
    assert parts("regex") == ["line1\n", "line2\n"]


def test_split_bytes_with_units():
    assert parse_bytes("10MB") == 10 * 1024 * 1024
    assert parse_bytes("1kb") == 1024
    assert parse_bytes(" 512 ") == 512
    assert parse_bytes(7) == 7
    for bad in ("ten MB", "10XB", "-1", "0", ""):
        with pytest.raises(TaskFailed):
            parse_bytes(bad)


def test_split_bad_bytes_text_fails_the_task():
    result = flow(f"""\
  - id: src
    type: tercel.core.storage.Write
    content: "{LINES}"
  - id: split
    type: tercel.core.storage.Split
    from: "{{{{ outputs.src.uri }}}}"
    bytes: "{{{{ 'ten megabytes' }}}}"
""")
    assert "`bytes`: invalid size 'ten megabytes'" in error(result, "split")


def test_split_needs_exactly_one_way_to_split():
    # the rule is in Split's JSON Schema, so the flow is refused when it is validated
    problems = validate(
        """\
id: storage
namespace: tests
tasks:
  - id: none
    type: tercel.core.storage.Split
    from: "tercel:///x.txt"
  - id: several
    type: tercel.core.storage.Split
    from: "tercel:///x.txt"
    rows: 2
    partitions: 2
""",
        types=TYPES,
    )
    assert problems == [
        "<flow storage>:4:5: tasks[0]: tercel.core.storage.Split needs exactly one of bytes, partitions, rows, regexPattern; got none",
        "<flow storage>:7:5: tasks[1]: tercel.core.storage.Split needs exactly one of bytes, partitions, rows, regexPattern; got partitions, rows",
    ]


def test_split_counts_must_be_positive():
    with pytest.raises(Exception, match="property 'rows' must be an integer"):
        flow("""\
  - id: split
    type: tercel.core.storage.Split
    from: "tercel:///x.txt"
    rows: 0
""")


# ------------------------------------------------------------------------------------ Reverse


def test_reverse_lines_separator_and_charset(monkeypatch):
    monkeypatch.setattr(Reverse, "chunk_chars", 8)  # several chunks on disk
    result = flow("""\
  - id: src
    type: tercel.core.storage.Write
    content: "1\\r\\n2\\n3\\n4\\n5"
    extension: .txt
  - id: reverse
    type: io.kestra.plugin.core.storage.Reverse
    from: "{{ outputs.src.uri }}"
  - id: crlf
    type: tercel.core.storage.Reverse
    from: "{{ outputs.src.uri }}"
    separator: "\\r\\n"
    charset: ISO-8859-1
  - id: latin
    type: tercel.core.storage.Reverse
    from: "{{ outputs.crlf.uri }}"
    charset: "{{ 'latin-1' }}"
  - id: empty_src
    type: tercel.core.storage.Write
    content: ""
  - id: empty
    type: tercel.core.storage.Reverse
    from: "{{ outputs.empty_src.uri }}"
  - id: bad_charset
    type: tercel.core.storage.Reverse
    from: "{{ outputs.src.uri }}"
    charset: klingon
    allowFailure: true
""")
    reversed_uri = result.outputs("reverse")["uri"]
    assert reversed_uri.endswith(".txt")
    assert result.read(reversed_uri) == b"5\n4\n3\n2\n1\n"
    assert result.read(result.outputs("crlf")["uri"]) == b"5\r\n4\r\n3\r\n2\r\n1\r\n"
    assert result.read(result.outputs("latin")["uri"]) == b"1\n2\n3\n4\n5\n"
    assert result.read(result.outputs("empty")["uri"]) == b""
    assert "unknown charset 'klingon'" in error(result, "bad_charset")


def test_reverse_non_ascii_text():
    result = flow("""\
  - id: src
    type: tercel.core.storage.LocalFiles
    inputs:
      a.txt: "é1\\nü2\\n"
    outputs: ["a.txt"]
  - id: reverse
    type: tercel.core.storage.Reverse
    from: "{{ outputs.src.uris['a.txt'] }}"
    charset: UTF-8
""")
    assert result.read(result.outputs("reverse")["uri"]).decode() == "ü2\né1\n"


# ------------------------------------------------------------------------------ FilterItems


def test_filter_items_keeps_types_and_counts():
    result = flow(ORDERS_TASK + """\
  - id: include
    type: io.kestra.plugin.core.storage.FilterItems
    from: "{{ outputs.orders.uri }}"
    filterCondition: "{{ amount != null and amount > 9 }}"
  - id: exclude
    type: tercel.core.storage.FilterItems
    from: "{{ outputs.orders.uri }}"
    filterCondition: "{{ at.month >= 3 }}"
    filterType: EXCLUDE
  - id: row_var
    type: io.kestra.core.tasks.storages.FilterItems
    from: "{{ outputs.orders.uri }}"
    filterCondition: "{{ row['first name'] ?? '' }}"
  - id: context
    type: tercel.core.storage.FilterItems
    from: "{{ outputs.orders.uri }}"
    filterCondition: "{{ email == flow.id ~ '@x.io' or id == 1 }}"
""")
    assert result.state == "SUCCESS", result.task_runs
    include = result.outputs("include")
    assert (include["processedItemsTotal"], include["droppedItemsTotal"]) == (4, 2)
    kept = rows(result, include["uri"])
    assert [r["id"] for r in kept] == [1, 2]
    assert kept[0] == {"id": 1, "email": "a@x.io", "amount": Decimal("10.50"), "at": datetime(2024, 1, 1, 10, tzinfo=UTC)}
    assert isinstance(kept[0]["at"], datetime) and isinstance(kept[0]["amount"], Decimal)
    exclude = result.outputs("exclude")
    assert [r["id"] for r in rows(result, exclude["uri"])] == [1, 2]
    assert exclude["droppedItemsTotal"] == 2
    assert [r["id"] for r in rows(result, result.outputs("row_var")["uri"])] == [4]
    assert [r["id"] for r in rows(result, result.outputs("context")["uri"])] == [1]


def test_filter_items_error_or_null_behavior():
    result = flow(ORDERS_TASK + """\
  - id: fail
    type: tercel.core.storage.FilterItems
    from: "{{ outputs.orders.uri }}"
    filterCondition: "{{ amount > 9 }}"
    allowFailure: true
  - id: include
    type: tercel.core.storage.FilterItems
    from: "{{ outputs.orders.uri }}"
    filterCondition: "{{ amount > 9 }}"
    errorOrNullBehavior: INCLUDE
  - id: exclude
    type: tercel.core.storage.FilterItems
    from: "{{ outputs.orders.uri }}"
    filterCondition: "{{ amount > 9 }}"
    filterType: EXCLUDE
    errorOrNullBehavior: "{{ 'EXCLUDE' }}"
  - id: undefined
    type: tercel.core.storage.FilterItems
    from: "{{ outputs.orders.uri }}"
    filterCondition: "{{ nope }}"
    allowFailure: true
""")
    message = error(result, "fail")
    assert "`filterCondition` '{{ amount > 9 }}' failed on item 3" in message
    assert "tercelitem" not in message  # the wrapping template is not shown
    assert [r["id"] for r in rows(result, result.outputs("include")["uri"])] == [1, 2, 4]
    exclude = result.outputs("exclude")
    assert [r["id"] for r in rows(result, exclude["uri"])] == [3]
    assert (exclude["processedItemsTotal"], exclude["droppedItemsTotal"]) == (4, 3)
    assert "'nope' is undefined" in error(result, "undefined")
    # the scratch files holding the items are gone
    assert not [u for u in result.files if "-items-" in u]


def test_filter_items_many_typed_rows():
    data = [{"n": i, "when": datetime(2024, 1, 1 + i % 28, tzinfo=UTC)} for i in range(50)]
    indented = "\n".join("      " + ion.dumps(r).decode().split("\n", 1)[1].strip() for r in data)
    result = flow(f"""\
  - id: file
    type: tercel.core.storage.Write
    extension: .ion
    content: |
{indented}
  - id: filter
    type: tercel.core.storage.FilterItems
    from: "{{{{ outputs.file.uri }}}}"
    filterCondition: "{{{{ n % 3 == 0 and when.day > 0 }}}}"
""")
    out = result.outputs("filter")
    assert (out["processedItemsTotal"], out["droppedItemsTotal"]) == (50, 33)
    assert rows(result, out["uri"]) == [r for r in data if r["n"] % 3 == 0]


# ------------------------------------------------------------------------- DeduplicateItems


def test_deduplicate_items_keeps_the_last_of_each_key():
    result = flow(ORDERS_TASK + """\
  - id: dedup
    type: io.kestra.plugin.core.storage.DeduplicateItems
    from: "{{ outputs.orders.uri }}"
    expr: "{{ email }}"
  - id: composite
    type: tercel.core.storage.DeduplicateItems
    from: "{{ outputs.orders.uri }}"
    expr: "{{ email }}-{{ at.year }}"
  - id: by_year
    type: io.kestra.core.tasks.storages.DeduplicateItems
    from: "{{ outputs.orders.uri }}"
    expr: "{{ at.year }}"
  - id: bad
    type: tercel.core.storage.DeduplicateItems
    from: "{{ outputs.orders.uri }}"
    expr: "{{ amount + 1 }}"
    allowFailure: true
""")
    dedup = result.outputs("dedup")
    kept = rows(result, dedup["uri"])
    assert [r["id"] for r in kept] == [2, 3, 4]
    assert kept[1]["at"] == datetime(2024, 3, 1, 10, tzinfo=UTC) and kept[1]["amount"] == Decimal("5.25")
    assert kept[2]["first name"] == "Zoe"
    assert (dedup["numKeys"], dedup["processedItemsTotal"], dedup["droppedItemsTotal"]) == (3, 4, 1)
    assert result.outputs("composite")["numKeys"] == 3
    by_year = result.outputs("by_year")
    assert [r["id"] for r in rows(result, by_year["uri"])] == [4]
    assert (by_year["numKeys"], by_year["droppedItemsTotal"]) == (1, 3)
    assert "failed on item 3" in error(result, "bad")


# ------------------------------------------------------------------------------- LocalFiles


def test_local_files_inputs_and_output_globs():
    result = flow("""\
  - id: src
    type: tercel.core.storage.Write
    content: "from storage"
  - id: files
    type: io.kestra.plugin.core.storage.LocalFiles
    inputs:
      hello.txt: "Hello {{ flow.id }}"
      sub/dir/a.txt: "a"
      sub/b.csv: "b"
      copy.bin: "{{ outputs.src.uri }}"
    outputs:
      - "*.txt"
      - "sub/**"
      - copy.bin
  - id: json_inputs
    type: io.kestra.core.tasks.storages.LocalFiles
    inputs: '{"x.json": {"a": 1}}'
    outputs: ["*.json"]
  - id: escape
    type: tercel.core.storage.LocalFiles
    inputs:
      ../evil.txt: "x"
    allowFailure: true
""")
    uris = result.outputs("files")["uris"]
    assert sorted(uris) == ["copy.bin", "hello.txt", "sub/b.csv", "sub/dir/a.txt"]
    assert result.read(uris["hello.txt"]) == b"Hello storage"
    assert result.read(uris["sub/dir/a.txt"]) == b"a"
    assert result.read(uris["copy.bin"]) == b"from storage"
    assert list(result.outputs("json_inputs")["uris"]) == ["x.json"]
    assert result.read(result.outputs("json_inputs")["uris"]["x.json"]) == b'{"a": 1}'
    assert "not a file path inside the working directory" in error(result, "escape")


def test_every_type_documents_itself():
    for cls in TYPES:
        assert cls.type_name.startswith("tercel.core.storage.")
        assert any(a.startswith("io.kestra.plugin.core.storage.") for a in cls.type_aliases)
        assert cls.type_title and cls.describe()
        assert any(e.full for e in cls.type_examples)
        assert cls.output_model() is not None, cls
