"""The `tercel` command line. Starts fast: every command imports only what it uses.

Contract (DESIGN §4): `tercel run FLOW.yaml [--flows-dir DIR] [--input NAME=VALUE]... [--json]`
runs one flow to its end on the embedded default; with `--json` it prints the final execution
on stdout; it exits 0 for SUCCESS and WARNING, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["main"]

_COLORS = {"TRACE": "\033[2m", "DEBUG": "\033[2m", "INFO": "\033[36m", "WARN": "\033[33m", "ERROR": "\033[31m"}


def _use_color(stream: Any) -> bool:
    return hasattr(stream, "isatty") and stream.isatty() and "NO_COLOR" not in os.environ


def _external_commands() -> dict[str, Any]:
    """Commands other distributions add (`tercel.cli` entry points: `server` from tercel-server…).

    Each entry point is a `register(subparsers)` that adds its parser and sets `handler=` (a
    function of the parsed args returning the exit code). Only the invoked one is imported.
    """
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group="tercel.cli")}


def _parser(invoked: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tercel", description="tercel: declarative, plugin-first workflow orchestration.")
    parser.add_argument("--version", action="store_true", help="print versions and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, ep in sorted(_external_commands().items()):
        if name == invoked:
            ep.load()(sub)
        else:
            sub.add_parser(name, help=f"(from {ep.dist.name if ep.dist else ep.value}; `tercel {name} --help`)", add_help=False)

    run = sub.add_parser("run", help="run one flow to its end on the embedded default")
    run.add_argument("flow", help="the flow's YAML file")
    run.add_argument("--flows-dir", help="load the other flows of this folder (subflows, flow triggers)")
    run.add_argument("--input", "-i", action="append", default=[], metavar="NAME=VALUE", help="an input value (repeatable)")
    run.add_argument("--label", "-l", action="append", default=[], metavar="KEY=VALUE", help="an execution label (repeatable)")
    run.add_argument("--json", action="store_true", help="print the final execution as JSON on stdout")
    run.add_argument("--quiet", "-q", action="store_true", help="do not print logs")

    examples = sub.add_parser("run-examples", help="run every flow of a folder, one after the other")
    examples.add_argument("folder")

    validate = sub.add_parser("validate", help="check flows and report every problem with its position")
    validate.add_argument("flows", nargs="+", help="YAML files or folders")
    validate.add_argument("--json", action="store_true", help="problems as JSON")

    plugins = sub.add_parser("plugins", help="installed plugins and their types")
    psub = plugins.add_subparsers(dest="plugins_command", metavar="SUBCOMMAND")
    plist = psub.add_parser("list", help="list installed types (--plugins: the distributions, with where they are installed)")
    plist.add_argument("--json", action="store_true")
    plist.add_argument("--plugins", action="store_true", help="one line per installed plugin version: its types and location")
    pdoc = psub.add_parser("doc", help="document one type: properties, outputs, examples")
    pdoc.add_argument("type")
    pdoc.add_argument("--json", action="store_true", help="the type's manifest entry as JSON")
    pdoc.add_argument("--schema", action="store_true", help="only the type's JSON Schema")
    psub.add_parser("schema", help="print the JSON Schema of a flow (for editors)")
    pinstall = psub.add_parser(
        "install",
        help="install plugin versions, each in an environment of its own (a requirement, a wheel file or a project folder)",
    )
    pinstall.add_argument("requirements", nargs="+", metavar="REQUIREMENT", help="'tercel-plugin-x==1.2.0', 'tercel-plugin-x>=2', a .whl file or a folder")
    pinstall.add_argument("--index-url", help="an index searched first for every name (e.g. tercel's registry); the default index still serves dependencies")
    pinstall.add_argument("--extra-index-url", action="append", default=[], metavar="URL")
    pinstall.add_argument("--find-links", action="append", default=[], metavar="PATH_OR_URL", help="a folder or page of wheels")
    pinstall.add_argument("--no-index", action="store_true", help="only --find-links, no index at all")
    pinstall.add_argument("--registry", help="a tercel registry whose index is searched first (default: TERCEL_REGISTRY_URL, if set)")
    pinstall.add_argument("--json", action="store_true")
    puninstall = psub.add_parser("uninstall", help="remove installed plugin versions (NAME==VERSION)")
    puninstall.add_argument("requirements", nargs="+", metavar="NAME==VERSION")
    puninstall.add_argument("--json", action="store_true")
    ppublish = psub.add_parser("publish", help="publish wheels and sdists to a tercel registry (checked there first)")
    ppublish.add_argument("files", nargs="+", metavar="FILE", help="e.g. dist/*")
    ppublish.add_argument("--registry", help="the registry (default: TERCEL_REGISTRY_URL)")
    ppublish.add_argument("--token", help="a registry token (default: TERCEL_REGISTRY_TOKEN)")
    psearch = psub.add_parser("search", help="search a tercel registry's plugins by name, type and keyword")
    psearch.add_argument("words", nargs="+")
    psearch.add_argument("--registry", help="the registry (default: TERCEL_REGISTRY_URL)")
    psearch.add_argument("--json", action="store_true")
    pinfo = psub.add_parser("info", help="a plugin of a tercel registry: its versions, or one version's types")
    pinfo.add_argument("plugin", metavar="NAME[==VERSION]")
    pinfo.add_argument("--registry", help="the registry (default: TERCEL_REGISTRY_URL)")
    pinfo.add_argument("--json", action="store_true")
    plocks = psub.add_parser("locks", help="list the flows whose saved plugin lock names a version that is not installed")
    plocks.add_argument("--json", action="store_true")
    pnew = psub.add_parser("new", help="scaffold a new plugin project from the template (tests, CI, manifest included)")
    pnew.add_argument("name", nargs="?", metavar="NAME", help="the plugin's name, e.g. weather: distribution tercel-plugin-weather, package tercel_plugin_weather")
    pnew.add_argument("--no-input", action="store_true", help="ask nothing: options or defaults (NAME is then required)")
    pnew.add_argument("--description", help="one-line summary of the plugin")
    pnew.add_argument("--author", help="author name (default: git config user.name)")
    pnew.add_argument("--email", help="author email (default: git config user.email)")
    pnew.add_argument("--license", help="Apache-2.0 (default), MIT, BSD-3-Clause or Proprietary")
    pnew.add_argument("--type-prefix", metavar="NAMESPACE", help="the types' namespace (default io.tercel.<name>)")
    pnew.add_argument("--task", help="the first task's class name (default Fetch)")
    pnew.add_argument("--trigger", action=argparse.BooleanOptionalAction, default=None, help="include a polling trigger (default: yes)")
    pnew.add_argument("--output-dir", metavar="DIR", help="where the project folder is made (default: here)")
    pnew.add_argument("--registry", help="check the name is free in this registry (default: TERCEL_REGISTRY_URL, if set)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = _parser(next((a for a in argv if not a.startswith("-")), None))
    args = parser.parse_args(argv)
    if args.version:
        from importlib import metadata

        for dist in ("tercel-core", "tercel-plugin-sdk"):
            try:
                print(f"{dist} {metadata.version(dist)}")
            except metadata.PackageNotFoundError:
                print(f"{dist} (not installed)")
        return 0
    try:
        handler = getattr(args, "handler", None)
        if handler is not None:
            return int(handler(args))
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "run-examples":
            return _cmd_run_examples(args)
        if args.command == "validate":
            return _cmd_validate(args)
        if args.command == "plugins":
            if args.plugins_command == "list":
                return _cmd_plugins_list(args)
            if args.plugins_command == "doc":
                return _cmd_plugins_doc(args)
            if args.plugins_command == "schema":
                return _cmd_plugins_schema(args)
            if args.plugins_command == "new":
                from tercel import _plugin_new

                return _plugin_new.new(args)
            if args.plugins_command in ("install", "uninstall", "locks", "publish", "search", "info"):
                from tercel import _plugins_cli

                return int(getattr(_plugins_cli, args.plugins_command)(args))
            parser.parse_args(["plugins", "--help"])
        parser.print_help()
        return 0 if args.command is None else 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except _CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        from tercel.errors import TercelError

        if isinstance(exc, TercelError):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        raise


class _CliError(Exception):
    pass


def _plugins() -> Any:
    from tercel.settings import Settings

    manager = Settings().plugin_manager().discover()
    for problem in manager.problems:
        print(f"warning: {problem}", file=sys.stderr)
    return manager


def _check_expression() -> Any:
    from tercel.expressions import ExpressionEngine

    engine = ExpressionEngine()
    return engine.check


def _read(path: str) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise _CliError(f"{path}: no such file")
    return p.read_bytes()


def _load(path: str, plugins: Any) -> Any:
    from tercel.flows import load_flow

    return load_flow(_read(path), plugins, name=path, check_expression=_check_expression())


def _parse_pairs(pairs: list[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise _CliError(f"--{what} {pair!r}: expected NAME=VALUE")
        out[name] = value
    return out


def _print_log(entry: Any, color: bool) -> None:
    ts = entry.timestamp.strftime("%H:%M:%S.%f")[:-3]
    task = f"[{entry.task_id}] " if entry.task_id else ""
    level = f"{entry.level:<5}"
    if color:
        level = f"{_COLORS.get(entry.level, '')}{level}\033[0m"
    print(f"{ts} {level} {task}{entry.message}", file=sys.stderr, flush=True)


def _cmd_run(args: argparse.Namespace) -> int:
    import asyncio

    from tercel.errors import ProblemsError

    plugins = _plugins()
    try:
        flow = _load(args.flow, plugins)
    except ProblemsError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    inputs = _parse_pairs(args.input, "input")
    labels = _parse_pairs(args.label, "label")
    others = []
    if args.flows_dir:
        folder = Path(args.flows_dir)
        if not folder.is_dir():
            raise _CliError(f"--flows-dir {args.flows_dir}: not a folder")
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            if path.resolve() == Path(args.flow).resolve():
                continue
            try:
                others.append(_load(str(path), plugins))
            except ProblemsError as exc:
                print(f"warning: skipping {path}:\n{exc}", file=sys.stderr)
    color = _use_color(sys.stderr)
    execution = asyncio.run(_run_flow(flow, others, plugins, inputs, labels, None if args.quiet else (lambda e: _print_log(e, color))))
    if execution is None:
        return 1
    state = execution.state.current
    if args.json:
        from tercel.runtime import to_json_ready

        json.dump(to_json_ready(execution.to_dict()), sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        duration = execution.state.to_dict().get("duration")
        print(f"execution {execution.id} {state.value}" + (f" in {duration:.3f}s" if duration is not None else ""), file=sys.stderr)
    return 0 if state.value in ("SUCCESS", "WARNING") else 1


async def _run_flow(flow: Any, others: list[Any], plugins: Any, inputs: dict[str, str], labels: dict[str, str], on_log: Any) -> Any:
    from tercel.errors import ProblemsError
    from tercel.runtime import Runtime
    from tercel.scheduler import Scheduler

    async with Runtime(plugins=plugins, on_log=on_log) as runtime:
        for other in others:
            runtime.register_flow(other)
        runtime.register_flow(flow)
        since = datetime.now(UTC)
        # the Flow triggers of the other flows hear this run (no Schedule fires: no loop)
        async with Scheduler(runtime, schedules=False):
            try:
                execution = runtime.create_execution(flow, inputs, labels=labels)
            except ProblemsError as exc:
                print(str(exc), file=sys.stderr)
                return None
            done = await runtime.wait(execution.id)
            await _settle(runtime, since)
            return done


async def _settle(runtime: Any, since: datetime) -> None:
    """Wait for what the run set off: every state heard by the Flow triggers, and the executions
    they started (and theirs) ended. A paused one is not waited for."""
    import asyncio

    from tercel.runtime._runtime import STATES_TOPIC

    moving = ["CREATED", "QUEUED", "RUNNING", "RESTARTED", "KILLING"]
    while True:
        await asyncio.sleep(0.02)
        if runtime.db.queue.pending(STATES_TOPIC):
            continue
        if not runtime.db.executions.find(start_after=since, state=moving, limit=1):
            return


def _cmd_run_examples(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    if not files:
        raise _CliError(f"{folder}: no flows (*.yaml) found")
    failures = 0
    for path in files:
        print(f"\n=== {path} ===", file=sys.stderr)
        rc = main(["run", str(path), "--flows-dir", str(folder)])
        failures += rc != 0
    print(f"\n{len(files) - failures} of {len(files)} example flows succeeded", file=sys.stderr)
    return 1 if failures else 0


def _iter_flow_files(items: list[str]) -> list[Path]:
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            out += sorted([*p.rglob("*.yaml"), *p.rglob("*.yml")])
        else:
            out.append(p)
    return out


def _cmd_validate(args: argparse.Namespace) -> int:
    from tercel.errors import ProblemsError

    plugins = _plugins()
    check = _check_expression()
    report: dict[str, list[dict[str, Any]]] = {}
    bad = 0
    from tercel.flows import load_flow

    for path in _iter_flow_files(args.flows):
        try:
            load_flow(_read(str(path)), plugins, name=str(path), check_expression=check)
            report[str(path)] = []
            if not args.json:
                print(f"{path}: valid")
        except ProblemsError as exc:
            bad += 1
            report[str(path)] = [p.to_dict() for p in exc.problems]
            if not args.json:
                print(str(exc).replace("flow is invalid", f"{path}: invalid", 1), file=sys.stderr)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    return 1 if bad else 0


def _cmd_plugins_list(args: argparse.Namespace) -> int:
    plugins = _plugins()
    if args.plugins:
        return _list_distributions(plugins, as_json=args.json)
    types = plugins.canonical_types()

    def versions(t: Any) -> list[str]:
        from tercel.plugins import version_sort_key

        return sorted(plugins.type_versions(t.name), key=version_sort_key)

    if args.json:
        json.dump(
            [
                {"type": t.name, "aliases": t.aliases, "kind": t.kind, "distribution": t.distribution, "version": t.version,
                 "versions": versions(t), "title": t.entry.get("title")}
                for t in types
            ],
            sys.stdout,
            indent=2,
        )
        print()
        return 0
    rows = [(t.name, t.kind, f"{t.distribution} {', '.join(versions(t))}", t.entry.get("title", "")) for t in types]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(("TYPE", "KIND", "PLUGIN", "TITLE"))]
    print("  ".join(h.ljust(w) for h, w in zip(("TYPE", "KIND", "PLUGIN", "TITLE"), widths, strict=True)).rstrip())
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    broken = [p for p in plugins.plugins.values() if p.error]
    for p in broken:
        print(f"\n{p.distribution} {p.version}: UNUSABLE: {p.error}")
    return 0


def _list_distributions(plugins: Any, *, as_json: bool) -> int:
    """One entry per installed plugin version: its types, where it is installed, and whether it
    is usable (read from the manifests: no plugin is imported)."""
    entries = []
    for info in plugins.installed_versions():
        entry = info.to_json()
        if entry["location"] is None:
            entry["location"] = "built in" if info.builtin else "?"
        entries.append(entry)
    if as_json:
        json.dump(entries, sys.stdout, indent=2)
        print()
        return 0
    for entry in entries:
        state = f"UNUSABLE: {entry['error']}" if entry["error"] else f"{len(entry['types'])} types, {entry['runs']}"
        print(f"{entry['distribution']} {entry['version']}  ({state})  {entry['location']}")
        for name in entry["types"]:
            print(f"    {name}")
    return 0


def _schema_type(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        parts = [_schema_type(s, defs) for s in schema["anyOf"]]
        parts = [p for p in parts if p not in ("null", "expression")]
        return " | ".join(dict.fromkeys(parts)) or "any"
    if schema.get("type") == "string" and "pattern" in schema and "{{" in schema["pattern"].replace("\\", ""):
        return "expression"
    if schema.get("x-tercel-task"):
        return "task"
    t = schema.get("type")
    if t == "array":
        return f"list[{_schema_type(schema.get('items', {}), defs)}]"
    if t == "object" and "additionalProperties" in schema and isinstance(schema["additionalProperties"], dict):
        return f"map[string, {_schema_type(schema['additionalProperties'], defs)}]"
    if "enum" in schema:
        return " | ".join(map(str, schema["enum"]))
    if "const" in schema:
        return repr(schema["const"])
    if schema.get("format") == "duration":
        return "duration"
    return str(t or "any")


def _cmd_plugins_doc(args: argparse.Namespace) -> int:
    plugins = _plugins()
    info = plugins.get_type(args.type)
    entry = info.entry
    if args.schema:
        json.dump(entry["schema"], sys.stdout, indent=2)
        print()
        return 0
    if args.json:
        json.dump({**entry, "distribution": info.distribution, "version": info.version}, sys.stdout, indent=2)
        print()
        return 0
    schema = entry["schema"]
    defs = schema.get("$defs", {})
    out = [f"{entry['type']} — {entry.get('title', '')}", f"plugin: {info.distribution} {info.version}    kind: {entry['kind']}{' (flowable)' if entry.get('flowable') else ''}"]
    if entry.get("aliases"):
        out.append("aliases: " + ", ".join(entry["aliases"]))
    if entry.get("description"):
        out += ["", entry["description"]]
    common = {"id", "type", "description", "version", "retry", "timeout", "disabled", "logLevel", "logToFile", "allowFailure", "allowWarning", "runIf", "workerGroup", "errors", "finally"}
    out += ["", "Properties:"]
    props = entry.get("properties", {})
    for section, names in (("", [n for n in props if n not in common]), ("Common task properties:", [n for n in props if n in common])):
        if section:
            out += ["", section]
        for name in names:
            meta = props[name]
            prop_schema = schema.get("properties", {}).get(name, {})
            bits = [_schema_type(prop_schema, defs)]
            bits.append("required" if meta.get("required") else f"default: {json.dumps(meta.get('default'))}")
            if meta.get("dynamic"):
                bits.append("dynamic")
            out.append(f"  {name} ({', '.join(bits)})")
            if meta.get("description"):
                out.append(f"      {meta['description']}")
    outputs = entry.get("outputs")
    out += ["", "Outputs:"]
    if outputs and outputs.get("properties"):
        for name, spec in outputs["properties"].items():
            out.append(f"  {name} ({_schema_type(spec, outputs.get('$defs', {}))})" + (f": {spec['description']}" if spec.get("description") else ""))
    else:
        out.append("  (none)")
    if entry.get("metrics"):
        out += ["", "Metrics:"] + [f"  {m['name']} ({m['type']}{', ' + m['unit'] if m.get('unit') else ''}) {m.get('description', '')}" for m in entry["metrics"]]
    if entry.get("examples"):
        out += ["", "Examples:"]
        for ex in entry["examples"]:
            if ex.get("title"):
                out.append(f"  # {ex['title']}")
            out += ["    " + line for line in ex["code"].strip().splitlines()]
            out.append("")
    print("\n".join(out).rstrip())
    return 0


def _cmd_plugins_schema(args: argparse.Namespace) -> int:
    from tercel.schema import flow_json_schema

    json.dump(flow_json_schema(_plugins()), sys.stdout, indent=2)
    print()
    return 0
