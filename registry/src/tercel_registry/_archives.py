"""Reading an uploaded archive without trusting it: every member named, sized, read and checked.

An upload is bytes chosen by someone else. These readers never extract to disk, never believe a
declared size (every decompression is capped), refuse member names that could land outside an
install folder, and hold in memory only the members the caller reads (a zip member is inflated
again when asked for; a tar is a stream, so the caller says up front which members to `keep`), so
a zip or gzip bomb costs milliseconds, not the registry's memory.

A wheel is also read the way a streaming installer would read it: local headers one after the
other from the first byte, each agreeing with the central directory, nothing hidden between them
and nothing after the end. Two parsers that disagree about what a zip holds are how a checked
wheel installs unchecked files, so an archive they could disagree about is refused.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Archive", "Budget", "Keep", "Member", "Refused", "human_size", "read_tar_gz", "read_zip"]

_CHUNK = 1 << 20  # decompress and hash in pieces: a big member never sits in memory whole
_TRICKS = "(path tricks are refused)"
_BOMB = "(decompression bombs are refused)"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")

_LOCAL_SIG = b"PK\x03\x04"
_CENTRAL_SIG = b"PK\x01\x02"
_END_SIG = b"PK\x05\x06"
# signature, flags, method, CRC-32, compressed size, size, name length, extra length
_LOCAL_HEADER = struct.Struct("<4s2xHH4xIIIHH")
_STORED, _DEFLATED = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED
_ZIP64_EXTRA = 0x0001
_FLAG_ENCRYPTED, _FLAG_DESCRIPTOR, _FLAG_UTF8 = 0x1, 0x8, 0x800


class Refused(Exception):
    """A reason to refuse an upload, worded without the file's name (the caller adds it);
    `reason` is the short code the registry reports."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class Budget(Protocol):
    """The limits a reader enforces (`tercel_registry._inspect.Limits` is one)."""

    @property
    def max_members(self) -> int: ...
    @property
    def max_uncompressed(self) -> int: ...
    @property
    def max_ratio(self) -> float: ...
    @property
    def ratio_min_size(self) -> int: ...


Keep = Callable[[str, int], bool]
"""Whether to keep a tar member's bytes, given its name and size (asked once per regular file,
in archive order): keep only what you will read, and only if it is within your limit."""


@dataclass(frozen=True)
class Member:
    """One file or folder of an archive, as actually read (not as declared)."""

    name: str
    size: int
    is_dir: bool
    sha256: bytes | None  # the content's digest (zip members: RECORD is checked against it)


class Archive:
    """An archive's members, all read and checked; `read` gives one member's bytes."""

    def __init__(self, members: dict[str, Member], reader: Callable[[str], bytes]) -> None:
        self.members = members
        self._reader = reader

    def read(self, name: str) -> bytes:
        """The bytes of `name` (a zip member is inflated again, capped as before; a tar member
        must have been kept). Check `members[name].size` against your limit first."""
        return self._reader(name)


