"""Reading a flow's `inputs:` declarations: every static problem, and a plan to resolve them.

One pass both reports problems (with the path of the offending key, so the caller can add
the line and column) and compiles what is valid into `CompiledInput`s, so the checks a
flow gets when it is saved are exactly the ones its executions rely on.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tercel.errors import Problem

from ._kinds import INPUT_TYPES, KINDS, Context, Invalid, Kind, Reporter, did_you_mean, suggest_type
from ._values import MISSING, article, is_expression, show

__all__ = ["COMMON_KEYS", "CompiledInput", "Plan", "compile_inputs"]

_ID = re.compile(r"[a-zA-Z0-9][.a-zA-Z0-9_-]*")
"""Kestra's input id pattern."""

COMMON_KEYS = frozenset(
    {
        "id",
        "name",
        "type",
        "description",
        "displayName",
        "required",
        "defaults",
        "prefill",
        "dependsOn",
    }
)

_NOT_YET = {"OBJECT", "TABLE", "FORM", "ION"}
"""Kestra's newest input types, which tercel does not have yet."""


def _key_owners() -> dict[str, list[str]]:
    """Which types a property belongs to, to say so when it is written on another type."""
    owners: dict[str, list[str]] = {}
    for type_name, kind in KINDS.items():
        for key in sorted(kind.keys):
            owners.setdefault(key, []).append(type_name)
    return owners


_KEY_OWNERS = _key_owners()


@dataclass(frozen=True, slots=True)
class CompiledInput:
    """A declaration that passed every check, ready to resolve."""

    index: int
    id: str
    kind: Kind
    required: bool
    defaults: Any
    """The `defaults` as written (`MISSING` when absent); an expression is rendered later."""
    depends_on: tuple[str, ...]
    condition: Any
    """`dependsOn.condition` as written, or None."""


@dataclass
class Plan:
    """The outcome of reading declarations: valid inputs, their resolution order, problems."""

    inputs: list[CompiledInput] = field(default_factory=list)
    order: list[CompiledInput] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass
class _Draft:
    """What one declaration gave, even when parts of it are broken (for cross-input checks)."""

    index: int
    id: str | None
    id_key: str
    kind: Kind | None
    required: bool
    defaults: Any
    depends_on: tuple[str, ...]
    condition: Any
    report: Reporter


def compile_inputs(
    inputs: Any, path_prefix: tuple[str | int, ...] = ("inputs",), *, standalone: bool = False
) -> Plan:
    """Check `inputs` and compile the valid declarations.

    With `standalone`, `inputs` is one declaration checked on its own (for `coerce_input`):
    its paths have no index and its `dependsOn` names are not checked against others.
    """
    plan = Plan()
    if standalone:
        draft = _compile_one(0, inputs, Reporter(path_prefix, plan.problems))
        if draft is not None and not plan.problems:
            plan.inputs = plan.order = [_compiled(draft)]
        return plan
    if inputs is None:
        return plan
    if not isinstance(inputs, Sequence) or isinstance(inputs, str | bytes):
        plan.problems.append(
            Problem(
                f"`inputs` must be a list of input declarations, got {show(inputs)}",
                path=path_prefix,
            )
        )
        return plan
    drafts = [
        _compile_one(i, decl, Reporter((*path_prefix, i), plan.problems))
        for i, decl in enumerate(inputs)
    ]
    valid = [d for d in drafts if d is not None and d.id is not None]
    _check_ids(valid)
    _check_dependencies(valid)
    if not plan.problems:  # a plan is only resolved when every declaration is sound
        plan.inputs = [_compiled(draft) for draft in valid]
    plan.order = _resolution_order(plan.inputs)
    depth = len(path_prefix)
    plan.problems.sort(
        key=lambda p: (
            p.path[depth] if len(p.path) > depth and isinstance(p.path[depth], int) else -1
        )
    )
    return plan


def _compiled(draft: _Draft) -> CompiledInput:
    assert draft.id is not None and draft.kind is not None, "only sound drafts are compiled"
    return CompiledInput(
        draft.index,
        draft.id,
        draft.kind,
        draft.required,
        draft.defaults,
        draft.depends_on,
        draft.condition,
    )


