"""Every snippet of docs/writing-plugins.md runs, so the guide cannot drift from the SDK.

The guide builds one plugin, `tercel-plugin-weather`, out of its snippets:

- a ```python snippet is a file, named on its first line: `# src/tercel_plugin_weather/<m>.py`
  is a module of the package (served by an import finder: importable, never installed; each
  must import), `# tests/<name>.py` is a test module, run as pytest would (every `test_*`
  function, sync or `async`; `tmp_path` is the fixture on offer);
- a ```yaml snippet that is a flow (`id:` at its top) is validated against the guide's plugin
  (`testing.validate(..., plugins=[tercel_plugin_weather.plugin])`: no problem allowed); with
  `# expect: <path> == <JSON>` lines it is also run (`run_flow`), must end in SUCCESS unless
  `# expect: state == "…"` says otherwise, and `outputs.<taskId>.<key>…` paths must hold; a yaml
  snippet that is not a flow says what it is on its first line (`# fragment: …`) and is parsed;
- a ```toml snippet is parsed; one with a `[project]` must declare the guide's entry point;
- a ```shell snippet is not run (it installs, builds, publishes), but each `tercel …` command in
  it must be accepted by the real CLI's argument parser.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import json
import re
import shlex
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from ruamel.yaml import YAML
from tercel_sdk import testing

DOC = Path(__file__).resolve().parents[1] / "docs" / "writing-plugins.md"
PACKAGE = "tercel_plugin_weather"
ENTRY_POINT = f"{PACKAGE}.plugin"
BLOCK = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<source>.*?)^```", re.MULTILINE | re.DOTALL)
FILE_LINE = re.compile(r"\A# (?P<path>(?:src|tests)/[\w/]+\.py)\n")
EXPECT = re.compile(r"^\s*# expect: (?P<path>\S+) == (?P<value>.+?)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Snippet:
    lang: str
    source: str
    line: int

    @property
    def file(self) -> str | None:
        found = FILE_LINE.match(self.source)
        return found.group("path") if found else None

    @property
    def id(self) -> str:
        return f"line {self.line}: {self.file or self.lang}"


def _snippets() -> list[Snippet]:
    text = DOC.read_text(encoding="utf-8")
    return [
        Snippet(m.group("lang"), m.group("source"), text.count("\n", 0, m.start()) + 2)
        for m in BLOCK.finditer(text)
    ]


SNIPPETS = _snippets()


def of(lang: str, kind: str | None = None) -> list[Snippet]:
    found = [s for s in SNIPPETS if s.lang == lang]
    if kind is not None:
        found = [s for s in found if (s.file or "").startswith(kind)]
    return found


def ids(snippets: list[Snippet]) -> list[str]:
    return [s.id for s in snippets]


# ------------------------------------------------------------------------ the guide's package


def _module_name(path: str) -> str:
    """`src/tercel_plugin_weather/forecast.py` → `tercel_plugin_weather.forecast`."""
    parts = path.removeprefix("src/").removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


class _SnippetFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports the guide's `src/` snippets as the package they describe."""

    def __init__(self, sources: dict[str, tuple[str, int]]) -> None:
        self.sources = sources

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != PACKAGE and fullname not in self.sources:
            return None
        spec = importlib.machinery.ModuleSpec(fullname, self, is_package=fullname == PACKAGE)
        if fullname == PACKAGE:
            spec.submodule_search_locations = []
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        source, line = self.sources.get(module.__name__, ("", 0))
        where = f"{DOC.name}, the snippet at line {line}" if line else f"{DOC.name} (no snippet: an empty module)"
        module.__file__ = where
        code = compile("\n" * (line - 1) + source, str(DOC), "exec")  # tracebacks point into the guide
        exec(code, module.__dict__)


@pytest.fixture(scope="module")
def weather() -> Iterator[ModuleType]:
    """The package `tercel_plugin_weather` made of the guide's `src/` snippets."""
    if importlib.util.find_spec(PACKAGE) is not None:
        pytest.fail(f"{PACKAGE} is importable from this environment: the guide's package would clash with it")
    sources: dict[str, tuple[str, int]] = {}
    for snippet in of("python", "src/"):
        name = _module_name(snippet.file or "")
        assert name not in sources, f"{snippet.id}: {snippet.file} is shown twice in the guide"
        sources[name] = (snippet.source, snippet.line)
    finder = _SnippetFinder(sources)
    sys.meta_path.insert(0, finder)
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.meta_path.remove(finder)
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _plugin(weather: ModuleType) -> ModuleType:
    return importlib.import_module(ENTRY_POINT)


# ------------------------------------------------------------------------------------ tests


def test_the_guide_has_every_kind_of_snippet() -> None:
    assert len(of("python", "src/")) >= 6 and len(of("python", "tests/")) >= 6
    assert len(of("yaml")) >= 5 and of("toml") and of("shell")
    assert all(s.file for s in of("python")), [s.id for s in of("python") if not s.file]
    known = {"python", "yaml", "toml", "shell"}
    assert {s.lang for s in SNIPPETS} <= known, f"snippets the test does not check: {[s.id for s in SNIPPETS if s.lang not in known]}"


@pytest.mark.parametrize("snippet", of("python", "src/"), ids=ids(of("python", "src/")))
def test_package_module_imports(snippet: Snippet, weather: ModuleType) -> None:
    module = importlib.import_module(_module_name(snippet.file or ""))
    assert module.__name__.startswith(PACKAGE)


