"""Checking an upload before the registry accepts it, and describing the release file it is.

Releases are immutable, so the upload is the one chance to refuse a broken or hostile file.
`inspect_upload` turns a file name and its bytes into an `Inspection` (what the index and the
catalog show about the file) or raises `UploadRejected`, whose message says what is wrong and
where; the registry answers it to the uploader as a 400. Pure: no disk, no network, no database.

A wheel must be a tercel plugin: one `[tercel.plugins]` entry point, a `tercel-manifest.json`
in its package (so the catalog never imports plugin code) and a declared `tercel-plugin-sdk`
range. An sdist's entry points are unknown before it is built, so it is checked as an archive
whose PKG-INFO matches its name, and that something could build.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32
from typing import Any, NoReturn

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from ._archives import Archive, Member, Refused, human_size, read_tar_gz, read_zip

__all__ = ["Inspection", "Limits", "UploadRejected", "inspect_upload"]

SDK_DISTRIBUTION = "tercel-plugin-sdk"
ENTRY_POINT_GROUP = "tercel.plugins"
MANIFEST_FILENAME = "tercel-manifest.json"  # as tercel_sdk.manifest writes it (not imported: heavy)
MANIFEST_VERSION = 1

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PROJECT_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_MODULE = re.compile(r"^[^\W\d]\w*(\.[^\W\d]\w*)*$")
_SPEC_NAME = re.compile(r"\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*")
_JSON_KINDS = {list: "a JSON array", str: "a JSON string", int: "a JSON number",
               float: "a JSON number", bool: "a JSON boolean", type(None): "JSON null"}
_UNKNOWN = "UNKNOWN"  # what old setuptools wrote for a field it did not have
_SDK_EXAMPLE = f"{SDK_DISTRIBUTION}>=0.1,<0.2"
_ENTRY_POINT_HINT = (
    'declare it in pyproject.toml: [project.entry-points."tercel.plugins"] '
    'my_plugin = "tercel_plugin_my.plugin"'
)


class UploadRejected(Exception):
    """An upload the registry refuses; str(exc) says exactly why, `reason` is a short code."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:  # picklable across worker processes
        return type(self), (str(self), self.reason)


@dataclass(frozen=True)
class Limits:
    """What one upload may cost the registry to read."""

    max_file_size: int = 100 * 2**20
    max_uncompressed: int = 512 * 2**20  # total of the members' declared and actual sizes
    max_ratio: float = 200.0  # uncompressed/compressed, per member and in total
    max_members: int = 20_000
    max_metadata: int = 2**20  # METADATA / PKG-INFO (and WHEEL, entry_points.txt)
    max_manifest: int = 16 * 2**20  # tercel-manifest.json
    # the ratio is checked only above this size: a 20 KiB file of spaces is no bomb
    ratio_min_size: int = 2**20


@dataclass(frozen=True)
class Inspection:
    """One accepted release file, described for the index (PEP 503/691/658) and the catalog."""

    filename: str
    kind: str  # "wheel" | "sdist"
    name: str  # canonical (PEP 503 normalized) project name
    display_name: str  # the Name field as written
    version: str  # normalized PEP 440 version (str(Version(...)))
    sha256: str  # hex digest of the file
    size: int
    metadata: bytes  # the core metadata file (wheel: *.dist-info/METADATA; sdist: PKG-INFO)
    metadata_sha256: str
    summary: str | None
    description: str | None  # the long description (body of METADATA), for the plugin page
    description_content_type: str | None
    keywords: tuple[str, ...]
    requires_python: str | None
    requires_dist: tuple[str, ...]
    sdk_requirement: str | None  # the specifier of its `tercel-plugin-sdk` requirement
    entry_point: str | None  # wheel: the module of its `tercel.plugins` entry point
    manifest: dict[str, Any] | None  # wheel: its parsed tercel-manifest.json
    license: str | None
    author: str | None
    home_page: str | None  # or a Project-URL named Homepage/Source
    # whether `sdk_requirement` admits the `sdk_version` given (None: either is unknown)
    sdk_compatible: bool | None = None


