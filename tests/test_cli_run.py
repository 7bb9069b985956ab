"""`tercel run`: the CLI contract of DESIGN §4, through a real subprocess."""

from __future__ import annotations

from datetime import datetime

from e2e_support import EXAMPLES, Cli, b64


def test_hello_world_prints_logs_and_exits_0(cli: Cli) -> None:
    result = cli("run", str(EXAMPLES / "hello_world.yaml"))
    assert result.returncode == 0, result.stderr
    assert "Hello, world!" in result.stderr
    assert "SUCCESS" in result.stderr
    assert result.stdout == ""


def test_json_document_has_kestra_shape(cli: Cli) -> None:
    rc, ex, _ = cli.run_json(str(EXAMPLES / "inputs_and_outputs.yaml"), "--input", "name=Ada", "--input", "count=3", "--label", "env=test")
    assert rc == 0
    assert set(ex) >= {"id", "namespace", "flowId", "flowRevision", "labels", "inputs", "outputs", "state", "taskRunList", "plugins"}
    assert ex["namespace"] == "tutorial" and ex["flowId"] == "inputs_and_outputs" and ex["flowRevision"] == 1
    assert ex["labels"] == {"team": "tutorial", "env": "test"}
    assert ex["inputs"] == {"name": "Ada", "count": 3, "since": "2024-01-01T00:00:00Z"}
    assert ex["outputs"] == {"message": "Hello, Ada!", "times": 3}
    assert ex["state"]["current"] == "SUCCESS"
    assert [h["state"] for h in ex["state"]["histories"]] == ["CREATED", "RUNNING", "SUCCESS"]
    datetime.fromisoformat(ex["state"]["startDate"].replace("Z", "+00:00"))
    runs = ex["taskRunList"]
    assert [r["taskId"] for r in runs] == ["greeting", "repeat", "say", "say", "say", "summary"]  # creation order
    says = [r for r in runs if r["taskId"] == "say"]
    assert [r["value"] for r in says] == ["1", "2", "3"] and [r["iteration"] for r in says] == [0, 1, 2]
    assert all(r["parentTaskRunId"] == runs[1]["id"] for r in says)
    assert runs[0]["outputs"] == {"value": "Hello, Ada!"}
    for run in runs:
        assert run["state"]["current"] == "SUCCESS"
        assert run["attempts"] == [] if run["taskId"] == "repeat" else len(run["attempts"]) == 1
    assert ex["plugins"]["tercel.core.Log"] == {"distribution": "tercel-plugin-core", "version": "1.0.0"}


def test_failed_flow_exits_1_warning_exits_0(cli: Cli) -> None:
    failing = cli.flow("fail.yaml", "id: f\nnamespace: t\ntasks:\n  - id: boom\n    type: tercel.core.Fail\n    errorMessage: it broke\n")
    rc, ex, err = cli.run_json(str(failing))
    assert rc == 1 and ex["state"]["current"] == "FAILED"
    assert ex["taskRunList"][0]["error"] == "it broke"
    assert "it broke" in err
    rc, ex, _ = cli.run_json(str(EXAMPLES / "error_handling.yaml"))
    assert rc == 0 and ex["state"]["current"] == "WARNING"
    flaky = next(r for r in ex["taskRunList"] if r["taskId"] == "flaky")
    assert [a["state"]["current"] for a in flaky["attempts"]] == ["FAILED", "FAILED", "SUCCESS"]


def test_every_example_runs(cli: Cli) -> None:
    result = cli("run-examples", str(EXAMPLES))
    assert result.returncode == 0, result.stderr
    assert "example flows succeeded" in result.stderr


