"""Flows whose saved plugin lock can no longer be met (DESIGN §6).

A saved revision runs the plugin versions it was resolved to. Uninstalling one of them breaks
the revision: its next execution would fail. These are listed after an uninstall (CLI and API),
so the owner can reinstall the version or save the flow again to resolve a new lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from tercel.plugins import PluginManager

__all__ = ["BrokenLock", "broken_locks"]


class _Revision(Protocol):
    namespace: str
    flow_id: str
    revision: int
    lock: dict[str, Any]


@dataclass(frozen=True)
class BrokenLock:
    """One type of one flow revision locked to a version that is not installed."""

    namespace: str
    flow_id: str
    revision: int
    type: str
    distribution: str
    version: str
    #: the task ids locked to that version (empty: every task of the type without its own)
    tasks: tuple[str, ...] = ()

    def __str__(self) -> str:
        which = f" (tasks {', '.join(self.tasks)})" if self.tasks else ""
        return (
            f"{self.namespace}.{self.flow_id} revision {self.revision}: {self.type}{which} is locked to "
            f"{self.distribution} {self.version}, which is not installed"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "flowId": self.flow_id,
            "revision": self.revision,
            "type": self.type,
            "distribution": self.distribution,
            "version": self.version,
            "tasks": list(self.tasks),
        }


def broken_locks(revisions: Iterable[_Revision], plugins: PluginManager) -> list[BrokenLock]:
    """Every (revision, type, version) whose locked version is not installed now."""
    plugins.refresh_environments(force=True)
    installed: dict[str, set[tuple[str, str]]] = {}
    for info in plugins.installed_versions():
        if info.error:
            continue
        for entry in (info.manifest or {}).get("types", ()):
            installed.setdefault(entry["type"], set()).add((info.distribution, info.version))
    found: list[BrokenLock] = []
    for record in revisions:
        for type_name, entry in sorted((record.lock or {}).items()):
            if not isinstance(entry, Mapping) or "version" not in entry:
                continue
            dist = str(entry.get("distribution"))
            have = installed.get(type_name, set())
            by_version: dict[str, list[str]] = {}
            for task_id, version in (entry.get("tasks") or {}).items():
                by_version.setdefault(str(version), []).append(str(task_id))
            base = str(entry["version"])
            for version in dict.fromkeys([base, *by_version]):
                if (dist, version) in have:
                    continue
                tasks = tuple(sorted(by_version.get(version, ()))) if version != base else ()
                found.append(BrokenLock(record.namespace, record.flow_id, record.revision, type_name, dist, version, tasks))
    return found
