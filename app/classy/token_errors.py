"""Turn the token endpoint's failures into sentences a CRM admin can act on.

Classy's token endpoint answers in several shapes (docs/classy-api.md §2.2): Laravel field errors
``{"error": {"client_id": ["The client id field is required."]}}``, OAuth-style
``{"error": "invalid_client", "error_description": "…"}``, or plain text such as
"Invalid client authentication". All of them mean the same thing to an admin, "the Client ID or
Secret is wrong", unless we were trading a code or a refresh token, which expire on their own.
Classy's words are appended for support, with any secret we sent scrubbed out first.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

import httpx

from .errors import (
    ClassyAuthError,
    ClassyError,
    ClassyRateLimitedError,
    ClassyServerError,
    ClassyUnreachableError,
)

_CREDENTIAL_FIELDS = {"client_id", "client_secret", "secret_key"}
_CREDENTIAL_CODES = {"invalid_client", "unauthorized_client"}
_MAX_DETAIL = 300

CREDENTIALS_REJECTED = (
    "Classy rejected the Client ID or Client Secret. Copy both again from Classy "
    "(Apps & Integrations > API) and save them."
)
CODE_REJECTED = (
    "Classy did not accept the authorization code; it may have expired or already been used. "
    "Start the authorization again."
)
REFRESH_REJECTED = (
    "Classy no longer accepts this connection's authorization (its refresh token was refused). "
    "Authorize the app in Classy again."
)


class TokenEndpointFailure(Exception):
    """Internal: a non-2xx token response, raised inside authlib and mapped by ``to_error``."""

    def __init__(self, status_code: int, error_code: str | None, fields: set[str], messages: list[str]):
        super().__init__(f"token endpoint answered HTTP {status_code}")
        self.status_code = status_code
        self.error_code = error_code
        self.fields = fields
        self.messages = messages
        self.retry_after: float | None = None

    def to_error(self, grant_type: str, secrets: Iterable[str]) -> ClassyError:
        """The ``ClassyError`` for this failure while requesting ``grant_type``."""
        status = self.status_code
        if status >= 500:
            return ClassyServerError(
                f"Classy's sign-in service is having trouble (HTTP {status}). Try again in a few minutes.",
                status_code=status,
            )
        if status == 429:
            return ClassyRateLimitedError(
                "Classy is limiting how often this app may sign in. Try again in a minute.",
                status_code=status,
            )
        credential_problem = (
            grant_type == "client_credentials"
            or self.error_code in _CREDENTIAL_CODES
            or bool(self.fields & _CREDENTIAL_FIELDS)
        )
        if credential_problem:
            sentence = CREDENTIALS_REJECTED
        elif grant_type == "authorization_code":
            sentence = CODE_REJECTED
        else:
            sentence = REFRESH_REJECTED
        detail = _redact("; ".join(self.messages), secrets)
        if detail:
            sentence = f"{sentence} Classy said: {detail}"
        return ClassyAuthError(sentence, status_code=status)


def failure_for_response(status_code: int, body: object) -> TokenEndpointFailure:
    """Read whichever error shape Classy sent."""
    error_code: str | None = None
    fields: set[str] = set()
    messages: list[str] = []
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):  # Laravel validation: {"error": {field: [messages]}}
            for field, field_messages in error.items():
                fields.add(str(field))
                messages.extend(_strings(field_messages))
        elif isinstance(error, str):
            error_code = error
            messages.append(error)
        for key in ("error_description", "message"):
            messages.extend(_strings(body.get(key)))
        messages.extend(_strings(body.get("errors")))
    elif isinstance(body, str):
        messages.append(body)
    return TokenEndpointFailure(status_code, error_code, fields, messages)


def unreachable(url: str, exc: httpx.TransportError) -> ClassyUnreachableError:
    """The error for a token request that never got an answer."""
    host = urlsplit(url).hostname or "Classy"
    reason = "the request timed out" if isinstance(exc, httpx.TimeoutException) else "the connection failed"
    return ClassyUnreachableError(
        f"Could not reach Classy's sign-in service at {host} ({reason}). Try again in a few minutes."
    )


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str) and item]
    return []


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, "***")
    return text[:_MAX_DETAIL]
