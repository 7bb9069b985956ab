"""Real plugin distributions and the real `tercel registry serve` process, for the registry's tests.

`plugin_wheel` builds a tercel plugin wheel with `tests/plugin_wheels.py`'s `build_wheel`: a
package with its `tercel.plugins` entry point and a `tercel-manifest.json` made by the real SDK
(`describe_type` on the task classes below, renamed per plugin), a `tercel-plugin-sdk>=0.1,<0.2`
requirement, and the richer core metadata the catalog reads (keywords, description,
Requires-Python), added to METADATA with RECORD rewritten so the wheel stays valid.
`plugin_sdist` is the matching `.tar.gz`. `RegistryServer` runs the registry in a subprocess
on a free loopback port with its own home; `cli()` runs `tercel registry …` against that home.
`parse` turns a page into a small tree to query (`one`, `all`, by tag, class and attributes);
`links_work` follows a page's links into the registry.
"""

from __future__ import annotations

import base64
import copy
import csv
import hashlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
from plugin_wheels import SDK_RANGE, build_wheel
from pydantic import Field
from tercel_sdk import Example, MetricDoc, Output, Property, RunContext, RunnableTask

__all__ = [
    "PIP",
    "ROOT",
    "Node",
    "RegistryServer",
    "clients_env",
    "free_port",
    "links_work",
    "parse",
    "pip",
    "plugin_sdist",
    "plugin_wheel",
    "twine",
    "upload",
    "uv",
]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
#: An interpreter with pip (the venv has none): the repository's tools venv.
PIP = ROOT / ".tools" / "bin" / "python"


# -------------------------------------------------------------------------------- plugin types


class FetchOutput(Output):
    body: str = Field(description="The body of the answer.")
    status: int = Field(description="The HTTP status.")


class Fetch(RunnableTask):
    """Fetch a URL and keep its body as the task's output."""

    type_name = "io.tercel.sample.Fetch"
    type_title = "Fetch a URL."
    type_aliases = ("io.kestra.plugin.sample.Fetch",)
    type_examples = (Example(title="Fetch the example page", code="id: get\ntype: io.tercel.sample.Fetch\nurl: https://example.com\n"),)
    type_metrics = (MetricDoc(name="bytes", type="counter", unit="bytes", description="Bytes received."),)

    url: Property[str] = Field(description="The URL to fetch.")
    retries: int = Field(default=3, description="How many times to try again.")

    def run(self, ctx: RunContext) -> FetchOutput:  # pragma: no cover - never run here
        raise NotImplementedError


class Notify(RunnableTask):
    """Send a message to a channel."""

    type_name = "io.tercel.sample.Notify"
    type_title = "Send a notification."

    channel: Property[str] = Field(description="Where to send it.")
    message: Property[str] | None = Field(default=None, description="What to say.")

    def run(self, ctx: RunContext) -> None:  # pragma: no cover - never run here
        raise NotImplementedError


@cache
def _described() -> tuple[dict[str, Any], ...]:
    from tercel_sdk.manifest import describe_type

    return tuple(describe_type(cls) for cls in (Fetch, Notify))


def _short(name: str) -> str:
    return name.removeprefix("tercel-plugin-").replace("-", "_")


def manifest_for(name: str, version: str, module: str, titles: Mapping[str, str] = {}) -> dict[str, Any]:
    """The SDK's description of Fetch and Notify, as the types `io.tercel.<short>.Fetch`…"""
    prefix = f"io.tercel.{_short(name)}."
    types = []
    for entry in copy.deepcopy(_described()):
        text = json.dumps(entry).replace("io.tercel.sample.", prefix).replace("io.kestra.plugin.sample.", f"io.kestra.plugin.{_short(name)}.")
        entry = json.loads(text)
        short = entry["type"].rsplit(".", 1)[-1]
        if short in titles:
            entry["title"] = entry["schema"]["title"] = titles[short]
        types.append(entry)
    return {
        "manifestVersion": 1, "distribution": name, "version": version, "module": module,
        "hooks": ["tercel_task_types"], "types": types,
    }


