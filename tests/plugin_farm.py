"""Many installed plugin distributions, made on disk the way an installer leaves them: a package
with its shipped manifest, and a `.dist-info` folder with METADATA and the `tercel.plugins` entry
point. Each package's `__init__` records that it was imported (and refuses to be), so a test can
prove that listing and validating read manifests only. Used by the scale test and its bench.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from tercel_sdk.manifest import MANIFEST_FILENAME

__all__ = ["IMPORTED_MARKERS", "make_farm", "type_name"]

#: The folder (inside the farm) where an imported package leaves its mark.
IMPORTED_MARKERS = "_imported"


def type_name(index: int) -> str:
    return f"farm.p{index:03d}.Hello"


def _template() -> dict:
    """A real type's manifest entry (tercel.core.Return), to give each generated type its shape."""
    from tercel.plugins import PluginManager

    info = PluginManager(cache_dir=None).discover().get_type("tercel.core.Return")
    return copy.deepcopy(info.entry)


def make_farm(site: Path, count: int) -> list[str]:
    """`count` plugin distributions `tercel-plugin-farm-NNN` 1.0.0 in `site` (a folder to put on
    PYTHONPATH); returns their type names."""
    site.mkdir(parents=True, exist_ok=True)
    (site / IMPORTED_MARKERS).mkdir(exist_ok=True)
    template = _template()
    names = []
    for i in range(count):
        package = f"tercel_plugin_farm_{i:03d}"
        distribution = f"tercel-plugin-farm-{i:03d}"
        folder = site / package
        folder.mkdir(exist_ok=True)
        (folder / "__init__.py").write_text(
            "from pathlib import Path\n"
            f"(Path(__file__).parents[1] / {IMPORTED_MARKERS!r} / {package!r}).touch()\n"
            f"raise ImportError({package!r} ' must not be imported to list or validate')\n"
        )
        entry = copy.deepcopy(template)
        entry.update(type=type_name(i), aliases=[], title=f"Say hello, #{i}.")
        entry["class"] = f"{package}.tasks:Hello"
        manifest = {
            "manifestVersion": 1, "distribution": distribution, "version": "1.0.0",
            "module": f"{package}.plugin", "hooks": ["tercel_task_types"], "types": [entry],
        }
        (folder / MANIFEST_FILENAME).write_text(json.dumps(manifest))
        info = site / f"{package}-1.0.0.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 1.0.0\n")
        (info / "entry_points.txt").write_text(f"[tercel.plugins]\nfarm_{i:03d} = {package}.plugin\n")
        (info / "RECORD").write_text("")
        names.append(type_name(i))
    return names
