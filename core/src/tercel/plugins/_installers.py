"""The installers that make plugin environments: uv when there is one, pip otherwise.

It exists so that the install procedure (`_environments`) speaks to one interface,
`_Installer` (build a wheel, resolve to a lock, create an environment, sync it, fetch one
distribution's metadata), and never to a command line: how uv and pip are found and run, how
the indexes become their arguments, which of their phrases mean "not found" or "unsatisfiable",
and the environment their subprocesses get are all here.
"""

from __future__ import annotations

import abc
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from ._distributions import (
    LOCK_FILENAME,
    InstallError,
    _dist_info,
    _DistInfo,
    _Lock,
    _normal_version,
    _parse_requirements_lock,
    _Pin,
    _wheel_info,
)

__all__ = [
    "INSTALLERS",
    "_NOT_FOUND",
    "_UNSATISFIABLE",
    "_Indexes",
    "_Installer",
    "_Pip",
    "_Uv",
    "_checked",
    "_clean_env",
    "_file_lock",
    "_python_in",
    "_run",
    "_trimmed",
    "find_uv",
]

INSTALLERS = ("uv", "pip")
_TIMEOUT = 900.0  # seconds for one installer step: a slow index, never a hung install


# ------------------------------------------------------------------------ small helpers


def _python_in(env: Path) -> Path:
    return env / "Scripts" / "python.exe" if os.name == "nt" else env / "bin" / "python"


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _phrases(*phrases: str) -> re.Pattern[str]:
    """Any of these installer phrases, wherever the installer wrapped its lines."""
    return re.compile("|".join(r"\s+".join(map(re.escape, p.split())) for p in phrases), re.IGNORECASE)


# how uv and pip say that no index has a name at all (anything else, e.g. a network error, is not)
_NOT_FOUND = _phrases(
    "not found in the package registry", "not found in the provided package locations",
    "from versions: none", "no matching distribution found",
)
# how they say that they found no set of versions that fits (as opposed to failing to look)
_UNSATISFIABLE = _phrases(
    "no solution found", "could not find a version", "no matching distribution",
    "ResolutionImpossible", "conflicting dependencies", "cannot install",
)


