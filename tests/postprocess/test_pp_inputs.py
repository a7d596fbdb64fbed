"""Every accepted input encoding goes through postprocess; EXIF rotation reaches the output."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from gateway.postprocess import build_steps, inspect_image, postprocess
from gateway.postprocess.orient import make_upright
from providers.base import Margin, OutputOptions
from tests.imaging import decode, encode
from tests.postprocess.pp_images import (
    HEIGHT,
    SUBJECT_RGB,
    WIDTH,
    alpha8,
    exif_jpeg,
    job,
    mask_result,
    original_rgb,
    soft_disc,
)
from tests.postprocess.test_pp_validate import ACCEPTED


@pytest.mark.parametrize("kind", sorted(ACCEPTED))
def test_every_accepted_format_is_processed(kind: str) -> None:
    out = postprocess(ACCEPTED[kind](), mask_result(), job())
    rgba = np.asarray(decode(out.data))
    assert rgba.shape == (HEIGHT, WIDTH, 4) and rgba[0, 0, 3] == 0
    if kind == "png16":  # a 0..65535 ramp must be scaled to 0..255, not clipped
        assert 100 < int(rgba[HEIGHT // 2, WIDTH // 2, 0]) < 156
        assert rgba[HEIGHT // 2, WIDTH // 2, 0] == rgba[HEIGHT // 2, WIDTH // 2, 2]
    else:  # palette / CMYK / lossy inputs: near the subject colour
        centre = rgba[HEIGHT // 2, WIDTH // 2, :3].astype(int)
        assert np.abs(centre - SUBJECT_RGB).max() <= 12


def _marked(width: int, height: int) -> np.ndarray:
    """Grey image with a red square in the stored (unrotated) top-left corner."""
    rgb = np.full((height, width, 3), 128, np.uint8)
    rgb[:20, :20] = (255, 0, 0)
    return rgb


def test_exif_rotated_jpeg_is_rotated_in_the_output() -> None:
    stored = _marked(WIDTH, HEIGHT)  # 160 x 120 stored, orientation 6 = displayed 120 x 160
    data = exif_jpeg(stored, 6)
    info = inspect_image(data, 1 << 20, 50_000_000)
    displayed_mask = encode(Image.new("L", (info.width, info.height), 255), "PNG")
    out = postprocess(data, mask_result(displayed_mask), job())
    rgba = np.asarray(decode(out.data))
    assert (out.width, out.height) == (HEIGHT, WIDTH) and rgba.shape == (WIDTH, HEIGHT, 4)
    # orientation 6: stored top-left ends up at the displayed top-right
    assert rgba[5, -5, 0] > 200 and rgba[5, -5, 1] < 60
    assert rgba[5, 5, 0] < 160


def test_rotated_original_is_sent_upright_without_its_tag() -> None:
    stored = _marked(WIDTH, HEIGHT)
    data = exif_jpeg(stored, 6)
    info = inspect_image(data, 1 << 20, 50_000_000)
    upright = make_upright(data, info, 50_000_000)
    sent = inspect_image(upright.data, 1 << 20, 50_000_000)
    assert sent.orientation == 1 and (sent.width, sent.height) == (info.width, info.height)
    assert upright.rgb.shape == (WIDTH, HEIGHT, 3)
    # orientation 6: the stored top-left corner is the displayed top-right one
    pixels = np.asarray(decode(upright.data))
    assert pixels[5, -5, 0] > 200 and pixels[5, -5, 1] < 60 and pixels[5, 5, 0] < 160
    # post-processing uses those pixels: the original is not decoded again
    out = postprocess(upright.rgb, mask_result(encode(Image.new("L", (HEIGHT, WIDTH), 255),
                                                      "PNG")), job())
    assert (out.width, out.height) == (HEIGHT, WIDTH)


def test_build_steps_is_ordered_and_skips_colour_steps_for_alpha() -> None:
    matte = alpha8(soft_disc())
    trimap = np.full_like(matte, 128)
    options = OutputOptions(format="jpg", crop=True, crop_margin=Margin(3, "px"),
                            size="medium", bg_color=(1, 2, 3, 255), despill=True)
    names = [s.name for s in build_steps(job(options), matte, trimap)]
    assert names == ["matte", "trimap", "despill", "crop", "size", "bg_color", "flatten"]
    alpha_only = OutputOptions(format="jpg", channels="alpha", despill=True, bg_color=(0, 0, 0, 0))
    names = [s.name for s in build_steps(job(alpha_only), matte, None)]
    assert names == ["matte"]


def test_original_rgb_helper_has_the_subject_in_the_centre() -> None:
    assert tuple(original_rgb()[HEIGHT // 2, WIDTH // 2]) == SUBJECT_RGB
