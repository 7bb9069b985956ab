"""The plugin template as an author meets it, end to end, with the real tools.

Baked once per option (the defaults through `tercel plugins new --no-input`, the other
licenses and the trigger off through cookiecutter's API), each project is linted with its own
ruff config, runs its own test suite in a subprocess (the main venv's Python, its `src/` on
PYTHONPATH: nothing is installed here) and is built by `uv build` into a wheel and an sdist.
The default project is then published to a real `tercel registry serve`, which makes
`tercel plugins new` refuse its name, installed from that registry and run by a flow. The
builds and the test suites run side by side: they are most of this file's time.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter
from packaging.specifiers import SpecifierSet
from tercel import _plugin_new
from tercel.cli import main as tercel_main
from tercel.errors import TercelError

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "plugin-template"
BIN = Path(sys.executable).parent
SDK_RANGE = _plugin_new.sdk_range()


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert found, f"{name} is not installed (make setup installs it in .venv)"
    return found


def _env(**extra: str) -> dict[str, str]:
    """This environment without the caller's tercel settings (a database URL must not leak)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TERCEL_", "PYTEST_"))}
    return {**env, **extra}


def _tercel(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tercel", *args], capture_output=True, text=True, timeout=timeout,
        env=env or _env(), cwd=cwd, check=False,
    )


@pytest.fixture(autouse=True)
def _no_tercel_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process CLI must not see the caller's registry or database either."""
    for name in [n for n in os.environ if n.startswith("TERCEL_")]:
        monkeypatch.delenv(name)


# ------------------------------------------------------------------------------------ baking


@dataclass(frozen=True)
class Variant:
    """One way of answering the template."""

    id: str
    name: str
    answers: dict[str, Any] = field(default_factory=dict)
    license: str = "Apache-2.0"
    trigger: bool = True
    task: str = "Fetch"
    task_module: str = "fetch"

    @property
    def distribution(self) -> str:
        return "tercel-plugin-" + self.name.replace("_", "-")

    @property
    def package(self) -> str:
        return "tercel_plugin_" + self.name.replace("-", "_")


DEFAULTS = Variant("defaults-via-cli", "weather")
VARIANTS = [
    DEFAULTS,
    Variant(
        "mit-without-trigger", "acme-crm", license="MIT", trigger=False, task="ListOrders", task_module="list_orders",
        answers={"license": "MIT", "include_trigger": False, "task_name": "ListOrders",
                 "description": 'Acme\'s "CRM" \\ orders', "author_name": 'Ada "the" Lovelace'},
    ),
    Variant("bsd-3-clause", "b3", license="BSD-3-Clause", answers={"license": "BSD-3-Clause", "type_prefix": "com.example.b3"}),
    Variant(
        "proprietary", "in_house", license="Proprietary", trigger=False, task="HTTPGet", task_module="http_get",
        answers={"license": "Proprietary", "include_trigger": False, "task_name": "HTTPGet"},
    ),
]


def _bake(variant: Variant, out: Path, tmp: Path) -> Path:
    """Bake with cookiecutter's API (the replay file kept out of the home folder)."""
    config = tmp / "cookiecutter.yaml"
    config.write_text(f"replay_dir: {json.dumps(str(tmp / 'replay'))}\n", encoding="utf-8")
    made = cookiecutter(
        str(TEMPLATE), no_input=True, output_dir=str(out), config_file=str(config),
        extra_context={"plugin_name": variant.name, "sdk_range": SDK_RANGE, **variant.answers},
    )
    return Path(made)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("plugins")


@pytest.fixture(scope="module")
def projects(work: Path) -> dict[str, Path]:
    """Every variant baked: the defaults by the real CLI in a subprocess, the others in-process."""
    out: dict[str, Path] = {}
    started = time.perf_counter()
    done = _tercel("plugins", "new", DEFAULTS.name, "--no-input", "--output-dir", str(work))
    assert done.returncode == 0, done.stderr
    out[DEFAULTS.id] = work / DEFAULTS.distribution
    assert f"cd {out[DEFAULTS.id]}" in done.stdout and "pytest" in done.stdout  # the next steps
    for variant in VARIANTS[1:]:
        out[variant.id] = _bake(variant, work, work)
    print(f"\nbaked {len(out)} projects in {time.perf_counter() - started:.1f} s")
    return out


