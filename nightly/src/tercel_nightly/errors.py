"""The nightly's exception tree.

Only the runner's own failures are exceptions: a registry it cannot reach or that refuses it, a
wrong option, a wheel it cannot build. A plugin that fails to install, fails its tests, hangs or
eats memory is not an error of the runner: it is a result, recorded and posted like a pass.
"""

from __future__ import annotations

from tercel.errors import TercelError

__all__ = ["NightlyError", "OptionError", "RegistryRefused", "RegistryUnavailable"]


class NightlyError(TercelError):
    """The root of the nightly's errors: the run cannot go on (the message says what and where)."""


class OptionError(NightlyError):
    """An option or a task property is wrong (no token, a bad `--versions`, a bad night…)."""


class RegistryUnavailable(NightlyError):
    """The registry does not answer, or answers what is not its API (5xx, not JSON)."""


class RegistryRefused(NightlyError):
    """The registry answered with a client error the runner cannot work around (401, 403, 4xx)."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code
