"""remove.bg-compatible endpoints: a remove.bg client only changes its base URL and key.

    POST /v1.0/removebg   multipart, urlencoded or JSON; every documented field (removebg_fields)
    GET  /v1.0/account    the calling client's balance in remove.bg's shape

Input: exactly one of `image_file` (upload), `image_file_b64` (base64) or `image_url`.
Answer: the image (or a ZIP of color.jpg + alpha.png) with `X-Credits-Charged` (the gateway's own
cost of this request), `X-Width`, `X-Height`, `X-Type` (when the client named a `type`: the gateway
detects no class), `X-Foreground-Top/Left/Width/Height`, `X-RateLimit-Limit/Remaining/Reset` (when
the client has a rate limit) and the gateway's headers; with `Accept: application/json`:
`{"data": {"result_b64", "foreground_top", "foreground_left", "foreground_width",
"foreground_height"}}`. remove.bg's own 10/25 MP caps are not applied (the gateway's
`max_megapixels` is).
Errors: `{"errors": [{"title", "code", "detail"}]}`: 400 for every client fault (remove.bg's codes:
missing_source, multiple_sources, invalid_<option>, roi_exceeds_bounds, roi_region_empty,
multiple_bg_sources, unknown_foreground, …), 402 insufficient_credits (client quota spent), 403
auth_failed, 429 rate_limit_exceeded with Retry-After, 5xx.
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Mapping

import anyio.to_thread
import msgspec
from litestar import Request, Response, Router, get, post
from litestar.exceptions import HTTPException
from PIL import Image

from gateway.api.dropin_common import failure_of, first_image, read_fields
from gateway.api.dropin_credits import credits_left
from gateway.api.inputs import present
from gateway.api.options import parse_color
from gateway.api.removebg_fields import (
    FORMATS,
    SIZES,
    RemoveBgInvalid,
    auto_format,
    removebg_request,
)
from gateway.api.responses import wants_json
from gateway.api.serving import admit, serve
from gateway.errors import GatewayError, InvalidImageUrl, InvalidOption
from gateway.postprocess.compose import check_background
from gateway.postprocess.roi import RoiEmpty, RoiOutOfBounds
from gateway.runtime import runtime_of

__all__ = ["FORMATS", "OPTIONS", "REMOVEBG_ROUTES", "SIZES", "Foreground"]
#: Fields remove.bg's route shares with the unified API (same syntax; for the OpenAPI document).
OPTIONS = frozenset({"channels", "crop", "crop_margin", "bg_color", "bg_image_url", "roi",
                     "scale", "position", "shadow_opacity"})
SOURCES = ("image_file", "image_file_b64", "image_url")
BG_SOURCES = ("bg_color", "bg_image_url", "bg_image_file")
JSON_TYPE = "application/json; charset=utf-8"
#: Gateway error code -> (remove.bg status, code, title) where they differ from "400, ours".
ERRORS: dict[str, tuple[int, str, str]] = {
    "missing_image": (400, "missing_source", "No image given"),
    "payload_too_large": (400, "file_too_large", "File too large"),
    "unsupported_media_type": (400, "invalid_file_type", "Invalid file type"),
    "invalid_image": (400, "invalid_image", "Failed to read image"),
    "unauthorized": (403, "auth_failed", "API Key invalid"),
    "quota_exceeded": (402, "insufficient_credits", "Insufficient credits"),
    "rate_limited": (429, "rate_limit_exceeded", "Rate limit exceeded"),
}
UNKNOWN_FOREGROUND = (
    "Could not identify foreground in image. For details and recommendations see "
    "https://www.remove.bg/supported-images."
)


class Foreground(msgspec.Struct, frozen=True):
    """The `data` of remove.bg's JSON answer."""

    result_b64: str
    foreground_top: int
    foreground_left: int
    foreground_width: int
    foreground_height: int


class NoForeground(InvalidOption):
    """The answer holds no subject at all."""

    code, title = "unknown_foreground", "Could not identify foreground in image"


def rate_limit_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """remove.bg's `X-RateLimit-*` from the gateway's `RateLimit-*` (reset as Unix seconds)."""
    if "RateLimit-Limit" not in headers:
        return {}
    reset = int(time.time()) + int(headers.get("RateLimit-Reset", "0"))
    return {"X-RateLimit-Limit": headers["RateLimit-Limit"],
            "X-RateLimit-Remaining": headers.get("RateLimit-Remaining", "0"),
            "X-RateLimit-Reset": str(reset)}


def _error(request: Request, exc: Exception) -> Response[bytes]:
    """Any failure -> `{"errors": [{"title", "code", "detail"}]}` with remove.bg's statuses."""
    failure = failure_of(request, exc)
    default = (failure.status if failure.status >= 500 else 400, failure.code, failure.title)
    status, code, title = ERRORS.get(failure.code, default)
    if isinstance(exc, RoiOutOfBounds | RoiEmpty):
        code = "roi_exceeds_bounds" if isinstance(exc, RoiOutOfBounds) else "roi_region_empty"
    elif isinstance(exc, NoForeground):
        title = UNKNOWN_FOREGROUND
    elif isinstance(exc, RemoveBgInvalid | InvalidOption) and status == 400:
        title = "Invalid parameters"
    headers = {**failure.headers, **rate_limit_headers(failure.headers)}
    body = {"errors": [{"title": title, "code": code, "detail": failure.detail}]}
    return Response(msgspec.json.encode(body), status_code=status, media_type=JSON_TYPE,
                    headers=headers)


EXCEPTION_HANDLERS = {GatewayError: _error, HTTPException: _error, Exception: _error}


