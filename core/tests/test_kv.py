"""KVStore over real local storage, with an injected clock for TTLs."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from tercel.errors import TercelError
from tercel.kv import InvalidKVKey, KVAlreadyExists, KVEntry, KVError, KVStore, kv_type_name
from tercel.storage import LocalStorage


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "storage")


@pytest.fixture
def kv(storage: LocalStorage, clock: Clock) -> KVStore:
    return KVStore(storage, clock=clock)


def test_values_keep_their_types(kv: KVStore) -> None:
    values = {
        "s": "text",
        "i": 42,
        "f": 1.5,
        "d": Decimal("10.50"),
        "b": True,
        "dt": datetime(2024, 1, 2, 3, 4, 5, 678, tzinfo=timezone(timedelta(hours=2))),
        "naive": datetime(2024, 1, 2, 3, 4, 5),
        "day": date(2024, 1, 2),
        "t": time(12, 30),
        "dur": timedelta(minutes=90),
        "raw": b"\x00\xff",
        "obj": {"nested": [1, "two", Decimal("3.0")]},
        "none": None,
    }
    for key, value in values.items():
        kv.set("company.team", key, value)
    for key, value in values.items():
        got = kv.get("company.team", key)
        assert got == value and type(got) is type(value), key
    assert kv.get_entry("company.team", "dt").value.utcoffset() == timedelta(hours=2)


def test_entry_metadata(kv: KVStore, clock: Clock) -> None:
    created = clock.now
    entry = kv.set("ns", "k", ("a", 1), ttl=timedelta(hours=1))
    assert entry == KVEntry("ns", "k", ["a", 1], "JSON", created, created, created + timedelta(hours=1))
    clock.advance(minutes=10)
    updated = kv.set("ns", "k", 5)
    assert (updated.creation_date, updated.update_date, updated.expiration_date) == (created, clock.now, None)
    assert kv.get_entry("ns", "k") == updated
    assert updated.to_dict() == {
        "key": "k", "type": "NUMBER", "creationDate": "2024-05-01T12:00:00+00:00",
        "updateDate": "2024-05-01T12:10:00+00:00", "expirationDate": None,
    }


def test_ttl_expiry_without_sleeping(kv: KVStore, clock: Clock, storage: LocalStorage) -> None:
    kv.set("ns", "session", "token", ttl=timedelta(minutes=5))
    clock.advance(minutes=4, seconds=59)
    assert kv.get("ns", "session") == "token"
    clock.advance(seconds=1)
    assert kv.get("ns", "session") is None
    assert kv.get_entry("ns", "session") is None
    assert not storage.exists("tercel:///ns/_kv/session")  # deleted lazily on read


def test_expired_key_can_be_created_again_and_gets_a_new_creation_date(kv: KVStore, clock: Clock) -> None:
    kv.set("ns", "k", 1, ttl=timedelta(seconds=1))
    clock.advance(seconds=2)
    entry = kv.set("ns", "k", 2, overwrite=False)  # the expired value does not count
    assert entry.creation_date == clock.now and entry.expiration_date is None


def test_overwrite_false(kv: KVStore) -> None:
    kv.set("ns", "k", "first")
    with pytest.raises(KVAlreadyExists, match="already exists") as info:
        kv.set("ns", "k", "second", overwrite=False)
    assert (info.value.namespace, info.value.key) == ("ns", "k")
    assert kv.get("ns", "k") == "first"


def test_none_value_versus_missing(kv: KVStore) -> None:
    kv.set("ns", "empty", None)
    assert kv.get("ns", "empty") is None
    assert kv.get_entry("ns", "empty") is not None
    assert kv.get_entry("ns", "missing") is None


def test_delete(kv: KVStore, clock: Clock) -> None:
    kv.set("ns", "k", 1)
    assert kv.delete("ns", "k") is True
    assert kv.delete("ns", "k") is False
    kv.set("ns", "old", 1, ttl=timedelta(seconds=1))
    clock.advance(seconds=5)
    assert kv.delete("ns", "old") is False  # it had already expired
    assert kv.get_entry("ns", "old") is None


def test_list_is_per_namespace_sorted_and_skips_expired(kv: KVStore, clock: Clock) -> None:
    kv.set("company.team", "b-key", 2)
    kv.set("company.team", "a-key", 1)
    kv.set("company.team", "temp", 0, ttl=timedelta(seconds=10))
    kv.set("company.team.child", "c-key", 3)
    kv.set("company", "d-key", 4)
    assert [e.key for e in kv.list("company.team")] == ["a-key", "b-key", "temp"]
    clock.advance(seconds=11)
    assert [e.key for e in kv.list("company.team")] == ["a-key", "b-key"]
    assert [e.key for e in kv.list("company.team", prefix="b")] == ["b-key"]
    assert [e.value for e in kv.list("company.team.child")] == [3]
    assert kv.list("nothing.here") == []


def test_purge_expired(kv: KVStore, clock: Clock, storage: LocalStorage) -> None:
    kv.set("a", "x", 1, ttl=timedelta(seconds=1))
    kv.set("a", "keep", 1)
    kv.set("b.c", "y", 1, ttl=timedelta(seconds=1))
    kv.set("b.c", "z", 1, ttl=timedelta(days=1))
    storage.put("tercel:///b/c/_files/_kv/not-kv", b"a namespace file")
    storage.put("tercel:///b/c/_kv/junk", b"not ion at all")
    clock.advance(seconds=2)
    assert kv.purge_expired("a") == 1
    assert kv.purge_expired() == 1
    assert kv.purge_expired() == 0
    remaining = sorted(info.path for info in storage.list("tercel:///"))
    assert remaining == ["a/_kv/keep", "b/c/_files/_kv/not-kv", "b/c/_kv/junk", "b/c/_kv/z"]


def test_a_refreshed_key_is_not_purged(kv: KVStore, clock: Clock) -> None:
    kv.set("ns", "k", 1, ttl=timedelta(seconds=1))
    clock.advance(seconds=2)
    kv.set("ns", "k", 2)  # written again before anyone purged it
    assert kv.purge_expired() == 0
    assert kv.get("ns", "k") == 2


@pytest.mark.parametrize("key", ["", "-lead", ".lead", "has space", "sl/ash", "../up", "ü", "a" * 256])
def test_invalid_keys(kv: KVStore, key: str) -> None:
    with pytest.raises(InvalidKVKey) as info:
        kv.set("ns", key, 1)
    assert isinstance(info.value, KVError) and isinstance(info.value, TercelError)
    with pytest.raises(InvalidKVKey):
        kv.get("ns", key)


def test_longest_key_is_accepted(kv: KVStore) -> None:
    key = "k" * 255
    kv.set("ns", key, "long")
    assert kv.get("ns", key) == "long"
    assert [e.key for e in kv.list("ns")] == [key]


def test_other_errors(kv: KVStore, storage: LocalStorage) -> None:
    with pytest.raises(KVError, match="cannot be stored"):
        kv.set("ns", "k", {1, 2})
    with pytest.raises(KVError, match="positive"):
        kv.set("ns", "k", 1, ttl=timedelta(0))
    with pytest.raises(KVError, match="namespace"):
        kv.set("a..b", "k", 1)
    with pytest.raises(KVError, match="namespace is required"):
        kv.get("", "k")
    storage.put("tercel:///ns/_kv/broken", b"{unclosed")
    with pytest.raises(KVError, match="unreadable"):
        kv.get("ns", "broken")
    assert kv.delete("ns", "broken") is True
    storage.put("tercel:///ns/_kv/foreign", b'{"some": "struct"}')
    with pytest.raises(KVError, match="not a KV entry"):
        kv.get_entry("ns", "foreign")
    assert kv.list("ns") == []


def test_naive_clock_is_taken_as_utc(storage: LocalStorage) -> None:
    kv = KVStore(storage, clock=lambda: datetime(2024, 1, 1, 0, 0))
    entry = kv.set("ns", "k", 1, ttl=timedelta(hours=1))
    assert entry.creation_date == datetime(2024, 1, 1, tzinfo=UTC)
    assert entry.expiration_date == datetime(2024, 1, 1, 1, 0, tzinfo=UTC)


def test_default_clock_is_real_utc(storage: LocalStorage) -> None:
    entry = KVStore(storage).set("ns", "k", 1)
    assert abs(entry.creation_date - datetime.now(UTC)) < timedelta(minutes=1)


def test_kv_type_names() -> None:
    assert [kv_type_name(v) for v in ["s", 1, 1.0, Decimal(1), True, datetime.now(), date.today(),
                                      timedelta(1), [1], {"a": 1}, None, b"x", time()]] == [
        "STRING", "NUMBER", "NUMBER", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION",
        "JSON", "JSON", "NULL", "BYTES", "TIME",
    ]
