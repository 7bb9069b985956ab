"""The registry's pure parts: content negotiation, names and versions, scopes, configuration."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tercel_registry import RegistryConfig
from tercel_registry._errors import ConfigError, NotAcceptable
from tercel_registry._names import canonical_version, latest_version, normalize_scope, scope_allows
from tercel_registry._negotiation import HTML_V1, JSON_V1, TEXT_HTML, choose_format
from tercel_registry._pages import schema_label


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, TEXT_HTML),
        ("", TEXT_HTML),
        ("application/*", HTML_V1),
        (f"{JSON_V1};q=0.5, {HTML_V1};q=0.5", HTML_V1),  # a tie: the first offer
        (f"{JSON_V1};q=bogus, text/html;q=0.1", TEXT_HTML),  # a malformed entry is skipped
        (f"*/*;q=0.1, {JSON_V1}", JSON_V1),
        (f"application/*;q=0.9, {HTML_V1};q=0", JSON_V1),  # the most specific range decides
        ("TEXT/HTML", TEXT_HTML),
    ],
)
def test_choose_format(accept: str | None, expected: str) -> None:
    assert choose_format(accept) == expected


def test_choose_format_refuses() -> None:
    with pytest.raises(NotAcceptable, match="ask for one of"):
        choose_format("image/png")
    with pytest.raises(NotAcceptable, match="is not served here"):
        choose_format(None, "application/json")
    assert choose_format("image/png", "application/vnd.pypi.simple.latest+json") == JSON_V1


def test_versions_and_latest() -> None:
    assert canonical_version("1.0.0") == canonical_version("1.0") == "1"
    assert latest_version([("1.0.0", False), ("2.0.0rc1", False), ("1.10.0", False), ("1.9", False)]) == "1.10.0"
    assert latest_version([("1.0.0", False), ("1.1.0", True)]) == "1.0.0"
    assert latest_version([("2.0.0rc1", False), ("1.0.0", True)]) == "2.0.0rc1"
    assert latest_version([("1.0.0", True), ("1.1.0", True)]) == "1.1.0"
    assert latest_version([]) is None


def test_scopes() -> None:
    assert normalize_scope(" Tercel_Plugin.X* ") == "tercel-plugin-x*"
    assert scope_allows(["tercel-plugin-x*"], "tercel-plugin-xml")
    assert not scope_allows(["tercel-plugin-x*"], "tercel-plugin-http")
    assert scope_allows(["tercel-plugin-http", "*"], "anything")
    assert not scope_allows([], "tercel-plugin-x")


def test_schema_labels() -> None:
    assert schema_label({"type": "string"}) == "string"
    assert schema_label({"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "string"}]}) == "integer | string"
    assert schema_label({"type": "array", "items": {"$ref": "#/$defs/Task"}}) == "array of Task"
    assert schema_label({"type": "object", "additionalProperties": {"type": "integer"}}) == "map of integer"
    assert schema_label({"enum": ["a", 1]}) == '"a" | 1'
    assert schema_label({"type": "string", "format": "duration"}) == "string (duration)"
    assert schema_label({}) == "any"


def test_config_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TERCEL_HOME", "TERCEL_REGISTRY_HOME", "TERCEL_REGISTRY_PORT", "TERCEL_REGISTRY_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERCEL_HOME", str(tmp_path / "tercel"))
    default = RegistryConfig.load()
    assert default.home == tmp_path / "tercel" / "registry"
    assert default.database == f"sqlite:///{tmp_path / 'tercel' / 'registry' / 'registry.db'}"
    assert default.files == tmp_path / "tercel" / "registry" / "files"
    assert (default.host, default.port, default.max_upload_size, default.public_url) == ("127.0.0.1", 8090, 100 * 2**20, None)

    file = tmp_path / "registry.yaml"
    file.write_text("registry:\n  port: 9001\n  maxUploadSize: 5MB\n  publicUrl: https://plugins.example.com/\n  files: ./blobs\n")
    from_file = RegistryConfig.load(file)
    assert (from_file.port, from_file.max_upload_size, from_file.public_url) == (9001, 5 * 2**20, "https://plugins.example.com")
    assert from_file.files == Path("./blobs").absolute()
    monkeypatch.setenv("TERCEL_REGISTRY_PORT", "9002")
    assert RegistryConfig.load(file).port == 9002
    assert RegistryConfig.load(file, port=9003).port == 9003


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("prot: 1\n", "unknown setting 'prot'"),
        ("port: 70000\n", "port 70000 is not a TCP port"),
        ("maxUploadSize: lots\n", "is not a size"),
        ("publicUrl: ftp://x\n", "is not an http(s) URL"),
        ("- a\n", "must be a mapping"),
        ("port: [\n", "not valid YAML"),
    ],
)
def test_config_errors_name_the_file_and_setting(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "registry.yaml"
    file.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        RegistryConfig.load(file)
    assert str(file) in str(caught.value)