def inspect_upload(
    filename: str, data: bytes, *, limits: Limits = Limits(), sdk_version: str | None = None
) -> Inspection:
    """Check an uploaded release file and describe it, or raise `UploadRejected`.

    `sdk_version` (the registry's SDK) only fills `sdk_compatible`: a release for another SDK
    is kept, never refused.
    """
    sdk = _sdk_version(sdk_version)
    file = _parse_filename(filename)
    try:
        if len(data) > limits.max_file_size:
            raise Refused(
                f"is {len(data):,} bytes; the registry accepts files up to "
                f"{human_size(limits.max_file_size)}",
                "size",
            )
        if file.kind == "wheel":
            return _inspect_wheel(file, data, limits, sdk)
        return _inspect_sdist(file, data, limits, sdk)
    except Refused as exc:
        raise UploadRejected(f"{filename}: {exc}", exc.reason) from None


# ------------------------------------------------------------------------------- the file name


@dataclass(frozen=True)
class _FileName:
    """What the file name says: its kind, project and version."""

    filename: str
    kind: str
    name: str
    version: Version

    def says(self) -> str:
        return f"the file name says {self.name} {self.version}"


def _parse_filename(filename: str) -> _FileName:
    """A wheel or `.tar.gz` sdist name, or the reason it is not one."""

    def refuse(why: str) -> NoReturn:
        raise UploadRejected(f"{filename!r}: {why}", "filename")

    if not isinstance(filename, str) or not filename:
        refuse("an upload needs a file name")
    if len(filename.encode("utf-8", "surrogatepass")) > 255:
        refuse("the file name is longer than 255 bytes")
    if "/" in filename or "\\" in filename:
        refuse("a file name holds no path separators")
    if _CONTROL.search(filename):
        refuse("the file name holds a control character")
    if filename.endswith(".whl"):
        try:
            name, version, _, _ = parse_wheel_filename(filename)
        except InvalidWheelFilename as exc:
            refuse(f"not a valid wheel file name ({exc}); a wheel is named "
                   "{name}-{version}-{python tag}-{abi tag}-{platform tag}.whl")
        return _FileName(filename, "wheel", name, version)
    if filename.endswith(".tar.gz"):
        name_part, sep, version_part = filename.removesuffix(".tar.gz").rpartition("-")
        if not sep or not _PROJECT_NAME.match(name_part):
            refuse("not a valid sdist file name; an sdist is named {name}-{version}.tar.gz")
        try:
            version = Version(version_part)
        except InvalidVersion:
            refuse(f"its version {version_part!r} is not a valid PEP 440 version")
        return _FileName(filename, "sdist", canonicalize_name(name_part), version)
    if filename.endswith(".zip"):
        refuse("zip sdists are not accepted; an sdist is a .tar.gz file (PEP 625)")
    refuse("not a wheel (.whl) or an sdist (.tar.gz), the only files the registry accepts")


def _same_version(text: str, version: Version) -> bool:
    try:
        return str(Version(text)) == str(version)
    except InvalidVersion:
        return False


def _sdk_version(sdk_version: str | None) -> Version | None:
    if sdk_version is None:
        return None
    try:
        return Version(sdk_version)
    except InvalidVersion:
        raise ValueError(f"sdk_version {sdk_version!r} is not a valid version") from None


# ------------------------------------------------------------------------------- the formats


def _record_limit(limits: Limits) -> int:
    """RECORD grows with the member count: a KiB per member allowed is far more than a line."""
    return limits.max_members * 1024


