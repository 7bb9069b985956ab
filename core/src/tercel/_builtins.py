"""The core's own extensions, registered through the same hooks as any plugin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tercel_sdk import hookimpl


@hookimpl
def tercel_secret_backends() -> dict[str, Callable[..., Any]]:
    from tercel.secrets import EnvSecretBackend

    return {"env": lambda config=None: EnvSecretBackend()}


@hookimpl
def tercel_storages() -> dict[str, Callable[..., Any]]:
    from pathlib import Path

    from tercel.storage import LocalStorage

    return {"local": lambda config: LocalStorage(Path(config["path"]))}
