"""Timings of tercel_sdk.ion against amazon.ion (run by hand; not collected by pytest).

Target: 100,000 rows of {int, float, string, tz-aware datetime}: write <= 0.25 s and read
<= 0.35 s. Usage: ``.venv/bin/python plugin-sdk/tests/perf_ion.py [ROWS] [REPEAT]``.

Prints the best and the median of REPEAT runs, as wall-clock and as CPU time of this process
(the CPU time is what to compare when other work shares the machine).
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from amazon.ion import simpleion
from tercel_sdk import ion


def make_rows(n: int) -> list[dict[str, object]]:
    start = datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=2)))
    return [
        {"id": i, "score": i * 1.25 + 0.1, "name": f"user-{i}", "when": start + timedelta(seconds=i * 7.5)}
        for i in range(n)
    ]


def measure(fn: Callable[[], object], repeat: int) -> str:
    wall, cpu = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return (
        f"best {min(wall):.3f} s (median {statistics.median(wall):.3f}), "
        f"CPU best {min(cpu):.3f} s (median {statistics.median(cpu):.3f})"
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    rows = make_rows(n)
    buffer = io.BytesIO()
    ion.write_rows(rows, buffer)
    data = buffer.getvalue()
    assert list(ion.read_rows(io.BytesIO(data))) == rows
    assert ion._parse_chunk(data[len(ion._HEADER_B) :]) is not None  # the fast path is taken

    print(f"{n} rows of {{int, float, str, aware datetime}}, {len(data) / 1e6:.1f} MB of Ion text")
    print("tercel_sdk.ion write_rows:", measure(lambda: ion.write_rows(rows, io.BytesIO()), repeat), "[target 0.25 s]")
    print("tercel_sdk.ion read_rows: ", measure(lambda: list(ion.read_rows(io.BytesIO(data))), repeat), "[target 0.35 s]")
    print("  same file through the amazon.ion fallback:",
          measure(lambda: list(ion._read_ion(io.BytesIO(data))), 2))
    text = simpleion.dumps(rows, binary=False, sequence_as_stream=True)
    print("amazon.ion dumps (text):  ",
          measure(lambda: simpleion.dumps(rows, binary=False, sequence_as_stream=True), 2))
    print("amazon.ion loads (text):  ",
          measure(lambda: simpleion.loads(text, single_value=False), 2))


if __name__ == "__main__":
    main()
