"""Who may call the API: one basic-auth account and any number of bearer API tokens.

Secrets are never stored: the password as a salted scrypt hash, tokens as their SHA-256 (they
are long random strings, so a fast hash is enough). Every comparison is constant-time. The
credentials live in `TERCEL_HOME/server/credentials.json`; on the first start without preset
credentials an account is generated and its password printed once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

__all__ = ["AuthMiddleware", "Credentials", "Principal"]

_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
TOKEN_PREFIX = "tcl_"


#: How long a verified password is remembered (seconds).
VERIFIED_FOR = 600.0


def _scrypt(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, **_SCRYPT)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: the basic-auth user, or the name of an API token."""

    name: str
    kind: str  # "basic" or "token"


class Credentials:
    """The account and the API tokens, kept hashed in one JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._data: dict[str, Any] = {"account": None, "tokens": []}
        self._stamp: int | None = None
        # passwords verified lately, as a keyed digest (never the password), each with the
        # account hash it matched and when: scrypt is slow on purpose, a client sending the
        # same password on every request pays it once (failures are never remembered)
        self._verified: dict[bytes, tuple[str, float]] = {}
        self._cache_key = secrets.token_bytes(32)
        self._refresh()

    def _refresh(self) -> None:
        """Re-read the file when it changed (`tercel server token create` on a running server)."""
        try:
            stamp = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return
        if stamp != self._stamp:
            self._data = json.loads(self.path.read_text(encoding="utf-8"))
            self._stamp = stamp

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._data, indent=2), encoding="utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(self.path)
        self._stamp = self.path.stat().st_mtime_ns

    def set_account(self, username: str, password: str) -> None:
        salt = secrets.token_bytes(16)
        with self._lock:
            self._data["account"] = {
                "username": username,
                "salt": base64.b64encode(salt).decode(),
                "hash": base64.b64encode(_scrypt(password, salt)).decode(),
            }
            self._save()

    def ensure_account(self, username: str | None, password: str | None) -> str | None:
        """Use the preset account, else the stored one, else generate one: returns the generated
        password (to print once), or None."""
        if username is not None and password is not None:
            account = self._data.get("account")
            if not account or account.get("username") != username or not self.check_password(username, password):
                self.set_account(username, password)
            return None
        if self._data.get("account"):
            return None
        generated = secrets.token_urlsafe(18)
        self.set_account("admin", generated)
        return generated

    @property
    def username(self) -> str | None:
        account = self._data.get("account")
        return account["username"] if account else None

    def check_password(self, username: str, password: str) -> bool:
        """Whether these are the account's username and password (scrypt, unless the same pair
        was verified in the last `VERIFIED_FOR` seconds against the same stored hash)."""
        self._refresh()
        account = self._data.get("account")
        if not account:
            return False
        key = hmac.new(self._cache_key, f"{username}\0{password}".encode(), hashlib.sha256).digest()
        seen = self._verified.get(key)
        if seen is not None and seen[0] == account["hash"] and time.monotonic() - seen[1] < VERIFIED_FOR:
            return True
        expected = base64.b64decode(account["hash"])
        actual = _scrypt(password, base64.b64decode(account["salt"]))
        same_user = hmac.compare_digest(username.encode("utf-8"), account["username"].encode("utf-8"))
        if hmac.compare_digest(actual, expected) and same_user:
            if len(self._verified) >= 64:
                self._verified.clear()
            self._verified[key] = (account["hash"], time.monotonic())
            return True
        return False

    def create_token(self, name: str) -> str:
        """A new API token (shown once) named `name`."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._lock:
            self._refresh()
            if any(t["name"] == name for t in self._data.get("tokens", [])):
                raise ValueError(f"a token named {name!r} exists already: revoke it first or pick another name")
            self._data.setdefault("tokens", []).append(
                {"name": name, "hash": _token_hash(token), "created": datetime.now(UTC).isoformat()}
            )
            self._save()
        return token

    def tokens(self) -> list[dict[str, str]]:
        """Names and creation dates of the tokens (never their values)."""
        return [{"name": t["name"], "created": t["created"]} for t in self._data.get("tokens", [])]

    def revoke_token(self, name: str) -> bool:
        with self._lock:
            self._refresh()
            before = len(self._data.get("tokens", []))
            self._data["tokens"] = [t for t in self._data.get("tokens", []) if t["name"] != name]
            self._save()
            return len(self._data["tokens"]) < before

    def check_token(self, token: str) -> str | None:
        """The token's name if it is a valid token, else None (constant-time per stored token)."""
        self._refresh()
        digest = _token_hash(token)
        found = None
        for entry in self._data.get("tokens", []):
            if hmac.compare_digest(digest, entry["hash"]):
                found = entry["name"]
        return found


class AuthMiddleware(AbstractAuthenticationMiddleware):
    """Basic auth or `Authorization: Bearer <token>` on every path but the excluded ones."""

    credentials: Credentials  # set by `create_app` on the class it builds

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            try:
                user, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                raise _unauthorized("malformed basic credentials") from None
            # scrypt takes tens of milliseconds: off the event loop
            if sep and await asyncio.to_thread(self.credentials.check_password, user, password):
                return AuthenticationResult(user=Principal(user, "basic"), auth="basic")
            raise _unauthorized("wrong username or password")
        if scheme == "bearer":
            name = self.credentials.check_token(value.strip())
            if name is not None:
                return AuthenticationResult(user=Principal(name, "token"), auth="token")
            raise _unauthorized("unknown or revoked API token")
        raise _unauthorized("credentials required: basic auth or an API token (Authorization: Bearer …)")


def _unauthorized(detail: str) -> NotAuthorizedException:
    return NotAuthorizedException(detail=detail, headers={"WWW-Authenticate": 'Basic realm="tercel", Bearer'})