# -------------------------------------------------------------------------------- distributions


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _enrich(wheel: Path, lines: Sequence[str], description: str | None) -> None:
    """Add metadata lines (and a body) to the wheel's METADATA, and rewrite RECORD to match."""
    with zipfile.ZipFile(wheel) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    out = io.BytesIO()
    contents: dict[str, bytes] = {}
    record_name = ""
    for info, data in members:
        if info.filename.endswith(".dist-info/METADATA"):
            text = data.decode().rstrip("\n") + "\n" + "".join(f"{line}\n" for line in lines)
            if description:
                text += "\n" + description
            data = text.encode()
        if info.filename.endswith(".dist-info/RECORD"):
            record_name = info.filename
            continue
        contents[info.filename] = data
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for path, data in contents.items():
        writer.writerow([path, _record_hash(data), str(len(data))])
    writer.writerow([record_name, "", ""])
    contents[record_name] = record.getvalue().encode()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in contents.items():
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    wheel.write_bytes(out.getvalue())


def plugin_wheel(
    dest: Path, name: str, version: str, *, summary: str = "", keywords: Sequence[str] = (),
    description: str | None = None, requires_python: str | None = ">=3.11",
    titles: Mapping[str, str] = {}, sdk: str = SDK_RANGE, metadata: Sequence[str] = (),
) -> Path:
    """A tercel plugin wheel (`tercel-plugin-x` → package `tercel_plugin_x`, entry point
    `tercel_plugin_x.plugin`, manifest with `io.tercel.x.Fetch` and `io.tercel.x.Notify`)."""
    package = name.replace("-", "_")
    module = f"{package}.plugin"
    manifest = manifest_for(name, version, module, titles)
    files = {
        f"{package}/__init__.py": f'"""{name} {version}."""\n',
        f"{package}/plugin.py": "from tercel_sdk import hookimpl\n\n\n@hookimpl\ndef tercel_task_types():\n    return []\n",
        f"{package}/tercel-manifest.json": json.dumps(manifest, indent=1) + "\n",
    }
    wheel = build_wheel(
        dest, name, version, files, requires=[sdk],
        entry_points={"tercel.plugins": {_short(name): module}}, summary=summary,
    )
    lines = ["Description-Content-Type: text/markdown", "License: Apache-2.0", "Author: tercel tests", *metadata]
    if keywords:
        lines.append("Keywords: " + ",".join(keywords))
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    _enrich(wheel, lines, description)
    return wheel


def plugin_sdist(dest: Path, name: str, version: str, *, summary: str = "") -> Path:
    """The `.tar.gz` sdist of the same plugin: PKG-INFO and a pyproject.toml."""
    stem = f"{name.replace('-', '_')}-{version}"
    pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {summary}\nRequires-Dist: {SDK_RANGE}\n"
    pyproject = f'[project]\nname = "{name}"\nversion = "{version}"\n'
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, text in ((f"{stem}/PKG-INFO", pkg_info), (f"{stem}/pyproject.toml", pyproject)):
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = 0
            archive.addfile(info, io.BytesIO(data))
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / f"{stem}.tar.gz"
    target.write_bytes(buffer.getvalue())
    return target


