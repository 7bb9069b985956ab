"""Per-version plugin environments with the real uv and pip, on the twin wheels (plugin_wheels).

Dependencies the twin folder does not have (pydantic, pluggy, amazon.ion …) come from the
default index, through the installers' caches. The environments of the two twin versions are
made once for the module; the tests that change or break things use roots of their own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from datetime import datetime
from importlib import metadata
from pathlib import Path

import pytest
from plugin_wheels import (
    PLUGIN,
    TWIN_TYPES,
    TwinWheels,
    build_twin_plugin,
    build_twin_wheels,
    build_wheel,
)
from tercel.plugins._environments import (
    RECORD_FILENAME,
    InstallError,
    PluginEnvironment,
    PluginEnvironments,
)

SDK_VERSION = metadata.version("tercel-plugin-sdk")


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> TwinWheels:
    return build_twin_wheels(tmp_path_factory.mktemp("twin-wheels"))


@pytest.fixture(scope="module")
def installed(
    tmp_path_factory: pytest.TempPathFactory, wheels: TwinWheels
) -> tuple[PluginEnvironments, dict[str, PluginEnvironment]]:
    """Twin 1.0.0 and 2.0.0 installed side by side with uv."""
    envs = PluginEnvironments(tmp_path_factory.mktemp("home") / "plugins", installer="uv")
    made = {}
    for version in ("1.0.0", "2.0.0"):
        started = time.monotonic()
        result = envs.install(f"{PLUGIN}=={version}", find_links=[str(wheels.folder)])
        print(f"uv install of {PLUGIN} {version}: {time.monotonic() - started:.2f} s")
        assert result.created
        made[version] = result.environment
    return envs, made


_INSIDE = textwrap.dedent(
    """\
    import json, sys
    from importlib import metadata
    import tercel_sdk
    import tercel_twin_helper as helper
    from tercel_plugin_twin.tasks import Greet

    class Logger:
        def info(self, message, *args):
            pass

    class Ctx:  # just what Greet uses of a RunContext
        logger = Logger()
        def render(self, value):
            return value.raw

    greet = Greet(id="g", type="io.tercel.twin.Greet", name="ada").run(Ctx())
    print(json.dumps({
        "prefix": sys.prefix,
        "sdk": metadata.version("tercel-plugin-sdk"),
        "sdk_file": tercel_sdk.__file__,
        "helper": metadata.version("tercel-twin-helper"),
        "shout": hasattr(helper, "shout"),
        "voice": hasattr(helper, "Voice"),
        "greet": greet.model_dump(),
    }))
    """
)


def _inside(env: PluginEnvironment) -> dict:
    done = subprocess.run(
        [str(env.python), "-I", "-c", _INSIDE], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_two_versions_side_by_side_each_with_its_own_helper_and_the_main_sdk(installed) -> None:
    _, made = installed
    one, two = _inside(made["1.0.0"]), _inside(made["2.0.0"])
    assert one["helper"] == "1.0.0" and one["shout"] and not one["voice"]
    assert two["helper"] == "2.0.0" and two["voice"] and not two["shout"]
    assert one["greet"] == {"message": "HELLO ADA!", "version": "1.0.0", "helper": "1.0.0"}
    assert two["greet"] == {"message": "ada olleh (twin 2)", "version": "2.0.0", "helper": "2.0.0"}
    for version, seen in (("1.0.0", one), ("2.0.0", two)):
        env = made[version]
        assert Path(seen["prefix"]) == env.path
        assert seen["sdk"] == SDK_VERSION
        assert Path(seen["sdk_file"]).is_relative_to(env.path)  # the repacked SDK, not the checkout's
    with pytest.raises(ImportError):  # and none of it leaks into the main environment
        __import__("tercel_twin_helper")


def test_list_reads_the_records(installed, wheels: TwinWheels) -> None:
    envs, made = installed
    listed = envs.list()
    assert [(e.distribution, e.version) for e in listed] == [(PLUGIN, "1.0.0"), (PLUGIN, "2.0.0")]
    for env in listed:
        assert env == made[env.version]
        assert env.module == "tercel_plugin_twin.plugin"
        assert env.path == envs.root / PLUGIN / env.version and env.python.is_file()
        assert env.sdk_version == SDK_VERSION and env.sdk_requirement == ">=0.1,<0.2"
        assert env.source == f"{PLUGIN}=={env.version}"
        assert len(env.fingerprint) == 64
        assert datetime.fromisoformat(env.installed_at).utcoffset().total_seconds() == 0
        assert (env.manifest["distribution"], env.manifest["version"]) == (PLUGIN, env.version)
        assert sorted(t["type"] for t in env.manifest["types"]) == list(TWIN_TYPES)
        assert {t["class"] for t in env.manifest["types"]} == {
            f"tercel_plugin_twin.tasks:{n}" for n in ("Greet", "Probe", "Sleep")
        }
    # 2.0.0 ships its manifest: that one is used as it is; 1.0.0's was generated in its env
    with zipfile.ZipFile(wheels.plugin_v2) as archive:
        shipped = json.loads(archive.read("tercel_plugin_twin/tercel-manifest.json"))
    assert made["2.0.0"].manifest == shipped
    greet = next(t for t in made["1.0.0"].manifest["types"] if t["type"] == "io.tercel.twin.Greet")
    assert greet["properties"]["name"]["required"] and greet["outputs"]["properties"].keys() >= {"message", "helper"}
    assert envs.get("tercel_plugin_twin", "1.0") == made["1.0.0"]  # names and versions normalized
    assert envs.get(PLUGIN, "9.9.9") is None


def test_list_skips_what_is_half_made(tmp_path: Path) -> None:
    (tmp_path / "tercel-plugin-half" / "1.0.0" / "bin").mkdir(parents=True)  # no record yet
    broken = tmp_path / "tercel-plugin-broken" / "1.0.0"
    broken.mkdir(parents=True)
    (broken / RECORD_FILENAME).write_text('{"distribution": "tercel-plugin-br', encoding="utf-8")
    (tmp_path / ".staging" / "tercel-plugin-x@1.0.0@abc").mkdir(parents=True)
    envs = PluginEnvironments(tmp_path)
    assert envs.list() == [] and envs.get("tercel-plugin-half", "1.0.0") is None
    assert PluginEnvironments(tmp_path / "nothing-yet").list() == []


def test_installing_again_is_a_no_op_and_a_specifier_picks_the_newest_that_fits(installed, wheels: TwinWheels) -> None:
    envs, made = installed
    started = time.monotonic()
    again = envs.install(f"{PLUGIN}==1.0.0", find_links=[str(wheels.folder)])
    elapsed = time.monotonic() - started
    print(f"uv no-op install: {elapsed:.2f} s")
    assert not again.created and again.environment == made["1.0.0"]
    assert elapsed < 10
    # 3.0.0 is newer but wants another SDK: the resolver settles on 2.0.0
    newest = envs.install(f"{PLUGIN}>=2", find_links=[str(wheels.folder)])
    assert newest.environment.version == "2.0.0" and not newest.created
    # the same wheel given by its path is the same environment
    by_path = envs.install(str(wheels.plugin_v2), find_links=[str(wheels.folder)])
    assert not by_path.created and by_path.environment.fingerprint == made["2.0.0"].fingerprint


def test_a_wheel_file_and_a_changed_wheel_of_the_same_version(tmp_path: Path, wheels: TwinWheels) -> None:
    envs = PluginEnvironments(tmp_path / "plugins", installer="uv")
    first = envs.install(str(wheels.plugin_v1), find_links=[str(wheels.folder)])
    assert first.created and first.environment.source == str(wheels.plugin_v1.resolve())
    rebuilt = build_twin_plugin(tmp_path / "rebuilt", "1.0.0", extra_files={"tercel_plugin_twin/rebuilt.txt": "yes"})
    second = envs.install(str(rebuilt), find_links=[str(wheels.folder)])
    assert second.created and second.environment.fingerprint != first.environment.fingerprint
    assert [e.version for e in envs.list()] == ["1.0.0"]
    site = next(second.environment.path.glob("lib/python*/site-packages"))
    assert (site / "tercel_plugin_twin" / "rebuilt.txt").is_file()
    assert not list((envs.root / ".trash").glob("*")) and not list((envs.root / ".staging").glob("*"))


def test_installing_again_keeps_the_installed_dependency_versions(tmp_path: Path, wheels: TwinWheels) -> None:
    """A dependency released since is no reason to rebuild: the inputs did not change."""
    envs = PluginEnvironments(tmp_path / "plugins", installer="uv")
    first = envs.install(f"{PLUGIN}==1.0.0", find_links=[str(wheels.folder)]).environment
    record_path = first.path / RECORD_FILENAME
    record = json.loads(record_path.read_text(encoding="utf-8"))
    # as if the environment were made back when pluggy 1.5.0 was the newest
    record["pins"] = [[n, "1.5.0" if n == "pluggy" else v] for n, v in record["pins"]]
    record["fingerprint"] = "0" * 64
    record_path.write_text(json.dumps(record), encoding="utf-8")

    def pluggy(env: PluginEnvironment) -> str:
        code = "from importlib import metadata; print(metadata.version('pluggy'))"
        return subprocess.run([str(env.python), "-I", "-c", code], capture_output=True, text=True, check=True).stdout.strip()

    rebuilt = envs.install(f"{PLUGIN}==1.0.0", find_links=[str(wheels.folder)])
    assert rebuilt.created and pluggy(rebuilt.environment) == "1.5.0"  # kept, not upgraded
    again = envs.install(f"{PLUGIN}==1.0.0", find_links=[str(wheels.folder)])
    assert not again.created and again.environment.fingerprint == rebuilt.environment.fingerprint


def test_a_project_folder_is_built_and_installed(tmp_path: Path) -> None:
    project = tmp_path / "tercel-plugin-tiny"
    package = project / "src" / "tercel_plugin_tiny"
    package.mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [project]
            name = "tercel-plugin-tiny"
            version = "0.3.0"
            dependencies = ["tercel-plugin-sdk>={SDK_VERSION}"]

            [project.entry-points."tercel.plugins"]
            tiny = "tercel_plugin_tiny.plugin"

            [build-system]
            requires = ["hatchling"]
            build-backend = "hatchling.build"
            """
        ),
        encoding="utf-8",
    )
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "plugin.py").write_text(
        textwrap.dedent(
            '''\
            from tercel_sdk import RunnableTask, hookimpl


            class Hello(RunnableTask):
                """Say hello."""

                type_name = "io.tercel.tiny.Hello"

                def run(self, ctx):
                    return {"hello": "world"}


            @hookimpl
            def tercel_task_types():
                return [Hello]
            '''
        ),
        encoding="utf-8",
    )
    envs = PluginEnvironments(tmp_path / "plugins", installer="uv")
    result = envs.install(str(project))
    env = result.environment
    assert result.created and (env.distribution, env.version) == ("tercel-plugin-tiny", "0.3.0")
    assert env.source == str(project.resolve()) and env.sdk_requirement == f">={SDK_VERSION}"
    assert [t["type"] for t in env.manifest["types"]] == ["io.tercel.tiny.Hello"]
    # hatchling builds reproducibly: the same folder again is the same environment
    assert not envs.install(str(project)).created


