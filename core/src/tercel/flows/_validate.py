"""Flow validation: every problem at once, each with its line and column.

Structure is checked here; each task's properties are checked against the JSON Schema its
plugin's manifest declares (no plugin module is imported); inputs by `tercel.inputs`; every
expression is parsed so a syntax error is caught at save time.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from tercel.errors import Problem, ProblemsError
from tercel.plugins import PluginManager, TypeInfo, UnknownType

from ._defaults import apply_plugin_defaults
from ._model import Flow, TaskNode
from ._yaml import ParsedYaml, parse_yaml

__all__ = ["FLOW_FIELDS", "FlowValidationError", "load_flow", "validate_flow"]

FLOW_ID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")
NAMESPACE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")
TASK_ID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$")
BLOCKS = ("tasks", "errors", "finally", "afterExecution")
FLOW_FIELDS: dict[str, str] = {
    "id": "string",
    "namespace": "string",
    "revision": "integer",
    "description": "string",
    "labels": "mapping",
    "inputs": "list",
    "outputs": "list",
    "variables": "mapping",
    "tasks": "list",
    "errors": "list",
    "finally": "list",
    "afterExecution": "list",
    "triggers": "list",
    "pluginDefaults": "list",
    "taskDefaults": "list",
    "disabled": "boolean",
    "deleted": "boolean",
    "concurrency": "mapping",
    "retry": "mapping",
    "sla": "list",
    "workerGroup": "mapping",
    "checks": "list",
}
_PY_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "mapping": dict,
    "list": list,
    "boolean": bool,
}


class FlowValidationError(ProblemsError):
    """A flow has problems; all of them are listed, each with its position."""

    summary = "flow is invalid"


def load_flow(
    source: str | bytes,
    plugins: PluginManager,
    *,
    name: str | None = None,
    check_expression: Callable[[str], str | None] | None = None,
    lock: Mapping[str, Any] | None = None,
) -> Flow:
    """Parse and validate a flow; raise `FlowSyntaxError`/`FlowValidationError` with everything.

    `lock` is a saved revision's plugin lock: its versions are used (and must be installed)
    instead of resolving them anew, so a revision always runs the code it was saved with."""
    parsed = parse_yaml(source, name)
    flow, problems = validate_flow(parsed, plugins, check_expression=check_expression, lock=lock)
    if problems:
        raise FlowValidationError(problems)
    assert flow is not None
    return flow


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


def validate_flow(
    parsed: ParsedYaml,
    plugins: PluginManager,
    *,
    check_expression: Callable[[str], str | None] | None = None,
    lock: Mapping[str, Any] | None = None,
) -> tuple[Flow | None, list[Problem]]:
    """Check a parsed flow; returns the runnable flow (if valid) and the problems found."""
    stored_lock = lock
    data = parsed.data
    problems: list[Problem] = []
    add = lambda msg, path=(), hint=None: problems.append(parsed.problem(msg, tuple(path), hint))  # noqa: E731

    for key, value in data.items():
        expected = FLOW_FIELDS.get(key)
        if expected is None:
            close = difflib.get_close_matches(str(key), FLOW_FIELDS, n=1)
            add(f"unknown flow property {key!r}", (key,), f"did you mean {close[0]!r}?" if close else None)
        elif (value is not None and not isinstance(value, _PY_TYPES[expected])) or (
            expected == "integer" and isinstance(value, bool)
        ):
            if key == "labels" and isinstance(value, list):
                continue
            add(f"must be a {expected}, got {_kind(value)}", (key,))
    for key, pattern, what in (("id", FLOW_ID, "flow id"), ("namespace", NAMESPACE, "namespace")):
        value = data.get(key)
        if value is None:
            add(f"missing required property {key!r}", ())
        elif isinstance(value, str) and not pattern.match(value):
            add(f"{what} {value!r} may only contain letters, digits, '.', '_' and '-', and must start with a letter or digit", (key,))
        elif isinstance(value, str) and len(value) > 150:
            add(f"{what} is longer than 150 characters", (key,))
    if not data.get("tasks"):
        if "tasks" in data and isinstance(data.get("tasks"), list):
            add("a flow needs at least one task", ("tasks",))
        elif "tasks" not in data:
            add("missing required property 'tasks'", ())

    if isinstance(data.get("retry"), dict):
        _check_flow_retry(data["retry"], add)
    if isinstance(data.get("sla"), list):
        _check_sla(data["sla"], add)
    concurrency = data.get("concurrency")
    if isinstance(concurrency, dict):
        for key in sorted(set(concurrency) - {"limit", "behavior"}):
            add(f"unknown concurrency property {key!r}", ("concurrency", key), "concurrency has `limit` and `behavior`")
        limit = concurrency.get("limit")
        if not (isinstance(limit, int) and not isinstance(limit, bool) and limit >= 1):
            add(f"concurrency limit must be an integer of at least 1, got {limit!r}", ("concurrency", "limit") if "limit" in concurrency else ("concurrency",))
        behavior = concurrency.get("behavior", "QUEUE")
        if behavior not in ("QUEUE", "CANCEL", "FAIL"):
            add(f"concurrency behavior must be QUEUE, CANCEL or FAIL, got {behavior!r}", ("concurrency", "behavior"))

    labels = data.get("labels")
    if isinstance(labels, list):
        for i, item in enumerate(labels):
            if not (isinstance(item, dict) and set(item) == {"key", "value"}):
                add("a label in list form needs exactly 'key' and 'value'", ("labels", i))

    # inputs
    if isinstance(data.get("inputs"), list):
        from tercel.inputs import declaration_problems

        for p in declaration_problems(data["inputs"]):
            problems.append(parsed.problem(p.message, p.path, p.hint))

    # outputs
    seen_outputs: set[str] = set()
    for i, out in enumerate(data.get("outputs") or () if isinstance(data.get("outputs"), list) else ()):
        if not isinstance(out, dict):
            add("an output must be a mapping with id, type and value", ("outputs", i))
            continue
        for req in ("id", "value"):
            if req not in out:
                add(f"output is missing {req!r}", ("outputs", i))
        if out.get("id") in seen_outputs:
            add(f"duplicate output id {out.get('id')!r}", ("outputs", i, "id"))
        seen_outputs.add(out.get("id"))
        unknown = set(out) - {"id", "type", "value", "description", "displayName", "required"}
        for key in sorted(unknown):
            add(f"unknown output property {key!r}", ("outputs", i, key))

    # plugin defaults
    defaults_key = "pluginDefaults" if "pluginDefaults" in data else "taskDefaults"
    defaults = data.get(defaults_key) or []
    if isinstance(defaults, list):
        for i, entry in enumerate(defaults):
            if not isinstance(entry, dict) or "type" not in entry:
                add("a plugin default needs a 'type' (and 'values')", (defaults_key, i))
                continue
            unknown = set(entry) - {"type", "values", "forced"}
            for key in sorted(unknown):
                add(f"unknown plugin default property {key!r}", (defaults_key, i, key))
            if not isinstance(entry.get("values", {}), dict):
                add("'values' must be a mapping", (defaults_key, i, "values"))
        defaults = [d for d in defaults if isinstance(d, dict) and isinstance(d.get("values", {}), dict) and "type" in d]
    else:
        defaults = []

    flow_tasks: dict[str, TaskNode] = {}
    seen_ids: dict[str, tuple[str | int, ...]] = {}
    lock: dict[str, Any] = {}
    spec = dict(data)
    namespace = data.get("namespace") if isinstance(data.get("namespace"), str) else None

    def choose(info: TypeInfo, type_name: str, spec: Mapping[str, Any], path: tuple[str | int, ...], owner: str | None) -> TypeInfo | None:
        """The installed version this task or trigger uses, recorded in the lock."""
        return _choose_version(plugins, info, type_name, spec, path, owner, namespace, stored_lock, lock, add)

    def walk(tasks: Any, path: tuple[str | int, ...], parent: str | None, group: str) -> list[Any]:
        if tasks is None:
            return []
        if not isinstance(tasks, list):
            add(f"must be a list of tasks, got {_kind(tasks)}", path)
            return []
        out: list[Any] = []
        for i, task in enumerate(tasks):
            tpath = (*path, i)
            if not isinstance(task, dict):
                add(f"a task must be a mapping with id and type, got {_kind(task)}", tpath)
                continue
            out.append(check_task(task, tpath, parent, group))
        return out

    def add_internal(owner: str, spec: dict[str, Any], internal: dict[str, str], path: tuple[str | int, ...]) -> None:
        """A task run of its own the owner's type works through (ForEachItem's `<id>_split`…)."""
        sub_id = owner + internal["suffix"]
        if sub_id in seen_ids:
            add(f"task id {sub_id!r} is taken by {owner!r}, whose type runs a task of that id: rename one of them", seen_ids[sub_id])
            return
        try:
            sub = plugins.get_type(internal["type"])
        except UnknownType:
            add(f"the type of {owner!r} needs the type {internal['type']!r}, which is not installed", (*path, "type"))
            return
        seen_ids[sub_id] = (*path, "id")
        flow_tasks[sub_id] = TaskNode(sub_id, internal["type"], {**spec, "id": sub_id, "type": internal["type"]}, owner, "internal", path, sub.flowable)

    def check_task(task: dict[str, Any], path: tuple[str | int, ...], parent: str | None, group: str) -> dict[str, Any]:
        task_id = task.get("id")
        type_name = task.get("type")
        if not isinstance(task_id, str):
            add("task is missing its 'id'" if task_id is None else f"task id must be a string, got {_kind(task_id)}", path if task_id is None else (*path, "id"))
        elif not TASK_ID.match(task_id):
            add(f"task id {task_id!r} may only contain letters, digits, '_' and '-', and must start with a letter or digit", (*path, "id"))
        elif task_id in seen_ids:
            first = parsed.position(seen_ids[task_id])
            add(f"duplicate task id {task_id!r}" + (f" (first used on line {first.line})" if first else ""), (*path, "id"), "task ids must be unique in a flow")
        else:
            seen_ids[task_id] = (*path, "id")
        if not isinstance(type_name, str):
            add("task is missing its 'type'" if type_name is None else f"task type must be a string, got {_kind(type_name)}", path if type_name is None else (*path, "type"))
            return task
        try:
            info = plugins.get_type(type_name)
        except UnknownType as exc:
            hint = f"did you mean {' or '.join(repr(s) for s in exc.suggestions)}?" if exc.suggestions else "run `tercel plugins list` to see the installed types"
            add(f"unknown task type {type_name!r}", (*path, "type"), hint)
            return task
        if info.kind != "task":
            add(f"{type_name!r} is a {info.kind}, not a task", (*path, "type"))
            return task
        if info.entry.get("internal"):
            add(f"{type_name!r} is internal: another type creates it, a flow cannot use it directly", (*path, "type"))
            return task
        merged = apply_plugin_defaults(task, [type_name, info.entry["type"], *info.aliases], defaults)
        chosen = choose(info, type_name, merged, path, task_id if isinstance(task_id, str) else None)
        if chosen is None:
            return merged
        info = chosen
        _check_properties(merged, info, path, add)
        _check_input_declarations(merged, info, path, add)
        if check_expression is not None:
            _check_expressions(merged, path, add, check_expression, skip=set(info.task_slots) | {"id", "type"})
        if isinstance(task_id, str) and TASK_ID.match(task_id) and task_id not in flow_tasks:
            flow_tasks[task_id] = TaskNode(task_id, type_name, merged, parent, group, path, info.flowable)
            for internal in info.entry.get("internalTasks") or ():
                add_internal(task_id, merged, internal, path)
        for slot, shape in info.task_slots.items():
            if slot not in merged:
                continue
            if shape.startswith("wrapped:"):  # items holding one task each, under `key`
                _, key, *rest = shape.split(":")
                items = merged[slot] if isinstance(merged[slot], list) else []
                if rest:
                    _check_graph(items, key, rest[0], (*path, slot), add)
                wrapped = []
                for i, item in enumerate(items):
                    if isinstance(item, dict) and isinstance(item.get(key), dict):
                        child = check_task(item[key], (*path, slot, i, key), task_id if isinstance(task_id, str) else None, slot)
                        wrapped.append({**item, key: child})
                    else:
                        add(f"each item needs a task under {key!r}", (*path, slot, i))
                        wrapped.append(item)
                merged[slot] = wrapped
            elif shape == "list":
                merged[slot] = walk(merged[slot], (*path, slot), task_id if isinstance(task_id, str) else None, slot)
            elif isinstance(merged[slot], dict):
                merged[slot] = {
                    key: walk(value, (*path, slot, key), task_id if isinstance(task_id, str) else None, f"{slot}.{key}")
                    for key, value in merged[slot].items()
                }
        return merged

    for block in BLOCKS:
        if block in data:
            spec[block] = walk(data[block], (block,), None, block)

    # triggers: known types, unique ids
    trigger_ids: set[str] = set()
    for i, trig in enumerate(data.get("triggers") or () if isinstance(data.get("triggers"), list) else ()):
        tpath = ("triggers", i)
        if not isinstance(trig, dict):
            add("a trigger must be a mapping with id and type", tpath)
            continue
        if trig.get("id") in trigger_ids:
            add(f"duplicate trigger id {trig.get('id')!r}", (*tpath, "id"))
        trigger_ids.add(trig.get("id"))
        type_name = trig.get("type")
        if not isinstance(type_name, str):
            add("trigger is missing its 'type'", tpath)
            continue
        try:
            info = plugins.get_type(type_name)
        except UnknownType as exc:
            hint = f"did you mean {' or '.join(repr(s) for s in exc.suggestions)}?" if exc.suggestions else None
            add(f"unknown trigger type {type_name!r}", (*tpath, "type"), hint)
            continue
        if info.kind != "trigger":
            add(f"{type_name!r} is a {info.kind}, not a trigger", (*tpath, "type"))
            continue
        chosen = choose(info, type_name, trig, tpath, None)
        if chosen is None:
            continue
        info = chosen
        conditions = trig.get("conditions")
        if isinstance(conditions, list):  # each condition is checked below, against its own type
            trig = {**trig, "conditions": [c for c in conditions if isinstance(c, dict)]}
        _check_properties(trig, info, tpath, add)
        if isinstance(conditions, list):
            _check_conditions(conditions, (*tpath, "conditions"), plugins, lock, add)

    if check_expression is not None:
        for key in ("outputs", "variables", "labels"):
            if key in data:
                _check_expressions(data[key], (key,), add, check_expression, skip=set())

    if problems:
        return None, problems
    flow = Flow(
        id=data["id"],
        namespace=data["namespace"],
        spec=spec,
        source=parsed.source,
        revision=int(data.get("revision") or 1),
        tasks=flow_tasks,
        lock=lock,
        parsed=parsed,
    )
    return flow, []


def _check_conditions(
    conditions: list[Any],
    path: tuple[str | int, ...],
    plugins: PluginManager,
    lock: dict[str, Any],
    add: Callable[..., None],
) -> None:
    """A trigger's `conditions`: each a known condition type with valid properties (checked
    against its manifest's schema, like a task), the conditions nested in `Not`/`Or` too."""
    for i, condition in enumerate(conditions):
        cpath = (*path, i)
        if not isinstance(condition, dict):
            add(f"a condition must be a mapping with a type, got {_kind(condition)}", cpath)
            continue
        type_name = condition.get("type")
        if not isinstance(type_name, str):
            add("condition is missing its 'type'", cpath)
            continue
        try:
            info = plugins.get_type(type_name)
        except UnknownType as exc:
            hint = f"did you mean {' or '.join(repr(s) for s in exc.suggestions)}?" if exc.suggestions else None
            add(f"unknown condition type {type_name!r}", (*cpath, "type"), hint)
            continue
        if info.kind != "condition":
            add(f"{type_name!r} is a {info.kind}, not a condition", (*cpath, "type"))
            continue
        if info.isolated:
            add(
                f"{type_name!r} ({info.distribution}) is installed only in an environment of its own: conditions "
                "run in the scheduler, so their plugin must be installed in tercel's own environment",
                (*cpath, "type"),
            )
            continue
        lock[info.entry["type"]] = {"distribution": info.distribution, "version": info.version}
        _check_properties(condition, info, cpath, add)
        if isinstance(condition.get("conditions"), list):
            _check_conditions(condition["conditions"], (*cpath, "conditions"), plugins, lock, add)


