"""Reading flow YAML: ruamel.yaml round-trip, every value's position kept, hostile input refused.

The source is kept verbatim (what the user wrote, comments and order included); the parsed
document is turned into plain Python values together with a map from each path
(`("tasks", 2, "message")`) to its line and column, so every later error can point there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tercel.errors import Position, Problem, ProblemsError

__all__ = ["MAX_NODES", "MAX_SOURCE_BYTES", "FlowSyntaxError", "ParsedYaml", "parse_yaml"]

MAX_SOURCE_BYTES = 2 * 1024 * 1024
"""A flow larger than this is refused: flows are code, data belongs in files."""
MAX_NODES = 200_000
"""Values a document may expand to once aliases are followed (an alias bomb expands to billions)."""
MAX_DEPTH = 200


class FlowSyntaxError(ProblemsError):
    """The flow is not readable YAML (or not a mapping, or too big)."""

    summary = "flow is not valid YAML"


@dataclass
class ParsedYaml:
    """A parsed document: plain values plus the position of every key and item."""

    data: Any
    source: str
    positions: dict[tuple[str | int, ...], Position] = field(default_factory=dict)
    name: str | None = None

    def position(self, path: tuple[str | int, ...]) -> Position | None:
        """Position of a path, or of its closest ancestor that has one."""
        path = tuple(path)
        while True:
            pos = self.positions.get(path)
            if pos is not None or not path:
                return pos
            path = path[:-1]

    def problem(self, message: str, path: tuple[str | int, ...] = (), hint: str | None = None) -> Problem:
        return Problem(message, tuple(path), self.position(path), self.name, hint)


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


class _Budget(Exception):
    pass


def _expanded_size(root: Any) -> int:
    """How many values the document has once aliases are followed, computed per unique node.

    Memoized on node identity, so an alias bomb (a handful of nodes referencing each other
    exponentially) is measured in microseconds instead of being expanded.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Any, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise _Budget(())
        if not isinstance(node, dict | list):
            return 1
        key = id(node)
        known = sizes.get(key)
        if known is not None:
            return known
        if key in active:  # a recursive alias: infinite
            raise _Budget(())
        active.add(key)
        children = node.values() if isinstance(node, dict) else node
        total = 1
        for child in children:
            total += size(child, depth + 1)
            if total > MAX_NODES:
                raise _Budget(())
        active.discard(key)
        sizes[key] = total
        return total

    return size(root, 0)


def _plain(node: Any, path: tuple[str | int, ...], out: dict[tuple[str | int, ...], Position], counter: list[int]) -> Any:
    """Convert ruamel's round-trip nodes to plain values, recording positions, within budget."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import ScalarString

    counter[0] += 1
    if counter[0] > MAX_NODES or len(path) > MAX_DEPTH:
        raise _Budget(path)
    if isinstance(node, CommentedMap):
        result: dict[Any, Any] = {}
        for key, value in node.items():
            key_plain = str(key) if isinstance(key, ScalarString) else key
            child = (*path, key_plain)
            try:
                line, col = node.lc.key(key)
                out[child] = Position(line + 1, col + 1)
            except (KeyError, TypeError, AttributeError):
                pass
            result[key_plain] = _plain(value, child, out, counter)
        return result
    if isinstance(node, CommentedSeq):
        items = []
        for index, value in enumerate(node):
            child = (*path, index)
            try:
                line, col = node.lc.item(index)
                out[child] = Position(line + 1, col + 1)
            except (KeyError, TypeError, AttributeError):
                pass
            items.append(_plain(value, child, out, counter))
        return items
    if isinstance(node, ScalarString):
        return str(node)
    if isinstance(node, dict):  # ordinary dicts/lists from merges
        return {k: _plain(v, (*path, k), out, counter) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v, (*path, i), out, counter) for i, v in enumerate(node)]
    return _scalar(node)


def _scalar(value: Any) -> Any:
    """ruamel's scalar subclasses (ScalarFloat, ScalarBoolean, TimeStamp…) to plain types."""
    from datetime import date, datetime

    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, datetime):
        return datetime(
            value.year, value.month, value.day, value.hour, value.minute, value.second,
            value.microsecond, value.tzinfo,
        )
    if isinstance(value, date):
        return date(value.year, value.month, value.day)
    return value


def parse_yaml(source: str | bytes, name: str | None = None) -> ParsedYaml:
    """Parse one YAML document; raise `FlowSyntaxError` with positions on any problem."""
    if isinstance(source, bytes):
        if len(source) > MAX_SOURCE_BYTES:
            raise FlowSyntaxError([Problem(f"flow source is {len(source)} bytes; the limit is {MAX_SOURCE_BYTES}", source=name)])
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FlowSyntaxError([Problem(f"flow source is not UTF-8 text ({exc.reason} at byte {exc.start})", source=name)]) from None
    size = len(source.encode("utf-8"))
    if size > MAX_SOURCE_BYTES:
        raise FlowSyntaxError([Problem(f"flow source is {size} bytes; the limit is {MAX_SOURCE_BYTES}", source=name)])
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        docs = list(_yaml().load_all(source))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Position(mark.line + 1, mark.column + 1) if mark is not None else None
        message = " ".join(filter(None, [exc.context, exc.problem])) or str(exc)
        if "duplicate key" in message or "found duplicate key" in str(exc):
            message = str(exc.problem or "duplicate key").strip()
        raise FlowSyntaxError([Problem(message.strip(), position=pos, source=name)]) from None
    except YAMLError as exc:
        raise FlowSyntaxError([Problem(f"invalid YAML: {exc}", source=name)]) from None
    except RecursionError:
        raise FlowSyntaxError([Problem("document nests too deeply", source=name)]) from None
    docs = [d for d in docs if d is not None]
    if not docs:
        raise FlowSyntaxError([Problem("the document is empty; a flow needs at least id, namespace and tasks", source=name)])
    if len(docs) > 1:
        raise FlowSyntaxError([Problem("one flow per document: found several YAML documents (---)", source=name)])
    positions: dict[tuple[str | int, ...], Position] = {}
    try:
        _expanded_size(docs[0])
        data = _plain(docs[0], (), positions, [0])
    except _Budget as exc:
        where = tuple(exc.args[0])
        raise FlowSyntaxError(
            [
                Problem(
                    f"document expands to more than {MAX_NODES} values or {MAX_DEPTH} levels "
                    "(a YAML alias bomb?); refused",
                    where[:3],
                    positions.get(where[:1]) if where else None,
                    name,
                )
            ]
        ) from None
    if not isinstance(data, dict):
        raise FlowSyntaxError([Problem(f"a flow must be a mapping (id: …, namespace: …, tasks: …), not a {type(data).__name__}", source=name, position=Position(1, 1))])
    return ParsedYaml(data=data, source=source, positions=positions, name=name)