def test_a_plugin_for_another_sdk_is_refused_with_the_reason(tmp_path: Path, wheels: TwinWheels) -> None:
    envs = PluginEnvironments(tmp_path / "plugins", installer="uv")
    reason = f"{PLUGIN} 3.0.0 requires tercel-plugin-sdk>=99 but this instance has tercel-plugin-sdk {SDK_VERSION}"
    with pytest.raises(InstallError) as by_path:
        envs.install(str(wheels.plugin_v3), find_links=[str(wheels.folder)])
    assert str(by_path.value) == reason
    with pytest.raises(InstallError) as by_name:
        envs.install(f"{PLUGIN}==3.0.0", find_links=[str(wheels.folder)])
    assert str(by_name.value) == reason
    assert envs.list() == [] and not (envs.root / PLUGIN).exists()


def test_what_is_not_an_installable_plugin_is_refused(tmp_path: Path, wheels: TwinWheels) -> None:
    envs = PluginEnvironments(tmp_path / "plugins", installer="uv")
    links = [str(wheels.folder)]

    def refused(requirement: str, **options) -> str:
        with pytest.raises(InstallError) as caught:
            envs.install(requirement, find_links=links, **options)
        return str(caught.value)

    not_plugin = "tercel-twin-helper 1.0.0 is not a tercel plugin: it declares no entry point in the 'tercel.plugins' group"
    assert refused(str(wheels.helper_v1)) == not_plugin
    assert refused("tercel-twin-helper==1.0.0") == not_plugin  # found out once installed, then gone
    broken = tmp_path / "tercel_plugin_broken-1.0.0-py3-none-any.whl"
    broken.write_bytes(b"not a zip at all")
    assert refused(str(broken)) == f"{broken} is not a readable wheel: File is not a zip file"
    junk = tmp_path / "junk.whl"
    junk.write_bytes(b"")
    assert refused(str(junk)).startswith(f"{junk} is not a wheel: ")
    assert refused(str(tmp_path / "missing-1.0-py3-none-any.whl")).startswith("no wheel file at ")
    assert refused("tercel-plugin-nope", no_index=True) == (
        f"tercel-plugin-nope is not a distribution found on find-links {wheels.folder}"
    )
    assert refused(f"{PLUGIN}==9.9", no_index=True) == (
        f"no version of {PLUGIN} matches ==9.9 on find-links {wheels.folder} (the newest there is 3.0.0)"
    )
    assert refused("not a requirement!").startswith("'not a requirement!' is neither a requirement")
    assert refused("tercel-plugin-sdk").startswith("tercel-plugin-sdk is the plugin SDK, not a plugin")
    conflict = build_wheel(
        tmp_path / "conflict", "tercel-plugin-conflict", "1.0.0",
        {"tercel_plugin_conflict/__init__.py": ""},
        requires=["tercel-twin-helper==7.0", "tercel-plugin-sdk>=0.1"],
        entry_points={"tercel.plugins": {"conflict": "tercel_plugin_conflict"}},
    )
    message = refused(str(conflict))
    assert message.startswith(f"tercel-plugin-conflict 1.0.0 cannot be installed with tercel-plugin-sdk {SDK_VERSION}")
    assert "tercel-twin-helper" in message  # the resolver's own explanation follows
    assert envs.list() == [] and not any(p.name.startswith("tercel-") for p in envs.root.iterdir())


