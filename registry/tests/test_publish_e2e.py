"""Publishing and installing with the real clients against `tercel registry serve` on loopback:
twine uploads (and is told why a second upload is refused), uv and pip install unchanged (pip
reads the PEP 658 `.metadata` file), yanked versions are skipped unless pinned exactly (PEP 592,
as the clients implement it), tokens are scoped and revocable, the CLI manages them."""

from __future__ import annotations

import hashlib
import io
import json
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from registry_support import (
    ROOT,
    RegistryServer,
    pip,
    plugin_sdist,
    plugin_wheel,
    twine,
    upload,
    uv,
)

PLUGIN = "tercel-plugin-hello"
YANKY = "tercel-plugin-yanky"


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("publish")


@pytest.fixture(scope="module")
def server(work: Path) -> Iterator[RegistryServer]:
    registry = RegistryServer(work / "registry")
    yield registry
    assert registry.stop() == 0, registry.text()


@pytest.fixture(scope="module")
def token(server: RegistryServer) -> str:
    return server.token("ci", "tercel-plugin-*")


@pytest.fixture(scope="module")
def dist(work: Path) -> Path:
    folder = work / "dist"
    plugin_wheel(folder, PLUGIN, "1.0.0", summary="Says hello.", keywords=["greeting"])
    plugin_sdist(folder, PLUGIN, "1.0.0", summary="Says hello.")
    for version in ("1.0.0", "2.0.0"):
        plugin_wheel(folder, YANKY, version, summary="Will be yanked.")
    return folder


@pytest.fixture(scope="module")
def published(server: RegistryServer, token: str, dist: Path, work: Path) -> Path:
    """tercel-plugin-hello 1.0.0's wheel, uploaded with twine."""
    wheel = dist / "tercel_plugin_hello-1.0.0-py3-none-any.whl"
    done = twine(work / "twine", server.url, token, wheel)
    assert done.returncode == 0, done.stdout + done.stderr
    return wheel


