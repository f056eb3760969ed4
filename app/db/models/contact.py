"""The CRM contact: one per email per account, merged from supporters, registrants and purchasers."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Identity, Index, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models._types import CreatedAt, OptionalClassyId, OptionalText, OptionalTimestamp, UpdatedAt


class Contact(Base):
    """A person; `email_lower` is the merge key (a supporter without email is keyed by its id)."""

    __tablename__ = "contact"
    __table_args__ = (
        Index(
            "uq_contact_account_email_lower",
            "account",
            "email_lower",
            unique=True,
            postgresql_where=text("email_lower IS NOT NULL"),
        ),
        Index(
            "uq_contact_account_supporter_no_email",
            "account",
            "classy_supporter_id",
            unique=True,
            postgresql_where=text("email_lower IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    account: Mapped[str] = mapped_column(Text, nullable=False)
    email_lower: Mapped[OptionalText]
    classy_supporter_id: Mapped[OptionalClassyId]
    first_name: Mapped[OptionalText]
    last_name: Mapped[OptionalText]
    email: Mapped[OptionalText]
    phone: Mapped[OptionalText]
    address1: Mapped[OptionalText]
    address2: Mapped[OptionalText]
    city: Mapped[OptionalText]
    state: Mapped[OptionalText]
    postal_code: Mapped[OptionalText]
    country: Mapped[OptionalText]
    email_opt_in: Mapped[bool | None] = mapped_column(Boolean)
    company: Mapped[OptionalText]
    cell_phone: Mapped[OptionalText]
    sms_opt_in: Mapped[bool | None] = mapped_column(Boolean)
    # Classy's own times for the person (earliest creation, latest update across its sources).
    classy_created_at: Mapped[OptionalTimestamp]
    classy_updated_at: Mapped[OptionalTimestamp]
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]
    # Set when every source of the contact (supporter, registration, purchase) is marked deleted.
    deleted_at: Mapped[OptionalTimestamp]


class ContactRefresh(Base):
    """People whose contact must be re-merged: queued with each page, merged in batches.

    Merging contacts page by page cost more than everything else in an import; queuing the touched keys
    in the page's transaction keeps that transaction crash-safe (a crash leaves them queued) while the
    merge runs once per batch of pages, set-based.
    """

    __tablename__ = "contact_refresh"

    # No uniqueness on purpose: page transactions only ever append, so they never wait on a merge
    # that is taking (deleting) keys at the same time; a merge reads each key once (DISTINCT).
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    account: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    # "email" (email_lower), "supporter" (Classy supporter id), "transaction" (Classy transaction id) or
    # "supporter_email" (a supporter id standing for its email when merged).
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    key: Mapped[str] = mapped_column(Text, nullable=False)
