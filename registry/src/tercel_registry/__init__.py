"""tercel-registry: where plugins are published, found, documented and installed from.

A package index pip, uv and twine use unchanged (PEP 503/691 simple API, PEP 658/714 metadata
files, PEP 700 fields, PEP 592 yanking, the legacy upload API) and a catalog of the plugins'
types with their docs, as a standalone app or mounted inside `tercel server`.
"""

from ._app import RegistryMount, create_registry_app
from ._config import RegistryConfig
from ._errors import RegistryError
from ._registry import Registry

__all__ = ["Registry", "RegistryConfig", "RegistryError", "RegistryMount", "create_registry_app"]
