"""Synthetic test images for the post-processing tests (small, deterministic)."""

from __future__ import annotations

import struct
import time
import zlib

import numpy as np
from PIL import Image

from gateway.postprocess import PostprocessJob
from providers.base import OutputOptions, ProviderResult
from tests.imaging import encode

WIDTH, HEIGHT = 160, 120
SUBJECT_RGB = (220, 120, 40)
BACKGROUND_RGB = (30, 60, 200)




def soft_disc(width: int = WIDTH, height: int = HEIGHT, radius: float = 40.0,
              edge: float = 12.0) -> np.ndarray:
    """Float alpha 0..1: a disc in the centre with a linear soft edge `edge` px wide."""
    yy, xx = np.mgrid[0:height, 0:width]
    distance = np.hypot(yy - (height - 1) / 2, xx - (width - 1) / 2)
    return np.clip((radius - distance) / edge + 0.5, 0.0, 1.0)


def alpha8(alpha: np.ndarray) -> np.ndarray:
    """Float alpha -> uint8."""
    return (alpha * 255 + 0.5).astype(np.uint8)


def composite_rgb(alpha: np.ndarray, fg: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """alpha * fg + (1 - alpha) * bg as uint8 (fg/bg float 0..255, HxWx3 or 3)."""
    out = alpha[:, :, None] * fg + (1 - alpha[:, :, None]) * bg
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def original_rgb(width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """A subject colour disc over a blue background."""
    alpha = soft_disc(width, height)
    return composite_rgb(alpha, np.array(SUBJECT_RGB, float), np.array(BACKGROUND_RGB, float))


def original_png(width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """The original as PNG bytes."""
    return encode(Image.fromarray(original_rgb(width, height)), "PNG")


def mask_png(width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """The matching L mask (what a `mask` provider answers) at any resolution."""
    return encode(Image.fromarray(alpha8(soft_disc(width, height, 40 * width / WIDTH,
                                                   12 * width / WIDTH))), "PNG")


def mask_result(data: bytes | None = None, final: bool = False) -> ProviderResult:
    """A mask ProviderResult."""
    return ProviderResult(data=data or mask_png(), media_type="image/png", kind="mask",
                          provider="fake", final=final)


def job(options: OutputOptions | None = None, emulate: frozenset[str] | None = None,
        trimap: bytes | None = None, deadline_s: float = 60.0) -> PostprocessJob:
    """A job; `emulate` defaults to every requested option."""
    options = options or OutputOptions()
    if emulate is None:
        emulate = options.requested() | ({"trimap"} if trimap else set())
    return PostprocessJob(options=options, emulate=frozenset(emulate), max_pixels=50_000_000,
                          deadline=time.monotonic() + deadline_s, trimap=trimap)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG with only a hand-made IHDR (valid CRC) claiming `width` x `height`, then IEND."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def exif_jpeg(rgb: np.ndarray, orientation: int) -> bytes:
    """`rgb` stored as a JPEG with an EXIF orientation tag (pixels not rotated)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(Image.fromarray(rgb), "JPEG", quality=95, exif=exif.tobytes())
