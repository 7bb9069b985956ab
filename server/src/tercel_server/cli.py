"""`tercel server …`: registered in the core CLI through the `tercel.cli` entry point."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    server = subparsers.add_parser("server", help="run the orchestration server (REST API, executor, worker)")
    sub = server.add_subparsers(dest="server_command", metavar="MODE", required=True)
    local = sub.add_parser("local", help="one process, embedded default (SQLite + local storage in TERCEL_HOME), examples loaded")
    standalone = sub.add_parser("standalone", help="one process, configured (--config FILE, TERCEL_* variables)")
    standalone.add_argument("--config", type=Path, help="a YAML configuration file")
    for p in (local, standalone):
        p.add_argument("--port", type=int, help="API port (default 8080)")
        p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
        p.add_argument("--flows-dir", type=Path, help="load the flows of this folder")
        p.add_argument("--watch", action="store_true", help="keep the flows of --flows-dir in sync with the folder")
    server.set_defaults(handler=_run)


def _run(args: Any) -> int:
    import uvicorn

    from ._app import create_app
    from ._config import ServerConfig

    config = ServerConfig.load(
        getattr(args, "config", None), port=args.port, host=args.host, flows_dir=args.flows_dir, watch=args.watch or None,
        examples=True if args.server_command == "local" else None,
    )
    app = create_app(config)
    print(f"tercel server ({args.server_command}) on http://{config.host}:{config.port}/api/v1 (home {config.home})", flush=True)
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning", lifespan="on")
    return 0
