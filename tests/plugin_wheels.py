"""Real wheels for tests, written with zipfile: no build backend, no network, deterministic bytes.

`build_wheel` makes any pure-Python wheel; `build_twin_wheels` makes the suite's standard example,
two versions of one plugin that need two incompatible versions of one helper library, so they
can only run side by side in separate environments:

- `tercel-twin-helper` 1.0.0 has `shout(text)`; 2.0.0 removed it for `Voice(style).say(text)`.
- `tercel-plugin-twin` 1.0.0 (helper 1.x) and 2.0.0 (helper 2.x), both for `tercel-plugin-sdk`
  0.1.x, with the task types `io.tercel.twin.Greet`, `Sleep` and `Probe` (see `_tasks_source`).
  1.0.0 ships no manifest (an installer must generate it); 2.0.0 ships `tercel-manifest.json`,
  generated here in a subprocess that imports it.
- `tercel-plugin-twin` 3.0.0 wants `tercel-plugin-sdk>=99`: no instance can install it.

All of them land in one folder, usable as pip's and uv's `find_links`.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "HELLO",
    "HELLO_TYPE",
    "HELPER",
    "PLUGIN",
    "SDK_RANGE",
    "TWIN_TYPES",
    "TwinWheels",
    "build_hello_plugin",
    "build_hello_sdist",
    "build_sdist",
    "build_twin_helper",
    "build_twin_plugin",
    "build_twin_wheels",
    "build_wheel",
    "manifest_of",
    "wheel_filename",
]

PLUGIN = "tercel-plugin-twin"
HELPER = "tercel-twin-helper"
SDK_RANGE = "tercel-plugin-sdk>=0.1,<0.2"
TWIN_TYPES = ("io.tercel.twin.Greet", "io.tercel.twin.Probe", "io.tercel.twin.Sleep")

_EPOCH = (1980, 1, 1, 0, 0, 0)  # zip's first representable date: same inputs, same bytes


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _version(version: str) -> str:
    try:
        from packaging.version import Version
    except ImportError:  # pragma: no cover - packaging is a dependency of the core
        return version
    return str(Version(version))


def wheel_filename(name: str, version: str) -> str:
    """`tercel_plugin_twin-1.0.0-py3-none-any.whl`: the escaped name and version of a pure wheel."""
    return f"{_normalize(name).replace('-', '_')}-{_version(version)}-py3-none-any.whl"


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode('ascii')}"


def build_wheel(
    dest: Path,
    name: str,
    version: str,
    files: Mapping[str, str | bytes],
    *,
    requires: Sequence[str] = (),
    entry_points: Mapping[str, Mapping[str, str]] = {},
    summary: str = "",
    metadata_lines: Sequence[str] = (),
) -> Path:
    """Write a pure-Python wheel of `files` (paths relative to site-packages) into `dest`.

    METADATA 2.1, WHEEL, `entry_points.txt` when given, and a RECORD with sha256 digests:
    what pip and uv check when they install it.
    """
    version = _version(version)
    dist_info = f"{_normalize(name).replace('-', '_')}-{version}.dist-info"
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if summary:
        metadata.append(f"Summary: {summary}")
    metadata += [f"Requires-Dist: {r}" for r in requires]
    metadata += list(metadata_lines)  # e.g. "Keywords: a,b"
    contents: dict[str, bytes] = {
        path: data.encode("utf-8") if isinstance(data, str) else data for path, data in files.items()
    }
    contents[f"{dist_info}/METADATA"] = ("\n".join(metadata) + "\n").encode("utf-8")
    contents[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: tercel-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    if entry_points:
        lines = []
        for group, entries in entry_points.items():
            lines.append(f"[{group}]")
            lines += [f"{key} = {value}" for key, value in entries.items()]
            lines.append("")
        contents[f"{dist_info}/entry_points.txt"] = "\n".join(lines).encode("utf-8")
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for path, data in contents.items():
        writer.writerow([path, _record_hash(data), str(len(data))])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    contents[f"{dist_info}/RECORD"] = record.getvalue().encode("utf-8")

    dest.mkdir(parents=True, exist_ok=True)
    target = dest / wheel_filename(name, version)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in contents.items():  # dist-info last, as the wheel spec recommends
            info = zipfile.ZipInfo(path, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    target.write_bytes(buffer.getvalue())
    return target


# ------------------------------------------------------------------------------- the twins


def _helper_files(version: str) -> dict[str, str]:
    if version.startswith("1."):
        body = '''
            """tercel-twin-helper 1: shouts."""

            __version__ = "1.0.0"


            def shout(text: str) -> str:
                return text.upper() + "!"
            '''
    else:
        body = '''
            """tercel-twin-helper 2: `shout` is gone (an incompatible release), voices speak."""

            __version__ = "2.0.0"


            class Voice:
                def __init__(self, style: str) -> None:
                    self.style = style

                def say(self, text: str) -> str:
                    return f"{text[::-1]} ({self.style})"
            '''
    return {"tercel_twin_helper/__init__.py": textwrap.dedent(body).lstrip()}


_PLUGIN_MODULE = '''\
"""Entry point of tercel-plugin-twin: the task types are imported only when asked for."""

from tercel_sdk import hookimpl


@hookimpl
def tercel_task_types():
    from .tasks import Greet, Probe, Sleep

    return [Greet, Sleep, Probe]
'''


def _tasks_source(version: str) -> str:
    if version.startswith("1."):
        speak = 'helper.shout(f"hello {name}")'
    else:
        speak = 'helper.Voice("twin 2").say(f"hello {name}")'
    return textwrap.dedent(
        '''\
        """The twin's task types; what `Greet` says depends on the helper version installed."""

        from __future__ import annotations

        import os
        import sys
        import time
        from datetime import datetime, timezone
        from pathlib import Path
        from typing import Any

        import tercel_twin_helper as helper
        from pydantic import Field
        from tercel_sdk import MetricDoc, Output, Property, RunContext, RunnableTask

        VERSION = "__VERSION__"


        class GreetOutput(Output):
            message: str = Field(description="The greeting, as the helper makes it.")
            version: str = Field(description="The version of tercel-plugin-twin that ran.")
            helper: str = Field(description="The version of tercel-twin-helper it used.")


        class Greet(RunnableTask):
            """Greet someone through tercel-twin-helper: 1.x shouts, 2.x speaks backwards."""

            type_name = "io.tercel.twin.Greet"
            type_title = "Greet someone."

            name: Property[str] = Field(description="Who to greet.")

            def run(self, ctx: RunContext) -> GreetOutput:
                name = ctx.render(self.name)
                message = __SPEAK__
                ctx.logger.info(f"greeting {name} with helper {helper.__version__}")
                return GreetOutput(message=message, version=VERSION, helper=helper.__version__)


        class SleepOutput(Output):
            slept: float = Field(description="The seconds slept.")


        class Sleep(RunnableTask):
            """Sleep (a blocking, sync task), after writing the process id to `pidFile` if given."""

            type_name = "io.tercel.twin.Sleep"
            type_title = "Sleep a while."

            seconds: Property[float] = Field(description="How long to sleep, in seconds.")
            pid_file: Property[str] | None = Field(
                default=None, description="A file to write this process's id to before sleeping."
            )

            def run(self, ctx: RunContext) -> SleepOutput:
                seconds = float(ctx.render(self.seconds))
                if self.pid_file is not None:
                    path = Path(ctx.render(self.pid_file))
                    path.write_text(str(os.getpid()), encoding="utf-8")
                time.sleep(seconds)
                return SleepOutput(slept=seconds)


        class ProbeOutput(Output):
            version: str = Field(description="The version of tercel-plugin-twin that ran.")
            at: datetime = Field(description="When the probe ran (UTC).")
            uri: str = Field(description="The file the probe stored.")
            kv_value: Any = Field(default=None, description="What `kv.get` gave back after `kv.set`.")
            secret_length: int | None = Field(default=None, description="The length of the secret read.")
            pid: int = Field(description="The process the task ran in.")
            executable: str = Field(description="The interpreter the task ran in.")


        class Probe(RunnableTask):
            """Use every part of the RunContext once: logs, a metric, a file, the KV store, a secret."""

            type_name = "io.tercel.twin.Probe"
            type_title = "Probe the run context."
            type_metrics = (MetricDoc(name="probes", type="counter", description="One per run."),)

            secret: Property[str] | None = Field(default=None, description="The name of a secret to read.")

            def run(self, ctx: RunContext) -> ProbeOutput:
                ctx.logger.info(f"probe {VERSION} running")
                ctx.logger.warning(f"probe {VERSION} warns")
                ctx.metric("probes", 1, tags={"version": VERSION})
                uri = ctx.put_file(f"probe {VERSION}".encode(), "probe.txt")
                ctx.kv.set("twin_probe", {"version": VERSION})
                kv_value = ctx.kv.get("twin_probe")
                secret_length = None
                if self.secret is not None:
                    value = ctx.secret(ctx.render(self.secret))
                    secret_length = len(value)
                    ctx.logger.info(f"the secret is {value}")
                return ProbeOutput(
                    version=VERSION,
                    at=datetime.now(timezone.utc),
                    uri=uri,
                    kv_value=kv_value,
                    secret_length=secret_length,
                    pid=os.getpid(),
                    executable=sys.executable,
                )
        '''
    ).replace("__VERSION__", version).replace("__SPEAK__", speak)


def _plugin_files(version: str) -> dict[str, str]:
    return {
        "tercel_plugin_twin/__init__.py": f'"""tercel-plugin-twin {version}."""\n\n__version__ = "{version}"\n',
        "tercel_plugin_twin/plugin.py": _PLUGIN_MODULE,
        "tercel_plugin_twin/tasks.py": _tasks_source(version),
    }


@dataclass(frozen=True)
class TwinWheels:
    """The twin wheels in `folder` (pass it as `find_links`)."""

    folder: Path
    helper_v1: Path
    helper_v2: Path
    plugin_v1: Path
    plugin_v2: Path
    plugin_v3: Path

    @property
    def plugins(self) -> dict[str, Path]:
        """tercel-plugin-twin's wheels by version."""
        return {"1.0.0": self.plugin_v1, "2.0.0": self.plugin_v2, "3.0.0": self.plugin_v3}


_CACHE: dict[tuple[str, ...], tuple[str, bytes]] = {}  # built wheels (name, bytes), per session
_TWINS = {  # version: (helper requirement, SDK requirement, helper to describe it with, or None)
    "1.0.0": ("==1.*", SDK_RANGE, None),
    "2.0.0": (">=2,<3", SDK_RANGE, "2.0.0"),
    "3.0.0": (">=2,<3", "tercel-plugin-sdk>=99", None),
}


def _cached(dest: Path, key: tuple[str, ...], build: Callable[[Path], Path]) -> Path:
    """Build once per session (the bytes are deterministic), write into `dest` every time."""
    if key not in _CACHE:
        with tempfile.TemporaryDirectory(prefix="twin-wheel-") as scratch:
            built = build(Path(scratch))
            _CACHE[key] = (built.name, built.read_bytes())
    name, data = _CACHE[key]
    dest.mkdir(parents=True, exist_ok=True)
    (dest / name).write_bytes(data)
    return dest / name


def build_twin_helper(dest: Path, version: str) -> Path:
    """`tercel-twin-helper` 1.0.0 or 2.0.0 in `dest`."""
    return _cached(
        dest, ("helper", version),
        lambda d: build_wheel(d, HELPER, version, _helper_files(version), summary="The twin's helper."),
    )


def build_twin_plugin(dest: Path, version: str, *, extra_files: Mapping[str, str] = {}) -> Path:
    """`tercel-plugin-twin` 1.0.0, 2.0.0 or 3.0.0 in `dest`; `extra_files` make a wheel of the same
    version with other contents (a rebuilt release)."""
    helper_range, sdk, described_with = _TWINS[version]

    def make(d: Path) -> Path:
        files: dict[str, str] = {**_plugin_files(version), **extra_files}
        if described_with is not None:  # shipped manifest, made by importing the plugin
            files["tercel_plugin_twin/tercel-manifest.json"] = _twin_manifest(
                files, _helper_files(described_with), version
            )
        return build_wheel(
            d, PLUGIN, version, files,
            requires=[f"{HELPER}{helper_range}", sdk],
            entry_points={"tercel.plugins": {"twin": "tercel_plugin_twin.plugin"}},
            summary="Two versions of one plugin, side by side.",
        )

    return _cached(dest, ("plugin", version, *sorted(f"{k}={v}" for k, v in extra_files.items())), make)


def build_twin_wheels(dest: Path) -> TwinWheels:
    """Write the five twin wheels into `dest` (see the module's docstring)."""
    return TwinWheels(
        folder=dest,
        helper_v1=build_twin_helper(dest, "1.0.0"),
        helper_v2=build_twin_helper(dest, "2.0.0"),
        plugin_v1=build_twin_plugin(dest, "1.0.0"),
        plugin_v2=build_twin_plugin(dest, "2.0.0"),
        plugin_v3=build_twin_plugin(dest, "3.0.0"),
    )


# ------------------------------------------------------------------------- the hello plugin

HELLO = "tercel-plugin-hello"
HELLO_TYPE = "io.tercel.hello.Hello"

_HELLO_PLUGIN = '''\
from tercel_sdk import hookimpl


