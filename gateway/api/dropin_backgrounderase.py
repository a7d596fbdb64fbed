"""BackgroundErase-v2-compatible endpoints: `POST /v2` with every flag of its flags page.

Input, multipart: `image_file` (upload), `image_file_b64` / `image_base64` (base64 text) or
`image_url`. JSON: `image_base64`, `image` (legacy base64: forces channels=alpha) or `image_url`.
Base64 may carry a `data:image/...;base64,` prefix. Flags: format png|jpg|webp, channels
rgba|alpha, size preview|medium|hd|full|auto, crop, bg_color, despill; keys are case-insensitive,
booleans accept true/false/1/0/yes/no, unknown keys are ignored. `channels=alpha` always answers
a single-channel PNG mask, whatever `format` says.

Success: multipart -> the raw image bytes with their Content-Type; JSON ->
  {"image_base64", "media_type", "format", "channels", "width", "height"}
Errors: `{"error": {"message": str, "code": str}}`, codes as the gateway's sandbox uses them:
  400 invalid_request | missing_image | invalid_base64 | invalid_option | invalid_image_url
  401 unauthorized   402 insufficient_credits (client quota spent)   413 payload_too_large
  415 unsupported_format   422 invalid_image | image_too_large | unsupported_options
  429 rate_limited   500 internal_error   502 provider_error   503 no_provider_available
  504 timeout
`GET /v2/health` answers `{"status": "ok"}`, as the unified `GET /health` does.
"""

from __future__ import annotations

import base64

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.exceptions import HTTPException

from gateway.api.dropin_common import (
    failure_of,
    first_image,
    image_bytes,
    json_error,
    parse_flags,
    read_fields,
)
from gateway.api.inputs import present
from gateway.api.serving import admit, serve
from gateway.errors import GatewayError, MissingImage
from gateway.runtime import runtime_of
from providers.base import OutputOptions

FLAGS = frozenset({"format", "channels", "size", "crop", "bg_color", "despill"})
#: (field, uploads only) in the order tried; the JSON legacy `image` comes after these.
MULTIPART_FIELDS = (("image_file", True), ("image_file_b64", False), ("image_base64", False))
JSON_FIELDS = (("image_base64", False), ("image_file_b64", False))
#: Gateway error code -> (status, BackgroundErase code) where they differ.
CODES: dict[str, tuple[int, str]] = {
    "quota_exceeded": (402, "insufficient_credits"),
    "unsupported_media_type": (415, "unsupported_format"),
    "provider_timeout": (504, "timeout"),
}


class EraseJSON(msgspec.Struct):
    """The JSON answer of `POST /v2` to a JSON request."""

    image_base64: str
    media_type: str
    format: str
    channels: str
    width: int
    height: int


def _error(request: Request, exc: Exception) -> Response[bytes]:
    """Any failure -> `{"error": {"message", "code"}}`."""
    failure = failure_of(request, exc)
    status, code = CODES.get(failure.code, (failure.status, failure.code))
    return json_error(status, {"error": {"message": failure.detail, "code": code}},
                      failure.headers)


EXCEPTION_HANDLERS = {GatewayError: _error, HTTPException: _error, Exception: _error}


def _with_channels(options: OutputOptions, legacy: bool) -> OutputOptions:
    """Legacy `image` forces the mask; a mask is always a PNG."""
    if legacy:
        options = msgspec.structs.replace(options, channels="alpha")
    if options.channels == "alpha":
        options = msgspec.structs.replace(options, format="png")
    return options


@post(
    "/v2", status_code=200, summary="BackgroundErase v2: remove the background",
    description=(
        "multipart `image_file` | `image_file_b64` | `image_base64` | `image_url`, or JSON "
        "`image_base64` | `image` (legacy, mask) | `image_url`; flags format, channels, size, "
        "crop, bg_color, despill. Multipart answers raw bytes, JSON answers JSON."
    ),
)
async def v2(request: Request) -> Response[bytes]:
    """Remove the background; multipart answers bytes, JSON answers a JSON document."""
    admission = await admit(request)
    fields, is_json = await read_fields(request)
    max_bytes = runtime_of(request).settings.server.max_upload_bytes
    legacy = False
    image = await first_image(fields, JSON_FIELDS if is_json else MULTIPART_FIELDS, max_bytes)
    if image is None and is_json and present(fields, "image"):
        image = await image_bytes("image", fields["image"], max_bytes)
        legacy = True
    url = fields.get("image_url")
    if image is None and not (isinstance(url, str) and url.strip()):
        raise MissingImage("no image given (image_file, image_file_b64, image_base64, image, "
                           "image_url)")
    options = _with_channels(parse_flags(fields, FLAGS), legacy)
    served = await serve(
        request, admission, image, url.strip() if isinstance(url, str) else None, options,
        api="backgrounderase",
    )
    processed = served.removal.image
    if not is_json:
        return Response(processed.data, media_type=processed.media_type, headers=served.headers)
    body = EraseJSON(
        image_base64=base64.b64encode(processed.data).decode("ascii"),
        media_type=processed.media_type, format=options.format, channels=options.channels,
        width=processed.width, height=processed.height,
    )
    return Response(msgspec.json.encode(body), media_type="application/json",
                    headers=served.headers)


@get("/v2/health", summary="BackgroundErase: liveness")
async def v2_health() -> dict[str, str]:
    """The process is alive (same answer as `GET /health`)."""
    return {"status": "ok"}


BACKGROUNDERASE_ROUTES = Router(
    path="/",
    route_handlers=[v2, v2_health],
    exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
    tags=["drop-in: BackgroundErase"],
)
