"""Realtime triggers over a real runtime: the scheduler runs `tercel.core.trigger.FileWatch`'s
listener against a real folder; each file event starts one execution."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest
from tercel.runtime import Runtime
from tercel.scheduler import Scheduler
from tercel_plugin_core.trigger import _inotify

NS = "tests.realtime"


def watching(flow_id: str, folder: Path, **props: str) -> str:
    options = "".join(f"    {k}: {v}\n" for k, v in props.items())
    return f"""\
id: {flow_id}
namespace: {NS}
tasks:
  - id: seen
    type: tercel.core.Return
    format: "{{{{ trigger.event }}}} {{{{ trigger.relativePath }}}} {{{{ trigger.size }}}} {{{{ read(trigger.uri) if trigger.uri else '-' }}}}"
triggers:
  - id: drop
    type: tercel.core.trigger.FileWatch
    path: "{folder}"
{options}"""


@pytest.fixture
def drop(tmp_path: Path, runtime: Runtime) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    runtime.settings.allowed_paths = [tmp_path]
    return folder


async def started(runtime: Runtime, flow_id: str | None = None) -> list[dict[str, Any]]:
    return runtime.db.executions.find(namespace=NS, flow_id=flow_id, limit=500)


async def wait_for(runtime: Runtime, count: int, flow_id: str | None = None, timeout: float = 15) -> list[str]:
    """The `seen` outputs of the first `count` executions once they all ended, oldest first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await started(runtime, flow_id)
        if len(found) >= count:
            break
        await asyncio.sleep(0.05)
    found = await started(runtime, flow_id)
    assert len(found) >= count, f"{len(found)} executions, expected {count}"
    out = []
    for header in reversed(found):  # newest first: oldest first
        ex = await runtime.wait(header["id"], timeout=30)
        [tr] = [tr for tr in ex.task_runs if tr.task_id == "seen"] or [None]
        out.append(tr.outputs["value"] if tr is not None and tr.outputs else f"{ex.state.current.value}: {ex.error}")
    return out


async def listening(scheduler: Scheduler, key: tuple[str, str, str], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = next((s for s in scheduler.triggers(*key[:2]) if s.trigger_id == key[2]), None)
        if key in scheduler._listeners and state is not None and "files" in state.memory:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"trigger {key} is not listening")


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


KEY = (NS, "watch", "drop")


async def test_each_file_created_changed_or_deleted_starts_one_execution(runtime: Runtime, drop: Path) -> None:
    (drop / "before.csv").write_text("old")  # there before the first start: taken as seen
    runtime.deploy_flow(watching("watch", drop, on="[CREATE, UPDATE, DELETE]", regExp='".*\\\\.csv"'))
    async with Scheduler(runtime, interval=0.05) as scheduler:
        await listening(scheduler, KEY)
        (drop / "a.csv").write_text("alpha")
        (drop / "notes.txt").write_text("not a csv")
        assert await wait_for(runtime, 1) == ["CREATE a.csv 5 alpha"]
        (drop / "a.csv").write_text("alpha v2")
        assert (await wait_for(runtime, 2))[1] == "UPDATE a.csv 8 alpha v2"
        (drop / "before.csv").unlink()
        assert (await wait_for(runtime, 3))[2] == "DELETE before.csv  -"
        await asyncio.sleep(0.3)
        assert len(await started(runtime)) == 3  # nothing else, nothing twice
        [state] = scheduler.triggers(NS, "watch")
        assert state.memory["files"].keys() == {"a.csv"}
        assert state.to_dict()["workerId"] == scheduler._owner


async def test_a_file_still_being_written_is_handed_over_once_closed(runtime: Runtime, drop: Path) -> None:
    runtime.deploy_flow(watching("watch", drop))
    async with Scheduler(runtime, interval=0.05) as scheduler:
        await listening(scheduler, KEY)
        (drop / "ready.txt").write_text("x")  # a settled event: the folder is scanned
        with open(drop / "big.txt", "w") as out:
            out.write("part one, ")
            out.flush()
            assert await wait_for(runtime, 1) == ["CREATE ready.txt 1 x"]
            await asyncio.sleep(0.3)
            assert len(await started(runtime)) == 1  # big.txt is open for writing: not yet
            out.write("part two")
        assert (await wait_for(runtime, 2))[1] == "CREATE big.txt 18 part one, part two"


async def test_without_inotify_the_folder_is_scanned_and_a_file_must_settle(
    runtime: Runtime, drop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_inotify.Inotify, "open", classmethod(lambda cls: None))  # as on macOS
    runtime.deploy_flow(watching("watch", drop, interval="PT0.1S", recursive="true"))
    async with Scheduler(runtime, interval=0.05) as scheduler:
        await listening(scheduler, KEY)
        write(drop / "sub" / "deep.txt", b"deep")
        assert await wait_for(runtime, 1) == ["CREATE sub/deep.txt 4 deep"]


async def test_changes_made_while_stopped_fire_at_the_next_start_and_nothing_twice(runtime: Runtime, drop: Path) -> None:
    runtime.deploy_flow(watching("watch", drop, on="[CREATE, UPDATE, DELETE]"))
    async with Scheduler(runtime, interval=0.05) as scheduler:
        await listening(scheduler, KEY)
        write(drop / "one.txt", b"1")
        write(drop / "two.txt", b"2")
        assert sorted(await wait_for(runtime, 2)) == ["CREATE one.txt 1 1", "CREATE two.txt 1 2"]
    [state] = Scheduler(runtime).triggers(NS, "watch")
    assert state.listener is None  # released at stop: another scheduler may listen at once
    write(drop / "three.txt", b"3")  # while no scheduler runs
    (drop / "one.txt").unlink()
    async with Scheduler(runtime, interval=0.05):
        seen = await wait_for(runtime, 4)
        assert sorted(seen[2:]) == ["CREATE three.txt 1 3", "DELETE one.txt  -"]
        await asyncio.sleep(0.3)
        assert len(await started(runtime)) == 4


