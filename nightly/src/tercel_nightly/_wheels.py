"""Wheels of the running `tercel-core` and `tercel-plugin-sdk`, in a find-links folder.

Neither is on an index: a nightly tests plugins against the tercel that runs it (often an
editable checkout). The SDK's wheel is the one plugin environments get (`sdk_wheel`); the core's
is made the same way: the installed `tercel` package repacked with a dist-info built from the
distribution's METADATA (so its dependencies resolve from the default index) and its entry points
(the `tercel` script), cached by version and a digest of the sources. Each (core, SDK) pair gets
one find-links folder holding exactly those two wheels; it is stable while they are, so the
installer's cache keeps serving them night after night.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.util
import io
import os
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from importlib import metadata
from pathlib import Path

from tercel.plugins._sdk_wheel import sdk_wheel

from ._matrix import SdkRelease
from .errors import NightlyError

__all__ = ["CORE_DISTRIBUTION", "CoreWheel", "core_wheel", "find_links", "running_sdk"]

CORE_DISTRIBUTION = "tercel-core"
CORE_PACKAGE = "tercel"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed times: the same sources give the same bytes
_KEPT_HEADERS = ("Name", "Version", "Summary", "Requires-Python", "Requires-Dist", "Provides-Extra")
_WHEEL_FILE = b"Wheel-Version: 1.0\nGenerator: tercel-nightly\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


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


def _package_folder() -> Path:
    spec = importlib.util.find_spec(CORE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise NightlyError(f"the {CORE_PACKAGE} package cannot be found in {sys.executable}")
    return Path(next(iter(spec.submodule_search_locations)))


def _sources(folder: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
            continue
        files[f"{CORE_PACKAGE}/{path.relative_to(folder).as_posix()}"] = path.read_bytes()
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
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for path, data in files.items():
        writer.writerow([path, _record_hash(data), str(len(data))])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    contents = {**files, f"{dist_info}/RECORD": record.getvalue().encode("utf-8")}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in contents.items():
            info = zipfile.ZipInfo(path, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".partial-", suffix=".whl")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def core_wheel(cache: Path) -> CoreWheel:
    """The running core's wheel in `cache/.core`, built if this version and these sources have
    none yet (safe with concurrent callers: the file appears whole or not at all)."""
    try:
        dist = metadata.distribution(CORE_DISTRIBUTION)
    except metadata.PackageNotFoundError as exc:
        raise NightlyError(f"{CORE_DISTRIBUTION} is not installed in {sys.executable}") from exc
    sources = _sources(_package_folder())
    meta = _metadata(dist)
    digest = hashlib.sha256()
    for path, data in (*sources.items(), ("METADATA", meta)):
        digest.update(path.encode("utf-8") + b"\0" + hashlib.sha256(data).digest())
    key = digest.hexdigest()
    target = cache / ".core" / f"{dist.version}-{key[:16]}" / f"tercel_core-{dist.version}-py3-none-any.whl"
    if not target.is_file():
        dist_info = f"tercel_core-{dist.version}.dist-info"
        files = {**sources, f"{dist_info}/METADATA": meta, f"{dist_info}/WHEEL": _WHEEL_FILE}
        entry_points = dist.read_text("entry_points.txt")
        if entry_points:
            files[f"{dist_info}/entry_points.txt"] = entry_points.encode("utf-8")
        _write_atomically(target, _wheel_bytes(files, dist_info))
    return CoreWheel(dist.version, key, target)


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
