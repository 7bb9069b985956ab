"""Distribution metadata, read without installing or importing anything: what a wheel, an
installed `.dist-info` folder or a resolver's lock says about a plugin.

It exists apart from the installers and the environments because both read it: the installers
turn their output into a `_Lock` and fetched metadata into a `_DistInfo`, the environments check
a wheel or an installed plugin with it. It is the bottom layer of the plugin environments, so the
error they all raise, `InstallError` (re-exported by `_environments`), lives here too.
"""

from __future__ import annotations

import configparser
import os
import re
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from ._manager import ENTRY_POINT_GROUP, PluginError
from ._sdk_wheel import SDK_DISTRIBUTION

__all__ = [
    "LOCK_FILENAME",
    "InstallError",
    "_DistInfo",
    "_Lock",
    "_Pin",
    "_dist_info",
    "_installed_info",
    "_normal_version",
    "_parse_requirements_lock",
    "_site_packages",
    "_wheel_info",
]

LOCK_FILENAME = "tercel-lock.txt"  # the lock's text, as installed in an environment


class InstallError(PluginError):
    """A plugin cannot be installed (or uninstalled); the message says exactly why."""


# ------------------------------------------------------------------------ small helpers


def _site_packages(env: Path) -> Path:
    if os.name == "nt":
        return env / "Lib" / "site-packages"
    found = sorted(env.glob("lib/python*/site-packages"))
    if not found:
        raise InstallError(f"{env} has no site-packages folder: the environment is broken")
    return found[0]


def _normal_version(version: str) -> str:
    try:
        return str(Version(version))
    except InvalidVersion:
        return version


# ------------------------------------------------------------------ distribution metadata


@dataclass(frozen=True)
class _DistInfo:
    """What a distribution's metadata says about it as a plugin."""

    name: str  # canonical
    version: str
    module: str | None  # the `tercel.plugins` entry point's module, None if not a plugin
    sdk_requirement: str | None  # its `tercel-plugin-sdk` specifier ("" when unconstrained)

    def problem(self, sdk_version: str) -> str | None:
        """Why this distribution cannot be installed as a plugin of this instance, if it cannot."""
        if self.name == SDK_DISTRIBUTION:
            return f"{SDK_DISTRIBUTION} is the plugin SDK, not a plugin: every environment has it already"
        if self.module is None:
            return (
                f"{self.name} {self.version} is not a tercel plugin: it declares no entry point "
                f"in the {ENTRY_POINT_GROUP!r} group"
            )
        if self.sdk_requirement:
            try:
                admits = SpecifierSet(self.sdk_requirement).contains(Version(sdk_version), prereleases=True)
            except (InvalidSpecifier, InvalidVersion):
                admits = False
            if not admits:
                return (
                    f"{self.name} {self.version} requires {SDK_DISTRIBUTION}{self.sdk_requirement} "
                    f"but this instance has {SDK_DISTRIBUTION} {sdk_version}"
                )
        return None


_SPECIFIER_PART = re.compile(r"^\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:\[[^\]]*\])?\s*\(?(?P<spec>[^;)]*)\)?")


def _dist_info(metadata_text: str, entry_points_text: str | None, where: str) -> _DistInfo:
    meta = HeaderParser().parsestr(metadata_text)
    name, version = meta.get("Name"), meta.get("Version")
    if not name or not version:
        raise InstallError(f"{where}: its METADATA has no Name or Version")
    module = None
    if entry_points_text:
        parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        try:
            parser.read_string(entry_points_text)
        except configparser.Error as exc:
            raise InstallError(f"{where}: unreadable entry_points.txt: {exc}") from exc
        if parser.has_section(ENTRY_POINT_GROUP):
            values = [v.strip() for _, v in sorted(parser.items(ENTRY_POINT_GROUP))]
            if values:
                module = values[0].split(":")[0].strip()
    sdk_requirement = None
    for raw in meta.get_all("Requires-Dist") or ():
        try:
            requirement = Requirement(raw)
        except InvalidRequirement:
            continue
        if canonicalize_name(requirement.name) != SDK_DISTRIBUTION:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        match = _SPECIFIER_PART.match(raw)
        sdk_requirement = (match.group("spec") if match else str(requirement.specifier)).replace(" ", "")
    return _DistInfo(canonicalize_name(name), _normal_version(version), module, sdk_requirement or None)


