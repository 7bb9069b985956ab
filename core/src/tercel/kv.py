"""The KV store: small typed values per namespace, with an optional time to live.

Like Kestra, pairs live in internal storage, one file per key, at
``tercel:///<namespace as path>/_kv/<key>``. A file holds an Ion struct with the value and its
metadata, written with `tercel_sdk.ion` so types survive: a datetime comes back a datetime, a
Decimal a Decimal. Expired pairs read as absent; they are deleted when next read, or in bulk by
`KVStore.purge_expired` (the scheduler's janitor calls it).

The clock is injectable so expiry is tested without sleeping.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from tercel_sdk import ion

from tercel.errors import TercelError
from tercel.storage import (
    FileNotFoundInStorage,
    InternalStorage,
    StorageError,
    namespace_prefix_uri,
    split_uri,
    to_uri,
)

__all__ = [
    "KEY_PATTERN",
    "MAX_KEY_LENGTH",
    "InvalidKVKey",
    "KVAlreadyExists",
    "KVEntry",
    "KVError",
    "KVStore",
    "kv_type_name",
]

KEY_PATTERN = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]*")
"""Kestra's rule for keys: letters, digits, ``.``, ``_`` and ``-``, starting with a letter or digit."""
MAX_KEY_LENGTH = 255
_KV_FOLDER = "_kv"
_MARKER = "tercel_kv"  # first field of every KV file: tells KV files from anything else
_FORMAT = 1


class KVError(TercelError):
    """A KV operation failed (bad key, value that cannot be stored, unreadable entry...)."""


class InvalidKVKey(KVError):
    """The key breaks Kestra's key rule."""


class KVAlreadyExists(KVError):
    """`KVStore.set` with ``overwrite=False`` found a live value under the key."""

    def __init__(self, namespace: str, key: str) -> None:
        self.namespace = namespace
        self.key = key
        super().__init__(
            f"KV key {key!r} already exists in namespace {namespace!r} (set overwrite=True to replace it)"
        )


def kv_type_name(value: Any) -> str:
    """Kestra's KV type names (STRING, NUMBER, BOOLEAN, DATETIME, DATE, DURATION, JSON), plus
    TIME, BYTES and NULL for the values Ion keeps that Kestra has no name for."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int | float | Decimal):
        return "NUMBER"
    if isinstance(value, str):
        return "STRING"
    if isinstance(value, datetime):
        return "DATETIME"
    if isinstance(value, date):
        return "DATE"
    if isinstance(value, time):
        return "TIME"
    if isinstance(value, timedelta):
        return "DURATION"
    if isinstance(value, bytes | bytearray | memoryview):
        return "BYTES"
    return "JSON"


@dataclass(frozen=True, slots=True)
class KVEntry:
    """One pair with its metadata. Dates are tz-aware UTC."""

    namespace: str
    key: str
    value: Any
    type: str
    creation_date: datetime
    update_date: datetime
    expiration_date: datetime | None = None

    def is_expired(self, now: datetime) -> bool:
        return self.expiration_date is not None and self.expiration_date <= now

    def to_dict(self) -> dict[str, Any]:
        """Kestra's API shape (without the value, which the API serves separately)."""
        return {
            "key": self.key,
            "type": self.type,
            "creationDate": self.creation_date.isoformat(),
            "updateDate": self.update_date.isoformat(),
            "expirationDate": self.expiration_date.isoformat() if self.expiration_date else None,
        }


def _utc_now() -> datetime:
    return datetime.now(UTC)


