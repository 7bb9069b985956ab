"""The nightly results' operations, for the HTTP layer: record what `tercel nightly run` posts,
and read runs, results, a plugin's history and its badge's status.

Posting needs a token with the exact scope `nightly` (checked by the caller before the body is
read, see `authorize`); reading is public. A run is created once per night and found again by
the same PUT (so a runner restarted in the night carries on with it); its results name a
plugin and a version of this registry, each recorded once per environment and night.
"""

from __future__ import annotations

from typing import Any

from ._errors import BadRequest, NotFound
from ._names import canonical_name, version_key
from ._nightly_docs import NOT_RUN, changes, environment_order, result_doc, run_doc, with_details
from ._nightly_input import parse_finish, parse_night, parse_result, parse_run
from ._nightly_store import NightlyStore, ResultRecord, RunRecord
from ._store import ProjectRecord, RegistryStore, ReleaseRecord, TokenRecord
from ._tokens import TokenManager

__all__ = ["MAX_PAGE_SIZE", "Nightly"]

MAX_PAGE_SIZE = 100


def _page(page: int, size: int, largest: int = MAX_PAGE_SIZE) -> int:
    """The offset of a page (pages start at 1); `BadRequest` out of range."""
    if page < 1:
        raise BadRequest(f"page {page} does not exist: pages start at 1")
    if not 1 <= size <= largest:
        raise BadRequest(f"size {size} is out of range: 1 to {largest}")
    return (page - 1) * size