def _wheel_info(wheel: Path) -> _DistInfo:
    """A wheel's plugin facts, read from the archive (nothing installed, nothing imported)."""
    try:
        name, version, _, _ = parse_wheel_filename(wheel.name)
    except InvalidWheelFilename as exc:
        raise InstallError(f"{wheel} is not a wheel: {exc}") from exc
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
            folders = {n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info")}
            folder = next(
                (f for f in folders if canonicalize_name(f[: -len(".dist-info")].rsplit("-", 1)[0]) == name),
                None,
            )
            if folder is None or f"{folder}/METADATA" not in names:
                raise InstallError(f"{wheel} is not a valid wheel: no {name}-{version}.dist-info/METADATA in it")
            metadata_text = archive.read(f"{folder}/METADATA").decode("utf-8")
            entry = f"{folder}/entry_points.txt"
            entry_points = archive.read(entry).decode("utf-8") if entry in names else None
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError, KeyError) as exc:
        raise InstallError(f"{wheel} is not a readable wheel: {exc}") from exc
    info = _dist_info(metadata_text, entry_points, str(wheel))
    if info.name != name or info.version != _normal_version(str(version)):
        raise InstallError(
            f"{wheel} is not a valid wheel: its file name says {name} {version} "
            f"but its METADATA says {info.name} {info.version}"
        )
    return info


def _installed_info(env: Path, name: str) -> _DistInfo:
    """The plugin's facts as installed in an environment (its `.dist-info` folder)."""
    site = _site_packages(env)
    for folder in site.glob("*.dist-info"):
        if canonicalize_name(folder.name[: -len(".dist-info")].rsplit("-", 1)[0]) != name:
            continue
        metadata_path = folder / "METADATA"
        entry_points = folder / "entry_points.txt"
        return _dist_info(
            metadata_path.read_text(encoding="utf-8"),
            entry_points.read_text(encoding="utf-8") if entry_points.is_file() else None,
            str(folder),
        )
    raise InstallError(f"{name} is not installed in {env} after the installer ran: the environment is broken")


# ------------------------------------------------------------------------------ the lock


@dataclass(frozen=True)
class _Pin:
    name: str  # canonical
    version: str
    hashes: tuple[str, ...]


@dataclass(frozen=True)
class _Lock:
    """A resolution: the exact pins (what the fingerprint is made of) and the installer's text."""

    pins: tuple[_Pin, ...]
    text: str

    def pin(self, name: str) -> _Pin | None:
        return next((p for p in self.pins if p.name == name), None)


_PIN_HEAD = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*==\s*(?P<version>[^\s;\\]+)")


def _parse_requirements_lock(text: str) -> tuple[_Pin, ...]:
    """uv's `pip compile --generate-hashes` output: `name==version` or a wheel path, then hashes."""
    entries: list[list[str]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line[:1].isspace() and entries:
            entries[-1].append(stripped)
        else:
            entries.append([stripped])
    pins = []
    for entry in entries:
        head = entry[0].rstrip("\\").strip()
        hashes = tuple(sorted(m for part in entry for m in re.findall(r"--hash=(\S+)", part)))
        match = _PIN_HEAD.match(head)
        if match:
            pins.append(_Pin(canonicalize_name(match["name"]), _normal_version(match["version"]), hashes))
            continue
        location = head.split(" @ ", 1)[-1].split("#", 1)[0]
        try:
            name, version, _, _ = parse_wheel_filename(location.rsplit("/", 1)[-1])
        except InvalidWheelFilename as exc:
            raise InstallError(f"cannot read the resolver's pin {head!r}: {exc}") from exc
        pins.append(_Pin(name, _normal_version(str(version)), hashes))
    return tuple(pins)
