"""Classy webhook endpoints (one per integration, secret sealed) and the deliveries they received."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, PrimaryKeyConstraint, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models._types import CreatedAt, OptionalText, OptionalTimestamp, Timestamp


class WebhookEndpoint(Base):
    """Where Classy (through Svix) delivers an integration's events, and the secret that signs them.

    The id is random and unguessable: it is the last segment of the URL pasted into Classy, and the
    only thing a delivery carries to name its integration before its signature is checked.
    """

    __tablename__ = "webhook_endpoint"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    integration_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("integration.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    # Null until the signing secret is saved: the URL exists first, to be pasted into Classy, which
    # shows the secret only once the endpoint is created there.
    secret_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    secret_key_id: Mapped[OptionalText]
    created_at: Mapped[CreatedAt]
    configured_at: Mapped[OptionalTimestamp]
    configured_by: Mapped[OptionalText]
    configured_by_name: Mapped[OptionalText]
    last_event_at: Mapped[OptionalTimestamp]


class WebhookDelivery(Base):
    """A verified delivery, kept a day: the same `svix-id` twice is handled once.

    `served_at` is set when a sync run that started after the delivery succeeds: the change the
    event named is in the API from then on (delivery-to-API latency).
    """

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        PrimaryKeyConstraint("integration_id", "message_id"),
        Index("ix_webhook_delivery_received_at", "received_at"),
        Index(
            "ix_webhook_delivery_unserved",
            "integration_id",
            "received_at",
            postgresql_where=text("served_at IS NULL AND outcome = 'sync_requested'"),
        ),
    )

    integration_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("integration.id", ondelete="CASCADE"), nullable=False
    )
    message_id: Mapped[str] = mapped_column(Text, nullable=False)
    event_type: Mapped[OptionalText]
    # sync_requested, or ignored (paused, disconnected, failing: the backoff stands).
    outcome: Mapped[str] = mapped_column(Text, nullable=False)
    received_at: Mapped[Timestamp]
    served_at: Mapped[OptionalTimestamp]
