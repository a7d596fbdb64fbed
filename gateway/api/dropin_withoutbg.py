"""withoutBG-compatible endpoints: a withoutBG client only changes its base URL and key.

    POST /v1.0/image-without-background          multipart `file` (or `image`) -> PNG cutout
    POST /v1.0/alpha-channel                     multipart `file` (or `image`) -> grayscale PNG
    POST /v1.0/image-without-background-base64   JSON `image` (or `image_base64`) -> JSON
    POST /v1.0/alpha-channel-base64              JSON `image` (or `image_base64`) -> JSON
    GET  /available-credit                       {"available_credits": N, "expiration_date": …}
    GET  /v1/models                              what the SDK's `get_models()` reads

Every image endpoint takes an upload (`file`, `image`) or base64 text (`image`, `image_base64`);
other fields are ignored.
Errors are `{"detail": "<withoutBG's documented message>"}` with withoutBG's status codes
(401, 402, 413, 415, 422, 429, 5xx); the gateway's own error code is in `X-Error-Code`.
"""

from __future__ import annotations

import base64
import http
from collections.abc import Mapping
from datetime import UTC, datetime

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.exceptions import HTTPException

from gateway.api.dropin_common import (
    failure_of,
    image_bytes,
    json_error,
    read_fields,
)
from gateway.api.inputs import present
from gateway.api.serving import ServedRemoval, admit, serve
from gateway.errors import GatewayError, MissingImage
from gateway.runtime import runtime_of
from providers.base import OutputOptions

#: `available_credits` when neither a client quota nor any vendor reports a number.
UNLIMITED_CREDITS = 1_000_000
#: (field, uploads only): `file` is the raw file part; `image` may be an upload or base64 text.
IMAGE_FIELDS = (("file", True), ("image", False), ("image_base64", False))
CUTOUT = OutputOptions()
ALPHA = OutputOptions(channels="alpha")
MESSAGES: dict[int, str] = {
    401: "Invalid API Key",
    402: "Insufficient credit. Please top up API credits.",
    415: "Unsupported Media Type. Supported formats are: JPEG, PNG, WebP, TIFF, BMP, GIF.",
    422: "Validation Error",
    429: "Rate limit exceeded",
}
#: Gateway error code -> withoutBG status (codes not listed keep their status when 5xx, else 422).
STATUSES: dict[str, int] = {
    "unauthorized": 401,
    "quota_exceeded": 402,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "rate_limited": 429,
}


def _error(request: Request, exc: Exception) -> Response[bytes]:
    """Any failure -> withoutBG's `{"detail": …}` with its status code."""
    failure = failure_of(request, exc)
    status = STATUSES.get(failure.code, failure.status if failure.status >= 500 else 422)
    if status == 413:
        limit_mb = runtime_of(request).settings.server.max_upload_bytes / (1024 * 1024)
        message = f"File size too large. Maximum file size is {limit_mb:.1f} MB"
    elif status >= 500:
        message = f"{http.HTTPStatus(status).phrase}: {failure.detail}"
    else:
        message = MESSAGES[status]
    return json_error(status, {"detail": message}, failure.headers)


EXCEPTION_HANDLERS = {GatewayError: _error, HTTPException: _error, Exception: _error}


async def _remove(request: Request, options: OutputOptions) -> ServedRemoval:
    admission = await admit(request)
    fields, _ = await read_fields(request)
    max_bytes = runtime_of(request).settings.server.max_upload_bytes
    for name, uploads_only in IMAGE_FIELDS:
        if present(fields, name):
            image = await image_bytes(name, fields[name], max_bytes, uploads_only)
            return await serve(request, admission, image, None, options, api="withoutbg")
    raise MissingImage("send the image as multipart `file` (or JSON `image` in base64)")


def _encoded(served: ServedRemoval, keys: tuple[str, ...]) -> Response[bytes]:
    text = base64.b64encode(served.removal.image.data).decode("ascii")
    body: Mapping[str, str] = dict.fromkeys(keys, text)
    return Response(msgspec.json.encode(body), media_type="application/json",
                    headers=served.headers)


@post("/v1.0/image-without-background", status_code=200,
      summary="withoutBG: transparent PNG cutout (multipart `file`)")
