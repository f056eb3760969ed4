"""Classy supporters a transaction or registration names but Classy does not have (a 404 by id)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models._types import CreatedAt


class MissingSupporter(Base):
    """Remembered so that each run does not ask Classy again; their gifts link by the purchaser instead."""

    __tablename__ = "missing_supporter"

    account: Mapped[str] = mapped_column(Text, primary_key=True)
    classy_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    checked_at: Mapped[CreatedAt]