def _check_sla(slas: list[Any], add: Callable[..., None]) -> None:
    """Kestra's `sla:` list: MAX_DURATION (duration) and EXECUTION_ASSERTION (assert)."""
    from tercel_sdk import parse_duration

    seen: set[str] = set()
    for i, sla in enumerate(slas):
        path = ("sla", i)
        if not isinstance(sla, dict):
            add("an SLA must be a mapping with id, type and behavior", path)
            continue
        for key in sorted(set(sla) - {"id", "type", "behavior", "duration", "assert", "labels"}):
            add(f"unknown SLA property {key!r}", (*path, key))
        if not isinstance(sla.get("id"), str):
            add("an SLA needs an `id`", path)
        elif sla["id"] in seen:
            add(f"duplicate SLA id {sla['id']!r}", (*path, "id"))
        else:
            seen.add(sla["id"])
        kind = sla.get("type")
        if kind not in ("MAX_DURATION", "EXECUTION_ASSERTION"):
            add(f"SLA type must be MAX_DURATION or EXECUTION_ASSERTION, got {kind!r}", (*path, "type") if "type" in sla else path)
        if sla.get("behavior", "FAIL") not in ("FAIL", "CANCEL", "NONE"):
            add(f"SLA behavior must be FAIL, CANCEL or NONE, got {sla.get('behavior')!r}", (*path, "behavior"))
        if kind == "MAX_DURATION":
            try:
                parse_duration(sla.get("duration"))
            except ValueError as exc:
                add(f"MAX_DURATION needs a `duration`: {exc}", (*path, "duration") if "duration" in sla else path)
        if kind == "EXECUTION_ASSERTION" and not isinstance(sla.get("assert"), str):
            add("EXECUTION_ASSERTION needs an `assert` expression", (*path, "assert") if "assert" in sla else path)
        if "labels" in sla and not isinstance(sla["labels"], dict):
            add("SLA labels must be a mapping", (*path, "labels"))


