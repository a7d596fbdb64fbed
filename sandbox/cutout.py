"""The image work behind the remove.bg, Photoroom, Clipdrop and rembg fakes (run it in a thread).

One matte (the local engine's, or a synthetic ellipse in instant mode), then what the request
asks, in this order: a region of interest (nothing outside it is foreground), despill, crop to
alpha > 10 with a margin (clipped to the image: the notes do not say a vendor pads), scale and
position of the subject on the canvas, a megapixel cap (never upscaling), a drop shadow, a
background image (scaled to cover, centred) or colour, JPEG flattening (white unless a colour is
given), a single-channel matte, or remove.bg's ZIP of `color.jpg` + `alpha.png`.
"""

from __future__ import annotations

import io
import math
import zipfile

import msgspec
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

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
    roi: tuple[tuple[float, bool], ...] | None = None
    """x1, y1, x2, y2: (value, is a percentage of the width or height)."""
    scale: float | None = None
    """Subject size, percent of the canvas; None keeps it."""
    position: tuple[float, float] | None = None
    """Subject place, percent of the free space; None keeps the box's centre."""
    shadow_opacity: int | None = None
    """A drop shadow of this opacity (0-100); None for no shadow."""
    background: bytes | None = None
    """An encoded background image."""


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


def _roi(matte: Image.Image, roi: tuple[tuple[float, bool], ...]) -> Image.Image:
    """The matte with nothing outside the region."""
    sides = (matte.width, matte.height) * 2
    x1, y1, x2, y2 = (
        v / 100 * side if pct else v for (v, pct), side in zip(roi, sides, strict=True)
    )
    keep = Image.new("L", matte.size, 0)
    ImageDraw.Draw(keep).rectangle((round(x1), round(y1), round(x2) - 1, round(y2) - 1), fill=255)
    return ImageChops.multiply(matte, keep)


def _place(work: Image.Image, spec: Spec) -> Image.Image:
    """Resize the subject's box relative to the canvas and put it in place."""
    box = work.getchannel("A").point(lambda v: 255 if v > 10 else 0).getbbox()
    if box is None:
        return work
    x0, y0, x1, y1 = box
    width, height = x1 - x0, y1 - y0
    factor = 1.0 if spec.scale is None else spec.scale / 100 * min(
        work.width / width, work.height / height)
    new_w, new_h = max(1, round(width * factor)), max(1, round(height * factor))
    if spec.position is None:
        left, top = round((x0 + x1 - new_w) / 2), round((y0 + y1 - new_h) / 2)
    else:
        left = round((work.width - new_w) * spec.position[0] / 100)
        top = round((work.height - new_h) * spec.position[1] / 100)
    subject = work.crop(box).resize((new_w, new_h), Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", work.size, (0, 0, 0, 0))
    canvas.alpha_composite(subject, (max(0, left), max(0, top)),
                           (max(0, -left), max(0, -top)))
    return canvas


def _shadow(work: Image.Image, opacity: int) -> Image.Image:
    """A soft black shadow of the subject, moved down and a little right, under it."""
    radius = max(2, round(max(work.size) * 0.01))
    alpha = work.getchannel("A").filter(ImageFilter.GaussianBlur(radius))
    shifted = Image.new("L", work.size, 0)
    shifted.paste(alpha, (radius // 2, radius))
    layer = Image.new("RGBA", work.size, (0, 0, 0, 0))
    layer.putalpha(shifted.point(lambda v: v * opacity // 100))
    return Image.alpha_composite(layer, work)


def render(data: bytes, spec: Spec, instant: bool) -> Cutout:
    """Matte `data` and apply `spec` (CPU work: call from a worker thread)."""
    rgb, matte = matte_pair(data, instant)
    if spec.roi is not None:
        matte = _roi(matte, spec.roi)
    work = rgb.convert("RGBA")
    work.putalpha(matte)
    if spec.despill and spec.bg_color is None:
        work = despill(work)
    if spec.crop and (box := _crop_box(matte, spec)) is not None:
        work = work.crop(box)
    if spec.scale is not None or spec.position is not None:
        work = _place(work, spec)
    target = _capped(work.size, spec.max_megapixels)
    if target != work.size:
        work = work.resize(target, Image.Resampling.LANCZOS)
    alpha = work.getchannel("A")
    if spec.shadow_opacity is not None and spec.channels == "rgba":
        work = _shadow(work, spec.shadow_opacity)
    if spec.background is not None and spec.channels == "rgba":
        with Image.open(io.BytesIO(spec.background)) as opened:
            backdrop = ImageOps.fit(opened.convert("RGBA"), work.size)
        work = Image.alpha_composite(backdrop, work)
    found = alpha.point(lambda v: 255 if v > 10 else 0).getbbox() or (0, 0, 0, 0)
    box = (found[0], found[1], found[2] - found[0], found[3] - found[1])
    if spec.channels == "alpha":
        return Cutout(encode_as(alpha, "png"), "png", work.width, work.height, box)
    if spec.format == "zip":
        return Cutout(_zip(work), "zip", work.width, work.height, box)
    fmt = spec.format
    if fmt == "auto":
        translucent = spec.background is None and (spec.bg_color is None or spec.bg_color[3] != 255)
        fmt = "png" if translucent and alpha.getextrema()[0] < 255 else "jpg"
    if spec.background is not None:
        return Cutout(encode_as(work.convert("RGB"), fmt), fmt, work.width, work.height, box)
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
