"""The options of a nightly run, checked once, the same for the CLI and the task type.

Both front ends hand raw values to `Options.build`, which applies the environment's defaults
(`TERCEL_REGISTRY_URL`, `TERCEL_REGISTRY_TOKEN`) and says exactly which value is wrong, so a
flow and a command line fail the same way.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from .errors import OptionError

__all__ = ["DEFAULT_MEMORY_MB", "DEFAULT_TIMEOUT", "Options", "VersionChoice", "parse_night", "parse_versions"]

DEFAULT_TIMEOUT = 900.0
DEFAULT_MEMORY_MB = 2048
#: `latest`, `all`, or the N newest versions (not yanked) of each plugin.
VersionChoice = Literal["latest", "all"] | int


def parse_versions(value: str | int) -> VersionChoice:
    """`latest`, `all` or a positive count, from an option or a property."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = str(value).strip().lower()
        if text in ("latest", "all"):
            return text  # type: ignore[return-value]
        try:
            number = int(text)
        except ValueError:
            raise OptionError(f"versions: expected latest, all or a number of versions, got {value!r}") from None
    if number < 1:
        raise OptionError(f"versions: the number of newest versions must be at least 1, got {number}")
    return number


def parse_night(value: str | date | None) -> str:
    """The night as `YYYY-MM-DD` (today in UTC when not given)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return datetime.now(UTC).date().isoformat()
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise OptionError(f"night: expected a date like 2024-05-01, got {value!r}") from None


def default_work_dir() -> Path:
    """`$TERCEL_HOME/nightly` (tercel's home defaults to `.tercel` in the current folder)."""
    return Path(os.environ.get("TERCEL_HOME", ".tercel")).absolute() / "nightly"


def _positive(name: str, value: Any, kind: type) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise OptionError(f"{name}: expected a number, got {value!r}") from None
    if number <= 0:
        raise OptionError(f"{name}: must be more than 0, got {value!r}")
    return number


@dataclass(frozen=True)
class Options:
    """A checked set of options (`token` is never printed nor posted)."""

    registry: str
    token: str
    night: str
    plugins: tuple[str, ...] = ()
    versions: VersionChoice = "latest"
    jobs: int = 1
    timeout: float = DEFAULT_TIMEOUT
    memory: int = DEFAULT_MEMORY_MB
    matrix: bool = False
    sdk_wheels: Path | None = None
    work_dir: Path = Path(".tercel/nightly")

    @classmethod
    def build(
        cls, *, registry: str | None = None, token: str | None = None, night: str | date | None = None,
        plugins: Sequence[str] | None = None, versions: str | int = "latest", jobs: Any = 1,
        timeout: Any = DEFAULT_TIMEOUT, memory: Any = DEFAULT_MEMORY_MB, matrix: bool = False,
        sdk_wheels: Path | str | None = None, work_dir: Path | str | None = None,
    ) -> Options:
        registry = (registry or os.environ.get("TERCEL_REGISTRY_URL") or "").strip().rstrip("/")
        if not registry:
            raise OptionError("registry: no registry URL (give --registry or set TERCEL_REGISTRY_URL)")
        if not registry.startswith(("http://", "https://")):
            raise OptionError(f"registry: expected an http(s) URL, got {registry!r}")
        token = (token or os.environ.get("TERCEL_REGISTRY_TOKEN") or "").strip()
        if not token:
            raise OptionError(
                "token: no registry token (give --token or set TERCEL_REGISTRY_TOKEN; it needs the scope 'nightly')"
            )
        wheels = Path(sdk_wheels).absolute() if sdk_wheels else None
        if wheels is not None and not wheels.is_dir():
            raise OptionError(f"sdk-wheels: {wheels} is not a folder")
        return cls(
            registry=registry, token=token, night=parse_night(night),
            plugins=tuple(dict.fromkeys(p.strip() for p in plugins or () if p.strip())),
            versions=parse_versions(versions), jobs=_positive("jobs", jobs, int),
            timeout=_positive("timeout", timeout, float), memory=_positive("memory", memory, int),
            matrix=bool(matrix), sdk_wheels=wheels,
            work_dir=Path(work_dir).absolute() if work_dir else default_work_dir(),
        )

    def to_json(self) -> dict[str, Any]:
        """The options as the run's record keeps them (no token, no local paths)."""
        return {
            "plugins": list(self.plugins) or None, "versions": self.versions, "jobs": self.jobs,
            "timeout": self.timeout, "memory": self.memory, "matrix": self.matrix,
        }
