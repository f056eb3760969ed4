"""Typed view of the one Classy record the client reads itself: the organization (credentials check).

Records that are synced (supporters, transactions, …) are never typed in Python: the engine hands each
page to Postgres as JSON and maps it to columns there (docs/performance-anchors.md). Unknown fields are
kept (``extra="allow"``) because Classy adds fields without notice; ``raw`` returns the payload exactly
as received. Every declared field except ``id`` is optional, since Classy marks most of them nullable.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ModelWrapValidatorHandler, PrivateAttr, model_validator

from .fields import Money, Timestamp


class ClassyModel(BaseModel):
    """Base for Classy records: keeps unknown fields and the raw payload."""

    model_config = ConfigDict(extra="allow")

    _raw: dict[str, Any] | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_raw(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        model = handler(data)
        if isinstance(data, dict):
            model._raw = data
        return model

    @property
    def raw(self) -> dict[str, Any]:
        """The payload as Classy sent it (the dict passed to ``model_validate``)."""
        if self._raw is not None:
            return self._raw
        return self.model_dump()


class Organization(ClassyModel):
    """A Classy organization (GET /organizations/{id})."""

    id: int
    name: str | None = None
    status: str | None = None
    type: str | None = None
    plan_type: str | None = None
    url: str | None = None
    mission: str | None = None
    description: str | None = None
    address: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    currency: str | None = None
    currency_code: str | None = None
    timezone_identifier: str | None = None
    flex_rate_percent: Money = None
    fixed_fot_percent: Money = None
    opt_in_wording: str | None = None
    sms_opt_in_text: str | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None