_INSTALL = textwrap.dedent(
    """\
    import json, sys
    from pathlib import Path
    from tercel.plugins._environments import PluginEnvironments

    result = PluginEnvironments(Path(sys.argv[1]), installer="uv").install(sys.argv[2], find_links=[sys.argv[3]])
    print(json.dumps({"created": result.created, "fingerprint": result.environment.fingerprint}))
    """
)


def _installing(root: Path, requirement: str, wheels: TwinWheels) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _INSTALL, str(root), requirement, str(wheels.folder)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_two_processes_installing_one_version_make_one_environment(tmp_path: Path, wheels: TwinWheels) -> None:
    root = tmp_path / "plugins"
    processes = [_installing(root, f"{PLUGIN}==2.0.0", wheels) for _ in range(2)]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        results.append(json.loads(out))
    assert sorted(r["created"] for r in results) == [False, True]
    assert results[0]["fingerprint"] == results[1]["fingerprint"]
    envs = PluginEnvironments(root)
    assert [(e.version, e.fingerprint) for e in envs.list()] == [("2.0.0", results[0]["fingerprint"])]


def _wait_for(condition, process: subprocess.Popen[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the install ended before the moment to kill it: {process.stderr.read()}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the moment to kill the install never came")
        time.sleep(0.005)


@pytest.mark.parametrize("moment", ["creating", "describing"])
def test_an_install_killed_midway_leaves_nothing_visible_and_a_retry_works(
    tmp_path: Path, wheels: TwinWheels, moment: str
) -> None:
    root = tmp_path / "plugins"
    process = _installing(root, f"{PLUGIN}==1.0.0", wheels)
    staging = root / ".staging"

    def reached() -> bool:
        if moment == "creating":  # the environment's folder exists, the installer is at work
            return any(staging.glob(f"{PLUGIN}@1.0.0@*/*"))
        # installed, now describing the plugin with the environment's interpreter
        return any(staging.glob(f"{PLUGIN}@1.0.0@*/lib/python*/site-packages/tercel_plugin_twin"))

    _wait_for(reached, process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    envs = PluginEnvironments(root, installer="uv")
    assert envs.list() == [] and envs.get(PLUGIN, "1.0.0") is None
    assert not (root / PLUGIN / "1.0.0").exists()
    retry = envs.install(f"{PLUGIN}==1.0.0", find_links=[str(wheels.folder)])
    assert retry.created and [e.version for e in envs.list()] == ["1.0.0"]
    assert _inside(retry.environment)["helper"] == "1.0.0"


def test_uninstall(tmp_path: Path, wheels: TwinWheels) -> None:
    envs = PluginEnvironments(tmp_path / "plugins", installer="uv")
    env = envs.install(str(wheels.plugin_v2), find_links=[str(wheels.folder)]).environment
    assert envs.uninstall(PLUGIN, "2.0.0") == env
    assert envs.list() == [] and not env.path.exists() and not (envs.root / PLUGIN).exists()
    with pytest.raises(InstallError, match=rf"^{PLUGIN} 2.0.0 is not installed in "):
        envs.uninstall(PLUGIN, "2.0.0")


def test_the_pip_installer(tmp_path: Path, wheels: TwinWheels) -> None:
    envs = PluginEnvironments(tmp_path / "plugins", installer="pip")
    started = time.monotonic()
    result = envs.install(f"{PLUGIN}==1.0.0", find_links=[str(wheels.folder)])
    print(f"pip install of {PLUGIN} 1.0.0 (its own pip environment first): {time.monotonic() - started:.2f} s")
    assert result.created
    inside = _inside(result.environment)
    assert inside["helper"] == "1.0.0" and inside["sdk"] == SDK_VERSION
    assert inside["greet"]["message"] == "HELLO ADA!"
    assert sorted(t["type"] for t in result.environment.manifest["types"]) == list(TWIN_TYPES)
    assert (tmp_path / "plugins" / ".pip").is_dir() and not os.listdir(tmp_path / "plugins" / ".staging")
