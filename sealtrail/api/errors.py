"""HTTP-facing errors and the one middleware that turns every error into problem+json (RFC 9457).

Handlers raise Sealtrail errors (ledger.errors or the subclasses here); nothing translates errors
per view. Unexpected exceptions become a 500 problem without internals in the body (they are
logged with a request id instead).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sealtrail.api.access_log import logged_path
from sealtrail.api.error_codes import http_status_for
from sealtrail.core.errors import InvalidInputError, SealtrailError

log = logging.getLogger("sealtrail.api")
PROBLEM_TYPE_BASE = "https://sealtrail.dev/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"


class RequestTimeoutError(InvalidInputError):
    """The request's headers or declared body did not arrive in time."""

    code = "request_timeout"


class DuplicateHeaderError(InvalidInputError):
    """A header that must appear once (a credential) was given more than once."""

    code = "duplicate_header"


class UnauthorizedError(SealtrailError):
    """No, malformed, unknown or revoked API key."""

    code = "unauthorized"


class ForbiddenError(SealtrailError):
    """The key's role does not allow this operation."""

    code = "forbidden"


class UnsupportedMediaTypeError(InvalidInputError):
    """The request body is not ``application/json``."""

    code = "unsupported_media_type"


class PayloadTooLargeError(InvalidInputError):
    """The request body exceeds the configured limit."""

    code = "payload_too_large"


class RateLimitedError(SealtrailError):
    """Too many requests from one client; retry after ``retry_after`` seconds."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def problem(status: int, code: str, detail: str, **extra: Any) -> web.Response:
    """A problem+json response."""
    body = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": code.replace("_", " "),
        "status": status,
        "detail": detail,
        **extra,
    }
    resp = web.json_response(body, status=status, content_type=PROBLEM_CONTENT_TYPE)
    return resp


_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


@web.middleware
async def problem_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every error leaves as problem+json with a stable ``type``."""
    try:
        return await handler(request)
    except SealtrailError as e:
        status = http_status_for(e)
        resp = problem(status, e.code, str(e) or e.code)
        if isinstance(e, UnauthorizedError):
            resp.headers["WWW-Authenticate"] = 'Bearer realm="sealtrail"'
        if isinstance(e, RateLimitedError):
            resp.headers["Retry-After"] = str(e.retry_after)
        if status == 503:
            resp.headers["Retry-After"] = "1"
        if status >= 500:
            log.warning("%s %s: %s", request.method, logged_path(request), e)
        return resp
    except web.HTTPException as e:
        if e.status < 400:
            raise
        code = _HTTP_CODES.get(e.status, "http_error")
        detail = e.text if e.text and not e.text.startswith(f"{e.status}:") else e.reason
        resp = problem(e.status, code, detail)
        if e.status == 405 and "Allow" in e.headers:
            resp.headers["Allow"] = e.headers["Allow"]
        return resp
    except Exception:
        incident = secrets.token_hex(6)
        log.exception(
            "unhandled error in %s %s (incident %s)", request.method, logged_path(request), incident
        )
        return problem(500, "internal_error", f"internal error (incident {incident})")
