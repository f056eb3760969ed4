"""Client for the Classy (GoFundMe Pro) API 2.0.

Self-contained on purpose: it imports nothing else from ``app`` (only the standard library, httpx,
authlib, pydantic and orjson), so it can be tested and reasoned about on its own.
"""

from .client import ClassyClient
from .errors import (
    ClassyAuthError,
    ClassyBadRequestError,
    ClassyError,
    ClassyNotFoundError,
    ClassyOrganizationAccessError,
    ClassyRateLimitedError,
    ClassyServerError,
    ClassyUnreachableError,
)
from .models import (
    Campaign,
    ClassyModel,
    Designation,
    Organization,
    RecurringDonationPlan,
    Registration,
    Supporter,
    Transaction,
    TransactionConsent,
    TransactionItem,
)
from .pages import Page
from .query import build_params, condition, encode_query, format_timestamp
from .ratelimit import RateLimiter, limiter_for
from .timestamps import parse_date, parse_local_datetime, parse_timestamp
from .token_model import Token
from .tokens import TokenManager

__all__ = [
    "Campaign",
    "ClassyAuthError",
    "ClassyBadRequestError",
    "ClassyClient",
    "ClassyError",
    "ClassyModel",
    "ClassyNotFoundError",
    "ClassyOrganizationAccessError",
    "ClassyRateLimitedError",
    "ClassyServerError",
    "ClassyUnreachableError",
    "Designation",
    "Organization",
    "Page",
    "RateLimiter",
    "RecurringDonationPlan",
    "Registration",
    "Supporter",
    "Token",
    "TokenManager",
    "Transaction",
    "TransactionConsent",
    "TransactionItem",
    "build_params",
    "condition",
    "encode_query",
    "format_timestamp",
    "limiter_for",
    "parse_date",
    "parse_local_datetime",
    "parse_timestamp",
]
