"""inspect_image and normalize_trimap: limits, sniffing, bombs, decodability, orientation."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from PIL import Image

from gateway.errors import (
    ImageTooLarge,
    InvalidImage,
    PayloadTooLarge,
    TrimapMismatch,
    UnsupportedMediaType,
)
from gateway.postprocess import inspect_image, normalize_trimap
from tests.imaging import decode, encode
from tests.postprocess.pp_images import (
    HEIGHT,
    WIDTH,
    exif_jpeg,
    original_png,
    original_rgb,
    png_header_only,
)

MB = 1 << 20
MAX_PIXELS = 50_000_000


def test_empty_image_is_invalid() -> None:
    with pytest.raises(InvalidImage):
        inspect_image(b"", 10 * MB, MAX_PIXELS)


def test_over_max_bytes_is_413() -> None:
    data = original_png()
    with pytest.raises(PayloadTooLarge) as info:
        inspect_image(data, len(data) - 1, MAX_PIXELS)
    assert info.value.status == 413


def test_text_file_is_415_and_lists_formats() -> None:
    with pytest.raises(UnsupportedMediaType) as info:
        inspect_image(b"hello, this is not an image\n" * 4, 10 * MB, MAX_PIXELS)
    assert info.value.status == 415
    for name in ("JPEG", "PNG", "WebP", "TIFF", "BMP", "GIF"):
        assert name in info.value.detail


def test_truncated_jpeg_is_invalid() -> None:
    rng = np.random.default_rng(1)
    noisy = rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noisy), "JPEG", quality=90)
    with pytest.raises(InvalidImage) as info:
        inspect_image(data[: len(data) * 2 // 3], 10 * MB, MAX_PIXELS)
    assert info.value.status == 422


def test_png_header_claiming_60000_squared_is_caught_from_the_header() -> None:
    bomb = png_header_only(60000, 60000)
    assert ihdr_is_valid(bomb)
    with pytest.raises(ImageTooLarge) as info:
        inspect_image(bomb, 10 * MB, MAX_PIXELS)
    assert info.value.status == 422


def test_header_just_over_the_configured_limit_is_too_large() -> None:
    # 8000 x 8000 is under Pillow's own bomb limit: only our check can refuse it, and it must
    # do so from the header (there is no pixel data to decode at all).
    with pytest.raises(ImageTooLarge):
        inspect_image(png_header_only(8000, 8000), 10 * MB, 60_000_000)


def test_header_within_limit_without_pixel_data_is_invalid() -> None:
    with pytest.raises(InvalidImage):
        inspect_image(png_header_only(100, 100), 10 * MB, MAX_PIXELS)


def ihdr_is_valid(data: bytes) -> bool:
    """The IHDR chunk's CRC matches its type and body (so decoders trust the header)."""
    length = int.from_bytes(data[8:12], "big")
    body_end = 16 + length
    crc = int.from_bytes(data[body_end:body_end + 4], "big")
    return length == 13 and zlib.crc32(data[12:body_end]) == crc


def _palette_png() -> bytes:
    image = Image.fromarray(original_rgb()).convert("P", palette=Image.Palette.ADAPTIVE)
    return encode(image, "PNG")


def _png16() -> bytes:
    ramp = np.tile(np.linspace(0, 65535, WIDTH, dtype=np.uint16), (HEIGHT, 1))
    return encode(Image.fromarray(ramp), "PNG")


def _cmyk_jpeg() -> bytes:
    return encode(Image.fromarray(original_rgb()).convert("CMYK"), "JPEG", quality=95)


def _gif() -> bytes:
    first = Image.fromarray(original_rgb()).convert("P", palette=Image.Palette.ADAPTIVE)
    second = Image.new("P", (WIDTH, HEIGHT), 0)
    return encode(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)


ACCEPTED = {
    "tiff": lambda: encode(Image.fromarray(original_rgb()), "TIFF"),
    "bmp": lambda: encode(Image.fromarray(original_rgb()), "BMP"),
    "gif": _gif,
    "webp": lambda: encode(Image.fromarray(original_rgb()), "WEBP", quality=90),
    "png16": _png16,
    "cmyk": _cmyk_jpeg,
    "palette": _palette_png,
    "jpeg": lambda: encode(Image.fromarray(original_rgb()), "JPEG"),
}
SNIFFED = {"png16": "png", "cmyk": "jpeg", "palette": "png"}


@pytest.mark.parametrize("kind", sorted(ACCEPTED))
def test_accepted_formats(kind: str) -> None:
    info = inspect_image(ACCEPTED[kind](), 10 * MB, MAX_PIXELS)
    assert (info.format, info.width, info.height) == (SNIFFED.get(kind, kind), WIDTH, HEIGHT)


@pytest.mark.parametrize(("orientation", "swapped"), [(1, False), (3, False), (6, True), (8, True)])
def test_exif_orientation_reports_displayed_size(orientation: int, swapped: bool) -> None:
    data = exif_jpeg(original_rgb(), orientation)
    info = inspect_image(data, 10 * MB, MAX_PIXELS)
    expected = (HEIGHT, WIDTH) if swapped else (WIDTH, HEIGHT)
    assert (info.width, info.height) == expected


def test_trimap_is_normalised_to_an_l_png() -> None:
    trimap = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    trimap[30:90, 40:120] = 128
    trimap[50:70, 60:100] = 255
    out = decode(normalize_trimap(encode(Image.fromarray(trimap), "BMP"), WIDTH, HEIGHT, MB))
    assert out.format == "PNG" and out.mode == "L" and out.size == (WIDTH, HEIGHT)
    values = np.asarray(out)
    assert values[0, 0] == 0 and values[40, 50] == 128 and values[60, 80] == 255


def test_sixteen_bit_trimap_is_scaled_not_clipped() -> None:
    trimap = np.full((HEIGHT, WIDTH), 32896, np.uint16)  # 128 * 257: "unknown"
    trimap[:10] = 65535
    out = np.asarray(decode(normalize_trimap(encode(Image.fromarray(trimap), "PNG"),
                                             WIDTH, HEIGHT, MB)))
    assert out[50, 50] == 128 and out[0, 0] == 255


@pytest.mark.parametrize(
    "size", [(WIDTH + 1, HEIGHT), (WIDTH, HEIGHT - 1), (2 * WIDTH, 2 * HEIGHT)]
)
def test_trimap_of_wrong_size_is_a_mismatch(size: tuple[int, int]) -> None:
    data = encode(Image.new("L", size, 128), "PNG")
    with pytest.raises(TrimapMismatch) as info:
        normalize_trimap(data, WIDTH, HEIGHT, MB)
    assert info.value.status == 422


@pytest.mark.parametrize("data", [b"", b"not an image", png_header_only(WIDTH, HEIGHT)])
def test_undecodable_trimap_is_a_mismatch(data: bytes) -> None:
    with pytest.raises(TrimapMismatch):
        normalize_trimap(data, WIDTH, HEIGHT, MB)


def test_trimap_over_max_bytes_is_413() -> None:
    data = encode(Image.new("L", (WIDTH, HEIGHT), 128), "PNG")
    with pytest.raises(PayloadTooLarge):
        normalize_trimap(data, WIDTH, HEIGHT, len(data) - 1)
