"""`tercel plugins install | uninstall | locks`: plugin versions side by side, from the shell.

Each version gets an environment of its own under `TERCEL_HOME/plugins/` (DESIGN §6). Removing
one lists the saved flows whose lock needed it, so nothing breaks silently.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from tercel.settings import Settings

__all__ = ["info", "install", "locks", "publish", "search", "uninstall"]


def install(args: argparse.Namespace) -> int:
    from tercel.plugins._environments import PluginEnvironments

    settings = Settings()
    envs = PluginEnvironments(settings.plugins_dir)
    index_url = args.index_url
    if index_url is None and (args.registry or os.environ.get("TERCEL_REGISTRY_URL")):
        from tercel._registry_client import RegistryClient, registry_url

        index_url = RegistryClient(registry_url(args.registry)).index_url  # the registry first, for every name
    results = []
    for requirement in args.requirements:
        result = envs.install(
            requirement,
            index_url=index_url,
            extra_index_urls=args.extra_index_url,
            find_links=args.find_links,
            no_index=args.no_index,
        )
        env = result.environment
        results.append({**env.to_json(), "created": result.created})
        if not args.json:
            verb = "installed" if result.created else "already installed"
            names = sorted(t["type"] for t in env.manifest.get("types", ()))
            print(f"{verb} {env.distribution} {env.version} in {env.path}")
            for name in names:
                print(f"    {name}")
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    return 0


def uninstall(args: argparse.Namespace) -> int:
    from tercel.plugins._environments import PluginEnvironments

    settings = Settings()
    envs = PluginEnvironments(settings.plugins_dir)
    removed = []
    for text in args.requirements:
        name, version = _name_version(text, envs)
        env = envs.uninstall(name, version)
        removed.append(env.to_json())
        if not args.json:
            print(f"uninstalled {env.distribution} {env.version}")
    broken = _broken(settings)
    if args.json:
        json.dump({"uninstalled": removed, "brokenLocks": [b.to_dict() for b in broken]}, sys.stdout, indent=2)
        print()
    elif broken:
        print("\nthese saved flows are locked to a version that is no longer installed; their next execution fails:")
        for lock in broken:
            print(f"    {lock}")
        print("reinstall the version, or save each flow again to resolve a new lock")
    return 0


def locks(args: argparse.Namespace) -> int:
    broken = _broken(Settings())
    if args.json:
        json.dump([b.to_dict() for b in broken], sys.stdout, indent=2)
        print()
    elif not broken:
        print("every saved flow's plugin lock is met")
    else:
        for lock in broken:
            print(lock)
    return 1 if broken else 0


def _name_version(text: str, envs: Any) -> tuple[str, str]:
    """`name==version`, or a bare name when exactly one version of it is installed."""
    from tercel.errors import TercelError

    name, sep, version = text.partition("==")
    name = name.strip().lower().replace("_", "-")
    if sep:
        return name, version.strip()
    versions = sorted(e.version for e in envs.list() if e.distribution == name)
    if len(versions) == 1:
        return name, versions[0]
    if not versions:
        raise TercelError(f"{name} has no version installed in an environment of its own (`tercel plugins list --plugins`)")
    raise TercelError(f"{name} has several versions installed ({', '.join(versions)}): say which, e.g. {name}=={versions[0]}")


def _broken(settings: Settings) -> list[Any]:
    """The broken locks of the saved flows of this instance's database (none if it has none)."""
    from tercel.flows import broken_locks
    from tercel.store import Database

    url = str(settings.database_url)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return []  # no database yet: no saved flow
    db = Database.open(url)
    try:
        db.create_schema()
        revisions = db.flows.list()
    finally:
        db.close()
    return broken_locks(revisions, settings.plugin_manager().discover())


def publish(args: argparse.Namespace) -> int:
    from tercel._registry_client import RegistryClient, registry_url

    client = RegistryClient(registry_url(args.registry), args.token or os.environ.get("TERCEL_REGISTRY_TOKEN"))
    files = [Path(f) for f in args.files]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        from tercel.errors import TercelError

        raise TercelError(f"no such file: {', '.join(missing)}")
    for path in files:
        client.upload(path)
        print(f"published {path.name} to {client.url}")
    return 0


def search(args: argparse.Namespace) -> int:
    from tercel._registry_client import RegistryClient, registry_url

    found = RegistryClient(registry_url(args.registry)).search(" ".join(args.words))
    if args.json:
        json.dump(found, sys.stdout, indent=2)
        print()
        return 0
    items = found.get("items") or found.get("results") or []
    if not items:
        print(f"no plugin matches {' '.join(args.words)!r}")
        return 0
    rows = [(str(i.get("name")), str(i.get("latestVersion") or i.get("version") or ""), str(i.get("summary") or "")) for i in items]
    widths = [max(len(h), *(len(r[c]) for r in rows)) for c, h in enumerate(("NAME", "LATEST", "SUMMARY"))]
    print("  ".join(h.ljust(w) for h, w in zip(("NAME", "LATEST", "SUMMARY"), widths, strict=True)).rstrip())
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    total = found.get("total")
    if isinstance(total, int) and total > len(rows):
        print(f"({len(rows)} of {total} shown)")
    return 0


def info(args: argparse.Namespace) -> int:
    from tercel._registry_client import RegistryClient, registry_url

    client = RegistryClient(registry_url(args.registry))
    name, sep, version = args.plugin.partition("==")
    doc = client.version(name.strip(), version.strip()) if sep else client.plugin(name.strip())
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        print()
        return 0
    title = f"{doc.get('name', name)} {doc.get('version') or doc.get('latestVersion') or ''}".strip()
    print(title)
    if doc.get("summary"):
        print(f"  {doc['summary']}")
    if doc.get("sdkRequirement"):
        print(f"  tercel-plugin-sdk {doc['sdkRequirement']}")
    for entry in doc.get("versions") or ():
        yanked = f"  (yanked: {entry.get('yankedReason') or 'yes'})" if entry.get("yanked") else ""
        print(f"  {entry.get('version')}{yanked}")
    for entry in doc.get("types") or ():
        print(f"  {entry.get('type')}  [{entry.get('kind')}]  {entry.get('title') or ''}".rstrip())
    return 0
