"""The image work behind the remove.bg, Photoroom, Clipdrop and rembg fakes (run it in a thread).

One matte (the local engine's, or a synthetic ellipse in instant mode), then what the request
asks: crop to alpha > 10 with a margin (clipped to the image: the notes do not say a vendor pads),
a megapixel cap (never upscaling), a background colour, JPEG flattening (white unless a colour is
given), a single-channel matte, or remove.bg's ZIP of `color.jpg` + `alpha.png`.
"""

from __future__ import annotations

import io
import math
import zipfile

import msgspec
from PIL import Image

from sandbox.common import decode_rgb, engine_matte, header_size, synthetic_matte
from sandbox.erase_render import despill, encode_as

INFERENCE_LONG_SIDE = 1024


class Spec(msgspec.Struct, frozen=True, kw_only=True):
    """What one vendor call asks of the image."""

    format: str = "png"
    """`png`, `jpg`, `webp`, `zip` or `auto` (PNG when anything is transparent, else JPEG)."""
    channels: str = "rgba"
    max_megapixels: float | None = None
    crop: bool = False
    margin: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    """Top, right, bottom, left: pixels, or fractions of the subject's size when `relative`."""
    relative: tuple[bool, bool, bool, bool] = (False, False, False, False)
    bg_color: tuple[int, int, int, int] | None = None
    despill: bool = False


class Cutout(msgspec.Struct, frozen=True):
    """An encoded answer and where the subject is in it."""

    data: bytes
    format: str
    width: int
    height: int
    box: tuple[int, int, int, int]
    """Foreground left, top, width, height (alpha > 10) in the output."""


def matte_pair(data: bytes, instant: bool) -> tuple[Image.Image, Image.Image]:
    """(RGB image, L matte) of `data`, EXIF orientation applied."""
    if instant:
        width, height = header_size(data)
        return Image.new("RGB", (width, height), (128, 128, 128)), synthetic_matte(width, height)
    rgb = decode_rgb(data)
    return rgb, engine_matte(rgb, INFERENCE_LONG_SIDE)


def _crop_box(matte: Image.Image, spec: Spec) -> tuple[int, int, int, int] | None:
    box = matte.point(lambda v: 255 if v > 10 else 0).getbbox()
    if box is None:
        return None
    left, top, right, bottom = box
    sizes = (bottom - top, right - left, bottom - top, right - left)
    pads = [round(m * s if rel else m)
            for m, s, rel in zip(spec.margin, sizes, spec.relative, strict=True)]
    return (max(0, left - pads[3]), max(0, top - pads[0]),
            min(matte.width, right + pads[1]), min(matte.height, bottom + pads[2]))


def _capped(size: tuple[int, int], max_megapixels: float | None) -> tuple[int, int]:
    width, height = size
    if max_megapixels is None or width * height <= max_megapixels * 1e6:
        return size
    scale = math.sqrt(max_megapixels * 1e6 / (width * height))
    return max(1, int(width * scale)), max(1, int(height * scale))


def render(data: bytes, spec: Spec, instant: bool) -> Cutout:
    """Matte `data` and apply `spec` (CPU work: call from a worker thread)."""
    rgb, matte = matte_pair(data, instant)
    work = rgb.convert("RGBA")
    work.putalpha(matte)
    if spec.despill and spec.bg_color is None:
        work = despill(work)
    if spec.crop and (box := _crop_box(matte, spec)) is not None:
        work = work.crop(box)
    target = _capped(work.size, spec.max_megapixels)
    if target != work.size:
        work = work.resize(target, Image.Resampling.LANCZOS)
    alpha = work.getchannel("A")
    found = alpha.point(lambda v: 255 if v > 10 else 0).getbbox() or (0, 0, 0, 0)
    box = (found[0], found[1], found[2] - found[0], found[3] - found[1])
    if spec.channels == "alpha":
        return Cutout(encode_as(alpha, "png"), "png", work.width, work.height, box)
    if spec.format == "zip":
        return Cutout(_zip(work), "zip", work.width, work.height, box)
    fmt = spec.format
    if fmt == "auto":
        translucent = spec.bg_color is None or spec.bg_color[3] != 255
        fmt = "png" if translucent and alpha.getextrema()[0] < 255 else "jpg"
    background = spec.bg_color or ((255, 255, 255, 255) if fmt == "jpg" else None)
    if background is not None:
        work = Image.alpha_composite(Image.new("RGBA", work.size, background), work)
        if background[3] == 255 or fmt == "jpg":
            work = work.convert("RGB")
    return Cutout(encode_as(work, fmt), fmt, work.width, work.height, box)


def _zip(work: Image.Image) -> bytes:
    """remove.bg's ZIP: an opaque `color.jpg` and a greyscale `alpha.png`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("color.jpg", encode_as(work.convert("RGB"), "jpg"))
        archive.writestr("alpha.png", encode_as(work.getchannel("A"), "png"))
    return buffer.getvalue()
