"""The registry as a Litestar application, or as routes mounted inside another one.

`create_registry_app(config)` is the standalone registry (`tercel registry serve`).
`RegistryMount(config, path="/registry")` is the same routes under a prefix of another app (what
`tercel server local --with-registry` mounts): add its `router` to the app's route handlers, its
`lifespan` to the app's lifespans (it opens the database and closes it), and `auth_exclude` to
the app's authentication exclusions (the registry reads its own tokens; its index and catalog
are public).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar, Router
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from ._config import RegistryConfig
from ._errors import RegistryError, exception_handlers
from ._registry import Registry
from ._urls import Urls
from .controllers import (
    BadgesController,
    CatalogController,
    FilesController,
    NightlyController,
    PagesController,
    SimpleController,
    UploadController,
)

__all__ = ["RegistryMount", "create_registry_app"]

log = logging.getLogger("tercel.registry")

#: What a multipart upload adds around the file (the form's other fields, boundaries).
_FORM_SLACK = 1024 * 1024


class RegistryMount:
    """The registry's routes under `path`, and the lifespan that opens and closes its registry."""

    def __init__(self, config: RegistryConfig, path: str = "/registry") -> None:
        self.config = config
        clean = path.strip("/")
        self.path = f"/{clean}" if clean else "/"
        self.prefix = f"/{clean}" if clean else ""
        self.urls = Urls(self.prefix, config.public_url)
        #: A regex of the paths the host app's authentication must leave to the registry.
        self.auth_exclude = f"^{re.escape(self.prefix)}(/|$)"
        self._registry: Registry | None = None
        urls = self.urls

        # closures, not bound methods: Litestar deep-copies a router's dependencies, and a copy of
        # a bound method would be bound to a copy of this mount (whose registry never opens)
        def provide_registry() -> Registry:
            return self.registry

        def provide_urls() -> Urls:
            return urls

        self.router = Router(
            self.path,
            route_handlers=[
                SimpleController, FilesController, UploadController, CatalogController, NightlyController,
                BadgesController, PagesController,
            ],
            dependencies={
                "registry": Provide(provide_registry, sync_to_thread=False),
                "urls": Provide(provide_urls, sync_to_thread=False),
            },
            exception_handlers=exception_handlers,
            request_max_body_size=config.max_upload_size + _FORM_SLACK,
        )

    @property
    def registry(self) -> Registry:
        """The open registry (between the lifespan's start and end)."""
        if self._registry is None:
            raise RegistryError("the registry is not open: its lifespan has not started (or has ended)")
        return self._registry

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Litestar) -> AsyncIterator[None]:
        """Open the registry (creating its tables if needed) for the app's lifetime."""
        registry = await asyncio.to_thread(lambda: Registry(self.config).open())
        self._registry = registry
        log.info("registry at %s: database %s, files %s", self.path, registry.store.display_url, self.config.files)
        try:
            yield
        finally:
            self._registry = None
            await asyncio.to_thread(registry.close)


@contextlib.asynccontextmanager
async def _frozen_heap(_app: Litestar) -> AsyncIterator[None]:
    """Move what exists once started (the app, the engine, imported modules) out of the garbage
    collector's reach. A broad search allocates thousands of objects, which triggers full
    collections; over the whole heap of a started server each took ~35 ms and made the p95 of
    such a search ~3x its median (bench/registry_index.py). Process-wide, so only the
    standalone app does it; a host app mounting the registry decides for itself."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def create_registry_app(config: RegistryConfig) -> Litestar:
    """The standalone registry: its routes at the root, OpenAPI at `/api/v1/openapi`."""
    mount = RegistryMount(config, path="/")
    app: Any = Litestar(
        route_handlers=[mount.router],
        lifespan=[mount.lifespan, _frozen_heap],
        exception_handlers=exception_handlers,
        openapi_config=OpenAPIConfig(title="tercel registry", version="1", path="/api/v1/openapi"),
        debug=False,
    )
    app.state.registry_mount = mount
    return app