def _check_flow_retry(retry: dict[str, Any], add: Callable[..., None]) -> None:
    """The flow-level `retry:` block is the SDK's Retry policy; report its problems in place."""
    from pydantic import TypeAdapter, ValidationError
    from tercel_sdk import Retry

    try:
        TypeAdapter(Retry).validate_python(retry)
    except ValidationError as exc:
        for err in exc.errors():
            loc = [part for part in err.get("loc", ()) if part not in ("constant", "exponential", "random")]
            add(f"retry: {err.get('msg', 'invalid value')}", ("retry", *loc))


def _check_graph(items: list[Any], key: str, depends_key: str, path: tuple[str | int, ...], add: Callable[..., None]) -> None:
    """Dependencies between the tasks of one flowable (a Dag): known ids, no cycle."""
    ids: dict[str, int] = {}
    for i, item in enumerate(items):
        if isinstance(item, dict) and isinstance(item.get(key), dict) and isinstance(item[key].get("id"), str):
            ids[item[key]["id"]] = i
    edges: dict[str, list[str]] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get(key), dict):
            continue
        task_id = item[key].get("id")
        deps = item.get(depends_key) or []
        if not isinstance(deps, list):
            continue  # the schema reports the wrong type
        for j, dep in enumerate(deps):
            if dep not in ids:
                known = ", ".join(sorted(ids)) or "none"
                add(f"task {task_id!r} depends on unknown task {dep!r}", (*path, i, depends_key, j), f"the tasks here are: {known}")
            elif dep == task_id:
                add(f"task {task_id!r} depends on itself", (*path, i, depends_key, j))
        if isinstance(task_id, str):
            edges[task_id] = [d for d in deps if d in ids and d != task_id]
    # a cycle: depth-first search, reported once with its path
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in edges.get(node, ()):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep):], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in edges:
        if node not in state:
            cycle = visit(node)
            if cycle:
                add(f"the dependencies form a cycle: {' -> '.join(cycle)}", (*path, ids[cycle[0]], depends_key), "each task depends on the next")
                return