async def test_one_scheduler_listens_however_many_run(runtime: Runtime, drop: Path) -> None:
    runtime.deploy_flow(watching("watch", drop))
    async with Scheduler(runtime, interval=0.05) as first, Scheduler(runtime, interval=0.05) as second:
        await listening(first, KEY)
        await asyncio.sleep(0.2)  # the second looked several times
        assert KEY not in second._listeners
        write(drop / "a.txt", b"a")
        assert await wait_for(runtime, 1) == ["CREATE a.txt 1 a"]
        await first.stop()  # hands the lease back: the second takes over
        await listening(second, KEY)
        write(drop / "b.txt", b"b")
        assert (await wait_for(runtime, 2))[1] == "CREATE b.txt 1 b"
        await asyncio.sleep(0.3)
        assert len(await started(runtime)) == 2


async def test_disabling_stops_the_listener_and_enabling_catches_up(runtime: Runtime, drop: Path) -> None:
    runtime.deploy_flow(watching("watch", drop))
    async with Scheduler(runtime, interval=0.05) as scheduler:
        await listening(scheduler, KEY)
        scheduler.set_disabled(*KEY, True)
        deadline = time.monotonic() + 5
        while KEY in scheduler._listeners and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert KEY not in scheduler._listeners
        write(drop / "while-off.txt", b"w")
        await asyncio.sleep(0.3)
        assert await started(runtime) == []
        scheduler.set_disabled(*KEY, False)
        assert await wait_for(runtime, 1) == ["CREATE while-off.txt 1 w"]


async def test_a_new_revision_restarts_the_listener_with_its_definition(runtime: Runtime, drop: Path) -> None:
    runtime.deploy_flow(watching("watch", drop, regExp='".*\\\\.csv"'))
    async with Scheduler(runtime, interval=0.05) as scheduler:
        await listening(scheduler, KEY)
        old = scheduler._listeners[KEY].task
        runtime.deploy_flow(watching("watch", drop, regExp='".*\\\\.json"'))
        deadline = time.monotonic() + 5
        while (KEY not in scheduler._listeners or scheduler._listeners[KEY].task is old) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert scheduler._listeners[KEY].task is not old
        write(drop / "a.csv", b"c")
        write(drop / "a.json", b"j")
        assert await wait_for(runtime, 1) == ["CREATE a.json 1 j"]
        await asyncio.sleep(0.3)
        assert len(await started(runtime)) == 1


async def test_a_folder_outside_the_allowed_paths_fails_with_the_reason_then_retries(
    runtime: Runtime, tmp_path: Path
) -> None:
    runtime.settings.allowed_paths = [tmp_path / "allowed"]
    outside = tmp_path / "outside"
    outside.mkdir()
    runtime.deploy_flow(watching("watch", outside, failOnTriggerError="true"))
    async with Scheduler(runtime, interval=0.05):
        [failed] = await wait_for(runtime, 1)
        assert failed.startswith("FAILED: trigger 'drop' of flow tests.realtime.watch: the listener failed")
        assert "outside the folders flows may read" in failed and "TERCEL_ALLOWED_PATHS" in failed
        runtime.settings.allowed_paths = [tmp_path]  # the administrator allows it: the retry listens
        await asyncio.sleep(1.5)
        write(outside / "now.txt", b"ok")
        seen = await wait_for(runtime, 2, timeout=20)
        assert "CREATE now.txt 2 ok" in seen


async def test_stop_after_disables_the_trigger(runtime: Runtime, drop: Path) -> None:
    runtime.deploy_flow(f"""\
id: watch
namespace: {NS}
tasks:
  - id: check
    type: tercel.core.Fail
    condition: "{{{{ trigger.name == 'bad.txt' }}}}"
    errorMessage: bad file
triggers:
  - id: drop
    type: tercel.core.trigger.FileWatch
    path: "{drop}"
    stopAfter: [FAILED]
""")
    async with Scheduler(runtime, interval=0.05) as scheduler:
        await listening(scheduler, KEY)
        write(drop / "good.txt", b"g")
        await wait_for(runtime, 1)
        write(drop / "bad.txt", b"b")
        await wait_for(runtime, 2)
        deadline = time.monotonic() + 5
        while KEY in scheduler._listeners and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        [state] = scheduler.triggers(NS, "watch")
        assert state.disabled and KEY not in scheduler._listeners
        write(drop / "later.txt", b"l")
        await asyncio.sleep(0.3)
        assert len(await started(runtime)) == 2


async def test_include_existing_fires_for_the_files_already_there_on_the_first_start(runtime: Runtime, drop: Path) -> None:
    write(drop / "old.txt", b"was here")
    runtime.deploy_flow(watching("watch", drop, includeExisting="true"))
    async with Scheduler(runtime, interval=0.05):
        assert await wait_for(runtime, 1) == ["CREATE old.txt 8 was here"]
    async with Scheduler(runtime, interval=0.05) as scheduler:  # not again at the next start
        await listening(scheduler, KEY)
        await asyncio.sleep(0.3)
        assert len(await started(runtime)) == 1
