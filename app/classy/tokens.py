"""Obtain and renew Classy access tokens: one refresh at a time, before they expire.

Classy's token endpoint (``POST /oauth2/auth``, no ``/2.0``) takes ``client_id`` and
``client_secret`` in a form body (``client_secret_post``). authlib builds and sends those requests;
this module decides *when* to ask and turns failures into ``ClassyError``s with admin-readable
sentences. Renewal is single-flight: however many streams find the token stale or refused, one
request goes to Classy and all of them await its result.

How a token is renewed:

* app tokens (``client_credentials``, no refresh token): fetch a new app token;
* member tokens from ``authorization_code`` that carry a ``refresh_token``: the refresh grant.
"""

from __future__ import annotations

import asyncio
import random
import warnings
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import authlib.deprecate  # noqa: F401  (must be imported before the filter below is installed)
import httpx

from .backoff import full_jitter, retry_after_seconds
from .errors import ClassyServerError
from .tls import shared_ssl_context
from .token_errors import TokenEndpointFailure, failure_for_response, unreachable
from .token_model import Token

with warnings.catch_warnings():
    # authlib >= 1.7 warns when it falls back from httpx2 to httpx; httpx is what we use on purpose.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.httpx_client import AsyncOAuth2Client

__all__ = ["OnToken", "Token", "TokenManager"]

OnToken = Callable[[Token], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]
Now = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class TokenManager:
    """Holds the current token and renews it; shared by every request of one ``ClassyClient``.

    ``on_token`` is awaited with every new token (the app stores it encrypted). If it raises,
    the new token is still used in memory and the error reaches every caller of that renewal.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        token_url: str,
        token: Token | None = None,
        on_token: OnToken | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        refresh_margin: float = 60.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        sleep: Sleep = asyncio.sleep,
        now: Now = _utcnow,
    ) -> None:
        self.client_id = client_id
        self._secrets = (client_secret,)
        self._token_url = token_url
        self._token = token
        self._on_token = on_token
        self._refresh_margin = refresh_margin
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._sleep = sleep
        self._now = now
        self._inflight: asyncio.Task[Token] | None = None
        self.request_count = 0
        self._oauth: Any = AsyncOAuth2Client(
            client_id=client_id,
            client_secret=client_secret,
            token_endpoint_auth_method="client_secret_post",
            transport=transport,
            verify=shared_ssl_context(),
            timeout=timeout,
            headers={"User-Agent": "classy-sync"},
        )
        # Inspect every token response before authlib parses it, so that each Classy error body
        # shape ({"error": {...fields}}, {"error": "invalid_client"}, HTML) maps to one sentence.
        self._oauth.register_compliance_hook("access_token_response", self._check_response)
        self._oauth.register_compliance_hook("refresh_token_response", self._check_response)

    def __repr__(self) -> str:
        return f"TokenManager(client_id={self.client_id!r}, token={self._token!r})"

    @property
    def token(self) -> Token | None:
        """The current token, or None before the first one is obtained."""
        return self._token

    async def aclose(self) -> None:
        """Close the token endpoint's connection pool."""
        await self._oauth.aclose()

    def is_stale(self, token: Token) -> bool:
        """True when ``token`` expires within the margin (60 s, or 10% of a short lifetime)."""
        return token.expires_within(self._refresh_margin, now=self._now())

    async def get_token(self) -> Token:
        """A token that is valid for at least the refresh margin; renews it if needed."""
        token = self._token
        if token is not None and not self.is_stale(token):
            return token
        return await self._renew_shared()

    async def token_rejected(self, rejected: Token) -> Token:
        """Called after a 401: renew, unless another caller already replaced ``rejected``."""
        current = self._token
        if current is not None and current.access_token != rejected.access_token:
            return current
        return await self._renew_shared()

    async def fetch_app_token(self) -> Token:
        """Get an app token with ``client_credentials``; this also proves the credentials work."""
        return await self._adopt(await self._request("client_credentials", {}))

    async def exchange_code(self, code: str, redirect_uri: str) -> Token:
        """Trade a Classy Login authorization code for a member token."""
        fields = {"code": code, "redirect_uri": redirect_uri}
        return await self._adopt(await self._request("authorization_code", fields, extra_secret=code))

    async def refresh(self) -> Token:
        """Renew now: the refresh_token grant when we hold a refresh token, else a new app token."""
        current = self._token
        if current is not None and current.refresh_token:
            refresh_token = current.refresh_token
            fields = {"refresh_token": refresh_token}
            token = await self._request("refresh_token", fields, extra_secret=refresh_token)
            if token.refresh_token is None:  # Classy may omit it: the old one stays valid
                token = token.with_refresh_token(refresh_token)
            return await self._adopt(token)
        return await self.fetch_app_token()

    async def _renew_shared(self) -> Token:
        # No await between the staleness check in the caller and this join, so every caller that
        # saw the same stale token lands on the same task.
        task = self._inflight
        if task is None or task.done():
            task = self._inflight = asyncio.ensure_future(self.refresh())
            task.add_done_callback(self._renewal_done)
        # shield: a caller being cancelled must not cancel the renewal the others are awaiting.
        return await asyncio.shield(task)

    def _renewal_done(self, task: asyncio.Task[Token]) -> None:
        if self._inflight is task:
            self._inflight = None
        if not task.cancelled():
            task.exception()  # mark retrieved even if every waiter was cancelled

    async def _adopt(self, token: Token) -> Token:
        self._token = token
        if self._on_token is not None:
            await self._on_token(token)
        return token

    async def _request(self, grant_type: str, fields: dict[str, str], extra_secret: str = "") -> Token:
        secrets = (*self._secrets, extra_secret) if extra_secret else self._secrets
        attempt = 0
        while True:
            self.request_count += 1
            try:
                payload = await self._send(grant_type, fields)
            except TokenEndpointFailure as failure:
                error, hint = failure.to_error(grant_type, secrets), failure.retry_after
            except httpx.TransportError as exc:
                error, hint = unreachable(self._token_url, exc), None
            except OAuthError as exc:  # a 2xx body that still carries "error"
                odd = failure_for_response(400, {"error": str(exc.error)})
                raise odd.to_error(grant_type, secrets) from None
            else:
                try:
                    return Token.from_response(payload, now=self._now())
                except ValueError:
                    raise ClassyServerError(
                        "Classy's sign-in service answered without a usable access token. "
                        "Try again in a few minutes."
                    ) from None
            attempt += 1
            if not error.transient or attempt > self._max_retries:
                raise error
            if hint is None:
                delay = full_jitter(attempt, base=self._backoff_base, cap=self._backoff_cap)
            else:  # a little jitter so that waiting callers do not return in lockstep
                delay = hint + random.uniform(0.0, self._backoff_base)
            await self._sleep(delay)

    async def _send(self, grant_type: str, fields: dict[str, str]) -> dict[str, Any]:
        if grant_type == "refresh_token":
            result = await self._oauth.refresh_token(self._token_url, refresh_token=fields["refresh_token"])
        else:
            result = await self._oauth.fetch_token(self._token_url, grant_type=grant_type, **fields)
        return dict(result)

    def _check_response(self, response: httpx.Response) -> httpx.Response:
        if response.is_success:
            return response
        body: object
        try:
            body = response.json()
        except ValueError:  # e.g. "Invalid client authentication"; never an HTML error page
            text = response.text.strip()
            body = text if text and len(text) <= 200 and not text.startswith("<") else None
        failure = failure_for_response(response.status_code, body)
        failure.retry_after = retry_after_seconds(response.headers, body)
        raise failure
