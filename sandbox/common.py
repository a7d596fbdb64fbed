"""Shared pieces of the fake vendors: key ids, request log, fault injection, image work in threads.

Control routes (no vendor key; the sandbox is meant for loopback only, never expose it):
  POST   /_sandbox/faults  {"status": 500, "count": 3, "delay_s": 0, "retry_after": 5, "paths": []}
         the next `count` vendor calls (optionally only paths starting with one of `paths`;
         health, account and schema calls never) sleep `delay_s`, then answer `status` with the
         vendor's documented error body (and `Retry-After` when set); without `status` they only
         sleep, then run normally.
  DELETE /_sandbox/faults  clear the pending fault.
  GET    /_sandbox/log     [{"time", "method", "route", "key_id", "status"}, ...] oldest first;
         `key_id` is a short hash of the key, never the key itself.
  POST   /_sandbox/reset   clear log, faults, credits, rate-limit windows and stored files.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import io
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
import msgspec
from litestar import Request, Response, delete, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from PIL import Image, ImageDraw, ImageOps

from providers.images import encode_png

T = TypeVar("T")
CONTROL_PREFIX = "/_sandbox"
#: Paths that report on the vendor rather than do work: faults never hit them.
UNFAULTED = ("/health", "/account", "/openapi.json")
MAX_BODY_BYTES = 64 * 1024 * 1024
"""Transport cap of every fake vendor; documented per-vendor limits are checked in the routes."""


def key_id(key: str | None) -> str | None:
    """A short, stable, non-reversible id for a key (what logs show instead of the key)."""
    if not key:
        return None
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:8]


class FaultSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A fault to inject into the next `count` vendor calls."""

    status: int | None = None
    count: int = 1
    delay_s: float = 0.0
    retry_after: float | None = None
    paths: tuple[str, ...] = ()


class LogEntry(msgspec.Struct, frozen=True):
    """One vendor call as the sandbox saw it."""

    time: float
    method: str
    route: str
    key_id: str | None
    status: int


class VendorState:
    """Per-vendor request log and pending fault."""

    def __init__(
        self,
        key_of: Callable[[dict[str, str]], str | None],
        error_body: Callable[[int], dict[str, Any]],
    ) -> None:
        self.key_of = key_of
        self.error_body = error_body
        self.log: deque[LogEntry] = deque(maxlen=2000)
        self.fault: FaultSpec | None = None
        self.fault_left = 0

    def take_fault(self, path: str) -> FaultSpec | None:
        """The pending fault if it applies to `path` (consumes one of its count)."""
        fault = self.fault
        if fault is None or path.endswith(UNFAULTED):
            return None
        if fault.paths and not any(path.startswith(p) for p in fault.paths):
            return None
        self.fault_left -= 1
        if self.fault_left <= 0:
            self.fault = None
        return fault

    def clear(self) -> None:
        """Forget the log and any pending fault."""
        self.log.clear()
        self.fault = None
        self.fault_left = 0


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def sandbox_middleware(state: VendorState) -> Callable[[ASGIApp], ASGIApp]:
    """ASGI middleware factory: inject faults and log every vendor call's status."""

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
                await app(scope, receive, send)
                return
            # Litestar drops trailing slashes from `path`; log what the client sent
            raw = scope.get("raw_path")
            path = raw.decode("latin-1") if raw else scope["path"]
            status = 500

            async def capture(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                fault = state.take_fault(path)
                if fault is not None and fault.delay_s > 0:
                    await asyncio.sleep(fault.delay_s)
                if fault is not None and fault.status is not None:
                    await _send_json(
                        capture, fault.status, state.error_body(fault.status), fault.retry_after
                    )
                else:
                    await app(scope, receive, capture)
            finally:
                entry = LogEntry(time.time(), scope["method"], path,
                                 key_id(state.key_of(_headers(scope))), status)
                state.log.append(entry)

        return middleware  # type: ignore[return-value]

    return factory


async def _send_json(
    send: Send, status: int, body: dict[str, Any], retry_after: float | None
) -> None:
    payload = msgspec.json.encode(body)
    headers = [
        (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())
    ]
    if retry_after is not None:
        headers.append((b"retry-after", str(max(0, round(retry_after))).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload, "more_body": False})


def control_handlers(state: VendorState, reset: Callable[[], None]) -> list[HTTPRouteHandler]:
    """The `/_sandbox/*` routes of one vendor (no auth: loopback only)."""

    @post(f"{CONTROL_PREFIX}/faults", status_code=200)
    async def set_fault(request: Request) -> Response[dict[str, Any]]:
        try:
            data = msgspec.json.decode(await request.body(), type=FaultSpec)
        except msgspec.DecodeError as exc:
            return Response({"detail": str(exc)}, status_code=400)
        if data.status is not None and not 400 <= data.status <= 599:
            return Response({"detail": "status must be 400-599"}, status_code=400)
        if data.count < 1 or data.delay_s < 0:
            return Response({"detail": "count must be >= 1, delay_s >= 0"}, status_code=400)
        state.fault, state.fault_left = data, data.count
        return Response(msgspec.to_builtins(data))

    @delete(f"{CONTROL_PREFIX}/faults", status_code=204)
    async def clear_fault() -> None:
        state.fault, state.fault_left = None, 0

    @get(f"{CONTROL_PREFIX}/log")
    async def read_log() -> list[LogEntry]:
        return list(state.log)

    @post(f"{CONTROL_PREFIX}/reset", status_code=204)
    async def reset_all() -> None:
        state.clear()
        reset()

    return [set_fault, clear_fault, read_log, reset_all]


async def run_cpu(function: Callable[..., T], *args: Any) -> T:
    """Run CPU-bound image work in a worker thread, never on the event loop."""
    return await anyio.to_thread.run_sync(functools.partial(function, *args))


def engine_matte(image: Image.Image, long_side: int = 1024) -> Image.Image:
    """The local engine's matte ("L", the size of `image`)."""
    from providers.local.engine import compute_matte  # imported late: heavy, and built separately

    return compute_matte(image, long_side=long_side)


class ImageDecodeError(ValueError):
    """The bytes are not a decodable image."""


def header_size(data: bytes) -> tuple[int, int]:
    """Width and height after EXIF orientation, reading only the header."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if image.getexif().get(0x0112) in (5, 6, 7, 8):
                width, height = height, width
            return width, height
    except Exception as exc:  # Pillow raises many types for corrupt input
        raise ImageDecodeError("cannot decode image") from exc


def decode_rgb(data: bytes) -> Image.Image:
    """Decode to RGB with EXIF orientation applied (first frame), or raise ImageDecodeError."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.seek(0)
            return ImageOps.exif_transpose(image).convert("RGB")
    except Exception as exc:  # Pillow raises many types for corrupt input
        raise ImageDecodeError("cannot decode image") from exc


@functools.lru_cache(maxsize=16)
def synthetic_matte(width: int, height: int) -> Image.Image:
    """Instant mode: a soft centred ellipse matte of the right size, no inference."""
    matte = Image.new("L", (width, height), 0)
    ImageDraw.Draw(matte).ellipse(
        (width * 0.2, height * 0.1, width * 0.8, height * 0.95), fill=255
    )
    return matte


@functools.lru_cache(maxsize=16)
def synthetic_png(width: int, height: int, kind: str) -> bytes:
    """Instant mode: a cached PNG matte (`mask`) or grey cutout (`cutout`) of the right size."""
    matte = synthetic_matte(width, height)
    if kind == "mask":
        return encode_png(matte)
    cutout = Image.new("RGB", (width, height), (128, 128, 128))
    cutout.putalpha(matte)
    return encode_png(cutout)
