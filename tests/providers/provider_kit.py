"""Test helpers for the adapter tests: small Pillow images, requests and a multipart reader."""

from __future__ import annotations

import io
import re
import time

import httpx
import msgspec
from PIL import Image, ImageDraw

from providers.base import OutputOptions, ProviderRequest
from tests.imaging import encode

WITHOUTBG_KEY = "wbg-SECRET-4f1c9a7e2b"
BACKGROUNDERASE_KEY = "bge-SECRET-8d2e6b0c4a"
BACKGROUNDCUT_KEY = "bgc-SECRET-1a3c5e7f9b"
REMOVEBG_KEY = "rbg-SECRET-5b7d9f1a3c"
PHOTOROOM_KEY = "prm-SECRET-2c4e6a8b0d"
CLIPDROP_KEY = "cdp-SECRET-9e7c5a3b1f"
ALL_KEYS = (
    WITHOUTBG_KEY, BACKGROUNDERASE_KEY, BACKGROUNDCUT_KEY, REMOVEBG_KEY, PHOTOROOM_KEY,
    CLIPDROP_KEY,
)


def subject(width: int, height: int) -> Image.Image:
    """A white RGB canvas with a red disc in the middle."""
    image = Image.new("RGB", (width, height), (255, 255, 255))
    ImageDraw.Draw(image).ellipse(
        (width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill=(200, 30, 30)
    )
    return image



def mask_png(width: int, height: int) -> bytes:
    """An L matte: 0 outside the disc, 255 inside."""
    mask = Image.new("L", (width, height), 0)
    ImageDraw.Draw(mask).ellipse((width // 4, height // 4, 3 * width // 4, 3 * height // 4), 255)
    return encode(mask, "PNG")


def cutout_png(width: int, height: int) -> bytes:
    """An RGBA cutout: the disc on a transparent background."""
    image = subject(width, height).convert("RGBA")
    image.putalpha(Image.open(io.BytesIO(mask_png(width, height))))
    return encode(image, "PNG")


def trimap_png(width: int, height: int) -> bytes:
    """An L trimap: 0 background, 128 band, 255 inside the disc."""
    trimap = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(trimap)
    draw.ellipse((width // 5, height // 5, 4 * width // 5, 4 * height // 5), 128)
    draw.ellipse((width // 3, height // 3, 2 * width // 3, 2 * height // 3), 255)
    return encode(trimap, "PNG")


def provider_request(
    width: int = 240,
    height: int = 160,
    fmt: str = "png",
    options: OutputOptions | None = None,
    trimap: bool = False,
    request_id: str = "req-1",
    deadline_s: float = 30.0,
) -> ProviderRequest:
    """A ProviderRequest for a fresh subject image."""
    pil_format = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[fmt]
    return ProviderRequest(
        image=encode(subject(width, height), pil_format),
        image_format=fmt,
        width=width,
        height=height,
        request_id=request_id,
        deadline=time.monotonic() + deadline_s,
        options=options or OutputOptions(),
        trimap=trimap_png(width, height) if trimap else None,
    )



class Part(msgspec.Struct, frozen=True):
    """One multipart part."""

    data: bytes
    filename: str | None
    content_type: str | None


def multipart_parts(request: httpx.Request) -> dict[str, Part]:
    """The parts of a captured multipart/form-data request, by field name."""
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data")
    boundary = content_type.split("boundary=", 1)[1].encode()
    parts: dict[str, Part] = {}
    for chunk in request.read().split(b"--" + boundary)[1:-1]:
        head, _, body = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]*)"', head)
        filename = re.search(rb'filename="([^"]*)"', head)
        ctype = re.search(rb"Content-Type: ([^\r\n]+)", head)
        assert name is not None
        parts[name.group(1).decode()] = Part(
            data=body.removesuffix(b"\r\n"),
            filename=filename.group(1).decode() if filename else None,
            content_type=ctype.group(1).decode() if ctype else None,
        )
    return parts


def json_body(request: httpx.Request) -> dict[str, object]:
    """The decoded JSON body of a captured request."""
    body = msgspec.json.decode(request.read())
    assert isinstance(body, dict)
    return body
