"""Fake Photoroom API (`POST /v1/segment`, `GET /v1/account`, `GET /v2/account`), per the notes.

Auth `x-api-key` (missing or unknown: 403). Multipart only: `image_file` (PNG, JPEG, WebP) plus
`format` (png|jpg|webp), `channels` (rgba|alpha), `bg_color` (`#RRGGBB` or a colour name; bare hex
is refused, since v1 accepting it is unconfirmed), `size` (preview 0.25 MP, medium 1.5, hd 4,
full 36), `crop` and `despill` (the strings `true`/`false`). Success: the image with
`x-uncertainty-score`; `Accept: application/json` gives `{"base64img": …}`. No credit or
rate-limit headers (none are documented). Errors `{"detail", "status_code", "type"}`: 400
`missing_image` (the documented example, verbatim), `invalid_<field>` and `unsupported_image` /
`unreadable_image` (this fake's types), 402 `insufficient_credits` (1 credit, 0.25 for preview),
429 `rate_limited` (no Retry-After). `/v1/account`: `{"credits": {"available", "subscription"}}`,
400 `{"error": {"message": "apiKey: Required"}}` without a key.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.middleware import DefineMiddleware
from PIL import ImageColor

from providers.images import sniff_format
from sandbox.accounts import KeyAccounts
from sandbox.common import (
    MAX_BODY_BYTES,
    ImageDecodeError,
    VendorState,
    control_handlers,
    run_cpu,
    sandbox_middleware,
)
from sandbox.cutout import Spec, render
from sandbox.options import SandboxOptions

SIZES = {"preview": 0.25, "medium": 1.5, "hd": 4.0, "full": 36.0}
CHOICES = {"format": ("png", "jpg", "webp"), "channels": ("rgba", "alpha"),
           "size": tuple(SIZES), "crop": ("true", "false"), "despill": ("true", "false")}
MEDIA = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
MISSING_IMAGE = {"detail": "Please provide an image.", "status_code": 400, "type": "missing_image"}
TYPES = {400: "missing_image", 402: "insufficient_credits", 403: "forbidden", 429: "rate_limited"}


def error_body(status: int) -> dict[str, Any]:
    """The three-field body an injected fault answers with (5xx: v2's `error.message`)."""
    if status >= 500:
        return {"error": {"message": "An unexpected error occurred. Please try again later."}}
    if status == 400:
        return dict(MISSING_IMAGE)
    return {"detail": f"Injected sandbox fault ({status})", "status_code": status,
            "type": TYPES.get(status, "error")}


def _error(status: int, kind: str, detail: str) -> Response:
    return Response({"detail": detail, "status_code": status, "type": kind}, status_code=status)


def _color(text: str) -> tuple[int, int, int, int] | None:
    if re.fullmatch(r"[0-9a-fA-F]{3,8}", text):
        return None  # bare hex: v1 support unconfirmed, so the fake refuses it
    try:
        rgb = ImageColor.getrgb(text)
    except ValueError:
        return None
    return (rgb[0], rgb[1], rgb[2], 255)


def parse_spec(fields: dict[str, Any]) -> Spec | Response:
    """The render spec of the form fields, or the 400 answer naming the bad field."""
    values = {}
    for name, allowed in CHOICES.items():
        value = str(fields.get(name, allowed[0] if name != "size" else "full"))
        if name in ("crop", "despill") and name not in fields:
            value = "false"
        if value not in allowed:
            return _error(400, f"invalid_{name}", f"{name} must be one of {', '.join(allowed)}")
        values[name] = value
    color = None
    if fields.get("bg_color"):
        color = _color(str(fields["bg_color"]))
        if color is None:
            return _error(400, "invalid_bg_color", "bg_color must be #RRGGBB or a colour name")
    return Spec(format=values["format"], channels=values["channels"],
                max_megapixels=SIZES[values["size"]], crop=values["crop"] == "true",
                bg_color=color, despill=values["despill"] == "true")


def create_photoroom_app(options: SandboxOptions) -> Litestar:
    """The fake Photoroom vendor as a Litestar app."""
    accounts = KeyAccounts("photoroom", options.photoroom_keys, options.photoroom_credits,
                           options.photoroom_rate_limit)
    state = VendorState(lambda headers: headers.get("x-api-key"), error_body)

    async def segment(request: Request) -> Response:
        key = request.headers.get("x-api-key")
        if not accounts.known(key):
            return _error(403, "forbidden", "Invalid API key")
        assert key is not None
        try:
            form = dict((await request.form()).items())
        except Exception:  # the parser raises several types on malformed bodies
            form = {}
        upload = form.get("image_file")
        if not isinstance(upload, UploadFile):
            return Response(dict(MISSING_IMAGE), status_code=400)
        data = await upload.read()
        spec = parse_spec(form)
        if isinstance(spec, Response):
            return spec
        if sniff_format(data) not in ("jpeg", "png", "webp"):
            return _error(400, "unsupported_image", "Supported images: PNG, JPEG, WebP, HEIC")
        if accounts.hit(key) is not None:
            return _error(429, "rate_limited", "Too many requests")
        charge = 0.25 if spec.max_megapixels == SIZES["preview"] else 1.0
        if not accounts.take(key, charge):
            return _error(402, "insufficient_credits", "API credits exhausted")
        try:
            out = await run_cpu(render, data, spec, options.instant)
        except ImageDecodeError:
            accounts.refund(key, charge)
            return _error(400, "unreadable_image", "The image cannot be read")
        headers = {"x-uncertainty-score": "0.1"}
        if request.headers.get("accept") == "application/json":
            return Response({"base64img": base64.b64encode(out.data).decode("ascii")},
                            headers=headers)
        return Response(out.data, media_type=MEDIA[out.format], headers=headers)

    @post("/v1/segment", status_code=200)
    async def v1_segment(request: Request) -> Response:
        return await segment(request)

    def balance(request: Request) -> float | Response:
        key = request.headers.get("x-api-key")
        if not key:
            return Response({"error": {"message": "apiKey: Required"}}, status_code=400)
        if not accounts.known(key):
            return Response(b"", status_code=403)
        return accounts.credits[key]

    @get("/v1/account")
    async def v1_account(request: Request) -> Response:
        left = balance(request)
        if isinstance(left, Response):
            return left
        return Response({"credits": {"available": left, "subscription": left}})

    @get("/v2/account")
    async def v2_account(request: Request) -> Response:
        left = balance(request)
        if isinstance(left, Response):
            return left
        return Response({"images": {"available": left, "subscription": left}, "plan": "basic"})

    return Litestar(
        route_handlers=[v1_segment, v1_account, v2_account,
                        *control_handlers(state, accounts.reset)],
        middleware=[DefineMiddleware(sandbox_middleware(state))],
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=None,
    )
