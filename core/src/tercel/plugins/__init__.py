"""Plugins: hookspecs and the manifest-based plugin manager."""

from ._manager import PluginError, PluginInfo, PluginManager, TypeInfo, UnknownType
from .hookspecs import hookspec

__all__ = ["PluginError", "PluginInfo", "PluginManager", "TypeInfo", "UnknownType", "hookspec"]
