"""`tercel nightly run`: test every plugin version of a registry and post the results to it.

Exit codes: 0 when the night ran to its end, whatever the plugins' outcomes; 2 when the runner
could not work (no token, the registry unreachable or refusing it, a wrong option); 1 when it
failed on some suites itself; 130 when stopped with Ctrl-C (run it again: it resumes).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `tercel nightly` to the CLI (entry point `tercel.cli`)."""
    nightly = subparsers.add_parser("nightly", help="run every plugin version's tests and post the results to the registry")
    sub = nightly.add_subparsers(dest="nightly_command", metavar="COMMAND", required=True)
    run = sub.add_parser(
        "run", help="install each plugin version in a clean environment, run the tests of its sdist, post the results",
    )
    run.add_argument("--registry", metavar="URL", help="the registry (default: TERCEL_REGISTRY_URL)")
    run.add_argument("--token", metavar="T", help="a registry token with the scope 'nightly' (default: TERCEL_REGISTRY_TOKEN)")
    run.add_argument("--plugin", action="append", default=[], metavar="NAME", help="only this plugin (repeatable; default: every plugin)")
    run.add_argument("--versions", default="latest", metavar="latest|all|N", help="which versions of each plugin (default: latest)")
    run.add_argument("--jobs", type=int, default=1, metavar="N", help="suites run at once (default: 1)")
    run.add_argument("--timeout", type=float, default=900, metavar="S", help="seconds a suite may run before it is killed (default: 900)")
    run.add_argument("--memory", type=int, default=2048, metavar="MB", help="address space a suite may use (default: 2048)")
    run.add_argument("--matrix", action="store_true", help="run each version against the oldest and newest SDK it admits")
    run.add_argument("--sdk-wheels", type=Path, metavar="DIR", help="tercel_plugin_sdk-*.whl releases for --matrix, beside the running SDK")
    run.add_argument("--work-dir", type=Path, metavar="DIR", help="environments, wheels and caches (default: $TERCEL_HOME/nightly)")
    run.add_argument("--night", metavar="YYYY-MM-DD", help="the night the results belong to (default: today, UTC)")
    nightly.set_defaults(handler=_nightly)


def _nightly(args: Any) -> int:
    from ._options import Options
    from ._runner import NightlyRunner
    from .errors import NightlyError, OptionError, RegistryRefused, RegistryUnavailable

    def say(line: str) -> None:
        print(line, flush=True)

    try:
        options = Options.build(
            registry=args.registry, token=args.token, night=args.night, plugins=args.plugin,
            versions=args.versions, jobs=args.jobs, timeout=args.timeout, memory=args.memory,
            matrix=args.matrix, sdk_wheels=args.sdk_wheels, work_dir=args.work_dir,
        )
        summary = NightlyRunner(options, progress=say).run()
    except KeyboardInterrupt:
        print("stopped: the suites in flight were killed; run it again to finish the night", file=sys.stderr)
        return 130
    except (OptionError, RegistryUnavailable, RegistryRefused) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except NightlyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if summary.broken:
        print("error: the runner failed on some suites:\n  " + "\n  ".join(summary.broken), file=sys.stderr)
        return 1
    return 0
