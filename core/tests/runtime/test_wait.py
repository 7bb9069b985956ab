"""`Runtime.wait` for an execution another runtime advances: it checks the stored state every
second without reading the whole execution, and reads it once, when it has ended."""

from __future__ import annotations

from pathlib import Path

import pytest
from tercel.errors import TercelError
from tercel.flows import load_flow
from tercel.plugins import PluginManager
from tercel.runtime import Runtime
from tercel.settings import Settings
from tercel_sdk import State

PLUGINS = PluginManager().discover()

FLOW = """
id: slow
namespace: tests.wait
tasks:
  - id: loop
    type: tercel.core.ForEach
    values: [1, 2, 3]
    tasks:
      - id: nap
        type: tercel.core.Sleep
        duration: PT0.8S
"""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    url = None if request.param == "sqlite" else request.getfixturevalue("pg_module_url")
    return Settings(home=tmp_path / "home", database_url=url)


async def test_a_waiter_elsewhere_reads_the_execution_once_it_ended(settings: Settings) -> None:
    async with Runtime(settings, plugins=PLUGINS) as runner, Runtime(
        settings, plugins=PLUGINS, run_executor=False, run_worker=False
    ) as waiter:
        flow = runner.register_flow(load_flow(FLOW, PLUGINS))
        execution_id = runner.create_execution(flow).id
        loads: list[str] = []
        get_execution = waiter.get_execution

        def counting(wanted: str) -> object:
            loads.append(wanted)
            return get_execution(wanted)

        waiter.get_execution = counting  # type: ignore[method-assign]
        done = await waiter.wait(execution_id, timeout=60)
        assert done.state.current is State.SUCCESS
        assert len(done.task_runs) == 4
        assert loads == [execution_id]  # not once a second while it ran (about 2.4 s)
        with pytest.raises(TercelError, match="no execution 'nope'"):
            await waiter.wait("nope", timeout=5)
