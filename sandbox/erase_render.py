"""BackgroundErase v2 flags (parsing and the real image work behind them) for the fake vendor."""

from __future__ import annotations

import functools
import io
import math
import re
from collections.abc import Callable, Mapping
from typing import TypeVar

import msgspec
import numpy as np
from PIL import Image, ImageColor

from providers.images import encode_jpeg, encode_png
from sandbox.common import decode_rgb, engine_matte, header_size, synthetic_matte

MEGAPIXELS: dict[str, float] = {
    "preview": 0.25, "medium": 1.5, "hd": 4.0, "full": 50.0, "auto": 50.0,
}
LONG_SIDE_SAFEGUARD = 6000
MAX_INPUT_PIXELS = 100_000_000
DESPILL_MAX_PIXELS = 50_000_000
CHOICES: dict[str, tuple[str, ...]] = {
    "format": ("png", "jpg", "webp"), "channels": ("rgba", "alpha"), "size": tuple(MEGAPIXELS),
}
MEDIA_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}
T = TypeVar("T")
_BARE_HEX = re.compile(r"[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8}")


class FlagError(ValueError):
    """A flag has a value the vendor does not accept (the message names the flag)."""


class ImageTooLarge(ValueError):
    """The input has more pixels than the vendor will decode."""


class EraseFlags(msgspec.Struct, frozen=True):
    """The normalised output flags of one /v2 call."""

    format: str = "png"
    channels: str = "rgba"
    size: str = "full"
    crop: bool = False
    bg_color: tuple[int, int, int, int] | None = None
    despill: bool = False


class Rendered(msgspec.Struct, frozen=True):
    """An encoded output image."""

    data: bytes
    format: str
    width: int
    height: int


def _bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise FlagError(f"{name} must be a boolean (true/false/1/0/yes/no)")


def _choice(name: str, value: object) -> str:
    allowed = CHOICES[name]
    text = str(value).strip().lower()
    text = "jpg" if name == "format" and text == "jpeg" else text
    if text not in allowed:
        raise FlagError(f"{name} must be one of {', '.join(allowed)}")
    return text


def _color(value: object) -> tuple[int, int, int, int] | None:
    text = str(value).strip() if value is not None else ""
    if not text or text.lower() in ("null", "none"):
        return None
    if _BARE_HEX.fullmatch(text):
        text = "#" + text
    try:
        rgb = ImageColor.getrgb(text)
    except ValueError:
        raise FlagError("bg_color must be a CSS colour name or hex colour") from None
    return (rgb[0], rgb[1], rgb[2], rgb[3] if len(rgb) == 4 else 255)


def parse_flags(fields: Mapping[str, object], force_alpha: bool) -> EraseFlags:
    """Flags from lower-cased request fields (unknown fields are ignored, as the vendor does)."""
    def get(name: str, parse: Callable[[str, object], T], default: T) -> T:
        value = fields.get(name)
        return default if value is None else parse(name, value)

    return EraseFlags(
        format=get("format", _choice, "png"),
        channels="alpha" if force_alpha else get("channels", _choice, "rgba"),
        size=get("size", _choice, "full"),
        crop=get("crop", _bool, False),
        bg_color=_color(fields.get("bg_color")),
        despill=get("despill", _bool, False),
    )


def capped_size(width: int, height: int, size: str) -> tuple[int, int]:
    """Output size: long side at most 6000, then at most the size's megapixels; never upscaled."""
    scale = min(1.0, LONG_SIDE_SAFEGUARD / max(width, height))
    scale = min(scale, math.sqrt(MEGAPIXELS[size] * 1e6 / (width * height)))
    return max(1, round(width * scale)), max(1, round(height * scale))


