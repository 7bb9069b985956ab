"""Pure helpers of the namespace-files API: paths as Kestra's clients write them, folder listings,
Kestra's `FileAttributes` JSON, and the checks of an uploaded zip archive.

Kestra addresses a namespace file by its path from the namespace root, written with a leading
``/`` (``/scripts/etl.py``); tercel's `NamespaceFiles` takes it without (``scripts/etl.py``).
`api_path` turns one into the other, refusing what `check_namespace_path` refuses (``..``, NUL,
backslashes...) plus what only an API sees: a URI with a scheme, and ``//`` (a second root).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tercel.storage import NamespaceFileError, NamespaceFileInfo, check_namespace_path

__all__ = [
    "MAX_ZIP_ENTRIES",
    "MAX_ZIP_TOTAL",
    "Entry",
    "api_path",
    "children",
    "display",
    "file_attributes",
    "folder_attributes",
    "zip_plan",
]

MAX_ZIP_ENTRIES = 10_000
MAX_ZIP_TOTAL = 1 << 30  # 1 GiB uncompressed: an archive claiming more is refused (zip bomb)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:/")


def api_path(raw: str | None, *, folder: bool = False) -> str:
    """The namespace-relative path of an API `path` (``/a/b`` or ``a/b``; ``""`` is the root for
    a folder). Raises `NamespaceFileError` naming the path and what is wrong with it."""
    what = "folder" if folder else "file"
    if raw is None or raw in ("", "/"):
        if folder:
            return ""
        raise NamespaceFileError(f"a namespace {what} path is required (like /scripts/etl.py)")
    if _SCHEME.match(raw):
        raise NamespaceFileError(
            f"invalid namespace {what} path {raw!r}: give a path from the namespace root (like "
            "/scripts/etl.py), not a URI"
        )
    if raw.startswith("//"):
        raise NamespaceFileError(
            f"invalid namespace {what} path {raw!r}: it must be one path from the namespace root "
            "(a single leading '/')"
        )
    relative = raw[1:] if raw.startswith("/") else raw
    try:
        return check_namespace_path(relative, folder=folder)
    except NamespaceFileError as exc:
        # the core names the path without its leading '/': name it as the client wrote it
        raise NamespaceFileError(str(exc).replace(repr(relative), repr(raw), 1)) from None


def display(path: str) -> str:
    """A namespace-relative path as the API shows it (``/scripts/etl.py``, ``/`` for the root)."""
    return "/" + path


def _millis(when: datetime | None) -> int:
    return int(when.timestamp() * 1000) if when is not None else 0


def file_attributes(info: NamespaceFileInfo) -> dict[str, Any]:
    """Kestra's `FileAttributes` of a file, plus its `path`."""
    millis = _millis(info.modified)
    return {
        "fileName": info.name,
        "path": display(info.path),
        "type": "File",
        "size": info.size,
        "lastModifiedTime": millis,
        "creationTime": millis,
    }


def folder_attributes(path: str, files: Iterable[NamespaceFileInfo]) -> dict[str, Any]:
    """Kestra's `FileAttributes` of a folder (`path` relative, ``""`` for the root): size 0, last
    modified when the newest file under it was."""
    newest = max((f.modified for f in files), default=None)
    millis = _millis(newest)
    return {
        "fileName": path.rsplit("/", 1)[-1],
        "path": display(path + "/" if path else ""),
        "type": "Directory",
        "size": 0,
        "lastModifiedTime": millis,
        "creationTime": millis,
    }


def children(folder: str, files: Iterable[NamespaceFileInfo]) -> list[dict[str, Any]]:
    """The entries directly in `folder`, given every file under it (recursively): its files, and
    one Directory entry per sub-folder. Folders first, then files, each sorted by name."""
    base = folder + "/" if folder else ""
    direct: list[dict[str, Any]] = []
    below: dict[str, list[NamespaceFileInfo]] = {}
    for info in files:
        if not info.path.startswith(base):
            continue
        rest = info.path[len(base):]
        head, sep, _ = rest.partition("/")
        if sep:
            below.setdefault(head, []).append(info)
        else:
            direct.append(file_attributes(info))
    folders = [folder_attributes(base + name, items) for name, items in sorted(below.items())]
    return folders + sorted(direct, key=lambda e: e["fileName"])


@dataclass(frozen=True)
class Entry:
    """One file of a zip archive, where it goes."""

    member: zipfile.ZipInfo
    path: str


def zip_plan(archive: zipfile.ZipFile, folder: str) -> list[Entry]:
    """Where every file of an uploaded archive goes under `folder`, every name checked first (so
    nothing is written when one is bad). Raises `NamespaceFileError` for a bad name (``..``,
    absolute, NUL...) and `ValueError` for an archive over the limits."""
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(members) > MAX_ZIP_ENTRIES:
        raise ValueError(f"the archive has {len(members)} files; at most {MAX_ZIP_ENTRIES} are imported at once")
    total = sum(m.file_size for m in members)
    if total > MAX_ZIP_TOTAL:
        raise ValueError(
            f"the archive unpacks to {total} bytes; at most {MAX_ZIP_TOTAL} are imported at once"
        )
    plan = []
    seen: set[str] = set()
    for member in members:
        name = member.filename
        if name.startswith("/") or re.match(r"[A-Za-z]:", name):
            raise NamespaceFileError(f"invalid file {name!r} in the archive: its path is absolute")
        try:
            relative = check_namespace_path(name)
        except NamespaceFileError as exc:
            raise NamespaceFileError(f"invalid file {name!r} in the archive: {exc}") from None
        target = f"{folder}/{relative}" if folder else relative
        check_namespace_path(target)
        if target in seen:
            raise NamespaceFileError(f"the archive holds {name!r} twice")
        seen.add(target)
        plan.append(Entry(member, target))
    for entry in plan:  # a name both a file and a folder ("a" and "a/b") cannot be stored
        parts = entry.path.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in seen:
                raise NamespaceFileError(
                    f"the archive holds {'/'.join(parts[:i])!r} both as a file and as a folder"
                )
    return plan
