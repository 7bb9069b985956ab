"""Registry configuration: defaults, then a YAML file, then `TERCEL_REGISTRY_*` environment
variables, then command-line options (each one overrides the previous), like `tercel server`'s."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ._errors import ConfigError

__all__ = ["RegistryConfig"]


def _default_home() -> Path:
    return (Path(os.environ.get("TERCEL_HOME", ".tercel")) / "registry").absolute()


def _size(text: str | int, what: str) -> int:
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    units = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}
    value = str(text).strip().upper()
    number = value.rstrip("KMGB")
    try:
        return int(float(number) * units[value[len(number):]])
    except (KeyError, ValueError):
        raise ConfigError(f"{what}: {text!r} is not a size (like 100MB)") from None


@dataclass
class RegistryConfig:
    """Everything `tercel registry serve` can be told; see the README for the file format."""

    home: Path = field(default_factory=_default_home)
    """Where the registry keeps its database (by default) and files: `$TERCEL_HOME/registry`."""
    database_url: str | None = None
    """`sqlite:///…` or `postgresql+psycopg://…`; default: SQLite `<home>/registry.db`."""
    files_path: Path | None = None
    """Where the uploaded files are kept; default `<home>/files`."""
    host: str = "127.0.0.1"
    port: int = 8090
    max_upload_size: int = 100 * 1024 * 1024
    """The largest file accepted by an upload (larger: 413)."""
    public_url: str | None = None
    """The registry's URL as clients reach it (behind a proxy): file links become absolute URLs
    under it. Without it, the index's links are relative (they work under any prefix)."""

    _ENV = {
        "home": "TERCEL_REGISTRY_HOME",
        "database_url": "TERCEL_REGISTRY_DATABASE_URL",
        "files_path": "TERCEL_REGISTRY_FILES_PATH",
        "host": "TERCEL_REGISTRY_HOST",
        "port": "TERCEL_REGISTRY_PORT",
        "max_upload_size": "TERCEL_REGISTRY_MAX_UPLOAD_SIZE",
        "public_url": "TERCEL_REGISTRY_PUBLIC_URL",
    }
    _ALIASES = {
        "database": "database_url", "databaseUrl": "database_url", "files": "files_path",
        "filesPath": "files_path", "maxUploadSize": "max_upload_size", "publicUrl": "public_url",
    }

    @property
    def database(self) -> str:
        """The database URL in effect."""
        return self.database_url or f"sqlite:///{self.home / 'registry.db'}"

    @property
    def files(self) -> Path:
        """The files folder in effect."""
        return self.files_path or self.home / "files"

    @classmethod
    def load(cls, path: Path | None = None, **overrides: Any) -> RegistryConfig:
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
        if isinstance(data.get("registry"), dict):  # a shared file with a `registry:` section
            data = data["registry"]
        known = {f.name for f in fields(cls)}
        out: dict[str, Any] = {}
        for key, value in data.items():
            name = cls._ALIASES.get(key, key)
            if name not in known:
                raise ConfigError(f"{path}: unknown setting {key!r} (known: {', '.join(sorted(known))})")
            out[name] = value
        return out

    @classmethod
    def _build(cls, values: dict[str, Any], where: str) -> RegistryConfig:
        config = cls()
        for name, value in values.items():
            if value is None:
                continue
            try:
                if name in ("home", "files_path"):
                    value = Path(str(value)).expanduser().absolute()
                elif name == "port":
                    value = int(value)
                elif name == "max_upload_size":
                    value = _size(value, f"{where}: max_upload_size")
                else:
                    value = str(value)
            except (TypeError, ValueError):
                raise ConfigError(f"{where}: {name} = {value!r} is not valid") from None
            setattr(config, name, value)
        if not 0 < config.port < 65536:
            raise ConfigError(f"{where}: port {config.port} is not a TCP port")
        if config.max_upload_size <= 0:
            raise ConfigError(f"{where}: max_upload_size must be positive")
        if config.public_url is not None:
            parts = urlsplit(config.public_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ConfigError(f"{where}: public_url {config.public_url!r} is not an http(s) URL")
            config.public_url = config.public_url.rstrip("/")
        return config