@lru_cache(maxsize=2048)
def _validator_for(info: TypeInfo) -> Any:
    from ._jsonschema import SchemaValidator

    return SchemaValidator(info.entry["schema"])


def _check_input_declarations(task: dict[str, Any], info: TypeInfo, path: tuple[str | int, ...], add: Callable[..., None]) -> None:
    """Properties that declare inputs (a Pause's `onResume`, marked `x-tercel-kind: inputs` in
    the type's schema) are checked like the flow's own `inputs`."""
    for key, schema in (info.entry.get("schema", {}).get("properties") or {}).items():
        if isinstance(schema, dict) and schema.get("x-tercel-kind") == "inputs" and isinstance(task.get(key), list):
            from tercel.inputs import declaration_problems

            for p in declaration_problems(task[key], path_prefix=(*path, key)):
                add(p.message, p.path, p.hint)


def _check_properties(task: dict[str, Any], info: TypeInfo, path: tuple[str | int, ...], add: Callable[..., None]) -> None:
    from tercel_sdk import contains_expression

    props = info.entry.get("properties", {})
    dynamic_with_expr = {
        key for key, meta in props.items() if meta.get("dynamic") and key in task and contains_expression(task[key])
    }
    slots = set(info.task_slots)
    for error in _validator_for(info).iter_errors(task):
        rel = list(error.absolute_path)
        if rel and rel[0] in dynamic_with_expr:
            continue
        if rel and rel[0] in slots:
            shape = info.task_slots[rel[0]]
            if shape.startswith("wrapped:"):
                if len(rel) >= 3 and rel[2] == shape.split(":")[1]:
                    continue  # inside the wrapped child task: checked against its own type
            elif len(rel) >= (2 if shape == "list" else 3):
                continue  # inside a child task: checked on its own, against its own type
        message, hint, where = _describe(error, task, props, info)
        add(message, (*path, *where), hint)
    _check_durations(task, info, path, add)