def _transparent(colour: str) -> bool:
    try:
        return parse_color("bg_color", colour)[3] == 0
    except InvalidOption:
        return False  # reported by the option parser


def _opaque(data: bytes) -> bool:
    """True when an image has no transparent pixel (CPU: run it in a worker thread)."""
    with Image.open(io.BytesIO(data)) as image:
        if "A" not in image.getbands() and "transparency" not in image.info:
            return True
        return bool(image.convert("RGBA").getchannel("A").getextrema()[0] == 255)


async def _background(request: Request, fields: Mapping[str, object]) -> bytes | None:
    """The `bg_image_file` upload or the `bg_image_url` download; at most one background."""
    given = [name for name in BG_SOURCES if present(fields, name)]
    if "bg_color" in given and _transparent(str(fields["bg_color"])):
        given.remove("bg_color")  # remove.bg: a fully transparent colour is no background
    if len(given) > 1:
        raise RemoveBgInvalid("multiple_bg_sources", f"send at most one of "
                              f"{', '.join(BG_SOURCES)}; got {', '.join(given)}")
    runtime = runtime_of(request)
    limits = runtime.settings.server
    max_pixels = int(limits.max_megapixels * 1_000_000)
    if given == ["bg_image_file"]:
        data = await first_image(fields, (("bg_image_file", True),), limits.max_upload_bytes)
        name = "bg_image_file"
    elif given == ["bg_image_url"]:
        try:
            data = await runtime.fetch_url(str(fields["bg_image_url"]).strip())
        except InvalidImageUrl as exc:
            raise RemoveBgInvalid("failed_bg_download",
                                  exc.detail.replace("image_url", "bg_image_url", 1)) from None
        name = "bg_image_url"
    else:
        return None
    assert data is not None
    try:
        check_background(data, limits.max_upload_bytes, max_pixels, name)
    except InvalidOption as exc:
        raise RemoveBgInvalid(f"invalid_{name}", exc.detail) from None
    return data


@post(
    "/v1.0/removebg", status_code=200, summary="remove.bg: remove the background",
    description=(
        "`image_file` | `image_file_b64` | `image_url`; size, type, type_level, format "
        "(auto|png|jpg|webp|zip), roi, crop, crop_margin, scale, position, channels, add_shadow, "
        "shadow_type, shadow_opacity, semitransparency, bg_color, bg_image_url, bg_image_file. "
        "Image bytes, or remove.bg's JSON with `Accept: application/json`."
    ),
)
async def removebg(request: Request) -> Response[bytes]:
    """Remove the background, answering as remove.bg does."""
    admission = await admit(request)
    fields, _ = await read_fields(request)
    given = [name for name in SOURCES if present(fields, name)]
    if not given:
        raise RemoveBgInvalid("missing_source", "No image given: send one of "
                              "image_file, image_file_b64 or image_url")
    if len(given) > 1:
        raise RemoveBgInvalid("multiple_sources",
                              f"send exactly one of {', '.join(SOURCES)}; got {', '.join(given)}")
    max_bytes = runtime_of(request).settings.server.max_upload_bytes
    image = await first_image(fields, (("image_file", True), ("image_file_b64", False)), max_bytes)
    url = fields.get("image_url")
    background = await _background(request, fields)
    asked = removebg_request(fields, background)
    options = asked.options
    if asked.format_auto:
        opaque = background is not None and await anyio.to_thread.run_sync(_opaque, background)
        options = auto_format(options, opaque)
    served = await serve(request, admission, image, url.strip() if isinstance(url, str) else None,
                         options, api="removebg", measure_foreground=True, bill_empty=False)
    processed = served.removal.image
    top, left, width, height = processed.foreground or (0, 0, 0, 0)
    if width == 0 or height == 0:
        # Not billed (remove.bg charges no credits for it); the ledger keeps the vendor's cost
        # under `unbilled:<client>` (RemovalCall.bill_empty).
        raise NoForeground("the answer holds no foreground (nothing above alpha 10)")
    headers = {**served.headers, **rate_limit_headers(served.headers),
               "X-Credits-Charged": f"{served.removal.cost:g}",
               "Access-Control-Allow-Origin": "*"}
    if asked.x_type is not None:
        headers["X-Type"] = asked.x_type
    if not wants_json(request):
        return Response(processed.data, media_type=processed.media_type, headers=headers)
    data = Foreground(
        result_b64=base64.b64encode(processed.data).decode("ascii"), foreground_top=top,
        foreground_left=left, foreground_width=width, foreground_height=height,
    )
    return Response(msgspec.json.encode({"data": data}), media_type=JSON_TYPE, headers=headers)


@get("/v1.0/account", summary="remove.bg: the calling client's credits")
async def account(request: Request) -> Response[bytes]:
    """remove.bg's account document for the calling client.

    `total` = `subscription` = `credits_left`: a client with a monthly quota has that quota
    minus the images the usage ledger billed it this month; otherwise the vendors' reported
    credits. The key is checked; the call does not count against the rate limit or quota.
    """
    runtime = runtime_of(request)
    left = await credits_left(runtime, runtime.auth.identify(request.headers))
    body = {"data": {"attributes": {
        "credits": {"total": left, "subscription": left, "payg": 0, "enterprise": 0},
        "api": {"free_calls": 0, "sizes": "all"},
    }}}
    return Response(msgspec.json.encode(body), media_type=JSON_TYPE)


REMOVEBG_ROUTES = Router(
    path="/",
    route_handlers=[removebg, account],
    exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
    tags=["drop-in: remove.bg"],
)
