"""tercel-registry: where plugins are published, found, documented and installed from."""

__all__: list[str] = []
