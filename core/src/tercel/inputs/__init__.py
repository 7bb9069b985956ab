"""Typed flow inputs, as Kestra declares them: checking declarations, resolving values.

A flow's `inputs:` is a list of declarations (`id`, `type`, `required`, `defaults`,
`dependsOn`, and per-type validators such as `min`, `validator` or `values`).

- `declaration_problems()` checks the declarations when a flow is saved, each problem
  pointing at the offending key so the caller can add its line and column.
- `resolve_inputs()` turns what the CLI (`--input name=value` strings) or the API (JSON
  values) provided into typed values for an execution, reporting every bad input at once.
- `coerce_input()` does the same for a single input.
"""

from __future__ import annotations

from typing import Any

from tercel.errors import Problem

from ._declarations import compile_inputs
from ._kinds import INPUT_TYPES, OnSecret, StoreFile
from ._resolve import InputsError, Render, coerce_input, resolve_inputs

__all__ = [
    "INPUT_TYPES",
    "InputsError",
    "OnSecret",
    "Render",
    "StoreFile",
    "coerce_input",
    "declaration_problems",
    "resolve_inputs",
]


def declaration_problems(
    inputs: Any, *, path_prefix: tuple[str | int, ...] = ("inputs",)
) -> list[Problem]:
    """Every static problem in a flow's `inputs:` (plain values parsed from YAML).

    Paths start with `path_prefix` and end at the offending key, e.g.
    `("inputs", 2, "validator")`; a missing key is reported at its declaration.
    """
    return compile_inputs(inputs, path_prefix).problems
