"""Run a plugin's test suite as a contained process: own process group, time and memory limits.

A suite is someone else's code. It may hang, eat memory, or start processes that outlive it; the
nightly has to survive all of that and go on. So the command starts in a new session (its own
process group: `start_new_session` is done by the C fork code, safe with the runner's threads,
unlike a `preexec_fn`), its address space is capped by a tiny wrapper that sets `RLIMIT_AS` and
then `exec`s the command in the same process, and when it ends (or is timed out, or the run is
stopped) whatever is left of its group is killed, and counted so the result can say so.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Finished", "run_contained"]

# runs in the interpreter that will run the suite: limit, then become the suite's process
_LIMITED = (
    "import os, resource, sys\n"
    "limit = int(sys.argv[1])\n"
    "resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)
_POLL = 0.2


@dataclass(frozen=True)
class Finished:
    """How a contained process ended: `returncode` is negative when a signal ended it."""

    returncode: int
    duration: float
    timed_out: bool = False
    stopped: bool = False
    leftovers: int = 0


def _group_size(pgid: int) -> int:
    """How many processes the group still has (0 when it is gone)."""
    proc = Path("/proc")
    if proc.is_dir():
        count = 0
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                fields = stat[stat.rindex(")") + 2:].split()  # state, ppid, pgrp, …
                if int(fields[2]) == pgid and fields[0] != "Z":
                    count += 1
        return count
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return 0
    return 1


def _kill_group(pgid: int, *, wait: float = 5.0) -> None:
    """SIGKILL the whole group, then wait a little for it to be gone (its files are released)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + wait
    while _group_size(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)


def run_contained(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log: Path, timeout: float,
    memory_mb: int | None = None, stop: threading.Event | None = None,
) -> Finished:
    """Run `argv` (its first item a Python interpreter when `memory_mb` is given) with its
    output in `log`, killed with its whole group after `timeout` seconds or once `stop` is set."""
    command = [str(a) for a in argv]
    if memory_mb:
        command = [command[0], "-c", _LIMITED, str(memory_mb * 1024 * 1024), *command]
    started = time.monotonic()
    with open(log, "ab") as output:
        proc = subprocess.Popen(
            command, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=output,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    pgid = proc.pid  # a new session's leader: its pid is the group's id
    timed_out = stopped = False
    try:
        while True:
            try:
                proc.wait(timeout=_POLL)
                break
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() - started > timeout:
                timed_out = True
            elif stop is not None and stop.is_set():
                stopped = True
            else:
                continue
            _kill_group(pgid)
            proc.wait()
            break
    except BaseException:
        _kill_group(pgid)
        proc.wait()
        raise
    duration = time.monotonic() - started
    leftovers = 0 if (timed_out or stopped) else _group_size(pgid)
    if leftovers:
        _kill_group(pgid)
    return Finished(proc.returncode, duration, timed_out, stopped, leftovers)
