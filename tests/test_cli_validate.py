"""`tercel validate` and `tercel plugins` through a real subprocess."""

from __future__ import annotations

import json

from e2e_support import EXAMPLES, Cli


def test_validate_reports_every_problem_with_line_and_column(cli: Cli) -> None:
    flow = cli.flow(
        "bad.yaml",
        "id: f\nnamespace: t\ntasks:\n"
        "  - id: a\n    type: tercel.core.Lgo\n    message: hi\n"
        "  - id: b\n    type: tercel.core.Log\n    level: LOUD\n    message: hi\n"
        "  - id: c\n    type: tercel.core.ForEach\n    values: [1]\n    tasks: []\n",
    )
    result = cli("validate", str(flow))
    assert result.returncode == 1
    assert "bad.yaml:5:5" in result.stderr
    assert "bad.yaml:9:5" in result.stderr
    assert "tasks" in result.stderr
    data = json.loads(cli("validate", str(flow), "--json").stdout)
    problems = data[str(flow)]
    assert len(problems) >= 3
    assert {p["line"] for p in problems} >= {5, 9}


def test_validate_examples_folder(cli: Cli) -> None:
    result = cli("validate", str(EXAMPLES))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": valid") == len(list(EXAMPLES.glob("*.yaml")))


def test_malformed_yaml_is_an_error_not_a_traceback(cli: Cli) -> None:
    flow = cli.flow("m.yaml", "id: f\nnamespace: t\ntasks:\n  - id: x\n    type: tercel.core.Log\n    message: \"unclosed\n")
    result = cli("validate", str(flow))
    assert result.returncode == 1 and "m.yaml:" in result.stderr and "Traceback" not in result.stderr


def test_plugins_list_and_doc(cli: Cli) -> None:
    listing = cli("plugins", "list")
    assert listing.returncode == 0
    for name in ("tercel.core.Log", "tercel.core.ForEach", "tercel.core.Switch"):
        assert name in listing.stdout
    doc = cli("plugins", "doc", "tercel.core.ForEach")
    assert doc.returncode == 0
    assert "concurrencyLimit (integer, default: 1)" in doc.stdout
    assert "values (" in doc.stdout and "required" in doc.stdout
    assert "io.kestra.plugin.core.flow.ForEach" in doc.stdout
    unknown = cli("plugins", "doc", "tercel.core.Lgo")
    assert unknown.returncode == 1 and "did you mean" in unknown.stderr
    schema = json.loads(cli("plugins", "doc", "tercel.core.Log", "--schema").stdout)
    assert "message" in schema["properties"]
