"""The real `tercel server local` process on a free loopback port, and helpers to drive it over HTTP.

`Server` starts the process (its own TERCEL_HOME, output in a log file next to the home) and waits
for `/api/v1/health`; `stop()` sends SIGINT and answers the exit code. `client()` is an httpx
client on `/api/v1` with the server's credentials; `sse()` reads a Server-Sent Events stream to
its end (and fails when it does not end by itself); `until()` polls until a condition holds.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from e2e_support import ROOT

T = TypeVar("T")

YAML = {"content-type": "application/x-yaml"}
USER, PASSWORD = "ops", "e2e-s3cret"
PRESET = {"TERCEL_BASIC_AUTH_USERNAME": USER, "TERCEL_BASIC_AUTH_PASSWORD": PASSWORD}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`tercel server local` in a subprocess; a port taken meanwhile by someone else is retried."""

    def __init__(self, home: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = (), *, start_timeout: float = 60) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.home = home
        self.env = {**os.environ, "TERCEL_HOME": str(home), **(env or {})}
        self.args = args
        for _ in range(3):
            if self._start(start_timeout):
                return
        raise AssertionError(f"the server could not get a free port: {self.text()}")

    def _start(self, start_timeout: float) -> bool:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.output = self.home.parent / f"server-{self.port}.log"
        self._log = open(self.output, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tercel", "server", "local", "--port", str(self.port), *self.args],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT, env=self.env,
        )
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._log.close()
                if "address already in use" in self.text():
                    return False
                raise AssertionError(f"the server exited ({self.proc.returncode}): {self.text()}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"the server did not start: {self.text()}")

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 30) -> int:
        """SIGINT (what Ctrl-C sends), then the exit code (SIGKILL and a failure after `timeout`)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the server did not stop within {timeout} s of SIGINT: {self.text()}") from None
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()

    def client(self, auth: Any = (USER, PASSWORD), *, token: str | None = None) -> httpx.Client:
        """A client of `/api/v1`: basic auth, or an API token (much cheaper to check than a password,
        which is hashed with scrypt on every request)."""
        if token is not None:
            return httpx.Client(base_url=f"{self.url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=60)
        return httpx.Client(base_url=f"{self.url}/api/v1", auth=auth, timeout=60)

    def token(self, name: str) -> str:
        """A new API token, made with `tercel server token create` (the running server reads it)."""
        created = self.cli("server", "token", "create", name)
        assert created.returncode == 0 and created.stdout.startswith("tcl_"), created.stderr
        return created.stdout.strip()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The `tercel` CLI on this server's home (`server token create`…)."""
        return subprocess.run([sys.executable, "-m", "tercel", *args], capture_output=True, text=True,
                              cwd=ROOT, env=self.env, timeout=120)


@dataclass
class Event:
    event: str | None
    id: str | None
    data: Any


def sse(client: httpx.Client, path: str, *, within: float = 30, ready: threading.Event | None = None) -> list[Event]:
    """Every event of a Server-Sent Events stream, read until the server ends it; fails if it does not
    end within `within` seconds. `ready` is set once the first event arrived (run it in a thread)."""
    deadline = time.monotonic() + within
    events: list[Event] = []
    fields: dict[str, str] = {}
    data: list[str] = []

    def dispatch() -> None:
        if data:
            events.append(Event(fields.get("event"), fields.get("id"), json.loads("\n".join(data))))
            if ready is not None:
                ready.set()
        fields.clear()
        data.clear()

    with client.stream("GET", path, timeout=httpx.Timeout(10, read=within)) as answer:
        assert answer.status_code == 200, answer.read()
        assert answer.headers["content-type"].startswith("text/event-stream"), answer.headers
        for line in answer.iter_lines():
            assert time.monotonic() < deadline, f"the stream {path} did not end within {within} s: {events[-3:]}"
            if not line:
                dispatch()
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "data":
                    data.append(value)
                else:
                    fields[name] = value
    dispatch()
    return events


def until(check: Callable[[], T | None], *, within: float = 20, every: float = 0.05, what: str = "the condition") -> T:
    """Poll `check` until it answers something truthy, and answer that."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {within} s (last: {value!r})")
        time.sleep(every)


def execution_in(client: httpx.Client, execution_id: str, *states: str, within: float = 20) -> dict[str, Any]:
    """The execution once its current state is one of `states`."""
    def check() -> dict[str, Any] | None:
        doc = client.get(f"/executions/{execution_id}").json()
        return doc if doc["state"]["current"] in states else None

    return until(check, within=within, what=f"execution {execution_id} in {states}")


def deploy(client: httpx.Client, source: str) -> dict[str, Any]:
    answer = client.post("/flows", content=source, headers=YAML)
    assert answer.status_code == 200, answer.text
    return answer.json()


class Registry:
    """`tercel registry serve` in a subprocess (its own TERCEL_HOME), on a free loopback port."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "TERCEL_HOME": str(home)}
        self.log = open(home.parent / f"registry-{self.port}.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tercel", "registry", "serve", "--port", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT, env=self.env,
        )
        until(self._up, within=60, what="the registry to answer")

    def _up(self) -> bool:
        assert self.proc.poll() is None, Path(self.log.name).read_text()
        try:
            return httpx.get(f"{self.url}/simple/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tercel", *args], capture_output=True, text=True,
                              cwd=ROOT, env=self.env, timeout=300)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self.log.close()
