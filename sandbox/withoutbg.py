"""Fake withoutBG API, following the per-endpoint vendor pages to the letter.

Auth `X-API-Key`; errors `{"detail": "<message>"}` with the documented messages:
401 unknown/missing key, 403 key configured as expired, 402 no credits left, 429 over the per-key
moving-window limit (image endpoints only; `Retry-After` set), 413 over 10 MB, 415 not JPEG, PNG,
WebP, TIFF, BMP or GIF (magic bytes), 422 missing field / bad base64 / undecodable image.
Multipart field `file` (also `image`, as the reference page's older examples send).
The matte is inferred at most 1024 px on the long side and returned at the input resolution;
cutouts are the input RGB with that matte as alpha. One credit is spent per processed image.
`GET /available-credit` answers an expired key with 0 credits and a past expiration date.
"""

from __future__ import annotations

import base64
import binascii
import math
import time

import msgspec
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.middleware import DefineMiddleware

from providers.images import encode_png, sniff_format
from sandbox.common import (
    MAX_BODY_BYTES,
    ImageDecodeError,
    VendorState,
    control_handlers,
    decode_rgb,
    engine_matte,
    header_size,
    run_cpu,
    sandbox_middleware,
    synthetic_png,
)
from sandbox.options import SandboxOptions

MAX_FILE_BYTES = 10 * 1024 * 1024
INFERENCE_LONG_SIDE = 1024
MESSAGES: dict[int, str] = {
    401: "Invalid API Key",
    402: "Insufficient credit. Please top up API credits.",
    403: "Credits Expired. Please top up API credits. If you have existing credits, "
    "they will be reactivated.",
    413: "File size too large. Maximum file size is 10.0 MB",
    415: "Unsupported Media Type. Supported formats are: JPEG, PNG, WebP, TIFF, BMP, GIF.",
    422: "Validation Error",
    429: "Rate limit (7 request/minute) exceeded",
}
SERVER_ERROR = "Internal Server Error. Please contact support: contact@withoutbg.com"


def error_body(status: int) -> dict[str, str]:
    """The documented `{"detail": …}` body for `status`."""
    return {"detail": MESSAGES.get(status, SERVER_ERROR)}


def _error(status: int, message: str | None = None, retry_after: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    body = {"detail": message} if message else error_body(status)
    return Response(body, status_code=status, headers=headers)


def render(data: bytes, kind: str, instant: bool) -> bytes:
    """Matte (`mask`) or cutout (`cutout`) PNG at the input resolution (runs in a thread)."""
    if instant:
        return synthetic_png(*header_size(data), kind)
    rgb = decode_rgb(data)
    matte = engine_matte(rgb, INFERENCE_LONG_SIDE)
    if kind == "mask":
        return encode_png(matte)
    rgb.putalpha(matte)
    return encode_png(rgb)


class _Account:
    """Keys, credits and the rate-limit windows of the fake withoutBG."""

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self.item = parse(options.withoutbg_rate_limit)
        self.limit_message = "Rate limit ({}) exceeded".format(
            options.withoutbg_rate_limit.replace("/", " request/")
        )
        self.storage = MemoryStorage()
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.credits: dict[str, int] = {}
        self.reset()

    def reset(self) -> None:
        """Restore every key's credits and empty the rate-limit windows."""
        self.credits = {key: self.options.withoutbg_credits for key in self.options.withoutbg_keys}
        self.storage.reset()

    def check(self, key: str | None) -> Response | None:
        """The error answer for this key before any body is read, or None to proceed."""
        if key in self.options.withoutbg_expired_keys:
            return _error(403)
        if key is None or key not in self.credits:
            return _error(401)
        if self.credits[key] <= 0:
            return _error(402)
        if not self.limiter.hit(self.item, "withoutbg", key):
            reset_at = self.limiter.get_window_stats(self.item, "withoutbg", key).reset_time
            wait = max(1, math.ceil(reset_at - time.time()))
            return _error(429, self.limit_message, retry_after=wait)
        return None


async def _multipart_bytes(request: Request) -> bytes | None:
    try:
        form = await request.form()
    except Exception:  # malformed multipart is a validation error for this vendor
        return None
    upload = form.get("file") or form.get("image")
    return await upload.read() if isinstance(upload, UploadFile) else None


async def _json_bytes(request: Request) -> bytes | None:
    try:
        body = msgspec.json.decode(await request.body())
        return base64.b64decode(body["image"], validate=True)
    except (msgspec.DecodeError, KeyError, TypeError, binascii.Error, ValueError):
        return None


def create_withoutbg_app(options: SandboxOptions) -> Litestar:
    """The fake withoutBG vendor as a Litestar app."""
    account = _Account(options)
    state = VendorState(lambda headers: headers.get("x-api-key"), error_body)

    async def process(request: Request, kind: str, encoded: bool) -> Response:
        refusal = account.check(request.headers.get("x-api-key"))
        if refusal is not None:
            return refusal
        data = await (_json_bytes(request) if encoded else _multipart_bytes(request))
        if data is None:
            return _error(422)
        if len(data) > MAX_FILE_BYTES:
            return _error(413)
        if sniff_format(data) is None:
            return _error(415)
        key = request.headers["x-api-key"]
        if account.credits[key] <= 0:  # spent by a concurrent call while this body was read
            return _error(402)
        account.credits[key] -= 1  # reserved before the await so concurrent calls cannot overspend
        try:
            png = await run_cpu(render, data, kind, options.instant)
        except ImageDecodeError:
            account.credits[key] += 1
            return _error(422)
        if not encoded:
            return Response(png, media_type="image/png")
        field = "alpha_channel" if kind == "mask" else "image"
        return Response({field: base64.b64encode(png).decode("ascii")})

    @post("/v1.0/image-without-background", status_code=200)
    async def cutout(request: Request) -> Response:
        return await process(request, "cutout", encoded=False)

    @post("/v1.0/alpha-channel", status_code=200)
    async def alpha(request: Request) -> Response:
        return await process(request, "mask", encoded=False)

    @post("/v1.0/image-without-background-base64", status_code=200)
    async def cutout_base64(request: Request) -> Response:
        return await process(request, "cutout", encoded=True)

    @post("/v1.0/alpha-channel-base64", status_code=200)
    async def alpha_base64(request: Request) -> Response:
        return await process(request, "mask", encoded=True)

    @get("/available-credit")
    async def available_credit(request: Request) -> Response:
        key = request.headers.get("x-api-key")
        if key in options.withoutbg_expired_keys:
            body = {"available_credits": 0, "expiration_date": "2020-01-01T00:00:00Z"}
            return Response(body)
        if key is None or key not in account.credits:
            return _error(401)
        return Response({
            "available_credits": account.credits[key],
            "expiration_date": options.withoutbg_expiration_date,
        })

    return Litestar(
        route_handlers=[
            cutout, alpha, cutout_base64, alpha_base64, available_credit,
            *control_handlers(state, account.reset),
        ],
        middleware=[DefineMiddleware(sandbox_middleware(state))],
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=None,
    )
