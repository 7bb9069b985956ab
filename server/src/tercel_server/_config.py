"""Server configuration: defaults, then a YAML file, then `TERCEL_*` environment variables, then
command-line options (each one overrides the previous)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tercel.errors import TercelError

__all__ = ["ConfigError", "ServerConfig"]


class ConfigError(TercelError):
    """The configuration file or an environment variable is wrong; the message says which."""


def _size(text: str | int, what: str) -> int:
    if isinstance(text, int):
        return text
    units = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}
    value = str(text).strip().upper()
    number = value.rstrip("KMGB")
    unit = value[len(number):]
    try:
        return int(float(number) * units[unit])
    except (KeyError, ValueError):
        raise ConfigError(f"{what}: {text!r} is not a size (like 10MB)") from None


@dataclass
class ServerConfig:
    """Everything `tercel server` can be told; see the README for the file format."""

    home: Path = field(default_factory=lambda: Path(os.environ.get("TERCEL_HOME", ".tercel")).absolute())
    database_url: str | None = None
    storage_path: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    worker_concurrency: int = 64
    flows_dir: Path | None = None
    watch: bool = False
    examples: bool = False
    """Load the repository's example flows at start (`tercel server local`)."""
    scheduler: bool = True
    """Run the scheduler (Schedule, polling and realtime triggers) in this process."""
    executor: bool = True
    """Run the executor (advances executions) in this process."""
    worker: bool = True
    """Run a worker (runs task runs) in this process."""
    allowed_paths: list[Path] = field(default_factory=list)
    """Folders of this machine flows may read (the FileWatch trigger); adds to TERCEL_ALLOWED_PATHS."""
    namespace_access: dict[str, list[str]] = field(default_factory=dict)
    """Namespaces whose KV and files other namespaces' flows may use: target → readers (`*`: all);
    adds to TERCEL_NAMESPACE_ACCESS."""
    plugin_version_default: str | None = None
    """The version a task without a `version:` pin uses: latest, oldest or none (every task
    pins); overrides TERCEL_PLUGINS_VERSION_DEFAULT."""
    plugin_namespace_versions: dict[str, dict[str, str]] = field(default_factory=dict)
    """Per namespace: type, distribution or `*` → the version used without a pin; adds to
    TERCEL_PLUGINS_NAMESPACE_VERSIONS."""
    with_registry: bool = False
    """Also serve the plugin registry (tercel-registry) under `/registry`, from `<home>/registry`."""
    nightly_cron: str = "0 2 * * *"
    """With the registry: when the system flow `system.nightly` tests every plugin version
    (tercel-nightly); empty to schedule nothing."""
    max_body_size: int = 100 * 1024 * 1024
    """Largest request body accepted (413 above it): flows, inputs, uploaded files."""
    basic_auth_username: str | None = None
    basic_auth_password: str | None = None

    _ENV = {
        "home": "TERCEL_HOME",
        "database_url": "TERCEL_DATABASE_URL",
        "storage_path": "TERCEL_STORAGE_PATH",
        "host": "TERCEL_HOST",
        "port": "TERCEL_PORT",
        "worker_concurrency": "TERCEL_WORKER_CONCURRENCY",
        "flows_dir": "TERCEL_FLOWS_DIR",
        "scheduler": "TERCEL_SCHEDULER",
        "max_body_size": "TERCEL_MAX_BODY_SIZE",
        "basic_auth_username": "TERCEL_BASIC_AUTH_USERNAME",
        "basic_auth_password": "TERCEL_BASIC_AUTH_PASSWORD",
    }

    @classmethod
    def load(cls, path: Path | None = None, **overrides: Any) -> ServerConfig:
        """Defaults < `path` (YAML) < environment < `overrides` (command-line options)."""
        values: dict[str, Any] = {}
        if path is not None:
            values.update(cls._from_file(path))
        for name, env in cls._ENV.items():
            if os.environ.get(env):
                values[name] = os.environ[env]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls._build(values, str(path) if path else "configuration")

    @classmethod
    def _from_file(cls, path: Path) -> dict[str, Any]:
        from ruamel.yaml import YAML, YAMLError

        try:
            data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the configuration: {exc.strerror}") from None
        except YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the configuration must be a mapping of settings")
        out: dict[str, Any] = {}
        aliases = {"database": "database_url", "storage": "storage_path", "flowsDir": "flows_dir",
                   "maxBodySize": "max_body_size", "workerConcurrency": "worker_concurrency", "databaseUrl": "database_url",
                   "storagePath": "storage_path", "allowedPaths": "allowed_paths",
                   "namespaceAccess": "namespace_access", "pluginVersionDefault": "plugin_version_default",
                   "pluginNamespaceVersions": "plugin_namespace_versions", "withRegistry": "with_registry",
                   "nightlyCron": "nightly_cron"}
        for key, value in data.items():
            if key == "auth" and isinstance(value, dict):
                basic = value.get("basic") or value
                out["basic_auth_username"] = basic.get("username")
                out["basic_auth_password"] = basic.get("password")
                continue
            name = aliases.get(key, key)
            if name not in {f.name for f in fields(cls)}:
                known = sorted({*aliases, *(f.name for f in fields(cls))} - {"basic_auth_username", "basic_auth_password"})
                raise ConfigError(f"{path}: unknown setting {key!r} (known: {', '.join(known)}, auth)")
            out[name] = value
        return out

    @classmethod
    def _build(cls, values: dict[str, Any], where: str) -> ServerConfig:
        config = cls()
        for name, value in values.items():
            if value is None:
                continue
            current = getattr(config, name)
            try:
                if name in ("home", "storage_path", "flows_dir"):
                    value = Path(value).expanduser().absolute()
                elif name == "namespace_access":
                    if not isinstance(value, dict) or not all(isinstance(v, list | str) for v in value.values()):
                        raise ValueError(value)
                    value = {str(k): [str(r) for r in ([v] if isinstance(v, str) else v)] for k, v in value.items()}
                elif name == "plugin_namespace_versions":
                    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                        raise ValueError(value)
                    value = {str(ns): {str(k): str(v) for k, v in rules.items()} for ns, rules in value.items()}
                elif name == "plugin_version_default":
                    if str(value) not in ("latest", "oldest", "none"):
                        raise ValueError(value)
                    value = str(value)
                elif name == "allowed_paths":
                    items = value if isinstance(value, list) else str(value).split(os.pathsep)
                    value = [Path(str(v)).expanduser().absolute() for v in items if str(v).strip()]
                elif name in ("port", "worker_concurrency"):
                    value = int(value)
                elif name == "max_body_size":
                    value = _size(value, f"{where}: max_body_size")
                elif name in ("watch", "examples", "scheduler", "executor", "worker", "with_registry"):
                    value = value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
                elif current is None or isinstance(current, str):
                    value = str(value)
            except (TypeError, ValueError):
                raise ConfigError(f"{where}: {name} = {value!r} is not valid") from None
            setattr(config, name, value)
        if not 0 < config.port < 65536:
            raise ConfigError(f"{where}: port {config.port} is not a TCP port")
        if (config.basic_auth_username is None) != (config.basic_auth_password is None):
            raise ConfigError(f"{where}: give both the basic auth username and password, or neither")
        return config

    def settings(self) -> Any:
        """The core runtime's settings for this server."""
        from tercel.settings import Settings

        settings = Settings(
            home=self.home, database_url=self.database_url, storage_path=self.storage_path,
            worker_concurrency=self.worker_concurrency,
        )
        settings.allowed_paths = [*settings.allowed_paths, *self.allowed_paths]
        for target, readers in self.namespace_access.items():
            settings.namespace_access.setdefault(target, []).extend(readers)
        if self.plugin_version_default is not None:
            settings.plugin_version_default = self.plugin_version_default
        for namespace, rules in self.plugin_namespace_versions.items():
            settings.plugin_namespace_versions.setdefault(namespace, {}).update(rules)
        return settings
