"""NamespaceFiles over a real LocalStorage: layout, listing, conflicts, path validation."""

from __future__ import annotations

import io
from datetime import UTC
from pathlib import Path

import pytest
from tercel.storage import (
    FileNotFoundInStorage,
    LocalStorage,
    NamespaceFileError,
    NamespaceFileExists,
    NamespaceFileInfo,
    NamespaceFileNotFound,
    NamespaceFiles,
    StorageError,
    check_namespace_path,
)

NS = "company.team"


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "storage")


@pytest.fixture
def files(storage: LocalStorage) -> NamespaceFiles:
    return NamespaceFiles(storage)


# ---------------------------------------------------------------------------------- layout


def test_files_live_where_kestra_keeps_them(files: NamespaceFiles, storage: LocalStorage) -> None:
    info = files.put(NS, "scripts/etl.py", b"print(1)\n")
    assert info.uri == "tercel:///company/team/_files/scripts/etl.py"
    assert (storage.root / "company/team/_files/scripts/etl.py").read_bytes() == b"print(1)\n"
    assert files.uri(NS, "scripts/etl.py") == info.uri
    assert files.root_uri(NS) == "tercel:///company/team/_files/"


def test_put_returns_what_was_stored(files: NamespaceFiles) -> None:
    info = files.put(NS, "a b/data.csv", b"x,y\n1,2\n")
    assert isinstance(info, NamespaceFileInfo)
    assert info.path == "a b/data.csv"
    assert info.name == "data.csv"
    assert info.size == 8
    assert info.uri == "tercel:///company/team/_files/a%20b/data.csv"
    assert info.modified.tzinfo is UTC


def test_put_accepts_bytes_paths_and_file_objects(files: NamespaceFiles, tmp_path: Path) -> None:
    source = tmp_path / "local.txt"
    source.write_bytes(b"from a path")
    files.put(NS, "from_bytes.txt", b"from bytes")
    files.put(NS, "from_path.txt", source)
    files.put(NS, "from_stream.txt", io.BytesIO(b"from a stream"))
    assert files.get(NS, "from_bytes.txt") == b"from bytes"
    assert files.read(NS, "from_path.txt") == b"from a path"
    with files.open(NS, "from_stream.txt") as fp:
        assert fp.read() == b"from a stream"


# --------------------------------------------------------------------------------- listing


def test_list_is_recursive_sorted_and_relative(files: NamespaceFiles) -> None:
    for path in ("z.txt", "scripts/b.py", "scripts/a.py", "scripts/lib/util.py", "a.txt"):
        files.put(NS, path, path.encode())
    assert [f.path for f in files.list(NS)] == [
        "a.txt",
        "scripts/a.py",
        "scripts/b.py",
        "scripts/lib/util.py",
        "z.txt",
    ]
    assert [f.size for f in files.list(NS)] == [5, 12, 12, 19, 5]


def test_list_under_a_folder(files: NamespaceFiles) -> None:
    for path in ("scripts/a.py", "scripts/lib/util.py", "scriptsx/other.py", "top.py"):
        files.put(NS, path, b"")
    assert [f.path for f in files.list(NS, "scripts")] == ["scripts/a.py", "scripts/lib/util.py"]
    assert [f.path for f in files.list(NS, "scripts/")] == ["scripts/a.py", "scripts/lib/util.py"]
    assert [f.path for f in files.list(NS, "scripts/lib")] == ["scripts/lib/util.py"]
    assert files.list(NS, "missing") == []
    # a file is not a folder: nothing is *under* it
    assert files.list(NS, "top.py") == []


def test_list_keeps_namespaces_apart(files: NamespaceFiles, storage: LocalStorage) -> None:
    files.put(NS, "mine.txt", b"")
    files.put("company.team.child", "child.txt", b"")
    files.put("company", "parent.txt", b"")
    storage.put("tercel:///company/team/flow/executions/e1/tasks/t/r/out.txt", b"")
    storage.put("tercel:///company/team/_kv/key", b"")
    assert [f.path for f in files.list(NS)] == ["mine.txt"]
    assert [f.path for f in files.list("company.team.child")] == ["child.txt"]
    assert [f.path for f in files.list("company")] == ["parent.txt"]
    assert files.list("other") == []


# ------------------------------------------------------------------------------ overwrite


def test_put_overwrites_by_default(files: NamespaceFiles) -> None:
    files.put(NS, "config.yml", b"old")
    assert files.put(NS, "config.yml", b"new!").size == 4
    assert files.get(NS, "config.yml") == b"new!"


def test_put_without_overwrite_refuses_an_existing_file(files: NamespaceFiles) -> None:
    files.put(NS, "config.yml", b"old", overwrite=False)
    with pytest.raises(NamespaceFileExists, match=r"'config.yml' already exists in namespace 'company.team'") as err:
        files.put(NS, "config.yml", b"new", overwrite=False)
    assert isinstance(err.value, StorageError)
    assert (err.value.namespace, err.value.path) == (NS, "config.yml")
    assert files.get(NS, "config.yml") == b"old"


# ------------------------------------------------------------------------- exists / delete


