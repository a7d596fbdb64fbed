"""Fake remove.bg API v1.0 (`POST /v1.0/removebg`, `GET /v1.0/account`), following `removebg-v1.md`.

Auth `X-Api-Key` (both it and `Authorization`, or neither, is 403 `auth_failed`). Bodies: multipart,
urlencoded or JSON; exactly one of `image_file`, `image_file_b64` (a `data:` prefix is stripped),
`image_url` (refused: the sandbox has no internet -> 400 `failed_image_download`). Inputs JPG, PNG,
WebP, at most 22 MB and 50 MP. Options done for real: `size` (default `preview`, legacy aliases),
`format` (`auto` default, `png`, `jpg`, `webp`, `zip`), `channels`, `crop`, `crop_margin` (1, 2
or 4 values, px or % of the subject), `bg_color`, `bg_image_file`, `roi`, `scale`, `position`,
`shadow_type` / `add_shadow` / `shadow_opacity` (one soft drop shadow whatever the type; parsing in
sandbox/removebg_fields.py); `type`/`type_level` only shape `X-Type`; per-type shadow fields and
`semitransparency` are accepted and ignored; `bg_image_url` is refused (no internet).
`Accept: application/json` (exactly) answers `{"data": {"result_b64", "foreground_*"}}`.
Headers: X-Credits-Charged (0.25 preview, else 1), X-Width/-Height, X-Type, X-Foreground-*,
X-RateLimit-Limit/-Remaining/-Reset (a per-key window of megapixel units: ceil(MP) per call).
Errors `{"errors": [{"title", "code"}]}`: 400 (codes of the notes; `unsupported_image_format`,
`file_too_large`, `resolution_too_high` are this fake's, the vendor's are unconfirmed), 402
`insufficient_credits`, 403 `auth_failed`, 429 `rate_limit_exceeded` + Retry-After. Errors charge
nothing.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.middleware import DefineMiddleware

from providers.images import sniff_format
from sandbox.accounts import KeyAccounts
from sandbox.common import (
    MAX_BODY_BYTES,
    ImageDecodeError,
    VendorState,
    control_handlers,
    header_size,
    run_cpu,
    sandbox_middleware,
)
from sandbox.cutout import render
from sandbox.options import SandboxOptions
from sandbox.removebg_fields import RemoveBgError, bad, parse_roi, parse_spec

MAX_FILE_BYTES = 22 * 1024 * 1024
MAX_INPUT_PIXELS = 50_000_000
TYPES = ("auto", "person", "product", "car", "animal", "graphic", "transportation")
MEDIA = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp", "zip": "application/zip"}
_DATA_URL = re.compile(r"^data:image/(?:png|jpeg);base64,")
FAULTS = {400: ("unknown_foreground", "Could not identify foreground in image."),
          402: ("insufficient_credits", "Insufficient credits"),
          403: ("auth_failed", "API Key invalid"),
          429: ("rate_limit_exceeded", "Rate limit exceeded")}


def error_body(status: int) -> dict[str, Any]:
    """The envelope an injected fault answers with."""
    code, title = FAULTS.get(status, ("unknown_error", "Internal server error"))
    return {"errors": [{"title": title, "code": code}]}


async def _fields(request: Request) -> dict[str, Any]:
    if request.content_type[0] == "application/json":
        try:
            body = msgspec.json.decode(await request.body())
        except msgspec.DecodeError:
            raise bad("invalid_request", "Body is not valid JSON") from None
        return body if isinstance(body, dict) else {}
    try:
        form = await request.form()
    except Exception:  # the parser raises several types on malformed bodies
        raise bad("invalid_request", "Malformed body") from None
    return dict(form.items())


async def _image(fields: dict[str, Any]) -> bytes:
    given = [n for n in ("image_file", "image_file_b64", "image_url") if fields.get(n)]
    if not given:
        raise bad("missing_source", "No image given")
    if len(given) > 1:
        raise bad("multiple_sources", "Only one image source is allowed")
    if given[0] == "image_url":
        raise bad("failed_image_download", "Failed to download image: the sandbox has no internet")
    if given[0] == "image_file":
        upload = fields["image_file"]
        return await upload.read() if isinstance(upload, UploadFile) else b""
    try:
        return base64.b64decode(_DATA_URL.sub("", str(fields["image_file_b64"])), validate=True)
    except (binascii.Error, ValueError):
        raise bad("failed_to_read_image", "Failed to read image") from None


def x_type(fields: dict[str, Any]) -> str | None:
    """The `X-Type` class for the requested type and level (None for `type_level=none`)."""
    level = str(fields.get("type_level", "1")).lower()
    if level == "none":
        return None
    kind = str(fields.get("type", "auto")).lower()
    kind = kind if kind in TYPES else "auto"
    if kind in ("graphic", "transportation"):
        return "other" if level == "1" else ("graphics" if kind == "graphic" else kind)
    return "product" if kind == "auto" else kind


def create_removebg_app(options: SandboxOptions) -> Litestar:
    """The fake remove.bg vendor as a Litestar app."""
    accounts = KeyAccounts("removebg", options.removebg_keys, options.removebg_credits,
                           options.removebg_rate_limit)
    state = VendorState(lambda headers: headers.get("x-api-key"), error_body)

    def key_of(request: Request) -> str:
        key = request.headers.get("x-api-key")
        if (key and request.headers.get("authorization")) or not accounts.known(key):
            raise RemoveBgError(403, "auth_failed", "API Key invalid")
        return key  # type: ignore[return-value]

    async def remove(request: Request) -> Response:
        key = key_of(request)
        fields = await _fields(request)
        data = await _image(fields)
        upload = fields.get("bg_image_file")
        background = await upload.read() if isinstance(upload, UploadFile) else None
        spec, size = parse_spec(fields, background)
        if len(data) > MAX_FILE_BYTES:
            raise bad("file_too_large", "File is larger than 22 MB")
        if sniff_format(data) not in ("jpeg", "png", "webp"):
            raise bad("unsupported_image_format", "Supported: JPG, PNG, WebP")
        try:
            width, height = header_size(data)
        except ImageDecodeError:
            raise bad("failed_to_read_image", "Failed to read image") from None
        if width * height > MAX_INPUT_PIXELS:
            raise bad("resolution_too_high", "Image is larger than 50 megapixels")
        if fields.get("roi"):
            spec = msgspec.structs.replace(spec, roi=parse_roi(str(fields["roi"]), width, height))
        wait = accounts.hit(key, max(1, math.ceil(width * height / 1e6)))
        limit, left, reset = accounts.window(key)
        window = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(left),
                  "X-RateLimit-Reset": str(reset)}
        if wait is not None:
            raise RemoveBgError(429, "rate_limit_exceeded", "Rate limit exceeded",
                                {**window, "Retry-After": str(wait)})
        charge = 0.25 if size == "preview" or (size == "auto" and accounts.credits[key] < 1) else 1
        if not accounts.take(key, charge):
            raise RemoveBgError(402, "insufficient_credits", "Insufficient credits")
        try:
            out = await run_cpu(render, data, spec, options.instant)
        except ImageDecodeError:
            accounts.refund(key, charge)
            raise bad("failed_to_read_image", "Failed to read image") from None
        left_, top, fg_width, fg_height = out.box
        headers = {**window, "X-Credits-Charged": f"{charge:g}", "X-Width": str(out.width),
                   "X-Height": str(out.height), "X-Foreground-Top": str(top),
                   "X-Foreground-Left": str(left_), "X-Foreground-Width": str(fg_width),
                   "X-Foreground-Height": str(fg_height)}
        if (kind := x_type(fields)) is not None:
            headers["X-Type"] = kind
        if request.headers.get("accept") == "application/json":
            return Response({"data": {
                "result_b64": base64.b64encode(out.data).decode("ascii"),
                "foreground_top": top, "foreground_left": left_,
                "foreground_width": fg_width, "foreground_height": fg_height,
            }}, headers=headers)
        return Response(out.data, media_type=MEDIA[out.format], headers=headers)

    @post("/v1.0/removebg", status_code=200)
    async def removebg(request: Request) -> Response:
        try:
            return await remove(request)
        except RemoveBgError as exc:
            return exc.response()

    @get("/v1.0/account")
    async def account(request: Request) -> Response:
        try:
            key = key_of(request)
        except RemoveBgError as exc:
            return exc.response()
        total = accounts.credits[key]
        return Response({"data": {"attributes": {
            "credits": {"total": total, "subscription": total, "payg": 0, "enterprise": 0},
            "api": {"free_calls": 0, "sizes": "all"},
        }}})

    return Litestar(
        route_handlers=[removebg, account, *control_handlers(state, accounts.reset)],
        middleware=[DefineMiddleware(sandbox_middleware(state))],
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=None,
    )
