"""Names and versions as the index standards compare them.

A project is known by its PEP 503 normalized name (`Tercel_Plugin.X` → `tercel-plugin-x`); a
version by its PEP 440 canonical form (`1.0` and `1.0.0` are the same release). Token scopes are
`fnmatch` patterns, normalized the same way, matched against normalized names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from fnmatch import fnmatchcase
from functools import lru_cache

from packaging.utils import canonicalize_name, canonicalize_version
from packaging.version import InvalidVersion, Version

__all__ = [
    "canonical_name",
    "canonical_version",
    "latest_version",
    "normalize_scope",
    "scope_allows",
    "version_key",
]

_SEPARATORS = re.compile(r"[-_.]+")


def canonical_name(name: str) -> str:
    """The PEP 503 normalized name."""
    return canonicalize_name(name)


def canonical_version(version: str) -> str:
    """The PEP 440 canonical form, used to find a release (`1.0.0` → `1`, `1.0` → `1`)."""
    return canonicalize_version(version, strip_trailing_zero=True)


@lru_cache(maxsize=8192)
def version_key(version: str) -> tuple[int, Version | str]:
    """Sort key: PEP 440 order; versions that do not parse (none should exist) first. Cached:
    a night's results sort thousands of the same few versions (parsing is most of the cost)."""
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def latest_version(versions: Iterable[tuple[str, bool]]) -> str | None:
    """The version a user means by "latest" among (version, yanked) pairs: the highest final
    release that is not yanked, else the highest pre-release not yanked, else the highest."""
    ordered = sorted(versions, key=lambda v: version_key(v[0]), reverse=True)
    for want_final in (True, False):
        for version, yanked in ordered:
            if yanked:
                continue
            key = version_key(version)[1]
            if not want_final or (isinstance(key, Version) and not key.is_prerelease):
                return version
    return ordered[0][0] if ordered else None


def normalize_scope(pattern: str) -> str:
    """A scope pattern in the normalized names' form: lowercase, `-` for runs of `-_.`."""
    return _SEPARATORS.sub("-", pattern.strip().lower())


def scope_allows(scopes: Iterable[str], name: str) -> bool:
    """Whether one of the scope patterns matches the normalized project name (`*`: every one)."""
    return any(fnmatchcase(name, pattern) for pattern in scopes)