def test_exists_is_about_files_not_folders(files: NamespaceFiles) -> None:
    files.put(NS, "scripts/a.py", b"")
    assert files.exists(NS, "scripts/a.py")
    assert not files.exists(NS, "scripts")
    assert not files.exists(NS, "scripts/b.py")
    assert not files.exists("company.team.child", "scripts/a.py")


def test_missing_files_are_reported_by_path(files: NamespaceFiles) -> None:
    with pytest.raises(NamespaceFileNotFound, match=r"no namespace file 'nope.txt' in namespace 'company.team'") as err:
        files.get(NS, "nope.txt")
    assert isinstance(err.value, FileNotFoundInStorage)
    assert err.value.uri == "tercel:///company/team/_files/nope.txt"
    with pytest.raises(NamespaceFileNotFound):
        files.open(NS, "nope.txt")
    with pytest.raises(NamespaceFileNotFound):
        files.info(NS, "nope.txt")


def test_delete_one_file(files: NamespaceFiles, storage: LocalStorage) -> None:
    files.put(NS, "scripts/a.py", b"")
    files.put(NS, "scripts/b.py", b"")
    assert files.delete(NS, "scripts/a.py") is True
    assert files.delete(NS, "scripts/a.py") is False
    assert [f.path for f in files.list(NS)] == ["scripts/b.py"]
    assert files.delete(NS, "scripts/b.py") is True
    # the emptied folder is gone: folders exist only through their files
    assert not (storage.root / "company/team/_files/scripts").exists()


def test_delete_a_folder(files: NamespaceFiles) -> None:
    for path in ("scripts/a.py", "scripts/lib/util.py", "scriptsx/keep.py", "keep.txt"):
        files.put(NS, path, b"")
    assert files.delete_folder(NS, "scripts") == 2
    assert [f.path for f in files.list(NS)] == ["keep.txt", "scriptsx/keep.py"]
    assert files.delete_folder(NS, "scripts/") == 0


def test_delete_folder_refuses_the_root(files: NamespaceFiles) -> None:
    files.put(NS, "keep.txt", b"")
    with pytest.raises(NamespaceFileError, match="names the namespace root"):
        files.delete_folder(NS, "")
    with pytest.raises(NamespaceFileError, match="no leading '/'"):
        files.delete_folder(NS, "/")
    assert files.exists(NS, "keep.txt")


# ---------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("", "it is empty"),
        ("/etc/passwd", r"must be relative to the namespace root \(no leading '/'\)"),
        ("../other/_files/x", "'..' segments are not allowed"),
        ("a/../../x", "'..' segments are not allowed"),
        ("a/./x", "'.' segments are not allowed"),
        ("a//b", r"empty segments \('//'\) are not allowed"),
        ("scripts/", "ends with '/', which names a folder, not a file"),
        ("a\\b.txt", "backslashes are not allowed"),
        ("a\x00b", "NUL and control characters are not allowed"),
        ("a\nb", "NUL and control characters are not allowed"),
        (".tercel-tmp-x", "names starting with '.tercel-tmp-' are reserved"),
    ],
)
def test_bad_paths_are_refused_naming_the_path(files: NamespaceFiles, path: str, problem: str) -> None:
    for call in (
        lambda: files.put(NS, path, b"x"),
        lambda: files.get(NS, path),
        lambda: files.exists(NS, path),
        lambda: files.delete(NS, path),
        lambda: files.uri(NS, path),
    ):
        with pytest.raises(NamespaceFileError, match=problem) as err:
            call()
        assert repr(path) in str(err.value)
        assert "invalid namespace file path" in str(err.value)
    assert files.list(NS) == []


def test_non_text_paths_are_refused(files: NamespaceFiles) -> None:
    with pytest.raises(NamespaceFileError, match="must be text, not int"):
        files.put(NS, 3, b"x")  # type: ignore[arg-type]


def test_folder_paths(files: NamespaceFiles) -> None:
    assert check_namespace_path("", folder=True) == ""
    assert check_namespace_path("a/b/", folder=True) == "a/b"
    assert check_namespace_path("a/b.txt") == "a/b.txt"
    for bad in ("/a", "a//b", "../a", "a\\b"):
        with pytest.raises(NamespaceFileError, match="invalid namespace folder path"):
            files.list(NS, bad)


def test_overlong_names_are_refused_naming_the_path(files: NamespaceFiles) -> None:
    with pytest.raises(NamespaceFileError, match=r"invalid namespace file path 'xxx.*longer than 255 bytes"):
        files.put(NS, "x" * 300, b"")


@pytest.mark.parametrize("namespace", ["", "company..team", ".company", "company.", "a/b"])
def test_bad_namespaces_are_refused(files: NamespaceFiles, namespace: str) -> None:
    with pytest.raises(NamespaceFileError, match="namespace"):
        files.put(namespace, "a.txt", b"")
    with pytest.raises(NamespaceFileError, match="namespace"):
        files.list(namespace)


def test_a_file_where_a_folder_should_be(files: NamespaceFiles) -> None:
    files.put(NS, "a", b"")
    with pytest.raises(StorageError, match="a parent of it is a file"):
        files.put(NS, "a/b.txt", b"")
