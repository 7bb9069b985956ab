"""Fixtures of the nightly's suites; `nightly_support` (beside this file) builds the plugins.

This folder and the registry's tests folder are put on `sys.path`, so that the test modules
import `nightly_support` and `registry_support` (the real `tercel registry serve` process) by
name: pytest runs with `--import-mode=importlib`, which adds no test folder to the path.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
for folder in (HERE, HERE.parents[1] / "registry" / "tests"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
