"""After baking: drop the files of the options not chosen, then write the type manifest.

The registry refuses a wheel without `tercel-manifest.json` in its package, so the project is
born with one, generated from its own code by the baking interpreter (the project's `src/` on
the path, nothing installed). Without tercel-plugin-sdk in that interpreter the manifest is
left for the author to generate; the project's tests say how.
"""

import json
import os
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

ANSWERS = json.loads(r'''{{ cookiecutter | tojson }}''')
PACKAGE = ANSWERS["__package"]
DISTRIBUTION = ANSWERS["__distribution"]
VERSION = ANSWERS["__version"]
INCLUDE_TRIGGER = bool(ANSWERS["include_trigger"])

TRIGGER_FILES = [f"src/{PACKAGE}/trigger.py", "tests/test_trigger.py"]
REGENERATE = f"python -m tercel_sdk.manifest {PACKAGE}.plugin --write"


def drop_unchosen() -> None:
    if not INCLUDE_TRIGGER:
        for name in TRIGGER_FILES:
            Path(name).unlink()
    # caches a tool may have left in the template folder are copied like the rest: not wanted
    for cache in [p for name in (".ruff_cache", ".pytest_cache", "__pycache__") for p in Path().rglob(name)]:
        shutil.rmtree(cache, ignore_errors=True)


def write_manifest() -> None:
    if find_spec("tercel_sdk") is None:
        print(f"note: tercel-plugin-sdk is not installed here, so src/{PACKAGE}/tercel-manifest.json "
              f"was not generated; after `pip install -e '.[test]'` run: {REGENERATE}")
        return
    src = str(Path.cwd() / "src")
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)
    # distribution and version given, not looked up: an installed copy of a plugin of the same
    # name must not lend its version to this one
    code = (
        "import sys; from tercel_sdk.manifest import write_manifest; "
        "write_manifest(sys.argv[1], distribution=sys.argv[2], version=sys.argv[3])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, f"{PACKAGE}.plugin", DISTRIBUTION, VERSION],
        env=env, capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        print(f"warning: could not generate src/{PACKAGE}/tercel-manifest.json:\n{done.stderr.strip()}\n"
              f"fix the error, then run: {REGENERATE}", file=sys.stderr)
    shutil.rmtree(Path(src) / PACKAGE / "__pycache__", ignore_errors=True)


if __name__ == "__main__":
    drop_unchosen()
    write_manifest()
