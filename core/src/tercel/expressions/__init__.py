"""Kestra-style expressions for tercel: Jinja2 in a sandbox, with Kestra's vocabulary.

    engine = ExpressionEngine()
    engine.render("Hello {{ inputs.name ?? 'world' | upper }}", {"inputs": {}})  # 'Hello WORLD'
    engine.evaluate("{{ now() }}", {})  # a tz-aware datetime, not text

Semantics follow Kestra (Pebble) where it differs from plain Jinja:

- Strict variables: using an undefined variable or attribute is an `UndefinedVariable` error,
  except on the left of `??` (undefined or null -> right side) / `???` (undefined only), in
  `| default(...)` and in `is defined`. `a.b` on a map reads the key `b` first.
- Operators `??`, `???`, `cond ? a : b`, `contains`, `isIn` and the literal `null`; `??` binds
  tighter than filters, as in Pebble.
- Output text: null renders as nothing, booleans as `true`/`false`, maps and lists as JSON,
  datetimes as ISO-8601 (`Z` for UTC).
- `range(a, b)` includes `b`; `date` takes Java `DateTimeFormatter` patterns or Kestra's named
  formats (`iso`, `sql`, `iso_date_time`, ...); `jq` returns a list of results.

Execution-bound functions (`secret`, `kv`, `read`, `errorLogs`, `tasksWithState`, `fileSize`,
`fileExists`, `isFileEmpty`/`fileEmpty`, `fileURI`) are supplied by the caller *in the context*:
put a mapping from those names to plain callables under the key `CONTEXT_FUNCTIONS_KEY`
(`"__tercel_functions__"`). The template calls them with the user's arguments, e.g.
`{{ secret('TOKEN') }}` calls `context["__tercel_functions__"]["secret"]("TOKEN")`; a missing
one raises `ExpressionError("function 'secret' is not available here")`. Templates can never
read that key (names starting with `__` are refused).

`ExpressionEngine.check(template)` reports syntax problems without a context (for validating a
flow before it runs). Every failure is an `ExpressionError` (subclasses `UndefinedVariable`, `SandboxViolation`,
`ExpressionSyntaxError`) whose message names the template and, when known, the line and column.
"""

from ._engine import ExpressionEngine, is_template
from ._errors import ExpressionError, ExpressionSyntaxError, SandboxViolation, UndefinedVariable
from ._functions import CONTEXT_FUNCTIONS_KEY

__all__ = [
    "CONTEXT_FUNCTIONS_KEY",
    "ExpressionEngine",
    "ExpressionError",
    "ExpressionSyntaxError",
    "SandboxViolation",
    "UndefinedVariable",
    "is_template",
]
