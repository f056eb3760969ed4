"""Checks credentials against Classy before anything is stored, with errors an admin can act on.

`ClassyChecks` is what the lifecycle asks of Classy; tests may pass another implementation.
Verification uses few retries so that a dead Classy answers the admin within seconds.
"""

from __future__ import annotations

from typing import Protocol

import httpx

from app.classy import (
    ClassyAuthError,
    ClassyBadRequestError,
    ClassyClient,
    ClassyError,
    ClassyNotFoundError,
    ClassyOrganizationAccessError,
    Token,
)
from app.classy.ratelimit import limiter_for
from app.errors import AppError, UnprocessableError, UpstreamError
from app.settings import Settings

INVALID_CREDENTIALS = "Classy rejected the Client ID or Client Secret."
INVALID_CODE = "Classy rejected the authorization code."


class CredentialCheck(Protocol):
    """Talks to Classy on behalf of the lifecycle service."""

    async def verify_app(self, *, client_id: str, client_secret: str, organization_id: int) -> Token:
        """Get an app token with these credentials and read the organization with it."""
        ...

    async def verify_code(
        self, *, client_id: str, client_secret: str, code: str, organization_id: int
    ) -> Token:
        """Exchange an authorization code and read the organization with the member token."""
        ...

    def authorize_url(self, *, client_id: str, state: str) -> str:
        """The Classy Login URL for this app, returning to our redirect URI."""
        ...


def organization_error(organization_id: int) -> UnprocessableError:
    return UnprocessableError(
        f"Classy organization {organization_id} is not readable with these credentials: check the "
        "Organization ID and that the app was created in (or is linked to) that organization.",
        code="organization_not_accessible",
    )


def _unavailable(exc: ClassyError) -> UpstreamError:
    return UpstreamError(
        f"Classy could not be reached to check the credentials; nothing was saved. {exc.sentence}",
        code="classy_unavailable",
    )


class ClassyChecks:
    """The real implementation, with a short-lived `ClassyClient` per check."""

    def __init__(
        self,
        settings: Settings,
        *,
        max_retries: int = 1,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings = settings
        self._max_retries = max_retries
        self._timeout = timeout
        self._transport = transport

    def _client(self, client_id: str, client_secret: str) -> ClassyClient:
        return ClassyClient(
            client_id=client_id,
            client_secret=client_secret,
            api_url=self._settings.classy_api_url,
            token_url=self._settings.classy_token_url,
            # The app's one budget, at the configured rate (the sync's streams draw from it too).
            limiter=limiter_for(client_id, self._settings.classy_rate_limit_per_minute),
            max_retries=self._max_retries,
            timeout=self._timeout,
            transport=self._transport,
            backoff_base=0.2,
            backoff_cap=1.0,
        )

    async def verify_app(self, *, client_id: str, client_secret: str, organization_id: int) -> Token:
        async with self._client(client_id, client_secret) as classy:
            try:
                token = await classy.fetch_app_token()
            except ClassyError as exc:
                raise _token_error(exc, INVALID_CREDENTIALS, "invalid_credentials") from None
            await _read_organization(classy, organization_id)
            return token

    async def verify_code(
        self, *, client_id: str, client_secret: str, code: str, organization_id: int
    ) -> Token:
        async with self._client(client_id, client_secret) as classy:
            try:
                token = await classy.exchange_code(code, self._settings.redirect_uri)
            except ClassyError as exc:
                raise _token_error(exc, INVALID_CODE, "invalid_code") from None
            await _read_organization(classy, organization_id)
            return token

    def authorize_url(self, *, client_id: str, state: str) -> str:
        return ClassyClient.authorize_url(
            self._settings.classy_authorize_url,
            client_id=client_id,
            redirect_uri=self._settings.redirect_uri,
            state=state,
        )


def _token_error(exc: ClassyError, sentence: str, code: str) -> AppError:
    if exc.transient:
        return _unavailable(exc)
    return UnprocessableError(sentence, code=code)


async def _read_organization(classy: ClassyClient, organization_id: int) -> None:
    try:
        await classy.read_organization(organization_id)
    except (ClassyOrganizationAccessError, ClassyNotFoundError, ClassyBadRequestError):
        raise organization_error(organization_id) from None
    except ClassyAuthError:
        raise UnprocessableError(INVALID_CREDENTIALS, code="invalid_credentials") from None
    except ClassyError as exc:
        raise _unavailable(exc) from None
