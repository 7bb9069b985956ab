"""The registry's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

Prefixed `registry_` so that they can share a database with tercel's own. A project row keeps a
copy of its latest release's searchable fields (`latest_*`, `search_text`), so that listing and
searching read one row per project; `registry_types` and `registry_keywords` index every
release's types and keywords for the type pages and the filters.

The nightly runs (`registry_nightly_runs`) hold one result per (night, release, environment)
(`registry_nightly_results`, the night copied in so that "the same release and environment on
an earlier night" is one index seek); a result's per-test details and log tail sit in
`registry_nightly_details`, read only when one result is asked for. A release's `nightly`
column keeps the summary of its latest results the catalog shows, rewritten with each result.

Version 2 added the nightly tables: an older database gets them when the registry opens it.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "SCHEMA_VERSION",
    "files",
    "keywords",
    "meta",
    "metadata",
    "nightly_details",
    "nightly_results",
    "nightly_runs",
    "projects",
    "releases",
    "tokens",
    "types",
]

#: Bumped whenever the tables change; a database with a higher number is refused, one with a
#: lower number gets the missing tables (changes are additive: new tables only).
SCHEMA_VERSION = 2

metadata = MetaData()

meta = Table(
    "registry_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

projects = Table(
    "registry_projects", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),  # PEP 503 normalized
    Column("display_name", String(200), nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("updated", DateTime(timezone=True), nullable=False),
    Column("latest_release_id", Integer),  # the release "latest" means (see `latest_version`)
    Column("latest_version", String(100)),
    Column("summary", Text),
    Column("latest_keywords", JSON),
    Column("latest_types", JSON),  # [{"type", "kind", "title", "aliases"}] of the latest release
    Column("search_text", Text, nullable=False, default=""),  # lowercase: name, summary, keywords, types
    Column("downloads", BigInteger, nullable=False, default=0),
)

releases = Table(
    "registry_releases", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", Integer, ForeignKey("registry_projects.id", ondelete="CASCADE"), nullable=False),
    Column("version", String(100), nullable=False),  # PEP 440 normalized (`1.0.0`)
    Column("canonical_version", String(100), nullable=False),  # PEP 440 canonical (`1`)
    Column("summary", Text),
    Column("description", Text),
    Column("description_content_type", String(200)),
    Column("keywords", JSON, nullable=False),
    Column("requires_python", String(200)),
    Column("requires_dist", JSON, nullable=False),
    Column("sdk_requirement", String(200)),
    Column("entry_point", String(500)),
    Column("manifest", JSON),
    Column("license", Text),
    Column("author", Text),
    Column("home_page", Text),
    Column("yanked", Boolean, nullable=False, default=False),
    Column("yanked_reason", Text),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("nightly", JSON),  # the summary of its latest nightly results (see _nightly_store)
    UniqueConstraint("project_id", "canonical_version", name="registry_releases_version"),
)

files = Table(
    "registry_files", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("release_id", Integer, ForeignKey("registry_releases.id", ondelete="CASCADE"), nullable=False),
    Column("project_id", Integer, ForeignKey("registry_projects.id", ondelete="CASCADE"), nullable=False),
    Column("filename", String(300), nullable=False, unique=True),  # a filename is never reused
    Column("kind", String(16), nullable=False),  # wheel | sdist
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("uploaded", DateTime(timezone=True), nullable=False),
    Column("uploaded_by", String(200)),  # the token's name
    Column("path", Text, nullable=False),  # relative to the files folder, content-addressed
    Column("metadata_sha256", String(64)),
    Column("metadata_size", BigInteger),
    Column("metadata_path", Text),
    Column("downloads", BigInteger, nullable=False, default=0),
    Column("metadata_fetches", BigInteger, nullable=False, default=0),
    Index("registry_files_project", "project_id"),
    Index("registry_files_sha256", "sha256"),
)

tokens = Table(
    "registry_tokens", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("sha256", String(64), nullable=False, unique=True),  # of the token: never the token
    Column("scopes", JSON, nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("last_used", DateTime(timezone=True)),
    Column("revoked", DateTime(timezone=True)),
)
# one live token per name; a revoked token's name can be given again
Index(
    "registry_tokens_live_name", tokens.c.name, unique=True,
    sqlite_where=tokens.c.revoked.is_(None), postgresql_where=tokens.c.revoked.is_(None),
)

types = Table(
    "registry_types", metadata,
    Column("release_id", Integer, ForeignKey("registry_releases.id", ondelete="CASCADE"), primary_key=True),
    Column("type", String(300), primary_key=True),  # a type name or one of its aliases
    Column("project_id", Integer, ForeignKey("registry_projects.id", ondelete="CASCADE"), nullable=False),
    Column("alias_of", String(300)),  # the type's own name when `type` is an alias
    Column("kind", String(32)),
    Column("title", Text),
    Index("registry_types_type", "type"),
    Index("registry_types_project", "project_id"),
)

keywords = Table(
    "registry_keywords", metadata,
    Column("release_id", Integer, ForeignKey("registry_releases.id", ondelete="CASCADE"), primary_key=True),
    Column("keyword", String(200), primary_key=True),  # lowercase
    Column("project_id", Integer, ForeignKey("registry_projects.id", ondelete="CASCADE"), nullable=False),
    Index("registry_keywords_keyword", "keyword"),
)

nightly_runs = Table(
    "registry_nightly_runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("night", String(10), nullable=False, unique=True),  # YYYY-MM-DD, the runner's UTC date
    Column("started", DateTime(timezone=True), nullable=False),
    Column("finished", DateTime(timezone=True)),
    Column("environment", JSON, nullable=False),  # {"python", "sdk", "core", "platform"}
    Column("options", JSON, nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200)),  # the token's name
)

nightly_results = Table(
    "registry_nightly_results", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("registry_nightly_runs.id", ondelete="CASCADE"), nullable=False),
    Column("night", String(10), nullable=False),  # the run's, copied: results are compared across nights
    Column("project_id", Integer, ForeignKey("registry_projects.id", ondelete="CASCADE"), nullable=False),
    Column("release_id", Integer, ForeignKey("registry_releases.id", ondelete="CASCADE"), nullable=False),
    Column("python", String(64), nullable=False),
    Column("sdk", String(64), nullable=False),
    Column("core", String(64), nullable=False),
    Column("platform", String(64)),
    Column("status", String(16), nullable=False),  # passed | failed | error | timeout
    Column("reason", Text),
    Column("passed", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("errors", Integer, nullable=False),
    Column("skipped", Integer, nullable=False),
    Column("duration", Float, nullable=False),
    Column("started", DateTime(timezone=True), nullable=False),
    Column("finished", DateTime(timezone=True), nullable=False),
    Column("recorded", DateTime(timezone=True), nullable=False),
    Column("recorded_by", String(200)),
    # one result per release and environment a night; also the index the previous night is found by
    UniqueConstraint("release_id", "python", "sdk", "core", "night", name="registry_nightly_results_key"),
    Index("registry_nightly_results_run", "run_id", "status"),
    Index("registry_nightly_results_project", "project_id", "night"),
)

nightly_details = Table(
    "registry_nightly_details", metadata,
    Column("result_id", Integer, ForeignKey("registry_nightly_results.id", ondelete="CASCADE"), primary_key=True),
    Column("tests", JSON, nullable=False),  # [{"classname", "name", "outcome", "duration", "message"}]
    Column("log_tail", Text, nullable=False),
)