def human_size(size: float) -> str:
    """`100 MiB`, `1.5 KiB`, `12 bytes`: limits as people write them."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.4g} {unit}"
    return f"{int(size)} bytes"


def _check_member_name(name: str) -> None:
    """Refuse a name an installer could write outside its folder, or read as another name."""
    if _CONTROL.search(name):
        raise Refused(f"member {name!r} has a control character in its name {_TRICKS}", "path")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused(f"member {name!r} has a name that is not UTF-8 {_TRICKS}", "path") from None
    if "\\" in name:
        raise Refused(f"member {name!r} has a backslash in its name {_TRICKS}", "path")
    if name.startswith("/") or _DRIVE.match(name):
        raise Refused(f"member {name!r} is an absolute path {_TRICKS}", "path")
    parts = name.removesuffix("/").split("/")
    if ".." in parts:
        raise Refused(f"member {name!r} leaves the archive {_TRICKS}", "path")
    if "" in parts or "." in parts:
        raise Refused(f"member {name!r} is not a plain relative path {_TRICKS}", "path")


def _too_many(budget: Budget) -> Refused:
    return Refused(f"holds more than {budget.max_members:,} members, the limit", "size")


def _over_ratio(size: int, compressed: int, budget: Budget) -> bool:
    return size > budget.ratio_min_size and size > budget.max_ratio * max(compressed, 1)


# ------------------------------------------------------------------------------------------ zip


_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError,
               struct.error, UnicodeDecodeError, NotImplementedError, IndexError, KeyError)


def read_zip(data: bytes, budget: Budget) -> Archive:
    """Every member of a zip (a wheel), in archive order: names checked, sizes and ratios
    bounded before anything is inflated, each member inflated with a cap, CRC checked, hashed
    and dropped (`Archive.read` inflates one again)."""
    # every central directory entry zipfile parses starts with this signature: counting them
    # bounds the member count before zipfile builds a ZipInfo for each
    if data.count(_CENTRAL_SIG) > budget.max_members:
        raise _too_many(budget)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos, start_dir = archive.infolist(), archive.start_dir
    except _ZIP_ERRORS as exc:
        if not data.startswith((_LOCAL_SIG, _END_SIG)):
            raise Refused("is not a zip archive (a wheel is a zip file)", "archive") from None
        raise Refused(f"is a damaged zip archive ({exc}); was the upload cut short?", "archive") from None
    _check_declared(infos, len(data), budget)
    members: dict[str, Member] = {}
    starts: dict[str, tuple[zipfile.ZipInfo, int]] = {}
    end = 0
    view = memoryview(data)
    for info in sorted(infos, key=lambda i: i.header_offset):
        if info.header_offset != end:
            where = "at the start of the archive" if end == 0 else f"where the previous one ends ({end:,})"
            raise Refused(
                f"member {info.orig_filename!r} starts at byte {info.header_offset:,}, not {where}: "
                "hidden or overlapping bytes are refused",
                "archive",
            )
        member, start = _read_zip_member(view, info)
        members[member.name], starts[member.name] = member, (info, start)
        end = start + info.compress_size
    if end != start_dir:
        raise Refused(
            f"its last member ends at byte {end:,} but its central directory starts at byte "
            f"{start_dir:,}: hidden or overlapping bytes are refused",
            "archive",
        )
    _check_zip_tail(data)

    def read(name: str) -> bytes:
        info, start = starts[name]
        return b"".join(_unpack(view[start : start + info.compress_size], info, name))

    return Archive({info.orig_filename: members[info.orig_filename] for info in infos}, read)


def _check_declared(infos: list[zipfile.ZipInfo], compressed: int, budget: Budget) -> None:
    """Names, duplicates, and the sizes the central directory declares, before inflating."""
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = info.orig_filename  # `filename` is cut at a NUL byte by zipfile
        _check_member_name(name)
        if name in seen:
            raise Refused(
                f"member {name!r} appears twice (installers would disagree about which one "
                "counts)",
                "path",
            )
        seen.add(name)
        if info.flag_bits & _FLAG_ENCRYPTED:
            raise Refused(f"member {name!r} is encrypted", "archive")
        if info.compress_type not in (_STORED, _DEFLATED):
            raise Refused(
                f"member {name!r} uses zip compression method {info.compress_type}; a wheel "
                "uses deflate or no compression",
                "archive",
            )
        if _over_ratio(info.file_size, info.compress_size, budget):
            raise Refused(
                f"member {name!r} expands {info.file_size / max(info.compress_size, 1):,.0f}x "
                f"({info.file_size:,} bytes from {info.compress_size:,}); the limit is "
                f"{budget.max_ratio:g}x {_BOMB}",
                "bomb",
            )
        total += info.file_size
    if total > budget.max_uncompressed:
        raise Refused(
            f"members declare {total:,} bytes uncompressed; the limit is "
            f"{human_size(budget.max_uncompressed)} {_BOMB}",
            "bomb",
        )
    if _over_ratio(total, compressed, budget):
        raise Refused(
            f"expands {total / max(compressed, 1):,.0f}x in total ({total:,} bytes from "
            f"{compressed:,}); the limit is {budget.max_ratio:g}x {_BOMB}",
            "bomb",
        )


def _zip64_sizes(extra: bytes, size: int, compressed: int) -> tuple[int, int]:
    """The real sizes of a local header whose 32-bit fields say 0xFFFFFFFF (APPNOTE 4.5.3)."""
    while len(extra) >= 4:
        kind, length = struct.unpack_from("<HH", extra)
        body, extra = extra[4 : 4 + length], extra[4 + length :]
        if kind != _ZIP64_EXTRA:
            continue
        values = iter(struct.unpack_from(f"<{len(body) // 8}Q", body))
        if size == 0xFFFFFFFF:
            size = next(values, size)
        if compressed == 0xFFFFFFFF:
            compressed = next(values, compressed)
    return size, compressed


def _read_zip_member(view: memoryview, info: zipfile.ZipInfo) -> tuple[Member, int]:
    """Check a member's local header against the central directory, then inflate it with a
    cap; returns the member and the offset where its data starts."""
    name, offset = info.orig_filename, info.header_offset
    header = view[offset : offset + _LOCAL_HEADER.size]
    if len(header) < _LOCAL_HEADER.size or bytes(header[:4]) != _LOCAL_SIG:
        raise Refused(f"member {name!r} has no local header at byte {offset:,}", "archive")
    _, flags, method, crc, compressed, size, name_length, extra_length = _LOCAL_HEADER.unpack(header)
    start = offset + _LOCAL_HEADER.size
    local_name = bytes(view[start : start + name_length])
    extra = bytes(view[start + name_length : start + name_length + extra_length])
    start += name_length + extra_length
    encoding = "utf-8" if info.flag_bits & _FLAG_UTF8 else "cp437"
    if local_name != name.encode(encoding, "surrogateescape"):
        raise Refused(
            f"member {name!r} is called {local_name!r} in its local header (installers could "
            "read different files than the registry checked)",
            "archive",
        )
    if flags & _FLAG_DESCRIPTOR:
        raise Refused(
            f"member {name!r} has its sizes after its data (a streamed zip); build the wheel "
            "with a standard build backend",
            "archive",
        )
    size, compressed = _zip64_sizes(extra, size, compressed)
    if (flags & _FLAG_ENCRYPTED, method, crc, compressed, size) != (
        info.flag_bits & _FLAG_ENCRYPTED, info.compress_type, info.CRC, info.compress_size, info.file_size
    ):
        raise Refused(
            f"member {name!r}: its local header and the central directory disagree about its "
            "compression, sizes or CRC (installers could read different bytes than the registry "
            "checked)",
            "archive",
        )
    end = start + info.compress_size
    if end > len(view):
        raise Refused(f"member {name!r} is cut short: was the upload truncated?", "archive")
    raw = view[start:end]
    digest = hashlib.sha256()
    running_crc = read = 0
    try:
        for piece in _unpack(raw, info, name):
            read += len(piece)
            running_crc = zlib.crc32(piece, running_crc)
            digest.update(piece)
    except zlib.error as exc:
        raise Refused(f"member {name!r} is damaged ({exc})", "archive") from None
    if read != info.file_size:
        raise Refused(
            f"member {name!r} holds {read:,} bytes, not the {info.file_size:,} its header "
            "declares",
            "archive",
        )
    if running_crc != info.CRC:
        raise Refused(f"member {name!r} fails its CRC-32 check (the file is damaged)", "archive")
    return Member(name, read, info.is_dir(), digest.digest()), start


def _unpack(raw: memoryview, info: zipfile.ZipInfo, name: str) -> Iterator[bytes | memoryview]:
    """A member's bytes in pieces, never more than its header declares (plus one piece)."""
    if info.compress_type == _STORED:
        if info.compress_size != info.file_size:
            raise Refused(
                f"member {name!r} is stored uncompressed but declares {info.compress_size:,} "
                f"stored bytes for {info.file_size:,}",
                "archive",
            )
        for at in range(0, len(raw), _CHUNK):
            yield raw[at : at + _CHUNK]
        return
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    pending: bytes | memoryview = raw
    produced = 0
    while not inflater.eof:
        piece = inflater.decompress(pending, _CHUNK)
        if not piece and len(inflater.unconsumed_tail) == len(pending):
            raise Refused(f"member {name!r} ends before its compressed data does (the file is "
                          "damaged)", "archive")
        pending = inflater.unconsumed_tail
        produced += len(piece)
        if produced > info.file_size:
            raise Refused(
                f"member {name!r} inflates to more than the {info.file_size:,} bytes its header "
                f"declares {_BOMB}",
                "bomb",
            )
        yield piece