def _inspect_wheel(file: _FileName, data: bytes, limits: Limits, sdk: Version | None) -> Inspection:
    archive = read_zip(data, limits)
    members = archive.members
    dist_info = _dist_info(members, file)
    for required in ("METADATA", "WHEEL", "RECORD"):
        if f"{dist_info}/{required}" not in members:
            raise Refused(f"has no {dist_info}/{required}; build the wheel with a build backend",
                          "metadata")
    wheel = _Headers(_content(archive, f"{dist_info}/WHEEL", limits.max_metadata), f"{dist_info}/WHEEL")
    wheel_version = wheel.single("Wheel-Version")
    if wheel_version is None or wheel_version.split(".")[0] != "1":
        raise Refused(f"{dist_info}/WHEEL says Wheel-Version {wheel_version!r}; installers read "
                      "version 1.x", "metadata")
    path = f"{dist_info}/METADATA"
    raw = _content(archive, path, limits.max_metadata)
    metadata = _Headers(raw, path)
    _check_identity(metadata, file, "METADATA")
    _check_record(archive, dist_info, limits)
    module = _entry_point(archive, dist_info, limits)
    manifest = _plugin_manifest(archive, dist_info, file, module, limits)
    requirements = _requirements(metadata)
    sdk_requirement = _sdk_requirement(requirements)
    if sdk_requirement is None:
        raise Refused(
            f"does not declare the {SDK_DISTRIBUTION} versions it works with: a plugin must; "
            f"add a dependency such as '{_SDK_EXAMPLE}'",
            "sdk",
        )
    if not sdk_requirement:
        raise Refused(
            f"requires {SDK_DISTRIBUTION} without a version range: a plugin declares the SDK "
            f"versions it works with, such as '{_SDK_EXAMPLE}'",
            "sdk",
        )
    return _describe(file, data, raw, metadata, requirements, sdk_requirement, module, manifest, sdk)


def _inspect_sdist(file: _FileName, data: bytes, limits: Limits, sdk: Version | None) -> Inspection:
    seen: list[str] = []

    def keep(name: str, size: int) -> bool:
        """The first `<folder>/PKG-INFO` (an sdist with two folders is refused anyway), unless
        it is over the limit (then `_content` refuses it by its size)."""
        if seen or name.count("/") != 1 or not name.endswith("/PKG-INFO"):
            return False
        seen.append(name)
        return size <= limits.max_metadata

    archive = read_tar_gz(data, limits, keep)
    members = archive.members
    root = _sdist_root(members, file)
    path = f"{root}/PKG-INFO"
    if path not in members or members[path].is_dir:
        raise Refused(f"has no {path} (its metadata); build the sdist with a build backend "
                      "(python -m build --sdist, uv build)", "metadata")
    raw = _content(archive, path, limits.max_metadata)
    metadata = _Headers(raw, path)
    _check_identity(metadata, file, "PKG-INFO")
    buildable = (f"{root}/pyproject.toml", f"{root}/setup.py")
    if not any(p in members and not members[p].is_dir for p in buildable):
        raise Refused(f"has neither {buildable[0]} nor {buildable[1]}: nothing could build it",
                      "archive")
    requirements = _requirements(metadata)
    return _describe(file, data, raw, metadata, requirements, _sdk_requirement(requirements),
                     None, None, sdk)


def _content(archive: Archive, path: str, limit: int) -> bytes:
    """A member's bytes, if it is no bigger than `limit`."""
    size = archive.members[path].size
    if size > limit:
        raise Refused(f"{path} is {size:,} bytes; the limit is {human_size(limit)}", "size")
    return archive.read(path)


