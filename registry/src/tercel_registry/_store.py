"""The registry's records: projects, releases, files, tokens, download counts.

Short transactions, one per operation; writes take the database's write lock first (SQLite) or
lock the project row (PostgreSQL), so two uploads to one project never compute its latest
release from a stale view. Releases are immutable: a file is added once (its filename is unique
forever) and a release only gains what it lacked (the wheel's manifest after the sdist).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, exists, func, inspect, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from . import _schema as t
from ._db import WRITE, describe, open_engine
from ._errors import Conflict, NotFound, StoreError
from ._names import canonical_version, latest_version

if TYPE_CHECKING:
    from ._inspect import Inspection

__all__ = ["FileRecord", "ProjectRecord", "RegistryStore", "ReleaseRecord", "StoredBlob", "TokenRecord", "to_record", "utc"]

R = TypeVar("R")


def utc(value: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite gives them back naive)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def to_record(cls: type[R], row: Any) -> R:
    """A row as the frozen dataclass `cls` (its fields by name; times in UTC)."""
    mapping = row._mapping
    values = {}
    for name in _field_names(cls):
        value = mapping[name]
        values[name] = utc(value) if isinstance(value, datetime) else value
    return cls(**values)


@dataclass(frozen=True)
class ProjectRecord:
    id: int
    name: str
    display_name: str
    created: datetime
    updated: datetime
    latest_release_id: int | None
    latest_version: str | None
    summary: str | None
    latest_keywords: list[str] | None
    latest_types: list[dict[str, Any]] | None
    downloads: int


@dataclass(frozen=True)
class ReleaseRecord:
    id: int
    project_id: int
    version: str
    canonical_version: str
    summary: str | None
    description: str | None
    description_content_type: str | None
    keywords: list[str]
    requires_python: str | None
    requires_dist: list[str]
    sdk_requirement: str | None
    entry_point: str | None
    manifest: dict[str, Any] | None
    license: str | None
    author: str | None
    home_page: str | None
    yanked: bool
    yanked_reason: str | None
    created: datetime
    nightly: Any


@dataclass(frozen=True)
class FileRecord:
    """A file, with the release fields the index shows beside it."""

    id: int
    release_id: int
    project_id: int
    filename: str
    kind: str
    sha256: str
    size: int
    uploaded: datetime
    uploaded_by: str | None
    path: str
    metadata_sha256: str | None
    metadata_size: int | None
    metadata_path: str | None
    downloads: int
    metadata_fetches: int
    version: str
    yanked: bool
    yanked_reason: str | None
    requires_python: str | None


@dataclass(frozen=True)
class TokenRecord:
    id: int
    name: str
    scopes: list[str]
    created: datetime
    last_used: datetime | None
    revoked: datetime | None


@dataclass(frozen=True)
class StoredBlob:
    """Where the files folder put an upload's bytes, and the core metadata the index serves
    beside it (PEP 658), if any."""

    path: str
    metadata_path: str | None = None
    metadata_sha256: str | None = None
    metadata_size: int | None = None


_FILE_COLUMNS = (
    *t.files.c,
    t.releases.c.version, t.releases.c.yanked, t.releases.c.yanked_reason, t.releases.c.requires_python,
)
_PROJECT_COLUMNS = (
    t.projects.c.id, t.projects.c.name, t.projects.c.display_name, t.projects.c.created,
    t.projects.c.updated, t.projects.c.latest_release_id, t.projects.c.latest_version,
    t.projects.c.summary, t.projects.c.latest_keywords, t.projects.c.latest_types,
    t.projects.c.downloads,
)


def _now() -> datetime:
    return datetime.now(UTC)


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class RegistryStore:
    """The registry's database (thread-safe: one pooled connection per transaction)."""

    def __init__(self, url: str) -> None:
        self.engine = open_engine(url)
        self.dialect = self.engine.dialect.name

    @property
    def display_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    # -- transactions ---------------------------------------------------------------------------

    # the record modules (this one, `_nightly_store`) share these transactions

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction; database failures become `StoreError`."""
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"the registry's database {self.display_url} failed: {describe(exc)}") from exc

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (SQLite: the write lock taken first); `IntegrityError` passes
        through for the caller to name the conflict."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(**{WRITE: True})
                with conn.begin():
                    yield conn
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            raise StoreError(f"the registry's database {self.display_url} failed: {describe(exc)}") from exc

    def insert(self, table: Any) -> Any:
        """An INSERT with the dialect's `on_conflict_do_nothing`."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    def create_schema(self) -> None:
        """Create the missing tables (an older database is upgraded so: every change so far
        adds tables) and record the schema version; refuse a database made by a newer registry."""
        with self.write() as conn:
            found = None
            if inspect(conn).has_table(t.meta.name):
                found = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "schema_version")).scalar()
                if found is not None and int(found) > t.SCHEMA_VERSION:
                    raise StoreError(
                        f"the registry's database {self.display_url} has schema version {found}, newer than "
                        f"this tercel-registry's ({t.SCHEMA_VERSION}): upgrade tercel-registry"
                    )
            t.metadata.create_all(conn)
            if found is None:
                conn.execute(
                    self.insert(t.meta).values(key="schema_version", value=str(t.SCHEMA_VERSION)).on_conflict_do_nothing()
                )
            elif int(found) < t.SCHEMA_VERSION:
                if int(found) < 2:
                    self._reindex_releases(conn)
                conn.execute(update(t.meta).where(t.meta.c.key == "schema_version").values(value=str(t.SCHEMA_VERSION)))

    def _reindex_releases(self, conn: Connection) -> None:
        """Index every release's types and keywords again: schema 1 on PostgreSQL left those of
        new releases out (it read the insert's rowcount, which the driver gives as -1)."""
        rows = conn.execute(select(t.releases.c.id, t.releases.c.project_id, t.releases.c.manifest, t.releases.c.keywords)).all()
        for row in rows:
            self._index_release(conn, row.project_id, row.id, row.manifest, row.keywords or ())

    # -- tokens ---------------------------------------------------------------------------------

    def add_token(self, name: str, digest: str, scopes: Sequence[str]) -> TokenRecord:
        """Store a new token (its digest); `Conflict` when a live token has this name."""
        try:
            with self.write() as conn:
                live = conn.execute(
                    select(t.tokens.c.id).where(t.tokens.c.name == name, t.tokens.c.revoked.is_(None))
                ).first()
                if live is not None:
                    raise Conflict(f"a token named {name!r} exists already: revoke it first or pick another name")
                row = conn.execute(
                    t.tokens.insert()
                    .values(name=name, sha256=digest, scopes=list(scopes), created=_now())
                    .returning(*t.tokens.c)
                ).one()
        except IntegrityError:
            raise Conflict(f"a token named {name!r} exists already: revoke it first or pick another name") from None
        return to_record(TokenRecord, row)

    def tokens(self) -> list[TokenRecord]:
        with self.read() as conn:
            rows = conn.execute(select(t.tokens).order_by(t.tokens.c.created, t.tokens.c.id)).all()
        return [to_record(TokenRecord, r) for r in rows]

    def revoke_token(self, name: str) -> bool:
        """Revoke the live token named `name`; False when there is none."""
        with self.write() as conn:
            done = conn.execute(
                update(t.tokens).where(t.tokens.c.name == name, t.tokens.c.revoked.is_(None)).values(revoked=_now())
            )
        return done.rowcount > 0

    def token_by_digest(self, digest: str) -> TokenRecord | None:
        with self.read() as conn:
            row = conn.execute(select(t.tokens).where(t.tokens.c.sha256 == digest)).first()
        return None if row is None else to_record(TokenRecord, row)

    def touch_token(self, token_id: int) -> None:
        with self.write() as conn:
            conn.execute(update(t.tokens).where(t.tokens.c.id == token_id).values(last_used=_now()))

    # -- publishing -----------------------------------------------------------------------------

    def file_exists(self, filename: str) -> bool:
        with self.read() as conn:
            return conn.execute(select(t.files.c.id).where(t.files.c.filename == filename)).first() is not None

    def add_file(self, found: Inspection, blob: StoredBlob, uploaded_by: str) -> FileRecord:
        """Record an inspected upload whose bytes are in the files folder: its project and
        release (created if new), the file, and the project's latest release.

        `Conflict` when the filename exists: releases are immutable."""
        now = _now()
        try:
            with self.write() as conn:
                conn.execute(
                    self.insert(t.projects).values(
                        name=found.name, display_name=found.display_name, created=now, updated=now,
                        search_text="", downloads=0,
                    ).on_conflict_do_nothing(index_elements=["name"])
                )
                project_id = conn.execute(
                    select(t.projects.c.id).where(t.projects.c.name == found.name).with_for_update()
                ).scalar_one()
                if conn.execute(select(t.files.c.id).where(t.files.c.filename == found.filename)).first():
                    raise _exists(found.filename)
                release_id = self._release_for(conn, project_id, found, now)
                file_id = conn.execute(
                    t.files.insert().values(
                        release_id=release_id, project_id=project_id, filename=found.filename,
                        kind=found.kind, sha256=found.sha256, size=found.size, uploaded=now,
                        uploaded_by=uploaded_by, path=blob.path, metadata_sha256=blob.metadata_sha256,
                        metadata_size=blob.metadata_size, metadata_path=blob.metadata_path,
                        downloads=0, metadata_fetches=0,
                    ).returning(t.files.c.id)
                ).scalar_one()
                self._refresh_latest(conn, project_id, now)
                row = conn.execute(self._files_query().where(t.files.c.id == file_id)).one()
        except IntegrityError as exc:  # a concurrent upload of the same filename won the race
            if "filename" in str(exc.orig) or "registry_files" in str(exc.orig):
                raise _exists(found.filename) from None
            raise StoreError(f"the registry's database {self.display_url} refused the upload: {describe(exc)}") from exc
        return to_record(FileRecord, row)

    def _release_for(self, conn: Connection, project_id: int, found: Inspection, now: datetime) -> int:
        """The release `found` belongs to: created from it, or completed with what it lacked."""
        version = canonical_version(found.version)
        values = {
            "summary": found.summary, "description": found.description,
            "description_content_type": found.description_content_type,
            "requires_python": found.requires_python, "sdk_requirement": found.sdk_requirement,
            "entry_point": found.entry_point, "manifest": found.manifest, "license": found.license,
            "author": found.author, "home_page": found.home_page,
        }
        # RETURNING, not rowcount: PostgreSQL's driver reports -1 for an INSERT that returns rows
        created = conn.execute(
            self.insert(t.releases).values(
                project_id=project_id, version=found.version, canonical_version=version,
                keywords=list(found.keywords), requires_dist=list(found.requires_dist),
                yanked=False, created=now, **values,
            ).on_conflict_do_nothing(index_elements=["project_id", "canonical_version"]).returning(t.releases.c.id)
        ).first() is not None
        row = conn.execute(
            select(t.releases).where(t.releases.c.project_id == project_id, t.releases.c.canonical_version == version)
        ).one()
        release = to_record(ReleaseRecord, row)
        missing = {k: v for k, v in values.items() if v is not None and getattr(release, k) is None}
        if not release.keywords and found.keywords:
            missing["keywords"] = list(found.keywords)
        if not release.requires_dist and found.requires_dist:
            missing["requires_dist"] = list(found.requires_dist)
        if missing:
            conn.execute(update(t.releases).where(t.releases.c.id == release.id).values(**missing))
        if created or "manifest" in missing or "keywords" in missing:
            manifest = missing.get("manifest", release.manifest)
            self._index_release(conn, project_id, release.id, manifest, missing.get("keywords", release.keywords))
        return release.id

    def _index_release(
        self, conn: Connection, project_id: int, release_id: int, manifest: dict[str, Any] | None, keywords: Sequence[str],
    ) -> None:
        conn.execute(t.types.delete().where(t.types.c.release_id == release_id))
        conn.execute(t.keywords.delete().where(t.keywords.c.release_id == release_id))
        rows: dict[str, dict[str, Any]] = {}
        for entry in (manifest or {}).get("types") or ():
            if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
                continue
            base = {"release_id": release_id, "project_id": project_id, "kind": entry.get("kind"), "title": entry.get("title")}
            rows.setdefault(entry["type"], {**base, "type": entry["type"], "alias_of": None})
            for alias in entry.get("aliases") or ():
                if isinstance(alias, str):
                    rows.setdefault(alias, {**base, "type": alias, "alias_of": entry["type"]})
        if rows:
            conn.execute(t.types.insert(), list(rows.values()))
        words = sorted({k.strip().lower() for k in keywords if k.strip()})
        if words:
            conn.execute(t.keywords.insert(), [{"release_id": release_id, "project_id": project_id, "keyword": k} for k in words])

    def _refresh_latest(self, conn: Connection, project_id: int, now: datetime | None = None) -> None:
        """Point the project at its latest release and copy what listing and search read."""
        rows = conn.execute(
            select(t.releases.c.id, t.releases.c.version, t.releases.c.yanked).where(t.releases.c.project_id == project_id)
        ).all()
        version = latest_version((r.version, r.yanked) for r in rows)
        latest = next((r.id for r in rows if r.version == version), None)
        project = conn.execute(select(t.projects.c.name, t.projects.c.display_name).where(t.projects.c.id == project_id)).one()
        values: dict[str, Any] = {"latest_release_id": latest, "latest_version": version}
        if now is not None:
            values["updated"] = now
        if latest is None:
            values.update(summary=None, latest_keywords=[], latest_types=[], search_text=project.name)
        else:
            release = to_record(ReleaseRecord, conn.execute(select(t.releases).where(t.releases.c.id == latest)).one())
            type_rows = [
                {"type": e["type"], "kind": e.get("kind"), "title": e.get("title"), "aliases": list(e.get("aliases") or ())}
                for e in (release.manifest or {}).get("types") or () if isinstance(e, dict) and isinstance(e.get("type"), str)
            ]
            text = [project.name, project.display_name, release.summary or "", *release.keywords]
            for entry in type_rows:
                text += [entry["type"], *entry["aliases"], entry["title"] or ""]
            values.update(
                summary=release.summary, latest_keywords=list(release.keywords), latest_types=type_rows,
                search_text="\n".join(text).lower(),
            )
        conn.execute(update(t.projects).where(t.projects.c.id == project_id).values(**values))

    def set_yanked(self, project_id: int, version: str, yanked: bool, reason: str | None) -> ReleaseRecord:
        """Yank (or un-yank) one release: every one of its files."""
        with self.write() as conn:
            conn.execute(select(t.projects.c.id).where(t.projects.c.id == project_id).with_for_update())
            done = conn.execute(
                update(t.releases)
                .where(t.releases.c.project_id == project_id, t.releases.c.canonical_version == canonical_version(version))
                .values(yanked=yanked, yanked_reason=reason if yanked else None)
                .returning(*t.releases.c)
            ).first()
            if done is None:
                raise NotFound(f"no version {version} of this project")
            self._refresh_latest(conn, project_id)
        return to_record(ReleaseRecord, done)

    def count_download(self, file: FileRecord, *, metadata: bool = False) -> None:
        """One more download of `file` (or fetch of its core metadata)."""
        with self.write() as conn:
            if metadata:
                conn.execute(
                    update(t.files).where(t.files.c.id == file.id).values(metadata_fetches=t.files.c.metadata_fetches + 1)
                )
                return
            conn.execute(update(t.files).where(t.files.c.id == file.id).values(downloads=t.files.c.downloads + 1))
            conn.execute(
                update(t.projects).where(t.projects.c.id == file.project_id).values(downloads=t.projects.c.downloads + 1)
            )

    # -- reading --------------------------------------------------------------------------------

    def _files_query(self) -> Any:
        return select(*_FILE_COLUMNS).join(t.releases, t.releases.c.id == t.files.c.release_id)

    def project(self, name: str) -> ProjectRecord | None:
        with self.read() as conn:
            row = conn.execute(select(*_PROJECT_COLUMNS).where(t.projects.c.name == name)).first()
        return None if row is None else to_record(ProjectRecord, row)

    def project_names(self) -> list[tuple[str, str]]:
        """(normalized name, display name) of every project, by name."""
        with self.read() as conn:
            rows = conn.execute(select(t.projects.c.name, t.projects.c.display_name).order_by(t.projects.c.name)).all()
        return [(r.name, r.display_name) for r in rows]

    def project_files(self, project_id: int) -> list[FileRecord]:
        with self.read() as conn:
            rows = conn.execute(
                self._files_query().where(t.files.c.project_id == project_id).order_by(t.files.c.release_id, t.files.c.filename)
            ).all()
        return [to_record(FileRecord, r) for r in rows]

    def project_index(self, name: str) -> tuple[ProjectRecord, list[str], list[FileRecord]] | None:
        """What a simple API project page shows, in one transaction: the project, every version
        (files or not) and every file."""
        with self.read() as conn:
            row = conn.execute(select(*_PROJECT_COLUMNS).where(t.projects.c.name == name)).first()
            if row is None:
                return None
            project = to_record(ProjectRecord, row)
            versions = conn.execute(select(t.releases.c.version).where(t.releases.c.project_id == project.id)).scalars().all()
            files = conn.execute(
                self._files_query().where(t.files.c.project_id == project.id).order_by(t.files.c.release_id, t.files.c.filename)
            ).all()
        return project, list(versions), [to_record(FileRecord, f) for f in files]

    def releases(self, project_id: int) -> list[ReleaseRecord]:
        with self.read() as conn:
            rows = conn.execute(select(t.releases).where(t.releases.c.project_id == project_id)).all()
        return [to_record(ReleaseRecord, r) for r in rows]

    def release(self, project_id: int, version: str) -> ReleaseRecord | None:
        with self.read() as conn:
            row = conn.execute(
                select(t.releases).where(
                    t.releases.c.project_id == project_id, t.releases.c.canonical_version == canonical_version(version)
                )
            ).first()
        return None if row is None else to_record(ReleaseRecord, row)

    def release_files(self, release_id: int) -> list[FileRecord]:
        with self.read() as conn:
            rows = conn.execute(self._files_query().where(t.files.c.release_id == release_id).order_by(t.files.c.filename)).all()
        return [to_record(FileRecord, r) for r in rows]

    def file(self, sha256: str, filename: str) -> FileRecord | None:
        with self.read() as conn:
            row = conn.execute(
                self._files_query().where(t.files.c.sha256 == sha256, t.files.c.filename == filename)
            ).first()
        return None if row is None else to_record(FileRecord, row)

    def type_providers(self, type_name: str) -> list[tuple[ProjectRecord, ReleaseRecord, str | None]]:
        """Every release providing `type_name` (as its name or an alias): (project, release,
        the type's own name when `type_name` is an alias)."""
        with self.read() as conn:
            rows = conn.execute(
                select(t.types.c.project_id, t.types.c.release_id, t.types.c.alias_of).where(t.types.c.type == type_name)
            ).all()
            if not rows:
                return []
            project_rows = conn.execute(
                select(*_PROJECT_COLUMNS).where(t.projects.c.id.in_({r.project_id for r in rows}))
            ).all()
            release_rows = conn.execute(select(t.releases).where(t.releases.c.id.in_({r.release_id for r in rows}))).all()
        projects = {p.id: to_record(ProjectRecord, p) for p in project_rows}
        releases = {r.id: to_record(ReleaseRecord, r) for r in release_rows}
        return [(projects[r.project_id], releases[r.release_id], r.alias_of) for r in rows]

    def search_candidates(self, words: Sequence[str], *, type_name: str | None, keyword: str | None) -> list[ProjectRecord]:
        """The projects whose latest release matches every word (in its name, summary, keywords,
        type names, aliases or titles) and the filters; ranking is the caller's."""
        query = select(*_PROJECT_COLUMNS).where(t.projects.c.latest_release_id.is_not(None))
        for word in words:
            query = query.where(t.projects.c.search_text.like(_like(word.lower()), escape="\\"))
        query = query.where(*self._filters(type_name, keyword))
        with self.read() as conn:
            rows = conn.execute(query).all()
        return [to_record(ProjectRecord, r) for r in rows]

    def list_projects(self, *, type_name: str | None, keyword: str | None, offset: int, limit: int) -> tuple[int, list[ProjectRecord]]:
        """A page of the projects by name, and how many there are in all."""
        where = [t.projects.c.latest_release_id.is_not(None), *self._filters(type_name, keyword)]
        with self.read() as conn:
            total = conn.execute(select(func.count()).select_from(t.projects).where(*where)).scalar_one()
            rows = conn.execute(
                select(*_PROJECT_COLUMNS).where(*where).order_by(t.projects.c.name).offset(offset).limit(limit)
            ).all()
        return total, [to_record(ProjectRecord, r) for r in rows]

    def _filters(self, type_name: str | None, keyword: str | None) -> list[Any]:
        filters = []
        if type_name:
            filters.append(exists().where(
                t.types.c.release_id == t.projects.c.latest_release_id,
                t.types.c.type == type_name,
            ))
        if keyword:
            filters.append(exists().where(
                t.keywords.c.release_id == t.projects.c.latest_release_id, t.keywords.c.keyword == keyword.strip().lower(),
            ))
        return filters


def _exists(filename: str) -> Conflict:
    return Conflict(f"the file {filename} already exists: releases are immutable; publish a new version")
