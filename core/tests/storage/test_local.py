"""LocalStorage on real folders: operations, atomic writes, concurrency, symlink escapes."""

from __future__ import annotations

import io
import os
import threading
from datetime import UTC
from pathlib import Path

import pytest
from tercel.storage import (
    FileNotFoundInStorage,
    InternalStorage,
    LocalStorage,
    StorageError,
    execution_file_uri,
    execution_prefix_uri,
)

URI = "tercel:///company/team/flow/executions/e1/tasks/t1/r1/out.ion"


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "storage")


def test_is_an_internal_storage(storage: LocalStorage) -> None:
    assert isinstance(storage, InternalStorage)


def test_put_and_read_back(storage: LocalStorage, tmp_path: Path) -> None:
    assert storage.put(URI, b"hello") == URI
    assert storage.exists(URI)
    assert storage.get_bytes(URI) == b"hello"
    assert storage.size(URI) == 5
    with storage.open(URI) as fp:
        assert fp.read() == b"hello"
    assert storage.local_path(URI) == storage.root / "company/team/flow/executions/e1/tasks/t1/r1/out.ion"
    assert storage.local_path(URI).read_bytes() == b"hello"

    storage.put(URI, io.BytesIO(b"from a file object"))
    assert storage.get_bytes(URI) == b"from a file object"
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(3 << 20))
    storage.put(URI, source)
    assert storage.get_bytes(URI) == source.read_bytes()
    storage.put(URI, memoryview(b"mv"))
    assert storage.get_bytes(URI) == b"mv"


def test_kestra_uris_are_accepted(storage: LocalStorage) -> None:
    assert storage.put(URI.replace("tercel", "kestra"), b"x") == URI
    assert storage.get_bytes(URI.replace("tercel", "kestra")) == b"x"


def test_missing_files(storage: LocalStorage) -> None:
    missing = "tercel:///nothing/here.txt"
    assert not storage.exists(missing)
    for call in (storage.open, storage.get_bytes, storage.size, storage.local_path):
        with pytest.raises(FileNotFoundInStorage) as info:
            call(missing)
        assert info.value.uri == missing
        assert isinstance(info.value, StorageError)
    assert storage.delete(missing) is False
    assert storage.list("tercel:///nothing/") == []
    storage.put("tercel:///a/b/c.txt", b"x")
    with pytest.raises(FileNotFoundInStorage):
        storage.open("tercel:///a/b")  # a folder is not a file
    assert not storage.exists("tercel:///a/b")


def test_put_refuses_text_and_folder_clashes(storage: LocalStorage) -> None:
    with pytest.raises(StorageError, match="not str"):
        storage.put(URI, "text")  # type: ignore[arg-type]
    storage.put("tercel:///a/b/c.txt", b"x")
    with pytest.raises(StorageError, match="folder"):
        storage.put("tercel:///a/b", b"x")
    with pytest.raises(StorageError, match="parent of it is a file"):
        storage.put("tercel:///a/b/c.txt/d", b"x")
    assert storage.list("tercel:///") == storage.list("tercel:///a")  # nothing left behind


def test_list_and_delete_prefix(storage: LocalStorage) -> None:
    uris = [execution_file_uri("company.team", "flow", "e1", "t", str(i), f"f{i}.ion") for i in range(3)]
    other = execution_file_uri("company.team", "flow", "e10", "t", "r", "f.ion")
    for i, uri in enumerate([*uris, other]):
        storage.put(uri, b"x" * i)

    infos = storage.list(execution_prefix_uri("company.team", "flow", "e1"))
    assert [i.uri for i in infos] == uris  # e10 is not under e1: prefixes are whole segments
    assert infos[2].size == 2 and infos[2].name == "f2.ion"
    assert infos[0].path == "company/team/flow/executions/e1/tasks/t/0/f0.ion"
    assert infos[0].modified.tzinfo is UTC
    assert len(storage.list("tercel:///")) == 4
    assert storage.list(uris[0]) == [infos[0]]

    assert storage.delete_prefix(execution_prefix_uri("company.team", "flow", "e1")) == 3
    assert [i.uri for i in storage.list("tercel:///")] == [other]
    assert not (storage.root / "company/team/flow/executions/e1").exists()
    assert storage.delete_prefix("tercel:///company/team/flow/executions/none/") == 0
    with pytest.raises(StorageError, match="storage root"):
        storage.delete_prefix("tercel:///")


def test_delete_prunes_empty_folders(storage: LocalStorage) -> None:
    storage.put(URI, b"x")
    storage.put("tercel:///company/keep.txt", b"x")
    with pytest.raises(StorageError, match="delete_prefix"):
        storage.delete("tercel:///company/team")
    assert storage.delete(URI) is True
    assert not storage.exists(URI)
    assert not (storage.root / "company/team").exists()
    assert (storage.root / "company/keep.txt").exists()
    assert storage.root.exists()