@dataclass
class Checks:
    """What ruff, the project's own pytest and uv build said about one project."""

    returncodes: dict[str, int]
    outputs: dict[str, str]
    dist: Path


@pytest.fixture(scope="module")
def checks(projects: dict[str, Path], work: Path) -> dict[str, Checks]:
    """Lint, test and build every project at once (each in its own process)."""
    ruff, uv = _tool("ruff"), _tool("uv")
    running: list[tuple[str, str, subprocess.Popen[bytes], Path]] = []
    started = time.perf_counter()
    for variant in VARIANTS:
        project = projects[variant.id]
        dist = work / f"dist-{variant.id}"
        commands = {
            "ruff": ([ruff, "check", "--cache-dir", str(work / f"ruff-cache-{variant.id}"), "."], _env()),
            "pytest": (
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                # as in a fresh environment: only pytest's own plugins, the project from src/
                _env(PYTHONPATH=str(project / "src"), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", PYTHONDONTWRITEBYTECODE="1"),
            ),
            "build": ([uv, "build", "--out-dir", str(dist), "."], _env()),
        }
        for what, (command, env) in commands.items():
            log = work / f"{variant.id}-{what}.log"
            with log.open("wb") as sink:
                running.append((variant.id, what, subprocess.Popen(command, cwd=project, env=env, stdout=sink, stderr=subprocess.STDOUT), log))
    results: dict[str, Checks] = {v.id: Checks({}, {}, work / f"dist-{v.id}") for v in VARIANTS}
    for variant_id, what, process, log in running:
        results[variant_id].returncodes[what] = process.wait(timeout=300)
        results[variant_id].outputs[what] = log.read_text(encoding="utf-8", errors="replace")
    print(f"\nlinted, tested and built {len(VARIANTS)} projects in {time.perf_counter() - started:.1f} s")
    return results


# ------------------------------------------------------------------------ each baked project

by_variant = pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.id)


@pytest.mark.slow
@by_variant
def test_the_project_has_everything_an_author_needs(variant: Variant, projects: dict[str, Path]) -> None:
    project = projects[variant.id]
    assert project.name == variant.distribution
    expected = {
        "pyproject.toml", "README.md", "CHANGELOG.md", "LICENSE", ".gitignore", ".github/workflows/ci.yml",
        f"src/{variant.package}/__init__.py", f"src/{variant.package}/plugin.py",
        f"src/{variant.package}/_http.py", f"src/{variant.package}/{variant.task_module}.py",
        f"src/{variant.package}/tercel-manifest.json", f"src/{variant.package}/py.typed",
        f"examples/{variant.task_module}.yaml", "tests/conftest.py", "tests/test_plugin.py",
        "tests/test_flows.py", f"tests/test_{variant.task_module}.py", f"tests/flows/{variant.task_module}.yaml",
    }
    trigger_files = {f"src/{variant.package}/trigger.py", "tests/test_trigger.py"}
    files = {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()}
    assert files == expected | (trigger_files if variant.trigger else set())
    for path in project.rglob("*"):  # every placeholder rendered, every template tag gone
        if path.is_file() and path.name != "tercel-manifest.json":  # generated: schemas hold `{%`
            text = path.read_text(encoding="utf-8")
            assert "cookiecutter" not in text and "{%" not in text, f"{path} still holds template syntax"
    manifest = json.loads((project / "src" / variant.package / "tercel-manifest.json").read_text(encoding="utf-8"))
    prefix = variant.answers.get("type_prefix", f"io.tercel.{variant.name.replace('-', '_')}")
    assert [t["type"] for t in manifest["types"]] == [f"{prefix}.{variant.task}", *([f"{prefix}.Trigger"] if variant.trigger else [])]
    assert (manifest["module"], manifest["distribution"], manifest["version"]) == (f"{variant.package}.plugin", variant.distribution, "0.1.0")
    pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")
    assert f'dependencies = ["tercel-plugin-sdk{SDK_RANGE}"]' in pyproject


