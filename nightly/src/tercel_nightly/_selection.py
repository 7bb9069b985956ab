"""Which versions of a plugin a night tests, and which of its runs are already recorded.

Pure functions over the catalog's and the results API's JSON: resuming an interrupted night and
sharing one between several runners both come down to `pending`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from packaging.utils import canonicalize_name, canonicalize_version
from packaging.version import InvalidVersion, Version

from ._options import VersionChoice
from ._results import Environment, Target

__all__ = ["RunKey", "pending", "recorded_keys", "run_key", "select_versions"]

#: (normalized plugin, normalized version, python, sdk, core): one run per night.
RunKey = tuple[str, str, str, str, str]


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _normal(text: str) -> str:
    """A version as PEP 440 compares it: `1.0` and `1.0.0` are one release."""
    return canonicalize_version(text) if _version(text) is not None else text


def select_versions(versions: Iterable[Mapping[str, Any]], choice: VersionChoice) -> list[str]:
    """The versions to test, newest first: yanked ones never; `latest` is the newest final
    release (the newest pre-release when there is no final one), `N` the N newest."""
    live = [(parsed, str(v["version"])) for v in versions
            if not v.get("yanked") and (parsed := _version(str(v.get("version", "")))) is not None]
    live.sort(reverse=True)
    if choice == "all":
        return [text for _, text in live]
    if choice == "latest":
        final = [text for parsed, text in live if not parsed.is_prerelease]
        return (final or [text for _, text in live])[:1]
    return [text for _, text in live[:choice]]


def run_key(plugin: str, version: str, environment: Mapping[str, Any] | Environment) -> RunKey:
    env = environment.to_json() if isinstance(environment, Environment) else environment
    return (
        canonicalize_name(plugin), _normal(version),
        str(env.get("python", "")), str(env.get("sdk", "")), str(env.get("core", "")),
    )


def recorded_keys(results: Iterable[Mapping[str, Any]]) -> set[RunKey]:
    """The runs the results API says this night already has."""
    return {
        run_key(str(r["plugin"]), str(r["version"]), r.get("environment") or {})
        for r in results if r.get("plugin") and r.get("version")
    }


def pending(
    targets: Sequence[Target], environment_of: Callable[[Target], Environment], recorded: set[RunKey],
) -> tuple[list[Target], list[Target]]:
    """(to run, already recorded): `environment_of(target)` gives the Environment it would run in."""
    to_run: list[Target] = []
    done: list[Target] = []
    for target in targets:
        key = run_key(target.plugin, target.version, environment_of(target))
        (done if key in recorded else to_run).append(target)
    return to_run, done
