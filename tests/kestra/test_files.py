"""Files: WorkingDirectory with input/output files, namespace files, internal storage through loops."""

from __future__ import annotations


def test_working_directory_shares_its_files_between_tasks_and_outputs_them(kestra) -> None:
    result = kestra.run("working_directory_files", {"env": "prod"})
    assert result.state == "SUCCESS"
    assert kestra.trace(result.execution, "working_directory_files") == [
        "source SUCCESS x1",
        "wdir SUCCESS",
        "report SUCCESS x1",
        "archive SUCCESS x1",
        "read_back SUCCESS x1",
        "download SUCCESS x1",
        "from_namespace SUCCESS x1",
    ]
    # the output files: the one written by `report`, the input file rendered from the inputs
    assert sorted(result.outputs("wdir")["outputFiles"]) == ["config.yml", "reports/summary.txt"]
    # `report` stored the input file copied from internal storage: both tasks saw one folder
    assert list(result.outputs("report")["uris"]) == ["data/source.txt"]
    assert result.outputs("read_back") == {"value": "ALPHA\nBETA for prod | env: prod | alpha\nbeta"}
    # `archive` uploaded the file `report` wrote to the namespace files, under /archive
    assert list(result.outputs("download")["files"]) == ["/archive/reports/summary.txt"]
    assert result.outputs("from_namespace") == {"value": "ALPHA\nBETA for prod"}


def test_namespace_files_uploaded_copied_into_a_working_directory_and_downloaded(kestra) -> None:
    result = kestra.run("namespace_files_workdir")
    assert result.state == "SUCCESS"
    assert kestra.trace(result.execution, "namespace_files_workdir") == [
        "query SUCCESS x1",
        "notes SUCCESS x1",
        "upload SUCCESS x1",
        "wdir SUCCESS",
        "collect SUCCESS x1",
        "summary SUCCESS x1",
        "download SUCCESS x1",
        "readme SUCCESS x1",
    ]
    # only the included namespace files are copied into the working directory
    assert result.outputs("summary") == {"value": "queries/daily.sql: SELECT 1"}
    assert result.outputs("readme") == {"value": "/README.md: team notes"}


def test_read_a_namespace_file_by_its_path(kestra) -> None:
    result = kestra.run("read_namespace_file")
    assert result.state == "SUCCESS"
    assert kestra.trace(result.execution, "read_namespace_file") == [
        "query SUCCESS x1", "upload SUCCESS x1", "show SUCCESS x1",
    ]
    assert result.outputs("show") == {"value": "SELECT * FROM orders"}


def test_split_files_looped_over_then_concatenated_in_order(kestra) -> None:
    result = kestra.run("split_foreach_concat")
    assert result.state == "SUCCESS"
    parts = result.outputs("split")["uris"]
    assert len(parts) == 3
    assert kestra.trace(result.execution, "split_foreach_concat") == [
        "write SUCCESS x1",
        "split SUCCESS x1",
        "parts SUCCESS",
        *[f"upper[{uri}] SUCCESS x1" for uri in parts],
        "concat SUCCESS x1",
        "size SUCCESS x1",
        "result SUCCESS x1",
    ]
    assert [result.read(uri).decode() for uri in parts] == ["alpha\nbeta\n", "gamma\ndelta\n", "epsilon\n"]
    assert result.outputs("result") == {"value": "ALPHA\nBETA\n--\nGAMMA\nDELTA\n--\nEPSILON\n"}
    assert result.outputs("size") == {"size": 37}


def test_working_directory_inside_a_foreach_has_a_folder_per_iteration(kestra) -> None:
    result = kestra.run("working_directory_in_foreach")
    assert result.state == "SUCCESS"
    lines = kestra.trace(result.execution, "working_directory_in_foreach")
    assert lines[0] == "each SUCCESS" and lines[-1] == "read_back SUCCESS x1" and len(lines) == 8
    for value in ("a", "b"):  # the two iterations run at once; each in its own order
        assert [line for line in lines if f"[{value}]" in line] == [
            f"wdir[{value}] SUCCESS", f"write[{value}] SUCCESS x1", f"list[{value}] SUCCESS x1",
        ]
    # each folder only holds its own files
    assert sorted(result.outputs("list", "a")["uris"]) == ["a.txt", "name.txt"]
    assert sorted(result.outputs("list", "b")["uris"]) == ["b.txt", "name.txt"]
    assert result.outputs("read_back") == {"value": "a.txt,name.txt | b.txt,name.txt | file of b | only in a"}
