"""The parts of long outputs a result keeps: the log's tail, an installer's error.

A suite can print megabytes; the registry stores one row per run, so a result keeps the end of
the log (where pytest's summary and the last traceback are) and, for an install that failed,
the lines of the installer's message that say why.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["MAX_TAIL_BYTES", "MAX_TAIL_LINES", "read_tail", "tail", "trim_installer_message"]

MAX_TAIL_LINES = 200
MAX_TAIL_BYTES = 64 * 1024
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def tail(text: str, *, lines: int = MAX_TAIL_LINES, max_bytes: int = MAX_TAIL_BYTES) -> str:
    """The last `lines` lines of `text`, at most `max_bytes` of UTF-8, colours removed."""
    kept = "\n".join(_ANSI.sub("", text).rstrip("\n").splitlines()[-lines:])
    data = kept.encode("utf-8")
    if len(data) <= max_bytes:
        return kept
    cut = data[-max_bytes:].decode("utf-8", errors="ignore")
    return cut.split("\n", 1)[-1] if "\n" in cut else cut


def read_tail(path: Path, *, lines: int = MAX_TAIL_LINES, max_bytes: int = MAX_TAIL_BYTES) -> str:
    """The tail of a log file, reading only its end (a runaway suite may have written gigabytes)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 4 * max_bytes))
            data = handle.read()
    except FileNotFoundError:
        return ""
    return tail(data.decode("utf-8", errors="replace"), lines=lines, max_bytes=max_bytes)


def trim_installer_message(text: str, *, lines: int = 25, chars: int = 2500) -> str:
    """An installer's error output cut to what explains it: from its first `error` line (or the cross uv starts with)
    (how pip and uv start the reason), at most `lines` lines and `chars` characters."""
    kept = [line.rstrip() for line in _ANSI.sub("", text).splitlines() if line.strip()]
    for i, line in enumerate(kept):
        if line.lstrip().lower().startswith(("error", "\u00d7")):
            kept = kept[i:]
            break
    out = "\n".join(kept[:lines])
    return out if len(out) <= chars else out[: chars - 1] + "…"
