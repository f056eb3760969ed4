"""``ClassyClient``: authenticated, paced, retrying GETs against Classy's API 2.0.

One client serves one Classy app (client_id/secret) and every stream of its sync. Each request
waits its turn at the app's shared ``RateLimiter``, carries a bearer token from ``TokenManager``
and is retried on what is worth retrying: 429/503 (honouring ``Retry-After``), other 5xx,
timeouts and dropped connections, with full-jitter backoff. A 401 renews the token once; 403,
404 and other 4xx are final and raised as typed errors with a sentence for the admin.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote, urlsplit

import httpx
import orjson
from pydantic import ValidationError

from .backoff import full_jitter, retry_after_seconds
from .errors import (
    ClassyAuthError,
    ClassyBadRequestError,
    ClassyError,
    ClassyNotFoundError,
    ClassyRateLimitedError,
    ClassyServerError,
    ClassyUnreachableError,
)
from .hostile import (
    MAX_RESPONSE_BYTES,
    decode_with_non_finite_as_null,
    ignores_page_error,
    read_capped,
)
from .models import Organization
from .pages import Page, parse_page
from .query import build_params, encode_query
from .ratelimit import RateLimiter, limiter_for
from .responses import error_for_response
from .tls import shared_ssl_context
from .token_model import Token
from .tokens import OnToken, TokenManager

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
QueryPart = str | Sequence[str] | None

# Failures where the request may never have reached Classy, or the answer was lost on the way.
_TRANSIENT_TRANSPORT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
_NOT_JSON = object()
_TOKEN_MAX_RETRIES = 3
# Renewals after a 401 within one request: tokens that merely ran out are renewed, up to this many.
_MAX_RENEWALS = 3


class ClassyClient:
    """Read Classy data for one app. Use as ``async with ClassyClient(...) as classy:``."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        api_url: str = "https://api.classy.org/2.0",
        token_url: str = "https://api.classy.org/oauth2/auth",
        token: Token | None = None,
        on_token: OnToken | None = None,
        limiter: RateLimiter | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_retries: int = 8,
        timeout: float = 30.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        sleep: Sleep | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.client_id = client_id
        self._max_response_bytes = max_response_bytes
        self._api_url = api_url.rstrip("/")
        self._limiter = limiter if limiter is not None else limiter_for(client_id)
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._sleep: Sleep = sleep if sleep is not None else asyncio.sleep
        self._tokens = TokenManager(
            client_id=client_id,
            client_secret=client_secret,
            token_url=token_url,
            token=token,
            on_token=on_token,
            transport=transport,
            timeout=timeout,
            max_retries=min(max_retries, _TOKEN_MAX_RETRIES),
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            sleep=self._sleep,
        )
        self._http = httpx.AsyncClient(
            transport=transport,
            verify=shared_ssl_context(),
            timeout=timeout,
            headers={"Accept": "application/json", "User-Agent": "classy-sync"},
        )
        self.request_count = 0
        self.retry_count = 0

    def __repr__(self) -> str:
        return f"ClassyClient(client_id={self.client_id!r}, api_url={self._api_url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pools."""
        await self._http.aclose()
        await self._tokens.aclose()

    @property
    def tokens(self) -> TokenManager:
        """The token manager (current token, token request count)."""
        return self._tokens

    @property
    def token(self) -> Token | None:
        """The current token, or None before one was obtained."""
        return self._tokens.token

    @property
    def limiter(self) -> RateLimiter:
        """The rate limiter this client draws from."""
        return self._limiter

    async def fetch_app_token(self) -> Token:
        """Get an app token (client_credentials); raises ``ClassyAuthError`` for bad credentials."""
        return await self._tokens.fetch_app_token()

    async def exchange_code(self, code: str, redirect_uri: str) -> Token:
        """Trade a Classy Login authorization code for a member token."""
        return await self._tokens.exchange_code(code, redirect_uri)

    @staticmethod
    def authorize_url(
        authorize_base: str, *, client_id: str, redirect_uri: str, state: str, scope: str | None = None
    ) -> str:
        """The Classy Login URL to send the admin's browser to (``response_type=code``)."""
        params = [
            ("client_id", client_id),
            ("response_type", "code"),
            ("redirect_uri", redirect_uri),
            ("state", state),
        ]
        if scope:
            params.append(("scope", scope))
        separator = "&" if "?" in authorize_base else "?"
        return f"{authorize_base}{separator}{encode_query(params)}"

    async def get_organization(self, organization_id: int) -> Organization:
        """GET /organizations/{id}; proves the app can read that organization."""
        path = f"/organizations/{int(organization_id)}"
        body = await self._get_json(path)
        try:
            return Organization.model_validate(body)
        except ValidationError:
            raise ClassyServerError(
                f"Classy answered {path} with something that is not an organization."
            ) from None

    async def read_organization(self, organization_id: int) -> None:
        """Prove the app may read the organization; raises the Classy error that says otherwise.

        GET /organizations/{id} is missing from Classy's published spec: where it is not served (404 or
        400), one record of an org-scoped list answers the same question (404 unknown, 403 not linked).
        """
        try:
            await self.get_organization(organization_id)
        except (ClassyNotFoundError, ClassyBadRequestError):
            await self.get_page(f"/organizations/{int(organization_id)}/campaigns", per_page=1)

    async def get_page(
        self,
        path: str,
        *,
        page: int = 1,
        per_page: int = 100,
        filter: QueryPart = None,
        sort: QueryPart = None,
        with_: QueryPart = None,
    ) -> Page:
        """GET one page of a list such as ``/organizations/82364/supporters``."""
        params = build_params(page=page, per_page=per_page, filter=filter, sort=sort, with_=with_)
        body = await self._get_json(path, params)
        try:
            result = parse_page(body, requested_page=page, requested_per_page=per_page)
        except ValueError:
            raise ClassyServerError(
                f"Classy answered {path} with something that is not a list page."
            ) from None
        if result.current_page != page:
            if page > result.last_page and result.current_page == result.last_page:
                # Past the end (records left the list since the previous page): some servers answer
                # with their last page instead of an empty one. Nothing lies at the page asked for.
                return replace(result, current_page=page, next_page_url=None, data=[])
            raise ignores_page_error(path, page, result.current_page)
        return result

    async def get_object(self, path: str, *, with_: QueryPart = None) -> dict[str, Any]:
        """GET one record such as ``/supporters/5827``; a 404 raises ``ClassyNotFoundError``."""
        joined = ",".join([with_] if isinstance(with_, str) else with_) if with_ else None
        body = await self._get_json(path, [("with", joined)] if joined else [])
        if not isinstance(body, dict):
            raise ClassyServerError(f"Classy answered {path} with something that is not a record.")
        return body

    async def iter_pages(
        self,
        path: str,
        *,
        per_page: int = 100,
        filter: QueryPart = None,
        sort: QueryPart = None,
        with_: QueryPart = None,
        start_page: int = 1,
    ) -> AsyncIterator[Page]:
        """Yield pages in order until the last one; only one page is held at a time.

        Stops after a page that is the last (``current_page >= last_page``), has no
        ``next_page_url`` or is empty; the final page is yielded too, even if empty.
        """
        page = start_page
        while True:
            result = await self.get_page(
                path, page=page, per_page=per_page, filter=filter, sort=sort, with_=with_
            )
            yield result
            # Also compare the page we asked for: a server that ignores ``page`` must not loop forever.
            if result.is_last or page >= result.last_page:
                return
            page += 1

    async def _get_json(self, path: str, params: Sequence[tuple[str, str]] = ()) -> Any:
        """GET ``path`` and return its decoded JSON, retrying what is transient."""
        url = self._url(path, params)
        attempt = 0
        renewals = 0
        while True:
            # Wait for our turn first, then take the token: a long wait (a rate-limit pause) must not
            # leave us holding a token that expired meanwhile.
            await self._limiter.acquire()
            token = await self._tokens.get_token()
            self.request_count += 1
            hint: float | None = None
            try:
                auth = {"Authorization": f"Bearer {token.access_token}"}
                # Streamed, so that an answer larger than any page is refused instead of held in memory.
                async with self._http.stream("GET", url, headers=auth) as response:
                    content = await read_capped(response, path, self._max_response_bytes)
            except _TRANSIENT_TRANSPORT as exc:
                error: ClassyError = self._unreachable(exc)
            else:
                self._limiter.observe(response.headers, response.status_code)
                if response.status_code == 401:
                    _refuse_if_renewed(token, renewals)
                    renewals += 1
                    await self._tokens.token_rejected(token)
                    continue
                body = _decode(content)
                if response.is_success and body is not _NOT_JSON:
                    return body
                if response.is_success and (lenient := _decode_lenient(content, path)) is not _NOT_JSON:
                    return lenient
                error, hint = _retryable_failure(path, response.status_code, response.headers, body)
            attempt += 1
            if attempt > self._max_retries:
                raise error
            self.retry_count += 1
            delay = self._delay(attempt, hint)
            logger.info(
                "Classy GET %s failed (%s); retry %d in %.2fs", path, type(error).__name__, attempt, delay
            )
            await self._sleep(delay)

    def _url(self, path: str, params: Sequence[tuple[str, str]]) -> str:
        if not path.startswith("/"):
            path = f"/{path}"
        query = encode_query(params)
        return f"{self._api_url}{quote(path, safe='/-_.~')}" + (f"?{query}" if query else "")

    def _delay(self, attempt: int, hint: float | None) -> float:
        if hint is None:
            return full_jitter(attempt, base=self._backoff_base, cap=self._backoff_cap)
        # Classy said when; a little jitter keeps the app's streams from returning in lockstep.
        return hint + random.uniform(0.0, self._backoff_base)

    def _unreachable(self, exc: Exception) -> ClassyUnreachableError:
        host = urlsplit(self._api_url).hostname or "Classy"
        if isinstance(exc, httpx.TimeoutException):
            reason = "requests timed out"
        elif isinstance(exc, httpx.ConnectError):
            reason = "the connection failed"
        else:
            reason = "the connection kept dropping"
        return ClassyUnreachableError(
            f"Could not reach Classy at {host} ({reason}). The sync will try again later."
        )


