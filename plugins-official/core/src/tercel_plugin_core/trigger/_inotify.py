"""Linux inotify through ctypes: a folder watcher tells at once that something changed, with no
dependency to install. Elsewhere (or if the kernel refuses) `Inotify.open()` returns None and
the caller scans on an interval instead.

Only what `FileWatch` needs: watch folders, read the events waiting (non-blocking), and say
which files are being written (created or modified, not yet closed), so a half-written file
is never handed to a flow.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Inotify", "InotifyEvent"]

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ISDIR = 0x40000000

_MASK = (
    IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
    | IN_DELETE_SELF | IN_MOVE_SELF
)
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len (then `len` bytes of name)


@dataclass(frozen=True)
class InotifyEvent:
    path: Path  # the file or folder the event is about
    mask: int

    @property
    def is_dir(self) -> bool:
        return bool(self.mask & IN_ISDIR)

    @property
    def writing(self) -> bool:
        """A file is being written (its writer has not closed it yet)."""
        return not self.is_dir and bool(self.mask & (IN_CREATE | IN_MODIFY))

    @property
    def settled(self) -> bool:
        """Something a scan should look at now: a file closed, moved or deleted, a folder
        created or removed, or events lost (overflow)."""
        if self.mask & IN_Q_OVERFLOW:
            return True
        return bool(self.mask & (IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE | IN_ATTRIB
                                 | IN_DELETE_SELF | IN_MOVE_SELF)) or (self.is_dir and bool(self.mask & IN_CREATE))


class Inotify:
    """An inotify instance: `fileno()` for the event loop, `add(folder)`, `read()`, `close()`."""

    def __init__(self, libc: ctypes.CDLL, fd: int) -> None:
        self._libc = libc
        self._fd = fd
        self._folders: dict[int, Path] = {}

    @classmethod
    def open(cls) -> Inotify | None:
        """A new instance, or None where inotify is not available."""
        if not sys.platform.startswith("linux"):
            return None
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            init = libc.inotify_init1
        except (OSError, AttributeError):
            return None
        fd = init(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            return None
        return cls(libc, fd)

    def fileno(self) -> int:
        return self._fd

    def add(self, folder: Path) -> None:
        """Watch `folder` (not its sub-folders: add them one by one). OSError when refused."""
        wd = self._libc.inotify_add_watch(self._fd, os.fsencode(str(folder)), _MASK)
        if wd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"cannot watch {folder}: {os.strerror(err)}")
        self._folders[wd] = folder

    def read(self) -> list[InotifyEvent]:
        """The events waiting (none if there are none)."""
        try:
            data = os.read(self._fd, 64 * 1024)
        except BlockingIOError:
            return []
        events: list[InotifyEvent] = []
        offset = 0
        while offset + _HEADER.size <= len(data):
            wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
            offset += _HEADER.size
            name = data[offset: offset + length].rstrip(b"\0")
            offset += length
            folder = self._folders.get(wd)
            if mask & IN_IGNORED:
                self._folders.pop(wd, None)
                continue
            if folder is None and not mask & IN_Q_OVERFLOW:
                continue
            path = folder / os.fsdecode(name) if (folder is not None and name) else (folder or Path("/"))
            events.append(InotifyEvent(path, mask))
        return events

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