def _check_durations(task: dict[str, Any], info: TypeInfo, path: tuple[str | int, ...], add: Callable[..., None]) -> None:
    """Duration literals (`format: duration` in the type's schema) parse now, not at 3 am: JSON
    Schema has no check for that format, so the SDK's own parser does it, as the run would."""
    from tercel_sdk import contains_expression, parse_duration

    schema = info.entry.get("schema") or {}
    for key, value in task.items():
        if not isinstance(value, str) or contains_expression(value):
            continue
        prop = (schema.get("properties") or {}).get(key)
        if not isinstance(prop, dict) or not any(b.get("format") == "duration" for b in (prop, *prop.get("anyOf", ())) if isinstance(b, dict)):
            continue
        try:
            parse_duration(value)
        except (ValueError, TypeError) as exc:
            add(f"{exc}", (*path, key), "write an ISO 8601 duration: PT30S, PT5M, PT1H30M, P1D")


def _describe(error: Any, task: dict[str, Any], props: dict[str, Any], info: TypeInfo) -> tuple[str, str | None, list[Any]]:
    where = list(error.absolute_path)
    validator = error.validator
    if validator == "additionalProperties":
        extras = [k for k in error.instance if k not in error.schema.get("properties", {})]
        key = extras[0] if extras else "?"
        close = difflib.get_close_matches(str(key), list(error.schema.get("properties", {})), n=1)
        what = "property" if not where else "key"
        return (
            f"unknown {what} {key!r} for {info.entry['type']}",
            f"did you mean {close[0]!r}?" if close else f"see `tercel plugins doc {info.entry['type']}`",
            [*where, key],
        )
    if validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        name = missing[0] if missing else "?"
        return f"missing required property {name!r} of {info.entry['type']}", None, where
    branches = error.schema.get(validator) if validator in ("oneOf", "anyOf") else None
    if branches and all(set(b) == {"required"} and len(b["required"]) == 1 for b in branches):
        names = [b["required"][0] for b in branches]
        given = [n for n in names if isinstance(error.instance, dict) and n in error.instance]
        rule = "exactly one" if validator == "oneOf" else "at least one"
        got = f"got {', '.join(given)}" if given else "got none"
        return f"{info.entry['type']} needs {rule} of {', '.join(names)}; {got}", None, where
    name = where[-1] if where else None
    label = f"property {name!r}" if isinstance(name, str) else "value"
    if validator == "anyOf":
        kinds = _expected(error.schema)
        dyn = props.get(where[0], {}).get("dynamic") if where else False
        text = " or ".join(kinds) if kinds else "a valid value"
        if dyn:
            text += " or an expression ({{ ... }})"
        return f"{label} must be {text}, got {_kind(error.instance)} {_preview(error.instance)}", None, where
    if validator == "type":
        return f"{label} must be {' or '.join(_expected(error.schema))}, got {_kind(error.instance)} {_preview(error.instance)}", None, where
    if validator in ("enum", "const"):
        allowed = error.schema.get("enum") or [error.schema.get("const")]
        return f"{label} must be one of {', '.join(map(str, allowed))}, got {_preview(error.instance)}", None, where
    if validator == "pattern" and name == "id":
        return f"task id {error.instance!r} may only contain letters, digits, '_' and '-', and must start with a letter or digit", None, where
    return f"{label}: {error.message}", None, where


