"""Fixtures of the registry's suites; `registry_support` (beside this file) holds the helpers.

The folder is put on `sys.path` so that the test modules import `registry_support` by name, as
the root suite imports `plugin_wheels` (pytest runs with `--import-mode=importlib`, which does
not add test folders to the path).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = str(Path(__file__).parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