# -------------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RegistryServer:
    """`tercel registry serve` in a subprocess (its own home; a port taken meanwhile is retried)."""

    def __init__(self, home: Path, env: Mapping[str, str] | None = None, *, start_timeout: float = 30) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.home = home
        self.env = {**os.environ, "TERCEL_HOME": str(home / "tercel"), "TERCEL_REGISTRY_HOME": str(home), **(env or {})}
        for _ in range(3):
            if self._start(start_timeout):
                return
        raise AssertionError(f"the registry could not get a free port: {self.text()}")

    def _start(self, start_timeout: float) -> bool:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.output = self.home.parent / f"registry-{self.port}.log"
        self._log = open(self.output, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tercel", "registry", "serve", "--port", str(self.port)],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT, env=self.env,
        )
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._log.close()
                if "address already in use" in self.text():
                    return False
                raise AssertionError(f"the registry exited ({self.proc.returncode}): {self.text()}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"the registry did not start: {self.text()}")

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def stop(self, timeout: float = 20) -> int:
        """SIGINT (Ctrl-C), then the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the registry did not stop within {timeout} s of SIGINT: {self.text()}") from None
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`tercel registry …` on this registry's home."""
        return subprocess.run(
            [sys.executable, "-m", "tercel", "registry", *args], capture_output=True, text=True,
            cwd=ROOT, env=self.env, timeout=60,
        )

    def token(self, name: str, *scopes: str) -> str:
        done = self.cli("token", "create", name, *(arg for s in scopes for arg in ("--scope", s)))
        assert done.returncode == 0 and done.stdout.startswith("trg_"), done.stderr
        return done.stdout.strip()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


# -------------------------------------------------------------------------------- the clients


def clients_env(home: Path) -> dict[str, str]:
    """The environment for pip, uv and twine: this machine's package settings removed (its
    pip.conf adds local indexes and find-links), caches and configuration in `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "TWINE_"))}
    env.update({
        "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INPUT": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "UV_NO_CONFIG": "1", "UV_CACHE_DIR": str(home / "uv-cache"), "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"), "NO_COLOR": "1",
    })
    return env


def _run(args: Sequence[str], home: Path) -> subprocess.CompletedProcess[str]:
    home.mkdir(parents=True, exist_ok=True)
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, env=clients_env(home), timeout=120, cwd=home)


def pip(home: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """`python -m pip …` (pip 23) with no cache and no configuration."""
    return _run([str(PIP), "-m", "pip", *map(str, args), "--no-cache-dir"], home)


def uv(home: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """`uv …` with its cache in `home` and no configuration."""
    return _run([str(BIN / "uv"), *map(str, args)], home)


def twine(home: Path, url: str, token: str, *files: Path, options: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    """`twine upload --repository-url <url>/legacy/ -u __token__ -p <token> [OPTIONS] FILES`."""
    args = [str(BIN / "twine"), "upload", "--disable-progress-bar", "--non-interactive",
            "--repository-url", f"{url}/legacy/", "-u", "__token__", "-p", token, *options, *map(str, files)]
    return _run(args, home)


def upload(base: str, path: Path, token: str | None, **fields: str) -> httpx.Response:
    """One file through the legacy upload API, the way twine sends it (fields override)."""
    from packaging.utils import parse_sdist_filename, parse_wheel_filename

    data = path.read_bytes()
    if path.name.endswith(".whl"):
        name, version, *_ = parse_wheel_filename(path.name)
        filetype = "bdist_wheel"
    else:
        name, version = parse_sdist_filename(path.name)
        filetype = "sdist"
    form = {
        ":action": "file_upload", "protocol_version": "1", "metadata_version": "2.1",
        "name": str(name), "version": str(version), "filetype": filetype,
        "sha256_digest": hashlib.sha256(data).hexdigest(), **fields,
    }
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{base}/legacy/", data=form, files={"content": (path.name, data, "application/octet-stream")},
                      headers=headers, timeout=30)


# -------------------------------------------------------------------------------- the pages


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None]
    children: list[Node] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(" ".join([*self.parts, *(c.text for c in self.children)]).split())

    def all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Node]:
        found = []
        for child in self.children:
            classes = str(child.attrs.get("class") or "").split()
            if (tag is None or child.tag == tag) and (cls is None or cls in classes) and all(
                child.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items()
            ):
                found.append(child)
            found += child.all(tag, cls, **attrs)
        return found

    def one(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Node:
        found = self.all(tag, cls, **attrs)
        assert len(found) == 1, (tag, cls, attrs, [f.text for f in found])
        return found[0]


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.root = Node("document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index].tag == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].parts.append(data)


def parse(text: str) -> Node:
    builder = TreeBuilder()
    builder.feed(text)
    return builder.root


def links_work(url: str, page: Node) -> None:
    """Every link of the page into the registry leads to a page (links out are not followed)."""
    root = url.split("/", 3)[:3]
    for anchor in page.all("a"):
        target = urljoin(url, str(anchor.attrs["href"]))
        if target.split("/", 3)[:3] == root:
            assert httpx.get(target, follow_redirects=True).status_code == 200, target