def _trimmed(text: str, *, lines: int = 25, chars: int = 2500) -> str:
    """An installer's error output, kept to what explains it (no colours, no pip location noise)."""
    kept = [
        line.rstrip()
        for line in _ANSI.sub("", text).splitlines()
        if line.strip() and not line.startswith("WARNING: Location ")
    ]
    for i, line in enumerate(kept):  # start at the error itself when there is a marked one
        if line.lstrip().lower().startswith(("error", "\u00d7")):  # uv marks errors with a cross
            kept = kept[i:]
            break
    out = "\n".join(kept[-lines:])
    return out if len(out) <= chars else "…" + out[-chars:]


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes, released by the OS if the holder dies (SIGKILL)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:  # not inherited by children (PEP 446)
        if os.name == "nt":  # pragma: no cover - exercised on Windows only
            import msvcrt

            while True:
                try:
                    msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    continue
            try:
                yield
            finally:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _clean_env() -> dict[str, str]:
    """The environment for installer and interpreter subprocesses: the user's configuration
    (indexes, certificates, caches) stays, what would point them at another environment goes."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "CONDA_PREFIX", "__PYVENV_LAUNCHER__")
    }
    env.update(NO_COLOR="1", UV_NO_PROGRESS="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    return env


def _run(args: Sequence[str | Path], *, what: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [str(a) for a in args],
            capture_output=True, text=True, cwd=cwd, env=_clean_env(), timeout=_TIMEOUT, check=False,
        )
    except FileNotFoundError as exc:
        raise InstallError(f"{what}: cannot run {args[0]}: {exc.strerror}") from exc
    except subprocess.TimeoutExpired as exc:
        raise InstallError(f"{what}: gave up after {_TIMEOUT:.0f} s") from exc


def _checked(done: subprocess.CompletedProcess[str], what: str) -> str:
    if done.returncode != 0:
        raise InstallError(f"{what} failed:\n{_trimmed(done.stderr or done.stdout)}")
    return done.stdout


@dataclass(frozen=True)
class _Indexes:
    """Where packages come from. A given index is searched before the default one for every
    name; `no_index` drops the default index (and keeps the given one and the find-links)."""

    index_url: str | None
    extra_index_urls: tuple[str, ...]
    find_links: tuple[str, ...]
    no_index: bool

    def uv_args(self) -> list[str]:
        args: list[str] = []
        if self.no_index:
            if self.index_url:
                args += ["--index-url", self.index_url]
            else:
                args.append("--no-index")
            for url in self.extra_index_urls:
                args += ["--extra-index-url", url]
        else:
            # extra indexes come before the default index, earlier ones first; with uv's
            # first-index strategy the first index that has a name serves every version of it
            for url in (*([self.index_url] if self.index_url else []), *self.extra_index_urls):
                args += ["--extra-index-url", url]
            if self.index_url or self.extra_index_urls:
                args += ["--index-strategy", "first-index"]
        for link in self.find_links:
            args += ["--find-links", link]
        return args

    def pip_args(self) -> list[str]:
        # pip has no index priority: every index is one pool and the best version wins
        args: list[str] = []
        if self.no_index:
            if self.index_url:
                args += ["--index-url", self.index_url]
            else:
                args.append("--no-index")
        elif self.index_url:
            args += ["--extra-index-url", self.index_url]
        for url in self.extra_index_urls:
            args += ["--extra-index-url", url]
        for link in self.find_links:
            args += ["--find-links", link]
        return args

    def describe(self) -> str:
        parts = [f"index {self.index_url}"] if self.index_url else []
        parts += [f"index {u}" for u in self.extra_index_urls]
        parts += [f"find-links {f}" for f in self.find_links]
        if not self.no_index:
            parts.append("the default index")
        return ", ".join(parts) or "no index at all (no_index without find-links)"


# ---------------------------------------------------------------------------- installers


def find_uv() -> str | None:
    """The uv binary: `TERCEL_UV`, the `uv` package's, the one beside this interpreter, PATH."""
    configured = os.environ.get("TERCEL_UV", "").strip()
    if configured:
        return configured
    with contextlib.suppress(ImportError, FileNotFoundError):
        from uv import find_uv_bin  # type: ignore[import-not-found]

        return str(find_uv_bin())
    beside = Path(sys.executable).parent / ("uv.exe" if os.name == "nt" else "uv")
    if beside.is_file():
        return str(beside)
    return shutil.which("uv")


class _Installer(abc.ABC):
    """What the environments need from an installer; `_Uv` and `_Pip` do it their way."""

    name = ""

    @abc.abstractmethod
    def build_wheel(self, folder: Path, out: Path, indexes: _Indexes, cwd: Path) -> Path:
        ...

    @abc.abstractmethod
    def resolve(
        self, requirements: Sequence[str], indexes: _Indexes, cwd: Path, *,
        constraints: Sequence[str] = (), no_deps: bool = False,
    ) -> _Lock | str:
        """The lock, or the resolver's error text."""
        ...

    @abc.abstractmethod
    def create(self, env: Path, cwd: Path) -> None:
        ...

    @abc.abstractmethod
    def sync(self, env: Path, lock: _Lock, indexes: _Indexes, cwd: Path) -> None:
        ...

    @abc.abstractmethod
    def fetch_info(self, name: str, version: str, indexes: _Indexes, cwd: Path) -> _DistInfo | None:
        """The metadata of one distribution version, without its dependencies (None if unknown)."""
        ...


def _write_requirements(cwd: Path, name: str, lines: Sequence[str]) -> Path:
    path = cwd / name
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


