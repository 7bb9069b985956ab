"""The simple API's documents: PEP 503 HTML and PEP 691 JSON, with PEP 592, 629, 658/714 and 700.

Both say the same: every file with its `sha256` (in the link's fragment / `hashes`), the core
metadata's hash when the file has one (PEP 658 `data-dist-info-metadata` and PEP 714
`data-core-metadata` / `dist-info-metadata` and `core-metadata`), `requires-python`, and the
yank reason of a yanked release. JSON adds PEP 700's `versions`, `size` and `upload-time`
(api-version 1.1). File URLs are made by the caller: relative (any prefix works) or absolute
under the configured public URL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from html import escape

from ._names import version_key
from ._store import FileRecord

__all__ = ["API_VERSION", "index_html", "index_json", "project_html", "project_json", "upload_time"]

#: PEP 629 / PEP 700: what the documents implement.
API_VERSION = "1.1"

FileUrl = Callable[[FileRecord], str]


def upload_time(value: datetime) -> str:
    """PEP 700's format: ISO 8601 in UTC, `yyyy-mm-ddThh:mm:ss.ffffffZ`."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _head(title: str) -> str:
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n"
        f'<meta name="pypi:repository-version" content="{API_VERSION}">\n'
        f"<title>{escape(title)}</title>\n</head>\n<body>\n"
    )


def index_html(projects: Iterable[tuple[str, str]]) -> bytes:
    """The root page: one link per project, to its normalized name."""
    links = "".join(f'<a href="{escape(name)}/">{escape(display)}</a><br>\n' for name, display in projects)
    return (_head("Simple index") + "<h1>Simple index</h1>\n" + links + "</body>\n</html>\n").encode()


def index_json(projects: Iterable[tuple[str, str]]) -> bytes:
    body = {"meta": {"api-version": API_VERSION}, "projects": [{"name": display} for _, display in projects]}
    return json.dumps(body, separators=(",", ":")).encode()


def project_html(name: str, files: Sequence[FileRecord], url: FileUrl) -> bytes:
    """A project's page: one anchor per file, its attributes as the PEPs name them."""
    out = [_head(f"Links for {name}"), f"<h1>Links for {escape(name)}</h1>\n"]
    for f in files:
        attrs = [f'href="{escape(url(f))}#sha256={f.sha256}"']
        if f.requires_python:
            attrs.append(f'data-requires-python="{escape(f.requires_python)}"')
        if f.metadata_sha256:
            attrs.append(f'data-dist-info-metadata="sha256={f.metadata_sha256}"')
            attrs.append(f'data-core-metadata="sha256={f.metadata_sha256}"')
        if f.yanked:
            attrs.append(f'data-yanked="{escape(f.yanked_reason or "")}"')
        out.append(f"<a {' '.join(attrs)}>{escape(f.filename)}</a><br>\n")
    out.append("</body>\n</html>\n")
    return "".join(out).encode()


def project_json(name: str, versions: Iterable[str], files: Sequence[FileRecord], url: FileUrl) -> bytes:
    entries = []
    for f in files:
        entry: dict[str, object] = {
            "filename": f.filename,
            "url": url(f),
            "hashes": {"sha256": f.sha256},
            "size": f.size,
            "upload-time": upload_time(f.uploaded),
        }
        if f.requires_python:
            entry["requires-python"] = f.requires_python
        if f.metadata_sha256:
            entry["core-metadata"] = {"sha256": f.metadata_sha256}
            entry["dist-info-metadata"] = {"sha256": f.metadata_sha256}
        if f.yanked:
            entry["yanked"] = f.yanked_reason or True
        entries.append(entry)
    body = {
        "meta": {"api-version": API_VERSION},
        "name": name,
        "versions": sorted(set(versions), key=version_key),
        "files": entries,
    }
    return json.dumps(body, separators=(",", ":")).encode()