def _check_zip_tail(data: bytes) -> None:
    """The end-of-central-directory record zipfile used (found as zipfile finds it) must end
    the file: bytes after it would be a second archive some tools read instead."""
    end = len(data) - 22
    if end >= 0 and data[end : end + 4] == _END_SIG and data[-2:] == b"\0\0":
        return
    end = data.rfind(_END_SIG, max(0, len(data) - 22 - 0xFFFF))
    comment = int.from_bytes(data[end + 20 : end + 22], "little") if end >= 0 else 0
    if end < 0 or end + 22 + comment != len(data):
        raise Refused("has data after the end of its zip archive (hidden data is refused)", "archive")


# ------------------------------------------------------------------------------------------ tar


class _Capped:
    """A decompressed stream that refuses to give more than `cap` bytes in total."""

    def __init__(self, source: gzip.GzipFile, cap: int, refusal: str) -> None:
        self._source, self._cap, self._refusal, self.total = source, cap, refusal, 0

    def read(self, size: int | None = -1) -> bytes:
        budget = self._cap - self.total + 1
        size = budget if size is None or size < 0 else min(size, budget)
        piece = self._source.read(size)
        self.total += len(piece)
        if self.total > self._cap:
            raise Refused(self._refusal, "bomb")
        return piece


_TAR_ERRORS = (tarfile.TarError, OSError, EOFError, zlib.error, ValueError, struct.error,
               UnicodeDecodeError)