class _Uv(_Installer):
    name = "uv"

    def __init__(self, binary: str) -> None:
        self.binary = binary

    def build_wheel(self, folder: Path, out: Path, indexes: _Indexes, cwd: Path) -> Path:
        done = _run(
            [self.binary, "build", "--wheel", "--out-dir", out, "--python", sys.executable,
             *indexes.uv_args(), folder],
            what=f"building the wheel of {folder}", cwd=cwd,
        )
        _checked(done, f"building the wheel of {folder} with uv")
        return _only_wheel(out, folder)

    def resolve(
        self, requirements: Sequence[str], indexes: _Indexes, cwd: Path, *,
        constraints: Sequence[str] = (), no_deps: bool = False,
    ) -> _Lock | str:
        source = _write_requirements(cwd, f"requirements-{uuid.uuid4().hex[:8]}.in", requirements)
        args: list[str | Path] = [
            self.binary, "pip", "compile", "--python", sys.executable, "--generate-hashes",
            "--no-header", "--no-annotate", *indexes.uv_args(),
        ]
        if constraints:
            args += ["--constraint", _write_requirements(cwd, "constraints.txt", constraints)]
        if no_deps:
            args.append("--no-deps")
        done = _run([*args, source], what="resolving", cwd=cwd)
        if done.returncode != 0:
            return _trimmed(done.stderr or done.stdout)
        return _Lock(_parse_requirements_lock(done.stdout), done.stdout)

    def create(self, env: Path, cwd: Path) -> None:
        done = _run(
            [self.binary, "venv", "--quiet", "--relocatable", "--python", sys.executable, env],
            what=f"creating {env}", cwd=cwd,
        )
        _checked(done, f"creating the environment {env} with uv")

    def sync(self, env: Path, lock: _Lock, indexes: _Indexes, cwd: Path) -> None:
        locked = _write_requirements(cwd, LOCK_FILENAME, lock.text.splitlines())
        done = _run(
            [self.binary, "pip", "sync", "--python", _python_in(env), *indexes.uv_args(), locked],
            what=f"installing into {env}", cwd=cwd,
        )
        _checked(done, f"installing into {env} with uv")

    def fetch_info(self, name: str, version: str, indexes: _Indexes, cwd: Path) -> _DistInfo | None:
        target = cwd / f"fetched-{uuid.uuid4().hex[:8]}"
        done = _run(
            [self.binary, "pip", "install", "--quiet", "--no-deps", "--target", target,
             "--python", sys.executable, *indexes.uv_args(), f"{name}=={version}"],
            what=f"fetching {name} {version}", cwd=cwd,
        )
        if done.returncode != 0:
            return None
        for folder in target.glob("*.dist-info"):
            entry_points = folder / "entry_points.txt"
            return _dist_info(
                (folder / "METADATA").read_text(encoding="utf-8"),
                entry_points.read_text(encoding="utf-8") if entry_points.is_file() else None,
                f"{name} {version}",
            )
        return None


