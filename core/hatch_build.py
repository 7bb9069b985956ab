"""Ship the plugin template inside the tercel-core wheel (`tercel plugins new` bakes from it).

The template lives at the repository's root (`plugin-template/`), beside `core/`. A wheel built
from the repository takes it from there; a wheel built from the sdist takes the copy the sdist
carries. Its own tests stay out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

_PARTS = ("cookiecutter.json", "hooks", "{{cookiecutter.__distribution}}")


class PluginTemplateHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        for source in (root.parent / "plugin-template", root / "plugin-template"):
            if (source / "cookiecutter.json").is_file():
                for part in _PARTS:
                    build_data["force_include"][str(source / part)] = f"tercel/_plugin_template/{part}"
                return
        raise FileNotFoundError(f"no plugin-template beside or inside {root}: tercel plugins new needs it")
