"""tercel: a declarative, plugin-first workflow orchestrator."""
