"""The host's RunContext against a recording channel: what crosses the pipe and what does not."""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from tercel_sdk import Property, RunContext
from tercel_sdk.host import CHUNK, pack
from tercel_sdk.host._context import HostRunContext
from tercel_sdk.host._errors import TaskRunError

INFO = {"executionId": "e1", "namespace": "company.team", "flowId": "f", "taskId": "t", "taskRunId": "tr1", "attempt": 2}


class Channel:
    """Records calls and tells; answers calls from `answers` (a value, or a function of the args)."""

    def __init__(self, spool: Path, answers: dict[str, Any] | None = None) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.tells: list[tuple[str, tuple[Any, ...]]] = []
        self.answers = answers or {}
        self.spool = spool

    def call(self, run: int, method: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        assert run == 7
        self.calls.append((method, tuple(args), dict(kwargs)))
        answer = self.answers.get(method)
        return answer(*args, **kwargs) if callable(answer) else answer

    async def acall(self, run: int, method: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        return self.call(run, method, args, kwargs)

    def tell(self, run: int, method: str, args: Sequence[Any]) -> None:
        pack(["tell", run, method, list(args)])  # what cannot be encoded fails as on the real pipe
        self.tells.append((method, tuple(args)))

    def spool_dir(self) -> Path:
        return self.spool


def make(tmp_path: Path, answers: dict[str, Any] | None = None, log_level: str | None = None) -> tuple[HostRunContext, Channel]:
    channel = Channel(tmp_path, answers)
    return HostRunContext(channel, 7, INFO, log_level, threading.Event()), channel


def test_it_is_a_run_context_with_the_attempts_identity(tmp_path: Path) -> None:
    # (isinstance reads every property of the protocol, as it does of the core's context)
    ctx, _ = make(tmp_path, {"variables": {"flow": {"id": "f"}}, "working_dir": str(tmp_path)})
    assert isinstance(ctx, RunContext)
    assert ctx.variables["flow"] == {"id": "f"} and ctx.working_dir == tmp_path
    assert (ctx.execution_id, ctx.namespace, ctx.flow_id, ctx.task_id, ctx.task_run_id, ctx.attempt) == ("e1", "company.team", "f", "t", "tr1", 2)


def test_logs_are_formatted_and_filtered_here(tmp_path: Path) -> None:
    ctx, channel = make(tmp_path, log_level="INFO")
    ctx.logger.debug("dropped %s", 1)
    ctx.logger.info("n=%d", 3)
    ctx.logger.warn("bad args %d", "x")
    ctx.logger.error("no args %s")
    ctx.logger.info("surrogate \udc80")
    assert channel.tells == [
        ("log", ("INFO", "n=3")), ("log", ("WARN", "bad args %d x")), ("log", ("ERROR", "no args %s")),
        ("log", ("INFO", "surrogate \\udc80")),
    ]
    assert channel.calls == []


def test_values_without_expressions_never_cross_the_pipe(tmp_path: Path) -> None:
    ctx, channel = make(tmp_path, {"render": lambda raw, variables, name: "42"})
    assert ctx.render(Property("7", int, "count")) == 7
    assert ctx.render({"a": [1, "b"]}) == {"a": [1, "b"]}
    assert ctx.render_string("plain") == "plain"
    assert channel.calls == []
    assert ctx.render(Property("{{ x }}", int, "count"), {"x": 1}) == 42  # rendered there, coerced here
    assert channel.calls == [("render", ("{{ x }}", {"x": 1}, "count"), {})]


def test_a_coercion_error_names_the_task_and_the_property(tmp_path: Path) -> None:
    ctx, _ = make(tmp_path, {"render": "abc"})
    with pytest.raises(TaskRunError) as caught:
        ctx.render(Property("{{ x }}", int, "count"))
    assert str(caught.value).startswith("task 't' property 'count': Input should be a valid integer")


def test_metric_types_are_checked_before_sending(tmp_path: Path) -> None:
    ctx, channel = make(tmp_path)
    ctx.metric("rows", 3, tags={"a": "b"})
    with pytest.raises(ValueError, match="metric type must be 'counter', 'timer' or 'gauge', got 'histogram'"):
        ctx.metric("rows", 1, type="histogram")
    assert channel.tells == [("metric", ("rows", 3.0, "counter", {"a": "b"}))]


def test_file_data_travels_inline_as_a_path_or_spooled(tmp_path: Path) -> None:
    seen: list[Any] = []

    def put(data: list[Any], name: str) -> str:
        tag, value = data
        seen.append((tag, Path(value).read_bytes() if tag == "p" else value, value))
        return f"tercel:///{name}"

    ctx, _ = make(tmp_path / "spool", {"put_file": put})
    (tmp_path / "spool").mkdir()
    local = tmp_path / "local.bin"
    local.write_bytes(b"on disk")
    big = b"x" * (CHUNK + 1)
    assert ctx.put_file(b"small", "a") == "tercel:///a"
    ctx.put_file(local, "b")
    ctx.put_file(io.BytesIO(b"stream"), "c")
    ctx.put_file(io.BytesIO(big), "d")
    ctx.put_file(big, "e")
    ctx.put_file("text", "f")  # refused by the worker's storage, with its own message
    assert [(tag, data) for tag, data, _ in seen] == [
        ("b", b"small"), ("p", b"on disk"), ("b", b"stream"), ("p", big), ("p", big), ("v", "text"),
    ]
    assert seen[1][2] == str(local)
    assert list((tmp_path / "spool").iterdir()) == []  # spooled copies are gone after the call


def test_open_file_reads_through_calls(tmp_path: Path) -> None:
    data = bytes(range(256)) * 10
    stream = io.BytesIO(data)
    ctx, channel = make(tmp_path, {
        "open_file": 1,
        "file.read": lambda handle, size: stream.read(size),
        "file.seek": lambda handle, offset, whence: stream.seek(offset, whence),
        "file.close": None,
    })
    with ctx.open_file("tercel:///x") as fp:
        assert fp.read(3) == b"\x00\x01\x02"
        fp.seek(256)
        assert fp.read() == data[256:]
    assert channel.calls[0] == ("open_file", ("tercel:///x",), {})
    assert channel.calls[-1] == ("file.close", (1,), {})
