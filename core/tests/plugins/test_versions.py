"""Choosing the installed version a `version:` pin asks for: the pure decision."""

from __future__ import annotations

import pytest
from tercel.plugins._versions import VersionChoiceError, choose_version

INSTALLED = ["1.0.0", "1.2.0", "1.10.1", "2.0.0rc1", "2.0.0"]


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("1.2.0", "1.2.0"),
        ("1.2", "1.2.0"),  # the same version, written shorter
        ("latest", "2.0.0"),
        ("oldest", "1.0.0"),
        ("~=1.2", "1.10.1"),  # newest that matches, in version order (not text order)
        (">=1,<1.5", "1.2.0"),
        ("==2.0.0rc1", "2.0.0rc1"),
        (None, "2.0.0"),  # no pin: the default, latest
    ],
)
def test_a_pin_picks_the_newest_installed_version_it_allows(requested: str | None, expected: str) -> None:
    assert choose_version(requested, INSTALLED) == expected


def test_the_default_decides_without_a_pin() -> None:
    assert choose_version(None, INSTALLED, default="oldest") == "1.0.0"
    with pytest.raises(VersionChoiceError, match=r"needs every task to pin its `version` \(installed: 1.0.0, 1.2.0"):
        choose_version(None, INSTALLED, default="none")
    assert choose_version("1.0.0", INSTALLED, default="none") == "1.0.0"


@pytest.mark.parametrize(
    ("requested", "message"),
    [
        ("1.3.0", "version 1.3.0 is not installed (installed: 1.0.0, 1.2.0, 1.10.1, 2.0.0rc1, 2.0.0)"),
        (">=3", "no installed version matches >=3 (installed: 1.0.0"),
        ("newest", "'newest' is not a version: write an exact version (1.2.0), a specifier"),
    ],
)
def test_what_cannot_be_met_says_what_is_installed(requested: str, message: str) -> None:
    with pytest.raises(VersionChoiceError) as info:
        choose_version(requested, INSTALLED)
    assert message in str(info.value)


def test_nothing_installed_and_versions_that_are_not_pep_440() -> None:
    with pytest.raises(VersionChoiceError, match="no version is installed"):
        choose_version("latest", [])
    assert choose_version("nightly-7", ["nightly-7"]) == "nightly-7"  # only by its exact text
