"""What the API says about one file of an execution, from where internal storage keeps it.

An execution's files live under ``<namespace as path>/<flowId>/executions/<id>/``: task outputs
in ``tasks/<taskId>/<taskRunId>/<file>``, FILE inputs in ``inputs/<input>/<file>``.
"""

from __future__ import annotations

from typing import Any

from tercel.storage import FileInfo, split_uri

__all__ = ["file_entry"]


def file_entry(prefix_uri: str, info: FileInfo) -> dict[str, Any]:
    """`{uri, path, fileName, size, lastModifiedTime}` of a file under an execution's prefix, with
    `taskId`/`taskRunId` for a task's file and `input` for an input's."""
    base = split_uri(prefix_uri)
    segments = split_uri(info.uri)
    relative = list(segments[len(base):])
    entry: dict[str, Any] = {
        "uri": info.uri,
        "path": "/".join(relative),
        "fileName": info.name,
        "size": info.size,
        "lastModifiedTime": int(info.modified.timestamp() * 1000),
    }
    if len(relative) >= 4 and relative[0] == "tasks":
        entry["taskId"], entry["taskRunId"] = relative[1], relative[2]
    elif len(relative) >= 3 and relative[0] == "inputs":
        entry["input"] = relative[1]
    return entry
