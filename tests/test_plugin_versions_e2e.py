"""Two versions of one plugin side by side, with real wheels, real installers and real processes.

`tercel-plugin-twin` 1.0.0 and 2.0.0 (tests/plugin_wheels.py) behave differently and depend on two
incompatible versions of `tercel-twin-helper`, so they cannot share a Python process: each is
installed in an environment of its own (the real `tercel plugins install`, uv underneath) and its
tasks run in a plugin host. The CLI test runs both at once in one `Parallel`; the server test
installs over the API from a PEP 503 index on loopback, keeps a saved revision's lock across a
later install, replays on the old version, kills a host mid-task, and uninstalls.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from e2e_support import Cli
from plugin_wheels import HELPER, PLUGIN, TwinWheels, build_twin_wheels
from server_support import PRESET, YAML, Server, deploy, execution_in, free_port, until

pytestmark = pytest.mark.slow

SIDE_BY_SIDE = """id: side_by_side
namespace: team.twins
tasks:
  - id: both
    type: tercel.core.Parallel
    tasks:
      - id: greet_old
        type: io.tercel.twin.Greet
        version: 1.0.0
        name: world
      - id: greet_new
        type: io.tercel.twin.Greet
        version: "~=2.0"
        name: world
      - id: sleep_old
        type: io.tercel.twin.Sleep
        version: oldest
        seconds: 1
      - id: sleep_new
        type: io.tercel.twin.Sleep
        version: latest
        seconds: 1
  - id: probe
    type: io.tercel.twin.Probe
    secret: TWIN_TOKEN
"""


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> TwinWheels:
    return build_twin_wheels(tmp_path_factory.mktemp("twin-wheels"))


def _started(task_run: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(next(h["date"] for h in task_run["state"]["histories"] if h["state"] == "RUNNING"))


def _ended(task_run: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(task_run["state"]["histories"][-1]["date"])


def test_two_versions_of_one_plugin_run_side_by_side_from_the_cli(tmp_path: Path, wheels: TwinWheels) -> None:
    cli = Cli(tmp_path / "home", tmp_path)
    links = ("--find-links", str(wheels.folder))
    first = cli("plugins", "install", str(wheels.plugin_v1), *links)
    assert first.returncode == 0, first.stderr
    assert f"installed {PLUGIN} 1.0.0 in {tmp_path / 'home' / 'plugins' / PLUGIN / '1.0.0'}" in first.stdout
    second = cli("plugins", "install", f"{PLUGIN}>=2", *links)  # a specifier: the newest that matches
    assert second.returncode == 0, second.stderr
    assert f"installed {PLUGIN} 2.0.0" in second.stdout

    listed = json.loads(cli("plugins", "list", "--plugins", "--json").stdout)
    twins = {e["version"]: e for e in listed if e["distribution"] == PLUGIN}
    assert sorted(twins) == ["1.0.0", "2.0.0"]
    assert all(e["runs"] == "plugin host" and "io.tercel.twin.Greet" in e["types"] for e in twins.values())
    types = {t["type"]: t for t in json.loads(cli("plugins", "list", "--json").stdout)}
    assert types["io.tercel.twin.Greet"]["versions"] == ["1.0.0", "2.0.0"]

    # an SDK this instance cannot give is refused, with the reason, and nothing is installed
    refused = cli("plugins", "install", str(wheels.plugin_v3), *links)
    assert refused.returncode == 1
    assert "tercel-plugin-sdk>=99" in refused.stderr and "3.0.0" in refused.stderr
    assert not (tmp_path / "home" / "plugins" / PLUGIN / "3.0.0").exists()

    flow = cli.flow("side_by_side.yaml", SIDE_BY_SIDE)
    secret = {"SECRET_TWIN_TOKEN": base64.b64encode(b"hunter22").decode()}
    rc, ex, err = cli.run_json(str(flow), env=secret)
    assert rc == 0, (ex.get("state"), err)
    runs = {t["taskId"]: t for t in ex["taskRunList"]}
    assert runs["greet_old"]["outputs"] == {"message": "HELLO WORLD!", "version": "1.0.0", "helper": "1.0.0"}
    assert runs["greet_new"]["outputs"]["version"] == "2.0.0" and runs["greet_new"]["outputs"]["helper"] == "2.0.0"
    assert runs["greet_new"]["outputs"]["message"].startswith("dlrow")
    # both versions ran at once: each sleep overlaps the other
    old, new = runs["sleep_old"], runs["sleep_new"]
    assert _started(old) < _ended(new) and _started(new) < _ended(old)
    probe = runs["probe"]["outputs"]
    assert probe["version"] == "2.0.0" and probe["secretLength"] == 8 and probe["kvValue"] == {"version": "2.0.0"}
    assert probe["executable"].startswith(str(tmp_path / "home" / "plugins" / PLUGIN / "2.0.0"))
    # the lock the execution ran with: the type's first version, and the tasks that used another
    assert ex["plugins"]["io.tercel.twin.Greet"] == {"distribution": PLUGIN, "version": "1.0.0", "tasks": {"greet_new": "2.0.0"}}
    assert ex["plugins"]["io.tercel.twin.Probe"] == {"distribution": PLUGIN, "version": "2.0.0"}

    # `none`: every task of a plugin must pin
    strict = cli("validate", str(flow), env={"TERCEL_PLUGINS_VERSION_DEFAULT": "none"})
    assert strict.returncode == 1
    assert "io.tercel.twin.Probe (tercel-plugin-twin): this instance needs every task to pin its `version`" in strict.stdout + strict.stderr

    gone = cli("plugins", "uninstall", f"{PLUGIN}==1.0.0")
    assert gone.returncode == 0 and f"uninstalled {PLUGIN} 1.0.0" in gone.stdout, gone.stderr
    after = cli("validate", str(flow))
    assert after.returncode == 1 and "version 1.0.0 is not installed (installed: 2.0.0)" in after.stdout + after.stderr


@pytest.fixture()
def index(tmp_path: Path, wheels: TwinWheels) -> Iterator[str]:
    """A PEP 503 simple index of the twin wheels, served on loopback (what a registry serves)."""
    root = tmp_path / "index"
    for name, files in ((PLUGIN, (wheels.plugin_v1, wheels.plugin_v2)), (HELPER, (wheels.helper_v1, wheels.helper_v2))):
        project = root / "simple" / name
        project.mkdir(parents=True)
        for wheel in files:
            shutil.copy(wheel, project / wheel.name)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    server.shutdown()


GREETER = """id: greeter
namespace: team.twins
tasks:
  - id: greet
    type: io.tercel.twin.Greet
    name: world
