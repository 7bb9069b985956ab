"""The pluggy marker plugins use to implement tercel's hooks (specs live in `tercel.plugins`)."""

from __future__ import annotations

import pluggy

__all__ = ["PROJECT_NAME", "hookimpl"]

PROJECT_NAME = "tercel"
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Decorate the functions of your plugin module: `@hookimpl def tercel_task_types(): ...`."""
