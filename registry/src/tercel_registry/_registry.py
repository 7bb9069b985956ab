"""The registry's operations, for the HTTP layer and the CLI: publish, yank, read the index and
the catalog, serve files (and, in `registry.nightly`, the nightly results). Handlers translate
HTTP to these calls and back, nothing more.

Publishing checks, the cheapest first: the token (authenticated before the body is read), its
scope for the project the form names, the digests the client computed, the upload checks (`inspect_upload`: metadata,
entry point, manifest, archive safety), the scope again for the name the file really has, the
form against the file, and the filename's uniqueness. Only then are the bytes written (files
folder first, then the database), so a refused upload leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._catalog import FileUrl, plugin_doc, plugin_summary, ranker, type_providers_doc, version_doc
from ._config import RegistryConfig
from ._errors import BadRequest, Conflict, NotFound
from ._files import FileStore
from ._inspect import Inspection, Limits, UploadRejected, inspect_upload
from ._names import canonical_name, canonical_version
from ._nightly import Nightly
from ._store import FileRecord, ProjectRecord, RegistryStore, ReleaseRecord, StoredBlob, TokenRecord
from ._tokens import TokenManager

__all__ = ["Download", "Registry"]

_FILETYPES = {"bdist_wheel": "wheel", "sdist": "sdist"}
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Download:
    """A file to send: where it is, under which name, as what."""

    path: Path
    filename: str
    media_type: str


def _media_type(filename: str) -> str:
    if filename.endswith(".tar.gz"):
        return "application/gzip"  # a gzip file, not a gzip-encoded tar: clients keep the bytes
    if filename.endswith((".whl", ".zip")):
        return "application/zip"
    return "application/octet-stream"


class Registry:
    """One registry: its database, files folder and tokens (thread-safe)."""

    def __init__(self, config: RegistryConfig) -> None:
        self.config = config
        self.store = RegistryStore(config.database)
        self.files = FileStore(config.files)
        self.tokens = TokenManager(self.store)
        self.nightly = Nightly(self.store, self.tokens)

    def open(self) -> Registry:
        """Create the database's missing tables (idempotent)."""
        self.store.create_schema()
        return self

    def close(self) -> None:
        self.store.close()

    # -- the index ------------------------------------------------------------------------------

    def project_names(self) -> list[tuple[str, str]]:
        return self.store.project_names()

    def project_index(self, name: str) -> tuple[ProjectRecord, list[str], list[FileRecord]]:
        """A project's versions and files; `NotFound` for a name this registry does not have
        (never another index's answer)."""
        found = self.store.project_index(canonical_name(name))
        if found is None:
            raise NotFound(f"no project named {canonical_name(name)!r} in this registry")
        return found

    def download(self, sha256: str, filename: str) -> Download:
        """A stored file (or, for `<filename>.metadata`, its core metadata), counted."""
        metadata = filename.endswith(".metadata")
        record = self.store.file(sha256, filename.removesuffix(".metadata") if metadata else filename)
        if record is None or (metadata and not record.metadata_path):
            raise NotFound(f"no file {filename} with sha256 {sha256} in this registry")
        relative = record.metadata_path if metadata else record.path
        path = self.files.path(relative or "")
        if not path.is_file():
            raise NotFound(f"the file {filename} is missing from the registry's files folder ({path})")
        self.store.count_download(record, metadata=metadata)
        if metadata:
            return Download(path, filename, "text/plain; charset=utf-8")
        return Download(path, filename, _media_type(filename))

    # -- publishing -----------------------------------------------------------------------------

    def publish(self, token: TokenRecord, form: Mapping[str, str], filename: str, data: bytes) -> FileRecord:
        """Check and keep one file uploaded with `token` (the legacy upload API's `file_upload`)."""
        action = form.get(":action", "")
        if action != "file_upload":
            raise BadRequest(f"unsupported :action {action!r}: this index accepts file_upload")
        named = form.get("name", "").strip()
        if named:
            self.tokens.authorize(token, canonical_name(named))
        _check_digests(form, data, filename)
        found = self.inspect(filename, data)
        self.tokens.authorize(token, found.name)
        if named and canonical_name(named) != found.name:
            raise BadRequest(f"the form names the project {named!r}, but {filename} is {found.display_name!r}")
        version = form.get("version", "").strip()
        if version and canonical_version(version) != canonical_version(found.version):
            raise BadRequest(f"the form says version {version!r}, but {filename} is version {found.version!r}")
        filetype = form.get("filetype", "").strip()
        if filetype and _FILETYPES.get(filetype, filetype) != found.kind:
            raise BadRequest(f"the form says filetype {filetype!r}, but {filename} is a {found.kind}")
        record = self.keep(found, data, token.name)
        self.store.touch_token(token.id)
        return record

    def inspect(self, filename: str, data: bytes) -> Inspection:
        """The upload checks' description of a file; `BadRequest` with their reason if refused."""
        try:
            return inspect_upload(filename, data, limits=Limits(max_file_size=self.config.max_upload_size))
        except UploadRejected as exc:
            raise BadRequest(str(exc)) from None

    def keep(self, found: Inspection, data: bytes, by: str) -> FileRecord:
        """Store an inspected file (`data` are its bytes) as published `by` a token or a command;
        `Conflict` if its filename exists (releases are immutable)."""
        if self.store.file_exists(found.filename):
            raise Conflict(f"the file {found.filename} already exists: releases are immutable; publish a new version")
        blob = StoredBlob(self.files.put(data, found.sha256))
        if found.kind == "wheel" and found.metadata:
            # served as `<file>.metadata` (PEP 658) for wheels only: an sdist's PKG-INFO may not
            # be what building it produces, so installers must not resolve from it
            blob = StoredBlob(
                blob.path, self.files.put(found.metadata, found.metadata_sha256), found.metadata_sha256, len(found.metadata),
            )
        return self.store.add_file(found, blob, by)

    def yank(self, authorization: str | None, name: str, version: str, reason: str | None, *, yanked: bool = True) -> ReleaseRecord:
        """Yank (PEP 592) or un-yank every file of one release, with a token scoped to it."""
        token = self.tokens.authenticate(authorization)
        self.tokens.authorize(token, canonical_name(name))  # before looking: 403 whether it exists or not
        project = self._project(name)
        release = self.store.set_yanked(project.id, version, yanked, (reason or "").strip() or None)
        self.store.touch_token(token.id)
        return release

    # -- the catalog ----------------------------------------------------------------------------

    def _project(self, name: str) -> ProjectRecord:
        project = self.store.project(canonical_name(name))
        if project is None:
            raise NotFound(f"no plugin named {canonical_name(name)!r} in this registry")
        return project

    def search(self, q: str | None, *, type_name: str | None, keyword: str | None, page: int, size: int) -> dict[str, Any]:
        """A page of the projects matching every word of `q` (all of them without), ranked."""
        if page < 1:
            raise BadRequest(f"page {page} does not exist: pages start at 1")
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise BadRequest(f"size {size} is out of range: 1 to {MAX_PAGE_SIZE}")
        words = (q or "").split()
        offset = (page - 1) * size
        if words:
            candidates = self.store.search_candidates(words, type_name=type_name, keyword=keyword)
            rank = ranker(words)
            ranked = sorted(candidates, key=lambda p: (-rank(p), -p.downloads, p.name))
            total, projects = len(ranked), ranked[offset:offset + size]
        else:
            total, projects = self.store.list_projects(type_name=type_name, keyword=keyword, offset=offset, limit=size)
        return {
            "query": q or "", "type": type_name, "keyword": keyword,
            "total": total, "page": page, "size": size,
            "results": [plugin_summary(p) for p in projects],
        }

    def plugin(self, name: str) -> dict[str, Any]:
        project = self._project(name)
        releases = self.store.releases(project.id)
        return plugin_doc(project, releases, self.store.project_files(project.id))

    def plugin_version(self, name: str, version: str, url: FileUrl) -> dict[str, Any]:
        project = self._project(name)
        release = self.store.release(project.id, version)
        if release is None:
            raise NotFound(f"{project.name} has no version {version} in this registry")
        return version_doc(project, release, self.store.release_files(release.id), url)

    def type_providers(self, type_name: str) -> dict[str, Any]:
        providers = self.store.type_providers(type_name)
        if not providers:
            raise NotFound(f"no plugin in this registry provides the type {type_name!r}")
        return type_providers_doc(type_name, providers)


def _check_digests(form: Mapping[str, str], data: bytes, filename: str) -> None:
    """The digests the client computed must be of the bytes that arrived."""
    for field, make in (
        ("sha256_digest", hashlib.sha256),
        ("blake2_256_digest", lambda: hashlib.blake2b(digest_size=32)),
        ("md5_digest", lambda: hashlib.md5(usedforsecurity=False)),
    ):
        claimed = form.get(field, "").strip().lower()
        if not claimed:
            continue
        hasher = make()
        hasher.update(data)
        actual = hasher.hexdigest()
        if not hmac.compare_digest(claimed, actual):
            raise BadRequest(f"{filename} arrived damaged: its {field} is {actual}, the client computed {claimed}")