"""

SLEEPER = """id: sleeper
namespace: team.twins
tasks:
  - id: nap
    type: io.tercel.twin.Sleep
    version: 1.0.0
    seconds: 1.5
    pidFile: "{pid_file}"
    retry:
      type: constant
      interval: PT0.1S
      maxAttempts: 2
"""


def test_the_server_installs_keeps_locks_replays_survives_a_host_crash_and_uninstalls(
    tmp_path: Path, wheels: TwinWheels, index: str
) -> None:
    server = Server(tmp_path / "home", PRESET)
    try:
        with server.client() as api:
            installed = api.post("/plugins/versions", json={"requirement": f"{PLUGIN}==1.0.0", "indexUrl": index})
            assert installed.status_code == 201, installed.text
            assert installed.json()["version"] == "1.0.0" and installed.json()["created"] is True
            again = api.post("/plugins/versions", json={"requirement": f"{PLUGIN}==1.0.0", "indexUrl": index})
            assert again.status_code == 200 and again.json()["created"] is False
            bad = api.post("/plugins/versions", json={"requirement": "/etc/passwd"})
            assert bad.status_code == 400 and "cannot be installed through the API" in bad.json()["message"]
            with wheels.plugin_v3.open("rb") as wheel:  # needs an SDK this instance cannot give
                mismatch = api.post("/plugins/versions", files={"wheel": (wheels.plugin_v3.name, wheel)}, data={"indexUrl": index})
            assert mismatch.status_code == 422 and "tercel-plugin-sdk>=99" in mismatch.json()["message"], mismatch.text
            named = api.post("/plugins/versions", files={"wheel": ("../../evil.whl", b"PK")})
            assert named.status_code == 400 and "is not a wheel file name" in named.json()["message"]

            first = deploy(api, GREETER)
            assert first["revision"] == 1
            run1 = api.post("/executions/team.twins/greeter").json()
            done1 = execution_in(api, run1["id"], "SUCCESS", "FAILED", within=60)
            assert done1["state"]["current"] == "SUCCESS", api.get(f"/logs/{run1['id']}").text
            assert done1["taskRunList"][0]["outputs"]["message"] == "HELLO WORLD!"
            assert done1["plugins"]["io.tercel.twin.Greet"] == {"distribution": PLUGIN, "version": "1.0.0"}

            # 2.0.0 arrives as an uploaded wheel; its helper comes from the index
            with wheels.plugin_v2.open("rb") as wheel:
                upload = api.post("/plugins/versions", files={"wheel": (wheels.plugin_v2.name, wheel)}, data={"indexUrl": index})
            assert upload.status_code == 201, upload.text
            listed = {(v["distribution"], v["version"]): v for v in api.get("/plugins/versions").json()}
            assert listed[(PLUGIN, "2.0.0")]["runs"] == "plugin host"

            # the saved revision keeps its lock: still 1.0.0
            run2 = api.post("/executions/team.twins/greeter").json()
            done2 = execution_in(api, run2["id"], "SUCCESS", "FAILED", within=60)
            assert done2["flowRevision"] == 1 and done2["taskRunList"][0]["outputs"]["version"] == "1.0.0"
            # saving the same source again resolves anew: a new revision on 2.0.0
            second = api.put("/flows/team.twins/greeter", content=GREETER, headers=YAML)
            assert second.status_code == 200 and second.json()["revision"] == 2, second.text
            run3 = api.post("/executions/team.twins/greeter").json()
            done3 = execution_in(api, run3["id"], "SUCCESS", "FAILED", within=60)
            assert done3["taskRunList"][0]["outputs"]["version"] == "2.0.0"
            # a replay of the first execution runs the version it ran with
            replay = api.post(f"/executions/{run1['id']}/replay").json()
            replayed = execution_in(api, replay["id"], "SUCCESS", "FAILED", within=60)
            assert replayed["taskRunList"][0]["outputs"] == {"message": "HELLO WORLD!", "version": "1.0.0", "helper": "1.0.0"}

            # a plugin host killed in the middle of a task fails that attempt only; retry runs it again
            pid_file = tmp_path / "nap.pid"
            deploy(api, SLEEPER.format(pid_file=pid_file))
            nap = api.post("/executions/team.twins/sleeper").json()
            pid = int(until(lambda: pid_file.exists() and pid_file.read_text(), within=30, what="the task's pid file"))
            pid_file.unlink()
            os.kill(pid, signal.SIGKILL)
            napped = execution_in(api, nap["id"], "SUCCESS", "FAILED", within=60)
            assert napped["state"]["current"] == "SUCCESS", (napped["taskRunList"], api.get(f"/logs/{nap['id']}").text)
            attempts = napped["taskRunList"][0]["attempts"]
            assert [a["state"]["current"] for a in attempts] == ["FAILED", "SUCCESS"]
            new_pid = int(pid_file.read_text())
            assert new_pid != pid
            logs = api.get(f"/logs/{nap['id']}").json()
            crash = [entry["message"] for entry in logs if "killed by SIGKILL" in entry["message"]]
            assert crash and f"{PLUGIN} 1.0.0" in crash[0] and "'nap'" in crash[0], [e["message"] for e in logs]

            # uninstalling 1.0.0 lists the saved revisions it breaks
            removed = api.delete(f"/plugins/versions/{PLUGIN}/1.0.0")
            assert removed.status_code == 200, removed.text
            broken = removed.json()["brokenLocks"]
            assert {(b["flowId"], b["revision"], b["version"]) for b in broken} == {("sleeper", 1, "1.0.0")}
            assert api.get("/plugins/locks").json() == broken
            missing = api.delete(f"/plugins/versions/{PLUGIN}/1.0.0")
            assert missing.status_code == 404 and "installed: 2.0.0" in missing.json()["message"]
            # a replay on the old version now fails, saying why
            again = api.post(f"/executions/{run1['id']}/replay")
            text = again.text if again.status_code != 200 else json.dumps(
                execution_in(api, again.json()["id"], "FAILED", within=30)
            ) + api.get(f"/logs/{again.json()['id']}").text
            assert f"the flow's lock needs {PLUGIN} 1.0.0, which is no longer installed" in text
    finally:
        server.stop()
    # a stopped server leaves no plugin host behind
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.kill(new_pid, 0)
