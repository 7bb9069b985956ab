"""The Litestar application: the runtime it serves, its controllers, auth, limits, OpenAPI."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from tercel.runtime import Runtime
from tercel.scheduler import Scheduler

from ._auth import AuthMiddleware, Credentials
from ._config import ConfigError, ServerConfig
from ._errors import exception_handlers
from ._flows_dir import FlowsFolder
from .controllers import (
    ExecutionFilesController,
    ExecutionsController,
    FlowGraphController,
    FlowsController,
    KVController,
    LogsController,
    MetricsController,
    NamespaceFilesController,
    PluginsController,
    SystemController,
    TriggersController,
    WebhooksController,
)

__all__ = ["create_app"]

log = logging.getLogger("tercel.server")

PUBLIC_PATHS = ["^/api/v1/health$", "^/api/v1/executions/webhook/[^/]+/[^/]+/[^/]+$"]


def create_app(
    config: ServerConfig, *, runtime: Runtime | None = None, clock: Callable[[], datetime] | None = None
) -> Litestar:
    """The API over a runtime (created from `config` and started with the app unless given).

    `app.state.begin_close()` (thread- and signal-safe) tells the live streams the server is
    stopping, so they end and the stop does not wait for their clients. `clock` is the
    scheduler's (tests drive it)."""
    mount = _registry_mount(config) if config.with_registry else None
    credentials = Credentials(config.home / "server" / "credentials.json")
    generated = credentials.ensure_account(config.basic_auth_username, config.basic_auth_password)
    closing = asyncio.Event()
    state: dict[str, Any] = {"runtime": runtime}

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        app.state.begin_close = lambda: loop.call_soon_threadsafe(closing.set)
        own = state["runtime"] is None
        if own:
            state["runtime"] = Runtime(config.settings(), run_worker=config.worker, run_executor=config.executor)
            await state["runtime"].start()
        rt: Runtime = state["runtime"]
        if generated is not None:
            print(
                f"\n  tercel credentials (shown only now, stored hashed in {credentials.path}):\n"
                f"    username: {credentials.username}\n    password: {generated}\n",
                flush=True,
            )
        if config.examples:
            examples = Path(__file__).resolve().parents[3] / "examples"
            if examples.is_dir():
                FlowsFolder(rt, examples).sync()
        watcher = None
        if config.flows_dir is not None:
            if not config.flows_dir.is_dir():
                raise ConfigError(f"flows folder {config.flows_dir} does not exist")
            watcher = FlowsFolder(rt, config.flows_dir)
            watcher.sync()
            if config.watch:
                watcher.start()
        if mount is not None and config.nightly_cron:
            from ._nightly import install_nightly

            host = "127.0.0.1" if config.host in ("0.0.0.0", "::", "") else config.host
            install_nightly(rt, mount.registry, cron=config.nightly_cron, registry_url=f"http://{host}:{config.port}/registry")
        # without its loop (`scheduler: false`), the scheduler still hears the executions this
        # process ends (Flow triggers, stopAfter) and serves the trigger endpoints
        scheduler = Scheduler(rt, schedules=config.scheduler, clock=clock)
        await scheduler.start()
        state["scheduler"] = scheduler
        try:
            yield
        finally:
            closing.set()
            if watcher is not None:
                await watcher.stop()
            await scheduler.stop()  # before the runtime: it closes the database
            if own:
                await rt.stop()

    def provide_runtime() -> Runtime:
        return state["runtime"]

    def provide_scheduler() -> Scheduler:
        return state["scheduler"]

    def provide_closing() -> asyncio.Event:
        return closing

    auth = type("ServerAuth", (AuthMiddleware,), {"credentials": credentials})
    handlers: list[Any] = [
        FlowsController, ExecutionsController, LogsController, SystemController,
        KVController, NamespaceFilesController, PluginsController, FlowGraphController,
        ExecutionFilesController, MetricsController, WebhooksController, TriggersController,
    ]
    lifespans: list[Any] = [lifespan]
    excluded = [*PUBLIC_PATHS, "^/api/v1/openapi"]
    if mount is not None:  # the registry's routes, with its own tokens, under /registry
        handlers.append(mount.router)
        lifespans.insert(0, mount.lifespan)  # open before the runtime's: the nightly flow needs it
        excluded.append(mount.auth_exclude)
    return Litestar(
        route_handlers=handlers,
        dependencies={
            "runtime": Provide(provide_runtime, sync_to_thread=False),
            "scheduler": Provide(provide_scheduler, sync_to_thread=False),
            "closing": Provide(provide_closing, sync_to_thread=False),
        },
        middleware=[DefineMiddleware(auth, exclude=excluded)],
        exception_handlers=exception_handlers,
        lifespan=lifespans,
        request_max_body_size=config.max_body_size,
        openapi_config=OpenAPIConfig(title="tercel", version="1", path="/api/v1/openapi"),
        debug=False,
    )


def _registry_mount(config: ServerConfig) -> Any:
    """tercel-registry mounted at `/registry`, its data in `<home>/registry` (as `tercel registry
    serve` keeps it in `$TERCEL_HOME/registry`, so either serves the same registry)."""
    try:
        from tercel_registry import RegistryConfig, RegistryMount
    except ImportError:
        raise ConfigError("--with-registry needs tercel-registry: pip install tercel-registry") from None
    import os

    home = None if os.environ.get("TERCEL_REGISTRY_HOME") else config.home / "registry"
    return RegistryMount(RegistryConfig.load(home=home), path="/registry")
