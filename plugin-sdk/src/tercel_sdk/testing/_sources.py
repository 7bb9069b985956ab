"""How a test names a flow and what it seeds: a flow given as YAML text or as a file path
(`FlowSource`), KV entries and namespace files by namespace (`Seeds`), and the error a flow
that does not load raises, saying which flow it was.

Shared by the sandbox (which deploys flows) and `validate` (which only checks them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["FlowSource", "Seeds", "explained", "flow_text"]

FlowSource = str | Path
"""A flow: its YAML text, or the path of a `.yaml`/`.yml` file."""
Seeds = Mapping[str, Mapping[str, Any]]
"""What to put in place before a run, by namespace: `{"company.team": {"key": value}}`."""


def flow_text(flow: FlowSource) -> tuple[str, str]:
    """(YAML text, name for error messages) of a flow given as text or as a file path."""
    if isinstance(flow, Path) or ("\n" not in flow and flow.strip().endswith((".yaml", ".yml"))):
        path = Path(flow)
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except OSError as exc:
            raise FileNotFoundError(f"flow file {path} cannot be read: {exc.strerror}") from None
    found = re.search(r"^id:\s*['\"]?([\w.-]+)", flow, re.MULTILINE)
    return flow, f"<flow {found.group(1)}>" if found else "<flow>"


def explained(exc: Exception, name: str, plugins: Any) -> Exception:
    """A flow that does not load: the same error, saying which flow, plus broken plugins."""
    problems = getattr(exc, "problems", None)
    if problems is None:
        return exc
    summary = f"{name} cannot be loaded: {exc.summary}"  # type: ignore[attr-defined]
    broken = [p for p in getattr(plugins, "problems", ()) if "unusable" in p or "failed to load" in p]
    if broken:
        summary += " (plugins with problems: " + "; ".join(broken) + ")"
    return type(exc)(problems, summary=summary)
