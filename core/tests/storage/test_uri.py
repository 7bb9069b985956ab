"""Storage URIs: Kestra's layout, the kestra:/// alias, and refusal of every path trick."""

from __future__ import annotations

import re

import pytest
from tercel.errors import TercelError
from tercel.storage import (
    StorageError,
    execution_file_uri,
    execution_prefix_uri,
    input_file_uri,
    namespace_file_uri,
    namespace_prefix_uri,
    normalize_uri,
    split_uri,
    to_uri,
)


def test_kestra_layout() -> None:
    assert (
        execution_file_uri("company.team", "my-flow", "6Xyz", "extract", "2Rtr", "rows.ion")
        == "tercel:///company/team/my-flow/executions/6Xyz/tasks/extract/2Rtr/rows.ion"
    )
    assert (
        input_file_uri("company.team", "my-flow", "6Xyz", "data", "in.csv")
        == "tercel:///company/team/my-flow/executions/6Xyz/inputs/data/in.csv"
    )
    assert namespace_file_uri("company.team", "/scripts/etl.py") == "tercel:///company/team/_files/scripts/etl.py"
    assert execution_prefix_uri("a.b", "f", "e") == "tercel:///a/b/f/executions/e/"
    assert namespace_prefix_uri("a.b") == "tercel:///a/b/"


def test_kestra_scheme_is_an_alias_and_output_is_canonical() -> None:
    assert normalize_uri("kestra:///company/team/f/x.ion") == "tercel:///company/team/f/x.ion"
    assert split_uri("kestra:///a/b/") == ("a", "b")


def test_percent_encoding_round_trips() -> None:
    uri = execution_file_uri("ns", "flow", "e", "t", "r", "my file #1 100%?.csv")
    assert uri.endswith("/my%20file%20%231%20100%25%3F.csv")
    assert split_uri(uri)[-1] == "my file #1 100%?.csv"
    assert split_uri(to_uri(("ünï", "漢字.txt"))) == ("ünï", "漢字.txt")


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("s3://bucket/x", "expected tercel:///"),
        ("tercel://host/x", "expected tercel:///"),
        ("/etc/passwd", "expected tercel:///"),
        ("tercel:////etc/passwd", "relative to the root"),
        ("tercel:///a/../../etc/passwd", "'..'"),
        ("tercel:///a/%2e%2e/%2e%2e/etc", "'..'"),
        ("tercel:///a%2F..%2F..%2Fetc", "'..'"),
        ("tercel:///a/./b", "'.'"),
        ("tercel:///a//b", "empty segment"),
        ("tercel:///a/b%00.txt", "NUL"),
        ("tercel:///a/b\x00.txt", "NUL"),
        ("tercel:///a/line\nbreak", "control"),
        ("tercel:///a\\..\\b", "backslash"),
        ("tercel:///a%5C..%5Cb", "backslash"),
        ("tercel:///" + "x" * 256, "longer than 255 bytes"),
        ("tercel:///" + "/".join(["abcdefghij"] * 300), "longer than"),
        ("tercel:///a/.tercel-tmp-123", "reserved"),
        ("tercel:///a/%ff%fe", "percent-encoding"),
        ("tercel:///", "storage root"),
    ],
)
def test_path_tricks_are_refused(uri: str, why: str) -> None:
    with pytest.raises(StorageError, match=re.escape(why)) as info:
        split_uri(uri)
    assert isinstance(info.value, TercelError)


def test_builders_refuse_bad_parts() -> None:
    with pytest.raises(StorageError, match="contains '/'"):
        execution_file_uri("ns", "flow/../x", "e", "t", "r", "f")
    with pytest.raises(StorageError, match=r"'\.\.'"):
        execution_file_uri("ns", "flow", "e", "t", "r", "..")
    with pytest.raises(StorageError, match=r"'\.\.'"):
        namespace_file_uri("ns", "scripts/../../secrets")
    with pytest.raises(StorageError, match="empty segment"):
        namespace_file_uri("company..team", "x")
    with pytest.raises(StorageError, match="names no file"):
        namespace_file_uri("ns", "/")
    with pytest.raises(StorageError, match="namespace is required"):
        namespace_prefix_uri("")
