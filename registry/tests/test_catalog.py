"""The catalog over HTTP on the real server: search (ranked, filtered, paginated), a plugin with
every version, a version with its files and its types' docs from the manifest, a type's
providers, yanking seen everywhere, and the human pages (parsed: what they show, and that their
relative links lead somewhere)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from registry_support import (
    Node,
    RegistryServer,
    links_work,
    parse,
    plugin_sdist,
    plugin_wheel,
    upload,
)

HTTP = "tercel-plugin-http"
SLACK = "tercel-plugin-slack"
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    work = tmp_path_factory.mktemp("catalog")
    registry = RegistryServer(work / "registry")
    token = registry.token("seed", "*")
    dist = work / "dist"
    description = "# HTTP for tercel\n\nFetch URLs & <serve> webhooks."
    files = [
        plugin_wheel(dist, HTTP, "1.0.0", summary="HTTP requests and webhooks", keywords=["http", "web"], description=description),
        plugin_wheel(dist, HTTP, "1.1.0", summary="HTTP requests and webhooks", keywords=["http", "web"], description=description,
                     titles={"Fetch": "Fetch a URL over HTTP"}, metadata=["Project-URL: Homepage, https://example.com/http"]),
        plugin_sdist(dist, HTTP, "1.1.0"),
        plugin_wheel(dist, HTTP, "2.0.0rc1", summary="HTTP, the next one", keywords=["http"]),
        plugin_wheel(dist, SLACK, "0.3.0", summary="Post messages to Slack", keywords=["chat", "notifications"],
                     titles={"Notify": "Send a Slack message"}),
        plugin_wheel(dist, "tercel-plugin-httpx-extras", "0.1.0", summary="Extra helpers", keywords=["http"]),
        plugin_wheel(dist, "tercel-plugin-mail", "1.0.0", summary="Send email over SMTP", keywords=["email", "notifications"],
                     metadata=["Home-page: javascript:alert(document.cookie)"]),
    ]
    for path in files:
        answer = upload(registry.url, path, token)
        assert answer.status_code == 200, answer.text
    yanked = httpx.post(f"{registry.url}/api/v1/projects/{HTTP}/versions/1.0.0/yank", json={"reason": "leaks headers"},
                        headers={"Authorization": f"Bearer {token}"})
    assert yanked.status_code == 200, yanked.text
    assert httpx.get(f"{registry.url}/simple/{SLACK}/").status_code == 200
    yield registry
    assert registry.stop() == 0, registry.text()


def _api(server: RegistryServer, path: str, **params: str | int) -> dict:
    answer = httpx.get(f"{server.url}/api/v1{path}", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    return answer.json()


def _names(found: dict) -> list[str]:
    return [r["name"] for r in found["results"]]


def test_search_ranks_by_name_then_types_keywords_and_summary(server: RegistryServer) -> None:
    found = _api(server, "/plugins", q="http")
    assert _names(found) == [HTTP, "tercel-plugin-httpx-extras"]
    assert found["total"] == 2 and found["page"] == 1
    first = found["results"][0]
    assert first["latestVersion"] == "1.1.0"  # not the release candidate
    assert first["keywords"] == ["http", "web"]
    assert first["types"] == [
        {"type": "io.tercel.http.Fetch", "kind": "task", "title": "Fetch a URL over HTTP", "aliases": ["io.kestra.plugin.http.Fetch"]},
        {"type": "io.tercel.http.Notify", "kind": "task", "title": "Send a notification.", "aliases": []},
    ]
    assert _names(_api(server, "/plugins", q="notifications")) == ["tercel-plugin-mail", SLACK]
    assert _names(_api(server, "/plugins", q="slack message")) == [SLACK]  # every word must match
    assert _names(_api(server, "/plugins", q="Send a Slack message")) == [SLACK]  # a type's title
    assert _names(_api(server, "/plugins", q="io.tercel.mail.notify")) == ["tercel-plugin-mail"]  # a type name
    assert _names(_api(server, "/plugins", q="smtp")) == ["tercel-plugin-mail"]  # the summary
    assert _api(server, "/plugins", q="kubernetes")["total"] == 0
    assert _api(server, "/plugins", q="100%_")["total"] == 0  # LIKE wildcards are searched as text


def test_search_filters_and_pages(server: RegistryServer) -> None:
    assert _names(_api(server, "/plugins", type="io.tercel.slack.Notify")) == [SLACK]
    assert _names(_api(server, "/plugins", type="io.kestra.plugin.slack.Fetch")) == [SLACK]  # an alias
    assert _names(_api(server, "/plugins", keyword="Notifications")) == ["tercel-plugin-mail", SLACK]
    assert _names(_api(server, "/plugins", q="send", keyword="email")) == ["tercel-plugin-mail"]
    everything = _api(server, "/plugins", size=100)
    assert everything["total"] == 4 and _names(everything) == sorted(_names(everything))
    pages = [_api(server, "/plugins", size=3, page=n) for n in (1, 2, 3)]
    assert [len(p["results"]) for p in pages] == [3, 1, 0] and all(p["total"] == 4 for p in pages)
    assert [name for p in pages for name in _names(p)] == _names(everything)
    bad = httpx.get(f"{server.url}/api/v1/plugins", params={"size": 1000})
    assert bad.status_code == 400 and "size" in bad.json()["message"]


def test_a_plugin_with_every_version(server: RegistryServer) -> None:
    plugin = _api(server, f"/plugins/{HTTP}")
    assert plugin["name"] == HTTP and plugin["latestVersion"] == "1.1.0"
    assert plugin["description"].startswith("# HTTP for tercel")
    assert plugin["descriptionContentType"] == "text/markdown"
    assert plugin["entryPoint"] == "tercel_plugin_http.plugin"
    assert [v["version"] for v in plugin["versions"]] == ["2.0.0rc1", "1.1.0", "1.0.0"]
    by_version = {v["version"]: v for v in plugin["versions"]}
    assert by_version["1.0.0"]["yanked"] is True and by_version["1.0.0"]["yankedReason"] == "leaks headers"
    assert by_version["1.1.0"]["yanked"] is False
    for version in plugin["versions"]:
        assert version["nightly"] == {"status": "not run"}  # no nightly run yet
        assert version["uploadTime"].endswith("Z")
        assert version["sdkRequirement"] == ">=0.1,<0.2" and version["sdkCompatible"] is True
    assert _api(server, "/plugins/Tercel_Plugin.HTTP")["name"] == HTTP  # any spelling of the name
    missing = httpx.get(f"{server.url}/api/v1/plugins/tercel-plugin-nope")
    assert missing.status_code == 404 and missing.json() == {"message": "no plugin named 'tercel-plugin-nope' in this registry"}


def test_a_version_with_its_files_and_types(server: RegistryServer) -> None:
    version = _api(server, f"/plugins/{HTTP}/versions/1.1")  # PEP 440: 1.1 is 1.1.0
    assert version["version"] == "1.1.0" and version["latest"] is True
    assert version["requiresPython"] == ">=3.11" and version["sdkRequirement"] == ">=0.1,<0.2"
    assert version["requiresDist"] == ["tercel-plugin-sdk>=0.1,<0.2"]
    assert version["nightly"] == {"status": "not run"}
    files = {f["kind"]: f for f in version["files"]}
    wheel = httpx.get(files["wheel"]["url"])
    assert wheel.status_code == 200 and len(wheel.content) == files["wheel"]["size"]
    assert files["wheel"]["hashes"]["sha256"] and files["wheel"]["coreMetadata"]["sha256"]
    types = {t["type"]: t for t in version["types"]}
    assert set(types) == {"io.tercel.http.Fetch", "io.tercel.http.Notify"}
    fetch = types["io.tercel.http.Fetch"]
    assert fetch["kind"] == "task" and fetch["title"] == "Fetch a URL over HTTP"
    assert fetch["aliases"] == ["io.kestra.plugin.http.Fetch"]
    assert fetch["description"] == "Fetch a URL and keep its body as the task's output."
    assert fetch["properties"]["url"]["required"] is True and fetch["properties"]["url"]["dynamic"] is True
    assert fetch["properties"]["retries"]["default"] == 3 and fetch["properties"]["retries"]["schema"]["type"] == "integer"
    assert "url" in fetch["schema"]["required"] and "retries" not in fetch["schema"]["required"]
    assert fetch["examples"][0]["title"] == "Fetch the example page"
    assert set(fetch["outputs"]["properties"]) == {"body", "status"}
    assert fetch["metrics"][0]["name"] == "bytes"
    assert httpx.get(f"{server.url}/api/v1/plugins/{HTTP}/versions/9.9").status_code == 404


def test_which_plugins_provide_a_type(server: RegistryServer) -> None:
    found = _api(server, "/types/io.tercel.http.Fetch")
    assert [p["name"] for p in found["plugins"]] == [HTTP]
    entry = found["plugins"][0]
    assert [v["version"] for v in entry["versions"]] == ["2.0.0rc1", "1.1.0", "1.0.0"]
    assert [v["yanked"] for v in entry["versions"]] == [False, False, True]
    alias = _api(server, "/types/io.kestra.plugin.http.Fetch")["plugins"][0]
    assert alias["aliasOf"] == "io.tercel.http.Fetch"
    assert httpx.get(f"{server.url}/api/v1/types/io.tercel.nope.Thing").status_code == 404


def _page(server: RegistryServer, path: str) -> tuple[str, Node]:
    answer = httpx.get(f"{server.url}{path}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    return str(answer.url), parse(answer.text)


def test_the_plugin_list_page(server: RegistryServer) -> None:
    url, page = _page(server, "/")
    assert [li.attrs["data-name"] for li in page.all("li", "plugin")] == sorted(
        ["tercel-plugin-http", "tercel-plugin-httpx-extras", "tercel-plugin-mail", SLACK]
    )
    links_work(url, page)
    url, page = _page(server, "/?q=http")
    assert [li.attrs["data-name"] for li in page.all("li", "plugin")] == [HTTP, "tercel-plugin-httpx-extras"]
    assert page.one("input", name="q").attrs["value"] == "http"
    first = page.all("li", "plugin")[0]
    assert first.one("span", "version").text == "1.1.0"
    assert "HTTP requests and webhooks" in first.one("div", "summary").text
    assert [a.text for a in first.all("a", "type")] == ["io.tercel.http.Fetch", "io.tercel.http.Notify"]
    _, page = _page(server, "/?keyword=notifications")
    assert [li.attrs["data-name"] for li in page.all("li", "plugin")] == ["tercel-plugin-mail", SLACK]
    assert "No plugin found." in _page(server, "/?q=kubernetes")[1].text


def test_the_plugin_page_with_its_versions(server: RegistryServer) -> None:
    url, page = _page(server, f"/plugins/{HTTP}/")
    assert page.one("span", id="version").text == "1.1.0"
    options = {o.attrs["value"]: o.text for o in page.one("select", name="version").all("option")}
    assert options == {"2.0.0rc1": "2.0.0rc1", "1.1.0": "1.1.0 (latest)", "1.0.0": "1.0.0 (yanked)"}
    assert page.one("td", id="sdk").text == ">=0.1,<0.2"
    assert "Fetch URLs & <serve> webhooks." in page.one("div", "description").text  # escaped, shown as text
    assert [a.text for a in page.one("table", "types").all("a")] == ["io.tercel.http.Fetch", "io.tercel.http.Notify"]
    assert not page.all(id="yanked")
    links_work(url, page)
    _, old = _page(server, f"/plugins/{HTTP}/?version=1.0.0")
    assert old.one("span", id="version").text == "1.0.0"
    assert "yanked: leaks headers" in old.one(id="yanked").text
    moved = httpx.get(f"{server.url}/plugins/{HTTP}?version=1.0.0")
    assert moved.status_code == 301 and moved.headers["location"] == f"/plugins/{HTTP}/?version=1.0.0"
    home = next(a for a in page.all("a") if a.text == "https://example.com/http")
    assert home.attrs["href"] == "https://example.com/http"
    _, mail = _page(server, "/plugins/tercel-plugin-mail/")
    assert "javascript:alert(document.cookie)" in mail.text  # shown, never a link
    assert not [a for a in mail.all("a") if "javascript" in str(a.attrs.get("href"))]
    missing = httpx.get(f"{server.url}/plugins/tercel-plugin-nope/")
    assert missing.status_code == 404 and "no plugin named" in parse(missing.text).text


def test_the_type_page_documents_properties_examples_and_outputs(server: RegistryServer) -> None:
    url, page = _page(server, "/types/io.tercel.http.Fetch/")
    assert page.one("h1").text == "io.tercel.http.Fetch"
    assert page.one("p", "title").text == "Fetch a URL over HTTP"
    rows = {tr.attrs["data-property"]: [td.text for td in tr.all("td")] for tr in page.one("table", "properties").all("tr") if tr.attrs.get("data-property")}
    assert rows["url"][:4] == ["url", "string", "yes", "yes"]
    assert rows["url"][5] == "The URL to fetch."
    assert rows["retries"][:5] == ["retries", "integer", "no", "no", "3"]
    example = page.one("div", "example").text
    assert "type: io.tercel.http.Fetch" in example and "url: https://example.com" in example
    outputs = {tr.attrs["data-output"]: [td.text for td in tr.all("td")] for tr in page.one("table", "outputs").all("tr") if tr.attrs.get("data-output")}
    assert outputs == {"body": ["body", "string", "The body of the answer."], "status": ["status", "integer", "The HTTP status."]}
    selected = [o.attrs["value"] for o in page.one("select", name="version").all("option") if "selected" in o.attrs]
    assert selected == ["1.1.0"]  # the plugin's latest version, not its release candidate
    links_work(url, page)
    _, old = _page(server, "/types/io.tercel.http.Fetch/?plugin=tercel-plugin-http&version=1.0.0")
    assert old.one("p", "title").text == "Fetch a URL."  # that version's own docs
    assert httpx.get(f"{server.url}/types/io.tercel.http.Fetch/?version=7.0").status_code == 404