def test_path_tricks_are_refused_by_every_method(storage: LocalStorage, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    bad = "tercel:///../secret.txt"
    for call in (storage.open, storage.get_bytes, storage.exists, storage.size, storage.delete,
                 storage.local_path, storage.list, storage.delete_prefix):
        with pytest.raises(StorageError, match=r"'\.\.'"):
            call(bad)
    with pytest.raises(StorageError):
        storage.put("tercel:///a/%2e%2e/%2e%2e/secret.txt", b"overwrite")
    assert secret.read_text() == "do not read"


def test_symlinks_that_leave_the_root_are_refused(storage: LocalStorage, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("do not read")
    (storage.root / "ns").mkdir()
    os.symlink(outside, storage.root / "ns" / "escape")
    os.symlink(outside / "secret.txt", storage.root / "ns" / "file-link")

    with pytest.raises(StorageError, match="outside the storage root"):
        storage.get_bytes("tercel:///ns/escape/secret.txt")
    with pytest.raises(StorageError, match="outside the storage root"):
        storage.put("tercel:///ns/escape/new.txt", b"x")
    with pytest.raises(StorageError, match="outside the storage root"):
        storage.open("tercel:///ns/file-link")
    assert not (outside / "new.txt").exists()
    assert storage.list("tercel:///") == []  # neither the link nor what it points to

    # deleting the prefix removes the links, never what they point to
    storage.put("tercel:///ns/real.txt", b"x")
    assert storage.delete_prefix("tercel:///ns") == 3
    assert (outside / "secret.txt").read_text() == "do not read"

    # a symlink that stays inside the root is fine
    storage.put("tercel:///data/a.txt", b"inside")
    os.symlink(storage.root / "data", storage.root / "alias")
    assert storage.get_bytes("tercel:///alias/a.txt") == b"inside"


def test_a_write_is_atomic_for_readers(storage: LocalStorage) -> None:
    storage.put(URI, b"old" * 1000)
    reached_middle = threading.Event()
    release = threading.Event()

    class SlowSource(io.RawIOBase):
        def __init__(self) -> None:
            self.chunks = [b"new" * 500, b"new" * 500]

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:  # type: ignore[override]
            if len(self.chunks) == 1:
                reached_middle.set()
                release.wait(5)
            return self.chunks.pop(0) if self.chunks else b""

    writer = threading.Thread(target=storage.put, args=(URI, SlowSource()))
    writer.start()
    assert reached_middle.wait(5)
    assert storage.get_bytes(URI) == b"old" * 1000  # half-written data is invisible
    assert [i.uri for i in storage.list("tercel:///")] == [URI]  # so is the temporary file
    release.set()
    writer.join(5)
    assert storage.get_bytes(URI) == b"new" * 1000


def test_a_failed_write_leaves_the_old_file_and_no_debris(storage: LocalStorage) -> None:
    storage.put(URI, b"old")

    class Broken(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:  # type: ignore[override]
            raise OSError("disk on fire")

    with pytest.raises(StorageError, match="disk on fire"):
        storage.put(URI, Broken())
    assert storage.get_bytes(URI) == b"old"
    folder = storage.local_path(URI).parent
    assert sorted(os.listdir(folder)) == ["out.ion"]


def test_concurrent_writers_never_corrupt_a_file(storage: LocalStorage) -> None:
    payloads = [bytes([i]) * 200_000 for i in range(6)]
    errors: list[BaseException] = []
    seen: set[bytes] = set()
    stop = threading.Event()

    def write(payload: bytes) -> None:
        try:
            for _ in range(15):
                storage.put(URI, payload)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def read() -> None:
        while not stop.is_set():
            try:
                data = storage.get_bytes(URI)
            except FileNotFoundInStorage:
                continue
            seen.add(data[:1])
            if data not in payloads:
                errors.append(AssertionError(f"torn read: {len(data)} bytes"))
                return

    readers = [threading.Thread(target=read) for _ in range(2)]
    writers = [threading.Thread(target=write, args=(p,)) for p in payloads]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert not errors
    assert storage.get_bytes(URI) in payloads
    assert [i.uri for i in storage.list("tercel:///")] == [URI]


def test_concurrent_put_and_delete_in_the_same_folder(storage: LocalStorage) -> None:
    """delete() prunes empty folders while put() may be creating a file in them."""
    errors: list[BaseException] = []

    def churn(name: str) -> None:
        uri = f"tercel:///ns/flow/executions/e/tasks/t/r/{name}"
        try:
            for _ in range(200):
                storage.put(uri, b"x")
                storage.delete(uri)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(f"f{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert storage.list("tercel:///") == []


def test_fsync_mode(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "durable", fsync=True)
    storage.put(URI, b"durable")
    assert storage.get_bytes(URI) == b"durable"


def test_root_is_created_and_resolved(tmp_path: Path) -> None:
    os.symlink(tmp_path, tmp_path / "link")
    storage = LocalStorage(tmp_path / "link" / "deep" / "root")
    assert storage.root == (tmp_path / "deep" / "root").resolve()
    assert storage.root.is_dir()
    storage.put("tercel:///x", b"1")
    assert storage.get_bytes("tercel:///x") == b"1"
