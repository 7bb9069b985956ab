"""Secrets from SECRET_* environment variables, and masking of logs and errors."""

from __future__ import annotations

import base64
import random
import re
import string
from urllib.parse import quote, quote_plus

import pytest
from tercel.errors import TercelError
from tercel.secrets import (
    MASK,
    EnvSecretBackend,
    SecretError,
    SecretMasker,
    SecretNotFound,
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_reads_base64_values_from_secret_variables() -> None:
    backend = EnvSecretBackend({"SECRET_MY_PASSWORD": b64("s3cr3t ü"), "OTHER": "x"})
    assert backend.get("company.team", "MY_PASSWORD") == "s3cr3t ü"
    assert backend.get("any.namespace", "MY_PASSWORD") == "s3cr3t ü"  # env secrets are global


def test_tolerates_wrapped_and_unpadded_base64() -> None:
    key = "-----BEGIN KEY-----\n" + "A" * 200 + "\n-----END KEY-----"
    wrapped = "\n".join(b64(key)[i : i + 76] for i in range(0, len(b64(key)), 76)) + "\n"
    backend = EnvSecretBackend({"SECRET_KEY": wrapped, "SECRET_SHORT": b64("ab").rstrip("=")})
    assert backend.get("ns", "KEY") == key
    assert backend.get("ns", "SHORT") == "ab"


def test_missing_secret_names_the_variable() -> None:
    backend = EnvSecretBackend({"SECRET_TOKEN": b64("x")})
    with pytest.raises(SecretNotFound) as info:
        backend.get("ns", "API_KEY")
    assert "SECRET_API_KEY" in str(info.value) and "base64" in str(info.value)
    assert info.value.variable == "SECRET_API_KEY"
    assert isinstance(info.value, SecretError) and isinstance(info.value, TercelError)
    with pytest.raises(SecretNotFound, match="case-sensitive"):
        backend.get("ns", "token")
    with pytest.raises(SecretNotFound):
        backend.get("ns", "")


def test_invalid_base64_is_reported_without_the_value() -> None:
    backend = EnvSecretBackend({"SECRET_PLAIN": "not base64 at all!", "SECRET_BINARY": base64.b64encode(b"\xff\xfe").decode()})
    with pytest.raises(SecretError, match="SECRET_PLAIN is not valid base64") as info:
        backend.get("ns", "PLAIN")
    assert "not base64 at all" not in str(info.value)
    assert not isinstance(info.value, SecretNotFound)
    with pytest.raises(SecretError, match="not UTF-8"):
        backend.get("ns", "BINARY")


def test_list_names() -> None:
    backend = EnvSecretBackend({"SECRET_B": "", "SECRET_A": "", "SECRET_": "", "PATH": "/bin"})
    assert backend.list_names() == ["A", "B"]


def test_default_environment_is_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_FROM_ENV", b64("value"))
    assert EnvSecretBackend().get("ns", "FROM_ENV") == "value"


def test_masks_secret_and_its_encoded_forms() -> None:
    secret = "p@ss w/rd+?"
    masker = SecretMasker([secret])
    text = (
        f"plain={secret} b64={base64.b64encode(secret.encode()).decode()} "
        f"url={quote(secret, safe='')} form={quote_plus(secret)}"
    )
    assert masker.mask(text) == f"plain={MASK} b64={MASK}= url={MASK} form={MASK}"


def test_base64_inside_a_longer_base64_string_is_masked() -> None:
    masker = SecretMasker(["token-123"])
    basic = base64.b64encode(b"token-123:extra").decode()
    assert masker.mask(f"Authorization: Basic {basic}").startswith(f"Authorization: Basic {MASK}")


def test_short_values_are_ignored() -> None:
    masker = SecretMasker(["abc", "", "a"])
    assert len(masker) == 0
    assert masker.mask("abc a b c") == "abc a b c"


def test_longest_secret_wins() -> None:
    masker = SecretMasker(["secret", "secret-extended", "cret-ex"])
    assert masker.mask("a secret-extended b secret c") == f"a {MASK} b {MASK} c"
    assert masker.mask("secret-ex") == f"{MASK}-ex"


def test_regex_metacharacters_are_literal() -> None:
    masker = SecretMasker(["a.b*c(d)", "[x]{2}", "^$|\\"])
    assert masker.mask("a.b*c(d) axbbc [x]{2} xx ^$|\\") == f"{MASK} axbbc {MASK} xx {MASK}"


def test_multi_line_secret_lines_are_masked_one_by_one() -> None:
    key = "-----BEGIN-----\nMIIEvQIBADANBg\nkqhkiG9w0BAQEF\n-----END-----"
    masker = SecretMasker([key])
    assert masker.mask(key) == MASK
    assert masker.mask("line 2: MIIEvQIBADANBg") == f"line 2: {MASK}"


def test_mask_value_walks_structures() -> None:
    masker = SecretMasker(["hunter2!"])
    value = {
        "msg": "login with hunter2!",
        "nested": [{"pw": "hunter2!"}, ("x hunter2!", 3)],
        "hunter2!": None,
        "n": 1,
    }
    assert masker.mask_value(value) == {
        "msg": f"login with {MASK}",
        "nested": [{"pw": MASK}, (f"x {MASK}", 3)],
        MASK: None,
        "n": 1,
    }


def test_add_after_masking_rebuilds() -> None:
    masker = SecretMasker()
    assert masker.mask("token abcd") == "token abcd"
    masker.add("abcd")
    assert masker.mask("token abcd") == f"token {MASK}"
    masker.add("abcd")  # again: no change
    assert len(masker) == 2  # "abcd" and its base64 (URL-encoded and URL-safe forms are the same)


def test_many_secrets_mask_like_the_naive_alternation() -> None:
    rng = random.Random(7)
    secrets = ["".join(rng.choices(string.ascii_letters + string.digits, k=rng.randint(8, 40))) for _ in range(3000)]
    masker = SecretMasker(secrets)
    log = " ".join(rng.choices(string.ascii_lowercase, k=50_000))
    text = log + " " + secrets[1234] + " " + secrets[5] + " end"
    masked = masker.mask(text)  # one trie-shaped regex: ~0.02 s here, a naive alternation ~1.3 s
    assert masked.endswith(f" {MASK} {MASK} end")
    # the same result as the naive longest-first alternation
    naive = re.compile("|".join(re.escape(s) for s in sorted(masker._values, key=len, reverse=True)))
    assert naive.sub(MASK, text) == masked


def test_a_long_secret_does_not_nest_the_regex_deeply() -> None:
    secret = "k" * 20_000
    masker = SecretMasker([secret])
    assert masker.mask(f"<{secret}>") == f"<{MASK}>"
