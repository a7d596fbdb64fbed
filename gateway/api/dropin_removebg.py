"""remove.bg-compatible endpoint: `POST /v1.0/removebg` (multipart, urlencoded or JSON).

Input: `image_file` (upload), `image_file_b64` (base64) or `image_url`, tried in that order.
Options (other remove.bg fields such as `type`, `roi`, `scale`, `position`, `add_shadow`,
`semitransparency`, `bg_image_url` are accepted and ignored):
- `size` (remove.bg's default `preview`): preview|small|regular -> preview (0.25 MP),
  medium -> medium (1.5 MP), hd -> hd (4 MP), full|4k|50mp|auto -> full (up to the gateway's
  `max_megapixels`; remove.bg's 10/25 MP caps are not applied).
- `format`: auto (default: jpg when an opaque `bg_color` leaves no transparency and channels is
  rgba, else png) | png | jpg | webp; `zip` is refused (400).
- `channels` rgba|alpha, `crop`, `crop_margin` (`30px` or `10%`, one value), `bg_color`
  (hex with or without `#`, e.g. `81d4fa`, or a colour name).
Answer: the image with `X-Width`, `X-Height`, `X-Credits-Charged` (the request's cost) and the
gateway's headers; with `Accept: application/json`: `{"data": {"result_b64",
"foreground_top", "foreground_left", "foreground_width", "foreground_height"}}`, the box of
alpha > 10 in the answer (the whole image when the answer has no alpha, e.g. jpg).
Errors: `{"errors": [{"title", "code", "detail"}]}`: 400 for every client fault, 402
insufficient_credits (client quota spent), 403 auth_failed, 429 rate_limit_exceeded, 5xx.
"""

from __future__ import annotations

import base64
import io

import anyio.to_thread
import msgspec
import numpy as np
from litestar import Request, Response, Router, post
from litestar.exceptions import HTTPException
from PIL import Image

from gateway.api.dropin_common import (
    failure_of,
    first_image,
    json_error,
    parse_flags,
    read_fields,
)
from gateway.api.inputs import present
from gateway.api.responses import wants_json
from gateway.api.serving import admit, serve
from gateway.errors import GatewayError, InvalidOption, MissingImage
from gateway.runtime import runtime_of
from providers.base import OutputOptions

OPTIONS = frozenset({"channels", "size", "crop", "crop_margin", "bg_color"})
SIZES: dict[str, str] = {
    "preview": "preview", "small": "preview", "regular": "preview", "medium": "medium",
    "hd": "hd", "full": "full", "4k": "full", "50mp": "full", "auto": "full",
}
FORMATS = {"auto": "auto", "png": "png", "jpg": "jpg", "jpeg": "jpg", "webp": "webp"}
FOREGROUND_THRESHOLD = 10
#: Gateway error code -> (remove.bg status, code, title) where they differ from "400, ours".
ERRORS: dict[str, tuple[int, str, str]] = {
    "missing_image": (400, "missing_source", "No image given"),
    "payload_too_large": (400, "file_too_large", "File too large"),
    "unsupported_media_type": (400, "invalid_file_type", "Invalid file type"),
    "invalid_image": (400, "invalid_image", "Failed to read image"),
    "unauthorized": (403, "auth_failed", "Authentication failed"),
    "quota_exceeded": (402, "insufficient_credits", "Insufficient credits"),
    "rate_limited": (429, "rate_limit_exceeded", "Rate limit exceeded"),
}


class Foreground(msgspec.Struct, frozen=True):
    """The `data` of remove.bg's JSON answer."""

    result_b64: str
    foreground_top: int
    foreground_left: int
    foreground_width: int
    foreground_height: int


def _error(request: Request, exc: Exception) -> Response[bytes]:
    """Any failure -> `{"errors": [{"title", "code", "detail"}]}` with remove.bg's statuses."""
    failure = failure_of(request, exc)
    default = (failure.status if failure.status >= 500 else 400, failure.code, failure.title)
    status, code, title = ERRORS.get(failure.code, default)
    body = {"errors": [{"title": title, "code": code, "detail": failure.detail}]}
    return json_error(status, body, failure.headers)


EXCEPTION_HANDLERS = {GatewayError: _error, HTTPException: _error, Exception: _error}


def removebg_options(fields: dict[str, object]) -> OutputOptions:
    """remove.bg's size/format/channels/crop/crop_margin/bg_color -> OutputOptions."""
    size = str(fields.get("size") or "preview").strip().lower()
    if size not in SIZES:
        raise InvalidOption(f"option `size` must be one of {', '.join(SIZES)}; got {size!r:.40}")
    chosen = str(fields.get("format") or "auto").strip().lower()
    if chosen not in FORMATS:
        raise InvalidOption(f"option `format` must be auto, png, jpg or webp; got {chosen!r:.40}")
    options = parse_flags({**fields, "size": SIZES[size]}, OPTIONS | {"size"})
    output_format = FORMATS[chosen]
    if output_format == "auto":
        opaque = options.bg_color is not None and options.bg_color[3] == 255
        output_format = "jpg" if opaque and options.channels == "rgba" else "png"
    return msgspec.structs.replace(options, format=output_format)


def foreground_box(data: bytes, channels: str) -> tuple[int, int, int, int]:
    """(top, left, width, height) of alpha > 10 in an encoded answer (CPU: run in a thread)."""
    with Image.open(io.BytesIO(data)) as image:
        if channels == "alpha":
            alpha = np.asarray(image.convert("L"))
        elif "A" in image.getbands():
            alpha = np.asarray(image.getchannel("A"))
        else:
            return 0, 0, image.width, image.height
    mask = alpha > FOREGROUND_THRESHOLD
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return 0, 0, 0, 0
    top, left = int(rows[0]), int(cols[0])
    return top, left, int(cols[-1]) - left + 1, int(rows[-1]) - top + 1


@post(
    "/v1.0/removebg", status_code=200, summary="remove.bg: remove the background",
    description=(
        "`image_file` | `image_file_b64` | `image_url`; size, format, channels, crop, "
        "crop_margin, bg_color. Image bytes, or remove.bg's JSON with `Accept: application/json`."
    ),
)
async def removebg(request: Request) -> Response[bytes]:
    """Remove the background, answering as remove.bg does."""
    admission = await admit(request)
    fields, _ = await read_fields(request)
    max_bytes = runtime_of(request).settings.server.max_upload_bytes
    image = await first_image(
        fields, (("image_file", True), ("image_file_b64", False)), max_bytes
    )
    url = fields.get("image_url")
    if image is None and not present(fields, "image_url"):
        raise MissingImage("send one of image_file, image_file_b64 or image_url")
    options = removebg_options(fields)
    served = await serve(
        request, admission, image, url.strip() if isinstance(url, str) else None, options,
        api="removebg",
    )
    processed = served.removal.image
    headers = {**served.headers, "X-Credits-Charged": f"{served.removal.cost:g}"}
    if not wants_json(request):
        return Response(processed.data, media_type=processed.media_type, headers=headers)
    top, left, width, height = await anyio.to_thread.run_sync(
        foreground_box, processed.data, options.channels
    )
    data = Foreground(
        result_b64=base64.b64encode(processed.data).decode("ascii"), foreground_top=top,
        foreground_left=left, foreground_width=width, foreground_height=height,
    )
    return Response(msgspec.json.encode({"data": data}), media_type="application/json",
                    headers=headers)


REMOVEBG_ROUTES = Router(
    path="/",
    route_handlers=[removebg],
    exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
    tags=["drop-in: remove.bg"],
)
