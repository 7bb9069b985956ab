"""Health (no credentials needed) and what the server runs."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency
from tercel.runtime import Runtime

__all__ = ["SystemController"]


class SystemController(Controller):
    path = "/api/v1"
    tags = ["System"]

    @get("/health", summary="Is the server up (and its database reachable)?", exclude_from_auth=True)
    async def health(self, runtime: NamedDependency[Runtime]) -> dict[str, Any]:
        database = "UP"
        try:
            runtime.db.flows.list(prefix="\0")  # one cheap query
        except Exception:
            database = "DOWN"
        return {"status": "UP" if database == "UP" else "DOWN", "components": {"database": database}}

    @get("/version", summary="Versions of tercel's distributions")
    async def version(self) -> dict[str, str]:
        from importlib import metadata

        out = {}
        for dist in ("tercel-core", "tercel-plugin-sdk", "tercel-server"):
            try:
                out[dist] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                continue
        return out
