"""RFC 9457 problem+json for every failure: GatewayErrors, framework errors and crashes."""

from __future__ import annotations

import math

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException

from gateway.api.middleware import new_request_id
from gateway.errors import Attempt, GatewayError, format_attempts

PROBLEM_JSON = "application/problem+json"
_FRAMEWORK_CODES = {
    400: ("invalid_request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    429: ("rate_limited", "Rate limit exceeded"),
}
log = structlog.get_logger("gateway")


class Problem(msgspec.Struct, omit_defaults=True):
    """The problem+json body (design section 3)."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    request_id: str = ""
    attempts: list[Attempt] | None = None


def request_id_of(request: Request) -> str:
    """The request id assigned by the middleware (minted here when routing failed before it)."""
    state = request.scope.setdefault("state", {})
    if "request_id" not in state:
        state["request_id"] = new_request_id(request.headers.get("x-request-id"))
    return str(state["request_id"])


def problem_response(
    request: Request, status: int, code: str, title: str, detail: str,
    attempts: tuple[Attempt, ...] = (), headers: dict[str, str] | None = None,
) -> Response[bytes]:
    """Build the problem+json response with the standard headers."""
    request_id = request_id_of(request)
    body = Problem(
        type=f"https://bg-gateway.dev/problems/{code}", title=title, status=status,
        detail=detail, code=code, request_id=request_id,
        attempts=list(attempts) if attempts else None,
    )
    all_headers = {"X-Request-Id": request_id, **(headers or {})}
    if attempts:
        all_headers["X-Attempts"] = format_attempts(attempts)
    return Response(
        msgspec.json.encode(body), status_code=status, media_type=PROBLEM_JSON,
        headers=all_headers,
    )


def gateway_error_handler(request: Request, exc: Exception) -> Response[bytes]:
    """GatewayError -> problem+json (Retry-After when known)."""
    assert isinstance(exc, GatewayError)
    headers = dict(exc.headers)
    if exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    request.scope.setdefault("state", {})["error_code"] = exc.code
    return problem_response(
        request, exc.status, exc.code, exc.title, exc.detail, exc.attempts, headers
    )


def http_exception_handler(request: Request, exc: Exception) -> Response[bytes]:
    """Litestar's own errors (404, 405, body too large, validation) -> problem+json."""
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    code, title = _FRAMEWORK_CODES.get(status, ("http_error", "HTTP error"))
    if status == 413:
        detail = "the request body is over the gateway's upload limit"
    elif status >= 500:
        code, title, detail = "internal_error", "Internal error", "the gateway failed"
    else:
        detail = str(exc.detail) if exc.detail else title
    request.scope.setdefault("state", {})["error_code"] = code
    return problem_response(request, status, code, title, detail, headers=exc.headers or None)


def internal_error_handler(request: Request, exc: Exception) -> Response[bytes]:
    """Any crash -> 500 problem+json; the trace goes to the log only."""
    log.error("unhandled_error", request_id=request_id_of(request), error=type(exc).__name__,
              exc_info=exc)
    request.scope.setdefault("state", {})["error_code"] = "internal_error"
    return problem_response(
        request, 500, "internal_error", "Internal error",
        "the gateway failed unexpectedly; the request id is in the log",
    )


EXCEPTION_HANDLERS = {
    GatewayError: gateway_error_handler,
    HTTPException: http_exception_handler,
    Exception: internal_error_handler,
}