def _version(server: RegistryServer, name: str, version: str) -> dict:
    answer = httpx.get(f"{server.url}/api/v1/plugins/{name}/versions/{version}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_twine_upload_then_the_same_file_again_is_a_409_that_says_why(server: RegistryServer, token: str, published: Path, work: Path) -> None:
    again = twine(work / "twine", server.url, token, published)
    assert again.returncode == 1
    assert "409 Conflict" in again.stdout + again.stderr
    verbose = twine(work / "twine", server.url, token, published, options=["--verbose"])
    out = " ".join((verbose.stdout + verbose.stderr).split())  # rich wraps long lines
    assert "already exists: releases are immutable; publish a new version" in out, out
    assert published.name in out


def test_uv_publish_uploads_and_prints_why_a_second_upload_is_refused(server: RegistryServer, token: str, work: Path) -> None:
    wheel = plugin_wheel(work / "uv-publish", "tercel-plugin-uvpub", "1.0.0")
    args = ["publish", "--publish-url", f"{server.url}/legacy/", "--token", token, wheel]
    done = uv(work / "uv", *args)
    assert done.returncode == 0, done.stderr
    again = uv(work / "uv", *args)
    assert again.returncode != 0
    said = " ".join(again.stderr.split())  # uv wraps long lines to the terminal's width
    assert "409 Conflict" in said and "already exists: releases are immutable; publish a new version" in said


def test_the_sdist_of_an_existing_version_is_accepted(server: RegistryServer, token: str, published: Path, dist: Path, work: Path) -> None:
    done = twine(work / "twine", server.url, token, dist / "tercel_plugin_hello-1.0.0.tar.gz")
    assert done.returncode == 0, done.stdout + done.stderr
    files = {f["filename"]: f for f in _version(server, PLUGIN, "1.0.0")["files"]}
    assert set(files) == {published.name, "tercel_plugin_hello-1.0.0.tar.gz"}
    assert files[published.name]["coreMetadata"] is not None
    assert files["tercel_plugin_hello-1.0.0.tar.gz"]["coreMetadata"] is None  # PEP 658: wheels only


def test_uv_installs_from_the_index(server: RegistryServer, published: Path, work: Path) -> None:
    target = work / "uv-target"
    done = uv(work / "uv", "pip", "install", "--python", Path(sys.executable), "--index-url", f"{server.url}/simple/",
              "--target", target, "--no-deps", f"{PLUGIN}==1.0.0")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((target / "tercel_plugin_hello" / "tercel-manifest.json").read_text())
    assert {t["type"] for t in manifest["types"]} == {"io.tercel.hello.Fetch", "io.tercel.hello.Notify"}
    installed = next(target.glob("tercel_plugin_hello-1.0.0.dist-info"))
    assert "tercel.plugins" in (installed / "entry_points.txt").read_text()


def test_pip_downloads_reading_the_metadata_file_first(server: RegistryServer, published: Path, work: Path) -> None:
    before = {f["filename"]: f for f in _version(server, PLUGIN, "1.0.0")["files"]}[published.name]
    done = pip(work / "pip", "download", "-v", "--no-deps", "--index-url", f"{server.url}/simple/", "-d", work / "pip-dl", f"{PLUGIN}==1.0.0")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{published.name}.metadata" in done.stdout  # "Obtaining dependency information from …"
    assert (work / "pip-dl" / published.name).read_bytes() == published.read_bytes()
    after = {f["filename"]: f for f in _version(server, PLUGIN, "1.0.0")["files"]}[published.name]
    assert after["metadataFetches"] == before["metadataFetches"] + 1
    assert after["downloads"] == before["downloads"] + 1
    assert httpx.get(f"{server.url}/api/v1/plugins/{PLUGIN}").json()["downloads"] >= after["downloads"]


def test_an_unknown_project_is_not_found_and_never_looked_up_elsewhere(server: RegistryServer, work: Path) -> None:
    assert httpx.get(f"{server.url}/simple/requests/").status_code == 404
    done = pip(work / "pip", "download", "--no-deps", "--index-url", f"{server.url}/simple/", "-d", work / "pip-none", "requests")
    assert done.returncode != 0
    assert "No matching distribution found for requests" in done.stderr


def test_yanked_versions_are_skipped_unless_pinned_exactly(server: RegistryServer, token: str, dist: Path, work: Path) -> None:
    for version in ("1.0.0", "2.0.0"):
        assert upload(server.url, dist / f"tercel_plugin_yanky-{version}-py3-none-any.whl", token).status_code == 200
    auth = {"Authorization": f"Bearer {token}"}
    yanked = httpx.post(f"{server.url}/api/v1/projects/{YANKY}/versions/1.0.0/yank", json={"reason": "eats data"}, headers=auth)
    assert yanked.status_code == 200, yanked.text
    assert yanked.json() == {"version": "1.0.0", "yanked": True, "yankedReason": "eats data"}
    index = f"{server.url}/simple/"

    below_2 = pip(work / "pip", "download", "--no-deps", "--index-url", index, "-d", work / "y1", f"{YANKY}<2")
    assert below_2.returncode != 0, below_2.stdout
    pinned = pip(work / "pip", "download", "--no-deps", "--index-url", index, "-d", work / "y2", f"{YANKY}==1.0.0")
    assert pinned.returncode == 0, pinned.stderr
    assert "eats data" in pinned.stderr  # pip warns with the reason
    unpinned = pip(work / "pip", "download", "--no-deps", "--index-url", index, "-d", work / "y3", YANKY)
    assert unpinned.returncode == 0 and (work / "y3" / "tercel_plugin_yanky-2.0.0-py3-none-any.whl").exists()

    python = sys.executable
    uv_below = uv(work / "uv", "pip", "install", "--python", python, "--index-url", index, "--target", work / "u1", "--no-deps", f"{YANKY}<2")
    assert uv_below.returncode != 0, uv_below.stderr
    uv_pinned = uv(work / "uv", "pip", "install", "--python", python, "--index-url", index, "--target", work / "u2", "--no-deps", f"{YANKY}==1.0.0")
    assert uv_pinned.returncode == 0, uv_pinned.stderr
    assert "yanked" in uv_pinned.stderr

    unknown = httpx.post(f"{server.url}/api/v1/projects/{YANKY}/versions/7.0/yank", json={"reason": "x"}, headers=auth)
    assert unknown.status_code == 404 and unknown.json() == {"message": "no version 7.0 of this project"}
    malformed = httpx.post(f"{server.url}/api/v1/projects/{YANKY}/versions/1.0.0/yank", content=b"{", headers=auth)
    assert malformed.status_code == 400 and "not valid JSON" in malformed.json()["message"]
    anonymous = httpx.post(f"{server.url}/api/v1/projects/{YANKY}/versions/1.0.0/yank", json={"reason": "x"})
    assert anonymous.status_code == 401

    back = httpx.post(f"{server.url}/api/v1/projects/{YANKY}/versions/1.0.0/unyank", headers=auth)
    assert back.status_code == 200 and back.json()["yanked"] is False
    again = pip(work / "pip", "download", "--no-deps", "--index-url", index, "-d", work / "y4", f"{YANKY}<2")
    assert again.returncode == 0, again.stderr


def test_tokens_are_scoped_to_their_projects(server: RegistryServer, work: Path) -> None:
    other = server.token("only-other", "tercel-plugin-other*")
    wheel = plugin_wheel(work / "scoped", "tercel-plugin-scoped", "1.0.0")
    refused = upload(server.url, wheel, other)
    assert refused.status_code == 403
    assert "may not publish to 'tercel-plugin-scoped': its scopes are 'tercel-plugin-other*'" in refused.text
    assert refused.headers["content-type"].startswith("text/plain")
    done = twine(work / "twine", server.url, other, wheel, options=["--verbose"])
    assert done.returncode == 1 and "403 Forbidden" in done.stdout + done.stderr
    yank = httpx.post(f"{server.url}/api/v1/projects/{PLUGIN}/versions/1.0.0/yank", json={"reason": "no"},
                      headers={"Authorization": f"Bearer {other}"})
    assert yank.status_code == 403, yank.text
    assert httpx.get(f"{server.url}/simple/tercel-plugin-scoped/").status_code == 404


def test_revoked_and_unknown_tokens_are_refused(server: RegistryServer, work: Path) -> None:
    token = server.token("short-lived", "*")
    assert token.startswith("trg_")
    first = plugin_wheel(work / "revoke", "tercel-plugin-revoked", "1.0.0")
    assert upload(server.url, first, token).status_code == 200
    listed = server.cli("token", "list")
    line = next(line for line in listed.stdout.splitlines() if line.startswith("short-lived\t"))
    assert "\t*\t" in line and "live" in line and "last used never" not in line
    assert token not in listed.stdout  # only its name is ever shown again
    assert server.cli("token", "revoke", "short-lived").returncode == 0
    second = plugin_wheel(work / "revoke", "tercel-plugin-revoked", "2.0.0")
    refused = upload(server.url, second, token)
    assert refused.status_code == 403 and "was revoked" in refused.text
    assert "revoked" in next(line for line in server.cli("token", "list").stdout.splitlines() if line.startswith("short-lived\t"))
    unknown = upload(server.url, second, "trg_not-a-token")
    assert unknown.status_code == 401 and "unknown registry token" in unknown.text
    anonymous = upload(server.url, second, None)
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Basic")
    wrong_user = httpx.post(f"{server.url}/legacy/", auth=("alice", token), data={":action": "file_upload"})
    assert wrong_user.status_code == 401 and "__token__" in wrong_user.text
    missing = server.cli("token", "revoke", "short-lived")
    assert missing.returncode == 1 and "no live token named 'short-lived'" in missing.stderr
    # the name is free again once revoked; a live name is not
    assert server.token("short-lived", "*") != token
    taken = server.cli("token", "create", "short-lived", "--scope", "*")
    assert taken.returncode == 1 and "exists already" in taken.stderr


def test_an_upload_the_checks_refuse_is_a_400_with_their_reason(server: RegistryServer, token: str, work: Path) -> None:
    folder = work / "bad"
    wheel = plugin_wheel(folder, "tercel-plugin-broken", "1.0.0")
    with zipfile.ZipFile(wheel) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    broken = folder / "broken" / wheel.name
    broken.parent.mkdir()
    with zipfile.ZipFile(broken, "w") as archive:
        for name, data in members.items():
            if not name.endswith("tercel-manifest.json"):
                archive.writestr(name, data)
    refused = upload(server.url, broken, token)
    assert refused.status_code == 400
    assert refused.text.startswith(f"{wheel.name}: ") and "tercel-manifest.json" in refused.text
    damaged = upload(server.url, wheel, token, sha256_digest="0" * 64)
    assert damaged.status_code == 400 and "arrived damaged" in damaged.text
    lying = upload(server.url, wheel, token, name="tercel-plugin-other")
    assert lying.status_code == 400 and "the form names the project 'tercel-plugin-other'" in lying.text
    wrong_version = upload(server.url, wheel, token, version="9.9")
    assert wrong_version.status_code == 400 and "version '9.9'" in wrong_version.text
    assert httpx.get(f"{server.url}/simple/tercel-plugin-broken/").status_code == 404  # nothing was kept
    assert list((server.home / "files" / ".incoming").glob("*")) == []


def test_concurrent_uploads_on_sqlite(server: RegistryServer, work: Path) -> None:
    """Writers take SQLite's lock up front (BEGIN IMMEDIATE): none fails half-way, the latest
    version is computed from every upload, and one file uploaded at once by many is kept once."""
    from concurrent.futures import ThreadPoolExecutor

    token = server.token("burst", "*")
    wheels = [plugin_wheel(work / "burst", "tercel-plugin-burst", f"1.{n}.0") for n in range(8)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda w: upload(server.url, w, token), wheels))
    assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
    plugin = httpx.get(f"{server.url}/api/v1/plugins/tercel-plugin-burst").json()
    assert plugin["latestVersion"] == "1.7.0" and len(plugin["versions"]) == 8
    late = plugin_wheel(work / "burst", "tercel-plugin-burst", "1.8.0")
    with ThreadPoolExecutor(4) as pool:
        same = sorted(pool.map(lambda _: upload(server.url, late, token).status_code, range(4)))
    assert same == [200, 409, 409, 409]


