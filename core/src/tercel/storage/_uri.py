"""Internal-storage URIs: ``tercel:///<namespace as path>/<flowId>/executions/<id>/...``.

Kestra's layout, so files move between the two unchanged; ``kestra:///`` is accepted as an alias
on input and every URI we hand out uses ``tercel:///``. A URI's path is percent-encoded (a file
called ``a b.csv`` is ``a%20b.csv``); it is decoded *before* validation, so an encoded ``..`` or
``/`` is refused like a literal one.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from tercel.storage._errors import StorageError

__all__ = [
    "KESTRA_SCHEME",
    "SCHEME",
    "execution_file_uri",
    "execution_prefix_uri",
    "input_file_uri",
    "namespace_file_uri",
    "namespace_prefix_uri",
    "normalize_uri",
    "split_uri",
    "to_uri",
]

SCHEME = "tercel"
KESTRA_SCHEME = "kestra"
_PREFIXES = (f"{SCHEME}:///", f"{KESTRA_SCHEME}:///")

MAX_SEGMENT_BYTES = 255  # NAME_MAX of common file systems
MAX_PATH_BYTES = 3072  # leaves room for the root under PATH_MAX (4096)
TEMP_PREFIX = ".tercel-tmp-"  # in-flight writes; a user file may not start with it
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _check_segment(segment: str, uri: str) -> None:
    if segment in ("", ".", ".."):
        what = "an empty segment ('//')" if not segment else f"a {segment!r} segment"
        raise StorageError(f"invalid storage URI {uri!r}: {what} is not allowed")
    if "\\" in segment:
        raise StorageError(f"invalid storage URI {uri!r}: backslashes are not allowed")
    if _CONTROL.search(segment):
        raise StorageError(f"invalid storage URI {uri!r}: NUL and control characters are not allowed")
    if len(segment.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_BYTES:
        raise StorageError(
            f"invalid storage URI {uri!r}: the name {segment[:40]!r}... is longer than "
            f"{MAX_SEGMENT_BYTES} bytes"
        )
    if segment.startswith(TEMP_PREFIX):
        raise StorageError(f"invalid storage URI {uri!r}: names starting {TEMP_PREFIX!r} are reserved")


def split_uri(uri: str, *, allow_root: bool = False) -> tuple[str, ...]:
    """The validated, decoded path segments of a ``tercel:///`` (or ``kestra:///``) URI.

    A trailing slash is allowed (prefixes are often written that way). Raises `StorageError`
    naming what is wrong: another scheme, ``..``, empty segments, NUL or control characters,
    backslashes, over-long names, reserved temporary names.
    """
    if not isinstance(uri, str):
        raise StorageError(f"a storage URI must be a string, not {type(uri).__name__}")
    for prefix in _PREFIXES:
        if uri.startswith(prefix):
            path = uri[len(prefix) :]
            break
    else:
        raise StorageError(
            f"invalid storage URI {uri!r}: expected {SCHEME}:///<path> (or {KESTRA_SCHEME}:///<path>)"
        )
    try:
        decoded = unquote(path, errors="strict") if "%" in path else path
    except UnicodeDecodeError:
        raise StorageError(f"invalid storage URI {uri!r}: bad percent-encoding") from None
    if decoded.startswith("/"):
        raise StorageError(f"invalid storage URI {uri!r}: the path must be relative to the root")
    if decoded.endswith("/"):
        decoded = decoded[:-1]
    if not decoded:
        if allow_root:
            return ()
        raise StorageError(f"invalid storage URI {uri!r}: it names the storage root, not a file")
    if len(decoded.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise StorageError(f"invalid storage URI {uri[:80]!r}...: longer than {MAX_PATH_BYTES} bytes")
    segments = tuple(decoded.split("/"))
    for segment in segments:
        _check_segment(segment, uri)
    return segments


def to_uri(segments: tuple[str, ...] | list[str]) -> str:
    """The canonical ``tercel:///`` URI of validated segments (percent-encoded as needed)."""
    return f"{SCHEME}:///" + "/".join(quote(s, safe="@:+,;=!$&'()*~") for s in segments)


def normalize_uri(uri: str) -> str:
    """Validate a URI and return its canonical ``tercel:///`` form."""
    return to_uri(split_uri(uri))


def _namespace_segments(namespace: str) -> list[str]:
    if not namespace:
        raise StorageError("a namespace is required to build a storage URI")
    return namespace.split(".")


def _build(segments: list[str]) -> str:
    for segment in segments:
        if not isinstance(segment, str):
            raise StorageError(f"storage URI parts must be strings, not {type(segment).__name__}")
        if "/" in segment:
            raise StorageError(f"{segment!r} cannot be part of a storage URI: it contains '/'")
    uri = to_uri(segments)
    split_uri(uri)  # validates every part: no '..', NUL, backslash, over-long name...
    return uri


def execution_prefix_uri(namespace: str, flow_id: str, execution_id: str) -> str:
    """Every file of one execution lives under this prefix (what a purge deletes)."""
    return _build([*_namespace_segments(namespace), flow_id, "executions", execution_id]) + "/"


def execution_file_uri(
    namespace: str, flow_id: str, execution_id: str, task_id: str, task_run_id: str, filename: str
) -> str:
    """Where a task run's output file lives: ``.../executions/<id>/tasks/<taskId>/<taskRunId>/<file>``."""
    return _build(
        [*_namespace_segments(namespace), flow_id, "executions", execution_id, "tasks", task_id,
         task_run_id, filename]
    )


def input_file_uri(
    namespace: str, flow_id: str, execution_id: str, input_name: str, filename: str
) -> str:
    """Where an execution's FILE input lives: ``.../executions/<id>/inputs/<inputName>/<file>``."""
    return _build(
        [*_namespace_segments(namespace), flow_id, "executions", execution_id, "inputs", input_name,
         filename]
    )


def namespace_prefix_uri(namespace: str) -> str:
    """Everything stored for one namespace (files, executions, KV) lives under this prefix."""
    return _build(_namespace_segments(namespace)) + "/"


def namespace_file_uri(namespace: str, path: str) -> str:
    """A namespace file, as Kestra keeps them: ``<namespace as path>/_files/<path>``.

    `path` may contain ``/`` (folders) and a leading ``/``; each part is validated.
    """
    parts = [p for p in path.split("/") if p] if path.strip("/") else []
    if not parts:
        raise StorageError(f"invalid namespace file path {path!r}: it names no file")
    return _build([*_namespace_segments(namespace), "_files", *parts])