def _compile_one(index: int, decl: Any, report: Reporter) -> _Draft | None:
    """Check one declaration's own keys; cross-input checks come later."""
    if not isinstance(decl, Mapping):
        report.add(None, f"an input must be a mapping with an `id` and a `type`, got {show(decl)}")
        return None

    ident, id_key = _read_id(decl, report)
    kind = _read_type(decl, report)
    type_name = decl.get("type")

    required = decl.get("required")
    if required is None:
        required = True  # Kestra's default
    elif not isinstance(required, bool):
        report.add("required", f"`required` must be true or false, got {show(required)}")
        required = True
    for key in ("description", "displayName"):
        if decl.get(key) is not None and not isinstance(decl[key], str):
            report.add(key, f"`{key}` must be a string, got {show(decl[key])}")

    allowed = kind.allowed_keys() if kind is not None else None
    if allowed is not None:
        for key in decl:
            if key not in COMMON_KEYS and key not in allowed:
                report.add(
                    key,
                    f"unknown property `{key}` for {article(type_name)} {type_name} input",
                    hint=_key_hint(key, allowed),
                )

    defaults = decl.get("defaults", MISSING)
    if defaults is None:
        defaults = MISSING
    if defaults is not MISSING and decl.get("prefill") is not None:
        report.add(
            "prefill",
            "use either `defaults` or `prefill`, not both",
            hint="`prefill` is a suggestion the user can clear; `defaults` always applies",
        )
    if kind is not None:
        for key in ("defaults", "prefill"):
            _check_literal(decl.get(key), key, kind, ident or "", report)

    depends_on, condition = _read_depends_on(decl, report)
    return _Draft(index, ident, id_key, kind, required, defaults, depends_on, condition, report)


def _read_id(decl: Mapping[str, Any], report: Reporter) -> tuple[str | None, str]:
    id_key = "id" if decl.get("id") is not None or "name" not in decl else "name"
    raw = decl.get(id_key)
    if decl.get("id") is not None and decl.get("name") is not None and decl["name"] != decl["id"]:
        report.add("name", "`name` is the old name of `id`; give only `id`")
    if raw is None:
        report.add(None, "missing `id`")
        return None, id_key
    if not isinstance(raw, str) or not raw:
        report.add(id_key, f"`{id_key}` must be a non-empty string, got {show(raw)}")
        return None, id_key
    rule = "an id starts with a letter or digit and holds only letters, digits, '.', '_' and '-'"
    if not _ID.fullmatch(raw):
        report.add(id_key, f"invalid input id {raw!r}", hint=rule)
        return None, id_key
    if ".." in raw or raw.endswith("."):
        report.add(
            id_key,
            f"invalid input id {raw!r}",
            hint="a '.' nests an input under another name, so it cannot repeat or end an id",
        )
        return None, id_key
    return str(raw), id_key


def _read_type(decl: Mapping[str, Any], report: Reporter) -> Kind | None:
    type_name = decl.get("type")
    if type_name is None:
        report.add(None, "missing `type`", hint=f"one of {', '.join(sorted(INPUT_TYPES))}")
        return None
    if isinstance(type_name, str) and type_name in KINDS:
        return KINDS[type_name](type_name, decl, report)
    if isinstance(type_name, str) and type_name.upper() in _NOT_YET:
        report.add(
            "type",
            f"input type {type_name!r} is not supported by tercel yet",
            hint="use JSON for structured values",
        )
        return None
    report.add(
        "type",
        f"unknown input type {show(type_name)}",
        hint=suggest_type(type_name) or f"one of {', '.join(sorted(INPUT_TYPES))}",
    )
    return None


def _key_hint(key: str, allowed: frozenset[str]) -> str | None:
    hint = did_you_mean(key, sorted(COMMON_KEYS | allowed))
    if hint:
        return hint
    owners = _KEY_OWNERS.get(key)
    return f"`{key}` applies to {', '.join(owners)} inputs" if owners else None


def _check_literal(value: Any, key: str, kind: Kind, ident: str, report: Reporter) -> None:
    """A literal `defaults`/`prefill` must itself be a valid value (expressions are checked at run time)."""
    if value is None or is_expression(value) or not kind.checkable:
        return
    try:
        kind.coerce(value, Context(input_id=ident, secret=kind.secret))
    except Invalid as invalid:
        for failure in invalid.failures:
            where = f" item {''.join(f'[{i}]' for i in failure.at)}" if failure.at else ""
            report.add((key, *failure.at), f"`{key}`{where} {failure.message}", hint=failure.hint)


