"""Plugins: hookspecs, the manifest-based plugin manager, per-version environments and the plugin
hosts that run their tasks."""

from typing import Any

from ._manager import (
    PluginError,
    PluginInfo,
    PluginManager,
    TypeInfo,
    UnknownType,
    plugin_location,
    version_sort_key,
)
from .hookspecs import hookspec

__all__ = [
    "HostPool",
    "HostSpec",
    "InstallError",
    "InstallResult",
    "PluginEnvironment",
    "PluginEnvironments",
    "PluginError",
    "PluginHostCrashed",
    "PluginInfo",
    "PluginManager",
    "PluginTaskError",
    "TypeInfo",
    "UnknownType",
    "find_uv",
    "hookspec",
    "installed_wheel",
    "plugin_location",
    "sdk_wheel",
    "version_sort_key",
]

_HOSTS = ("HostPool", "HostSpec", "PluginHostCrashed", "PluginTaskError")
_ENVIRONMENTS = ("InstallError", "InstallResult", "PluginEnvironment", "PluginEnvironments")
_WHEELS = ("installed_wheel", "sdk_wheel")


def __getattr__(name: str) -> Any:
    # the hosts need the SDK (and pydantic): imported when used, so that listing and validating
    # hundreds of plugins stays cheap
    if name in _HOSTS:
        from . import _hosts

        return getattr(_hosts, name)
    if name in _ENVIRONMENTS:
        from . import _environments

        return getattr(_environments, name)
    if name in _WHEELS:
        from . import _sdk_wheel

        return getattr(_sdk_wheel, name)
    if name == "find_uv":
        from ._installers import find_uv

        return find_uv
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
