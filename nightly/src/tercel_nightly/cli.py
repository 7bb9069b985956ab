"""`tercel nightly …`."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `tercel nightly` to the CLI (entry point `tercel.cli`)."""
    subparsers.add_parser("nightly", help="run every plugin version's tests and post the results to the registry")