class Nightly:
    """One registry's nightly runs (thread-safe)."""

    def __init__(self, store: RegistryStore, tokens: TokenManager) -> None:
        self.store = store
        self.records = NightlyStore(store)
        self.tokens = tokens

    # -- posting --------------------------------------------------------------------------------

    def authorize(self, authorization: str | None) -> TokenRecord:
        """The token of a posting request: 401 without a valid one, 403 without the scope `nightly`."""
        token = self.tokens.authenticate(authorization)
        self.tokens.authorize_nightly(token)
        return token

    def put_run(self, token: TokenRecord, night: str, body: bytes) -> tuple[dict[str, Any], bool]:
        """The run of `night` (created from `body` if new) and whether it was created."""
        night = parse_night(night)
        found = parse_run(body)
        run, created = self.records.put_run(night, found, token.name)
        self.store.touch_token(token.id)
        return self._run_doc(run), created

    def finish_run(self, token: TokenRecord, night: str, body: bytes) -> dict[str, Any]:
        night = parse_night(night)
        finished = parse_finish(body)
        run = self._run(night)
        if finished < run.started:
            raise BadRequest(f"finishedAt {finished.isoformat()} is before the run's start ({run.started.isoformat()})")
        done = self.records.finish_run(night, finished) or run
        self.store.touch_token(token.id)
        return self._run_doc(done)

    def add_result(self, token: TokenRecord, night: str, body: bytes) -> dict[str, Any]:
        """Record one (plugin, version, environment) result of `night`'s run: 404 for a run,
        plugin or version this registry does not have, 409 when already recorded or when the
        run has finished."""
        run = self._run(parse_night(night))
        found = parse_result(body)
        project = self._project(found.plugin)
        release = self._release(project, found.version)
        record = self.records.add_result(
            run, project.id, release.id, found, token.name, plugin=project.name, version=release.version,
        )
        self.store.touch_token(token.id)
        return result_doc(record)

    # -- reading --------------------------------------------------------------------------------

    def _run(self, night: str) -> RunRecord:
        run = self.records.run(night)
        if run is None:
            raise NotFound(f"no nightly run for {night} in this registry (PUT /api/v1/nightly/runs/{night} creates it)")
        return run

    def _project(self, name: str) -> ProjectRecord:
        project = self.store.project(canonical_name(name))
        if project is None:
            raise NotFound(f"no plugin named {canonical_name(name)!r} in this registry")
        return project

    def _release(self, project: ProjectRecord, version: str) -> ReleaseRecord:
        release = self.store.release(project.id, version)
        if release is None:
            raise NotFound(f"{project.name} has no version {version} in this registry")
        return release

    def _run_doc(self, run: RunRecord) -> dict[str, Any]:
        """A run with its counts and the night of the run before it."""
        return {**run_doc(run, self.records.counts(run.id)), "previousNight": self.records.previous_night(run.night)}

    def runs(self, *, page: int, size: int) -> dict[str, Any]:
        """A page of the runs, newest first, with their counts per status."""
        total, runs = self.records.runs(offset=_page(page, size), limit=size)
        return {"total": total, "page": page, "size": size, "runs": [run_doc(r, counts) for r, counts in runs]}

    def run(self, night: str) -> dict[str, Any]:
        """A run with its results (no per-test details) and what broke and was fixed since the
        previous night that has each (release, environment)."""
        run = self._run(parse_night(night))
        _, results = self.records.results(run.id)
        broken, fixed = changes(results, self.records.previous(run.id))
        counts: dict[str, int] = {}
        for r in results:
            counts[r.status] = counts.get(r.status, 0) + 1
        return {
            **run_doc(run, counts),
            "previousNight": self.records.previous_night(run.night),
            "broken": broken,
            "fixed": fixed,
            "results": [result_doc(r) for r in _ordered(results)],
        }

    def results(
        self, night: str, *, plugin: str | None, version: str | None, page: int, size: int, details: bool = True,
    ) -> dict[str, Any]:
        """A page of a run's results (of a plugin, a version) with their tests and log tails,
        unless `details` is false (what a resuming runner needs: which results exist)."""
        run = self._run(parse_night(night))
        if version and not plugin:
            raise BadRequest("version needs plugin: ?plugin=tercel-plugin-x&version=1.0.0")
        project = self._project(plugin) if plugin else None
        release = self._release(project, version) if project and version else None
        total, results = self.records.results(
            run.id, project_id=project.id if project else None, release_id=release.id if release else None,
            offset=_page(page, size), limit=size,
        )
        found = self.records.details([r.id for r in results]) if details else {}
        return {
            "night": run.night, "plugin": project.name if project else None, "version": release.version if release else None,
            "total": total, "page": page, "size": size,
            "results": [
                with_details(result_doc(r), *found.get(r.id, ([], ""))) if details else result_doc(r) for r in _ordered(results)
            ],
        }

    def history(self, name: str, *, version: str | None, page: int, size: int) -> dict[str, Any]:
        """A plugin's results night by night, newest first (a page of nights), each night's
        newest version first."""
        project = self._project(name)
        release = self._release(project, version) if version else None
        total, nights, results = self.records.history(
            project.id, release_id=release.id if release else None, offset=_page(page, size), limit=size,
        )
        by_night: dict[str, list[ResultRecord]] = {n: [] for n in nights}
        for r in results:
            by_night[r.night].append(r)
        return {
            "name": project.name, "displayName": project.display_name, "version": release.version if release else None,
            "total": total, "page": page, "size": size,
            "nights": [{"night": n, "results": [result_doc(r) for r in _ordered(found)]} for n, found in by_night.items()],
        }

    def badge_status(self, name: str) -> str:
        """The status of the plugin's latest version that is not yanked (`not run` if none)."""
        project = self._project(name)
        release = self.store.release(project.id, project.latest_version) if project.latest_version else None
        if release is None or release.yanked:
            return NOT_RUN
        return str((release.nightly or {}).get("status") or NOT_RUN)


def _ordered(results: list[ResultRecord]) -> list[ResultRecord]:
    """By plugin, then the newest version first, then the newest SDK (core, Python) first."""
    out = sorted(results, key=environment_order, reverse=True)
    out.sort(key=lambda r: version_key(r.version), reverse=True)
    out.sort(key=lambda r: r.name)
    return out
