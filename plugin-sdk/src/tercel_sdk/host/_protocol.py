"""Framing of the plugin host protocol: length-prefixed Ion messages on a pair of pipes.

Both sides import this module (the host from its environment's SDK, the worker from its own), so
what it defines is the wire: a frame is a 4-byte big-endian length and that many bytes of Ion
text (`tercel_sdk.ion`, which keeps datetime, date, Decimal, bytes and timedelta as they are).
Ion rather than JSON because those types must survive; rather than pickle because unpickling
what a plugin process sends would let plugin code run in the worker.

Every message is a list whose first item says what it is:

host → worker
    ``["ready", {"protocol", "sdk", "python", "pid"}]``   once, when the host can take tasks
    ``["call", run, call, method, args, kwargs]``         a RunContext call waiting for its answer
    ``["tell", run, method, args]``                       a call with no answer (logs, metrics)
    ``["done", run, outputs]``                            the task ended; its outputs dict or None
    ``["failed", run, error]``                            the task failed; `error["kind"]` says how

worker → host
    ``["run", run, class_path, task_spec, phase, info]``  run one task (one at a time)
    ``["reply", call, value]``                            the answer to a call
    ``["raise", call, error]``                            the call raised in the worker
    ``["cancel", run]``                                   the task run was killed or timed out

Closing the host's input stops it. Data given to `put_file` and `namespace_files.write` travels as
``["b", bytes]`` or, for a file of this machine (large data is spooled to one), ``["p", path]``;
anything else as ``["v", value]``, which the worker hands on unchanged.

The host's fd 1 is pointed at its stderr, so what a plugin prints never lands in a frame. Before
``done``/``failed`` the host writes `END_MARK` and the run id as a line on stderr: the worker then
knows every line printed during the run was read (and logged with the task) before it returns.
"""

from __future__ import annotations

import struct
from typing import IO, Any

from tercel_sdk import ion

__all__ = ["CHUNK", "END_MARK", "FRAME_HEADER", "MAX_FRAME", "PROTOCOL_VERSION", "pack", "read_frame", "unpack"]

PROTOCOL_VERSION = 1
"""Bumped whenever a message changes; the worker refuses a host speaking another version."""

FRAME_HEADER = struct.Struct(">I")
MAX_FRAME = 1 << 30
"""A length beyond this is not a frame of ours (garbage on the pipe): the reader gives up."""

CHUNK = 1 << 20
"""Bytes per `open_file` read, and the size above which data is passed as a file, not inline."""

END_MARK = "\x00tercel-host-end:"


def pack(message: Any) -> bytes:
    """One frame; `ion.IonEncodeError` names what cannot be sent and where."""
    body = ion.dumps(message)
    return FRAME_HEADER.pack(len(body)) + body


def unpack(body: bytes) -> Any:
    return ion.loads(body)


def read_frame(stream: IO[bytes]) -> Any | None:
    """The next message from a blocking binary stream; None at end of stream."""
    head = stream.read(4)
    if len(head) < 4:
        return None
    (size,) = FRAME_HEADER.unpack(head)
    if size > MAX_FRAME:
        raise ValueError(f"frame of {size} bytes announced: not the plugin host protocol")
    body = stream.read(size)
    if len(body) < size:
        return None
    return unpack(body)
