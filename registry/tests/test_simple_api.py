"""The simple API against the standards, over HTTP on the real server: PEP 503 HTML and PEP 691
JSON (checked against a JSON Schema of their shape), content negotiation with quality values,
`?format=`, `Vary`, 406, redirects to normalized names, 404 for unknown names, PEP 592 yanking,
PEP 629 versions, PEP 658/714 metadata files, PEP 700 fields, and the files themselves."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import jsonschema
import pytest
from registry_support import RegistryServer, plugin_sdist, plugin_wheel, upload

NAME = "tercel-plugin-alpha"
HTML = "text/html"
V1_HTML = "application/vnd.pypi.simple.v1+html"
V1_JSON = "application/vnd.pypi.simple.v1+json"
PIP_ACCEPT = f"{V1_JSON}, {V1_HTML}; q=0.1, text/html; q=0.01"  # what pip 23 sends
REASON = 'broken "quotes" & <tags>'
UPLOAD_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")

HASHES = {"type": "object", "additionalProperties": {"type": "string", "pattern": "^[0-9a-f]+$"}}
#: PEP 691 (+ PEP 700, api-version 1.1; PEP 714's core-metadata) as a JSON Schema.
PROJECT_SCHEMA = {
    "type": "object",
    "required": ["meta", "name", "files", "versions"],
    "properties": {
        "meta": {"type": "object", "required": ["api-version"], "properties": {"api-version": {"const": "1.1"}}},
        "name": {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$"},
        "versions": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "files": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["filename", "url", "hashes", "size"],
                "properties": {
                    "filename": {"type": "string"},
                    "url": {"type": "string"},
                    "hashes": {**HASHES, "required": ["sha256"]},
                    "requires-python": {"type": "string"},
                    "core-metadata": {"oneOf": [{"type": "boolean"}, HASHES]},
                    "dist-info-metadata": {"oneOf": [{"type": "boolean"}, HASHES]},
                    "yanked": {"oneOf": [{"type": "boolean"}, {"type": "string", "minLength": 1}]},
                    "size": {"type": "integer", "minimum": 0},
                    "upload-time": {"type": "string", "pattern": UPLOAD_TIME.pattern},
                },
            },
        },
    },
}
INDEX_SCHEMA = {
    "type": "object",
    "required": ["meta", "projects"],
    "properties": {
        "meta": {"type": "object", "required": ["api-version"]},
        "projects": {"type": "array", "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}},
    },
}


class Anchors(HTMLParser):
    """The `<a>` elements of a page (attributes unescaped, as a client reads them) and its
    `pypi:repository-version` meta."""

    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self.meta: dict[str, str | None] = {}
        self._open: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open = dict(attrs)
        elif tag == "meta":
            found = dict(attrs)
            self.meta[str(found.get("name"))] = found.get("content")

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self.anchors.append((self._open, data))
            self._open = None


def _anchors(text: str) -> Anchors:
    parser = Anchors()
    parser.feed(text)
    return parser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    work = tmp_path_factory.mktemp("simple")
    registry = RegistryServer(work / "registry")
    token = registry.token("seed", "*")
    dist = work / "dist"
    files = [
        plugin_wheel(dist, NAME, "1.0.0", requires_python=">=3.11,<4"),
        plugin_sdist(dist, NAME, "1.0.0"),
        plugin_wheel(dist, NAME, "1.10.0", requires_python=">=3.11,<4"),
        plugin_wheel(dist, NAME, "1.2.0", requires_python=">=3.11,<4"),
        plugin_wheel(dist, "tercel-plugin-beta", "0.1.0"),
    ]
    for path in files:
        answer = upload(registry.url, path, token)
        assert answer.status_code == 200, answer.text
    yanked = httpx.post(f"{registry.url}/api/v1/projects/{NAME}/versions/1.2.0/yank", json={"reason": REASON},
                        headers={"Authorization": f"Bearer {token}"})
    assert yanked.status_code == 200, yanked.text
    registry.dist = dist  # type: ignore[attr-defined]
    yield registry
    assert registry.stop() == 0, registry.text()


def _get(server: RegistryServer, path: str, accept: str | None = None, **params: str) -> httpx.Response:
    headers = {"Accept": accept} if accept is not None else {}
    return httpx.get(f"{server.url}{path}", headers=headers, params=params, follow_redirects=False)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, HTML),
        ("*/*", HTML),
        ("text/html", HTML),
        ("text/*", HTML),
        (V1_HTML, V1_HTML),
        (V1_JSON, V1_JSON),
        ("application/vnd.pypi.simple.latest+json", V1_JSON),  # `latest` answers with the real version
        ("application/vnd.pypi.simple.latest+html", V1_HTML),
        (PIP_ACCEPT, V1_JSON),
        (f"{V1_JSON};q=0.2, text/html;q=0.9", HTML),
        (f"text/html;q=0, {V1_JSON}", V1_JSON),
        (f"{V1_HTML}, {V1_JSON};q=0.999", V1_HTML),
        ("application/xml, */*;q=0.1", HTML),
    ],
)
def test_content_negotiation(server: RegistryServer, accept: str | None, expected: str) -> None:
    for path in ("/simple/", f"/simple/{NAME}/"):
        answer = _get(server, path, accept)
        assert answer.status_code == 200, answer.text
        assert answer.headers["vary"] == "Accept"
        assert answer.headers["content-type"].split(";")[0] == expected
        if expected == V1_JSON:
            answer.json()
        else:
            assert answer.text.startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("accept", ["application/xml", "application/json", "text/plain, image/*", f"{V1_JSON};q=0"])
def test_nothing_acceptable_is_a_406(server: RegistryServer, accept: str) -> None:
    answer = _get(server, f"/simple/{NAME}/", accept)
    assert answer.status_code == 406
    assert answer.headers["vary"] == "Accept"
    assert V1_JSON in answer.text and "text/html" in answer.text


def test_the_format_parameter_takes_precedence(server: RegistryServer) -> None:
    answer = _get(server, "/simple/", "text/html", format=V1_JSON)
    assert answer.headers["content-type"] == V1_JSON and answer.json()["meta"]["api-version"] == "1.1"
    assert _get(server, "/simple/", V1_JSON, format="text/html").headers["content-type"].startswith("text/html")
    assert _get(server, "/simple/", None, format="text/csv").status_code == 406


def test_names_are_normalized_by_permanent_redirects(server: RegistryServer) -> None:
    for path, target in [
        ("/simple/Tercel_Plugin.ALPHA/", f"/simple/{NAME}/"),
        ("/simple/tercel_plugin_alpha", f"/simple/{NAME}/"),
        (f"/simple/{NAME}", f"/simple/{NAME}/"),
        ("/simple", "/simple/"),
    ]:
        answer = _get(server, path, V1_JSON)
        assert answer.status_code == 301, (path, answer.status_code)
        assert answer.headers["location"] == target
        assert answer.headers["vary"] == "Accept"
    kept = _get(server, "/simple/Tercel_Plugin_Alpha/", None, format=V1_JSON)
    location = urlsplit(kept.headers["location"])
    assert location.path == f"/simple/{NAME}/" and parse_qs(location.query) == {"format": [V1_JSON]}
    followed = httpx.get(f"{server.url}/simple/TERCEL-PLUGIN-ALPHA/", headers={"Accept": V1_JSON}, follow_redirects=True)
    assert followed.json()["name"] == NAME


def test_an_unknown_project_is_a_404(server: RegistryServer) -> None:
    for accept in (None, V1_JSON):
        answer = _get(server, "/simple/numpy/", accept)
        assert answer.status_code == 404
        assert answer.headers["vary"] == "Accept"
        assert "no project named 'numpy' in this registry" in answer.text


def test_the_root_page_lists_every_project(server: RegistryServer) -> None:
    page = _anchors(_get(server, "/simple/").text)
    assert page.meta["pypi:repository-version"] == "1.1"
    assert {(a["href"], text) for a, text in page.anchors} == {(f"{NAME}/", NAME), ("tercel-plugin-beta/", "tercel-plugin-beta")}
    data = _get(server, "/simple/", V1_JSON).json()
    jsonschema.validate(data, INDEX_SCHEMA)
    assert {p["name"] for p in data["projects"]} == {NAME, "tercel-plugin-beta"}


def test_the_json_project_page(server: RegistryServer) -> None:
    url = f"{server.url}/simple/{NAME}/"
    data = _get(server, f"/simple/{NAME}/", V1_JSON).json()
    jsonschema.validate(data, PROJECT_SCHEMA)
    assert data["name"] == NAME
    assert data["versions"] == ["1.0.0", "1.2.0", "1.10.0"]  # PEP 440 order, yanked ones too
    files = {f["filename"]: f for f in data["files"]}
    assert set(files) == {
        "tercel_plugin_alpha-1.0.0-py3-none-any.whl", "tercel_plugin_alpha-1.0.0.tar.gz",
        "tercel_plugin_alpha-1.10.0-py3-none-any.whl", "tercel_plugin_alpha-1.2.0-py3-none-any.whl",
    }
    for name, entry in files.items():
        local = server.dist / name  # type: ignore[attr-defined]
        body = httpx.get(urljoin(url, entry["url"]))
        assert body.status_code == 200 and body.content == local.read_bytes()
        assert entry["hashes"] == {"sha256": hashlib.sha256(body.content).hexdigest()}
        assert entry["size"] == len(body.content)
        assert UPLOAD_TIME.match(entry["upload-time"])
        assert entry["requires-python"] == ">=3.11,<4"
        if name.endswith(".whl"):
            metadata = httpx.get(urljoin(url, entry["url"]) + ".metadata")
            assert metadata.status_code == 200 and metadata.content.startswith(b"Metadata-Version: 2.1\nName: tercel-plugin-alpha\n")
            assert entry["core-metadata"] == entry["dist-info-metadata"] == {"sha256": hashlib.sha256(metadata.content).hexdigest()}
        else:
            assert "core-metadata" not in entry and "dist-info-metadata" not in entry
    assert files["tercel_plugin_alpha-1.2.0-py3-none-any.whl"]["yanked"] == REASON
    assert "yanked" not in files["tercel_plugin_alpha-1.10.0-py3-none-any.whl"]


def test_the_html_project_page(server: RegistryServer) -> None:
    answer = _get(server, f"/simple/{NAME}/")
    assert '&gt;=3.11,&lt;4' in answer.text  # data-requires-python is HTML-escaped (PEP 503)
    assert "&quot;quotes&quot; &amp; &lt;tags&gt;" in answer.text
    page = _anchors(answer.text)
    assert page.meta["pypi:repository-version"] == "1.1"
    json_files = {f["filename"]: f for f in _get(server, f"/simple/{NAME}/", V1_JSON).json()["files"]}
    assert {text for _, text in page.anchors} == set(json_files)
    for attrs, text in page.anchors:
        entry = json_files[text]
        href = str(attrs["href"])
        link, _, fragment = href.partition("#")
        assert link == entry["url"] and not link.startswith(("/", "http"))  # relative: works under any prefix
        assert fragment == f"sha256={entry['hashes']['sha256']}"
        assert attrs["data-requires-python"] == ">=3.11,<4"
        if "core-metadata" in entry:
            assert attrs["data-core-metadata"] == attrs["data-dist-info-metadata"] == f"sha256={entry['core-metadata']['sha256']}"
        else:
            assert "data-core-metadata" not in attrs and "data-dist-info-metadata" not in attrs
        assert attrs.get("data-yanked") == entry.get("yanked")


def test_files_are_served_with_their_type_and_only_under_their_own_name(server: RegistryServer) -> None:
    files = {f["filename"]: f for f in _get(server, f"/simple/{NAME}/", V1_JSON).json()["files"]}
    base = f"{server.url}/simple/{NAME}/"
    wheel = files["tercel_plugin_alpha-1.0.0-py3-none-any.whl"]
    sdist = files["tercel_plugin_alpha-1.0.0.tar.gz"]
    answer = httpx.get(urljoin(base, wheel["url"]))
    assert answer.headers["content-type"] == "application/zip"
    assert "content-encoding" not in answer.headers
    assert wheel["filename"] in answer.headers["content-disposition"]
    gz = httpx.get(urljoin(base, sdist["url"]))
    assert gz.headers["content-type"] == "application/gzip" and "content-encoding" not in gz.headers
    assert gz.content[:2] == b"\x1f\x8b"
    assert httpx.get(urljoin(base, wheel["url"]) + ".metadata").headers["content-type"].startswith("text/plain")
    assert httpx.get(urljoin(base, sdist["url"]) + ".metadata").status_code == 404  # no PEP 658 file for sdists
    path = urlsplit(urljoin(base, wheel["url"])).path
    other = path.rsplit("/", 1)[0] + "/tercel_plugin_alpha-1.2.0-py3-none-any.whl"
    assert httpx.get(f"{server.url}{other}").status_code == 404
    assert httpx.get(f"{server.url}/files/{wheel['hashes']['sha256']}/..%2F..%2Fregistry.db").status_code == 404
    assert httpx.get(f"{server.url}/files/not-a-digest/x.whl").status_code == 404


def test_json_documents_name_no_other_index(server: RegistryServer) -> None:
    data = _get(server, f"/simple/{NAME}/", V1_JSON).json()
    assert all(urlsplit(urljoin(f"{server.url}/simple/{NAME}/", f["url"])).netloc == f"127.0.0.1:{server.port}" for f in data["files"])
