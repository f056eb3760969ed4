"""One Classy integration per CRM account, its encrypted credentials and pending OAuth states."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Dialect,
    ForeignKey,
    Identity,
    Integer,
    LargeBinary,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from app.db.base import Base
from app.db.models._types import (
    CreatedAt,
    OptionalClassyId,
    OptionalText,
    OptionalTimestamp,
    Timestamp,
    UpdatedAt,
)


class IntegrationStatus(StrEnum):
    """Where an integration stands in its lifecycle (API.md §3): one name from the SQL to the JSON.

    A `StrEnum`, so a value is also the plain string stored in `integration.status` and shown by the API.
    """

    AVAILABLE = "available"
    AWAITING_CREDENTIALS = "awaiting_credentials"
    AWAITING_AUTHORIZATION = "awaiting_authorization"
    CONNECTED = "connected"
    PAUSED = "paused"
    DISCONNECTED = "disconnected"
    ERROR = "error"


class StatusText(TypeDecorator[IntegrationStatus]):
    """`integration.status` stays a TEXT column; Python sees `IntegrationStatus` members."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else IntegrationStatus(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> IntegrationStatus | None:
        return None if value is None else IntegrationStatus(value)


class Integration(Base):
    """The lifecycle state of one account's connection to one app (Classy)."""

    __tablename__ = "integration"
    __table_args__ = (UniqueConstraint("account", "app_slug"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    account: Mapped[str] = mapped_column(Text, nullable=False)
    app_slug: Mapped[str] = mapped_column(Text, nullable=False, default="classy")
    status: Mapped[IntegrationStatus] = mapped_column(
        StatusText(), nullable=False, default=IntegrationStatus.AVAILABLE
    )
    # Bumped on every lifecycle change: compare-and-set guard against two admins clicking at once.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    client_id: Mapped[OptionalText]
    organization_id: Mapped[OptionalClassyId]
    auth_flow: Mapped[OptionalText]

    connected_by: Mapped[OptionalText]
    connected_by_name: Mapped[OptionalText]
    connected_at: Mapped[OptionalTimestamp]
    paused_by: Mapped[OptionalText]
    paused_by_name: Mapped[OptionalText]
    paused_at: Mapped[OptionalTimestamp]
    resumed_by: Mapped[OptionalText]
    resumed_by_name: Mapped[OptionalText]
    resumed_at: Mapped[OptionalTimestamp]
    disconnected_by: Mapped[OptionalText]
    disconnected_by_name: Mapped[OptionalText]
    disconnected_at: Mapped[OptionalTimestamp]

    # Sync bookkeeping.
    last_synced_at: Mapped[OptionalTimestamp]
    last_error: Mapped[OptionalText]
    next_sync_at: Mapped[OptionalTimestamp]
    sync_requested_trigger: Mapped[OptionalText]
    # The mode a requested run should use (manual `reconcile` or `full`); null means the usual one.
    sync_requested_mode: Mapped[OptionalText]
    # End of the last successful reconcile (or full) run: the next scheduled one is due after it.
    last_reconciled_at: Mapped[OptionalTimestamp]
    # Reconnect to a different organization: that organization's cursors start here, not at the beginning.
    history_floor_at: Mapped[OptionalTimestamp]
    consecutive_failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    lease_owner: Mapped[OptionalText]
    lease_expires_at: Mapped[OptionalTimestamp]
    # Incremented by every sync transaction: a lower value than a worker was told committed means the
    # database lost acknowledged commits (crash, failover), see app/sync/durability.py.
    sync_commits: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0, server_default=text("0"))

    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]


class Credential(Base):
    """Encrypted Classy secrets of an integration; each ciphertext carries the id of its key."""

    __tablename__ = "credential"

    integration_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("integration.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[str] = mapped_column(Text, nullable=False)
    client_secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    client_secret_key_id: Mapped[str] = mapped_column(Text, nullable=False)
    access_token_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    access_token_key_id: Mapped[OptionalText]
    refresh_token_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    refresh_token_key_id: Mapped[OptionalText]
    token_expires_at: Mapped[OptionalTimestamp]
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]


class OAuthState(Base):
    """A pending authorization-code login: single use, expires, bound to account and user."""

    __tablename__ = "oauth_state"

    # sha256 of the state value: a database leak does not hand out usable states.
    state_hash: Mapped[str] = mapped_column(Text, primary_key=True)
    integration_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("integration.id", ondelete="CASCADE"), nullable=False
    )
    account: Mapped[str] = mapped_column(Text, nullable=False)
    user_sub: Mapped[str] = mapped_column(Text, nullable=False)
    user_name: Mapped[OptionalText]
    lifecycle_action: Mapped[str] = mapped_column(Text, nullable=False, default="connect")
    expires_at: Mapped[Timestamp]
    used_at: Mapped[OptionalTimestamp]
    created_at: Mapped[CreatedAt]