async def image_without_background(request: Request) -> Response[bytes]:
    """The cutout as a PNG with transparency."""
    served = await _remove(request, CUTOUT)
    return Response(served.removal.image.data, media_type="image/png", headers=served.headers)


@post("/v1.0/alpha-channel", status_code=200,
      summary="withoutBG: grayscale PNG alpha matte (multipart `file`)")
async def alpha_channel(request: Request) -> Response[bytes]:
    """The matte as a single-channel PNG (255 = opaque)."""
    served = await _remove(request, ALPHA)
    return Response(served.removal.image.data, media_type="image/png", headers=served.headers)


@post("/v1.0/image-without-background-base64", status_code=200,
      summary="withoutBG: base64 cutout (JSON `image`)")
async def image_without_background_base64(request: Request) -> Response[bytes]:
    """`{"image": …}` as documented, and `img_without_background_base64` as the SDK reads."""
    served = await _remove(request, CUTOUT)
    return _encoded(served, ("image", "img_without_background_base64"))


@post("/v1.0/alpha-channel-base64", status_code=200,
      summary="withoutBG: base64 alpha matte (JSON `image`)")
async def alpha_channel_base64(request: Request) -> Response[bytes]:
    """`{"alpha_channel": …}` as documented, and `alpha_base64` as the SDK reads."""
    served = await _remove(request, ALPHA)
    return _encoded(served, ("alpha_channel", "alpha_base64"))


@get("/available-credit", summary="withoutBG: remaining credits")
async def available_credit(request: Request) -> Response[bytes]:
    """Images this client may still process; `expiration_date` is when that number lapses.

    A client with a monthly quota gets what is left of it, expiring when the month ends (UTC).
    Otherwise the gateway has no credits of its own: the sum of what the vendors with a credits
    endpoint report (cached 60 s), or UNLIMITED_CREDITS when none reports a number (e.g. only the
    local engine, which is free), with `expiration_date` null. The key is checked but this
    request does not count against the client's rate limit or quota.
    """
    runtime = runtime_of(request)
    client = runtime.auth.identify(request.headers)
    quota = client.settings.monthly_quota if client else None
    if client is not None and quota is not None:
        used = await runtime.auth.used_this_month(client)
        body = {"available_credits": max(0, quota - used), "expiration_date": _month_end()}
    else:
        reported = [n for n in (await runtime.credits()).values() if n is not None]
        credits = int(sum(reported)) if reported else UNLIMITED_CREDITS
        body = {"available_credits": credits, "expiration_date": None}
    return Response(msgspec.json.encode(body), media_type="application/json")


#: The image endpoints `get_models()` callers may use.
IMAGE_PATHS = ("/v1.0/image-without-background", "/v1.0/alpha-channel",
               "/v1.0/image-without-background-base64", "/v1.0/alpha-channel-base64")


@get("/v1/models", summary="withoutBG: available models (the SDK's get_models)")
async def models(request: Request) -> Response[bytes]:
    """The enabled providers as "models", best first; the key is checked, nothing is charged.

    The SDK returns this object as it is: `models` (id, type, output kind), the `default` one
    (tried first for the unified routing order) and the drop-in `endpoints` that use them.
    """
    runtime = runtime_of(request)
    runtime.auth.identify(request.headers)
    statuses = [s for s in await runtime.router.describe() if s.enabled]
    statuses.sort(key=lambda s: s.priority)
    listed = [{"id": s.name, "type": s.type,
               "output": s.capabilities.output if s.capabilities else None} for s in statuses]
    body = {"models": listed, "default": listed[0]["id"] if listed else None,
            "endpoints": list(IMAGE_PATHS)}
    return Response(msgspec.json.encode(body), media_type="application/json")


def _month_end() -> str:
    """The first instant of next month (UTC), ISO 8601 with `Z`, when monthly quotas reset."""
    now = datetime.now(UTC)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, 1, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


WITHOUTBG_ROUTES = Router(
    path="/",
    route_handlers=[
        image_without_background, alpha_channel, image_without_background_base64,
        alpha_channel_base64, available_credit, models,
    ],
    exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
    tags=["drop-in: withoutBG"],
)
