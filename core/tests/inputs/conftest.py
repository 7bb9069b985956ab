"""Real collaborators for the inputs tests: a Jinja2 renderer and a file storage on disk."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from jinja2 import StrictUndefined
from jinja2.nativetypes import NativeEnvironment
from jinja2.sandbox import SandboxedEnvironment


class _SandboxedNative(SandboxedEnvironment, NativeEnvironment):
    """Sandboxed Jinja that returns typed values for `{{ expr }}`, as the engine's renderer does."""


_NATIVE = _SandboxedNative(undefined=StrictUndefined)


def native_render(value: Any, context: Mapping[str, Any]) -> Any:
    """Render like Kestra's typed rendering: `{{ 1 + 1 }}` gives 2, not "2"."""
    return _NATIVE.from_string(value).render(**context)


@pytest.fixture
def render() -> Callable[[Any, Mapping[str, Any]], Any]:
    return native_render


class DiskStorage:
    """A tiny internal storage: files under a folder, addressed by `tercel:///input/<id>/<name>`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls: list[tuple[str, str]] = []

    def __call__(self, input_id: str, filename: str, data: bytes) -> str:
        self.calls.append((input_id, filename))
        target = self.root / "input" / input_id / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return f"tercel:///input/{input_id}/{filename}"

    def read(self, uri: str) -> bytes:
        return (self.root / uri.removeprefix("tercel:///")).read_bytes()


@pytest.fixture
def storage(tmp_path: Path) -> DiskStorage:
    return DiskStorage(tmp_path / "storage")
