"""Fake BackgroundCut v3 API: file space, trimap matting and public URLs, per the matting page.

Auth `Authorization: Token <key>`; errors `{"detail": "<message>"}` (the vendor's DRF style).
  POST /v3/file-ops/upload/            multipart `file` + `key` -> 200 {"key": str}
  POST /v3/tools/ai/matting/process/   JSON input_key, trimap_key, output_key, output_type
        ("rgba" | "mask"), output_compression (1-100) -> 200 {"output_key": str}
        400 missing field, source or trimap not a JPEG, source not RGB, trimap not grayscale or
        not the source's size, output key extension wrong for output_type (.png/.webp for rgba,
        .jpg/.jpeg for mask); 404 input or trimap key unknown; 402 no credits; 504 over 30 s.
  POST /v3/file-ops/get-public-url/    JSON {"key"} -> 200 {"url": "http://HOST:PORT/public/<token>"}
  GET  /public/<token>                 the stored bytes, no auth.
Files live in memory, one space per key. The alpha is 255 where the trimap is white (>= 192), 0
where black (<= 63), and the local engine's matte in the unknown band. One credit per matting call.
"""

from __future__ import annotations

import asyncio
import io
import secrets
from collections import OrderedDict

import msgspec
import numpy as np
from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.middleware import DefineMiddleware
from PIL import Image

from providers.images import encode_jpeg, encode_png, sniff_format
from sandbox.common import (
    MAX_BODY_BYTES,
    VendorState,
    control_handlers,
    engine_matte,
    sandbox_middleware,
)
from sandbox.options import SandboxOptions

PROCESS_TIMEOUT_S = 30.0
EXTENSIONS = {"rgba": (".png", ".webp"), "mask": (".jpg", ".jpeg")}
MESSAGES = {
    400: "Bad request.", 401: "Invalid token.", 402: "Insufficient credits.", 404: "Not found.",
    429: "Request was throttled.", 504: "Processing timed out.",
}


class MattingRequest(msgspec.Struct, frozen=True):
    """Body of the matting call."""

    input_key: str
    trimap_key: str
    output_key: str
    output_type: str = "rgba"
    output_compression: int = 95


class PublicUrlRequest(msgspec.Struct, frozen=True):
    """Body of the public-URL call."""

    key: str


def error_body(status: int) -> dict[str, str]:
    """The `{"detail": …}` body for `status`."""
    return {"detail": MESSAGES.get(status, "Internal server error.")}


def _error(status: int, message: str | None = None) -> Response:
    return Response({"detail": message or MESSAGES[status]}, status_code=status)


def _token(headers: dict[str, str]) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "token" else None


def matte(source: bytes, trimap: bytes, output_type: str, ext: str, quality: int,
          instant: bool) -> bytes:
    """Trimap-guided matte, encoded for `ext` (CPU work: call from a worker thread)."""
    with Image.open(io.BytesIO(source)) as opened:
        rgb = opened.convert("RGB")
    with Image.open(io.BytesIO(trimap)) as opened:
        tri = np.asarray(opened.convert("L"))
    if instant:
        alpha = tri
    else:
        inside = np.asarray(engine_matte(rgb, 1024))
        alpha = np.where(tri >= 192, 255, np.where(tri <= 63, 0, inside)).astype(np.uint8)
    mask = Image.fromarray(alpha, "L")
    if output_type == "mask":
        return encode_jpeg(mask, quality=quality)
    rgb.putalpha(mask)
    if ext == ".webp":
        buffer = io.BytesIO()
        rgb.save(buffer, format="WEBP", quality=quality)
        return buffer.getvalue()
    return encode_png(rgb)


def _check_inputs(source: bytes, trimap: bytes) -> str | None:
    """Why the source/trimap pair is refused (400), or None; reads headers only."""
    if sniff_format(source) != "jpeg" or sniff_format(trimap) != "jpeg":
        return "Source and trimap must be JPEG files."
    try:
        with Image.open(io.BytesIO(source)) as src, Image.open(io.BytesIO(trimap)) as tri:
            if src.mode != "RGB":
                return "Source must be an RGB JPEG."
            if tri.mode != "L":
                return "Trimap must be a grayscale JPEG."
            if src.size != tri.size:
                return "Trimap must have the same width and height as the source."
    except Exception:  # Pillow raises many types for corrupt headers
        return "Source or trimap cannot be decoded."
    return None


