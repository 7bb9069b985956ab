"""A plugin's nightly badge: a shields.io-style SVG (`nightly | passing`) a README can embed.

Drawn here, not fetched from shields.io: the registry runs offline and a badge must not tell a
third party who reads which README. Text widths are estimated from Verdana 11px's average
advance (what shields.io lays out with), so the two halves fit their words; every text is
escaped (quotes too: the title is an attribute), although every word drawn is the registry's own.
"""

from __future__ import annotations

from html import escape

from ._nightly_docs import NOT_RUN

__all__ = ["BADGES", "badge_svg"]

#: status → (the word shown, the colour), as shields.io colours them.
BADGES: dict[str, tuple[str, str]] = {
    "passed": ("passing", "#4c1"),
    "failed": ("failing", "#e05d44"),
    "error": ("error", "#fe7d37"),
    "timeout": ("timeout", "#fe7d37"),
    NOT_RUN: ("not run", "#9f9f9f"),
}
UNKNOWN = ("unknown", "#9f9f9f")
_NARROW = set("fijlrtI1.,:;'|! ")
_WIDE = set("mwMW%@")


def _width(text: str) -> int:
    """The estimated width of `text` in Verdana 11px, plus the padding of a half."""
    width = sum(4.0 if c in _NARROW else 10.0 if c in _WIDE else 7.0 for c in text)
    return round(width) + 10


def badge_svg(status: str, label: str = "nightly") -> str:
    """The badge of a status (`passed`, `failed`, `error`, `timeout`, `not run`; else grey
    `unknown`)."""
    word, colour = BADGES.get(status, UNKNOWN)
    left, right = _width(label), _width(word)
    total = left + right
    label_x, word_x = left * 5, (left + right / 2) * 10  # text is drawn at 10x and scaled down
    title = escape(f"{label}: {word}")
    label_text, word_text = escape(label), escape(word)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" aria-label="{title}">'
        f"<title>{title}</title>"
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
        '<stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
        f'<rect width="{total}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="110">'
        f'<text x="{label_x}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)">{label_text}</text>'
        f'<text x="{label_x}" y="140" transform="scale(.1)">{label_text}</text>'
        f'<text x="{word_x:.0f}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)">{word_text}</text>'
        f'<text x="{word_x:.0f}" y="140" transform="scale(.1)">{word_text}</text>'
        "</g></svg>"
    )