@hookimpl
def tercel_task_types():
    from .tasks import Hello

    return [Hello]
'''

_HELLO_TASKS = '''\
"""tercel-plugin-hello __VERSION__: a greeting that says which version made it."""

from pydantic import Field
from tercel_sdk import Example, Output, Property, RunnableTask


class HelloOutput(Output):
    greeting: str = Field(description="The greeting.")


class Hello(RunnableTask):
    """Say hello, naming the plugin version that does it."""

    type_name = "io.tercel.hello.Hello"
    type_title = "Say hello."
    type_examples = (Example(title="Greet the world", code="name: world"),)

    name: Property[str] = Field(description="Who to greet.")

    def run(self, ctx) -> HelloOutput:
        return HelloOutput(greeting=f"__WORD__ {ctx.render(self.name)} from __VERSION__")
'''


def _hello_files(version: str, word: str) -> dict[str, str]:
    return {
        "tercel_plugin_hello/__init__.py": f'"""tercel-plugin-hello {version}."""\n',
        "tercel_plugin_hello/plugin.py": _HELLO_PLUGIN,
        "tercel_plugin_hello/tasks.py": _HELLO_TASKS.replace("__VERSION__", version).replace("__WORD__", word),
    }


def _twin_manifest(files: Mapping[str, str], helper: Mapping[str, str], version: str) -> str:
    """The twin's manifest: it imports its helper, so the helper's files go beside it."""
    return manifest_of({**files, **helper}, "tercel_plugin_twin.plugin", PLUGIN, version)


def manifest_of(files: Mapping[str, str], module: str, distribution: str, version: str) -> str:
    """A plugin's `tercel-manifest.json`, generated by importing it in a subprocess (from a
    scratch folder: this process may hold another version of the same package)."""
    script = (
        "import json, sys\nfrom tercel_sdk.manifest import generate_manifest\n"
        "sys.stdout.write(json.dumps(generate_manifest(sys.argv[1], distribution=sys.argv[2], version=sys.argv[3]), indent=1))\n"
    )
    with tempfile.TemporaryDirectory(prefix="manifest-") as scratch:
        for path, text in files.items():
            target = Path(scratch, path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update(PYTHONPATH=scratch, PYTHONDONTWRITEBYTECODE="1")
        done = subprocess.run(
            [sys.executable, "-c", script, module, distribution, version],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"generating the manifest of {distribution} {version} failed:\n{done.stderr}")
    return done.stdout + "\n"


def build_hello_plugin(
    dest: Path, version: str, *, word: str = "hello", manifest: bool = True, sdk: str = SDK_RANGE,
    summary: str = "Say hello: the registry's example plugin.", keywords: Sequence[str] = ("greeting", "example"),
) -> Path:
    """`tercel-plugin-hello` VERSION: one task type, no dependency but the SDK (so it installs
    from a registry with the default index serving the SDK's own dependencies)."""
    files = _hello_files(version, word)
    if manifest:
        files["tercel_plugin_hello/tercel-manifest.json"] = manifest_of(
            files, "tercel_plugin_hello.plugin", HELLO, _version(version)
        )
    return build_wheel(
        dest, HELLO, version, files, requires=[sdk], summary=summary,
        entry_points={"tercel.plugins": {"hello": "tercel_plugin_hello.plugin"}},
        metadata_lines=[f"Keywords: {','.join(keywords)}"] if keywords else (),
    )


def build_sdist(dest: Path, name: str, version: str, files: Mapping[str, str], *, summary: str = "") -> Path:
    """A source distribution (`name-version.tar.gz`): PKG-INFO, a pyproject.toml and `files`."""
    import tarfile

    version = _version(version)
    root = f"{_normalize(name).replace('-', '_')}-{version}"
    pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + (f"Summary: {summary}\n" if summary else "")
    pyproject = (
        f'[project]\nname = "{name}"\nversion = "{version}"\n\n'
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
    )
    contents = {"PKG-INFO": pkg_info, "pyproject.toml": pyproject, **{f"src/{p}": t for p, t in files.items()}}
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / f"{root}.tar.gz"
    with tarfile.open(target, "w:gz") as archive:
        for path, text in contents.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"{root}/{path}")
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return target


def build_hello_sdist(dest: Path, version: str) -> Path:
    return build_sdist(dest, HELLO, version, _hello_files(version, "hello"), summary="Say hello: the registry's example plugin.")
