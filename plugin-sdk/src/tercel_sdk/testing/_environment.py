"""What one throwaway tercel is made of: settings over its own home (database, storage and
plugin environments there, whatever the shell's `TERCEL_*` say), a plugin manager holding the
installed plugins plus the test's plugin modules and classes, and the test's secrets.

The sandbox builds its runtime from these, and `validate` its flow loader; the registration
rules (a test's class must not hide an installed type of the same name) live here once.
"""

from __future__ import annotations

import re
import types as _types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._hooks import hookimpl
from .._task import PluginType

__all__ = ["SeededSecrets", "plugin_manager", "sandbox_settings"]


def _adhoc_plugin(classes: Sequence[type[PluginType]]) -> _types.ModuleType:
    """A plugin module registering classes defined in the tests themselves."""
    module = _types.ModuleType("tercel_testing_adhoc")

    def of_kind(kind: str) -> list[type[PluginType]]:
        return [c for c in classes if getattr(c, "type_kind", "task") == kind]

    @hookimpl
    def tercel_task_types() -> list[type[PluginType]]:
        return of_kind("task")

    @hookimpl
    def tercel_trigger_types() -> list[type[PluginType]]:
        return of_kind("trigger")

    @hookimpl
    def tercel_condition_types() -> list[type[PluginType]]:
        return of_kind("condition")

    module.tercel_task_types = tercel_task_types  # type: ignore[attr-defined]
    module.tercel_trigger_types = tercel_trigger_types  # type: ignore[attr-defined]
    module.tercel_condition_types = tercel_condition_types  # type: ignore[attr-defined]
    return module


def _distribution_of(module: _types.ModuleType) -> tuple[str, str]:
    """The distribution and version a plugin module comes from: the installed distribution
    holding its package, else its package's name (`tercel_plugin_x` is `tercel-plugin-x`) and
    `__version__` (0.0.0 without one)."""
    import sys
    from importlib import metadata

    top = module.__name__.partition(".")[0]
    names = metadata.packages_distributions().get(top) or []
    if names:
        name = re.sub(r"[-_.]+", "-", names[0]).lower()
        try:
            return name, metadata.version(names[0])
        except metadata.PackageNotFoundError:
            pass
    else:
        name = top.replace("_", "-").lower()
    version = getattr(module, "__version__", None) or getattr(sys.modules.get(top), "__version__", None)
    return name, str(version or "0.0.0")


def plugin_manager(settings: Any, types: Sequence[type[PluginType]], plugins: Sequence[_types.ModuleType]) -> Any:
    """The installed plugins (this sandbox's plugin environments only), plus the plugin
    modules and classes of the test, registered as an installed plugin's would be."""
    manager = settings.plugin_manager().discover()
    for module in plugins:
        if not isinstance(module, _types.ModuleType):
            raise TypeError(f"plugins= takes entry-point modules (with @hookimpl functions), not {module!r}")
        distribution, version = _distribution_of(module)
        known = manager.plugins.get(distribution)
        if known is not None and known.module == module.__name__ and not known.error:
            continue  # installed in this environment: discovered like any other plugin
        manager.hook  # noqa: B018 - the hook relay first, so this very module's hooks are registered
        manager.add_module(module, distribution=distribution, version=version)
    if types:
        for cls in types:
            if not (isinstance(cls, type) and issubclass(cls, PluginType)) or not cls.type_name:
                raise TypeError(f"types= takes plugin type classes with a type_name, not {cls!r}")
        manager.add_module(_adhoc_plugin(list(types)), distribution="tercel-testing-adhoc", version="0")
        for cls in types:
            info = manager.get_type(cls.type_name)
            if info.class_path != f"{cls.__module__}:{cls.__qualname__}" and info.distribution != "tercel-testing-adhoc":
                raise ValueError(
                    f"type {cls.type_name!r} of {cls.__module__}.{cls.__qualname__} is also provided by the installed "
                    f"{info.distribution} {info.version} ({info.class_path}): the installed one would run; "
                    "give the test's class another type_name, or test the installed plugin with plugins=[...]"
                )
    return manager


def sandbox_settings(home: Path, overrides: Mapping[str, Any] | None) -> Any:
    """Settings of a throwaway tercel in `home`: its own database, storage and plugin
    environments, whatever `TERCEL_DATABASE_URL`/`TERCEL_STORAGE_PATH`/`TERCEL_HOME` say."""
    from tercel.settings import Settings

    values: dict[str, Any] = {
        "home": home,
        "database_url": f"sqlite:///{home / 'tercel.db'}",
        "storage_path": home / "storage",
    }
    values.update(overrides or {})
    return Settings(**values)


class SeededSecrets:
    """The test's secrets first, then the usual `SECRET_<NAME>` environment variables."""

    def __init__(self, values: Mapping[str, str], fallback: Any) -> None:
        self._values = {str(k): str(v) for k, v in values.items()}
        self._fallback = fallback

    def get(self, namespace: str, name: str) -> str:
        if name in self._values:
            return self._values[name]
        return self._fallback.get(namespace, name)

    def list_names(self) -> list[str]:
        return sorted({*self._values, *self._fallback.list_names()})
