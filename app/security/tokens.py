"""Bearer tokens (API.md section 2): HS256 JWTs carrying user, account and role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import jwt

# Seconds of clock difference tolerated on `iat` and `nbf` between the issuer and this service. Never
# on `exp`: API.md section 2 says an expired token answers 401, and a caller who minted one a second
# ago in the past (a test, a script checking its refresh) must see exactly that.
CLOCK_LEEWAY_SECONDS = 30

Role = Literal["admin", "member"]
ROLES: tuple[Role, ...] = ("admin", "member")


class InvalidTokenError(Exception):
    """The bearer token is missing, malformed, badly signed or expired; the message says which."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user (`sub`), their display name, account (tenant) and role."""

    sub: str
    account: str
    role: Role
    name: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def issue_token(
    secret: str,
    *,
    sub: str,
    account: str,
    role: Role,
    name: str | None = None,
    ttl: timedelta = timedelta(hours=12),
    audience: str | None = None,
    issuer: str | None = None,
) -> str:
    """Sign a token for scripting and tests (with `aud`/`iss` when the service checks them)."""
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": sub,
        "account": account,
        "role": role,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    if name:
        claims["name"] = name
    if audience:
        claims["aud"] = audience
    if issuer:
        claims["iss"] = issuer
    return jwt.encode(claims, secret, algorithm="HS256")


def verify_token(
    secret: str, token: str, *, audience: str | None = None, issuer: str | None = None
) -> Principal:
    """Check signature (HS256 only: never `none`), expiry and claims; `aud`/`iss` when configured.

    Raises `InvalidTokenError` with a sentence otherwise. Without `JWT_AUDIENCE` an audience added by
    an identity provider is not checked (API.md defines none); with it, a token for another audience
    is refused.
    """
    required = ["exp", "sub", "account", "role"]
    required += ["aud"] if audience else []
    required += ["iss"] if issuer else []
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=audience,
            issuer=issuer,
            leeway=CLOCK_LEEWAY_SECONDS,
            options={"require": required, "verify_aud": audience is not None},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidTokenError("The bearer token has expired.") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidTokenError(f"The bearer token lacks the '{exc.claim}' claim.") from exc
    except jwt.InvalidAudienceError as exc:
        raise InvalidTokenError("The bearer token is not meant for this service (audience).") from exc
    except jwt.InvalidIssuerError as exc:
        raise InvalidTokenError("The bearer token was not issued by the expected issuer.") from exc
    except jwt.InvalidTokenError as exc:
        raise InvalidTokenError("The bearer token is not valid.") from exc
    if _expired(claims.get("exp")):
        raise InvalidTokenError("The bearer token has expired.")
    role = claims.get("role")
    sub, account, name = claims.get("sub"), claims.get("account"), claims.get("name")
    if role not in ROLES:
        raise InvalidTokenError("The bearer token's role must be 'admin' or 'member'.")
    if not isinstance(sub, str) or not sub or not isinstance(account, str) or not account:
        raise InvalidTokenError("The bearer token's 'sub' and 'account' claims must be non-empty strings.")
    if any("\x00" in value for value in (sub, account, name) if isinstance(value, str)):
        raise InvalidTokenError("The bearer token's claims must not contain NUL characters.")
    return Principal(sub=sub, account=account, role=role, name=name if isinstance(name, str) else None)


def _expired(exp: object) -> bool:
    """`exp` has passed by this service's clock, with no leeway (PyJWT's applies to all three times)."""
    return isinstance(exp, int | float) and exp <= datetime.now(UTC).timestamp()
