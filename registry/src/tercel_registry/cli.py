"""`tercel registry …`: serve the registry, manage its publishing tokens, import plugins into it
(registered in the core CLI through the `tercel.cli` entry point; only the invoked command's
module is imported)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `tercel registry` to the CLI (entry point `tercel.cli`)."""
    registry = subparsers.add_parser("registry", help="the plugin registry: serve it, manage its publishing tokens")
    sub = registry.add_subparsers(dest="registry_command", metavar="COMMAND", required=True)
    serve = sub.add_parser("serve", help="run the registry (package index, upload API, catalog, pages)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8090)")
    token = sub.add_parser("token", help="publishing tokens (create prints the token once; it is stored hashed)")
    actions = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="a new token for the projects its scopes match")
    create.add_argument("name")
    create.add_argument(
        "--scope", action="append", default=[], metavar="PATTERN", required=True,
        help="projects the token may publish to and yank: a pattern on normalized names "
        "('tercel-plugin-x*'; '*' is every project), or 'nightly': may post nightly test results "
        "(only that scope grants it); repeatable",
    )
    actions.add_parser("list", help="the tokens: name, scopes, created, last used, revoked")
    revoke = actions.add_parser("revoke", help="revoke a token: it is refused from now on")
    revoke.add_argument("name")
    imports = sub.add_parser(
        "import",
        help="build and publish plugin projects (or wheel and sdist files) straight into this registry's home, "
        "checked like uploads (an operator's command: no token)",
    )
    imports.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH",
        help="a project folder (with a pyproject.toml; built with uv), a folder of them (plugins-official/), or .whl/.tar.gz files",
    )
    for p in (serve, imports, *actions.choices.values()):
        p.add_argument("--config", type=Path, help="a YAML configuration file (else TERCEL_REGISTRY_* variables)")
    registry.set_defaults(handler=_registry)


def _registry(args: Any) -> int:
    from ._config import RegistryConfig
    from ._errors import RegistryError

    try:
        if args.registry_command == "serve":
            return _serve(RegistryConfig.load(args.config, host=args.host, port=args.port))
        if args.registry_command == "import":
            return _import(args.paths, RegistryConfig.load(args.config))
        return _token(args, RegistryConfig.load(args.config))
    except RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _serve(config: Any) -> int:
    import uvicorn

    from ._app import create_registry_app
    from ._registry import Registry

    Registry(config).open().close()  # a database it cannot use is said in one line, before serving
    app = create_registry_app(config)
    print(f"tercel registry on http://{config.host}:{config.port}/ (home {config.home})", flush=True)
    print(f"  index: http://{config.host}:{config.port}/simple/  upload: http://{config.host}:{config.port}/legacy/", flush=True)
    # a client slow to finish its request gets 10 s before its connection is closed
    server = uvicorn.Server(
        uvicorn.Config(app, host=config.host, port=config.port, log_level="warning", lifespan="on", timeout_graceful_shutdown=10)
    )
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn raises the SIGINT again once it stopped
        server.run()
    return 0 if server.started else 1


def _token(args: Any, config: Any) -> int:
    from ._registry import Registry

    registry = Registry(config).open()
    try:
        if args.token_command == "create":
            token, record = registry.tokens.create(args.name, args.scope)
            print(token)
            print(f"token {record.name!r} for {', '.join(record.scopes)}: shown only now, stored hashed", file=sys.stderr)
            return 0
        if args.token_command == "list":
            for entry in registry.store.tokens():
                state = f"revoked {entry.revoked:%Y-%m-%dT%H:%M:%SZ}" if entry.revoked else "live"
                used = f"{entry.last_used:%Y-%m-%dT%H:%M:%SZ}" if entry.last_used else "never"
                print(f"{entry.name}\t{','.join(entry.scopes)}\tcreated {entry.created:%Y-%m-%dT%H:%M:%SZ}\tlast used {used}\t{state}")
            return 0
        if not registry.store.revoke_token(args.name):
            print(f"error: no live token named {args.name!r}", file=sys.stderr)
            return 1
        return 0
    finally:
        registry.close()


def _import(paths: list[Path], config: Any) -> int:
    """Build what needs building, then keep every file through the upload checks; files already
    there are reported and skipped, so importing again is harmless."""
    import tempfile

    from ._errors import ApiError, Conflict
    from ._registry import Registry

    files: list[Path] = []
    projects: list[Path] = []
    for path in paths:
        if path.is_file() and path.name.endswith((".whl", ".tar.gz")):
            files.append(path)
        elif (path / "pyproject.toml").is_file():
            projects.append(path)
        elif path.is_dir() and (found := sorted(p.parent for p in path.glob("*/pyproject.toml"))):
            projects += found
        else:
            print(f"error: {path}: not a wheel, an sdist, a project folder (pyproject.toml) or a folder of them", file=sys.stderr)
            return 2
    failed = 0
    registry = Registry(config).open()
    with tempfile.TemporaryDirectory(prefix="tercel-registry-import-") as scratch:
        for index, project in enumerate(projects):
            out = Path(scratch) / str(index)
            built = _build(project, out)
            if built is None:
                failed += 1
                continue
            files += built
        try:
            for path in files:
                data = path.read_bytes()
                try:
                    found = registry.inspect(path.name, data)
                    registry.keep(found, data, "tercel registry import")
                except Conflict:
                    print(f"{found.display_name} {found.version}: {path.name} is there already")
                except ApiError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    failed += 1
                else:
                    print(f"{found.display_name} {found.version}: published {path.name}")
        finally:
            registry.close()
    return 1 if failed else 0


def _build(project: Path, out: Path) -> list[Path] | None:
    """The sdist and wheel of a project folder, built by uv (its build backend, isolated)."""
    import subprocess

    from tercel.plugins import find_uv

    uv = find_uv()
    if uv is None:
        print(f"error: {project}: building needs uv (install it, or set TERCEL_UV), or import built files", file=sys.stderr)
        return None
    done = subprocess.run([uv, "build", "--quiet", "--out-dir", str(out), str(project)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"error: {project}: uv build failed:\n{done.stderr.strip()}", file=sys.stderr)
        return None
    return sorted(out.glob("*.whl")) + sorted(out.glob("*.tar.gz"))  # the wheel first: it has the manifest
