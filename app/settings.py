"""Service configuration, read from the environment and `.env` (names fixed by API.md section 1).

With `APP_ENV=production` the service refuses to start on development defaults (API.md section 3,
Operations): a `JWT_SECRET` shorter than 32 bytes can be cracked offline from one stolen token (and
then any admin token forged), an unset `DATABASE_URL` would run a trust-auth embedded Postgres in the
container's writable layer, and a missing or ambiguous `ENCRYPTION_KEYS` would make stored credentials
unreadable or sealed under the wrong key. Each refusal is one sentence naming the variable.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_ENVIRONMENTS = frozenset({"dev", "demo", "test"})
MIN_JWT_SECRET_BYTES = 32


class ConfigurationError(RuntimeError):
    """The configuration cannot be used; the message says which variable and why."""


class Settings(BaseSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    app_env: Literal["dev", "demo", "test", "production"] = Field(default="dev", alias="APP_ENV")
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    data_dir: Path = Field(default=Path(".data"), alias="DATA_DIR")
    public_url: str = Field(default="http://127.0.0.1:8000", alias="PUBLIC_URL")
    frontend_url_setting: str | None = Field(default=None, alias="FRONTEND_URL")
    classy_api_url: str = Field(default="https://api.classy.org/2.0", alias="CLASSY_API_URL")
    classy_token_url: str = Field(default="https://api.classy.org/oauth2/auth", alias="CLASSY_TOKEN_URL")
    classy_authorize_url: str = Field(
        default="https://login.classy.org/authorize", alias="CLASSY_AUTHORIZE_URL"
    )
    classy_auth_flow: Literal["client_credentials", "authorization_code"] = Field(
        default="client_credentials", alias="CLASSY_AUTH_FLOW"
    )
    classy_rate_limit_per_minute: int = Field(default=1800, ge=1, alias="CLASSY_RATE_LIMIT_PER_MINUTE")
    jwt_secret: SecretStr | None = Field(default=None, alias="JWT_SECRET")
    jwt_audience: str | None = Field(default=None, alias="JWT_AUDIENCE")
    jwt_issuer: str | None = Field(default=None, alias="JWT_ISSUER")
    encryption_keys: SecretStr | None = Field(default=None, alias="ENCRYPTION_KEYS")
    sync_interval_seconds: int = Field(default=900, ge=1, alias="SYNC_INTERVAL_SECONDS")
    scheduler_enabled: bool = Field(default=True, alias="SCHEDULER_ENABLED")
    # The scheduler and its syncs run on an event loop of their own, on their own thread, so API
    # requests never wait behind sync work on one loop (app/sync/scheduler.py).
    sync_own_thread: bool = Field(default=True, alias="SYNC_OWN_THREAD")
    # How much lower the CPU priority of that thread is (its nice value, added; Linux): a woken API request
    # gets a busy core before the sync's next page. 0 keeps the process's priority.
    sync_thread_nice: int = Field(default=10, ge=0, le=19, alias="SYNC_THREAD_NICE")
    reconcile_interval_seconds: int = Field(default=86400, ge=1, alias="RECONCILE_INTERVAL_SECONDS")
    # How far back a reconcile re-reads transactions by purchase and refund date (refunds that did not
    # move updated_at).
    reconcile_lookback_days: int = Field(default=90, ge=1, alias="RECONCILE_LOOKBACK_DAYS")
    scheduler_tick_seconds: float = Field(default=2.0, gt=0, alias="SCHEDULER_TICK_SECONDS")
    sync_concurrency: int = Field(default=4, ge=1, alias="SYNC_CONCURRENCY")
    sync_lease_seconds: int = Field(default=30, ge=2, alias="SYNC_LEASE_SECONDS")
    sync_lookback_seconds: int = Field(default=300, ge=0, alias="SYNC_LOOKBACK_SECONDS")
    # Page commits wait for the WAL flush (synchronous_commit on) instead of the default asynchronous
    # commits guarded by the commit ledger: slower imports, no acknowledged page lost to a crash.
    sync_durable_commits: bool = Field(default=False, alias="SYNC_DURABLE_COMMITS")
    api_statement_timeout_seconds: float = Field(default=5.0, gt=0, alias="API_STATEMENT_TIMEOUT_SECONDS")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    migrate_on_start: bool = Field(default=True, alias="MIGRATE_ON_START")
    shutdown_grace_seconds: float = Field(default=5.0, ge=0, alias="SHUTDOWN_GRACE_SECONDS")

    @field_validator("public_url", "classy_api_url", "classy_token_url", "classy_authorize_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _refuse_development_defaults_in_production(self) -> Settings:
        if self.app_env in DEV_ENVIRONMENTS:
            return self
        problem = production_problem(self)
        if problem:
            raise ConfigurationError(problem)
        return self

    @property
    def is_dev(self) -> bool:
        return self.app_env in DEV_ENVIRONMENTS

    @property
    def frontend_url(self) -> str:
        return (self.frontend_url_setting or f"{self.public_url}/console").rstrip("/")

    @property
    def redirect_uri(self) -> str:
        return f"{self.public_url}/oauth/classy/callback"

    def jwt_secret_value(self) -> str:
        """The signing secret; in dev/demo a generated one persisted under DATA_DIR."""
        if self.jwt_secret is not None and self.jwt_secret.get_secret_value().strip():
            return self.jwt_secret.get_secret_value()
        return _dev_secrets(self.data_dir)["jwt_secret"]

    def encryption_key_ring(self) -> list[tuple[str, bytes]]:
        """Parsed `ENCRYPTION_KEYS`: `[(key_id, 32 bytes), ...]`, the first one encrypts."""
        raw = self.encryption_keys.get_secret_value() if self.encryption_keys else ""
        if not raw.strip():
            raw = _dev_secrets(self.data_dir)["encryption_keys"]
        return parse_key_ring(raw)


def production_problem(settings: Settings) -> str | None:
    """The first reason these settings must not run a production service, as one sentence, or None."""
    secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else ""
    if not secret.strip():
        return (
            f"JWT_SECRET must be set when APP_ENV={settings.app_env}; "
            "see .env.example for how to generate it."
        )
    if len(secret.encode()) < MIN_JWT_SECRET_BYTES:
        return (
            f"JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes long when APP_ENV={settings.app_env} "
            "(a short secret can be cracked offline from one token)."
        )
    if not (settings.database_url or "").strip():
        return (
            f"DATABASE_URL must be set when APP_ENV={settings.app_env}; "
            "the embedded Postgres is for development only."
        )
    keys = settings.encryption_keys.get_secret_value() if settings.encryption_keys else ""
    if not keys.strip():
        return (
            f"ENCRYPTION_KEYS must be set when APP_ENV={settings.app_env}; "
            "see .env.example for how to generate it."
        )
    try:
        parse_key_ring(keys)
    except ConfigurationError as exc:
        return str(exc)
    return None


def parse_key_ring(raw: str) -> list[tuple[str, bytes]]:
    """Parse `key_id:base64-32-bytes,...`, naming the entry that is wrong."""
    ring: list[tuple[str, bytes]] = []
    for index, entry in enumerate(part.strip() for part in raw.split(",") if part.strip()):
        key_id, sep, encoded = entry.partition(":")
        if not sep or not key_id:
            raise ConfigurationError(f"ENCRYPTION_KEYS entry {index + 1} must look like key_id:base64-key.")
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ConfigurationError(f"ENCRYPTION_KEYS key '{key_id}' is not valid base64.") from exc
        if len(key) != 32:
            raise ConfigurationError(
                f"ENCRYPTION_KEYS key '{key_id}' must decode to 32 bytes, not {len(key)}."
            )
        if any(known == key_id for known, _ in ring):
            # Two keys under one id: decryption would pick one of them, silently the wrong one.
            raise ConfigurationError(
                f"ENCRYPTION_KEYS repeats the key id '{key_id}'; each id must be unique."
            )
        ring.append((key_id, key))
    if not ring:
        raise ConfigurationError("ENCRYPTION_KEYS holds no key.")
    return ring


def _dev_secrets(data_dir: Path) -> dict[str, str]:
    """Dev/demo only: generate secrets once and keep them under DATA_DIR so restarts can still decrypt."""
    path = data_dir / "dev-secrets.json"
    if path.exists():
        loaded: dict[str, str] = json.loads(path.read_text())
        return loaded
    data_dir.mkdir(parents=True, exist_ok=True)
    generated = {
        "jwt_secret": secrets.token_urlsafe(32),
        "encryption_keys": "dev1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its secrets
        return _dev_secrets(data_dir)
    with os.fdopen(fd, "w") as handle:
        json.dump(generated, handle)
    return generated


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process (tests build their own `Settings` instead)."""
    return Settings()
