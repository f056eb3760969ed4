"""Errors raised by the Classy client.

Every error carries ``sentence``: plain English that a CRM admin can act on, shown in the UI and
stored on sync runs. Sentences never contain a secret (client secret, access or refresh token,
authorization code), so an error can be logged or returned as-is.

Hierarchy::

    ClassyError                          sentence, status_code
    ├── ClassyAuthError                  the token endpoint rejected the Client ID/Secret, code or
    │                                    refresh token; or a data call refused a fresh token twice
    ├── ClassyOrganizationAccessError    403: this app cannot read that organization
    ├── ClassyListAccessError            403 for one list of a readable organization (raised by the sync)
    ├── ClassyNotFoundError              404
    ├── ClassyBadRequestError            other 4xx on a data call (Classy's message included)
    ├── ClassyRateLimitedError    (*)    429/503 still failing after retries
    ├── ClassyServerError         (*)    5xx or an unreadable answer, still failing after retries
    └── ClassyUnreachableError    (*)    connection failures and timeouts, after retries

(*) ``transient = True``: trying again later may succeed, so a scheduler should back off and
retry rather than mark the connection broken.
"""

from __future__ import annotations


class ClassyError(Exception):
    """Base class: something went wrong talking to Classy."""

    transient: bool = False

    def __init__(self, sentence: str, *, status_code: int | None = None) -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.status_code = status_code

    def __str__(self) -> str:
        return self.sentence

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.sentence!r}, status_code={self.status_code!r})"


class ClassyAuthError(ClassyError):
    """Classy refused our credentials, authorization code, refresh token or access token."""


class ClassyOrganizationAccessError(ClassyError):
    """Classy answered 403: the app is not linked to the organization it asked for."""

    def __init__(
        self, sentence: str, *, status_code: int | None = 403, organization_id: int | None = None
    ) -> None:
        super().__init__(sentence, status_code=status_code)
        self.organization_id = organization_id


class ClassyListAccessError(ClassyError):
    """Classy answered 403 for one list while the organization itself stays readable: the app's
    permissions leave that list out (the 403's body names an entity). Only that list is affected."""


class ClassyNotFoundError(ClassyError):
    """Classy answered 404: the id or organization does not exist."""


class ClassyBadRequestError(ClassyError):
    """Classy rejected the request itself (400 or another 4xx), for example a filter it cannot parse."""


class ClassyRateLimitedError(ClassyError):
    """Classy kept answering 429/503 (rate limited) after every retry."""

    transient = True


class ClassyServerError(ClassyError):
    """Classy kept failing with 5xx, or sent something that is not the JSON we expect."""

    transient = True


class ClassyUnreachableError(ClassyError):
    """Classy could not be reached (connection refused, DNS, TLS, timeouts, dropped connections)."""

    transient = True
