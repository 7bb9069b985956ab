"""`/badges/<name>.svg`: a plugin's nightly badge, for its README.

The status of the plugin's latest version that is not yanked. Cached five minutes (a README
host's image proxy asks often; the status changes once a night). An unknown plugin is a 404
that is still a (grey, `unknown`) badge, so an embedding page shows something readable.
"""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from .._badges import badge_svg
from .._errors import NotFound
from .._registry import Registry

__all__ = ["BadgesController"]

SVG = "image/svg+xml"
CACHE = {"Cache-Control": "max-age=300"}


class BadgesController(Controller):
    path = "/badges"
    opt = {"errors": "text"}
    tags = ["Nightly"]

    @get("/{filename:str}", sync_to_thread=True, summary="A plugin's nightly badge (SVG): /badges/tercel-plugin-x.svg")
    def badge(self, registry: NamedDependency[Registry], filename: FromPath[str]) -> Response[str]:
        if not filename.endswith(".svg"):
            raise NotFound(f"no badge {filename!r}: badges are /badges/<plugin>.svg")
        try:
            status = registry.nightly.badge_status(filename.removesuffix(".svg"))
        except NotFound:
            return Response(badge_svg("unknown"), status_code=404, media_type=SVG, headers=CACHE)
        return Response(badge_svg(status), media_type=SVG, headers=CACHE)
