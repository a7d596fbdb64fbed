"""Input checks run before routing: image limits and format, trimap normalisation."""

from __future__ import annotations

import msgspec
from PIL import Image

from gateway.errors import (
    GatewayError,
    ImageTooLarge,
    InvalidImage,
    PayloadTooLarge,
    TrimapMismatch,
    UnsupportedMediaType,
)
from gateway.postprocess._decode import (
    load_oriented,
    open_header,
    oriented_size,
    to_gray_array,
)
from providers.images import encode_png, sniff_format

ACCEPTED_FORMATS = "JPEG, PNG, WebP, TIFF, BMP, GIF"
# JPEG decodes with DCT scaling at 1/8 of the size, as grayscale (colour JPEGs skip the chroma
# IDCT and colour conversion): the whole entropy-coded stream is still read (so truncation and
# broken data are caught) for a fraction of the work and memory. The entropy decoding left is
# most of the cost (~1 ms for a 100 KB photo); OpenCV's reduced decode was only ~10% cheaper
# and lets through some corrupt streams that this one rejects.
_JPEG_DRAFT_SCALE = 8


class ImageInfo(msgspec.Struct, frozen=True):
    """What validation learnt about an input image: sniffed format and displayed size."""

    format: str
    width: int
    height: int


def _check_bytes(data: bytes, max_bytes: int, what: str) -> None:
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"the {what} is {len(data)} bytes; the limit is {max_bytes} bytes")


def inspect_image(data: bytes, max_bytes: int, max_pixels: int) -> ImageInfo:
    """Validate an uploaded image (bytes, format, pixels, decodability) and return its info."""
    if not data:
        raise InvalidImage("the image is empty")
    _check_bytes(data, max_bytes, "image")
    image_format = sniff_format(data)
    if image_format is None:
        raise UnsupportedMediaType(f"the image is not in an accepted format: {ACCEPTED_FORMATS}")
    with open_header(data, image_format, max_pixels) as image:
        width, height = oriented_size(image)
        if image_format == "jpeg":
            image.draft("L", (
                max(1, image.width // _JPEG_DRAFT_SCALE), max(1, image.height // _JPEG_DRAFT_SCALE),
            ))
        load_oriented(image)
    return ImageInfo(format=image_format, width=width, height=height)


def normalize_trimap(data: bytes, width: int, height: int, max_bytes: int) -> bytes:
    """Decode a trimap of the image's (displayed) size to an 8-bit grayscale PNG."""
    _check_bytes(data, max_bytes, "trimap")
    trimap_format = sniff_format(data) if data else None
    if trimap_format is None:
        raise TrimapMismatch(f"the trimap is not a decodable image ({ACCEPTED_FORMATS})")
    try:
        with open_header(data, trimap_format, width * height) as image:
            size = oriented_size(image)
            if size != (width, height):
                raise TrimapMismatch(
                    f"the trimap is {size[0]}x{size[1]}; the image is {width}x{height}"
                )
            gray = to_gray_array(load_oriented(image))
    except TrimapMismatch:
        raise
    except ImageTooLarge as exc:
        raise TrimapMismatch(f"the trimap is larger than the image ({width}x{height})") from exc
    except GatewayError as exc:
        raise TrimapMismatch("the trimap cannot be decoded") from exc
    return encode_png(Image.fromarray(gray), compress_level=1)
