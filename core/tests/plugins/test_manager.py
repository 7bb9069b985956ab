"""Plugin discovery reads manifests, imports nothing, and survives broken plugins.

Each test builds real distributions on disk (a `.dist-info` with an entry point and a package)
and runs tercel in a subprocess with them on its path, as an installed plugin would be.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tercel.plugins import PluginManager, UnknownType

GOOD_TASK = '''
from tercel_sdk import RunnableTask, Property, Output

class Out(Output):
    shout: str

class Shout(RunnableTask):
    """Say it louder."""
    type_name = "acme.text.Shout"
    type_aliases = ("acme.Shout",)
    type_title = "Shout a text"
    text: Property[str]

    def run(self, ctx) -> Out:
        return Out(shout=ctx.render(self.text).upper() + "!")
'''

GOOD_PLUGIN = '''
from tercel_sdk import hookimpl

@hookimpl
def tercel_task_types():
    from .tasks import Shout
    return [Shout]
'''


def make_dist(site: Path, name: str, package: str, files: dict[str, str], version: str = "1.0.0", manifest: bool = True) -> None:
    pkg = site / package
    pkg.mkdir(parents=True)
    for rel, text in files.items():
        (pkg / rel).write_text(textwrap.dedent(text))
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Dist: tercel-plugin-sdk>=0.1\n")
    (info / "entry_points.txt").write_text(f"[tercel.plugins]\n{package} = {package}.plugin\n")
    (info / "RECORD").write_text("")
    if manifest:
        env = {**os.environ, "PYTHONPATH": str(site)}
        subprocess.run([sys.executable, "-m", "tercel_sdk.manifest", f"{package}.plugin", "--write"], check=True, env=env, capture_output=True)


def tercel(site: Path, *args: str, env: dict[str, str] | None = None, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(site), **(env or {})}
    if home is not None:
        full_env["TERCEL_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "tercel", *args], capture_output=True, text=True, env=full_env, timeout=120)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    make_dist(site, "acme-text", "acme_text", {"__init__.py": "", "plugin.py": GOOD_PLUGIN, "tasks.py": GOOD_TASK})
    return site


def test_discovery_lists_types_without_importing_any_plugin_module(site: Path) -> None:
    code = textwrap.dedent('''
        import sys, json
        from tercel.plugins import PluginManager
        pm = PluginManager().discover()
        names = sorted(t.name for t in pm.canonical_types())
        plugin_modules = sorted(m for m in sys.modules if m.startswith(("acme_text", "tercel_plugin_core")))
        print(json.dumps({"names": names, "imported": plugin_modules}))
    ''')
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(site)}, check=True)
    data = json.loads(out.stdout)
    assert "acme.text.Shout" in data["names"] and "tercel.core.Log" in data["names"]
    assert data["imported"] == [], "discovery must not import plugin modules"


def test_a_type_is_imported_when_it_first_runs(site: Path, tmp_path: Path) -> None:
    flow = tmp_path / "f.yaml"
    flow.write_text("id: f\nnamespace: t\ntasks:\n  - id: s\n    type: acme.Shout\n    text: hello\n")
    result = tercel(site, "run", str(flow), "--json", home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    execution = json.loads(result.stdout)
    assert execution["taskRunList"][0]["outputs"] == {"shout": "HELLO!"}
    assert execution["plugins"]["acme.text.Shout"] == {"distribution": "acme-text", "version": "1.0.0"}


def test_a_plugin_that_raises_on_import_is_reported_and_the_others_work(site: Path, tmp_path: Path) -> None:
    make_dist(site, "broken-plugin", "broken_plugin", {"__init__.py": "", "plugin.py": "raise RuntimeError('kaboom at import')\n"}, manifest=False)
    listing = tercel(site, "plugins", "list", home=tmp_path / "home")
    assert listing.returncode == 0
    assert "broken-plugin" in listing.stderr and "kaboom at import" in listing.stderr
    assert "acme.text.Shout" in listing.stdout and "tercel.core.Log" in listing.stdout
    flow = tmp_path / "f.yaml"
    flow.write_text("id: f\nnamespace: t\ntasks:\n  - id: s\n    type: tercel.core.Log\n    message: still works\n")
    run = tercel(site, "run", str(flow), home=tmp_path / "home")
    assert run.returncode == 0, run.stderr
    assert "still works" in run.stderr


def test_a_plugin_whose_type_module_raises_fails_only_its_task(site: Path, tmp_path: Path) -> None:
    make_dist(
        site, "half-broken", "half_broken",
        {"__init__.py": "", "plugin.py": GOOD_PLUGIN.replace("Shout", "Boom").replace(".tasks", ".boom"),
         "boom.py": GOOD_TASK.replace("Shout", "Boom").replace("acme.text.Boom", "half.Boom").replace("acme.Boom", "half.Boom2")},
    )
    (site / "half_broken" / "boom.py").write_text("raise ImportError('missing native library')\n")
    flow = tmp_path / "f.yaml"
    flow.write_text("id: f\nnamespace: t\ntasks:\n  - id: b\n    type: half.Boom\n    text: x\n    allowFailure: true\n  - id: after\n    type: tercel.core.Log\n    message: after\n")
    run = tercel(site, "run", str(flow), "--json", home=tmp_path / "home")
    execution = json.loads(run.stdout)
    assert execution["state"]["current"] == "WARNING"
    assert "missing native library" in execution["taskRunList"][0]["error"]
    assert execution["taskRunList"][1]["state"]["current"] == "SUCCESS"


def test_blocked_plugins_and_autoload_off(site: Path, tmp_path: Path) -> None:
    blocked = tercel(site, "plugins", "list", "--json", env={"TERCEL_PLUGINS_BLOCKED": "acme-text"}, home=tmp_path / "h")
    names = {t["type"] for t in json.loads(blocked.stdout)}
    assert "acme.text.Shout" not in names and "tercel.core.Log" in names
    only = tercel(site, "plugins", "list", "--json", env={"TERCEL_PLUGINS_AUTOLOAD": "false", "TERCEL_PLUGINS": "acme-text"}, home=tmp_path / "h")
    names = {t["type"] for t in json.loads(only.stdout)}
    assert names == {"acme.text.Shout"}


def test_unknown_type_suggests_close_names() -> None:
    pm = PluginManager().discover()
    with pytest.raises(UnknownType) as info:
        pm.get_type("tercel.core.Logg")
    assert "tercel.core.Log" in info.value.suggestions
    assert "did you mean" in str(info.value)


def test_plugins_doc_shows_properties_outputs_and_examples() -> None:
    out = subprocess.run([sys.executable, "-m", "tercel", "plugins", "doc", "io.kestra.plugin.core.debug.Return"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("tercel.core.Return")
    assert "format (" in out and "dynamic" in out
    assert "Outputs:" in out and "value (string)" in out
    assert "Examples:" in out
    assert "retry (" in out  # the common task properties are documented too


def test_plugins_schema_is_a_json_schema_that_accepts_the_examples(tmp_path: Path) -> None:
    from jsonschema import Draft202012Validator
    from ruamel.yaml import YAML

    out = subprocess.run([sys.executable, "-m", "tercel", "plugins", "schema"], capture_output=True, text=True, check=True).stdout
    schema = json.loads(out)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    examples = Path(__file__).parents[3] / "examples"
    for path in sorted(examples.glob("*.yaml")):
        doc = json.loads(json.dumps(YAML(typ="safe").load(path.read_text()), default=str))
        errors = [e.message for e in validator.iter_errors(doc)]
        assert not errors, f"{path.name}: {errors[:3]}"
    bad = {"id": "f", "namespace": "a", "tasks": [{"id": "x", "type": "tercel.core.Log", "mesage": "typo"}]}
    assert list(validator.iter_errors(bad)), "a typo must be flagged by editors too"


def test_the_staleness_digest_is_the_sdks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Discovery keeps its own copy (no SDK import); it must give the SDK's bytes exactly."""
    from tercel.plugins._manager import sources_digest
    from tercel_sdk.manifest import sources_digest as sdk_digest

    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "sub" / "m.py").write_text("y = 2\n")
    (tmp_path / "pkg" / "__pycache__").mkdir()
    (tmp_path / "pkg" / "__pycache__" / "junk.py").write_text("ignored\n")
    assert sources_digest(tmp_path / "pkg") == sdk_digest(tmp_path / "pkg")
    from pathlib import Path

    import tercel_plugin_core

    folder = Path(tercel_plugin_core.__file__).parent
    assert sources_digest(folder) == sdk_digest(folder)