@pytest.mark.slow
@by_variant
def test_the_license_is_the_one_chosen(variant: Variant, projects: dict[str, Path]) -> None:
    import tomllib

    project = projects[variant.id]
    first_line = {"Apache-2.0": "Apache License", "MIT": "MIT License", "BSD-3-Clause": "BSD 3-Clause License",
                  "Proprietary": "All rights reserved."}[variant.license]
    license_text = (project / "LICENSE").read_text(encoding="utf-8")
    assert first_line in license_text.strip().splitlines()[0]
    metadata = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert metadata["license"] == ("LicenseRef-Proprietary" if variant.license == "Proprietary" else variant.license)
    assert ("Private :: Do Not Upload" in metadata["classifiers"]) is (variant.license == "Proprietary")
    if "author_name" in variant.answers:  # quotes and backslashes survive TOML
        assert metadata["authors"][0]["name"] == variant.answers["author_name"]
        assert metadata["description"] == variant.answers["description"]


@pytest.mark.slow
@by_variant
def test_ruff_passes_with_the_projects_own_config(variant: Variant, checks: dict[str, Checks]) -> None:
    result = checks[variant.id]
    assert result.returncodes["ruff"] == 0, result.outputs["ruff"]


@pytest.mark.slow
@by_variant
def test_the_projects_own_tests_pass(variant: Variant, checks: dict[str, Checks]) -> None:
    result = checks[variant.id]
    assert result.returncodes["pytest"] == 0, result.outputs["pytest"]
    assert " passed" in result.outputs["pytest"] and " skipped" not in result.outputs["pytest"]


@pytest.mark.slow
@by_variant
def test_uv_builds_a_wheel_and_an_sdist_with_the_manifest(variant: Variant, checks: dict[str, Checks]) -> None:
    result = checks[variant.id]
    assert result.returncodes["build"] == 0, result.outputs["build"]
    (wheel,) = result.dist.glob("*.whl")
    (sdist,) = result.dist.glob("*.tar.gz")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"{variant.package}-0.1.0.dist-info"
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
        metadata = archive.read(f"{info}/METADATA").decode()
    assert f"{variant.package}/tercel-manifest.json" in names
    assert f"{variant.package}/plugin.py" in names
    assert not any("/tests/" in n or n.startswith("tests/") for n in names)
    assert f"[tercel.plugins]\n{variant.name.replace('-', '_')} = {variant.package}.plugin" in entry_points
    assert f"Requires-Dist: tercel-plugin-sdk{SpecifierSet(SDK_RANGE)}" in metadata
    assert f"License-Expression: {'LicenseRef-Proprietary' if variant.license == 'Proprietary' else variant.license}" in metadata
    with tarfile.open(sdist) as archive:
        members = set(archive.getnames())
    root = sdist.name.removesuffix(".tar.gz")
    assert {f"{root}/src/{variant.package}/tercel-manifest.json", f"{root}/tests/test_plugin.py"} <= members


# --------------------------------------------------------------------------- the CLI's checks