def test_bad_and_missing_inputs_are_all_reported(cli: Cli) -> None:
    flow = cli.flow("in.yaml", "id: f\nnamespace: t\ninputs:\n  - id: n\n    type: INT\n  - id: when\n    type: DATETIME\n  - id: must\n    type: STRING\ntasks:\n  - id: x\n    type: tercel.core.Log\n    message: hi\n")
    result = cli("run", str(flow), "--input", "n=abc", "--input", "when=yesterday", "--input", "typo=1")
    assert result.returncode == 1
    for text in ("input 'n' must be an INT", "'when'", "'must'", "typo"):
        assert text in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_a_file_input_is_stored_and_readable_by_tasks(cli: Cli) -> None:
    data = cli.workdir / "data.csv"
    data.write_text("a,b\n1,2\n")
    flow = cli.flow("file.yaml", "id: f\nnamespace: t\ninputs:\n  - id: data\n    type: FILE\ntasks:\n  - id: show\n    type: tercel.core.Return\n    format: \"{{ read(inputs.data) }}\"\n")
    rc, ex, err = cli.run_json(str(flow), "--input", f"data={data}")
    assert rc == 0, err
    assert ex["inputs"]["data"].startswith("tercel:///t/f/executions/")
    assert ex["taskRunList"][0]["outputs"]["value"] == "a,b\n1,2\n"


def test_render_errors_name_the_task_and_property(cli: Cli) -> None:
    flow = cli.flow("bad.yaml", "id: f\nnamespace: t\ntasks:\n  - id: greet\n    type: tercel.core.Log\n    message: \"Hello {{ inputs.nobody }}\"\n")
    rc, ex, err = cli.run_json(str(flow))
    assert rc == 1
    error = ex["taskRunList"][0]["error"]
    assert "task 'greet'" in error and "'message'" in error and "inputs.nobody" in error
    assert "Traceback" not in err


def test_sandbox_violation_fails_cleanly(cli: Cli) -> None:
    flow = cli.flow("evil.yaml", "id: f\nnamespace: t\ntasks:\n  - id: evil\n    type: tercel.core.Return\n    format: \"{{ ''.__class__.__mro__[1].__subclasses__() }}\"\n")
    result = cli("run", str(flow))
    assert result.returncode == 1
    assert "__class__" in result.stderr or "sandbox" in result.stderr.lower() or "not allowed" in result.stderr.lower()
    assert "subprocess.Popen" not in result.stderr


def test_secrets_are_read_from_the_environment_and_masked_in_logs(cli: Cli) -> None:
    flow = cli.flow("s.yaml", "id: f\nnamespace: t\ntasks:\n  - id: leak\n    type: tercel.core.Log\n    message: \"token is {{ secret('API_TOKEN') }}\"\n  - id: out\n    type: tercel.core.Return\n    format: \"{{ secret('API_TOKEN') | length }}\"\n")
    rc, ex, err = cli.run_json(str(flow), env={"SECRET_API_TOKEN": b64("s3cr3t-value")})
    assert rc == 0, err
    assert "s3cr3t-value" not in err
    assert "token is ******" in err
    assert ex["taskRunList"][1]["outputs"]["value"] == "12"
    missing = cli("run", str(flow))
    assert missing.returncode == 1 and "SECRET_API_TOKEN" in missing.stderr


def test_envs_and_vars_and_labels_reach_expressions(cli: Cli) -> None:
    flow = cli.flow("v.yaml", "id: f\nnamespace: t\nlabels:\n  owner: data\nvariables:\n  greeting: hi\ntasks:\n  - id: r\n    type: tercel.core.Return\n    format: \"{{ vars.greeting }} {{ envs.region }} {{ labels.owner }} {{ flow.namespace }}.{{ flow.id }} {{ task.id }}\"\n")
    rc, ex, _ = cli.run_json(str(flow), env={"ENV_REGION": "eu"})
    assert rc == 0
    assert ex["taskRunList"][0]["outputs"]["value"] == "hi eu data t.f r"


def test_timeout_fails_the_task_and_kills_it(cli: Cli) -> None:
    flow = cli.flow("t.yaml", "id: f\nnamespace: t\ntasks:\n  - id: slow\n    type: tercel.core.Sleep\n    duration: PT30S\n    timeout: PT0.3S\n")
    rc, ex, _ = cli.run_json(str(flow))
    assert rc == 1
    run = ex["taskRunList"][0]
    assert "timed out after PT0.3S" in run["error"]
    assert run["state"]["duration"] < 5