def _refuse_if_renewed(token: Token, renewals: int) -> None:
    """A token refused although it had not expired, right after a renewal: the credentials themselves
    are refused. (One that simply ran out is renewed again, a bounded number of times.)"""
    expired = token.expires_within(0, now=datetime.now(UTC))
    if renewals >= _MAX_RENEWALS or (renewals and not expired):
        raise ClassyAuthError(
            "Classy refused this app's access token even right after issuing a new one. "
            "Check that the app still exists in Classy, then save its credentials again.",
            status_code=401,
        )


def _retryable_failure(
    path: str, status: int, headers: httpx.Headers, body: Any
) -> tuple[ClassyError, float | None]:
    """The error to retry for an answer that is not usable JSON, and Classy's hint of when to retry.

    Raises at once for answers that retrying cannot fix (4xx other than 429).
    """
    if 200 <= status < 300:
        return ClassyServerError(
            f"Classy answered {path} with something that is not JSON. The sync will try again later.",
            status_code=status,
        ), None
    if status in (429, 503):
        error: ClassyError = ClassyRateLimitedError(
            "Classy kept refusing requests because this app reached its rate limit "
            f"(HTTP {status}). The sync will try again later.",
            status_code=status,
        )
        return error, retry_after_seconds(headers, body)
    if status >= 500:
        return ClassyServerError(
            f"Classy kept failing with a server error (HTTP {status}) while reading {path}. "
            "The sync will try again later.",
            status_code=status,
        ), None
    raise error_for_response(status, None if body is _NOT_JSON else body, path)


def _decode(content: bytes) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return _NOT_JSON


def _decode_lenient(content: bytes, path: str) -> Any:
    """A body the strict decoder refused only for non-finite numbers: those values read as null."""
    try:
        body = decode_with_non_finite_as_null(content)
    except ValueError:
        return _NOT_JSON
    logger.warning("Classy answered %s with numbers that are not finite; those values are kept empty", path)
    return body
