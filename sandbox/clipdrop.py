"""Fake Clipdrop remove-background API (`POST /remove-background/v1`), per the notes.

Auth `x-api-key` (missing: 401 `No api key provided`; unknown: 403). Multipart `image_file`
(PNG, JPEG, WebP; at most 25 MP and 30 MB, else 400) and `transparency_handling`
(`return_input_if_non_opaque`, the default, answers an upload that already has a non-opaque alpha
with the input itself; `discard_alpha_layer` segments afresh). Output format by `Accept`: absent,
`*/*` or `image/png` -> PNG, `image/webp` -> WebP, `image/jpg` -> JPEG on white; anything else 406.
The answer has the input's size. Headers `x-credits-consumed: 1`, `x-remaining-credits`. Errors
`{"error": "<message>"}`: 400, 401, 402 (no credits left), 403, 406, 429 (no Retry-After: none is
documented), 500.
"""

from __future__ import annotations

import io
from typing import Any

from litestar import Litestar, Request, Response, post
from litestar.datastructures import UploadFile
from litestar.middleware import DefineMiddleware
from PIL import Image

from providers.images import MEDIA_TYPES, sniff_format
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
from sandbox.cutout import Spec, render
from sandbox.options import SandboxOptions

MAX_FILE_BYTES = 30 * 1024 * 1024
MAX_PIXELS = 25_000_000
ACCEPTS = {"": "png", "*/*": "png", "image/png": "png", "image/webp": "webp", "image/jpg": "jpg"}
MEDIA = {"png": "image/png", "webp": "image/webp", "jpg": "image/jpeg"}
HANDLING = ("return_input_if_non_opaque", "discard_alpha_layer")
MESSAGES = {400: "Bad request", 401: "No api key provided", 402: "No remaining credits",
            403: "Invalid api key", 406: "Not acceptable", 429: "Too many requests"}


def error_body(status: int) -> dict[str, Any]:
    """The `{"error": …}` body of `status`."""
    return {"error": MESSAGES.get(status, "Internal server error")}


def _error(status: int, message: str | None = None) -> Response:
    return Response({"error": message or MESSAGES[status]}, status_code=status)


def _non_opaque(data: bytes) -> bool:
    """True when the image has an alpha channel with any pixel below 255."""
    with Image.open(io.BytesIO(data)) as image:
        if "A" not in image.getbands() and "transparency" not in image.info:
            return False
        return image.convert("RGBA").getchannel("A").getextrema()[0] < 255


def create_clipdrop_app(options: SandboxOptions) -> Litestar:
    """The fake Clipdrop vendor as a Litestar app."""
    accounts = KeyAccounts("clipdrop", options.clipdrop_keys, float(options.clipdrop_credits),
                           options.clipdrop_rate_limit)
    state = VendorState(lambda headers: headers.get("x-api-key"), error_body)

    async def remove(request: Request) -> Response:
        key = request.headers.get("x-api-key")
        if not key:
            return _error(401)
        if not accounts.known(key):
            return _error(403)
        fmt = ACCEPTS.get(request.headers.get("accept", "").strip().lower())
        if fmt is None:
            return _error(406)
        try:
            form = dict((await request.form()).items())
        except Exception:  # the parser raises several types on malformed bodies
            form = {}
        upload = form.get("image_file")
        if not isinstance(upload, UploadFile):
            return _error(400, "image_file is missing")
        handling = str(form.get("transparency_handling", HANDLING[0]))
        if handling not in HANDLING:
            return _error(400, "transparency_handling is not valid")
        data = await upload.read()
        found = sniff_format(data)
        if found not in ("jpeg", "png", "webp") or len(data) > MAX_FILE_BYTES:
            return _error(400, "input format not valid or file too large")
        try:
            width, height = header_size(data)
        except ImageDecodeError:
            return _error(400, "image cannot be read")
        if width * height > MAX_PIXELS:
            return _error(400, "image resolution too big")
        if accounts.hit(key) is not None:
            return _error(429)
        if not accounts.take(key, 1.0):
            return _error(402)
        headers = {"x-credits-consumed": "1",
                   "x-remaining-credits": f"{accounts.credits[key]:g}"}
        if handling == HANDLING[0] and await run_cpu(_non_opaque, data):
            return Response(data, media_type=MEDIA_TYPES[found], headers=headers)
        try:
            out = await run_cpu(render, data, Spec(format=fmt), options.instant)
        except ImageDecodeError:
            accounts.refund(key, 1.0)
            return _error(400, "image cannot be read")
        return Response(out.data, media_type=MEDIA[out.format], headers=headers)

    @post("/remove-background/v1", status_code=200)
    async def remove_background(request: Request) -> Response:
        return await remove(request)

    return Litestar(
        route_handlers=[remove_background, *control_handlers(state, accounts.reset)],
        middleware=[DefineMiddleware(sandbox_middleware(state))],
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=None,
    )
