"""Which SDK releases a plugin version is tested against.

By default, the SDK this runner has (what users of this tercel get). With `--matrix`, the
oldest and the newest release its `tercel-plugin-sdk` requirement admits, out of the running
SDK and the wheels of `--sdk-wheels`: a plugin that claims `>=0.1` is then held to 0.1 too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .errors import OptionError

__all__ = ["SDK_DISTRIBUTION", "SdkRelease", "available_sdks", "choose_sdks", "sdk_requirement"]

SDK_DISTRIBUTION = "tercel-plugin-sdk"
_WHEEL = re.compile(r"^tercel_plugin_sdk-(?P<version>[^-]+)-.+\.whl$")


@dataclass(frozen=True)
class SdkRelease:
    """One SDK release a suite can run against, and the wheel that installs it."""

    version: str
    wheel: Path

    @property
    def parsed(self) -> Version:
        return Version(self.version)


def available_sdks(running: SdkRelease, folder: Path | None) -> list[SdkRelease]:
    """The running SDK and the `tercel_plugin_sdk-*.whl` of `folder`, oldest first (the running
    one wins over a wheel of the same version: it is what this tercel really has)."""
    by_version = {running.parsed: running}
    for wheel in sorted(folder.glob("tercel_plugin_sdk-*.whl")) if folder else ():
        found = _WHEEL.match(wheel.name)
        try:
            version = Version(found["version"]) if found else None
        except InvalidVersion:
            version = None
        if version is None:
            raise OptionError(f"sdk-wheels: {wheel} is not named like a tercel-plugin-sdk wheel")
        by_version.setdefault(version, SdkRelease(str(version), wheel))
    return [by_version[v] for v in sorted(by_version)]


def sdk_requirement(requires_dist: Iterable[str]) -> SpecifierSet | None:
    """The `tercel-plugin-sdk` range of a version's Requires-Dist (extras' lines left out)."""
    for line in requires_dist:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if canonicalize_name(requirement.name) != SDK_DISTRIBUTION:
            continue
        if requirement.marker is not None and "extra" in str(requirement.marker):
            continue
        return requirement.specifier
    return None


def choose_sdks(
    requirement: SpecifierSet | str | None, releases: Sequence[SdkRelease], running: SdkRelease, *, matrix: bool,
) -> list[SdkRelease]:
    """The SDK releases to run one plugin version against (one or two, oldest first).

    Without `matrix`, the running SDK. With it, the oldest and newest admitted releases; when
    the requirement admits none (or cannot be read), the running SDK, so that the installer
    says why the plugin does not fit rather than the plugin going untested in silence.
    """
    if not matrix:
        return [running]
    if isinstance(requirement, str):
        try:
            requirement = SpecifierSet(requirement)
        except InvalidSpecifier:
            requirement = None
    if requirement is None:
        admitted = list(releases)
    else:
        admitted = [r for r in releases if requirement.contains(r.parsed, prereleases=True)]
    if not admitted:
        return [running]
    oldest, newest = min(admitted, key=lambda r: r.parsed), max(admitted, key=lambda r: r.parsed)
    return [oldest] if oldest == newest else [oldest, newest]