def read_tar_gz(data: bytes, budget: Budget, keep: Keep) -> Archive:
    """Every member of a gzip'd tar (an sdist), read as a stream: only plain files and folders,
    names checked, the decompressed bytes capped, the gzip checksum verified to the end; the
    bytes of the regular files `keep` picks are kept for `Archive.read`."""
    if not data.startswith(b"\x1f\x8b"):
        raise Refused("is not a gzip'd tar archive (an sdist is a .tar.gz file)", "archive")
    by_ratio = max(budget.ratio_min_size, int(budget.max_ratio * len(data)))
    if budget.max_uncompressed <= by_ratio:
        cap = budget.max_uncompressed
        refusal = f"decompresses to more than {human_size(cap)}, the limit {_BOMB}"
    else:
        cap = by_ratio
        refusal = (f"decompresses to more than {budget.max_ratio:g}x its {len(data):,} bytes "
                   f"{_BOMB}")
    stream = _Capped(gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb"), cap, refusal)
    members: dict[str, Member] = {}
    kept: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
            for info in tar:
                if len(members) >= budget.max_members:
                    raise _too_many(budget)
                _check_tar_member(info, members)
                if info.isreg() and keep(info.name, info.size):
                    extracted = tar.extractfile(info)
                    content = extracted.read() if extracted is not None else b""
                    if len(content) != info.size:
                        raise Refused(f"member {info.name!r} is cut short", "archive")
                    kept[info.name] = content
                members[info.name] = Member(info.name, info.size, info.isdir(), None)
        while stream.read(_CHUNK):  # to the end: the gzip CRC, and nothing appended after it
            pass
    except _TAR_ERRORS as exc:
        raise Refused(
            f"is a damaged gzip'd tar archive ({exc or type(exc).__name__}); was the upload cut "
            "short?",
            "archive",
        ) from None
    return Archive(members, kept.__getitem__)


def _check_tar_member(info: tarfile.TarInfo, seen: dict[str, Member]) -> None:
    """Only plain files and folders, with plain names, each once: stricter than tarfile's
    `data_filter` (which allows links that stay inside the folder, and needs a real folder to
    resolve paths against), and pure."""
    name = info.name
    _check_member_name(name)
    if info.issym() or info.islnk():
        kind = "a symbolic link" if info.issym() else "a hard link"
        raise Refused(f"member {name!r} is {kind} to {info.linkname!r} (links are refused)", "path")
    if info.ischr() or info.isblk() or info.isfifo():
        kind = "a FIFO" if info.isfifo() else "a device"
        raise Refused(f"member {name!r} is {kind}; an sdist holds only files and folders", "archive")
    if info.issparse():
        raise Refused(f"member {name!r} is a sparse file; an sdist holds only plain files", "archive")
    if not (info.isreg() or info.isdir()):
        raise Refused(f"member {name!r} has tar type {info.type!r}; an sdist holds only files and "
                      "folders", "archive")
    if name in seen:
        raise Refused(f"member {name!r} appears twice (installers would disagree about which one "
                      "counts)", "path")
