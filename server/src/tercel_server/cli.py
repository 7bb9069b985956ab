"""`tercel server`, `tercel flows`, `tercel executions`: registered in the core CLI through the
`tercel.cli` entry points (only the invoked command's module is imported)."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import sys
from pathlib import Path
from typing import Any

__all__ = ["register", "register_executions", "register_flows"]

_OK_STATES = ("SUCCESS", "WARNING")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    server = subparsers.add_parser("server", help="run the orchestration server (REST API, executor, worker)")
    sub = server.add_subparsers(dest="server_command", metavar="MODE", required=True)
    local = sub.add_parser("local", help="one process, embedded default (SQLite + local storage in TERCEL_HOME), examples loaded")
    standalone = sub.add_parser("standalone", help="one process, configured (--config FILE, TERCEL_* variables)")
    webserver = sub.add_parser("webserver", help="cluster: the REST API only (no executor, worker or scheduler)")
    roles = {
        "executor": "cluster: advances executions (and fires Flow triggers)",
        "worker": "cluster: runs task runs (start as many as you need)",
        "scheduler": "cluster: fires Schedule, polling and realtime triggers",
    }
    headless = [sub.add_parser(name, help=text) for name, text in roles.items()]
    for p in (standalone, webserver, *headless):
        p.add_argument("--config", type=Path, help="a YAML configuration file")
    for p in (local, standalone, webserver):
        p.add_argument("--port", type=int, help="API port (default 8080)")
        p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
        p.add_argument("--flows-dir", type=Path, help="load the flows of this folder")
        p.add_argument("--watch", action="store_true", help="keep the flows of --flows-dir in sync with the folder")
        p.add_argument("--with-registry", action="store_true",
                       help="also serve the plugin registry (tercel-registry) under /registry, from TERCEL_HOME/registry")
    token = sub.add_parser("token", help="API tokens of the server in TERCEL_HOME (create prints the token once)")
    token.add_argument("action", choices=["create", "revoke", "list"])
    token.add_argument("name", nargs="?", help="the token's name (create, revoke)")
    server.set_defaults(handler=_server)


def _server(args: Any) -> int:
    from ._components import ROLES
    from ._config import ServerConfig

    if args.server_command == "token":
        return _token(args, ServerConfig.load())
    if args.server_command in ROLES:
        import asyncio

        from ._components import run_role

        asyncio.run(run_role(args.server_command, ServerConfig.load(args.config)))
        return 0
    import uvicorn

    from ._app import create_app

    webserver = args.server_command == "webserver"
    config = ServerConfig.load(
        getattr(args, "config", None), port=args.port, host=args.host, flows_dir=args.flows_dir, watch=args.watch or None,
        examples=True if args.server_command == "local" else None, with_registry=args.with_registry or None,
        **({"executor": False, "worker": False, "scheduler": False} if webserver else {}),
    )
    if config.watch and config.flows_dir is None:
        print("error: --watch needs --flows-dir", file=sys.stderr)
        return 2
    app = create_app(config)

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            begin_close = getattr(app.state, "begin_close", None)
            if begin_close is not None:  # live streams end now: the stop does not wait for them
                begin_close()
            super().handle_exit(sig, frame)

    print(f"tercel server ({args.server_command}) on http://{config.host}:{config.port}/api/v1 (home {config.home})", flush=True)
    # a client slow to finish its request gets 10 s before its connection is closed
    server = Server(uvicorn.Config(app, host=config.host, port=config.port, log_level="warning", lifespan="on", timeout_graceful_shutdown=10))
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn raises the SIGINT again once it stopped
        server.run()
    return 0


def _token(args: Any, config: Any) -> int:
    from ._auth import Credentials

    credentials = Credentials(config.home / "server" / "credentials.json")
    if args.action == "list":
        for entry in credentials.tokens():
            print(f"{entry['name']}\tcreated {entry['created']}")
        return 0
    if not args.name:
        print(f"error: `tercel server token {args.action}` needs a NAME", file=sys.stderr)
        return 2
    if args.action == "create":
        try:
            print(credentials.create_token(args.name))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    if not credentials.revoke_token(args.name):
        print(f"error: no token named {args.name!r}", file=sys.stderr)
        return 1
    return 0


# -- tercel flows ------------------------------------------------------------------------------------
def register_flows(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    flows = subparsers.add_parser("flows", help="manage the flows of a running server (CI/CD)")
    sub = flows.add_subparsers(dest="flows_command", metavar="ACTION", required=True)
    deploy = sub.add_parser("deploy", help="validate every flow of a folder on the server, then create or update them")
    deploy.add_argument("folder", type=Path)
    deploy.add_argument("--server", help="the server's URL (default TERCEL_SERVER_URL or http://127.0.0.1:8080)")
    deploy.add_argument("--dry-run", action="store_true", help="validate and show what would change, change nothing")
    deploy.add_argument("--diff", action="store_true", help="show a diff of each changed flow")
    flows.set_defaults(handler=_deploy)


def _deploy(args: Any) -> int:
    from ruamel.yaml import YAML

    from ._client import ApiClient, ClientError

    files = sorted([*args.folder.glob("**/*.yaml"), *args.folder.glob("**/*.yml")]) if args.folder.is_dir() else []
    if not files:
        print(f"error: {args.folder}: no flow (*.yaml, *.yml) found", file=sys.stderr)
        return 1
    try:
        with ApiClient(args.server) as api:
            sources: list[tuple[Path, str, str, str]] = []
            failed = False
            for path in files:  # 1. validate everything first: nothing is applied if one is broken
                source = path.read_text(encoding="utf-8")
                result = api.validate(source)[0]
                if result["problems"]:
                    failed = True
                    for p in result["problems"]:
                        where = f"{path}:{p['line']}:{p['column']}" if p.get("line") else str(path)
                        print(f"{where}: {p['path'] + ': ' if p.get('path') else ''}{p['message']}", file=sys.stderr)
                    continue
                doc = YAML(typ="safe").load(source)
                sources.append((path, doc["namespace"], doc["id"], source))
            if failed:
                print("error: invalid flows: nothing was deployed", file=sys.stderr)
                return 1
            counts = {"created": 0, "updated": 0, "unchanged": 0}
            for path, namespace, flow_id, source in sources:  # 2. apply
                current = api.flow_source(namespace, flow_id)
                action = "created" if current is None else ("unchanged" if current == source else "updated")
                counts[action] += 1
                print(f"{'would be ' if args.dry_run and action != 'unchanged' else ''}{action}: {namespace}.{flow_id} ({path})")
                if args.diff and action == "updated":
                    sys.stdout.writelines(difflib.unified_diff(
                        (current or "").splitlines(keepends=True), source.splitlines(keepends=True),
                        f"{namespace}.{flow_id} (server)", str(path),
                    ))
                if args.dry_run or action == "unchanged":
                    continue
                if action == "created":
                    api.create_flow(source)
                else:
                    api.update_flow(namespace, flow_id, source)
            print(", ".join(f"{n} {k}" for k, n in counts.items()) + (" (dry run: nothing changed)" if args.dry_run else ""))
            return 0
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


# -- tercel executions -------------------------------------------------------------------------------
def register_executions(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    executions = subparsers.add_parser("executions", help="start and follow executions on a running server")
    sub = executions.add_subparsers(dest="executions_command", metavar="ACTION", required=True)
    trigger = sub.add_parser("trigger", help="start an execution; with --follow, stream its logs and exit with its result")
    trigger.add_argument("namespace")
    trigger.add_argument("flow_id")
    trigger.add_argument("--input", "-i", action="append", default=[], metavar="NAME=VALUE")
    trigger.add_argument("--label", "-l", action="append", default=[], metavar="KEY=VALUE")
    trigger.add_argument("--follow", "-f", action="store_true", help="stream the logs until it ends; exit 0 for SUCCESS/WARNING")
    trigger.add_argument("--wait", action="store_true", help="wait for the end (no logs); exit 0 for SUCCESS/WARNING")
    trigger.add_argument("--server", help="the server's URL (default TERCEL_SERVER_URL or http://127.0.0.1:8080)")
    executions.set_defaults(handler=_trigger)


def _pairs(values: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{what} {item!r} must be written NAME=VALUE")
        out[key] = value
    return out


def _trigger(args: Any) -> int:
    from ._client import ApiClient, ClientError

    try:
        inputs, labels = _pairs(args.input, "input"), _pairs(args.label, "label")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        with ApiClient(args.server) as api:
            ex = api.trigger(args.namespace, args.flow_id, inputs, labels, wait=args.wait and not args.follow)
            print(f"execution {ex['id']} {ex['state']['current']}", file=sys.stderr)
            if args.follow:
                for entry in api.follow_logs(ex["id"]):
                    print(f"{entry['timestamp']} {entry['level']:<5} {entry.get('taskId') or '-'} {entry['message']}", file=sys.stderr)
                ex = api.execution(ex["id"])
            if not (args.follow or args.wait):
                print(ex["id"])
                return 0
            state = ex["state"]["current"]
            print(f"execution {ex['id']} ended {state}", file=sys.stderr)
            print(ex["id"])
            return 0 if state in _OK_STATES else 1
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        for detail in exc.details:
            print(f"  - {detail.get('path') or ''}: {detail.get('message')}" if isinstance(detail, dict) else f"  - {detail}", file=sys.stderr)
        return 1
