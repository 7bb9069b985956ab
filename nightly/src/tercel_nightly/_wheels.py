"""Wheels of the running `tercel-core` and `tercel-plugin-sdk`, in a find-links folder.

Neither is on an index: a nightly tests plugins against the tercel that runs it (often an
editable checkout). The SDK's wheel is the one plugin environments get (`sdk_wheel`); the core's
is made the same way (`installed_wheel`): the installed `tercel` package repacked with a dist-info
built from the distribution's METADATA (so its dependencies resolve from the default index) and
its entry points (the `tercel` script), cached by version and a digest of the sources. Each (core, SDK) pair gets
one find-links folder holding exactly those two wheels; it is stable while they are, so the
installer's cache keeps serving them night after night.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tercel.plugins import installed_wheel, sdk_wheel

from ._matrix import SdkRelease
from .errors import NightlyError

__all__ = ["CORE_DISTRIBUTION", "CoreWheel", "core_wheel", "find_links", "running_sdk"]

CORE_DISTRIBUTION = "tercel-core"
CORE_PACKAGE = "tercel"


@dataclass(frozen=True)
class CoreWheel:
    """The running core's wheel: its version, the digest it is cached by, and the file."""

    version: str
    digest: str
    path: Path


def running_sdk(cache: Path) -> SdkRelease:
    """The running SDK as a release the matrix can choose (its wheel built or reused)."""
    try:
        built = sdk_wheel(cache / ".sdk")
    except LookupError as exc:
        raise NightlyError(f"cannot make the SDK wheel for the plugin environments: {exc}") from exc
    return SdkRelease(built.version, built.path)


def core_wheel(cache: Path) -> CoreWheel:
    """The running core's wheel in `cache/.core`, built if this version and these sources have
    none yet (safe with concurrent callers: the file appears whole or not at all)."""
    try:
        built = installed_wheel(cache / ".core", CORE_DISTRIBUTION, CORE_PACKAGE)
    except LookupError as exc:
        raise NightlyError(str(exc)) from exc
    return CoreWheel(built.version, built.digest, built.path)


def find_links(cache: Path, core: CoreWheel, sdk: SdkRelease) -> Path:
    """A folder with exactly this core's and this SDK's wheels, for `--find-links`."""
    sdk_key = hashlib.sha256(str(sdk.wheel.resolve()).encode() + sdk.wheel.read_bytes()).hexdigest()
    folder = cache / ".links" / f"core-{core.version}-{core.digest[:12]}-sdk-{sdk.version}-{sdk_key[:12]}"
    if folder.is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".partial-"))
    try:
        for wheel in (core.path, sdk.wheel):
            shutil.copy2(wheel, partial / wheel.name)
        os.replace(partial, folder)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)
        if not folder.is_dir():  # another runner made it meanwhile: keep theirs
            raise
    return folder