def _utf8(raw: bytes, path: str, reason: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(
            f"{path} is not UTF-8 (byte {exc.start:,} is {raw[exc.start : exc.start + 1]!r})",
            reason,
        ) from None


def _dist_info(members: Mapping[str, Member], file: _FileName) -> str:
    """The wheel's one `.dist-info` folder, named like the file."""
    folders = sorted({
        name.split("/", 1)[0] for name in members
        if "/" in name and name.split("/", 1)[0].endswith(".dist-info")
    })
    if not folders:
        raise Refused("has no .dist-info folder (a wheel's metadata); build the wheel with a "
                      "build backend", "metadata")
    if len(folders) > 1:
        raise Refused(f"has {len(folders)} .dist-info folders ({', '.join(folders)}); a wheel has "
                      "exactly one", "metadata")
    folder = folders[0]
    name_part, _, version_part = folder.removesuffix(".dist-info").rpartition("-")
    if canonicalize_name(name_part) != file.name or not _same_version(version_part, file.version):
        expected = f"{file.name.replace('-', '_')}-{file.version}.dist-info"
        raise Refused(f"{file.says()} but its metadata folder is {folder!r} (expected "
                      f"{expected!r})", "mismatch")
    return folder


def _sdist_root(members: Mapping[str, Member], file: _FileName) -> str:
    """The sdist's one top-level folder, named like the file."""
    if not members:
        raise Refused("is an empty archive", "archive")
    tops = sorted({name.split("/", 1)[0] for name in members})
    if len(tops) > 1:
        shown = ", ".join(repr(t) for t in tops[:5]) + (", ..." if len(tops) > 5 else "")
        raise Refused(f"has {len(tops)} top-level entries ({shown}); an sdist holds one folder, "
                      "{name}-{version}", "archive")
    root = tops[0]
    if root in members and not members[root].is_dir:
        raise Refused(f"holds only the file {root!r}; an sdist holds one folder, {{name}}-{{version}}",
                      "archive")
    name_part, _, version_part = root.rpartition("-")
    if canonicalize_name(name_part) != file.name or not _same_version(version_part, file.version):
        raise Refused(f"{file.says()} but its folder is {root!r}", "mismatch")
    return root


# ---------------------------------------------------------------------------- core metadata


class _Headers:
    """A core metadata file (or WHEEL) read with email's parser, as installers read it."""

    def __init__(self, raw: bytes, path: str) -> None:
        self.path = path
        self.message: Message = HeaderParser(policy=compat32).parsestr(_utf8(raw, path, "metadata"))

    def all(self, field: str) -> list[str]:
        return [_unfold(str(v)) for v in self.message.get_all(field, [])]

    def single(self, field: str) -> str | None:
        """A field that must appear at most once: two would let tools disagree."""
        values = self.all(field)
        if len(values) > 1:
            raise Refused(f"{self.path} has {len(values)} {field} fields; it may have one",
                          "metadata")
        return values[0] if values and values[0] else None

    def optional(self, field: str, *, multiline: bool = False) -> str | None:
        values = self.message.get_all(field, [])
        if not values:
            return None
        value = _unfold_lines(str(values[0])) if multiline else _unfold(str(values[0]))
        return None if not value or value == _UNKNOWN else value

    def body(self) -> str | None:
        payload = self.message.get_payload()
        if isinstance(payload, str) and payload.strip():
            return payload
        return self.optional("Description", multiline=True)  # metadata before 2.1


def _unfold(value: str) -> str:
    """A folded one-line header value, on one line."""
    return " ".join(line.strip() for line in value.splitlines()).strip()


def _unfold_lines(value: str) -> str:
    """A multi-line header value (License, Description), without its continuation indent."""
    lines = value.splitlines()
    rest = [line[8:] if line.startswith(" " * 7 + "|") or line.startswith(" " * 8) else line.lstrip()
            for line in lines[1:]]
    return "\n".join([lines[0].strip(), *rest]).strip() if lines else ""


def _check_identity(metadata: _Headers, file: _FileName, label: str) -> None:
    """Metadata-Version, Name and Version present, valid, and what the file name says."""
    path = metadata.path
    metadata_version = metadata.single("Metadata-Version")
    if metadata_version is None:
        raise Refused(f"{path} has no Metadata-Version", "metadata")
    if not re.fullmatch(r"[12]\.\d+", metadata_version):
        raise Refused(f"{path} has Metadata-Version {metadata_version!r}; installers read 1.x "
                      "and 2.x", "metadata")
    name = metadata.single("Name")
    if name is None:
        raise Refused(f"{path} has no Name", "metadata")
    if not _PROJECT_NAME.match(name):
        raise Refused(f"{path} has Name {name!r}, which is not a valid project name", "metadata")
    version = metadata.single("Version")
    if version is None:
        raise Refused(f"{path} has no Version", "metadata")
    try:
        normalized = str(Version(version))
    except InvalidVersion:
        raise Refused(f"{path} has Version {version!r}, which is not a valid PEP 440 version",
                      "metadata") from None
    if canonicalize_name(name) != file.name or normalized != str(file.version):
        raise Refused(f"{file.says()} but {label} says {name} {version}", "mismatch")


def _requirements(metadata: _Headers) -> list[tuple[str, Requirement]]:
    """Every Requires-Dist, as written and parsed; one pip could not parse is refused now."""
    parsed = []
    for line in metadata.all("Requires-Dist"):
        try:
            parsed.append((line, Requirement(line)))
        except InvalidRequirement as exc:
            raise Refused(f"{metadata.path} has an invalid Requires-Dist {line!r} ({exc})",
                          "metadata") from None
    return parsed


def _sdk_requirement(requirements: list[tuple[str, Requirement]]) -> str | None:
    """The specifier of the first `tercel-plugin-sdk` requirement with one, as written
    (`>=0.1,<0.2`, not packaging's sorted `<0.2,>=0.1`); "" when it has none; None when
    there is no such requirement. Markers are ignored."""
    found = [(line, r) for line, r in requirements if canonicalize_name(r.name) == SDK_DISTRIBUTION]
    for line, requirement in found:
        if not requirement.specifier:
            continue
        head = line.split(";", 1)[0]
        match = _SPEC_NAME.match(head)
        written = head[match.end() if match else 0 :].strip().removeprefix("(").removesuffix(")")
        try:
            specifier = ",".join(str(Specifier(p.strip())) for p in written.split(",") if p.strip())
            if SpecifierSet(specifier) == requirement.specifier:
                return specifier
        except InvalidSpecifier:
            pass
        return str(requirement.specifier)
    return "" if found else None


def _describe(
    file: _FileName,
    data: bytes,
    raw: bytes,
    metadata: _Headers,
    requirements: list[tuple[str, Requirement]],
    sdk_requirement: str | None,
    entry_point: str | None,
    manifest: dict[str, Any] | None,
    sdk: Version | None,
) -> Inspection:
    """The accepted file, described from its (already checked) metadata."""
    requires_python = metadata.optional("Requires-Python")
    if requires_python is not None:
        try:
            SpecifierSet(requires_python)
        except InvalidSpecifier:
            raise Refused(f"{metadata.path} has an invalid Requires-Python {requires_python!r}",
                          "metadata") from None
    keywords: list[str] = []
    for value in metadata.all("Keywords"):
        keywords += [w.strip() for w in value.split("," if "," in value else None) if w.strip()]
    compatible = None
    if sdk is not None and sdk_requirement is not None:
        compatible = SpecifierSet(sdk_requirement).contains(sdk, prereleases=True)
    return Inspection(
        filename=file.filename,
        kind=file.kind,
        name=file.name,
        display_name=metadata.single("Name") or file.name,
        version=str(file.version),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        metadata=raw,
        metadata_sha256=hashlib.sha256(raw).hexdigest(),
        summary=metadata.optional("Summary"),
        description=metadata.body(),
        description_content_type=metadata.optional("Description-Content-Type"),
        keywords=tuple(keywords),
        requires_python=requires_python,
        requires_dist=tuple(line for line, _ in requirements),
        sdk_requirement=sdk_requirement,
        entry_point=entry_point,
        manifest=manifest,
        license=metadata.optional("License-Expression") or metadata.optional("License", multiline=True),
        author=metadata.optional("Author") or metadata.optional("Author-email"),
        home_page=metadata.optional("Home-page") or _project_url(metadata),
        sdk_compatible=compatible,
    )


def _project_url(metadata: _Headers) -> str | None:
    """The Project-URL labelled Homepage, else Source (labels compared as PEP 753 does)."""
    urls: dict[str, str] = {}
    for value in metadata.all("Project-URL"):
        label, _, url = value.partition(",")
        urls.setdefault(re.sub(r"[^a-z0-9]", "", label.lower()), url.strip())
    return next((urls[k] for k in ("homepage", "source", "sourcecode") if urls.get(k)), None)


# ---------------------------------------------------------------------------- wheel contents


def _check_record(archive: Archive, dist_info: str, limits: Limits) -> None:
    """Every file is listed in RECORD with the sha256 it has: what installers check later,
    and proof the wheel was not edited after it was built."""
    path = f"{dist_info}/RECORD"
    text = _utf8(_content(archive, path, _record_limit(limits)), path, "metadata")
    listed: dict[str, tuple[str, str]] = {}
    try:
        for number, row in enumerate(csv.reader(io.StringIO(text, newline="")), 1):
            if not row:
                continue
            if len(row) != 3:
                raise Refused(f"{path} line {number} is not 'path,hash,size'", "metadata")
            listed[row[0]] = (row[1], row[2])
    except csv.Error as exc:
        raise Refused(f"{path} is not a valid CSV file ({exc})", "metadata") from None
    unsigned = {path, f"{dist_info}/RECORD.jws", f"{dist_info}/RECORD.p7s"}
    for member in archive.members.values():
        if member.is_dir or member.name in unsigned:
            continue
        if member.name not in listed:
            raise Refused(f"member {member.name!r} is not listed in {path} (every file of a wheel "
                          "is)", "archive")
        hash_text, size_text = listed[member.name]
        algorithm, _, value = hash_text.partition("=")
        if algorithm != "sha256":
            what = f"with a {algorithm} hash" if hash_text else "without a hash"
            raise Refused(f"{path} lists {member.name!r} {what}; the registry checks sha256, as "
                          "build backends write it", "archive")
        assert member.sha256 is not None  # zip members are always hashed
        if value.rstrip("=") != base64.urlsafe_b64encode(member.sha256).rstrip(b"=").decode():
            raise Refused(f"member {member.name!r} does not have the sha256 {path} lists (was the "
                          "wheel changed after it was built?)", "archive")
        if size_text and size_text != str(member.size):
            raise Refused(f"member {member.name!r} is {member.size:,} bytes but {path} says "
                          f"{size_text}", "archive")


def _entry_point(archive: Archive, dist_info: str, limits: Limits) -> str:
    """The module of the wheel's one `[tercel.plugins]` entry point."""
    path = f"{dist_info}/entry_points.txt"
    if path not in archive.members:
        raise Refused(f"is not a tercel plugin: it has no {path}, so no [{ENTRY_POINT_GROUP}] "
                      f"entry point; {_ENTRY_POINT_HINT}", "not-a-plugin")
    groups = _parse_entry_points(_utf8(_content(archive, path, limits.max_metadata), path,
                                       "metadata"), path)
    entries = groups.get(ENTRY_POINT_GROUP, [])
    if not entries:
        raise Refused(f"is not a tercel plugin: {path} has no [{ENTRY_POINT_GROUP}] entry point; "
                      f"{_ENTRY_POINT_HINT}", "not-a-plugin")
    if len(entries) > 1:
        names = ", ".join(key for key, _ in entries)
        raise Refused(f"{path} declares {len(entries)} [{ENTRY_POINT_GROUP}] entry points "
                      f"({names}); a plugin distribution declares exactly one", "not-a-plugin")
    key, value = entries[0]
    module = value.split("[", 1)[0].split(":", 1)[0].strip()
    if not _MODULE.match(module):
        raise Refused(f"{path}: the [{ENTRY_POINT_GROUP}] entry point {key} = {value!r} does not "
                      "name a module", "not-a-plugin")
    return module


def _parse_entry_points(text: str, path: str) -> dict[str, list[tuple[str, str]]]:
    """`[group]` sections of `name = value` lines, as importlib.metadata reads them."""
    groups: dict[str, list[tuple[str, str]]] = {}
    group: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1].strip()
            groups.setdefault(group, [])
            continue
        key, sep, value = line.partition("=")
        if not sep or group is None:
            raise Refused(f"{path} line {number} is not 'name = value' inside a [group]",
                          "metadata")
        groups[group].append((key.strip(), value.strip()))
    return groups


