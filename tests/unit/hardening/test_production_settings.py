"""Production refuses development defaults, each time with one sentence naming the variable."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from app.security.crypto import Encryptor
from app.settings import ConfigurationError, Settings, parse_key_ring

KEY_A = base64.b64encode(b"a" * 32).decode()
KEY_B = base64.b64encode(b"b" * 32).decode()
STRONG = "s" * 32
GOOD: dict[str, Any] = {
    "APP_ENV": "production",
    "JWT_SECRET": STRONG,
    "DATABASE_URL": "postgresql+asyncpg://classy@db:5432/classy",
    "ENCRYPTION_KEYS": f"k1:{KEY_A}",
}


def production(**overrides: Any) -> Settings:
    values = {**GOOD, **overrides}
    return Settings(_env_file=None, **{k: v for k, v in values.items() if v is not None})  # type: ignore[call-arg]


def refusal(**overrides: Any) -> str:
    with pytest.raises(ConfigurationError) as caught:
        production(**overrides)
    sentence = str(caught.value)
    assert sentence.endswith(".") and sentence.count(". ") == 0, f"one sentence, not {sentence!r}"
    return sentence


def test_good_production_settings_start() -> None:
    assert production().app_env == "production"


@pytest.mark.parametrize("secret", ["a", "s" * 31, "é" * 15])  # 15 x 2 bytes = 30 bytes
def test_a_short_jwt_secret_is_refused(secret: str) -> None:
    assert "JWT_SECRET" in refusal(JWT_SECRET=secret)
    assert "32 bytes" in refusal(JWT_SECRET=secret)


def test_a_32_byte_secret_counts_bytes_not_characters() -> None:
    assert production(JWT_SECRET="é" * 16).app_env == "production"


def test_a_missing_jwt_secret_is_refused() -> None:
    assert refusal(JWT_SECRET=None).startswith("JWT_SECRET must be set")


def test_production_without_database_url_is_refused() -> None:
    sentence = refusal(DATABASE_URL=None)
    assert sentence.startswith("DATABASE_URL must be set") and "embedded" in sentence
    assert refusal(DATABASE_URL="  ").startswith("DATABASE_URL")


def test_repeated_key_id_is_refused_in_production() -> None:
    sentence = refusal(ENCRYPTION_KEYS=f"k1:{KEY_A},k1:{KEY_B}")
    assert sentence == "ENCRYPTION_KEYS repeats the key id 'k1'; each id must be unique."


def test_missing_or_malformed_keys_are_refused_in_production() -> None:
    assert refusal(ENCRYPTION_KEYS=None).startswith("ENCRYPTION_KEYS must be set")
    assert "ENCRYPTION_KEYS" in refusal(ENCRYPTION_KEYS="k1:notbase64!")


def test_repeated_key_id_is_refused_in_every_environment() -> None:
    """A repeated id silently seals under one key and opens with the other: refused in dev too."""
    with pytest.raises(ConfigurationError, match="repeats the key id 'k1'"):
        parse_key_ring(f"k1:{KEY_A},k2:{KEY_B},k1:{KEY_B}")
    dev = Settings(_env_file=None, APP_ENV="dev", ENCRYPTION_KEYS=f"k1:{KEY_A},k1:{KEY_B}")  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="ENCRYPTION_KEYS"):
        dev.encryption_key_ring()
    with pytest.raises(ValueError, match="unique"):
        Encryptor([("k1", b"a" * 32), ("k1", b"b" * 32)])


def test_dev_environments_keep_their_defaults() -> None:
    for env in ("dev", "demo", "test"):
        settings = Settings(_env_file=None, APP_ENV=env, JWT_SECRET="short")  # type: ignore[call-arg]
        assert settings.is_dev
