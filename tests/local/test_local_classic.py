"""The classic engine on synthetic product photos (acceptance: IoU >= 0.95 on studio backdrops)."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from providers.local.classic import ClassicEngine, fit_border
from tests.synthetic import GENERATORS, iou

SEEDS = range(5)


def _matte(image: Image.Image) -> np.ndarray:
    return ClassicEngine(work_long_side=1024).matte(np.asarray(image))


def _fit(image: Image.Image):
    rgb = np.asarray(image)
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    return fit_border(lab, rgb.astype(np.float32))


@pytest.mark.parametrize("backdrop", ["plain", "gradient"])
@pytest.mark.parametrize("seed", SEEDS)
def test_product_on_studio_backdrop_reaches_iou(backdrop: str, seed: int) -> None:
    image, alpha = GENERATORS[backdrop](seed, 384)
    matte = _matte(image)
    assert matte.shape == alpha.shape and matte.dtype == np.uint8
    assert iou(matte, alpha) >= 0.95


@pytest.mark.parametrize("backdrop", ["plain", "gradient", "colour"])
def test_jpeg_artifacts_do_not_break_keying(backdrop: str) -> None:
    image, alpha = GENERATORS[backdrop](7, 320)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    assert iou(_matte(Image.open(buffer).convert("RGB")), alpha) >= 0.95


def test_matte_has_soft_edges_and_hard_interior() -> None:
    image, alpha = GENERATORS["plain"](3, 384)
    matte = _matte(image)
    partial = (alpha > 0.1) & (alpha < 0.9)
    kernel = np.ones((5, 5), np.uint8)
    inside = cv2.erode((alpha == 1.0).astype(np.uint8), kernel).astype(bool)
    outside = cv2.erode((alpha == 0.0).astype(np.uint8), kernel).astype(bool)
    assert np.all(matte[inside] == 255)
    assert np.all(matte[outside] < 25)
    # Anti-aliased truth pixels get intermediate values, not a binary cut.
    assert np.mean((matte[partial] > 10) & (matte[partial] < 245)) > 0.5
    assert np.abs(matte[partial] / 255.0 - alpha[partial]).mean() < 0.2


def test_backdrop_coloured_label_inside_product_stays_foreground() -> None:
    # The generators put a near-white label on every product: on a near-white backdrop only
    # the edge-connected rule keeps it.
    image, alpha = GENERATORS["plain"](0, 384)
    rgb = np.asarray(image).astype(int)
    matte = _matte(image)
    label = (alpha == 1.0) & (rgb.min(axis=-1) > 235)
    assert label.sum() > 500
    assert np.all(matte[label] == 255)


@pytest.mark.parametrize("backdrop", ["plain", "gradient", "colour"])
def test_studio_borders_count_as_backdrop(backdrop: str) -> None:
    image, _ = GENERATORS[backdrop](2, 256)
    assert _fit(image).is_backdrop


def test_gradient_model_follows_the_border() -> None:
    image, alpha = GENERATORS["gradient"](4, 256)
    fit = _fit(image)
    rgb = np.asarray(image).astype(np.float32)
    background = alpha == 0
    # Within noise of the true backdrop away from the product, though only fitted on the border.
    assert np.median(np.abs(fit.rgb[background] - rgb[background])) < 6


@pytest.mark.parametrize("backdrop", ["clutter", "tabletop"])
def test_busy_or_two_tone_borders_fall_back_to_grabcut(backdrop: str) -> None:
    image, _ = GENERATORS[backdrop](1, 256)
    assert not _fit(image).is_backdrop


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_grabcut_path_separates_product_on_a_table(seed: int) -> None:
    image, alpha = GENERATORS["tabletop"](seed, 320)
    assert iou(_matte(image), alpha) >= 0.9


def test_cluttered_scene_still_gives_a_matte_of_the_right_shape() -> None:
    image, alpha = GENERATORS["clutter"](3, 256)
    matte = _matte(image)
    assert matte.shape == alpha.shape
    # The frame corners are background, the product's centre is foreground.
    assert matte[0, 0] == matte[0, -1] == matte[-1, 0] == matte[-1, -1] == 0
    ys, xs = np.nonzero(alpha == 1.0)
    assert matte[int(np.median(ys)), int(np.median(xs))] > 128


def test_large_input_is_worked_at_long_side_and_returned_full_size() -> None:
    image, alpha = GENERATORS["plain"](5, 640)
    matte = ClassicEngine(work_long_side=256).matte(np.asarray(image))
    assert matte.shape == alpha.shape
    assert iou(matte, alpha) >= 0.95


def test_blank_image_has_no_foreground() -> None:
    blank = np.full((120, 160, 3), 240, np.uint8)
    assert ClassicEngine().matte(blank).max() == 0


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (1, 100), (9, 300), (24, 24)])
def test_tiny_and_noisy_inputs_give_a_matte_of_their_size(shape: tuple[int, int]) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (*shape, 3)).astype(np.uint8)
    assert ClassicEngine().matte(noise).shape == shape
