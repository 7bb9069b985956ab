"""The processes of a cluster that serve no HTTP: `tercel server executor|worker|scheduler`.

Each runs the same runtime as `tercel server local`, with only its part switched on, over the
database and internal storage of its configuration (PostgreSQL and a shared folder for a real
cluster: jobs are claimed with `FOR UPDATE SKIP LOCKED`, wake-ups cross processes with
`LISTEN/NOTIFY`, a dead worker's task runs come back when their lease ends):

- executor: advances executions;
- worker: runs task runs and polling triggers' checks (any number of them, on any number of
  machines);
- scheduler: fires Schedule triggers, queues polling checks, runs realtime listeners.

Each also runs a scheduler without its loop (`Scheduler(schedules=False)`): it takes the states
executions reached from the queue for the Flow triggers, and runs the checks a worker claims.

`tercel server webserver` is the API alone (`_app.create_app` with the three switched off).
SIGINT or SIGTERM stops a process gracefully: running task runs are handed back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from tercel.runtime import Runtime
from tercel.scheduler import Scheduler

from ._config import ServerConfig

__all__ = ["ROLES", "run_role"]

log = logging.getLogger("tercel.server")

#: What each headless role switches on: (executor, worker, scheduler loop).
ROLES: dict[str, tuple[bool, bool, bool]] = {
    "executor": (True, False, False),
    "worker": (False, True, False),
    "scheduler": (False, False, True),
}


async def run_role(role: str, config: ServerConfig, *, ready: asyncio.Event | None = None, stop: asyncio.Event | None = None) -> None:
    """Run `role` until SIGINT/SIGTERM (or `stop` is set), then stop it gracefully."""
    executor, worker, schedules = ROLES[role]
    runtime = Runtime(config.settings(), run_executor=executor, run_worker=worker)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows, not off the main thread
            loop.add_signal_handler(sig, stop.set)
    await runtime.start()
    scheduler = Scheduler(runtime, schedules=schedules)
    try:
        await scheduler.start()
        print(f"tercel server ({role}) running over {_redacted(str(runtime.settings.database_url))} (home {config.home})", flush=True)
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("tercel server (%s) stopping", role)
    finally:
        await scheduler.stop()
        await runtime.stop()


def _redacted(url: str) -> str:
    """A database URL without its password, for the start-up line."""
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)