def test_the_official_plugins_import_into_a_running_registry(server: RegistryServer, work: Path) -> None:
    """`tercel registry import` builds project folders with uv and keeps the files through the
    same checks as uploads, into the registry's home (here while it serves); again, it skips."""
    done = server.cli("import", str(ROOT / "plugins-official"))
    assert done.returncode == 0, done.stderr
    assert "tercel-plugin-core 1.0.0: published tercel_plugin_core-1.0.0-py3-none-any.whl" in done.stdout
    page = httpx.get(f"{server.url}/simple/tercel-plugin-core/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}).json()
    assert {f["filename"] for f in page["files"]} == {"tercel_plugin_core-1.0.0-py3-none-any.whl", "tercel_plugin_core-1.0.0.tar.gz"}
    version = _version(server, "tercel-plugin-core", "1.0.0")
    assert "tercel.core.Log" in {t["type"] for t in version["types"]}
    assert "io.kestra.plugin.core.log.Log" in next(t for t in version["types"] if t["type"] == "tercel.core.Log")["aliases"]
    again = server.cli("import", str(ROOT / "plugins-official"))
    assert again.returncode == 0 and "is there already" in again.stdout
    junk = work / "import" / "tercel_plugin_junk-1.0.0-py3-none-any.whl"
    junk.parent.mkdir(parents=True, exist_ok=True)
    junk.write_bytes(b"not a zip")
    refused = server.cli("import", str(junk))
    assert refused.returncode == 1 and refused.stderr.startswith(f"error: {junk.name}: ")


def _rewrapped(wheel: Path, dest: Path, change: Callable[[dict[str, bytes]], dict[str, bytes]]) -> Path:
    """The same wheel with its members changed (`change` maps name → bytes to the new members)."""
    with zipfile.ZipFile(wheel) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / wheel.name
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in change(members).items():
            archive.writestr(name, data)
    return target


def _sdist_with_link(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / "tercel_plugin_linked-1.0.0.tar.gz"
    with tarfile.open(target, "w:gz") as archive:
        for name, text in (("PKG-INFO", "Metadata-Version: 2.1\nName: tercel-plugin-linked\nVersion: 1.0.0\n"), ("pyproject.toml", "")):
            info = tarfile.TarInfo(f"tercel_plugin_linked-1.0.0/{name}")
            info.size = len(text)
            archive.addfile(info, io.BytesIO(text.encode()))
        link = tarfile.TarInfo("tercel_plugin_linked-1.0.0/secrets")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/shadow"
        archive.addfile(link)
    return target


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("path", "leaves the archive"),
        ("bomb", "bomb"),
        ("mismatch", "METADATA says"),
        ("not-a-zip", "is not a zip archive"),
        ("link", "link"),
    ],
)
def test_every_kind_of_bad_archive_is_refused_over_the_wire_and_nothing_is_kept(
    server: RegistryServer, token: str, work: Path, case: str, expected: str
) -> None:
    """What the upload checks refuse (tested one by one in test_inspect.py), through the real
    upload API: a 400 whose text says what and where, and no trace in the index afterwards."""
    wheel = plugin_wheel(work / f"bad-{case}", "tercel-plugin-bad", "1.0.0")
    dest = work / f"bad-{case}" / "out"
    if case == "path":
        bad = _rewrapped(wheel, dest, lambda m: {**m, "../../evil.py": b"print('owned')\n"})
    elif case == "bomb":
        bad = _rewrapped(wheel, dest, lambda m: {**m, "tercel_plugin_bad/zeros.bin": bytes(64 * 2**20)})
    elif case == "mismatch":
        def rename(members: dict[str, bytes]) -> dict[str, bytes]:
            return {
                k: v.replace(b"Name: tercel-plugin-bad", b"Name: tercel-plugin-other") if k.endswith("METADATA") else v
                for k, v in members.items()
            }
        bad = _rewrapped(wheel, dest, rename)
    elif case == "not-a-zip":
        dest.mkdir(parents=True, exist_ok=True)
        bad = dest / wheel.name
        bad.write_bytes(b"this is not a zip at all" * 100)
    else:
        bad = _sdist_with_link(dest)
    refused = upload(server.url, bad, token, sha256_digest=hashlib.sha256(bad.read_bytes()).hexdigest())
    assert refused.status_code == 400, refused.text
    assert refused.text.startswith(f"{bad.name}: ") and expected in refused.text, refused.text
    name = "tercel-plugin-linked" if case == "link" else "tercel-plugin-bad"
    assert httpx.get(f"{server.url}/simple/{name}/").status_code == 404
