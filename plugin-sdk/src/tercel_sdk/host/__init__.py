"""The plugin host: runs tasks of one plugin version in a process of that version's environment.

Two versions of one plugin cannot share a Python process, so the worker starts
`<environment's python> -m tercel_sdk.host` and sends it tasks over a small protocol on the
process's stdin/stdout (`_protocol` describes every message). The host needs nothing from the
core: the task gets a RunContext whose every call is answered by the worker
(`tercel.plugins._hosts` is the worker's side).
"""

from ._protocol import CHUNK, END_MARK, FRAME_HEADER, MAX_FRAME, PROTOCOL_VERSION, pack, unpack

__all__ = ["CHUNK", "END_MARK", "FRAME_HEADER", "MAX_FRAME", "PROTOCOL_VERSION", "pack", "unpack"]