def _plugin_manifest(
    archive: Archive, dist_info: str, file: _FileName, module: str, limits: Limits
) -> dict[str, Any]:
    """The entry point's package, its module, and the manifest beside the package's
    `__init__.py` (where the core looks for it); parsed and checked."""
    members = archive.members
    stem = dist_info.removesuffix(".dist-info")
    roots = ("", f"{stem}.data/purelib/", f"{stem}.data/platlib/")
    top = module.split(".")[0]
    root = next((r for r in roots if any(n.startswith(f"{r}{top}/") for n in members)), None)
    if root is None:
        single = any(f"{r}{top}.py" in members for r in roots)
        raise Refused(
            f"is not a tercel plugin: its entry point module {module!r} needs the package "
            f"{top!r}, which is not in the wheel"
            + (" (it is a single module; a plugin is a package, holding its manifest)" if single else ""),
            "not-a-plugin",
        )
    module_path = root + module.replace(".", "/")
    candidates = (f"{module_path}.py", f"{module_path}/__init__.py", f"{module_path}.pyc",
                  f"{module_path}/__init__.pyc")
    if not any(c in members for c in candidates) and not any(
        n.startswith(f"{module_path}.") and n.endswith((".so", ".pyd")) for n in members
    ):
        raise Refused(f"is not a tercel plugin: its entry point module {module!r} is not in the "
                      f"wheel (no {module_path}.py or {module_path}/__init__.py)", "not-a-plugin")
    path = f"{root}{top}/{MANIFEST_FILENAME}"
    regenerate = f"generate it before building: python -m tercel_sdk.manifest {module} --write"
    if path not in members:
        raise Refused(f"has no {path}: a plugin ships the manifest of its types in its package; "
                      f"{regenerate}", "manifest")
    return _check_manifest(_content(archive, path, limits.max_manifest), path, file, module,
                           regenerate)


