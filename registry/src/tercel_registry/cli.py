"""`tercel registry …`: serve the registry, manage its tokens, import the official plugins."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `tercel registry` to the CLI (entry point `tercel.cli`)."""
    subparsers.add_parser("registry", help="the plugin registry: serve it, manage its tokens, import plugins")
