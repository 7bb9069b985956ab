"""Where tercel keeps its things and how it runs, from `TERCEL_*` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

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

    def __post_init__(self) -> None:
        self.home = Path(self.home).absolute()
        self.allowed_paths = [Path(p).expanduser().absolute() for p in self.allowed_paths]
        if self.database_url is None:
            self.database_url = os.environ.get("TERCEL_DATABASE_URL") or f"sqlite:///{self.home / 'tercel.db'}"
        if self.storage_path is None:
            env = os.environ.get("TERCEL_STORAGE_PATH")
            self.storage_path = Path(env).absolute() if env else self.home / "storage"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def tmp_dir(self) -> Path:
        return self.home / "tmp"