def _check_manifest(
    raw: bytes, path: str, file: _FileName, module: str, regenerate: str
) -> dict[str, Any]:
    """A manifest the catalog can read: version 1, typed entries, made for this release."""

    def refuse(why: str) -> NoReturn:
        raise Refused(f"{path} {why}; {regenerate}", "manifest")

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        refuse(f"is not UTF-8 (byte {exc.start:,} is {raw[exc.start : exc.start + 1]!r})")
    try:
        manifest = json.loads(text)
    except (ValueError, RecursionError) as exc:
        refuse(f"is not valid JSON ({exc})")
    if not isinstance(manifest, dict):
        refuse(f"is {_JSON_KINDS.get(type(manifest), 'a JSON value')}, not an object")
    manifest_version = manifest.get("manifestVersion")
    if type(manifest_version) is not int or manifest_version != MANIFEST_VERSION:
        refuse(f"has manifestVersion {manifest_version!r}; the registry reads version "
               f"{MANIFEST_VERSION}")
    types = manifest.get("types")
    if not isinstance(types, list):
        refuse("has no 'types' list")
    for index, entry in enumerate(types):
        for key in ("type", "kind"):
            if not isinstance(entry, dict) or not isinstance(entry.get(key), str) or not entry[key]:
                refuse(f"types[{index}] has no {key!r}")
    distribution, version = manifest.get("distribution"), manifest.get("version")
    if distribution not in (None, "") and (
        not isinstance(distribution, str) or canonicalize_name(distribution) != file.name
    ):
        refuse(f"was generated for distribution {distribution!r}, not {file.name}")
    if version not in (None, "") and (
        not isinstance(version, str) or not _same_version(version, file.version)
    ):
        refuse(f"was generated for version {version!r}, not {file.version}")
    generated_for = manifest.get("module")
    if generated_for not in (None, "") and generated_for != module:
        refuse(f"was generated for module {generated_for!r}, but the entry point is {module!r}")
    return manifest
