"""`/api/v1/namespaces/{namespace}/files` over a real runtime, and the pure path/listing helpers."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

import pytest
from litestar.testing import AsyncTestClient
from tercel.storage import NamespaceFileError, NamespaceFileInfo
from tercel_server._namespace_files import api_path, children, zip_plan

FILES = "/api/v1/namespaces/team.files/files"


def _upload(name: str, data: bytes) -> dict[str, tuple[str, bytes]]:
    return {"fileContent": (name, data)}


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# -- pure helpers ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "folder", "expected"),
    [
        ("/scripts/etl.py", False, "scripts/etl.py"),
        ("scripts/etl.py", False, "scripts/etl.py"),
        ("/", True, ""),
        (None, True, ""),
        ("/scripts/", True, "scripts"),
        ("/etc/passwd", False, "etc/passwd"),  # inside the namespace, whatever its name
    ],
)
def test_api_paths(raw: str | None, folder: bool, expected: str) -> None:
    assert api_path(raw, folder=folder) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("/../secret", "'..' segments"),
        ("a/../../b", "'..' segments"),
        ("//etc/passwd", "single leading '/'"),
        ("file:///etc/passwd", "not a URI"),
        ("tercel:///other/ns/_files/x", "not a URI"),
        ("a\x00b", "NUL"),
        ("a\\b", "backslashes"),
        ("a//b", "empty segments"),
        ("./a", "'.' segments"),
        ("", "required"),
        ("/dir/", "ends with '/'"),
    ],
)
def test_bad_api_paths(raw: str, message: str) -> None:
    with pytest.raises(NamespaceFileError, match=message):
        api_path(raw)


def test_children_of_a_folder() -> None:
    def info(path: str, size: int, day: int) -> NamespaceFileInfo:
        return NamespaceFileInfo(path, "tercel:///x/" + path, size, datetime(2024, 1, day, tzinfo=UTC))

    files = [info("a.txt", 1, 1), info("sub/b.txt", 2, 2), info("sub/deep/c.txt", 3, 5), info("z.txt", 4, 3)]
    root = children("", files)
    assert [(e["fileName"], e["type"], e["size"]) for e in root] == [("sub", "Directory", 0), ("a.txt", "File", 1), ("z.txt", "File", 4)]
    assert root[0]["lastModifiedTime"] == int(datetime(2024, 1, 5, tzinfo=UTC).timestamp() * 1000)
    assert root[0]["path"] == "/sub/" and root[1]["path"] == "/a.txt"
    assert [e["fileName"] for e in children("sub", files)] == ["deep", "b.txt"]


def test_zip_plans_check_every_name_first() -> None:
    good = zipfile.ZipFile(io.BytesIO(_zip({"a.txt": b"1", "dir/b.txt": b"2"})))
    assert [e.path for e in zip_plan(good, "imports")] == ["imports/a.txt", "imports/dir/b.txt"]
    for bad, message in (
        ({"ok.txt": b"", "../evil.txt": b""}, "'..' segments"),
        ({"/abs.txt": b""}, "absolute"),
        ({"C:/win.txt": b""}, "absolute"),
        ({"a": b"", "a/b": b""}, "both as a file and as a folder"),
    ):
        with pytest.raises(NamespaceFileError, match=message):
            zip_plan(zipfile.ZipFile(io.BytesIO(_zip(bad))), "")


# -- the API -----------------------------------------------------------------------------------
async def test_upload_download_list_stats(client: AsyncTestClient) -> None:
    created = await client.post(f"{FILES}?path=/scripts/etl.py", files=_upload("whatever.py", b"print('etl')\n"))
    assert created.status_code == 200
    assert created.json()[0] | {"lastModifiedTime": 0, "creationTime": 0} == {
        "fileName": "etl.py", "path": "/scripts/etl.py", "type": "File", "size": 13, "lastModifiedTime": 0, "creationTime": 0,
    }
    await client.post(f"{FILES}?path=/scripts/", files=_upload("named.sql", b"select 1"))  # a folder: the upload's name
    await client.post(FILES, files=_upload("top.txt", b"top"))  # no path: the root

    downloaded = await client.get(f"{FILES}?path=/scripts/etl.py")
    assert downloaded.status_code == 200 and downloaded.content == b"print('etl')\n"
    assert downloaded.headers["content-type"] == "application/octet-stream"
    assert 'filename="etl.py"' in downloaded.headers["content-disposition"]
    assert (await client.get(f"{FILES}?path=scripts/named.sql")).content == b"select 1"  # no leading '/' works too

    root = await client.get(f"{FILES}/directory")
    assert [(e["fileName"], e["type"]) for e in root.json()] == [("scripts", "Directory"), ("top.txt", "File")]
    assert (await client.get(f"{FILES}/directory?path=/")).json() == root.json()
    scripts = await client.get(f"{FILES}/directory?path=/scripts")
    assert [e["fileName"] for e in scripts.json()] == ["etl.py", "named.sql"]
    assert (await client.get("/api/v1/namespaces/team.empty/files/directory")).json() == []

    stats = await client.get(f"{FILES}/stats?path=/scripts/etl.py")
    assert stats.json()["type"] == "File" and stats.json()["size"] == 13
    folder = await client.get(f"{FILES}/stats?path=/scripts")
    assert folder.json()["type"] == "Directory" and folder.json()["fileName"] == "scripts"
    assert (await client.get(f"{FILES}/stats")).json()["type"] == "Directory"

    found = await client.get(f"{FILES}/search?q=SQL")
    assert found.json() == ["/scripts/named.sql"]

    replaced = await client.post(f"{FILES}?path=/scripts/etl.py", files=_upload("etl.py", b"v2"))
    assert replaced.status_code == 200 and replaced.json()[0]["size"] == 2  # an upload overwrites, as in Kestra

    exported = await client.get(f"{FILES}/export")
    assert exported.status_code == 200 and "team.files_files.zip" in exported.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        assert sorted(archive.namelist()) == ["scripts/etl.py", "scripts/named.sql", "top.txt"]
        assert archive.read("scripts/etl.py") == b"v2"


async def test_zip_import(client: AsyncTestClient) -> None:
    archive = _zip({"a.txt": b"A", "nested/b.txt": b"B", "nested/": b""})
    imported = await client.post(f"{FILES}?path=/imports/bundle.zip", files=_upload("bundle.zip", archive))
    assert imported.status_code == 200
    assert [e["path"] for e in imported.json()] == ["/imports/a.txt", "/imports/nested/b.txt"]
    assert (await client.get(f"{FILES}?path=/imports/nested/b.txt")).content == b"B"
    at_root = await client.post(FILES, files=_upload("again.ZIP", _zip({"r.txt": b"R"})))
    assert [e["path"] for e in at_root.json()] == ["/r.txt"]

    evil = await client.post(f"{FILES}?path=/x.zip", files=_upload("x.zip", _zip({"fine.txt": b"", "../../escape.txt": b"!"})))
    assert evil.status_code == 422 and "escape.txt" in evil.json()["message"]
    assert (await client.get(f"{FILES}?path=/fine.txt")).status_code == 404  # nothing written
    broken = await client.post(f"{FILES}?path=/y.zip", files=_upload("y.zip", b"not a zip"))
    assert broken.status_code == 400 and "not a zip archive" in broken.json()["message"]


async def test_folders_move_and_delete(client: AsyncTestClient) -> None:
    made = await client.post(f"{FILES}/directory?path=/reports")
    assert made.status_code == 200 and made.json()["type"] == "Directory"
    await client.post(f"{FILES}?path=/reports/2024/jan.csv", files=_upload("jan.csv", b"1"))
    await client.post(f"{FILES}?path=/reports/2024/feb.csv", files=_upload("feb.csv", b"2"))
    await client.post(f"{FILES}?path=/note.txt", files=_upload("note.txt", b"n"))

    renamed = await client.put(f"{FILES}?from=/note.txt&to=/docs/readme.txt")
    assert renamed.status_code == 200 and renamed.json() == [{"from": "/note.txt", "to": "/docs/readme.txt"}]
    assert (await client.get(f"{FILES}?path=/docs/readme.txt")).content == b"n"
    assert (await client.get(f"{FILES}?path=/note.txt")).status_code == 404

    moved = await client.put(f"{FILES}?from=/reports&to=/archive/reports")
    assert sorted(m["to"] for m in moved.json()) == ["/archive/reports/2024/feb.csv", "/archive/reports/2024/jan.csv"]
    assert (await client.get(f"{FILES}/directory?path=/reports")).status_code == 404
    assert (await client.get(f"{FILES}?path=/archive/reports/2024/jan.csv")).content == b"1"

    assert (await client.delete(f"{FILES}?path=/docs/readme.txt")).status_code == 204
    assert (await client.get(f"{FILES}/directory?path=/docs")).status_code == 404  # its last file is gone
    assert (await client.delete(f"{FILES}?path=/archive/")).status_code == 204
    assert (await client.get(f"{FILES}/directory")).json() == []


async def test_namespace_file_errors(client: AsyncTestClient) -> None:
    await client.post(f"{FILES}?path=/dir/file.txt", files=_upload("file.txt", b"x"))
    await client.post(f"{FILES}?path=/other.txt", files=_upload("other.txt", b"o"))

    for path in ("/../escape", "//etc/passwd", "a/../../b", "file:///etc/passwd", "a%00b", "a%5Cb"):
        answer = await client.get(f"{FILES}?path={path}")
        assert answer.status_code == 422, path
        assert "invalid namespace file path" in answer.json()["message"], path
    for url in (f"{FILES}/directory?path=/../x", f"{FILES}/stats?path=/a/../../b", f"{FILES}?path=/../x"):
        assert (await client.get(url)).status_code == 422, url
    assert (await client.delete(f"{FILES}?path=/../x")).status_code == 422
    assert (await client.put(f"{FILES}?from=/other.txt&to=/../x")).status_code == 422
    sneaky = await client.post(f"{FILES}?path=/../x.txt", files=_upload("x.txt", b"x"))
    assert sneaky.status_code == 422
    assert (await client.get("/api/v1/namespaces/a..b/files/directory")).status_code == 422
    long_name = await client.get(f"{FILES}?path=/{'n' * 300}")
    assert long_name.status_code == 422

    missing = await client.get(f"{FILES}?path=/nope.txt")
    assert missing.status_code == 404 and "/nope.txt" in missing.json()["message"]
    assert (await client.get(f"{FILES}?path=")).status_code == 422
    assert (await client.get(FILES)).status_code == 400  # path is required to download
    a_folder = await client.get(f"{FILES}?path=/dir")
    assert a_folder.status_code == 400 and "is a folder" in a_folder.json()["message"]
    assert (await client.get(f"{FILES}/directory?path=/nope")).status_code == 404
    a_file = await client.get(f"{FILES}/directory?path=/dir/file.txt")
    assert a_file.status_code == 400 and "is a file" in a_file.json()["message"]
    assert (await client.get(f"{FILES}/stats?path=/nope")).status_code == 404

    not_multipart = await client.post(f"{FILES}?path=/a.txt", content=b"raw", headers={"content-type": "text/plain"})
    assert not_multipart.status_code == 400 and "multipart" in not_multipart.json()["message"]
    no_part = await client.post(f"{FILES}?path=/a.txt", files={"other": ("a.txt", b"x")})
    assert no_part.status_code == 400 and "fileContent" in no_part.json()["message"]
    over_a_file = await client.post(f"{FILES}?path=/other.txt/inside.txt", files=_upload("inside.txt", b"x"))
    assert over_a_file.status_code == 409 and "is a file" in over_a_file.json()["message"]
    over_a_folder = await client.post(f"{FILES}?path=/dir", files=_upload("dir", b"x"))
    assert over_a_folder.status_code == 409 and "folder" in over_a_folder.json()["message"]
    folder_in_a_file = await client.post(f"{FILES}/directory?path=/other.txt/sub")
    assert folder_in_a_file.status_code == 409

    assert (await client.put(f"{FILES}?from=/nope&to=/x")).status_code == 404
    onto_a_file = await client.put(f"{FILES}?from=/dir/file.txt&to=/other.txt")
    assert onto_a_file.status_code == 409 and "already there" in onto_a_file.json()["message"]
    same = await client.put(f"{FILES}?from=/other.txt&to=other.txt")
    assert same.status_code == 400
    into_itself = await client.put(f"{FILES}?from=/dir&to=/dir/sub")
    assert into_itself.status_code == 400 and "into itself" in into_itself.json()["message"]
    assert (await client.put(f"{FILES}?from=/&to=/x")).status_code == 422
    assert (await client.put(f"{FILES}?from=/other.txt")).status_code == 400  # `to` is required

    assert (await client.delete(f"{FILES}?path=/nope")).status_code == 404
    root = await client.delete(f"{FILES}?path=/")
    assert root.status_code == 422 and "root" in root.json()["message"]
    assert (await client.get(f"{FILES}?path=/other.txt")).content == b"o"  # the failures changed nothing

    unauthenticated = await client.get(f"{FILES}/directory", headers={"Authorization": ""})
    assert unauthenticated.status_code == 401
