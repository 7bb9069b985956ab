"""Secrets from the environment, the way Kestra's open-source edition reads them, and masking.

`EnvSecretBackend`: secret ``MY_PASSWORD`` is the environment variable ``SECRET_MY_PASSWORD``,
whose value is the secret *base64-encoded* (``echo -n 's3cr3t' | base64``), so any byte sequence
survives shells and ``.env`` files. Environment secrets are global: every namespace sees them.

`SecretMasker`: every secret a run reads is registered, and its logs and error messages are
masked before they are stored or shown.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from tercel.errors import TercelError

__all__ = [
    "ENV_PREFIX",
    "MASK",
    "MIN_SECRET_LENGTH",
    "EnvSecretBackend",
    "SecretError",
    "SecretMasker",
    "SecretNotFound",
]

ENV_PREFIX = "SECRET_"
MASK = "******"
MIN_SECRET_LENGTH = 4
"""Shorter values are not masked: masking every ``a`` or ``10`` in the logs hides more than it
protects (a 1-3 character secret is not a secret worth the name anyway)."""


class SecretError(TercelError):
    """A secret could not be read (its value is never part of the message)."""


class SecretNotFound(SecretError):
    """No such secret; the message names the environment variable that was expected."""

    def __init__(self, name: str, variable: str, hint: str | None = None) -> None:
        self.name = name
        self.variable = variable
        message = f"secret {name!r} not found: set the environment variable {variable} to its base64-encoded value"
        super().__init__(f"{message} ({hint})" if hint else message)


class EnvSecretBackend:
    """Secrets from ``SECRET_<NAME>`` environment variables holding base64 values."""

    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        self._environ = environ

    def get(self, namespace: str, name: str) -> str:
        """The decoded secret. `namespace` is accepted for the backend contract but unused:
        environment secrets are the same for every namespace."""
        variable = ENV_PREFIX + name
        raw = self._environ.get(variable) if name else None
        if raw is None:
            upper = ENV_PREFIX + name.upper()
            hint = f"{upper} exists: secret names are case-sensitive" if name and upper in self._environ else None
            raise SecretNotFound(name, variable, hint)
        return _decode(raw, variable)

    def list_names(self) -> list[str]:
        """Names of the secrets that are set (without the prefix), sorted."""
        return sorted(k[len(ENV_PREFIX) :] for k in self._environ if k.startswith(ENV_PREFIX) and len(k) > len(ENV_PREFIX))


def _decode(raw: str, variable: str) -> str:
    # Tolerate what shells and tools add: whitespace and line wraps (`base64` wraps at 76
    # columns), and missing padding.
    text = "".join(raw.split())
    text += "=" * (-len(text) % 4)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SecretError(
            f"the environment variable {variable} is not valid base64 "
            f"(secrets must be base64-encoded, e.g. `echo -n 'value' | base64`)"
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretError(f"the environment variable {variable} decodes to bytes that are not UTF-8 text") from None


class SecretMasker:
    """Replaces every registered secret in text with ``******``.

    For each secret, its base64 form (without padding, so it also matches inside longer base64)
    and URL-encoded forms are registered too, and so is each line of a multi-line secret (a
    private key logged line by line). Values shorter than `MIN_SECRET_LENGTH` are ignored.

    All secrets are matched by one compiled regex, built as a trie so it stays fast with many
    secrets and always masks the longest secret at a position; it is rebuilt lazily after `add`.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._dirty = False
        self._lock = threading.Lock()
        for secret in secrets:
            self.add(secret)

    def __len__(self) -> int:
        """How many distinct strings are masked (a secret and its encoded forms count apart)."""
        return len(self._values)

    def add(self, value: str) -> None:
        """Register a secret (and its encoded forms); values under 4 characters are ignored."""
        if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
            return
        forms = {value, quote(value, safe=""), quote_plus(value), quote(value)}
        data = value.encode("utf-8", "surrogatepass")
        forms.add(base64.b64encode(data).decode("ascii").rstrip("="))
        forms.add(base64.urlsafe_b64encode(data).decode("ascii").rstrip("="))
        if "\n" in value:
            forms.update(line.strip() for line in value.splitlines())
        forms = {f for f in forms if len(f) >= MIN_SECRET_LENGTH} - self._values
        if forms:
            with self._lock:
                self._values |= forms
                self._dirty = True

    def mask(self, text: str) -> str:
        """`text` with every occurrence of a registered secret replaced by ``******``."""
        pattern = self._compiled()
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)

    def mask_value(self, value: Any) -> Any:
        """Mask strings anywhere in dicts, lists and tuples (keys too); other values as they are."""
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, Mapping):
            return {self.mask_value(k): self.mask_value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.mask_value(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.mask_value(v) for v in value)
        return value

    def _compiled(self) -> re.Pattern[str] | None:
        if self._dirty:
            with self._lock:
                if self._dirty:
                    self._pattern = re.compile(_trie_pattern(self._values)) if self._values else None
                    self._dirty = False
        return self._pattern


def _trie_pattern(words: Iterable[str]) -> str:
    """A regex matching any of `words`, preferring the longest at each position.

    Built from a character trie: alternatives at a node start with different characters, so at
    most one continues, and a word that is a prefix of a longer one makes the rest optional
    (greedy: longer first). Single-child chains are merged into one literal so the nesting
    depth stays the number of branch points, not the length of a private key.
    """
    root: dict[str, Any] = {}
    end = ""  # key marking "a word ends here" (no word contains an empty character)
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[end] = True

    def build(node: dict[str, Any]) -> str:
        branches = []
        for char in sorted(k for k in node if k != end):
            literal = char
            child = node[char]
            while len(child) == 1 and end not in child:
                (next_char, child), = child.items()
                literal += next_char
            rest = build(child) if any(k != end for k in child) else ""
            if rest and end in child:
                rest = f"(?:{rest})?"
            branches.append(re.escape(literal) + rest)
        if len(branches) == 1:
            return branches[0]
        return "(?:" + "|".join(branches) + ")"

    return build(root)
