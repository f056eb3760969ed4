"""Client for the Classy (GoFundMe Pro) API 2.0.

Self-contained on purpose: it imports nothing else from ``app`` (only the standard library, httpx,
authlib, pydantic and orjson), so it can be tested and reasoned about on its own.
"""

from .client import ClassyClient
from .errors import (
    ClassyAuthError,
    ClassyBadRequestError,
    ClassyError,
    ClassyListAccessError,
    ClassyNotFoundError,
    ClassyOrganizationAccessError,
    ClassyRateLimitedError,
    ClassyServerError,
    ClassyUnreachableError,
)
from .models import ClassyModel, Organization
from .pages import Page
from .query import build_params, condition, encode_query, format_timestamp
from .ratelimit import RateLimiter, limiter_for
from .timestamps import parse_timestamp
from .token_model import Token
from .tokens import TokenManager

__all__ = [
    "ClassyAuthError",
    "ClassyBadRequestError",
    "ClassyClient",
    "ClassyError",
    "ClassyListAccessError",
    "ClassyModel",
    "ClassyNotFoundError",
    "ClassyOrganizationAccessError",
    "ClassyRateLimitedError",
    "ClassyServerError",
    "ClassyUnreachableError",
    "Organization",
    "Page",
    "RateLimiter",
    "Token",
    "TokenManager",
    "build_params",
    "condition",
    "encode_query",
    "format_timestamp",
    "limiter_for",
    "parse_timestamp",
]
