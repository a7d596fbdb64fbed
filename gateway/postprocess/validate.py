"""Input checks run before routing: a header probe of the image, trimap normalisation.

The probe reads the header only (format, size, EXIF orientation, pixel limit) and checks that
the file is whole (JPEG end marker, PNG `IEND`, WebP RIFF size, GIF trailer, BMP file size):
about 30 us for a photo, with no pixel decoded. Only a file the structure check cannot vouch
for (TIFF, a JPEG with data after its end marker, ...) is decoded once to prove it decodes
(`check_decodes`, run in a worker thread).
"""

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
    orientation,
    to_gray_array,
)
from providers.images import encode_png, sniff_format

ACCEPTED_FORMATS = "JPEG, PNG, WebP, TIFF, BMP, GIF"
# JPEG decodes with DCT scaling at 1/8 of the size, as grayscale (colour JPEGs skip the chroma
# IDCT and colour conversion): the whole entropy-coded stream is still read (so truncation and
# broken data are caught) for a fraction of the work and memory.
_JPEG_DRAFT_SCALE = 8
_SWAPPING = frozenset({5, 6, 7, 8})
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_PADDING = b"\x00\r\n\t "


class ImageInfo(msgspec.Struct, frozen=True):
    """What the probe learnt about an input image: format, displayed size, EXIF orientation."""

    format: str
    width: int
    """Width as displayed (after the EXIF orientation)."""
    height: int
    orientation: int = 1
    """EXIF orientation (1-8) of the stored pixels; 1 = upright."""

    @property
    def pixels(self) -> int:
        """Width times height."""
        return self.width * self.height


def _check_bytes(data: bytes, max_bytes: int, what: str) -> None:
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"the {what} is {len(data)} bytes; the limit is {max_bytes} bytes")


def looks_whole(data: bytes, image_format: str) -> bool:
    """True when the file's structure shows it is complete (no pixel is decoded)."""
    if image_format == "jpeg":
        return data.find(b"\xff\xda", 2) > 0 and data.rstrip(_PADDING).endswith(b"\xff\xd9")
    if image_format == "png":
        return data.endswith(_PNG_END) and data.find(b"IDAT", 33) > 0
    if image_format == "webp":
        return len(data) > 20 and int.from_bytes(data[4:8], "little") + 8 in (len(data),
                                                                              len(data) - 1)
    if image_format == "gif":
        return data.rstrip(_PADDING).endswith(b";")
    if image_format == "bmp":
        return int.from_bytes(data[2:6], "little") == len(data)
    return False


def probe_image(data: bytes, max_bytes: int, max_pixels: int) -> tuple[ImageInfo, bool]:
    """Validate bytes, format and pixels from the header; (info, whole) where `whole` says the
    structure check vouches for the file (else `check_decodes` must)."""
    if not data:
        raise InvalidImage("the image is empty")
    _check_bytes(data, max_bytes, "image")
    image_format = sniff_format(data)
    if image_format is None:
        raise UnsupportedMediaType(f"the image is not in an accepted format: {ACCEPTED_FORMATS}")
    with open_header(data, image_format, max_pixels) as image:
        width, height = image.size
        turn = orientation(image)
    if turn in _SWAPPING:
        width, height = height, width
    return ImageInfo(image_format, width, height, turn), looks_whole(data, image_format)


def check_decodes(data: bytes, info: ImageInfo, max_pixels: int) -> None:
    """Decode the image once (a JPEG at 1/8 scale, grey) to prove it decodes (blocking)."""
    with open_header(data, info.format, max_pixels) as image:
        if info.format == "jpeg":
            image.draft("L", (
                max(1, image.width // _JPEG_DRAFT_SCALE), max(1, image.height // _JPEG_DRAFT_SCALE),
            ))
        load_oriented(image)


def inspect_image(data: bytes, max_bytes: int, max_pixels: int) -> ImageInfo:
    """Probe, then decode only when the structure check cannot vouch for the file (blocking)."""
    info, whole = probe_image(data, max_bytes, max_pixels)
    if not whole:
        check_decodes(data, info, max_pixels)
    return info


def normalize_trimap(data: bytes, width: int, height: int, max_bytes: int) -> bytes:
    """Decode a trimap of the image's (displayed) size to an 8-bit grayscale PNG."""
    _check_bytes(data, max_bytes, "trimap")
    trimap_format = sniff_format(data) if data else None
    if trimap_format is None:
        raise TrimapMismatch(f"the trimap is not a decodable image ({ACCEPTED_FORMATS})")
    try:
        with open_header(data, trimap_format, width * height) as image:
            size = image.size[::-1] if orientation(image) in _SWAPPING else image.size
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
