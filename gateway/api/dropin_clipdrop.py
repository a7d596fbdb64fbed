"""Clipdrop-compatible endpoint: `POST /remove-background/v1` (clipdrop-remove-background.md).

A Clipdrop client only changes its base URL and key: the gateway's client key goes in
`x-api-key`, as Clipdrop's does. Body: multipart, one `image_file` part (required) and
optionally `transparency_handling`:
- `return_input_if_non_opaque` (default): an upload whose alpha already has a non-opaque pixel
  is sent back as it is (re-encoded only when `Accept` asks for another format); no provider
  is called and `x-credits-consumed` is 0;
- `discard_alpha_layer`: the alpha of an RGBA upload is dropped, then the background removed.

The output always has the input's pixel size. Its format follows `Accept`: absent, `*/*`,
`image/*` or `image/png` -> PNG, `image/webp` -> WebP, `image/jpg` (also `image/jpeg`) -> JPEG on
white; anything else -> 406. Headers: `x-credits-consumed` (the gateway's own cost of this call)
and `x-remaining-credits` (the client's images left this month under its quota, else the
vendors' reported credits), plus the gateway's headers.

Errors: `{"error": "<message>"}` with Clipdrop's statuses: 400 (bad or missing input, too
large), 401 (no key), 402 (client quota spent), 403 (key not valid), 406, 429 (with
Retry-After) and 5xx.
"""

from __future__ import annotations

import io

import anyio.to_thread
from litestar import Request, Response, Router, post
from litestar.exceptions import HTTPException
from PIL import Image

from gateway.api.dropin_common import failure_of, first_image, json_error, read_fields
from gateway.api.dropin_credits import credits_left
from gateway.api.responses import foreground_headers
from gateway.api.serving import admit, serve
from gateway.auth import presented_key
from gateway.errors import GatewayError, InvalidOption, MissingImage
from gateway.postprocess.foreground import foreground_of
from gateway.postprocess.validate import probe_image
from gateway.runtime import runtime_of
from providers.base import OutputOptions
from providers.images import sniff_format

#: Accept media type -> output format (the docs list image/png, image/webp and image/jpg).
ACCEPTS = {"image/png": "png", "image/webp": "webp", "image/jpg": "jpg", "image/jpeg": "jpg",
           "*/*": "png", "image/*": "png"}
PIL_FORMATS = {"png": "PNG", "webp": "WEBP", "jpg": "JPEG"}
MEDIA_TYPES = {"png": "image/png", "webp": "image/webp", "jpg": "image/jpeg"}
HANDLING = frozenset({"return_input_if_non_opaque", "discard_alpha_layer"})
MESSAGES = {401: "No api key provided", 402: "Insufficient credits", 403: "Invalid api key",
            429: "Too many requests"}
STATUSES = {"quota_exceeded": 402, "rate_limited": 429}


class NotAcceptable(InvalidOption):
    """`Accept` names no format the endpoint can answer in."""

    status, code, title = 406, "not_acceptable", "Not acceptable"


def _error(request: Request, exc: Exception) -> Response[bytes]:
    """Any failure -> `{"error": "<message>"}` with Clipdrop's status codes."""
    failure = failure_of(request, exc)
    if failure.code == "unauthorized":
        status = 401 if presented_key(request.headers) is None else 403
    elif failure.status >= 500 or failure.status == 406:
        status = failure.status
    else:
        status = STATUSES.get(failure.code, 400)
    message = MESSAGES.get(status, failure.detail)
    return json_error(status, {"error": message}, failure.headers)


EXCEPTION_HANDLERS = {GatewayError: _error, HTTPException: _error, Exception: _error}


def output_format(accept: str | None) -> str:
    """The format `Accept` asks for, in its order (`q` values ignored); 406 when none fits."""
    if not accept or not accept.strip():
        return "png"
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in ACCEPTS:
            return ACCEPTS[media]
    raise NotAcceptable(f"Accept {accept[:60]!r} is not one of image/png, image/webp, image/jpg")


def _has_see_through(data: bytes) -> bool:
    """True when the image's alpha has any non-opaque pixel (CPU: run it in a worker thread)."""
    with Image.open(io.BytesIO(data)) as image:
        if "A" not in image.getbands() and "transparency" not in image.info:
            return False
        return bool(image.convert("RGBA").getchannel("A").getextrema()[0] < 255)


def _reencoded(data: bytes, fmt: str, drop_alpha: bool) -> bytes:
    """`data` as `fmt` (JPEG on white), its alpha dropped when asked (CPU: worker thread)."""
    if not drop_alpha and sniff_format(data) == ("jpeg" if fmt == "jpg" else fmt):
        return data
    with Image.open(io.BytesIO(data)) as image:
        image.seek(0)
        rgba = image.convert("RGBA")
    out = rgba
    if drop_alpha:
        out = rgba.convert("RGB")
    elif fmt == "jpg":
        out = Image.new("RGB", rgba.size, (255, 255, 255))
        out.paste(rgba, mask=rgba.getchannel("A"))
    buffer = io.BytesIO()
    out.save(buffer, format=PIL_FORMATS[fmt])
    return buffer.getvalue()


async def _remaining(request: Request) -> str:
    runtime = runtime_of(request)
    return f"{await credits_left(runtime, runtime.auth.identify(request.headers)):g}"


@post("/remove-background/v1", status_code=200, summary="Clipdrop: remove the background",
      description="multipart `image_file` (+ `transparency_handling`); output format by Accept "
      "(image/png, image/webp, image/jpg); same pixel size as the input.")
async def remove_background(request: Request) -> Response[bytes]:
    """Remove the background, answering as Clipdrop does."""
    admission = await admit(request)
    fmt = output_format(request.headers.get("accept"))
    fields, _ = await read_fields(request)
    max_bytes = runtime_of(request).settings.server.max_upload_bytes
    image = await first_image(fields, (("image_file", True),), max_bytes)
    if image is None:
        raise MissingImage("image_file is missing")
    handling = fields.get("transparency_handling") or "return_input_if_non_opaque"
    if not isinstance(handling, str) or handling.strip().lower() not in HANDLING:
        raise InvalidOption("transparency_handling must be return_input_if_non_opaque or "
                            "discard_alpha_layer")
    limits = runtime_of(request).settings.server
    probe_image(image, limits.max_upload_bytes, int(limits.max_megapixels * 1_000_000))
    try:
        see_through = await anyio.to_thread.run_sync(_has_see_through, image)
    except Exception:  # not decodable here: the removal flow says why
        see_through = False
    if see_through and handling.strip().lower() == "return_input_if_non_opaque":
        data = await anyio.to_thread.run_sync(_reencoded, image, fmt, False)
        box = await anyio.to_thread.run_sync(foreground_of, image, "image/png", False)
        headers = {**admission.headers, **foreground_headers(box), "x-credits-consumed": "0",
                   "x-remaining-credits": await _remaining(request)}
        return Response(data, media_type=MEDIA_TYPES[fmt], headers=headers)
    if see_through:
        image = await anyio.to_thread.run_sync(_reencoded, image, "png", True)
    options = OutputOptions(format=fmt)  # type: ignore[arg-type]
    served = await serve(request, admission, image, None, options, api="clipdrop")
    processed = served.removal.image
    headers = {**served.headers, "x-credits-consumed": f"{served.removal.cost:g}",
               "x-remaining-credits": await _remaining(request)}
    return Response(processed.data, media_type=processed.media_type, headers=headers)


CLIPDROP_ROUTES = Router(
    path="/",
    route_handlers=[remove_background],
    exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
    tags=["drop-in: Clipdrop"],
)
