"""Fake BackgroundErase v2 API (`POST /v2`, health checks), following the flags page.

Auth `x-api-key`. Input: multipart `image_file` (file), `image_file_b64` / `image_base64` (text);
JSON `image` (legacy base64, forces channels=alpha), `image_base64`; base64 may carry a
`data:image/...;base64,` prefix. `image_url` is refused (the sandbox has no internet).
Flags format/channels/size/crop/bg_color/despill work for real (see sandbox/erase_render.py);
keys are case-insensitive, booleans accept true/false/1/0/yes/no, unknown keys are ignored.
`channels=alpha` always answers a single-channel PNG.

Success: multipart -> the raw image bytes with their Content-Type; JSON ->
  {"image_base64": str, "media_type": str, "format": "png"|"jpg"|"webp",
   "channels": "rgba"|"alpha", "width": int, "height": int}
Errors (this sandbox's exact shape; the vendor only says "a message and code"):
  {"error": {"message": str, "code": str}}
  400 invalid_request | missing_image | invalid_base64 | invalid_option | image_url_unsupported
  401 unauthorized   413 payload_too_large (over 10 MiB of image bytes)
  415 unsupported_format   422 invalid_image | image_too_large (over 100 MP)
  injected faults: 402 insufficient_credits, 429 rate_limited, 5xx internal_error/timeout.
"""

from __future__ import annotations

import base64
import binascii
import re

import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.middleware import DefineMiddleware

from providers.images import sniff_format
from sandbox.common import (
    MAX_BODY_BYTES,
    ImageDecodeError,
    VendorState,
    control_handlers,
    run_cpu,
    sandbox_middleware,
)
from sandbox.erase_render import MEDIA_TYPES, FlagError, ImageTooLarge, parse_flags, render
from sandbox.options import SandboxOptions

MAX_IMAGE_BYTES = 10 * 1024 * 1024
_DATA_URL = re.compile(r"^data:image/[a-z0-9.+-]+;base64,", re.IGNORECASE)
FAULT_CODES: dict[int, str] = {
    400: "invalid_request", 401: "unauthorized", 402: "insufficient_credits",
    413: "payload_too_large", 415: "unsupported_format", 422: "invalid_image",
    429: "rate_limited", 504: "timeout",
}


class EraseError(Exception):
    """A documented error answer of the fake vendor."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> Response:
        """The structured JSON error response."""
        body = {"error": {"message": self.message, "code": self.code}}
        return Response(body, status_code=self.status)


def error_body(status: int) -> dict[str, dict[str, str]]:
    """The error body an injected fault answers with."""
    code = FAULT_CODES.get(status, "internal_error" if status >= 500 else "error")
    return {"error": {"message": f"Injected sandbox fault ({status})", "code": code}}


def decode_base64(text: object) -> bytes:
    """Bytes of a base64 string, a data-URL prefix stripped."""
    if not isinstance(text, str):
        raise EraseError(400, "invalid_base64", "base64 image must be a string")
    try:
        return base64.b64decode(_DATA_URL.sub("", text.strip()), validate=True)
    except (binascii.Error, ValueError):
        raise EraseError(400, "invalid_base64", "malformed base64 image") from None


async def _multipart(request: Request) -> tuple[bytes, dict[str, object], bool]:
    try:
        form = await request.form()
    except Exception:  # the parser raises several types on malformed bodies
        raise EraseError(400, "invalid_request", "malformed multipart body") from None
    fields: dict[str, object] = {}
    for name, value in form.multi_items():
        fields.setdefault(name.lower(), value)
    upload = fields.get("image_file")
    if isinstance(upload, UploadFile):
        return await upload.read(), fields, False
    for name in ("image_file_b64", "image_base64"):
        if fields.get(name):
            return decode_base64(fields[name]), fields, False
    return _no_image(fields)


async def _json(request: Request) -> tuple[bytes, dict[str, object], bool]:
    try:
        body = msgspec.json.decode(await request.body())
    except msgspec.DecodeError:
        raise EraseError(400, "invalid_request", "body is not valid JSON") from None
    if not isinstance(body, dict):
        raise EraseError(400, "invalid_request", "JSON body must be an object")
    fields = {str(name).lower(): value for name, value in body.items()}
    if fields.get("image_base64"):
        return decode_base64(fields["image_base64"]), fields, True
    if fields.get("image"):
        return decode_base64(fields["image"]), fields, True
    return _no_image(fields)


def _no_image(fields: dict[str, object]) -> tuple[bytes, dict[str, object], bool]:
    if fields.get("image_url"):
        raise EraseError(400, "image_url_unsupported", "image_url is not available in the sandbox")
    raise EraseError(400, "missing_image", "no image given (image_file, image_base64, image)")


def create_backgrounderase_app(options: SandboxOptions) -> Litestar:
    """The fake BackgroundErase v2 vendor as a Litestar app."""
    state = VendorState(lambda headers: headers.get("x-api-key"), error_body)

    async def remove(request: Request) -> Response:
        if request.headers.get("x-api-key") not in options.backgrounderase_keys:
            raise EraseError(401, "unauthorized", "missing or invalid API key")
        content_type = request.content_type[0]
        if content_type == "multipart/form-data":
            data, fields, as_json = await _multipart(request)
        elif content_type == "application/json":
            data, fields, as_json = await _json(request)
        else:
            raise EraseError(400, "invalid_request", "send multipart/form-data or JSON")
        if len(data) > MAX_IMAGE_BYTES:
            raise EraseError(413, "payload_too_large", "image is larger than 10 MB")
        if sniff_format(data) is None:
            raise EraseError(
                415, "unsupported_format", "supported: JPG, PNG, WebP, BMP, TIFF, GIF"
            )
        try:
            flags = parse_flags(fields, force_alpha=as_json and not fields.get("image_base64"))
            result = await run_cpu(render, data, flags, options.instant)
        except FlagError as exc:
            raise EraseError(400, "invalid_option", str(exc)) from None
        except ImageTooLarge as exc:
            raise EraseError(422, "image_too_large", str(exc)) from None
        except ImageDecodeError:
            raise EraseError(422, "invalid_image", "the image cannot be decoded") from None
        media_type = MEDIA_TYPES[result.format]
        if not as_json:
            return Response(result.data, media_type=media_type)
        return Response({
            "image_base64": base64.b64encode(result.data).decode("ascii"),
            "media_type": media_type, "format": result.format, "channels": flags.channels,
            "width": result.width, "height": result.height,
        })

    @post("/v2", status_code=200)
    async def v2(request: Request) -> Response:
        try:
            return await remove(request)
        except EraseError as exc:
            return exc.response()

    @get(["/v2/health", "/health"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return Litestar(
        route_handlers=[v2, health, *control_handlers(state, lambda: None)],
        middleware=[DefineMiddleware(sandbox_middleware(state))],
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=None,
    )
