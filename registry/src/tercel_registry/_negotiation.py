"""Which serialization of the simple API a client gets (PEP 691 content negotiation).

The client lists what it understands in `Accept`, with quality values; the server answers the
offer with the highest quality, taking each offer's quality from the most specific range that
matches it (`type/subtype` over `type/*` over `*/*`). Ties go to the first offer below:
`text/html` first, the PEP 503 default a plain `*/*` (or no `Accept` at all) gets. The `latest`
meta-versions stand for v1. Nothing acceptable: 406 (PEP 691 lets a server choose that over a
default, and a client asking only for what we cannot give is better told so). `?format=` (one
content type, no wildcards) takes precedence over `Accept`.
"""

from __future__ import annotations

from ._errors import NotAcceptable

__all__ = ["HTML_V1", "JSON_V1", "OFFERS", "TEXT_HTML", "choose_format"]

TEXT_HTML = "text/html"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
JSON_V1 = "application/vnd.pypi.simple.v1+json"
OFFERS = (TEXT_HTML, HTML_V1, JSON_V1)
_LATEST = {
    "application/vnd.pypi.simple.latest+html": HTML_V1,
    "application/vnd.pypi.simple.latest+json": JSON_V1,
}


def _ranges(accept: str) -> list[tuple[str, float]]:
    """(media range, quality) of an Accept header; malformed entries are skipped."""
    out = []
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        media = media.lower()
        if media.count("/") != 1:
            continue
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = -1.0
        if 0.0 <= quality <= 1.0:
            out.append((_LATEST.get(media, media), quality))
    return out


def _quality(offer: str, ranges: list[tuple[str, float]]) -> float:
    kind = offer.split("/")[0]
    best, specificity = 0.0, -1
    for media, quality in ranges:
        if media == offer:
            level = 2
        elif media == f"{kind}/*":
            level = 1
        elif media == "*/*":
            level = 0
        else:
            continue
        if level > specificity or (level == specificity and quality > best):
            best, specificity = quality, level
    return best


def choose_format(accept: str | None, format: str | None = None) -> str:
    """The content type to answer with (one of `OFFERS`); `NotAcceptable` when none fits."""
    available = ", ".join(OFFERS)
    if format:
        wanted = _LATEST.get(format.strip().lower(), format.strip().lower())
        if wanted in OFFERS:
            return wanted
        raise NotAcceptable(f"format {format!r} is not served here: use one of {available}")
    ranges = _ranges(accept) if accept and accept.strip() else [("*/*", 1.0)]
    chosen, best = None, 0.0
    for offer in OFFERS:
        quality = _quality(offer, ranges)
        if quality > best:
            chosen, best = offer, quality
    if chosen is None:
        raise NotAcceptable(f"nothing in Accept: {accept} is served here: ask for one of {available}")
    return chosen
