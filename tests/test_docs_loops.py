"""Every ```yaml block of docs/loops-and-outputs.md runs, and says what it does.

Each block is a complete flow. It must end in SUCCESS, and each of its comment lines

    # expect: outputs.<taskId>.<key>... == <JSON value>
    # expect: execution.outputs.<outputId>... == <JSON value>

must hold: the left side walks the outputs of the last task run of `<taskId>` (or the flow's
outputs), one dot-separated key at a time; the right side is JSON.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from tercel_sdk.testing import FlowResult, run_flow

DOC = Path(__file__).resolve().parents[1] / "docs" / "loops-and-outputs.md"
BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)
EXPECT = re.compile(r"^\s*# expect: (?P<path>\S+) == (?P<value>.+?)\s*$", re.MULTILINE)


def _blocks() -> list[tuple[str, str]]:
    text = DOC.read_text(encoding="utf-8")
    out = []
    for match in BLOCK.finditer(text):
        source = match.group(1)
        line = text.count("\n", 0, match.start()) + 2
        flow_id = re.search(r"^id: (\S+)", source, re.MULTILINE)
        out.append((f"line {line}: {flow_id.group(1) if flow_id else '?'}", source))
    return out


def _actual(result: FlowResult, path: str) -> Any:
    parts = path.split(".")
    if parts[:2] == ["execution", "outputs"]:
        node: Any = result.flow_outputs
        keys = parts[2:]
    elif parts[0] == "outputs" and len(parts) >= 2:
        node = result.outputs(parts[1])
        keys = parts[2:]
    else:
        raise AssertionError(f"an expectation must start with outputs.<taskId> or execution.outputs: {path}")
    for key in keys:
        assert isinstance(node, dict) and key in node, f"{path}: no key {key!r} in {node!r}"
        node = node[key]
    return node


BLOCKS = _blocks()


def test_the_doc_has_flows_with_expectations() -> None:
    assert len(BLOCKS) >= 5
    assert all(EXPECT.search(source) for _, source in BLOCKS), "every flow of the doc states a result"


@pytest.mark.parametrize("source", [s for _, s in BLOCKS], ids=[name for name, _ in BLOCKS])
def test_doc_flow(source: str) -> None:
    result = run_flow(source)
    errors = result.messages(level="ERROR")
    assert result.state == "SUCCESS", errors
    for match in EXPECT.finditer(source):
        path, expected = match.group("path"), json.loads(match.group("value"))
        actual = _actual(result, path)
        assert actual == expected, f"{path}: expected {expected!r}, got {actual!r}"
