"""The ``Token`` value: an access token, when it expires, and how to renew it.

Tokens are secrets, so ``repr`` and ``str`` never show them: a token that ends up in a log line,
an exception or a debugger prints as ``Token(token_type='bearer', expires_at=…, access_token=***)``.
``to_dict``/``from_dict`` give the app a plain form to encrypt and store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

# Renew short-lived tokens when this share of their lifetime is left, if that is under the margin.
_LIFETIME_SHARE = 0.1


@dataclass(frozen=True, repr=False)
class Token:
    """An OAuth2 token from Classy. ``expires_at`` is aware UTC, or None if Classy gave no lifetime."""

    access_token: str
    expires_at: datetime | None = None
    refresh_token: str | None = None
    token_type: str = "bearer"
    issued_at: datetime | None = None

    def __repr__(self) -> str:
        expires = self.expires_at.isoformat() if self.expires_at else None
        refresh = "***" if self.refresh_token else None
        return (
            f"Token(token_type={self.token_type!r}, expires_at={expires!r}, "
            f"access_token='***', refresh_token={refresh!r})"
        )

    __str__ = __repr__

    def expires_within(self, seconds: float, *, now: datetime) -> bool:
        """True when fewer than ``seconds`` (or 10% of a short lifetime) remain."""
        if self.expires_at is None:
            return False
        margin = seconds
        if self.issued_at is not None:
            lifetime = (self.expires_at - self.issued_at).total_seconds()
            margin = min(seconds, max(lifetime, 0.0) * _LIFETIME_SHARE)
        return now >= self.expires_at - timedelta(seconds=margin)

    def with_refresh_token(self, refresh_token: str) -> Token:
        """A copy that keeps ``refresh_token`` (Classy may omit it when refreshing)."""
        return replace(self, refresh_token=refresh_token)

    @classmethod
    def from_response(cls, payload: Mapping[str, Any], *, now: datetime) -> Token:
        """Build a token from the token endpoint's JSON; ``expires_in`` is seconds from ``now``."""
        access_token = payload.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise ValueError("the token response has no access_token")
        expires_at: datetime | None = None
        expires_in = _seconds(payload.get("expires_in"))
        if expires_in is not None:
            expires_at = now + timedelta(seconds=expires_in)
        else:
            epoch = _seconds(payload.get("expires_at"))
            if epoch is not None:
                expires_at = datetime.fromtimestamp(epoch, UTC)
        refresh_token = payload.get("refresh_token")
        token_type = payload.get("token_type")
        return cls(
            access_token=access_token,
            expires_at=expires_at,
            refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
            token_type=token_type if isinstance(token_type, str) and token_type else "bearer",
            issued_at=now,
        )

    def to_dict(self) -> dict[str, str | None]:
        """A JSON-friendly form for encrypted storage (it contains the secrets)."""
        return {
            "access_token": self.access_token,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "refresh_token": self.refresh_token,
            "token_type": self.token_type,
            "issued_at": self.issued_at.isoformat() if self.issued_at else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Token:
        """Rebuild a token stored with ``to_dict``."""
        return cls(
            access_token=str(data["access_token"]),
            expires_at=_aware(data.get("expires_at")),
            refresh_token=data.get("refresh_token") or None,
            token_type=str(data.get("token_type") or "bearer"),
            issued_at=_aware(data.get("issued_at")),
        )


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _aware(value: object) -> datetime | None:
    if value is None or value == "":
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
