"""A clean environment for one suite: `uv venv`, then the SDK, the core, the plugin and its tests.

The SDK and the core come from a find-links folder holding the running ones (pinned, so no
index can offer another); the plugin and its own dependencies from the registry first and the
default index for the rest (`--extra-index-url` with uv's first-index strategy: a name the
registry has is never taken from elsewhere). The `test` extra brings what the suite needs; a
plugin without one still gets pytest.

Subprocesses get the user's installer configuration (mirrors, certificates, caches) but nothing
that points Python elsewhere, and none of tercel's own variables: the registry token stays with
the runner, never with a plugin's code.
"""

from __future__ import annotations

import os
import platform
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from tercel.plugins import find_uv

from ._process import run_contained
from ._text import read_tail, trim_installer_message
from .errors import NightlyError

__all__ = ["INSTALL_TIMEOUT", "InstallFailed", "Installer", "python_in", "subprocess_env"]

INSTALL_TIMEOUT = 900.0  # one uv step: a slow index, never a hung install
_DROPPED = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH", "PYTHONUSERBASE", "VIRTUAL_ENV",
            "CONDA_PREFIX", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "__PYVENV_LAUNCHER__")


class InstallFailed(NightlyError):
    """The environment could not be made or installed; the message is the installer's reason."""


def python_in(env: Path) -> Path:
    return env / "Scripts" / "python.exe" if os.name == "nt" else env / "bin" / "python"


def subprocess_env(extra: Mapping[str, str] = {}, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without what would redirect Python or leak tercel's settings."""
    env = {
        k: v for k, v in (os.environ if base is None else base).items()
        if k not in _DROPPED and not k.startswith("TERCEL_")
    }
    env.update(NO_COLOR="1", PY_COLORS="0", UV_NO_PROGRESS="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    env.update(extra)
    return env


class Installer:
    """uv, run as a contained process (a hung index is killed with its group)."""

    def __init__(
        self, uv: str | None = None, *, timeout: float = INSTALL_TIMEOUT, stop: threading.Event | None = None,
    ) -> None:
        found = uv or find_uv()
        if not found:
            raise NightlyError("uv is needed to make the environments: install the uv package or set TERCEL_UV")
        self.uv = found
        self.timeout = timeout
        self.stop = stop

    @staticmethod
    def python_version() -> str:
        """The Python the environments get (this interpreter's)."""
        return platform.python_version()

    def _uv(self, args: Sequence[str | Path], *, what: str, cwd: Path, log: Path) -> None:
        log.unlink(missing_ok=True)
        finished = run_contained(
            [self.uv, *map(str, args)], cwd=cwd, env=subprocess_env(), log=log, timeout=self.timeout, stop=self.stop,
        )
        if finished.stopped:
            raise InstallFailed(f"{what} was stopped")
        if finished.timed_out:
            raise InstallFailed(f"{what} took longer than {self.timeout:.0f} s")
        if finished.returncode != 0:
            raise InstallFailed(trim_installer_message(read_tail(log)) or f"{what} failed ({finished.returncode})")

    def create(self, env: Path, *, cwd: Path) -> Path:
        """A new environment at `env`; returns its interpreter."""
        self._uv(["venv", "--quiet", "--python", sys.executable, env], what=f"creating {env}", cwd=cwd, log=cwd / "venv.log")
        return python_in(env)

    def install(
        self, python: Path, requirements: Sequence[str], *, index: str, find_links: Path, cwd: Path,
    ) -> str:
        """Install `requirements` into the environment of `python`; returns uv's output."""
        log = cwd / "install.log"
        self._uv(
            ["pip", "install", "--python", python, "--extra-index-url", index, "--index-strategy", "first-index",
             "--find-links", find_links, *requirements],
            what="installing", cwd=cwd, log=log,
        )
        return read_tail(log)
