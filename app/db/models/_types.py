"""Column types shared by the models: money is NUMERIC, time is timestamptz, JSON is JSONB."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from sqlalchemy import BigInteger, DateTime, Numeric, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import mapped_column

from app.db.base import utc_now

Money = Annotated[Decimal | None, mapped_column(Numeric(18, 2))]
Timestamp = Annotated[datetime, mapped_column(DateTime(timezone=True))]
OptionalTimestamp = Annotated[datetime | None, mapped_column(DateTime(timezone=True))]
CreatedAt = Annotated[datetime, mapped_column(DateTime(timezone=True), default=utc_now, nullable=False)]
UpdatedAt = Annotated[
    datetime, mapped_column(DateTime(timezone=True), default=utc_now, onupdate=utc_now, nullable=False)
]
ClassyId = Annotated[int, mapped_column(BigInteger, nullable=False)]
OptionalClassyId = Annotated[int | None, mapped_column(BigInteger)]
OptionalText = Annotated[str | None, mapped_column(Text)]
Json = Annotated[dict[str, Any], mapped_column(JSONB, nullable=False, default=dict)]
