"""The root of tercel's exception tree and the `Problem` every user-facing error carries.

Every error a user can cause (a broken flow, a bad input, a failing expression) is a
`TercelError`. Errors that can hold several problems at once (validation) carry a list of
`Problem`s, each naming *what* is wrong and *where* (file, line, column, path in the document),
so the CLI and the API can report all of them at once instead of stopping at the first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["Position", "Problem", "ProblemsError", "TercelError", "format_path"]


@dataclass(frozen=True, slots=True)
class Position:
    """A place in a source document; `line` and `column` are 1-based like editors show them."""

    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.line}:{self.column}"


def format_path(path: Sequence[str | int]) -> str:
    """Render a document path the way users write it: ``tasks[2].message``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a user's input, with enough context to find and fix it."""

    message: str
    path: tuple[str | int, ...] = ()
    position: Position | None = None
    source: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = []
        if self.source:
            where.append(self.source)
        if self.position:
            where.append(str(self.position))
        prefix = ":".join(where)
        text = f"{format_path(self.path)}: {self.message}" if self.path else self.message
        if self.hint:
            text += f" ({self.hint})"
        return f"{prefix}: {text}" if prefix else text

    def to_dict(self) -> dict[str, object]:
        """The JSON shape used by `--json` outputs and the API."""
        return {
            "message": self.message,
            "path": format_path(self.path),
            "line": self.position.line if self.position else None,
            "column": self.position.column if self.position else None,
            "source": self.source,
            "hint": self.hint,
        }


class TercelError(Exception):
    """Base class of every error tercel raises on purpose. Catch this to catch them all."""


@dataclass(eq=False)
class ProblemsError(TercelError):
    """An error made of one or more `Problem`s, all reported together."""

    problems: list[Problem] = field(default_factory=list)
    summary: str = "invalid input"

    def __init__(self, problems: Iterable[Problem], summary: str | None = None) -> None:
        self.problems = list(problems)
        if summary is not None:
            self.summary = summary
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = [f"{self.summary} ({len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}):"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)
