"""A wheel of the running `tercel-plugin-sdk`, so every plugin environment gets exactly this SDK
(and, with `installed_wheel`, of any installed distribution: the nightly run repacks the core).

`tercel-plugin-sdk` is not on an index: the SDK is whatever the main environment has (often an
editable install of a checkout). Its package folder is repacked as a wheel with a dist-info made
from the installed distribution's METADATA (so its dependencies resolve as usual) and its entry
points, and cached under `<root>/.sdk/` by version and a digest of the sources: an edited
checkout gives a new wheel, an unchanged one reuses the file (and the installer's cache with it).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.util
import io
import os
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from importlib import metadata
from pathlib import Path

__all__ = ["SDK_DISTRIBUTION", "SdkWheel", "installed_wheel", "sdk_wheel"]

SDK_DISTRIBUTION = "tercel-plugin-sdk"
SDK_PACKAGE = "tercel_sdk"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed times: the same sources give the same bytes
# the METADATA headers kept, written as Metadata-Version 2.1 so that any pip can read it
_KEPT_HEADERS = ("Name", "Version", "Summary", "Requires-Python", "Requires-Dist", "Provides-Extra")


@dataclass(frozen=True)
class SdkWheel:
    """A repacked wheel of this process (the SDK's, or another distribution's): its version, the
    digest it is cached by, and the file."""

    version: str
    digest: str
    path: Path


def _package_folder(package: str) -> Path:
    spec = importlib.util.find_spec(package)  # found, not imported: pydantic stays unloaded
    if spec is None or not spec.submodule_search_locations:
        raise LookupError(f"the {package} package cannot be found in {sys.executable}")
    return Path(next(iter(spec.submodule_search_locations)))


def _sources(folder: Path, package: str) -> dict[str, bytes]:
    """The package's files by their path in the wheel (caches and compiled files left out)."""
    files: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
            continue
        files[f"{package}/{path.relative_to(folder).as_posix()}"] = path.read_bytes()
    return files


def _metadata(dist: metadata.Distribution) -> bytes:
    installed = HeaderParser().parsestr(dist.read_text("METADATA") or "")
    lines = ["Metadata-Version: 2.1"]
    for header in _KEPT_HEADERS:
        lines += [f"{header}: {value}" for value in installed.get_all(header) or ()]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _wheel_bytes(files: dict[str, bytes], dist_info: str) -> bytes:
    contents = dict(files)
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for path, data in contents.items():
        writer.writerow([path, _record_hash(data), str(len(data))])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    contents[f"{dist_info}/RECORD"] = record.getvalue().encode("utf-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in contents.items():
            info = zipfile.ZipInfo(path, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def sdk_wheel(cache: Path) -> SdkWheel:
    """The wheel of the running SDK in `cache` (`<root>/.sdk`), built if this version and these
    sources have none yet. Safe with concurrent callers: the file appears whole or not at all."""
    return installed_wheel(cache, SDK_DISTRIBUTION, SDK_PACKAGE)


def installed_wheel(cache: Path, distribution: str, package: str) -> SdkWheel:
    """A wheel of the installed `distribution` (its import package `package`) in `cache`, built
    if this version and these sources have none yet; `LookupError` when it is not installed."""
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError as exc:
        raise LookupError(f"{distribution} is not installed in {sys.executable}") from exc
    version = dist.version
    sources = _sources(_package_folder(package), package)
    meta = _metadata(dist)
    digest = hashlib.sha256()
    for path, data in (*sources.items(), ("METADATA", meta)):
        digest.update(path.encode("utf-8") + b"\0" + hashlib.sha256(data).digest())
    key = digest.hexdigest()
    stem = distribution.replace("-", "_")
    # the folder is keyed, the file name stays standard (installers parse it)
    target = cache / f"{version}-{key[:16]}" / f"{stem}-{version}-py3-none-any.whl"
    if target.is_file():
        return SdkWheel(version, key, target)
    dist_info = f"{stem}-{version}.dist-info"
    files = dict(sources)
    files[f"{dist_info}/METADATA"] = meta
    files[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: tercel\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    text = dist.read_text("entry_points.txt")
    if text:
        files[f"{dist_info}/entry_points.txt"] = text.encode("utf-8")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".partial-", suffix=".whl")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(_wheel_bytes(files, dist_info))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return SdkWheel(version, key, target)
