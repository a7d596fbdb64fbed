"""Photoroom-compatible endpoint: `POST /v1/segment` (vendor-docs/photoroom-v1-segment.md).

A Photoroom client only changes its base URL and key: the gateway's client key goes in
`x-api-key`, as Photoroom's does. Body: multipart, one `image_file` part (required) and the
optional fields `format` (png|jpg|webp, default png), `channels` (rgba|alpha), `bg_color` (hex
with or without `#`, or a colour name), `size` (preview|medium|hd|full, default full; `full` is
capped by the gateway's `max_megapixels`, not Photoroom's 36 MP), `crop` and `despill`
("true"/"false"). Other fields are ignored. `format=jpg` without `bg_color` flattens on white.

Answer: the image (`image/png`, `image/jpeg` or `image/webp`); with `Accept: application/json`,
`{"base64img": "<base64 image>"}`. Header `x-uncertainty-score`: the gateway's own measure of
how unsure the matte is (0 = every subject pixel is clearly in or out, 1 = all undecided: the
share of the subject's pixels with alpha strictly between 5 % and 95 %); `-1` when the answer has
no alpha to measure (e.g. JPEG). Photoroom's own score comes from its model and is not
available through other providers. Plus the gateway's headers (X-Request-Id, X-Provider, …).

Errors: `{"detail", "status_code", "type"}` (e.g. 400 `{"detail": "Please provide an image.",
"status_code": 400, "type": "missing_image"}`) for 400, 402, 403 (client key missing or wrong)
and 429 (with Retry-After); 5xx as Photoroom's v2 `{"error": {"message": …}}`.
"""

from __future__ import annotations

import base64
import io

import anyio.to_thread
import msgspec
import numpy as np
from litestar import Request, Response, Router, post
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException
from PIL import Image

from gateway.api.dropin_common import failure_of, image_bytes, json_error, read_fields
from gateway.api.options import parse_bool, parse_color
from gateway.api.responses import wants_json
from gateway.api.serving import admit, serve
from gateway.errors import GatewayError, InvalidOption, MissingImage
from gateway.runtime import runtime_of
from providers.base import OutputOptions

FORMATS = {"png": "png", "jpg": "jpg", "jpeg": "jpg", "webp": "webp"}
SIZES = frozenset({"preview", "medium", "hd", "full"})
MISSING_IMAGE = "Please provide an image."
#: Gateway error code -> (Photoroom status, type) where they differ from "400, our code".
ERRORS: dict[str, tuple[int, str]] = {
    "missing_image": (400, "missing_image"),
    "unauthorized": (403, "unauthorized"),
    "quota_exceeded": (402, "insufficient_credits"),
    "rate_limited": (429, "rate_limit_exceeded"),
}
#: Alpha levels between which a pixel counts as undecided for `x-uncertainty-score`.
UNSURE_LOW, UNSURE_HIGH = 13, 242


def _error(request: Request, exc: Exception) -> Response[bytes]:
    """Any failure -> Photoroom's `{"detail", "status_code", "type"}` (5xx: v2's shape)."""
    failure = failure_of(request, exc)
    if failure.status >= 500:
        return json_error(failure.status, {"error": {"message": failure.detail}},
                          failure.headers)
    status, kind = ERRORS.get(failure.code, (400, failure.code))
    detail = MISSING_IMAGE if failure.code == "missing_image" else failure.detail
    body = {"detail": detail, "status_code": status, "type": kind}
    return json_error(status, body, failure.headers)


EXCEPTION_HANDLERS = {GatewayError: _error, HTTPException: _error, Exception: _error}


def _choice(fields: dict[str, object], key: str, allowed: frozenset[str] | dict[str, str],
            default: str) -> str:
    value = fields.get(key)
    text = value.strip().lower() if isinstance(value, str) and value.strip() else default
    if text not in allowed:
        raise InvalidOption(f"option `{key}` must be one of {', '.join(sorted(allowed))}")
    return text


def _flag(fields: dict[str, object], key: str) -> bool:
    value = fields.get(key)
    return isinstance(value, str) and bool(value.strip()) and parse_bool(key, value)


def photoroom_options(fields: dict[str, object]) -> OutputOptions:
    """Photoroom's v1 fields -> OutputOptions (unknown fields are ignored)."""
    colour = fields.get("bg_color")
    return OutputOptions(
        format=FORMATS[_choice(fields, "format", FORMATS, "png")],  # type: ignore[arg-type]
        channels=_choice(fields, "channels", frozenset({"rgba", "alpha"}), "rgba"),  # type: ignore[arg-type]
        size=_choice(fields, "size", SIZES, "full"),  # type: ignore[arg-type]
        crop=_flag(fields, "crop"),
        despill=_flag(fields, "despill"),
        bg_color=parse_color("bg_color", colour)
        if isinstance(colour, str) and colour.strip() else None,
    )


def uncertainty(data: bytes, matte_only: bool) -> float:
    """Share of the subject's pixels whose alpha is undecided; -1 without alpha (CPU: thread)."""
    with Image.open(io.BytesIO(data)) as image:
        if matte_only:
            alpha = np.asarray(image.convert("L"))
        elif "A" in image.getbands():
            alpha = np.asarray(image.getchannel("A"))
        else:
            return -1.0
    subject = np.count_nonzero(alpha > 10)
    if subject == 0:
        return 1.0
    unsure = np.count_nonzero((alpha > UNSURE_LOW) & (alpha < UNSURE_HIGH))
    return round(min(1.0, unsure / subject), 4)


@post("/v1/segment", status_code=200, summary="Photoroom: remove the background (v1)",
      description="multipart `image_file`; format, channels, bg_color, size, crop, despill. "
      "The image, or `{\"base64img\"}` with `Accept: application/json`.")
async def segment(request: Request) -> Response[bytes]:
    """Remove the background, answering as Photoroom's `/v1/segment` does."""
    admission = await admit(request)
    fields, _ = await read_fields(request)
    max_bytes = runtime_of(request).settings.server.max_upload_bytes
    if not isinstance(fields.get("image_file"), UploadFile):
        raise MissingImage(MISSING_IMAGE)  # a text field is no image: multipart only
    image = await image_bytes("image_file", fields["image_file"], max_bytes, uploads_only=True)
    options = photoroom_options(fields)
    served = await serve(request, admission, image, None, options, api="photoroom")
    processed = served.removal.image
    score = await anyio.to_thread.run_sync(
        uncertainty, processed.data, options.channels == "alpha"
    )
    headers = {**served.headers, "x-uncertainty-score": f"{score:g}"}
    if wants_json(request):
        body = {"base64img": base64.b64encode(processed.data).decode("ascii")}
        return Response(msgspec.json.encode(body), media_type="application/json", headers=headers)
    return Response(processed.data, media_type=processed.media_type, headers=headers)


PHOTOROOM_ROUTES = Router(
    path="/",
    route_handlers=[segment],
    exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
    tags=["drop-in: Photoroom"],
)