class _Pip(_Installer):
    """pip from a small tool environment of its own (`<root>/.pip`), made once with ensurepip:
    the main environment need not have pip. It installs into plugin environments with
    `pip --python`, which they are created without."""

    name = "pip"

    def __init__(self, tool_env: Path) -> None:
        self.tool_env = tool_env

    @property
    def pip(self) -> list[str]:
        return [str(_python_in(self.tool_env)), "-m", "pip"]

    def ensure_tool(self) -> None:
        if _python_in(self.tool_env).exists():
            return
        with _file_lock(self.tool_env.parent / ".locks" / "pip-tool.lock"):
            if _python_in(self.tool_env).exists():
                return
            staging = self.tool_env.parent / ".staging" / f"pip-tool@{uuid.uuid4().hex}"
            staging.parent.mkdir(parents=True, exist_ok=True)
            done = _run([sys.executable, "-m", "venv", staging], what="creating pip's environment", cwd=staging.parent)
            try:
                _checked(done, f"creating pip's own environment {self.tool_env} (python -m venv, with ensurepip)")
                os.replace(staging, self.tool_env)
            finally:
                shutil.rmtree(staging, ignore_errors=True)

    def build_wheel(self, folder: Path, out: Path, indexes: _Indexes, cwd: Path) -> Path:
        self.ensure_tool()
        done = _run(
            [*self.pip, "wheel", "--no-deps", "--quiet", "--wheel-dir", out, *indexes.pip_args(), folder],
            what=f"building the wheel of {folder}", cwd=cwd,
        )
        _checked(done, f"building the wheel of {folder} with pip")
        return _only_wheel(out, folder)

    def _report(
        self, requirements: Sequence[str], indexes: _Indexes, cwd: Path, extra: Sequence[str]
    ) -> dict[str, Any] | str:
        self.ensure_tool()
        report = cwd / f"report-{uuid.uuid4().hex[:8]}.json"
        source = _write_requirements(cwd, f"requirements-{uuid.uuid4().hex[:8]}.in", requirements)
        done = _run(
            [*self.pip, "install", "--dry-run", "--ignore-installed", "--quiet", "--report", report,
             *indexes.pip_args(), *extra, "-r", source],
            what="resolving", cwd=cwd,
        )
        if done.returncode != 0:
            return _trimmed(done.stderr or done.stdout)
        return json.loads(report.read_text(encoding="utf-8"))

    def resolve(
        self, requirements: Sequence[str], indexes: _Indexes, cwd: Path, *,
        constraints: Sequence[str] = (), no_deps: bool = False,
    ) -> _Lock | str:
        extra: list[str] = ["--no-deps"] if no_deps else []
        if constraints:
            extra += ["--constraint", str(_write_requirements(cwd, "constraints.txt", constraints))]
        report = self._report(requirements, indexes, cwd, extra)
        if isinstance(report, str):
            return report
        pins, lines = [], []
        for item in report.get("install", ()):
            name = canonicalize_name(item["metadata"]["name"])
            version = _normal_version(item["metadata"]["version"])
            info = item.get("download_info") or {}
            url = info.get("url", "")
            hashes = tuple(sorted(f"{k}:{v}" for k, v in (info.get("archive_info") or {}).get("hashes", {}).items()))
            if "vcs_info" in info:
                vcs = info["vcs_info"]
                lines.append(f"{name} @ {vcs['vcs']}+{url}@{vcs['commit_id']}")
                hashes = (f"commit:{vcs['commit_id']}",)
            elif url:
                fragment = next((f"#{h.replace(':', '=', 1)}" for h in hashes if h.startswith("sha256:")), "")
                lines.append(f"{name} @ {url}{fragment}")
            else:
                raise InstallError(f"pip resolved {name} {version} to nothing it can install again: {info}")
            pins.append(_Pin(name, version, hashes))
        return _Lock(tuple(pins), "".join(f"{line}\n" for line in lines))

    def create(self, env: Path, cwd: Path) -> None:
        done = _run([sys.executable, "-m", "venv", "--without-pip", env], what=f"creating {env}", cwd=cwd)
        _checked(done, f"creating the environment {env} (python -m venv)")

    def sync(self, env: Path, lock: _Lock, indexes: _Indexes, cwd: Path) -> None:
        self.ensure_tool()
        locked = _write_requirements(cwd, LOCK_FILENAME, lock.text.splitlines())
        done = _run(
            [*self.pip, "--python", _python_in(env), "install", "--no-deps", "--quiet",
             *indexes.pip_args(), "-r", locked],
            what=f"installing into {env}", cwd=cwd,
        )
        _checked(done, f"installing into {env} with pip")

    def fetch_info(self, name: str, version: str, indexes: _Indexes, cwd: Path) -> _DistInfo | None:
        self.ensure_tool()
        dest = cwd / f"fetched-{uuid.uuid4().hex[:8]}"
        done = _run(
            [*self.pip, "download", "--no-deps", "--quiet", "--dest", dest, *indexes.pip_args(), f"{name}=={version}"],
            what=f"fetching {name} {version}", cwd=cwd,
        )
        wheels = sorted(dest.glob("*.whl")) if done.returncode == 0 else []
        return _wheel_info(wheels[0]) if wheels else None


def _only_wheel(out: Path, folder: Path) -> Path:
    wheels = sorted(out.glob("*.whl"))
    if len(wheels) != 1:
        raise InstallError(f"building {folder} gave {len(wheels)} wheels, expected one")
    return wheels[0]
