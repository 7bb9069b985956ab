"""Publishing tokens: made once, stored as their SHA-256, each limited to project-name patterns.

A token is a long random string (`trg_…`), so a fast hash is enough to keep it safe at rest and
to find it again. Its scopes are `fnmatch` patterns on normalized project names (`tercel-plugin-x*`;
`*` is every project). Reading the index and the catalog needs no token; uploading and yanking
need one whose scopes match the project. Clients send it the way PyPI's do: HTTP Basic with the
username `__token__` and the token as the password (twine, uv publish), or `Authorization: Bearer`.

One scope is not a pattern: the literal `nightly` lets a token post nightly test results, and
nothing else. It is never read as a project pattern (a `nightly`-only token cannot publish),
and no pattern grants it (`*` cannot post results): publishing and reporting stay separate.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Sequence

from ._errors import BadRequest, Forbidden, Unauthorized
from ._names import normalize_scope, scope_allows
from ._store import RegistryStore, TokenRecord

__all__ = ["NIGHTLY_SCOPE", "TOKEN_PREFIX", "TokenManager", "token_digest"]

TOKEN_PREFIX = "trg_"
#: The scope that lets a token post nightly results (`tercel registry token create nightly --scope nightly`).
NIGHTLY_SCOPE = "nightly"
USERNAME = "__token__"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenManager:
    """Creates, lists, revokes and checks the registry's tokens."""

    def __init__(self, store: RegistryStore) -> None:
        self.store = store

    def create(self, name: str, scopes: Sequence[str]) -> tuple[str, TokenRecord]:
        """A new token (the only time it is seen) and its record."""
        name = name.strip()
        if not name:
            raise BadRequest("a token needs a name")
        patterns = [normalize_scope(s) for s in scopes if s.strip()]
        if not patterns:
            raise BadRequest(
                f"a token needs at least one scope (like 'tercel-plugin-x*', or '*' for every project, or {NIGHTLY_SCOPE!r})"
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        return token, self.store.add_token(name, token_digest(token), patterns)

    def authenticate(self, authorization: str | None) -> TokenRecord:
        """The live token an `Authorization` header carries: 401 without one or for an unknown
        token, 403 for a revoked one."""
        if not authorization:
            raise Unauthorized(
                f"this needs a registry token: HTTP Basic with the username {USERNAME} and the token as "
                "the password (twine upload -u __token__ -p trg_…), or Authorization: Bearer trg_…"
            )
        scheme, _, value = authorization.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            try:
                user, sep, token = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
            except (binascii.Error, ValueError, UnicodeDecodeError):
                raise Unauthorized("malformed HTTP Basic credentials") from None
            if not sep or user != USERNAME:
                raise Unauthorized(f"use the username {USERNAME} with a registry token as the password (got the username {user!r})")
        elif scheme == "bearer":
            token = value.strip()
        else:
            raise Unauthorized(f"unsupported authorization scheme {scheme!r}: use Basic ({USERNAME}) or Bearer")
        record = self.store.token_by_digest(token_digest(token))
        if record is None:
            raise Unauthorized("unknown registry token (tercel registry token list shows the tokens by name)")
        if record.revoked is not None:
            raise Forbidden(f"the registry token {record.name!r} was revoked on {record.revoked:%Y-%m-%d %H:%M} UTC")
        return record

    def authorize(self, token: TokenRecord, project: str) -> None:
        """403 unless one of the token's project patterns (its scopes but `nightly`) matches
        the normalized project name."""
        if not scope_allows([s for s in token.scopes if s != NIGHTLY_SCOPE], project):
            scopes = ", ".join(repr(s) for s in token.scopes)
            raise Forbidden(
                f"the token {token.name!r} may not publish to {project!r}: its scopes are {scopes}"
                + (f" ({NIGHTLY_SCOPE!r} only posts nightly results)" if NIGHTLY_SCOPE in token.scopes else "")
            )

    def authorize_nightly(self, token: TokenRecord) -> None:
        """403 unless the token has the exact scope `nightly` (no pattern grants it)."""
        if NIGHTLY_SCOPE not in token.scopes:
            scopes = ", ".join(repr(s) for s in token.scopes)
            raise Forbidden(
                f"the token {token.name!r} may not post nightly results: that needs the scope {NIGHTLY_SCOPE!r} "
                f"(its scopes are {scopes}; tercel registry token create nightly --scope {NIGHTLY_SCOPE})"
            )