def _read_depends_on(decl: Mapping[str, Any], report: Reporter) -> tuple[tuple[str, ...], Any]:
    depends = decl.get("dependsOn")
    if depends is None:
        return (), None
    if not isinstance(depends, Mapping):
        report.add(
            "dependsOn",
            f"`dependsOn` must be a mapping with `inputs` and `condition`, got {show(depends)}",
        )
        return (), None
    for key in depends:
        if key not in ("inputs", "condition"):
            report.add(
                ("dependsOn", key),
                f"unknown property `{key}` in `dependsOn`",
                hint=did_you_mean(key, ["inputs", "condition"]),
            )
    names: list[str] = []
    listed = depends.get("inputs")
    if listed is not None and (not isinstance(listed, Sequence) or isinstance(listed, str)):
        report.add(
            ("dependsOn", "inputs"),
            f"`dependsOn.inputs` must be a list of input ids, got {show(listed)}",
        )
    elif listed is not None:
        for j, name in enumerate(listed):
            if isinstance(name, str):
                names.append(str(name))
            else:
                report.add(
                    ("dependsOn", "inputs", j), f"an input id must be a string, got {show(name)}"
                )
    condition = depends.get("condition")
    if condition is not None and not isinstance(condition, str | bool):
        report.add(
            ("dependsOn", "condition"),
            f"`dependsOn.condition` must be an expression string, got {show(condition)}",
        )
        condition = None
    return tuple(names), condition


def _check_ids(drafts: list[_Draft]) -> None:
    """Duplicate ids, and ids that would nest under another input (`a` and `a.b`)."""
    first: dict[str, _Draft] = {}
    for draft in drafts:
        assert draft.id is not None
        if draft.id in first:
            draft.report.add(
                draft.id_key,
                f"duplicate input id {draft.id!r}",
                hint=f"first declared as input [{first[draft.id].index}]",
            )
        else:
            first[draft.id] = draft
    for draft in drafts:
        assert draft.id is not None
        parts = draft.id.split(".")
        for end in range(1, len(parts)):
            parent = ".".join(parts[:end])
            if parent in first:
                draft.report.add(
                    draft.id_key,
                    f"input id {draft.id!r} nests under {parent!r}, which is itself an input",
                    hint=f"'{{{{ inputs.{parent} }}}}' cannot be both a value and a group; rename one of them",
                )
                break


def _check_dependencies(drafts: list[_Draft]) -> None:
    """`dependsOn.inputs` must name other declared inputs, without cycles."""
    ids = [d.id for d in drafts if d.id is not None]
    by_id = {d.id: d for d in drafts}
    for draft in drafts:
        for j, name in enumerate(draft.depends_on):
            if name == draft.id:
                draft.report.add(
                    ("dependsOn", "inputs", j), f"input {draft.id!r} cannot depend on itself"
                )
            elif name not in by_id:
                draft.report.add(
                    ("dependsOn", "inputs", j),
                    f"`dependsOn` names unknown input {name!r}",
                    hint=did_you_mean(name, ids),
                )
    reported: set[frozenset[str]] = set()
    for draft in drafts:
        cycle = _find_cycle(draft, by_id)
        if cycle and frozenset(cycle) not in reported:
            reported.add(frozenset(cycle))
            draft.report.add(
                ("dependsOn", "inputs"),
                f"`dependsOn` forms a cycle: {' → '.join([*cycle, cycle[0]])}",
            )


def _find_cycle(start: _Draft, by_id: Mapping[str | None, _Draft]) -> list[str] | None:
    """The cycle through `start`, if its dependencies lead back to it."""
    assert start.id is not None
    stack: list[tuple[str, list[str]]] = [(start.id, [start.id])]
    seen: set[str] = set()
    while stack:
        current, trail = stack.pop()
        for name in by_id[current].depends_on:
            if name == start.id and len(trail) > 1:
                return trail
            if name in by_id and name not in seen and name != current:
                seen.add(name)
                stack.append((name, [*trail, name]))
    return None


def _resolution_order(inputs: list[CompiledInput]) -> list[CompiledInput]:
    """Declaration order, except that an input comes after the inputs it depends on."""
    by_id = {inp.id: inp for inp in inputs}
    waiting = {inp.id: {d for d in inp.depends_on if d in by_id} for inp in inputs}
    dependents: dict[str, list[str]] = {}
    for inp in inputs:
        for dep in waiting[inp.id]:
            dependents.setdefault(dep, []).append(inp.id)
    ready = [(inp.index, inp.id) for inp in inputs if not waiting[inp.id]]
    heapq.heapify(ready)
    order: list[CompiledInput] = []
    while ready:
        _, ident = heapq.heappop(ready)
        order.append(by_id[ident])
        for follower in dependents.get(ident, ()):
            waiting[follower].discard(ident)
            if not waiting[follower]:
                heapq.heappush(ready, (by_id[follower].index, follower))
    return order
