"""Which installed version of a plugin a task or trigger uses: the pure decision.

A type may pin `version:` (DESIGN §6, Kestra's versioned plugins): an exact version (`1.2.0`),
a PEP 440 specifier (`~=1.2`, `>=2,<3`), `latest` or `oldest`. Without a pin, the default
decides (`latest`, `oldest`, or `none`: every task must pin). The answer names the versions
installed and why none fits, so the flow's validation can say it where the pin is written.
"""

from __future__ import annotations

from collections.abc import Iterable

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

__all__ = ["DEFAULT_CHOICES", "VersionChoiceError", "choose_version"]

#: What an instance or namespace may say when a type has no `version:`.
DEFAULT_CHOICES = ("latest", "oldest", "none")


class VersionChoiceError(ValueError):
    """No installed version fits what was asked; the message says what is installed and why."""


def _parse(versions: Iterable[str]) -> list[tuple[Version, str]]:
    parsed = []
    for text in versions:
        try:
            parsed.append((Version(text), text))
        except InvalidVersion:
            continue  # not PEP 440: it can only be chosen by its exact text
    return sorted(parsed)


def choose_version(requested: str | None, installed: Iterable[str], *, default: str = "latest") -> str:
    """The installed version `requested` (or, when None, `default`) picks, as installed."""
    available = list(dict.fromkeys(str(v) for v in installed))
    if not available:
        raise VersionChoiceError("no version is installed")
    shown = ", ".join(text for _, text in _parse(available)) or ", ".join(available)
    ask = (requested if requested is not None else default).strip()
    if requested is None and ask == "none":
        raise VersionChoiceError(f"this instance needs every task to pin its `version` (installed: {shown})")
    if ask in ("latest", "oldest"):
        ordered = _parse(available)
        if not ordered:
            return available[-1]
        return ordered[-1][1] if ask == "latest" else ordered[0][1]
    if ask in available:
        return ask
    try:
        wanted = Version(ask)
    except InvalidVersion:
        wanted = None
    if wanted is not None:
        for version, text in _parse(available):
            if version == wanted:
                return text  # `1.2` is `1.2.0`
        raise VersionChoiceError(f"version {ask} is not installed (installed: {shown})")
    try:
        spec = SpecifierSet(ask)
    except InvalidSpecifier:
        raise VersionChoiceError(
            f"{ask!r} is not a version: write an exact version (1.2.0), a specifier (~=1.2, >=2,<3), "
            "`latest` or `oldest`"
        ) from None
    matching = [text for version, text in _parse(available) if spec.contains(version, prereleases=True)]
    if not matching:
        raise VersionChoiceError(f"no installed version matches {ask} (installed: {shown})")
    return matching[-1]  # the newest that matches
