"""A real `python -m tercel_sdk.host` driven by a worker written here, message by message: the
host side of the protocol needs nothing from the core."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tercel_sdk import __version__
from tercel_sdk.host import END_MARK, PROTOCOL_VERSION, pack
from tercel_sdk.host._protocol import read_frame

PACKAGE = '''
import sys, time
from tercel_sdk import Property, RunnableTask


class Greet(RunnableTask):
    type_name = "tests.host.Greet"
    name: Property[str]

    def run(self, ctx):
        print("stdout is not the pipe")
        ctx.logger.info("hello %s", ctx.render(self.name))
        try:
            ctx.kv.get("nothing")
        except KeyError as exc:
            caught = [type(exc).__name__, str(exc)]
        return {"stdin": sys.stdin.read(), "caught": caught, "task": ctx.task_id}


class Wait(RunnableTask):
    type_name = "tests.host.Wait"

    def run(self, ctx):
        while not ctx.is_cancelled():
            time.sleep(0.005)
        return {"stopped": True}
'''

INFO = {"executionId": "e", "namespace": "n", "flowId": "f", "taskId": "a", "taskRunId": "tr", "attempt": 1}


class Host:
    def __init__(self, root: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(root)}
        self.proc = subprocess.Popen([sys.executable, "-m", "tercel_sdk.host"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)

    def send(self, message: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(pack(message))
        self.proc.stdin.flush()

    def receive(self) -> Any:
        return read_frame(self.proc.stdout)  # type: ignore[arg-type]


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    (tmp_path / "hostpkg.py").write_text(textwrap.dedent(PACKAGE), encoding="utf-8")
    host = Host(tmp_path)
    yield host
    if host.proc.poll() is None:
        host.proc.kill()
        host.proc.wait()


def test_a_conversation_with_a_host(host: Host) -> None:
    kind, ready = host.receive()
    assert kind == "ready"
    assert ready["protocol"] == PROTOCOL_VERSION and ready["sdk"] == __version__ and ready["pid"] == host.proc.pid
    assert ready["python"] == ".".join(map(str, sys.version_info[:3]))

    host.send(["run", 1, "hostpkg:Greet", {"id": "a", "type": "tests.host.Greet", "name": "{{ who }}"}, None, INFO])
    kind, run, call_id, method, args, kwargs = host.receive()
    assert (kind, run, method, args, kwargs) == ("call", 1, "render", ["{{ who }}", None, "name"], {})
    host.send(["reply", call_id, "world"])
    assert host.receive() == ["tell", 1, "log", ["INFO", "hello world"]]
    kind, run, call_id, method, args, kwargs = host.receive()
    assert (method, args, kwargs) == ("kv.get", ["nothing"], {"namespace": None})
    host.send(["raise", call_id, {"type": "KeyError", "base": "KeyError", "message": "'nothing'", "args": ["nothing"], "ref": 1}])
    assert host.receive() == ["done", 1, {"stdin": "", "caught": ["KeyError", "'nothing'"], "task": "a"}]

    host.send(["run", 2, "hostpkg:Missing", {"id": "a", "type": "tests.host.Missing"}, None, INFO])
    assert host.receive() == ["failed", 2, {"kind": "load", "message": "AttributeError: module 'hostpkg' has no attribute 'Missing'"}]

    host.send(["run", 3, "hostpkg:Greet", {"id": "a", "type": "tests.host.Greet"}, None, INFO])
    kind, run, error = host.receive()
    assert (kind, run, error["kind"]) == ("failed", 3, "tercel")
    assert error["message"].startswith("task 'a' is invalid for tests.host.Greet: 1 validation error")

    host.send(["run", 4, "hostpkg:Wait", {"id": "a", "type": "tests.host.Wait"}, None, INFO])
    host.send(["cancel", 4])
    assert host.receive() == ["done", 4, {"stopped": True}]

    assert host.proc.stdin is not None
    host.proc.stdin.close()  # closing the pipe stops the host
    assert host.proc.wait(timeout=5) == 0
    stderr = host.proc.stderr.read().decode()  # type: ignore[union-attr]
    assert stderr.splitlines()[:2] == ["stdout is not the pipe", f"{END_MARK}1"]
