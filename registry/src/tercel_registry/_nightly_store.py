"""The nightly runs' records: runs, one result per (night, release, environment), their details.

A result is recorded once: the unique key (release, python, sdk, core, night) refuses a second
one, whichever request gets there second (`Conflict`). Recording a result also rewrites its
release's `nightly` summary in the same transaction, with the release row locked, so the catalog
reads the latest status with the release itself and two results of one release posted at once
never leave a summary that misses one of them. "The previous result" of a release and
environment is the one of the latest earlier night that has it: one index seek on that key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select, update
from sqlalchemy.exc import IntegrityError

from . import _schema as t
from ._db import describe
from ._errors import Conflict, StoreError
from ._nightly_docs import summary
from ._nightly_input import ResultInput, RunInput
from ._store import RegistryStore, to_record

__all__ = ["NightlyStore", "Previous", "ResultRecord", "RunRecord"]


@dataclass(frozen=True)
class RunRecord:
    id: int
    night: str
    started: datetime
    finished: datetime | None
    environment: dict[str, Any]
    options: dict[str, Any]
    created: datetime
    created_by: str | None


@dataclass(frozen=True)
class ResultRecord:
    """A result, with the plugin and version it is of."""

    id: int
    run_id: int
    night: str
    project_id: int
    release_id: int
    python: str
    sdk: str
    core: str
    platform: str | None
    status: str
    reason: str | None
    passed: int
    failed: int
    errors: int
    skipped: int
    duration: float
    started: datetime
    finished: datetime
    recorded: datetime
    name: str
    display_name: str
    version: str
    yanked: bool


@dataclass(frozen=True)
class Previous:
    """The same release and environment on the latest earlier night that has it."""

    night: str
    status: str


_R = t.nightly_results
_RESULT_COLUMNS = (
    *(c for c in _R.c if c.name != "recorded_by"),
    t.projects.c.name, t.projects.c.display_name, t.releases.c.version, t.releases.c.yanked,
)


def _results_query() -> Any:
    return (
        select(*_RESULT_COLUMNS)
        .join(t.projects, t.projects.c.id == _R.c.project_id)
        .join(t.releases, t.releases.c.id == _R.c.release_id)
    )


def _exists(night: str, plugin: str, version: str, found: ResultInput) -> Conflict:
    env = found.environment
    return Conflict(
        f"a result of {plugin} {version} with Python {env.python}, SDK {env.sdk}, core {env.core} is already "
        f"recorded for this night ({night}): a result is recorded once a night"
    )


class NightlyStore:
    """The nightly tables of a registry's database (thread-safe, like `RegistryStore`)."""

    def __init__(self, store: RegistryStore) -> None:
        self.store = store

    # -- runs -----------------------------------------------------------------------------------

    def put_run(self, night: str, found: RunInput, by: str) -> tuple[RunRecord, bool]:
        """The run of `night`, created from `found` if there is none yet (and whether it was)."""
        with self.store.write() as conn:
            created = conn.execute(
                self.store.insert(t.nightly_runs).values(
                    night=night, started=found.started, environment=found.environment.doc(),
                    options=found.options, created=datetime.now(UTC), created_by=by,
                ).on_conflict_do_nothing(index_elements=["night"]).returning(t.nightly_runs.c.id)
            ).first() is not None  # not rowcount: PostgreSQL's driver reports -1 with RETURNING
            row = conn.execute(select(t.nightly_runs).where(t.nightly_runs.c.night == night)).one()
        return to_record(RunRecord, row), created

    def run(self, night: str) -> RunRecord | None:
        with self.store.read() as conn:
            row = conn.execute(select(t.nightly_runs).where(t.nightly_runs.c.night == night)).first()
        return None if row is None else to_record(RunRecord, row)

    def finish_run(self, night: str, finished: datetime) -> RunRecord | None:
        with self.store.write() as conn:
            row = conn.execute(
                update(t.nightly_runs).where(t.nightly_runs.c.night == night)
                .values(finished=finished).returning(*t.nightly_runs.c)
            ).first()
        return None if row is None else to_record(RunRecord, row)

    def previous_night(self, night: str) -> str | None:
        """The night of the run before `night`'s, if any."""
        with self.store.read() as conn:
            return conn.execute(select(func.max(t.nightly_runs.c.night)).where(t.nightly_runs.c.night < night)).scalar()

    def runs(self, *, offset: int, limit: int) -> tuple[int, list[tuple[RunRecord, dict[str, int]]]]:
        """A page of the runs, newest first, each with its number of results per status."""
        with self.store.read() as conn:
            total = conn.execute(select(func.count()).select_from(t.nightly_runs)).scalar_one()
            rows = conn.execute(
                select(t.nightly_runs).order_by(t.nightly_runs.c.night.desc()).offset(offset).limit(limit)
            ).all()
            runs = [to_record(RunRecord, r) for r in rows]
            counts = self._counts(conn, [r.id for r in runs])
        return total, [(r, counts.get(r.id, {})) for r in runs]

    def counts(self, run_id: int) -> dict[str, int]:
        with self.store.read() as conn:
            return self._counts(conn, [run_id]).get(run_id, {})

    def _counts(self, conn: Connection, run_ids: Sequence[int]) -> dict[int, dict[str, int]]:
        if not run_ids:
            return {}
        rows = conn.execute(
            select(_R.c.run_id, _R.c.status, func.count()).where(_R.c.run_id.in_(run_ids)).group_by(_R.c.run_id, _R.c.status)
        ).all()
        out: dict[int, dict[str, int]] = {}
        for run_id, status, count in rows:
            out.setdefault(run_id, {})[status] = count
        return out

    # -- results --------------------------------------------------------------------------------

    def add_result(
        self, run: RunRecord, project_id: int, release_id: int, found: ResultInput, by: str, *, plugin: str, version: str,
    ) -> ResultRecord:
        """Record one result and its details, and rewrite its release's summary; `Conflict`
        when this night has it already or the run has finished meanwhile."""
        env = found.environment
        try:
            with self.store.write() as conn:
                # the release row first: results of one release are recorded one at a time
                conn.execute(select(t.releases.c.id).where(t.releases.c.id == release_id).with_for_update())
                taken = conn.execute(select(_R.c.id).where(
                    _R.c.release_id == release_id, _R.c.python == env.python, _R.c.sdk == env.sdk,
                    _R.c.core == env.core, _R.c.night == run.night,
                )).first()
                if taken is not None:
                    raise _exists(run.night, plugin, version, found)
                finished = conn.execute(select(t.nightly_runs.c.finished).where(t.nightly_runs.c.id == run.id)).scalar()
                if finished is not None:
                    raise Conflict(f"the nightly run of {run.night} has finished: it takes no more results")
                result_id = conn.execute(
                    _R.insert().values(
                        run_id=run.id, night=run.night, project_id=project_id, release_id=release_id,
                        python=env.python, sdk=env.sdk, core=env.core, platform=env.platform,
                        status=found.status, reason=found.reason, duration=found.duration,
                        started=found.started, finished=found.finished, recorded=datetime.now(UTC),
                        recorded_by=by, **found.counts,
                    ).returning(_R.c.id)
                ).scalar_one()
                conn.execute(t.nightly_details.insert().values(result_id=result_id, tests=found.tests, log_tail=found.log_tail))
                self._refresh_summary(conn, release_id)
                row = conn.execute(_results_query().where(_R.c.id == result_id)).one()
        except IntegrityError as exc:  # a concurrent post of the same result won the race
            if "registry_nightly_results" in str(exc.orig) or "UNIQUE" in str(exc.orig).upper():
                raise _exists(run.night, plugin, version, found) from None
            raise StoreError(f"the registry's database {self.store.display_url} refused the result: {describe(exc)}") from exc
        return to_record(ResultRecord, row)

    def _refresh_summary(self, conn: Connection, release_id: int) -> None:
        """The release's `nightly`: its latest result in each environment."""
        latest = (
            select(_R.c.python, _R.c.sdk, _R.c.core, func.max(_R.c.night).label("night"))
            .where(_R.c.release_id == release_id).group_by(_R.c.python, _R.c.sdk, _R.c.core).subquery()
        )
        rows = conn.execute(_results_query().join(latest, and_(
            _R.c.python == latest.c.python, _R.c.sdk == latest.c.sdk, _R.c.core == latest.c.core, _R.c.night == latest.c.night,
        )).where(_R.c.release_id == release_id)).all()
        conn.execute(
            update(t.releases).where(t.releases.c.id == release_id)
            .values(nightly=summary([to_record(ResultRecord, r) for r in rows]))
        )

    def results(
        self, run_id: int, *, project_id: int | None = None, release_id: int | None = None,
        offset: int = 0, limit: int | None = None,
    ) -> tuple[int, list[ResultRecord]]:
        """A run's results (of one plugin, or one version), by plugin and version, and how many."""
        where = [_R.c.run_id == run_id]
        if project_id is not None:
            where.append(_R.c.project_id == project_id)
        if release_id is not None:
            where.append(_R.c.release_id == release_id)
        with self.store.read() as conn:
            total = conn.execute(select(func.count()).select_from(_R).where(*where)).scalar_one()
            query = _results_query().where(*where).order_by(t.projects.c.name, _R.c.release_id.desc(), _R.c.id)
            rows = conn.execute(query.offset(offset).limit(limit)).all()
        return total, [to_record(ResultRecord, r) for r in rows]

    def details(self, result_ids: Sequence[int]) -> dict[int, tuple[list[dict[str, Any]], str]]:
        """(tests, log tail) of each result."""
        if not result_ids:
            return {}
        with self.store.read() as conn:
            rows = conn.execute(select(t.nightly_details).where(t.nightly_details.c.result_id.in_(result_ids))).all()
        return {r.result_id: (list(r.tests), r.log_tail) for r in rows}

    def previous(self, run_id: int) -> dict[int, Previous]:
        """For each result of the run that has one, the previous result of its release and
        environment: the one of the latest earlier night that has that key."""
        cur, prev, earlier = _R.alias("cur"), _R.alias("prev"), _R.alias("earlier")
        same = [
            earlier.c.release_id == cur.c.release_id, earlier.c.python == cur.c.python,
            earlier.c.sdk == cur.c.sdk, earlier.c.core == cur.c.core,
        ]
        last_before = (
            select(func.max(earlier.c.night)).where(*same, earlier.c.night < cur.c.night).correlate(cur).scalar_subquery()
        )
        query = (
            select(cur.c.id, prev.c.night, prev.c.status)
            .select_from(cur)
            .join(prev, and_(
                prev.c.release_id == cur.c.release_id, prev.c.python == cur.c.python,
                prev.c.sdk == cur.c.sdk, prev.c.core == cur.c.core, prev.c.night == last_before,
            ))
            .where(cur.c.run_id == run_id)
        )
        with self.store.read() as conn:
            rows = conn.execute(query).all()
        return {r.id: Previous(r.night, r.status) for r in rows}

    def history(
        self, project_id: int, *, release_id: int | None, offset: int, limit: int,
    ) -> tuple[int, list[str], list[ResultRecord]]:
        """A page of the nights with results of a project (or one release), newest first: how
        many nights in all, the page's nights, and their results."""
        where = [_R.c.project_id == project_id]
        if release_id is not None:
            where.append(_R.c.release_id == release_id)
        nights_query = select(_R.c.night).where(*where).distinct()
        with self.store.read() as conn:
            total = conn.execute(select(func.count()).select_from(nights_query.subquery())).scalar_one()
            nights = list(conn.execute(nights_query.order_by(_R.c.night.desc()).offset(offset).limit(limit)).scalars())
            rows = conn.execute(_results_query().where(*where, _R.c.night.in_(nights))).all() if nights else []
        return total, nights, [to_record(ResultRecord, r) for r in rows]
