"""Map a failed data response (403, 404, other 4xx) to a ``ClassyError`` with a plain sentence.

The sentence names what was asked for ("organization 82364", "/campaigns/5/transactions") and
adds Classy's own message for 4xx errors, because a CRM admin can act on "this app cannot read
organization 82364" but not on "HTTP 403". Paths and Classy's messages carry no secrets; query
strings (which may hold e-mail addresses in filters) are left out.
"""

from __future__ import annotations

import re

from .errors import (
    ClassyBadRequestError,
    ClassyError,
    ClassyNotFoundError,
    ClassyOrganizationAccessError,
)

_ORG_PATH = re.compile(r"^/organizations/(\d+)(/|$)")
_MAX_DETAIL = 300


def classy_message(body: object) -> str | None:
    """Classy's error text from any of its body shapes, or None."""
    if not isinstance(body, dict):
        return None
    parts: list[str] = []
    for key in ("error", "message", "error_description", "errors"):
        value = body.get(key)
        if isinstance(value, str) and value:
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(item for item in value if isinstance(item, str) and item)
        elif isinstance(value, dict):  # {"field": ["message", …]}
            for messages in value.values():
                if isinstance(messages, list):
                    parts.extend(item for item in messages if isinstance(item, str) and item)
                elif isinstance(messages, str):
                    parts.append(messages)
    return "; ".join(parts)[:_MAX_DETAIL] or None


def organization_in(path: str) -> int | None:
    """The organization id of an ``/organizations/{id}/…`` path."""
    match = _ORG_PATH.match(path)
    return int(match.group(1)) if match else None


def error_for_response(status_code: int, body: object, path: str) -> ClassyError:
    """The error for a 4xx answer (other than 401/429) to a GET of ``path``."""
    org = organization_in(path)
    detail = classy_message(body)
    if status_code == 403:
        if org is not None:
            sentence = (
                f"This Classy app cannot read organization {org}. Check the Organization ID, and that "
                "the app was created in that organization's Classy admin (Apps & Integrations > API)."
            )
        else:
            sentence = f"Classy does not allow this app to read {path}."
        return ClassyOrganizationAccessError(sentence, status_code=status_code, organization_id=org)
    if status_code == 404:
        if org is not None and path.rstrip("/") == f"/organizations/{org}":
            sentence = f"Classy has no organization {org}. Check the Organization ID."
        else:
            sentence = f"Classy could not find {path}."
        return ClassyNotFoundError(sentence, status_code=status_code)
    sentence = f"Classy rejected the request for {path} (HTTP {status_code})."
    if detail:
        sentence = f"{sentence} Classy said: {detail}"
    return ClassyBadRequestError(sentence, status_code=status_code)
