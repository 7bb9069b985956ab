"""The `namespace` property several core types share (KV, namespace files)."""

from __future__ import annotations

import re

from tercel_sdk import Property, RunContext, TaskFailed

__all__ = ["target_namespace"]

_NAMESPACE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_-]*(\.[a-zA-Z0-9][a-zA-Z0-9_-]*)*")


def target_namespace(ctx: RunContext, prop: Property[str] | None) -> str:
    """The rendered `namespace` property, or the flow's namespace (Kestra's `{{ flow.namespace }}`)
    when it is not set or renders empty; a malformed one fails the task, saying why."""
    if prop is None:
        return ctx.namespace
    rendered = (ctx.render(prop) or "").strip()
    if not rendered:
        return ctx.namespace
    if not _NAMESPACE.fullmatch(rendered):
        raise TaskFailed(
            f"`namespace`: invalid namespace {rendered!r}: use dot-separated parts of letters, digits, '_' and '-'"
        )
    return rendered