def test_invalid_flow_is_refused_before_running(cli: Cli) -> None:
    flow = cli.flow("bad.yaml", "id: f\nnamespace: t\ntasks:\n  - id: x\n    type: tercel.core.Lgo\n    message: hi\n")
    result = cli("run", str(flow))
    assert result.returncode == 1
    assert "bad.yaml:5:5" in result.stderr and "did you mean 'tercel.core.Log'" in result.stderr
    assert not (cli.home / "tercel.db").exists() or "execution" not in result.stderr


def test_flows_dir_and_missing_file(cli: Cli) -> None:
    assert cli("run", "nope.yaml").returncode == 1
    flow = cli.flow("a.yaml", "id: a\nnamespace: t\ntasks:\n  - id: x\n    type: tercel.core.Log\n    message: hi\n")
    cli.flow("broken.yaml", "id: [\n")
    result = cli("run", str(flow), "--flows-dir", str(cli.workdir))
    assert result.returncode == 0
    assert "skipping" in result.stderr and "broken.yaml" in result.stderr


def test_run_calls_subflows_from_the_flows_dir(cli) -> None:  # type: ignore[no-untyped-def]
    flows = cli.workdir / "flows"
    flows.mkdir()
    (flows / "child.yaml").write_text(
        "id: child\nnamespace: e2e\ninputs:\n  - id: n\n    type: INT\ntasks:\n"
        "  - id: double\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ inputs.n * 2 }}\"\n"
        "outputs:\n  - id: result\n    type: INT\n    value: \"{{ outputs.double.value }}\"\n"
    )
    parent = cli.flow(
        "parent.yaml",
        "id: parent\nnamespace: e2e\ntasks:\n"
        "  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [1, 2]\n    tasks:\n"
        "      - id: call\n        type: io.kestra.plugin.core.flow.Subflow\n        namespace: e2e\n        flowId: child\n"
        "        inputs:\n          n: \"{{ taskrun.value }}\"\n"
        "  - id: sum\n    type: io.kestra.plugin.core.debug.Return\n"
        "    format: \"{{ outputs.call['1'].outputs.result + outputs.call['2'].outputs.result }}\"\n",
    )
    rc, doc, err = cli.run_json(str(parent), "--flows-dir", str(flows))
    assert rc == 0, err
    assert doc["state"]["current"] == "SUCCESS"
    assert [t["taskId"] for t in doc["taskRunList"]] == ["each", "call", "call", "sum"]
    assert doc["taskRunList"][-1]["outputs"] == {"value": "6"}


def test_run_starts_the_flow_triggers_of_the_flows_dir_and_waits_for_them(cli) -> None:  # type: ignore[no-untyped-def]
    flows = cli.workdir / "flows"
    flows.mkdir()
    (flows / "after.yaml").write_text(
        "id: after\nnamespace: e2e\ntasks:\n"
        "  - id: note\n    type: io.kestra.plugin.core.log.Log\n    message: \"downstream of {{ trigger.flowId }} {{ trigger.state }}\"\n"
        "triggers:\n  - id: on_upstream\n    type: io.kestra.plugin.core.trigger.Flow\n    conditions:\n"
        "      - type: io.kestra.plugin.core.condition.ExecutionFlow\n        namespace: e2e\n        flowId: upstream\n"
    )
    upstream = cli.flow("upstream.yaml", "id: upstream\nnamespace: e2e\ntasks:\n  - id: r\n    type: tercel.core.Return\n    format: up\n")
    rc, doc, err = cli.run_json(str(upstream), "--flows-dir", str(flows))
    assert rc == 0, err
    assert doc["flowId"] == "upstream" and doc["state"]["current"] == "SUCCESS"  # the JSON is the run's own execution
    assert "downstream of upstream SUCCESS" in err  # the triggered flow ran before the command ended