def _expected(schema: dict[str, Any]) -> list[str]:
    names = {"integer": "an integer", "number": "a number", "string": "a string", "boolean": "a boolean", "array": "a list", "object": "a mapping", "null": "null"}
    out: list[str] = []
    branches = schema.get("anyOf") or schema.get("oneOf") or [schema]
    for branch in branches:
        if "pattern" in branch and branch.get("type") == "string" and "{{" in branch["pattern"].replace("\\", ""):
            continue
        if "enum" in branch:
            out.append("one of " + ", ".join(map(str, branch["enum"])))
            continue
        t = branch.get("type")
        if isinstance(t, list):
            out += [names.get(x, x) for x in t]
        elif t:
            out.append(names.get(t, t))
        elif "$ref" in branch:
            out.append("a " + branch["$ref"].rsplit("/", 1)[-1])
    return [o for o in dict.fromkeys(out) if o != "null"] or ["a valid value"]


def _choose_version(
    plugins: PluginManager,
    info: TypeInfo,
    type_name: str,
    spec: Mapping[str, Any],
    path: tuple[str | int, ...],
    owner: str | None,
    namespace: str | None,
    stored_lock: Mapping[str, Any] | None,
    lock: dict[str, Any],
    add: Callable[..., None],
) -> TypeInfo | None:
    """Which installed version a task or trigger uses (DESIGN §6): the saved revision's lock when
    there is one, else its `version:` pin (after `pluginDefaults`), the namespace defaults, the
    instance default. Records the choice in `lock`; None (a problem added) when nothing fits."""
    from tercel.plugins._manager import lock_version
    from tercel.plugins._versions import VersionChoiceError

    requested = spec.get("version")
    if requested is not None and (isinstance(requested, bool) or not isinstance(requested, str | int | float)):
        add(f"`version` must be a version, a specifier, `latest` or `oldest`, got {_kind(requested)}", (*path, "version"))
        return None
    canonical = info.entry["type"]
    locked = lock_version(stored_lock.get(canonical), owner) if stored_lock is not None else None
    try:
        chosen = plugins.resolve_type(
            type_name, None if requested is None else str(requested), namespace=namespace, locked=locked
        )
    except VersionChoiceError as exc:
        if locked is not None:
            add(f"{canonical} ({info.distribution}): {exc}", (*path, "type"), "`tercel plugins list --plugins` shows what is installed")
        else:
            add(
                f"{canonical} ({info.distribution}): {exc}",
                (*path, "version") if requested is not None else (*path, "type"),
                f"`tercel plugins list --plugins` shows the installed versions; install {info.distribution}"
                + (f" {requested}" if requested is not None else "")
                + (" or change the pin" if requested is not None else " or pin a `version:`"),
            )
        return None
    if chosen.isolated and (chosen.kind != "task" or chosen.flowable):
        what = "flowable tasks run in the executor" if chosen.kind == "task" else f"{chosen.kind}s run in the scheduler"
        add(
            f"{canonical} {chosen.version} ({chosen.distribution}) is installed in an environment of its own, and "
            f"{what}: only runnable tasks run in plugin hosts",
            (*path, "version") if requested is not None else (*path, "type"),
            f"install {chosen.distribution}=={chosen.version} in tercel's own environment, or pin a version that is",
        )
        return None
    entry = lock.get(canonical)
    if entry is None:
        lock[canonical] = {"distribution": chosen.distribution, "version": chosen.version}
    elif entry["version"] != chosen.version and owner is not None:
        entry.setdefault("tasks", {})[owner] = chosen.version  # two versions of one type in a flow
    return chosen


