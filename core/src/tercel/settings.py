"""Where tercel keeps its things and how it runs, from `TERCEL_*` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Settings"]


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def _paths(name: str) -> list[Path]:
    raw = os.environ.get(name) or ""
    return [Path(part).expanduser().absolute() for part in raw.split(os.pathsep) if part.strip()]


def _access(name: str) -> dict[str, list[str]]:
    raw = os.environ.get(name) or ""
    rules: dict[str, list[str]] = {}
    for part in raw.split(";"):
        if not part.strip():
            continue
        target, sep, readers = part.partition("=")
        if not sep or not target.strip() or not readers.strip():
            raise ValueError(f"{name}: {part.strip()!r} must be written target=namespace,namespace (or target=*)")
        rules.setdefault(target.strip(), []).extend(r.strip() for r in readers.split(",") if r.strip())
    return rules


def _namespace_versions(text: str | None) -> dict[str, dict[str, str]]:
    from tercel.plugins._manager import parse_namespace_versions

    return parse_namespace_versions(text)


def _within(namespace: str, parent: str) -> bool:
    return namespace == parent or namespace.startswith(parent + ".")


@dataclass
class Settings:
    """Runtime settings; every field has a `TERCEL_<NAME>` environment variable."""

    home: Path = field(default_factory=lambda: Path(os.environ.get("TERCEL_HOME", ".tercel")).absolute())
    database_url: str | None = None
    storage_path: Path | None = None
    worker_concurrency: int = field(default_factory=lambda: _int("TERCEL_WORKER_CONCURRENCY", 64))
    worker_threads: int = field(default_factory=lambda: _int("TERCEL_WORKER_THREADS", 8))
    allowed_paths: list[Path] = field(default_factory=lambda: _paths("TERCEL_ALLOWED_PATHS"))
    """Folders of this machine that flows may reach (the `FileWatch` trigger); none by default,
    so a flow author cannot make the server read its files."""
    namespace_access: dict[str, list[str]] = field(default_factory=lambda: _access("TERCEL_NAMESPACE_ACCESS"))
    """Beyond its own namespace and its children, which namespaces' KV and files a flow may use:
    target namespace → the namespaces whose flows may (each with its children; `*`: all).
    `TERCEL_NAMESPACE_ACCESS="company.shared=*;company.finance=company.reports,ops"`."""
    plugin_version_default: str = field(
        default_factory=lambda: os.environ.get("TERCEL_PLUGINS_VERSION_DEFAULT", "latest").strip() or "latest"
    )
    """The version a task without a `version:` pin uses: `latest`, `oldest`, or `none` (every
    task must pin; the core's own plugin excepted)."""
    plugin_namespace_versions: dict[str, dict[str, str]] = field(
        default_factory=lambda: _namespace_versions(os.environ.get("TERCEL_PLUGINS_NAMESPACE_VERSIONS"))
    )
    """Per namespace (and its children), the version request for a type, a distribution or `*`
    when a task does not pin: `{"team.a": {"tercel-plugin-x": "~=1.2"}}` (JSON in the variable)."""
    plugin_hosts: int = field(default_factory=lambda: _int("TERCEL_PLUGIN_HOSTS", 8))
    """At most this many plugin-host processes (tasks of versions in environments of their own)."""
    plugin_host_idle: float = field(default_factory=lambda: float(os.environ.get("TERCEL_PLUGIN_HOST_IDLE", "300")))
    """Seconds after which an idle plugin host stops."""

    def __post_init__(self) -> None:
        self.home = Path(self.home).absolute()
        self.allowed_paths = [Path(p).expanduser().absolute() for p in self.allowed_paths]
        if self.database_url is None:
            self.database_url = os.environ.get("TERCEL_DATABASE_URL") or f"sqlite:///{self.home / 'tercel.db'}"
        if self.storage_path is None:
            env = os.environ.get("TERCEL_STORAGE_PATH")
            self.storage_path = Path(env).absolute() if env else self.home / "storage"

    def may_access(self, namespace: str, target: str) -> bool:
        """Whether the flows of `namespace` may use the KV and files of `target`: their own
        namespace and its children, and what `namespace_access` allows."""
        if _within(target, namespace):
            return True
        for shared, readers in self.namespace_access.items():
            if _within(target, shared) and any(r == "*" or _within(namespace, r) for r in readers):
                return True
        return False

    @property
    def plugins_dir(self) -> Path:
        """Where each installed plugin version has its own environment."""
        return self.home / "plugins"

    def plugin_manager(self) -> Any:
        """A plugin manager following these settings (discovery is lazy)."""
        from tercel.plugins import PluginManager

        return PluginManager(
            cache_dir=self.cache_dir,
            environments=self.plugins_dir,
            version_default=self.plugin_version_default,
            namespace_versions=self.plugin_namespace_versions,
        )

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def tmp_dir(self) -> Path:
        return self.home / "tmp"
