"""`bg_image`: the background covers the output (aspect kept, centred) under the subject."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from gateway.errors import InvalidOption
from gateway.postprocess.compose import check_background, compose, cover, load_background
from tests.postprocess.geometry import SUBJECT_RGB, box_frame


def halves(width: int, height: int) -> np.ndarray:
    """RGBA: left half blue, right half green, a red 2 px border (shows the crop)."""
    image = np.zeros((height, width, 4), np.uint8)
    image[..., 3] = 255
    image[:, : width // 2, 2] = 255
    image[:, width // 2 :, 1] = 255
    red = (255, 0, 0, 255)
    image[:2], image[-2:], image[:, :2], image[:, -2:] = red, red, red, red
    return image


def test_cover_scales_to_cover_and_centres() -> None:
    # 100x100 onto 200x100: scaled 2x to 200x200, the middle 100 rows kept (no border).
    covered = cover(halves(100, 100), 200, 100)
    assert covered.shape == (100, 200, 4)
    assert tuple(covered[0, 50]) == (0, 0, 255, 255)
    assert tuple(covered[99, 150]) == (0, 255, 0, 255)
    exact = halves(200, 100)
    assert cover(exact, 200, 100) is exact


def test_subject_over_the_background() -> None:
    out = compose(box_frame(box=(20, 30, 60, 80)), halves(400, 200))
    assert (out.alpha == 255).all()
    assert tuple(out.rgb[50, 40]) == SUBJECT_RGB
    assert tuple(out.rgb[10, 150]) == (0, 255, 0)
    assert tuple(out.rgb[10, 80]) == (0, 0, 255)


def test_load_and_check() -> None:
    buffer = io.BytesIO()
    Image.fromarray(halves(30, 20)).save(buffer, format="PNG")
    assert load_background(buffer.getvalue()).shape == (20, 30, 4)
    check_background(buffer.getvalue(), 1 << 20, 1 << 20)
    with pytest.raises(InvalidOption, match="`bg_image_file`"):
        check_background(b"not an image", 1 << 20, 1 << 20, "bg_image_file")
