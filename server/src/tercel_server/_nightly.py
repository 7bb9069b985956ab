"""The nightly plugin test run as a system flow of `tercel server local --with-registry`.

The nightly is a task type (`io.tercel.nightly.Run`, from tercel-nightly), so tercel schedules
it like any other work: a flow `system.nightly` with a `Schedule` trigger (default `0 2 * * *`),
whose executions show the run's progress and logs. The run posts its results to the registry this
server serves, with a token scoped to `nightly` that the server makes at each start (the previous
one is revoked) and keeps in the KV store of the `system` namespace, where only system flows read it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

__all__ = ["FLOW_ID", "NAMESPACE", "TASK_TYPE", "TOKEN_KV_KEY", "install_nightly", "nightly_flow_source"]

NAMESPACE = "system"
FLOW_ID = "nightly"
TASK_TYPE = "io.tercel.nightly.Run"
TOKEN_NAME = "tercel-server-nightly"
TOKEN_KV_KEY = "nightly_registry_token"

log = logging.getLogger("tercel.server")


def nightly_flow_source(cron: str, registry_url: str) -> str:
    """The system flow: the nightly task on a schedule, against this server's registry."""
    return (
        f"id: {FLOW_ID}\n"
        f"namespace: {NAMESPACE}\n"
        "description: Every plugin version of this server's registry, tested with its own suite in a clean\n"
        "  environment; the results are posted to the registry (tercel-nightly).\n"
        "tasks:\n"
        "  - id: run\n"
        f"    type: {TASK_TYPE}\n"
        f"    registry: {json.dumps(registry_url)}\n"
        f"    token: \"{{{{ kv('{TOKEN_KV_KEY}') }}}}\"\n"
        "    night: \"{{ trigger.date ?? execution.startDate | date('yyyy-MM-dd') }}\"\n"
        "triggers:\n"
        "  - id: every_night\n"
        "    type: tercel.core.trigger.Schedule\n"
        f"    cron: {json.dumps(cron)}\n"
    )


def install_nightly(runtime: Any, registry: Any, *, cron: str, registry_url: str) -> bool:
    """Deploy `system.nightly` (a new revision only when it changed) with a fresh token; False,
    with a warning, when tercel-nightly is not installed."""
    from tercel.plugins import UnknownType

    try:
        runtime.plugins.get_type(TASK_TYPE)
    except UnknownType:
        log.warning("the nightly plugin test run is not scheduled: install tercel-nightly (it provides %s)", TASK_TYPE)
        return False
    registry.store.revoke_token(TOKEN_NAME)
    token, _ = registry.tokens.create(TOKEN_NAME, ["nightly"])
    runtime.kv.set(NAMESPACE, TOKEN_KV_KEY, token)
    flow = runtime.deploy_flow(nightly_flow_source(cron, registry_url), name=f"{NAMESPACE}.{FLOW_ID}")
    log.info("nightly plugin tests scheduled (%s): flow %s.%s revision %s", cron, NAMESPACE, FLOW_ID, flow.revision)
    return True
