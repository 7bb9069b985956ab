"""`/api/v1/metrics`: Prometheus metrics (text format), with credentials like every endpoint.

The families are listed in `tercel_server._metrics`. A Prometheus scrape config passes the
credentials with `basic_auth` or `authorization: {credentials: <API token>}`.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from tercel.runtime import Runtime

from .._metrics import CONTENT_TYPE, MetricsCollector, render

__all__ = ["MetricsController"]

_STATE_KEY = "tercel_metrics_collector"


def _core_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("tercel-core")
    except metadata.PackageNotFoundError:
        return "unknown"


class MetricsController(Controller):
    path = "/api/v1/metrics"
    tags = ["System"]

    @get("/", summary="Prometheus metrics: executions and task runs by flow and state, queue depth, up", media_type=CONTENT_TYPE)
    async def metrics(self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> Response[str]:
        state = request.app.state
        collector = state.get(_STATE_KEY)
        if collector is None:
            collector = MetricsCollector()
            state[_STATE_KEY] = collector
        text = render(collector.collect(runtime, _core_version()))
        return Response(text, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-cache"})
