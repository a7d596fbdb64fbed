"""The subject's box in an answer (`X-Foreground-Top/Left/Width/Height`)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from gateway.postprocess.steps import crop_box
from gateway.postprocess.zipfmt import ZIP_MEDIA_TYPE, zip_alpha

#: (top, left, width, height) in pixels of the output.
Box = tuple[int, int, int, int]


def subject_box(alpha: np.ndarray) -> Box:
    """The box of alpha > 10, or (0, 0, 0, 0) when nothing is."""
    found = crop_box(np.ascontiguousarray(alpha), None)
    if found is None:
        return 0, 0, 0, 0
    x0, y0, x1, y1 = found
    return y0, x0, x1 - x0, y1 - y0


def foreground_of(data: bytes, media_type: str, matte_only: bool) -> Box:
    """The subject's box in an encoded answer (decodes it: run in a worker thread).

    Used for answers the pipeline did not make (pass-through, cache): without alpha (JPEG, or a
    solid background) the whole image is the box.
    """
    if media_type == ZIP_MEDIA_TYPE:
        return subject_box(zip_alpha(data))
    with Image.open(io.BytesIO(data)) as image:
        if matte_only and image.mode in ("L", "LA", "1", "I", "RGB"):
            return subject_box(np.asarray(image.convert("L")))
        if "A" not in image.getbands():
            return 0, 0, image.width, image.height
        return subject_box(np.asarray(image.getchannel("A")))
