"""Domain errors that carry their HTTP status and a machine code; the API renders them as JSON."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """An expected failure with a sentence for the caller (`detail`) and a stable `code`."""

    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.extra = extra or {}
        self.headers = headers or {}


class NotAuthenticatedError(AppError):
    status_code = 401
    code = "not_authenticated"


class ForbiddenError(AppError):
    status_code = 403
    code = "forbidden"


class NotFoundError(AppError):
    status_code = 404
    code = "not_found"


class ConflictError(AppError):
    status_code = 409
    code = "conflict"


class UnprocessableError(AppError):
    status_code = 422
    code = "unprocessable"


class TooManyRequestsError(AppError):
    """The caller must wait `retry_after` seconds (sent as `Retry-After`) before trying again."""

    status_code = 429
    code = "too_many_requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class UpstreamError(AppError):
    """Classy could not be reached or failed; the request may be retried later."""

    status_code = 502
    code = "classy_unavailable"
