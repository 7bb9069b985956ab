"""`io.tercel.nightly.Run`: the nightly as a task, so the night is a flow on a Schedule trigger.

The task runs the same runner as `tercel nightly run`, in the worker thread that runs the task
(the suites themselves are subprocesses). Its progress lines go to the task's log as they
happen, a killed task run stops the suites in flight, and the outputs are the night's counts.
"""

from __future__ import annotations

from pydantic import Field
from tercel_sdk import Example, Output, Property, RunContext, RunnableTask, TaskFailed, TaskWarning

__all__ = ["Run", "RunOutput"]

_FLOW = """\
id: nightly
namespace: system

tasks:
  - id: run
    type: io.tercel.nightly.Run
    registry: http://127.0.0.1:8090
    token: "{{ secret('TERCEL_REGISTRY_TOKEN') }}"
    night: "{{ trigger.date ?? execution.startDate | date('yyyy-MM-dd') }}"
    jobs: 4

triggers:
  - id: every_night
    type: tercel.core.trigger.Schedule
    cron: "0 2 * * *"
"""


class RunOutput(Output):
    night: str = Field(description="The night the results were posted to (YYYY-MM-DD).")
    counts: dict[str, int] = Field(description="The suites run now, by status: passed, failed, error, timeout.")
    total: int = Field(description="The suites of the night: plugin versions (times SDK releases with matrix).")
    run: int = Field(description="The suites run and posted by this task run.")
    skipped: int = Field(description="The suites skipped: already recorded this night.")
    duration: float = Field(description="How long the night took, in seconds.")


class Run(RunnableTask):
    """Install every version of every plugin of a registry in a clean environment, run the tests
    its sdist ships, and post the results to the registry (`tercel nightly run` as a task).

    A plugin that fails to install, fails its tests, hangs past `testTimeout` or exceeds `memory`
    is a result like a pass, and the night goes on; the task fails only when the runner cannot
    work (no token, the registry unreachable). Suites already recorded this night are skipped,
    so a restarted run carries on where it stopped.
    """

    type_name = "io.tercel.nightly.Run"
    type_title = "Run every plugin version's tests and post the results to the registry."
    type_examples = (Example(title="The night, every night at 02:00", code=_FLOW, full=True),)

    registry: Property[str] | None = Field(default=None, description="The registry's URL (default: TERCEL_REGISTRY_URL).")
    token: Property[str] | None = Field(
        default=None,
        description="A registry token with the scope `nightly`, best as a secret expression (default: TERCEL_REGISTRY_TOKEN).",
    )
    plugins: Property[list[str]] | None = Field(default=None, description="Only these plugins (default: every plugin).")
    versions: Property[str] = Field(
        default=Property("latest", str), description="Which versions of each plugin: latest, all, or a number of the newest.",
    )
    jobs: Property[int] = Field(default=Property(1, int), description="How many suites run at once.")
    test_timeout: Property[float] = Field(
        default=Property(900.0, float), description="Seconds a suite may run before its processes are killed (status timeout).",
    )
    memory: Property[int] = Field(default=Property(2048, int), description="Megabytes of address space a suite may use.")
    matrix: Property[bool] = Field(
        default=Property(False, bool), description="Run each version against the oldest and the newest SDK release it admits.",
    )
    sdk_wheels: Property[str] | None = Field(
        default=None, description="A folder of tercel_plugin_sdk-*.whl releases the matrix may choose, beside the running SDK.",
    )
    work_dir: Property[str] | None = Field(
        default=None, description="Where environments, wheels and caches go (default: TERCEL_HOME/nightly).",
    )
    night: Property[str] | None = Field(default=None, description="The night the results belong to, YYYY-MM-DD (default: today, UTC).")

    def run(self, ctx: RunContext) -> RunOutput:
        from ._options import Options
        from ._runner import NightlyRunner
        from .errors import NightlyError

        def render(value: Property | None) -> object:
            return None if value is None else ctx.render(value)

        try:
            options = Options.build(
                registry=render(self.registry), token=render(self.token), night=render(self.night),  # type: ignore[arg-type]
                plugins=render(self.plugins), versions=ctx.render(self.versions), jobs=ctx.render(self.jobs),  # type: ignore[arg-type]
                timeout=ctx.render(self.test_timeout), memory=ctx.render(self.memory), matrix=ctx.render(self.matrix),
                sdk_wheels=render(self.sdk_wheels), work_dir=render(self.work_dir),  # type: ignore[arg-type]
            )
            summary = NightlyRunner(options, progress=ctx.logger.info, should_stop=ctx.is_cancelled).run()
        except NightlyError as exc:
            raise TaskFailed(str(exc)) from None
        outputs = RunOutput(**summary.outputs())
        if summary.broken:
            for line in summary.broken:
                ctx.logger.error(line)
            raise TaskWarning(f"the runner failed on {len(summary.broken)} suites (see the log); the others are posted", outputs)
        return outputs