def _plain(value: Any) -> Any:
    """ruamel's round-trip containers as plain dicts and lists (their repr shows Python)."""
    if isinstance(value, dict):
        return {_plain_key(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def _plain_key(key: Any) -> Any:
    if isinstance(key, str | int | float | bool) or key is None:
        return key
    items = getattr(key, "items", None)
    if items is not None:  # `{{ x }}` unquoted: YAML reads a mapping whose key is a mapping
        return "{" + ", ".join(str(_plain_key(k)) for k, _ in items()) + "}"
    return str(key)


def _preview(value: Any, limit: int = 60) -> str:
    """The value as the user wrote it, about: JSON-like, shortened. A mapping whose only key is
    an expression hints that `{{ … }}` must be quoted in YAML."""
    plain = _plain(value)
    try:
        text = json.dumps(plain, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(plain)
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    if isinstance(plain, dict) and len(plain) == 1 and next(iter(plain.values())) is None:
        text += " (an expression starting with {{ must be quoted in YAML: \"{{ ... }}\")"
    return text


def _check_expressions(value: Any, path: tuple[str | int, ...], add: Callable[..., None], check: Callable[[str], str | None], skip: set[str]) -> None:
    if isinstance(value, str):
        if "{{" in value or "{%" in value:
            error = check(value)
            if error:
                add(f"invalid expression: {error}", path)
    elif isinstance(value, dict):
        for k, v in value.items():
            if k not in skip:
                _check_expressions(v, (*path, k), add, check, set())
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_expressions(v, (*path, i), add, check, set())
