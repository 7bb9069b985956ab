"""The catalog's documents (the JSON API and the pages read the same) and search ranking.

Everything comes from what the upload checks found in each release: the core metadata and the
wheel's `tercel-manifest.json` (types with their JSON Schemas, examples, outputs, aliases).
Keys are camelCase like the rest of tercel's API. `nightly` is each version's latest nightly
test results (see `_nightly_docs.summary`), `{"status": "not run"}` until a run reports one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from importlib import metadata
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from ._names import canonical_name, version_key
from ._nightly_docs import NOT_RUN
from ._simple import upload_time
from ._store import FileRecord, ProjectRecord, ReleaseRecord

__all__ = ["plugin_doc", "plugin_summary", "ranker", "sdk_compatible", "type_doc", "type_providers_doc", "version_doc"]

FileUrl = Callable[[FileRecord], str]


def ranker(words: Sequence[str]) -> Callable[[ProjectRecord], float]:
    """How well a project matches the search words (every word matched somewhere already):
    its name first, then its types, keywords and summary. The words are prepared once."""
    prepared = [(w.lower(), canonical_name(w)) for w in words]

    def rank(project: ProjectRecord) -> float:
        name = project.name
        short = name.removeprefix("tercel-plugin-")
        summary = (project.summary or "").lower()
        keywords = {k.lower() for k in project.latest_keywords or ()}
        types = [
            ([str(e.get("type", "")).lower(), *(str(a).lower() for a in e.get("aliases") or ())], str(e.get("title") or "").lower())
            for e in project.latest_types or ()
        ]
        score = 0.0
        for word, canonical in prepared:
            if canonical in (name, short):
                score += 100
            elif name.startswith(canonical) or short.startswith(canonical):
                score += 60
            elif canonical in name:
                score += 40
            if word in keywords:
                score += 30
            best = 0
            for names, title in types:
                if any(n == word or n.rsplit(".", 1)[-1] == word for n in names):
                    best = 35
                    break
                if any(word in n for n in names):
                    best = max(best, 20)
                elif word in title:
                    best = max(best, 15)
            score += best
            if word in summary:
                score += 10
        return score

    return rank


@cache
def _sdk_version() -> Version | None:
    """The tercel-plugin-sdk this registry runs with: what "compatible" is measured against."""
    try:
        return Version(metadata.version("tercel-plugin-sdk"))
    except (metadata.PackageNotFoundError, InvalidVersion):
        return None


def sdk_compatible(requirement: str | None) -> bool | None:
    """Whether a release's SDK range admits the registry's SDK (None: either is unknown)."""
    sdk = _sdk_version()
    if requirement is None or sdk is None:
        return None
    try:
        return SpecifierSet(requirement).contains(sdk, prereleases=True)
    except InvalidSpecifier:
        return None


def _time(value: Any) -> str | None:
    return upload_time(value) if value is not None else None


def plugin_summary(project: ProjectRecord) -> dict[str, Any]:
    """A project as the search lists it."""
    return {
        "name": project.name,
        "displayName": project.display_name,
        "summary": project.summary,
        "latestVersion": project.latest_version,
        "keywords": list(project.latest_keywords or ()),
        "types": [  # the latest version's, in brief (a version's document has their docs)
            {"type": e.get("type"), "kind": e.get("kind"), "title": e.get("title"), "aliases": list(e.get("aliases") or ())}
            for e in project.latest_types or ()
        ],
        "downloads": project.downloads,
        "updated": _time(project.updated),
    }


def _version_entry(release: ReleaseRecord, uploaded: Any) -> dict[str, Any]:
    return {
        "version": release.version,
        "yanked": release.yanked,
        "yankedReason": release.yanked_reason,
        "uploadTime": _time(uploaded or release.created),
        "requiresPython": release.requires_python,
        "sdkRequirement": release.sdk_requirement,
        "sdkCompatible": sdk_compatible(release.sdk_requirement),
        "nightly": release.nightly or {"status": NOT_RUN},
    }


def plugin_doc(project: ProjectRecord, releases: Iterable[ReleaseRecord], files: Iterable[FileRecord]) -> dict[str, Any]:
    """A project: what its latest release says, and every version (newest first)."""
    first_upload: dict[int, Any] = {}
    for f in files:
        if f.release_id not in first_upload or f.uploaded < first_upload[f.release_id]:
            first_upload[f.release_id] = f.uploaded
    ordered = sorted(releases, key=lambda r: version_key(r.version), reverse=True)
    latest = next((r for r in ordered if r.id == project.latest_release_id), None)
    return {
        **plugin_summary(project),
        "description": latest.description if latest else None,
        "descriptionContentType": latest.description_content_type if latest else None,
        "license": latest.license if latest else None,
        "author": latest.author if latest else None,
        "homePage": latest.home_page if latest else None,
        "entryPoint": latest.entry_point if latest else None,
        "created": _time(project.created),
        "versions": [_version_entry(r, first_upload.get(r.id)) for r in ordered],
    }


def type_doc(entry: Mapping[str, Any]) -> dict[str, Any]:
    """One type of a release, from its manifest entry: every property with its JSON Schema."""
    schema = entry.get("schema") if isinstance(entry.get("schema"), Mapping) else {}
    prop_schemas = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    properties = {}
    declared = entry.get("properties") if isinstance(entry.get("properties"), Mapping) else {}
    for name in [*declared, *(n for n in prop_schemas if n not in declared)]:
        meta = dict(declared.get(name) or {})
        meta.setdefault("required", name in required)
        meta.setdefault("description", (prop_schemas.get(name) or {}).get("description", ""))
        properties[name] = {**meta, "schema": prop_schemas.get(name, {})}
    return {
        "type": entry.get("type"),
        "kind": entry.get("kind"),
        "title": entry.get("title"),
        "description": entry.get("description"),
        "aliases": list(entry.get("aliases") or ()),
        "flowable": bool(entry.get("flowable")),
        "properties": properties,
        "schema": dict(schema),
        "examples": list(entry.get("examples") or ()),
        "outputs": entry.get("outputs"),
        "metrics": list(entry.get("metrics") or ()),
        "taskSlots": dict(entry.get("taskSlots") or {}),
    }


def version_doc(project: ProjectRecord, release: ReleaseRecord, files: Sequence[FileRecord], url: FileUrl) -> dict[str, Any]:
    """One version: its files with their hashes, what it requires, and its types' docs."""
    entries = [e for e in (release.manifest or {}).get("types") or () if isinstance(e, Mapping) and e.get("type")]
    return {
        "name": project.name,
        "displayName": project.display_name,
        **_version_entry(release, min((f.uploaded for f in files), default=None)),
        "summary": release.summary,
        "description": release.description,
        "descriptionContentType": release.description_content_type,
        "keywords": list(release.keywords),
        "requiresDist": list(release.requires_dist),
        "entryPoint": release.entry_point,
        "license": release.license,
        "author": release.author,
        "homePage": release.home_page,
        "latest": release.id == project.latest_release_id,
        "downloads": sum(f.downloads for f in files),
        "files": [
            {
                "filename": f.filename,
                "kind": f.kind,
                "url": url(f),
                "hashes": {"sha256": f.sha256},
                "size": f.size,
                "uploadTime": _time(f.uploaded),
                "coreMetadata": {"sha256": f.metadata_sha256} if f.metadata_sha256 else None,
                "downloads": f.downloads,
                "metadataFetches": f.metadata_fetches,
            }
            for f in files
        ],
        "types": [type_doc(e) for e in sorted(entries, key=lambda e: str(e["type"]))],
    }


