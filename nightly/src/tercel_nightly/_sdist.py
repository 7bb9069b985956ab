"""Unpack a plugin's sdist to run the tests it ships, and nothing else from it.

The archive comes from a registry anyone with a token can publish to: it is unpacked with the
`data` filter (no absolute paths, no `..`, no links out of the folder, no devices, no setuid
bits), into a fresh folder. What is run afterwards is its `tests/` folder against the installed
wheel: the sources beside it are never put on `sys.path`.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

from .errors import NightlyError

__all__ = ["SdistError", "extract_sdist", "find_tests"]


class SdistError(NightlyError):
    """The sdist cannot be unpacked, or holds no tests (the run is then an `error`)."""


def extract_sdist(archive: Path, dest: Path) -> Path:
    """Unpack `archive` (`.tar.gz`) into `dest`; returns its one top folder (`name-version/`)."""
    if not archive.name.endswith((".tar.gz", ".tgz")):
        raise SdistError(f"{archive.name}: only .tar.gz sdists are supported")
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise SdistError(f"{archive.name} cannot be unpacked: {exc}") from None
    tops = [p for p in dest.iterdir() if not p.name.startswith(".")]
    if len(tops) != 1 or not tops[0].is_dir():
        names = ", ".join(sorted(p.name for p in tops)) or "nothing"
        raise SdistError(f"{archive.name} should hold one top folder (name-version/), it holds {names}")
    return tops[0]


def find_tests(root: Path) -> Path:
    """The sdist's `tests/` folder."""
    tests = root / "tests"
    if not tests.is_dir():
        raise SdistError(f"the sdist has no tests/ folder (it has {', '.join(sorted(p.name for p in root.iterdir()))})")
    return tests