def test_the_entry_point_registers_every_type_of_the_guide(weather: ModuleType) -> None:
    plugin = _plugin(weather)
    from tercel_sdk import PluginType
    from tercel_sdk.manifest import generate_manifest

    manifest = generate_manifest(plugin, distribution="tercel-plugin-weather", version=weather.__version__)
    registered = {t["type"] for t in manifest["types"]}
    defined = {
        cls.type_name
        for name, module in list(sys.modules.items())
        if name.startswith(PACKAGE + ".")
        for cls in vars(module).values()
        if isinstance(cls, type) and issubclass(cls, PluginType) and cls.__module__ == name and cls.type_name
    }
    assert defined <= registered, f"types of the guide missing from plugin.py: {sorted(defined - registered)}"


def _call(function: Any, tmp_path: Path) -> None:
    parameters = inspect.signature(function).parameters
    unknown = set(parameters) - {"tmp_path"}
    assert not unknown, f"{function.__name__} asks for fixtures the guide's test runner does not offer: {unknown}"
    kwargs = {"tmp_path": tmp_path} if "tmp_path" in parameters else {}
    result = function(**kwargs)
    if inspect.iscoroutine(result):
        asyncio.run(result)


@pytest.mark.parametrize("snippet", of("python", "tests/"), ids=ids(of("python", "tests/")))
def test_test_module_passes(snippet: Snippet, weather: ModuleType, tmp_path: Path) -> None:
    module = ModuleType(f"guide_{Path(snippet.file or 'x').stem}")
    module.__file__ = f"{DOC.name}, the snippet at line {snippet.line}"
    exec(compile("\n" * (snippet.line - 1) + snippet.source, str(DOC), "exec"), module.__dict__)
    tests = [f for name, f in vars(module).items() if name.startswith("test_") and callable(f)]
    assert tests, f"{snippet.id}: a tests/ snippet defines test_* functions"
    for number, function in enumerate(tests):
        folder = tmp_path / str(number)
        folder.mkdir()
        _call(function, folder)


def _actual(result: testing.FlowResult, path: str) -> Any:
    parts = path.split(".")
    if parts == ["state"]:
        return result.state
    if parts[0] != "outputs" or len(parts) < 2:
        raise AssertionError(f"an expectation is `state` or starts with outputs.<taskId>: {path}")
    node: Any = result.outputs(parts[1])
    for key in parts[2:]:
        if isinstance(node, list) and key.isdigit():
            node = node[int(key)]
            continue
        assert isinstance(node, dict) and key in node, f"{path}: no key {key!r} in {node!r}"
        node = node[key]
    return node


def _plain(value: Any) -> Any:
    """A value as its JSON reads (dates as ISO text, decimals as numbers)."""
    return json.loads(json.dumps(value, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else float(v)))


FLOWS = [s for s in of("yaml") if not s.source.startswith("# fragment")]
FRAGMENTS = [s for s in of("yaml") if s.source.startswith("# fragment")]


@pytest.mark.parametrize("snippet", FLOWS, ids=ids(FLOWS))
def test_flow_is_valid_and_does_what_it_says(snippet: Snippet, weather: ModuleType) -> None:
    assert re.search(r"^id: \S+", snippet.source, re.MULTILINE), (
        f"{snippet.id}: a yaml snippet is a whole flow, or starts with `# fragment: what it is`"
    )
    plugins = [_plugin(weather)]
    problems = testing.validate(snippet.source, plugins=plugins)
    assert not problems, f"{snippet.id} is not a valid flow:\n" + "\n".join(problems)
    expectations = [(m.group("path"), json.loads(m.group("value"))) for m in EXPECT.finditer(snippet.source)]
    if not expectations:
        return
    result = testing.run_flow(snippet.source, plugins=plugins)
    wanted = dict(expectations).get("state", "SUCCESS")
    result.assert_state(wanted)
    for path, expected in expectations:
        actual = _plain(_actual(result, path))
        assert actual == expected, f"{snippet.id}: {path}: expected {expected!r}, got {actual!r}"


@pytest.mark.parametrize("snippet", FRAGMENTS, ids=ids(FRAGMENTS))
def test_fragment_is_yaml(snippet: Snippet) -> None:
    assert YAML(typ="safe").load(snippet.source) is not None


@pytest.mark.parametrize("snippet", of("toml"), ids=ids(of("toml")))
def test_toml_parses_and_declares_the_entry_point(snippet: Snippet) -> None:
    document = tomllib.loads(snippet.source)
    if "project" in document:
        project = document["project"]
        assert project["name"] == "tercel-plugin-weather"
        assert project["entry-points"]["tercel.plugins"] == {"weather": ENTRY_POINT}
        assert any(d.startswith("tercel-plugin-sdk") for d in project["dependencies"])


def _commands(source: str) -> list[list[str]]:
    """The `tercel …` command lines of a shell snippet (comments and continuations handled)."""
    lines = source.replace("\\\n", " ").splitlines()
    found = []
    for line in lines:
        words = shlex.split(line, comments=True)
        if words and words[0] == "tercel":
            found.append(words[1:])
    return found


@pytest.mark.parametrize("snippet", of("shell"), ids=ids(of("shell")))
def test_shell_commands_are_real_tercel_commands(snippet: Snippet) -> None:
    from tercel.cli import _parser

    for argv in _commands(snippet.source):
        try:
            _parser(argv[0] if argv else None).parse_args(argv)
        except SystemExit as exc:
            raise AssertionError(f"{snippet.id}: `tercel {shlex.join(argv)}` is refused by the CLI") from exc
