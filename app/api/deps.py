"""Request-scoped dependencies: the runtime, a database session, the lifecycle service and the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import ForbiddenError, NotAuthenticatedError
from app.runtime import Runtime
from app.security.tokens import InvalidTokenError, Principal, verify_token
from app.services.classy_checks import ClassyChecks
from app.services.lifecycle import Lifecycle

_bearer = HTTPBearer(auto_error=False, description="HS256 JWT with sub, account, role, exp (API.md §2)")


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """A session per request; writers commit explicitly, anything uncommitted is rolled back."""
    async with runtime.sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def get_lifecycle(runtime: RuntimeDep) -> Lifecycle:
    """The lifecycle service of this process (Classy checks, encryption, the scheduler to wake)."""
    return Lifecycle(
        settings=runtime.settings,
        encryptor=runtime.encryptor,
        classy=ClassyChecks(runtime.settings),
        sync=runtime.scheduler,
        credential_attempts=runtime.credential_attempts,
    )


LifecycleDep = Annotated[Lifecycle, Depends(get_lifecycle)]


# Where the auth gate leaves the caller it checked, in the request's state.
PRINCIPAL = "principal"


def authenticate(runtime: Runtime, scheme: str | None, token: str | None) -> Principal:
    """The caller a bearer token names; NotAuthenticatedError (401) when it is missing or invalid."""
    if scheme is None or scheme.lower() != "bearer" or not token:
        raise NotAuthenticatedError("A bearer token is required (Authorization: Bearer <token>).")
    try:
        settings = runtime.settings
        return verify_token(
            runtime.jwt_secret, token, audience=settings.jwt_audience, issuer=settings.jwt_issuer
        )
    except InvalidTokenError as exc:
        raise NotAuthenticatedError(str(exc), code="invalid_token") from exc


def get_principal(
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller named by the bearer token; 401 when it is missing or invalid.

    Under /api/v1 the auth gate (auth_gate.py) has already checked the token: its caller is reused.
    """
    checked = getattr(request.state, PRINCIPAL, None)
    if isinstance(checked, Principal):
        return checked
    if credentials is None:
        return authenticate(runtime, None, None)
    return authenticate(runtime, credentials.scheme, credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def check_admin(principal: Principal) -> Principal:
    """Only admins may change an integration (API.md §2): ForbiddenError (403) for a member."""
    if not principal.is_admin:
        raise ForbiddenError("This action needs the admin role; your token has the member role.")
    return principal


def require_admin(principal: PrincipalDep) -> Principal:
    """Only admins may change an integration (API.md §2)."""
    return check_admin(principal)


AdminDep = Annotated[Principal, Depends(require_admin)]
