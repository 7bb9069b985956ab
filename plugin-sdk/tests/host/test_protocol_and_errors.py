"""The host protocol's framing and how errors cross the pipe (no process, no core)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from tercel_sdk import TaskFailed, TaskWarning
from tercel_sdk.host import FRAME_HEADER, MAX_FRAME, pack, unpack
from tercel_sdk.host._errors import (
    LoadError,
    RemoteError,
    TaskRunError,
    describe_failure,
    remote_error,
)
from tercel_sdk.host._protocol import read_frame
from tercel_sdk.ion import IonEncodeError


def test_frames_keep_python_types() -> None:
    message = ["done", 1, {"when": datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC), "day": date(2024, 1, 2),
                           "amount": Decimal("1.50"), "blob": b"\x00\xff", "took": timedelta(minutes=3),
                           "nested": [{"a": None, "b": [1, 2.5, "x"]}]}]
    frame = pack(message)
    (size,) = FRAME_HEADER.unpack(frame[:4])
    assert size == len(frame) - 4
    back = unpack(frame[4:])
    assert back == message
    assert type(back[2]["amount"]) is Decimal and type(back[2]["day"]) is date and type(back[2]["blob"]) is bytes


def test_read_frame_reads_one_message_at_a_time_and_none_at_the_end() -> None:
    stream = io.BytesIO(pack(["a", 1]) + pack(["b", {"x": b"y"}]) + pack(["c"])[:-3])
    assert read_frame(stream) == ["a", 1]
    assert read_frame(stream) == ["b", {"x": b"y"}]
    assert read_frame(stream) is None  # cut short: the other side is gone


def test_a_length_that_is_not_a_frame_is_refused() -> None:
    with pytest.raises(ValueError, match="not the plugin host protocol"):
        read_frame(io.BytesIO(FRAME_HEADER.pack(MAX_FRAME + 1) + b"garbage"))


def test_what_cannot_be_sent_says_where() -> None:
    with pytest.raises(IonEncodeError, match=r"value\[2\]\.s: set is not supported"):
        pack(["done", 1, {"s": {1}}])


def test_a_remote_key_error_is_a_key_error_with_the_same_text() -> None:
    original = KeyError("missing")
    exc = remote_error({"type": "KeyError", "base": "KeyError", "message": str(original), "args": ["missing"], "ref": 3})
    assert isinstance(exc, KeyError) and isinstance(exc, RemoteError)
    assert type(exc).__name__ == "KeyError" and str(exc) == str(original) and exc.ref == 3


def test_a_remote_os_error_keeps_errno_and_text() -> None:
    original = FileNotFoundError(2, "No such file or directory", "/x")
    exc = remote_error({"type": "FileNotFoundError", "base": "FileNotFoundError", "message": str(original),
                        "args": [2, "No such file or directory", "/x"], "ref": 1})  # the worker adds the filename
    assert isinstance(exc, FileNotFoundError) and str(exc) == str(original)
    assert (exc.errno, exc.filename) == (2, "/x")


def test_a_core_error_keeps_its_name_and_message() -> None:
    exc = remote_error({"type": "NamespaceAccessDenied", "base": "Exception", "message": "no, not there", "ref": 9})
    assert type(exc).__name__ == "NamespaceAccessDenied" and str(exc) == "no, not there"
    assert exc.type_name == "NamespaceAccessDenied"
    # args that would not give the same text are not used
    odd = remote_error({"type": "Odd", "base": "Exception", "message": "the real text", "args": ["other"], "ref": 2})
    assert str(odd) == "the real text"


def test_an_sdk_error_from_the_worker_is_that_sdk_class() -> None:
    exc = remote_error({"type": "TaskFailed", "base": "TaskFailed", "message": "inner failed", "args": ["inner failed"], "ref": 4})
    assert isinstance(exc, TaskFailed) and str(exc) == "inner failed"


def test_how_a_task_failed() -> None:
    def outputs(value: object) -> dict | None:
        return dict(value) if value is not None else None  # type: ignore[call-overload]

    remote = remote_error({"type": "KeyError", "base": "KeyError", "message": "'k'", "args": ["k"], "ref": 5})
    assert describe_failure(remote, outputs) == {"kind": "call", "ref": 5, "message": "'k'", "type": "KeyError"}
    assert describe_failure(TaskWarning("careful", {"n": 1}), outputs) == {"kind": "warning", "message": "careful", "outputs": {"n": 1}}
    assert describe_failure(TaskFailed("nope"), outputs) == {"kind": "failed", "message": "nope"}
    assert describe_failure(LoadError("ModuleNotFoundError: x"), outputs) == {"kind": "load", "message": "ModuleNotFoundError: x"}
    assert describe_failure(TaskRunError("task 'a' property 'b': bad"), outputs) == {"kind": "tercel", "message": "task 'a' property 'b': bad"}

    plugin: dict[str, object] = {}
    exec(compile("def task():\n    raise ZeroDivisionError('division by zero')\n", "plugin.py", "exec"), plugin)
    try:
        plugin["task"]()  # type: ignore[operator]
    except ZeroDivisionError as exc:
        error = describe_failure(exc, outputs, skip=(__file__,))
        assert error["kind"] == "error" and error["type"] == "ZeroDivisionError" and error["message"] == "division by zero"
        assert error["traceback"].startswith("Traceback") and 'File "plugin.py", line 2, in task' in error["traceback"]
        assert __file__ not in error["traceback"]  # the host's own frames on top are left out
        assert error["traceback"].rstrip().endswith("ZeroDivisionError: division by zero")
