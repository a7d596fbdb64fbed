"""Plumbing shared by the vendor-compatible (drop-in) routes: fields, options, failures.

Each drop-in module reads its body with the one reader (`read_fields` here is `read_body` with the
drop-ins' conventions), picks its vendor's field names, calls `gateway.api.serving.serve` (the same
flow as the unified API) and renders `Failure`s in its vendor's error shape through its own
Router-level exception handlers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException

from gateway.api.inputs import field_bytes, present, read_body
from gateway.api.options import parse_options
from gateway.api.problems import request_id_of
from gateway.errors import GatewayError, InvalidOption, format_attempts
from providers.base import OutputOptions

log = structlog.get_logger("gateway")
_FRAMEWORK: dict[int, tuple[str, str]] = {
    400: ("invalid_request", "Bad request"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
}


class InvalidBase64(InvalidOption):
    """A base64 image field that does not decode."""

    code = "invalid_base64"


class MalformedBody(InvalidOption):
    """The JSON body does not parse, or is not an object."""

    code = "invalid_request"


class Failure(msgspec.Struct, frozen=True):
    """One failed drop-in request, vendor-neutral: each module renders it in its own shape."""

    status: int
    code: str
    title: str
    detail: str
    headers: dict[str, str]


async def read_fields(request: Request) -> tuple[dict[str, object], bool]:
    """The body's fields ({lower-cased key: first value}; the query is not read) and is_json."""
    body = await read_body(request, query=False, malformed=MalformedBody)
    return body.first(), body.is_json


async def image_bytes(
    name: str, value: object, max_bytes: int, uploads_only: bool = False
) -> bytes:
    """An uploaded file, or a base64 text field (data-URL prefix allowed), within `max_bytes`."""
    return await field_bytes(name, value, max_bytes, uploads_only=uploads_only,
                             bad_base64=InvalidBase64)


async def first_image(
    fields: Mapping[str, object], candidates: tuple[tuple[str, bool], ...], max_bytes: int
) -> bytes | None:
    """The image of the first present field in `candidates` ((name, uploads_only) pairs)."""
    for name, uploads_only in candidates:
        if present(fields, name):
            return await image_bytes(name, fields[name], max_bytes, uploads_only)
    return None


def parse_flags(fields: Mapping[str, object], known: frozenset[str]) -> OutputOptions:
    """The output options among `fields` (keys in `known`; other keys are ignored)."""
    pairs: list[tuple[str, str]] = []
    for key, value in fields.items():
        if key not in known or value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str | int):
            text = str(value)
        elif isinstance(value, float) and value.is_integer():  # JSON `50.0` is the integer 50
            text = str(int(value))
        else:
            raise InvalidOption(f"option `{key}` must be a string, boolean or integer")
        pairs.append((key, text))
    return parse_options(pairs, strict=False).output


def failure_of(request: Request, exc: Exception) -> Failure:
    """Classify any exception raised in a drop-in handler; crashes are logged, never shown."""
    request_id = request_id_of(request)
    headers = {"X-Request-Id": request_id}
    if isinstance(exc, GatewayError):
        headers.update(exc.headers)
        if exc.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        if exc.attempts:
            headers["X-Attempts"] = format_attempts(exc.attempts)
        failure = Failure(exc.status, exc.code, exc.title, exc.detail, headers)
    elif isinstance(exc, HTTPException) and exc.status_code < 500:
        headers.update(exc.headers or {})
        code, title = _FRAMEWORK.get(exc.status_code, ("http_error", "HTTP error"))
        detail = str(exc.detail) if exc.detail else title
        if exc.status_code == 413:
            detail = "the request body is over the gateway's upload limit"
        failure = Failure(exc.status_code, code, title, detail, headers)
    else:
        log.error("unhandled_error", request_id=request_id, error=type(exc).__name__,
                  exc_info=exc)
        failure = Failure(500, "internal_error", "Internal error",
                          "the gateway failed unexpectedly; the request id is in the log", headers)
    failure.headers["X-Error-Code"] = failure.code
    request.scope.setdefault("state", {})["error_code"] = failure.code
    return failure


def json_error(status: int, body: object, headers: Mapping[str, str]) -> Response[bytes]:
    """A JSON error answer with `headers` (Retry-After, X-Request-Id, X-Attempts, …)."""
    return Response(
        msgspec.json.encode(body), status_code=status, media_type="application/json",
        headers=dict(headers),
    )