class _Space:
    """Per-key files, public tokens and credits."""

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self.files: dict[str, OrderedDict[str, bytes]] = {}
        self.public: OrderedDict[str, bytes] = OrderedDict()
        self.credits: dict[str, int] = {}
        self.reset()

    def reset(self) -> None:
        """Forget every file and URL; restore credits."""
        self.files = {key: OrderedDict() for key in self.options.backgroundcut_keys}
        self.public.clear()
        self.credits = {key: self.options.backgroundcut_credits
                        for key in self.options.backgroundcut_keys}

    def store(self, key: str, name: str, data: bytes) -> None:
        """Keep `data` under `name` in the key's space (oldest dropped past the cap)."""
        space = self.files[key]
        space.pop(name, None)
        space[name] = data
        while len(space) > self.options.max_stored_objects:
            space.popitem(last=False)

    def publish(self, data: bytes) -> str:
        """A new public token for `data`."""
        token = secrets.token_urlsafe(16)
        self.public[token] = data
        while len(self.public) > self.options.max_stored_objects * 4:
            self.public.popitem(last=False)
        return token


def create_backgroundcut_app(options: SandboxOptions) -> Litestar:
    """The fake BackgroundCut v3 vendor as a Litestar app."""
    space = _Space(options)
    state = VendorState(_token, error_body)

    def authed(request: Request) -> str | None:
        key = _token({"authorization": request.headers.get("authorization", "")})
        return key if key in space.files else None

    async def json_body(request: Request, shape: type[msgspec.Struct]) -> msgspec.Struct | str:
        try:
            return msgspec.json.decode(await request.body(), type=shape)
        except msgspec.DecodeError as exc:
            return str(exc)

    @post("/v3/file-ops/upload/", status_code=200)
    async def upload(request: Request) -> Response:
        if (key := authed(request)) is None:
            return _error(401)
        try:
            form = await request.form()
        except Exception:  # malformed multipart
            return _error(400, "Malformed multipart body.")
        file, name = form.get("file"), form.get("key")
        if not isinstance(file, UploadFile) or not isinstance(name, str) or not name:
            return _error(400, "Fields `file` and `key` are required.")
        space.store(key, name, await file.read())
        return Response({"key": name})

    @post("/v3/tools/ai/matting/process/", status_code=200)
    async def process(request: Request) -> Response:
        if (key := authed(request)) is None:
            return _error(401)
        body = await json_body(request, MattingRequest)
        if isinstance(body, str):
            return _error(400, body)
        assert isinstance(body, MattingRequest)
        ext = "." + body.output_key.rsplit(".", 1)[-1].lower() if "." in body.output_key else ""
        if body.output_type not in EXTENSIONS:
            return _error(400, "output_type must be 'rgba' or 'mask'.")
        if ext not in EXTENSIONS[body.output_type]:
            wanted = " or ".join(EXTENSIONS[body.output_type])
            return _error(400, f"output_key must end in {wanted} for {body.output_type} output.")
        if not 1 <= body.output_compression <= 100:
            return _error(400, "output_compression must be 1-100.")
        source = space.files[key].get(body.input_key)
        trimap = space.files[key].get(body.trimap_key)
        if source is None or trimap is None:
            return _error(404, "File not found: input_key or trimap_key does not exist.")
        if (why := _check_inputs(source, trimap)) is not None:
            return _error(400, why)
        if space.credits[key] <= 0:
            return _error(402)
        work = asyncio.to_thread(matte, source, trimap, body.output_type, ext,
                                 body.output_compression, options.instant)
        space.credits[key] -= 1  # reserved before the await so concurrent calls cannot overspend
        try:
            result = await asyncio.wait_for(work, PROCESS_TIMEOUT_S)
        except TimeoutError:
            space.credits[key] += 1
            return _error(504)
        except (OSError, ValueError):  # a truncated JPEG whose header was fine
            space.credits[key] += 1
            return _error(400, "Source or trimap cannot be decoded.")
        space.store(key, body.output_key, result)
        return Response({"output_key": body.output_key})

    @post("/v3/file-ops/get-public-url/", status_code=200)
    async def public_url(request: Request) -> Response:
        if (key := authed(request)) is None:
            return _error(401)
        body = await json_body(request, PublicUrlRequest)
        if isinstance(body, str):
            return _error(400, body)
        assert isinstance(body, PublicUrlRequest)
        data = space.files[key].get(body.key)
        if data is None:
            return _error(404)
        host, port = request.scope["server"] or ("127.0.0.1", 80)
        return Response({"url": f"http://{host}:{port}/public/{space.publish(data)}"})

    @get("/public/{token:str}")
    async def download(request: Request) -> Response:
        data = space.public.get(request.path_params["token"])
        if data is None:
            return _error(404)
        kind = sniff_format(data)
        media_type = f"image/{kind}" if kind else "application/octet-stream"
        return Response(data, media_type=media_type)

    return Litestar(
        route_handlers=[upload, process, public_url, download,
                        *control_handlers(state, space.reset)],
        middleware=[DefineMiddleware(sandbox_middleware(state))],
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=None,
    )
