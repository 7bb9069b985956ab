"""tercel-nightly: every plugin version's own tests, in a clean environment, every night."""

__all__: list[str] = []