def type_providers_doc(type_name: str, providers: Iterable[tuple[ProjectRecord, ReleaseRecord, str | None]]) -> dict[str, Any]:
    """Which plugins and versions provide a type (by its name or as an alias)."""
    by_project: dict[int, tuple[ProjectRecord, list[tuple[ReleaseRecord, str | None]]]] = {}
    for project, release, alias_of in providers:
        by_project.setdefault(project.id, (project, []))[1].append((release, alias_of))
    plugins = []
    for project, found in sorted(by_project.values(), key=lambda p: p[0].name):
        found.sort(key=lambda item: version_key(item[0].version), reverse=True)
        newest = next((r for r, _ in found if not r.yanked), found[0][0])
        entry = next(
            (e for e in (newest.manifest or {}).get("types") or ()
             if isinstance(e, Mapping) and (e.get("type") == type_name or type_name in (e.get("aliases") or ()))),
            {},
        )
        plugins.append({
            "name": project.name,
            "displayName": project.display_name,
            "latestVersion": project.latest_version,
            "title": entry.get("title"),
            "kind": entry.get("kind"),
            "aliasOf": next((a for r, a in found if r.id == newest.id), None),
            "versions": [{"version": r.version, "yanked": r.yanked} for r, _ in found],
        })
    return {"type": type_name, "plugins": plugins}