def despill(cutout: Image.Image) -> Image.Image:
    """Remove the background's chroma from semi-transparent edges in Lab, keeping luminance."""
    import cv2

    pixels = np.asarray(cutout)
    rgb, alpha = pixels[..., :3], pixels[..., 3]
    background = rgb[alpha < 10]
    edge = (alpha > 0) & (alpha < 255)
    if not len(background) or not edge.any():
        return cutout

    def to_lab(colours: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(colours[None], cv2.COLOR_RGB2LAB)[0].astype(np.float32)

    samples = to_lab(np.ascontiguousarray(background[:: max(1, len(background) // 100_000)]))
    spill = np.median(samples[:, 1:], axis=0) - 128.0
    lab = to_lab(np.ascontiguousarray(rgb[edge]))
    weight = (1.0 - alpha[edge].astype(np.float32) / 255.0)[:, None]
    lab[:, 1:] = np.clip(lab[:, 1:] - weight * spill, 0, 255)
    cleaned = rgb.copy()
    cleaned[edge] = cv2.cvtColor(lab.astype(np.uint8)[None], cv2.COLOR_LAB2RGB)[0]
    return Image.fromarray(np.dstack([cleaned, alpha]), "RGBA")


def encode_as(image: Image.Image, output_format: str) -> bytes:
    """`image` as PNG, JPEG (quality 90) or WebP (quality 90)."""
    if output_format == "jpg":
        return encode_jpeg(image, quality=90)
    if output_format == "webp":
        buffer = io.BytesIO()
        image.save(buffer, format="WEBP", quality=90)
        return buffer.getvalue()
    return encode_png(image)


def _finish(work: Image.Image, flags: EraseFlags) -> Rendered:
    """Crop, cap the size, flatten and encode the working cutout or mask."""
    alpha = work if work.mode == "L" else work.getchannel("A")
    if flags.crop and (box := alpha.point(lambda v: 255 if v > 10 else 0).getbbox()):
        work = work.crop(box)
    target = capped_size(work.width, work.height, flags.size)
    if target != work.size:
        work = work.resize(target, Image.Resampling.LANCZOS)
    if work.mode == "L":
        return Rendered(encode_png(work), "png", work.width, work.height)
    background = flags.bg_color or ((255, 255, 255, 255) if flags.format == "jpg" else None)
    if background is not None:
        work = Image.alpha_composite(Image.new("RGBA", work.size, background), work)
        if background[3] == 255 or flags.format == "jpg":
            work = work.convert("RGB")
    return Rendered(encode_as(work, flags.format), flags.format, work.width, work.height)


def render(data: bytes, flags: EraseFlags, instant: bool) -> Rendered:
    """Run the model and every flag on `data` (CPU work: call from a worker thread)."""
    width, height = header_size(data)
    if width * height > MAX_INPUT_PIXELS:
        raise ImageTooLarge(f"image has {width * height} pixels, more than {MAX_INPUT_PIXELS}")
    if instant:
        return instant_output(width, height, flags.channels, flags.format)
    rgb = decode_rgb(data)
    matte = engine_matte(rgb, 1024)
    if flags.channels == "alpha":
        return _finish(matte, flags)
    rgb.putalpha(matte)
    flattened = flags.bg_color is not None or flags.format == "jpg"
    if flags.despill and not flattened and rgb.width * rgb.height <= DESPILL_MAX_PIXELS:
        rgb = despill(rgb)
    return _finish(rgb, flags)


@functools.lru_cache(maxsize=16)
def instant_output(width: int, height: int, channels: str, output_format: str) -> Rendered:
    """Instant mode: a cached synthetic mask or grey cutout; size/crop/bg/despill are ignored."""
    matte = synthetic_matte(width, height)
    if channels == "alpha":
        return Rendered(encode_png(matte), "png", width, height)
    cutout = Image.new("RGB", (width, height), (128, 128, 128))
    cutout.putalpha(matte)
    work = cutout.convert("RGB") if output_format == "jpg" else cutout
    return Rendered(encode_as(work, output_format), output_format, width, height)
