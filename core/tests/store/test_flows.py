"""Flow revisions, identical saves, soft delete and listing."""

from __future__ import annotations

import pytest
from tercel.store import Database, FlowRecord

SOURCE_1 = "id: hello\nnamespace: company.team\n# a comment kept as written\ntasks: []\n"
SOURCE_2 = SOURCE_1 + "description: changed\n"
LOCK = {"tercel.core.Log": {"distribution": "tercel-plugin-core", "version": "1.0.0"}}


def test_save_creates_revisions_and_get_returns_latest(db: Database) -> None:
    assert db.flows.save("company.team", "hello", SOURCE_1, lock=LOCK) == 1
    assert db.flows.save("company.team", "hello", SOURCE_2, lock={}, validated={"id": "hello"}) == 2

    latest = db.flows.get("company.team", "hello")
    assert isinstance(latest, FlowRecord)
    assert (latest.revision, latest.source, latest.lock, latest.deleted) == (2, SOURCE_2, {}, False)
    assert latest.validated == {"id": "hello"}

    first = db.flows.get("company.team", "hello", revision=1)
    assert first is not None
    assert (first.source, first.lock, first.validated) == (SOURCE_1, LOCK, None)
    assert db.flows.get("company.team", "hello", revision=3) is None
    assert db.flows.get("company.team", "missing") is None


def test_identical_source_makes_no_new_revision(db: Database) -> None:
    assert db.flows.save("n", "f", SOURCE_1, lock=LOCK) == 1
    assert db.flows.save("n", "f", SOURCE_1, lock=dict(LOCK)) == 1
    assert db.flows.save("n", "f", SOURCE_2, lock=LOCK) == 2
    assert db.flows.save("n", "f", SOURCE_2, lock=LOCK) == 2
    # byte-identical means byte-identical: whitespace is a change
    assert db.flows.save("n", "f", SOURCE_2 + " ", lock=LOCK) == 3
    assert [r.revision for r in db.flows.revisions("n", "f")] == [1, 2, 3]


def test_the_same_source_resolved_to_other_plugin_versions_is_a_new_revision(db: Database) -> None:
    """A revision is its source and its plugin lock: neither changes once saved."""
    assert db.flows.save("n", "f", SOURCE_1, lock=LOCK) == 1
    other = {"other.Type": {"distribution": "tercel-plugin-other", "version": "2.0.0"}}
    assert db.flows.save("n", "f", SOURCE_1, lock=other) == 2
    assert db.flows.get("n", "f", revision=1).lock == LOCK
    assert db.flows.get("n", "f").lock == other


def test_soft_delete_appends_a_tombstone(db: Database) -> None:
    db.flows.save("n", "f", SOURCE_1, lock=LOCK)
    assert db.flows.delete("n", "f") == 2
    assert db.flows.get("n", "f") is None
    assert db.flows.delete("n", "f") is None  # already deleted
    assert db.flows.delete("n", "missing") is None

    revisions = db.flows.revisions("n", "f")
    assert [(r.revision, r.deleted) for r in revisions] == [(1, False), (2, True)]
    assert revisions[1].source == SOURCE_1 and revisions[1].lock == LOCK
    # old revisions stay readable (an execution may still reference them)
    tomb = db.flows.get("n", "f", revision=2)
    assert tomb is not None and tomb.deleted

    # saving again, even the same source, brings the flow back as a new revision
    assert db.flows.save("n", "f", SOURCE_1, lock=LOCK) == 3
    record = db.flows.get("n", "f")
    assert record is not None and record.revision == 3 and not record.deleted


def test_list_latest_live_flows_by_namespace_and_prefix(db: Database) -> None:
    db.flows.save("company.team", "a", SOURCE_1, lock={})
    db.flows.save("company.team", "a", SOURCE_2, lock={})
    db.flows.save("company.team", "b", SOURCE_1, lock={})
    db.flows.save("company.team.sub", "c", SOURCE_1, lock={})
    db.flows.save("company.teams", "d", SOURCE_1, lock={})
    db.flows.save("company_team", "e", SOURCE_1, lock={})
    db.flows.save("other", "gone", SOURCE_1, lock={})
    db.flows.delete("other", "gone")

    def keys(records: list[FlowRecord]) -> list[tuple[str, str, int]]:
        return [(r.namespace, r.flow_id, r.revision) for r in records]

    assert keys(db.flows.list()) == [
        ("company.team", "a", 2),
        ("company.team", "b", 1),
        ("company.team.sub", "c", 1),
        ("company.teams", "d", 1),
        ("company_team", "e", 1),
    ]
    assert keys(db.flows.list(namespace="company.team")) == [
        ("company.team", "a", 2),
        ("company.team", "b", 1),
    ]
    # a prefix is a namespace and its children; `_` and `%` are not wildcards
    assert keys(db.flows.list(prefix="company.team")) == [
        ("company.team", "a", 2),
        ("company.team", "b", 1),
        ("company.team.sub", "c", 1),
    ]
    assert keys(db.flows.list(prefix="company_team")) == [("company_team", "e", 1)]
    assert db.flows.list(namespace="other") == []


@pytest.mark.parametrize("source", ["", "ünïcødé: ✓\n", "x" * 200_000])
def test_sources_round_trip_exactly(db: Database, source: str) -> None:
    db.flows.save("n", "f", source, lock={"k": [1, 2, {"é": None}]})
    record = db.flows.get("n", "f")
    assert record is not None
    assert record.source == source
    assert record.lock == {"k": [1, 2, {"é": None}]}
