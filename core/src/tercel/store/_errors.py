"""Errors raised by the store; all are `TercelError`s so callers can catch them together."""

from __future__ import annotations

from tercel.errors import TercelError

__all__ = ["ConcurrentModification", "SchemaVersionError", "StoreError", "describe"]


class StoreError(TercelError):
    """The database refused or failed an operation (the driver's error is the ``__cause__``)."""


class ConcurrentModification(StoreError):
    """Someone else saved the execution since it was read: reload it and apply the event again."""

    def __init__(self, execution_id: str, expected: int, actual: int | None) -> None:
        self.execution_id = execution_id
        self.expected = expected
        self.actual = actual
        found = "it no longer exists" if actual is None else f"it is at version {actual}"
        super().__init__(
            f"execution {execution_id!r} was modified concurrently: "
            f"expected version {expected}, but {found}"
        )


class SchemaVersionError(StoreError):
    """The database was created by a newer tercel; opening it could corrupt it."""


def describe(e: BaseException) -> str:
    """The driver's message without the (possibly huge) statement and parameters that
    SQLAlchemy's errors add."""
    orig = getattr(e, "orig", None)
    if orig is not None:
        return f"{type(orig).__name__}: {str(orig).strip()}"
    return f"{type(e).__name__}: {e}"
