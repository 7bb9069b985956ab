"""One fast, compact JSON codec for every document the store keeps.

orjson is used when installed (about 10x faster to encode and 2x to decode than the
standard library here, which is most of the Python time of a save or a load); otherwise a
prebuilt stdlib encoder (no per-call construction, no circular check: the engine's documents
are plain JSON values). Both write the same compact text, keep non-ASCII characters as is, and
read each other's output. What orjson refuses (integers beyond 64 bits, NaN in old rows)
falls back to the standard library, so the choice never changes what can be stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["BACKEND", "dumps", "loads"]

_std_dumps: Callable[[Any], str] = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, check_circular=False
).encode
_std_loads: Callable[[str | bytes], Any] = json.loads

try:
    import orjson
except ImportError:  # pragma: no cover - depends on the environment
    BACKEND = "json"
    dumps = _std_dumps
    loads = _std_loads
else:
    BACKEND = "orjson"
    _orjson_dumps = orjson.dumps
    _orjson_loads = orjson.loads
    _OPTIONS = orjson.OPT_NON_STR_KEYS  # like json: {1: x} is written {"1": x}

    def dumps(value: Any) -> str:
        """Compact JSON text of ``value``."""
        try:
            return _orjson_dumps(value, option=_OPTIONS).decode()
        except TypeError:  # orjson.JSONEncodeError: e.g. an int beyond 64 bits
            return _std_dumps(value)

    def loads(text: str | bytes) -> Any:
        """The value of JSON ``text``."""
        try:
            return _orjson_loads(text)
        except ValueError:  # orjson.JSONDecodeError: e.g. NaN written by json
            return _std_loads(text)
