"""Configuration: defaults < file < environment < command line, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from tercel_server import ConfigError, ServerConfig


def test_layers_override_each_other(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "tercel.yaml"
    file.write_text(f"home: {tmp_path / 'h'}\nport: 9000\nmaxBodySize: 2MB\nauth:\n  basic:\n    username: a\n    password: b\n")
    config = ServerConfig.load(file)
    assert (config.port, config.max_body_size, config.basic_auth_username) == (9000, 2 * 1024 * 1024, "a")
    monkeypatch.setenv("TERCEL_PORT", "9100")
    assert ServerConfig.load(file).port == 9100
    assert ServerConfig.load(file, port=9200).port == 9200


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("port: nope\n", "port = 'nope' is not valid"),
        ("colour: red\n", "unknown setting 'colour'"),
        ("- a list\n", "must be a mapping"),
        ("port: 70000\n", "is not a TCP port"),
        ("maxBodySize: lots\n", "is not a size"),
        ("auth:\n  username: only\n", "both the basic auth username and password"),
        ("key: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_configuration_says_what_and_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str) -> None:
    for var in ("TERCEL_PORT", "TERCEL_BASIC_AUTH_USERNAME", "TERCEL_BASIC_AUTH_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    file = tmp_path / "bad.yaml"
    file.write_text(text)
    with pytest.raises(ConfigError, match=r"bad\.yaml") as info:
        ServerConfig.load(file)
    assert message in str(info.value)


def test_roles_and_allowed_paths_reach_the_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "tercel.yaml"
    file.write_text(
        f"home: {tmp_path / 'h'}\nworker: false\nexecutor: 'no'\nallowedPaths: [{tmp_path / 'drop'}, ~/inbox]\n"
        "namespaceAccess:\n  company.shared: '*'\n  company.finance: [company.reports]\n"
    )
    monkeypatch.setenv("TERCEL_ALLOWED_PATHS", str(tmp_path / "env"))
    config = ServerConfig.load(file)
    assert (config.worker, config.executor, config.scheduler) == (False, False, True)
    settings = config.settings()
    assert settings.allowed_paths == [tmp_path / "env", tmp_path / "drop", Path("~/inbox").expanduser()]
    assert settings.may_access("anyone", "company.shared") and settings.may_access("company.reports", "company.finance")
    assert not settings.may_access("company.team", "company.finance")
