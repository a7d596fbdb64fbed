"""Guarded decoding shared by validation and the pipeline: size checks before pixels are read."""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps

from gateway.errors import GatewayError, ImageTooLarge, InvalidImage

#: Pillow plugin names for the formats `providers.images.sniff_format` returns.
PIL_FORMATS: dict[str, str] = {
    "jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "tiff": "TIFF", "bmp": "BMP", "gif": "GIF",
}
_SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})
_EXIF_ORIENTATION_TAG = 0x0112

# Our own header check against max_pixels is the real limit; Pillow's global bomb warning
# would only repeat it (and the error above 2x is still mapped to ImageTooLarge below).
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def open_header(data: bytes, image_format: str, max_pixels: int) -> Image.Image:
    """Open `data` lazily (header only) as `image_format` and reject it if over `max_pixels`."""
    # Pillow's own bomb limit is global; raise it (never lower it) so it cannot refuse
    # images our configured limit accepts.
    if Image.MAX_IMAGE_PIXELS is not None and max_pixels > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        image = Image.open(io.BytesIO(data), formats=[PIL_FORMATS[image_format]])
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"the image is over the limit of {max_pixels} pixels") from exc
    except Exception as exc:  # Pillow's plugins raise many types on corrupt headers
        raise InvalidImage("the image cannot be decoded") from exc
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise ImageTooLarge(
            f"the image is {width}x{height} pixels; the limit is {max_pixels} pixels"
        )
    return image


def orientation(image: Image.Image) -> int:
    """EXIF orientation (1-8) read without decoding pixels; 1 when absent."""
    if image.format == "PNG":
        # PngImageFile.getexif() decodes the whole image when eXIf is not in the header.
        raw = image.info.get("exif")
        if not raw:
            return 1
        exif = Image.Exif()
        exif.load(raw)
    else:
        exif = image.getexif()
    value = exif.get(_EXIF_ORIENTATION_TAG, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def oriented_size(image: Image.Image) -> tuple[int, int]:
    """Width and height as displayed, i.e. after the EXIF orientation is applied."""
    width, height = image.size
    if orientation(image) in _SWAPPING_ORIENTATIONS:
        return height, width
    return width, height


def load_oriented(image: Image.Image) -> Image.Image:
    """Decode the first frame and apply the EXIF orientation; decoding failures -> InvalidImage."""
    try:
        image.seek(0)
        image.load()
        ImageOps.exif_transpose(image, in_place=True)
        return image
    except GatewayError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge("the image is over the pixel limit") from exc
    except Exception as exc:  # truncated or corrupt data surfaces as many exception types
        raise InvalidImage("the image cannot be decoded") from exc


def _wide_to_uint8(image: Image.Image) -> np.ndarray:
    """16/32-bit integer or float single-band image -> HxW uint8 (scaled, not clipped)."""
    values = np.asarray(image)
    if image.mode == "F":
        top = 1.0 if float(values.max(initial=0.0)) <= 1.0 else 255.0
        return np.clip(values * (255.0 / top), 0, 255).astype(np.uint8)
    if image.mode.startswith("I;16") or int(values.max(initial=0)) > 255:
        return np.clip(values.astype(np.int64) >> 8, 0, 255).astype(np.uint8)
    return np.clip(values, 0, 255).astype(np.uint8)


def to_rgb_array(image: Image.Image) -> np.ndarray:
    """Any decoded mode (palette, CMYK, 16-bit, LA, I;16, ...) -> writable HxWx3 uint8."""
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        gray = _wide_to_uint8(image)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if image.mode != "RGB":
        if image.mode == "P":
            image = image.convert("RGBA")
        image = image.convert("RGB")
    return np.array(image)


def to_gray_array(image: Image.Image) -> np.ndarray:
    """Any decoded mode -> writable HxW uint8 luminance (alpha ignored)."""
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        return _wide_to_uint8(image)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode != "L":
        image = image.convert("L")
    return np.array(image)


def alpha_array(image: Image.Image) -> np.ndarray | None:
    """The alpha band as writable HxW uint8, or None when the image has no transparency."""
    if image.mode in ("P", "PA") or (image.mode in ("L", "RGB") and "transparency" in image.info):
        image = image.convert("RGBA")
    if "A" not in image.getbands():
        return None
    return np.array(image.getchannel("A"))
