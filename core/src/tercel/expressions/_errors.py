"""The errors an expression can raise; all are `TercelError`s and carry the failing template.

The engine that calls `render`/`evaluate` prefixes them with the task id and property name, so
messages here stay self-contained: *what* went wrong, then *where* in the template.
"""

from __future__ import annotations

from typing import Any

from tercel.errors import Position, TercelError

__all__ = ["ExpressionError", "ExpressionSyntaxError", "SandboxViolation", "UndefinedVariable"]

_SNIPPET_MAX = 120


def _snippet(template: str, line: int | None) -> str:
    """The part of the template worth showing: the failing line if known, truncated."""
    text = template
    lines = template.splitlines()
    if line is not None and len(lines) > 1 and 1 <= line <= len(lines):
        text = lines[line - 1].strip()
    if len(text) > _SNIPPET_MAX:
        text = text[: _SNIPPET_MAX - 1] + "…"
    return text


class ExpressionError(TercelError):
    """An expression could not be rendered. `message` says why, `template`/`position` say where."""

    def __init__(
        self,
        message: str,
        *,
        template: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.template = template
        self.line = line
        self.column = column

    @property
    def position(self) -> Position | None:
        """Where in the template it failed, when known (1-based line and column)."""
        if self.line is None:
            return None
        return Position(self.line, self.column or 1)

    def locate(self, template: str, line: int | None = None, column: int | None = None) -> None:
        """Attach the template (once: the innermost template, e.g. inside `render()`, wins)."""
        if self.template is None:
            self.template = template
            self.line = line
            self.column = column

    def __str__(self) -> str:
        if self.template is None:
            return self.message
        where = ""
        if self.line is not None:
            where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
            where += " of "
        return f"{self.message} ({where}`{_snippet(self.template, self.line)}`)"

    def __reduce__(self) -> tuple[Any, ...]:
        """Keep the location when the error crosses a process boundary (distributed workers)."""
        return (
            _rebuild,
            (type(self), self.message, self.template, self.line, self.column),
        )


def _rebuild(
    cls: type[ExpressionError],
    message: str,
    template: str | None,
    line: int | None,
    column: int | None,
) -> ExpressionError:
    return cls(message, template=template, line=line, column=column)


class UndefinedVariable(ExpressionError):
    """A variable or attribute the template uses does not exist (Kestra's strict mode)."""


class SandboxViolation(ExpressionError):
    """The template tried to reach Python internals or to exhaust the machine."""


class ExpressionSyntaxError(ExpressionError):
    """The template is not valid expression syntax."""
