"""Turning what a caller provided into an execution's typed inputs, all problems at once."""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Mapping
from typing import Any

from tercel.errors import Problem, ProblemsError

from ._declarations import CompiledInput, compile_inputs
from ._kinds import Context, Failure, Invalid, OnSecret, StoreFile, did_you_mean
from ._values import MISSING, is_expression, show

__all__ = ["InputsError", "Render", "coerce_input", "identity", "nest", "resolve_inputs"]

Render = Callable[[Any, Mapping[str, Any]], Any]
"""`render(template, context)`: the engine's expression renderer."""


class InputsError(ProblemsError):
    """Inputs that cannot start an execution; lists every bad input, not just the first."""

    summary = "invalid inputs"


def identity(value: Any, context: Mapping[str, Any]) -> Any:
    """The renderer used when none is given: templates stay as written."""
    return value


class _Failed(Exception):
    """One input could not be resolved; its problems are already written."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        self.problems = problems


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Nest dotted ids as Kestra does: `nested.string` is read as `{{ inputs.nested.string }}`."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        *groups, last = key.split(".")
        node = out
        for group in groups:
            node = node.setdefault(group, {})
        node[last] = value
    return out


def resolve_inputs(
    declarations: list[dict[str, Any]],
    provided: Mapping[str, Any],
    *,
    render: Render = identity,
    store_file: StoreFile | None = None,
    on_secret: OnSecret | None = None,
    local_files: bool = True,
) -> dict[str, Any]:
    """The typed value of every declared input, or `InputsError` listing every bad one.

    `provided` holds CLI strings or API JSON values; both are converted. A missing input
    takes its `defaults` (rendered with the inputs resolved so far when it is a template),
    else is None when not required. An input whose `dependsOn.condition` renders false is
    None and not required. Names that match no declared input are rejected (Kestra ignores
    them; a typo deserves a "did you mean"). Dotted ids come back nested, as in Kestra.
    `local_files=False` refuses FILE values that name a path on this machine: an API must
    pass bytes, so a caller cannot make the server read its own files.
    """
    plan = compile_inputs(declarations)
    if plan.problems:
        raise InputsError(plan.problems, summary="invalid input declarations")

    problems: list[Problem] = []
    declared = [inp.id for inp in plan.inputs]
    for name in provided:
        if name not in declared:
            problems.append(
                Problem(
                    f"unknown input {str(name)!r}",
                    path=("inputs", str(name)),
                    hint=did_you_mean(name, declared),
                )
            )

    values: dict[str, Any] = {}
    failed: list[str] = []
    for inp in plan.order:
        blocked = [d for d in inp.depends_on if d in failed]
        if blocked and inp.condition is not None:
            failed.append(inp.id)  # whether it shows depends on an input already reported
            continue
        variables = {"inputs": nest(values)}
        cause = f"this may follow from the invalid {_names(failed)}" if failed else None
        try:
            if inp.condition is not None and not _condition(inp, variables, render, cause):
                values[inp.id] = None
                continue
            values[inp.id] = _resolve_one(
                inp,
                provided.get(inp.id),
                variables,
                render,
                store_file,
                on_secret,
                local_files,
                cause,
            )
        except _Failed as failure:
            problems += failure.problems
            failed.append(inp.id)
    if problems:
        raise InputsError(problems)
    return nest({inp.id: values[inp.id] for inp in plan.inputs})


def coerce_input(
    declaration: dict[str, Any],
    value: Any,
    *,
    render: Render = identity,
    context: Mapping[str, Any] | None = None,
    store_file: StoreFile | None = None,
    on_secret: OnSecret | None = None,
    local_files: bool = True,
) -> Any:
    """Convert and validate one input's value as `resolve_inputs` would, or raise `InputsError`.

    None means "not provided": `defaults` and `required` apply. `context` holds the other
    inputs' values for templates (`defaults`, a SELECT `expression`); `dependsOn` is not
    evaluated here, since it is about whether the input is asked for at all.
    """
    plan = compile_inputs(declaration, (), standalone=True)
    if plan.problems:
        raise InputsError(plan.problems, summary="invalid input declaration")
    inp = plan.inputs[0]
    variables = {"inputs": dict(context or {})}
    try:
        return _resolve_one(inp, value, variables, render, store_file, on_secret, local_files, None)
    except _Failed as failure:
        raise InputsError(failure.problems) from None


def _names(ids: list[str]) -> str:
    return ("input " if len(ids) == 1 else "inputs ") + ", ".join(repr(i) for i in ids)


def _condition(
    inp: CompiledInput, variables: Mapping[str, Any], render: Render, cause: str | None
) -> bool:
    """Whether the input is asked for: its `dependsOn.condition` rendered to true/false."""
    if isinstance(inp.condition, bool):
        return inp.condition
    try:
        result = render(inp.condition, variables)
    except Exception as exc:  # the renderer reports user expression errors however it likes
        raise _Failed(
            [_problem(inp, f"cannot evaluate `dependsOn.condition`: {exc}", cause)]
        ) from None
    if isinstance(result, bool):
        return result
    text = str(result).strip().lower() if isinstance(result, str) else None
    if text in ("true", "false", ""):
        return text == "true"
    raise _Failed(
        [
            _problem(
                inp,
                f"`dependsOn.condition` must render to true or false, got {show(result)}",
                cause,
            )
        ]
    )


def _resolve_one(
    inp: CompiledInput,
    raw: Any,
    variables: Mapping[str, Any],
    render: Render,
    store_file: StoreFile | None,
    on_secret: OnSecret | None,
    local_files: bool,
    cause: str | None,
) -> Any:
    """Provided value, else defaults, else None/required; then typed and validated."""
    from_defaults = False
    if raw is None and inp.defaults is not MISSING:
        raw, from_defaults = inp.defaults, True
        if is_expression(raw):
            try:
                raw = render(raw, variables)
            except Exception as exc:  # see _condition
                raise _Failed([_problem(inp, f"cannot render `defaults`: {exc}", cause)]) from None
    if raw is None:
        if inp.required:
            why = "its `defaults` rendered to null" if from_defaults else None
            raise _Failed([_problem(inp, "is required but was not provided", why)])
        return None

    options = None
    expression = getattr(inp.kind, "expression", None)
    if expression is not None:
        try:
            rendered = render(expression, variables)
        except Exception as exc:  # see _condition
            raise _Failed([_problem(inp, f"cannot render `expression`: {exc}", cause)]) from None
        options = _as_options(rendered)
        if options is None:
            raise _Failed(
                [
                    _problem(
                        inp, f"`expression` must give a list of values, got {show(rendered)}", cause
                    )
                ]
            )

    ctx = Context(
        input_id=inp.id,
        secret=inp.kind.secret,
        store_file=store_file,
        on_secret=on_secret,
        options=options,
        local_files=local_files,
    )
    try:
        return inp.kind.coerce(raw, ctx)
    except Invalid as invalid:
        origin = " (from `defaults`)" if from_defaults else ""
        raise _Failed([_item_problem(inp, f, origin) for f in invalid.failures]) from None


def _as_options(rendered: Any) -> list[Any] | None:
    """An expression's choices: a list, or the text of one (what a template renders to)."""
    if isinstance(rendered, list | tuple):
        return list(rendered)
    if isinstance(rendered, str):
        try:
            decoded = json.loads(rendered)
        except json.JSONDecodeError:
            try:  # a renderer that prints Python values gives "['a', 'b']"
                decoded = ast.literal_eval(rendered.strip())
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                return None
        return list(decoded) if isinstance(decoded, list | tuple) else None
    return None


def _problem(inp: CompiledInput, message: str, hint: str | None = None) -> Problem:
    sep = " " if message.startswith(("is ", "must ")) else ": "
    return Problem(f"input {inp.id!r}{sep}{message}", path=("inputs", inp.id), hint=hint)


def _item_problem(inp: CompiledInput, failure: Failure, origin: str) -> Problem:
    where = f" item {''.join(f'[{i}]' for i in failure.at)}" if failure.at else ""
    return Problem(
        f"input {inp.id!r}{origin}{where} {failure.message}",
        path=("inputs", inp.id, *failure.at),
        hint=failure.hint,
    )