class KVStore:
    """Namespaced key/value pairs with TTL, kept in internal storage.

    ``set(..., overwrite=False)`` is check-then-write: atomic between threads using this
    instance, but two processes racing on the same new key may both succeed (the last write
    wins, the file is never corrupted).
    """

    def __init__(self, storage: InternalStorage, clock: Callable[[], datetime] = _utc_now) -> None:
        self.storage = storage
        self._clock = clock
        self._lock = threading.Lock()

    # -- public API ----------------------------------------------------------------------------

    def set(
        self,
        namespace: str,
        key: str,
        value: Any,
        *,
        ttl: timedelta | None = None,
        overwrite: bool = True,
    ) -> KVEntry:
        """Store `value` under `key`; with `ttl` it reads as absent once that time has passed."""
        uri = self._uri(namespace, key)
        if ttl is not None and (not isinstance(ttl, timedelta) or ttl <= timedelta(0)):
            raise KVError(f"the TTL of KV key {key!r} must be a positive duration, not {ttl!r}")
        with self._lock:
            now = self._now()
            current = self._read(namespace, key, uri)
            live = current if current is not None and not current.is_expired(now) else None
            if live is not None and not overwrite:
                raise KVAlreadyExists(namespace, key)
            entry = KVEntry(
                namespace=namespace,
                key=key,
                value=value,
                type=kv_type_name(value),
                creation_date=live.creation_date if live is not None else now,
                update_date=now,
                expiration_date=now + ttl if ttl is not None else None,
            )
            try:
                data = ion.dumps(
                    {
                        _MARKER: _FORMAT,
                        "type": entry.type,
                        "created": entry.creation_date,
                        "updated": entry.update_date,
                        "expires": entry.expiration_date,
                        "value": value,
                    }
                )
            except ion.IonEncodeError as exc:
                raise KVError(f"the value of KV key {key!r} cannot be stored: {exc}") from exc
            self.storage.put(uri, data)
        # the value as a later get() returns it (a tuple comes back a list, a zone a fixed offset)
        return replace(entry, value=ion.loads(data)["value"])

    def get(self, namespace: str, key: str) -> Any | None:
        """The value, or None if there is none or it expired (`get_entry` tells a stored None)."""
        entry = self.get_entry(namespace, key)
        return None if entry is None else entry.value

    def get_entry(self, namespace: str, key: str) -> KVEntry | None:
        """The pair with its type and dates, or None if absent or expired (then deleted)."""
        uri = self._uri(namespace, key)
        entry = self._read(namespace, key, uri)
        if entry is None:
            return None
        now = self._now()
        if entry.is_expired(now):
            self._delete_if_expired(namespace, key, uri, now)
            return None
        return entry

    def delete(self, namespace: str, key: str) -> bool:
        """Delete the pair; True if a live one was there."""
        uri = self._uri(namespace, key)
        with self._lock:
            try:
                entry = self._read(namespace, key, uri)
            except KVError:
                entry = None  # unreadable: delete it all the same
            deleted = self.storage.delete(uri)
        return deleted and (entry is None or not entry.is_expired(self._now()))

    def list(self, namespace: str, prefix: str | None = None) -> list[KVEntry]:
        """The namespace's live pairs (only this namespace, not its children), sorted by key;
        with `prefix`, only keys that start with it."""
        folder = self._folder(namespace)
        depth = len(split_uri(folder)) + 1
        now = self._now()
        entries = []
        for info in self.storage.list(folder):
            segments = split_uri(info.uri)
            key = segments[-1]
            if len(segments) != depth or not KEY_PATTERN.fullmatch(key):
                continue
            if prefix is not None and not key.startswith(prefix):
                continue
            try:
                entry = self._read(namespace, key, info.uri)
            except KVError:
                continue  # not a KV file (or damaged): not listed
            if entry is not None and not entry.is_expired(now):
                entries.append(entry)
        entries.sort(key=lambda e: e.key)
        return entries

    def purge_expired(self, namespace: str | None = None) -> int:
        """Delete expired pairs of one namespace, or of all (which lists the whole storage)."""
        now = self._now()
        if namespace is not None:
            candidates = [
                (namespace, split_uri(info.uri)[-1], info.uri)
                for info in self.storage.list(self._folder(namespace))
            ]
        else:
            candidates = []
            for info in self.storage.list(to_uri(())):
                segments = split_uri(info.uri)
                if len(segments) >= 3 and segments[-2] == _KV_FOLDER and "_files" not in segments:
                    candidates.append((".".join(segments[:-2]), segments[-1], info.uri))
        purged = 0
        for ns, key, uri in candidates:
            if KEY_PATTERN.fullmatch(key):
                purged += self._delete_if_expired(ns, key, uri, now)
        return purged

    # -- internals -----------------------------------------------------------------------------

    def _now(self) -> datetime:
        return _utc(self._clock())

    def _folder(self, namespace: str) -> str:
        if not isinstance(namespace, str) or not namespace:
            raise KVError("a KV namespace is required")
        try:
            return namespace_prefix_uri(namespace) + _KV_FOLDER + "/"
        except StorageError as exc:
            raise KVError(f"invalid KV namespace {namespace!r}: {exc}") from exc

    def _uri(self, namespace: str, key: str) -> str:
        if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
            raise InvalidKVKey(
                f"invalid KV key {key!r}: use letters, digits, '.', '_' and '-', "
                "starting with a letter or digit"
            )
        if len(key) > MAX_KEY_LENGTH:
            raise InvalidKVKey(f"invalid KV key {key[:40]!r}...: longer than {MAX_KEY_LENGTH} characters")
        return self._folder(namespace) + key

    def _read(self, namespace: str, key: str, uri: str) -> KVEntry | None:
        try:
            data = self.storage.get_bytes(uri)
        except FileNotFoundInStorage:
            return None
        try:
            record = ion.loads(data)
        except ion.IonError as exc:
            raise KVError(f"KV key {key!r} in namespace {namespace!r} is unreadable ({uri}): {exc}") from exc
        if not isinstance(record, dict) or record.get(_MARKER) != _FORMAT:
            raise KVError(f"{uri} is not a KV entry written by tercel")
        try:
            return KVEntry(
                namespace=namespace,
                key=key,
                value=record["value"],
                type=str(record["type"]),
                creation_date=_utc(record["created"]),
                update_date=_utc(record["updated"]),
                expiration_date=_utc(record["expires"]) if record["expires"] is not None else None,
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise KVError(f"KV entry {uri} is damaged: {exc!r}") from exc

    def _delete_if_expired(self, namespace: str, key: str, uri: str, now: datetime) -> bool:
        """Delete an expired pair, re-reading it under the lock so a fresh `set` survives."""
        with self._lock:
            try:
                entry = self._read(namespace, key, uri)
            except KVError:
                return False  # not ours to delete
            if entry is None or not entry.is_expired(now):
                return False
            return self.storage.delete(uri)


def _utc(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)

