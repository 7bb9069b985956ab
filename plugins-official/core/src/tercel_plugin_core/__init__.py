"""tercel-plugin-core: tercel's core task types (Log, Return, OutputValues, Fail, Sleep,
Sequential, Parallel, If, Switch, ForEach), also reachable by their Kestra names.

Nothing is imported here, so that discovering the plugin stays cheap; the types live in
`log`, `debug`, `output`, `execution` and `flow`, and `plugin` registers them.
"""

__all__: list[str] = []