@pytest.mark.slow
def test_an_existing_folder_is_refused(projects: dict[str, Path], work: Path) -> None:
    project = projects[DEFAULTS.id]
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    done = _tercel("plugins", "new", DEFAULTS.name, "--no-input", "--output-dir", str(work))
    assert done.returncode == 1
    assert f"{project} already exists" in done.stderr
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == before


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("Weather", "e.g. 'weather'"),
        ("my plugin", "e.g. 'my-plugin'"),
        ("2fast", "starting with a letter"),
        ("tercel-plugin-", "give the part after tercel-plugin-"),
        ("a--b", "not a valid plugin name"),
    ],
)
def test_a_bad_name_is_refused(name: str, why: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert tercel_main(["plugins", "new", name, "--no-input", "--output-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and why in err
    assert list(tmp_path.iterdir()) == []


def test_other_bad_answers_are_refused_before_anything_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for options, why in [
        (["--license", "GPL"], "choose one of Apache-2.0, MIT, BSD-3-Clause, Proprietary"),
        (["--task", "fetch"], "CamelCase"),
        (["--task", "Trigger"], "taken by the template"),
        (["--type-prefix", "io..x"], "dotted identifiers"),
        (["--email", "ada"], "ada@example.com"),
    ]:
        assert tercel_main(["plugins", "new", "ok", "--no-input", "--output-dir", str(tmp_path), *options]) == 1
        assert why in capsys.readouterr().err
    assert tercel_main(["plugins", "new", "--no-input", "--output-dir", str(tmp_path)]) == 1
    assert "give the plugin's NAME" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_the_template_refuses_bad_answers_without_the_cli(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(FailedHookException):
        _bake(Variant("bad", "ok", answers={"task_name": "lower", "sdk_range": "any"}), tmp_path, tmp_path)
    err = capfd.readouterr().err
    assert "task_name 'lower'" in err and "sdk_range 'any'" in err
    assert not (tmp_path / "tercel-plugin-ok").exists()


def test_questions_are_asked_when_input_is_allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # name, description, author, email, license, namespace, task, trigger
    answers = "asked\nAsked things\nGrace Hopper\ngrace@example.com\nbsd-3-clause\n\nGetThing\nno\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(answers))
    assert tercel_main(["plugins", "new", "--output-dir", str(tmp_path)]) == 0
    project = tmp_path / "tercel-plugin-asked"
    pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")
    assert 'description = "Asked things"' in pyproject and 'license = "BSD-3-Clause"' in pyproject
    assert 'name = "Grace Hopper", email = "grace@example.com"' in pyproject
    assert (project / "src/tercel_plugin_asked/get_thing.py").is_file()
    assert not (project / "src/tercel_plugin_asked/trigger.py").exists()
    assert "io.tercel.asked.GetThing" in capsys.readouterr().out


def test_without_cookiecutter_the_cli_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "cookiecutter.main", None)  # as if not installed
    assert tercel_main(["plugins", "new", "x", "--no-input", "--output-dir", str(tmp_path)]) == 1
    assert "pip install 'tercel-core[template]'" in capsys.readouterr().err


def test_the_sdk_range_is_the_running_sdks_compatible_range() -> None:
    assert _plugin_new.sdk_range("0.1.7") == ">=0.1,<0.2"
    assert _plugin_new.sdk_range("0.12.0rc1") == ">=0.12,<0.13"
    assert _plugin_new.sdk_range("1.4.2") == ">=1.4,<2"
    import tercel_sdk

    assert _plugin_new.sdk_range(tercel_sdk.__version__) == SDK_RANGE


# --------------------------------------------------------------------------- finding the template


def test_the_template_is_found_in_the_checkout_and_by_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_plugin_new.TEMPLATE_ENV, raising=False)
    assert _plugin_new.find_template() == TEMPLATE
    monkeypatch.setenv(_plugin_new.TEMPLATE_ENV, str(tmp_path))
    with pytest.raises(TercelError, match=r"no cookiecutter\.json"):
        _plugin_new.find_template()
    shutil.copy(TEMPLATE / "cookiecutter.json", tmp_path)
    assert _plugin_new.find_template() == tmp_path


@pytest.mark.slow
def test_the_tercel_core_wheel_ships_the_template(tmp_path: Path) -> None:
    done = subprocess.run([_tool("uv"), "build", "--wheel", "--out-dir", str(tmp_path), str(REPO / "core")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {n.removeprefix("tercel/_plugin_template/") for n in archive.namelist() if n.startswith("tercel/_plugin_template/")}
        archive.extractall(tmp_path / "site")
    caches = {"__pycache__", ".ruff_cache", ".pytest_cache"}
    in_checkout = {p.relative_to(TEMPLATE).as_posix() for p in TEMPLATE.rglob("*")
                   if p.is_file() and not caches & set(p.parts)}
    assert shipped == {n for n in in_checkout if not n.startswith("tests/") and n not in ("ruff.toml", "README.md")}
    code = "from tercel._plugin_new import find_template; print(find_template())"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                           env=_env(PYTHONPATH=str(tmp_path / "site")), cwd=tmp_path)
    assert found.stdout.strip() == str(tmp_path / "site" / "tercel" / "_plugin_template"), found.stderr


# ------------------------------------------------------------------------- with a real registry


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def registry(work: Path) -> Iterator[tuple[str, str, dict[str, str]]]:
    """A `tercel registry serve` on loopback with its own home: its URL, a token, its env."""
    env = _env(TERCEL_HOME=str(work / "home"))
    created = _tercel("registry", "token", "create", "author", "--scope", "*", env=env)
    assert created.returncode == 0, created.stderr
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (work / "registry.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "tercel", "registry", "serve", "--port", str(port)],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/simple/", timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (work / "registry.log").read_text()
                time.sleep(0.1)
        yield url, created.stdout.strip(), env
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture
def json_server(tmp_path: Path) -> Iterator[str]:
    """A loopback HTTP server of static files (what the installed plugin fetches)."""
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "city.json").write_text('{"name": "Paris"}', encoding="utf-8")

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(tmp_path / "www"), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_published_installed_and_run_and_its_name_is_then_taken(
    registry: tuple[str, str, dict[str, str]], checks: dict[str, Checks], work: Path, json_server: str
) -> None:
    url, token, env = registry
    dist = sorted(str(p) for p in checks[DEFAULTS.id].dist.glob("tercel_plugin_*"))
    published = _tercel("plugins", "publish", *dist, "--registry", url, "--token", token, env=env)
    assert published.returncode == 0, published.stderr
    assert published.stdout.count("published") == 2

    # the name is taken now: refused, saying by whom, with another name to try
    elsewhere = work / "second"
    taken = _tercel("plugins", "new", DEFAULTS.name, "--no-input", "--output-dir", str(elsewhere), "--registry", url, env=env)
    assert taken.returncode == 1
    assert f"tercel-plugin-{DEFAULTS.name} is already taken in the registry at {url}" in taken.stderr
    assert "latest version 0.1.0" in taken.stderr and f"tercel plugins new {DEFAULTS.name}-" in taken.stderr
    assert not elsewhere.exists()
    free = _tercel("plugins", "new", "weather-two", "--no-input", "--output-dir", str(elsewhere), env={**env, "TERCEL_REGISTRY_URL": url})
    assert free.returncode == 0, free.stderr
    assert "warning" not in free.stderr  # a 404: the name is free
    assert (elsewhere / "tercel-plugin-weather-two" / "pyproject.toml").is_file()
    closed = f"http://127.0.0.1:{_free_port()}"
    unreachable = _tercel("plugins", "new", "weather-three", "--no-input", "--output-dir", str(elsewhere), "--registry", closed, env=env)
    assert unreachable.returncode == 0, unreachable.stderr
    assert "warning: could not check that tercel-plugin-weather-three is free" in unreachable.stderr

    # anyone installs it from the registry, and a flow uses it
    installed = _tercel("plugins", "install", DEFAULTS.distribution, "--registry", url, env=env, timeout=300)
    assert installed.returncode == 0, installed.stderr
    flow = work / "uses-the-plugin.yaml"
    flow.write_text(
        "id: uses_the_plugin\nnamespace: tests\ntasks:\n"
        f"  - id: city\n    type: io.tercel.{DEFAULTS.name}.Fetch\n    url: {json_server}/city.json\n",
        encoding="utf-8",
    )
    ran = _tercel("run", str(flow), "--json", "--quiet", env=env, cwd=work)
    assert ran.returncode == 0, ran.stderr
    execution = json.loads(ran.stdout)
    assert execution["taskRunList"][0]["outputs"]["body"] == {"name": "Paris"}
    assert execution["plugins"][f"io.tercel.{DEFAULTS.name}.Fetch"] == {"distribution": DEFAULTS.distribution, "version": "0.1.0"}
