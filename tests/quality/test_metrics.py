"""Known-answer tests of the matte quality metrics in gateway.quality."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from gateway import quality


def _square(size: int = 64, top: int = 16, left: int = 16, side: int = 32) -> np.ndarray:
    alpha = np.zeros((size, size), dtype=np.float32)
    alpha[top : top + side, left : left + side] = 1.0
    return alpha


def _soft_blob(size: int = 96) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    distance = np.hypot(yy - size / 2, xx - size / 2)
    return np.clip((size / 3 - distance) / 6.0, 0.0, 1.0)


def test_identical_mattes_have_zero_error() -> None:
    alpha = _soft_blob()
    scores = quality.score(alpha, alpha.copy())
    assert scores.sad == 0.0
    assert scores.mse == 0.0
    assert scores.mad == 0.0
    assert scores.gradient == 0.0
    assert scores.connectivity == 0.0
    assert scores.iou == 1.0


def test_one_pixel_shift_of_hard_square_has_hand_computed_sad() -> None:
    true = _square(side=32)
    pred = np.roll(true, 1, axis=1)
    # one 32-pixel column appears on the right and one vanishes on the left: 64 pixels off by 1.
    assert quality.sad(pred, true) == pytest.approx(64 / 1000)
    assert quality.mse(pred, true) == pytest.approx(64 / (64 * 64))
    assert quality.mad(pred, true) == pytest.approx(64 / (64 * 64))
    assert quality.iou(pred, true) == pytest.approx(31 * 32 / (33 * 32))


def test_uint8_and_float_mattes_score_the_same() -> None:
    true = _soft_blob()
    pred = np.clip(true * 0.8, 0.0, 1.0)
    def to_uint8(alpha: np.ndarray) -> np.ndarray:
        return (alpha * 255).round().astype(np.uint8)

    as_uint8 = quality.sad(to_uint8(pred), to_uint8(true))
    as_float = quality.sad(pred, true)
    assert as_uint8 == pytest.approx(as_float, abs=0.01)


def test_mask_restricts_the_scored_pixels() -> None:
    true = _square()
    pred = np.roll(true, 1, axis=1)
    left_half = np.zeros(true.shape, dtype=bool)
    left_half[:, :32] = True
    assert quality.sad(pred, true, left_half) == pytest.approx(32 / 1000)
    assert quality.sad(pred, true, np.zeros(true.shape, dtype=bool)) == 0.0


def test_unknown_region_of_trimap() -> None:
    trimap = np.array([[0, 128, 255, 1, 254]], dtype=np.uint8)
    assert quality.unknown_region(trimap).tolist() == [[False, True, False, True, True]]


def test_iou_of_disjoint_is_zero_and_of_identical_is_one() -> None:
    left = _square(left=0, side=16)
    right = _square(left=40, side=16)
    assert quality.iou(left, right) == 0.0
    assert quality.iou(left, left) == 1.0
    empty = np.zeros((8, 8), dtype=np.float32)
    assert quality.iou(empty, empty) == 1.0


def test_gradient_error_grows_for_a_blurred_copy() -> None:
    true = _square()
    blurred = cv2.GaussianBlur(true, (0, 0), 2.0)
    assert quality.gradient_error(true, true) == 0.0
    slightly = quality.gradient_error(cv2.GaussianBlur(true, (0, 0), 0.7), true)
    strongly = quality.gradient_error(blurred, true)
    assert 0.0 < slightly < strongly


def test_connectivity_error_is_zero_for_identical_and_positive_for_detached_islands() -> None:
    true = _soft_blob()
    assert quality.connectivity_error(true, true) == 0.0
    pred = true.copy()
    pred[2:10, 2:10] = 0.9  # a detached opaque island is the defect connectivity measures
    assert quality.connectivity_error(pred, true) > 0.0
    # the island costs phi of about 0.9 per pixel (64 pixels) -> about 0.0576 after /1000.
    assert quality.connectivity_error(pred, true) == pytest.approx(64 * 0.9 / 1000, rel=0.05)


def test_partial_share_counts_only_fractional_pixels() -> None:
    alpha = np.array([[0.0, 0.5, 1.0, 0.25]], dtype=np.float32)
    assert quality.partial_share(alpha) == pytest.approx(0.5)
    assert quality.partial_share(np.array([[0, 255, 1]], dtype=np.uint8)) == pytest.approx(1 / 3)


def test_foreground_error_ignores_pixels_with_zero_true_alpha() -> None:
    true_alpha = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    true_rgb = np.full((1, 3, 3), 100, dtype=np.uint8)
    pred_rgb = true_rgb.copy()
    pred_rgb[0, 0] = 255  # transparent pixel: colour does not matter
    assert quality.foreground_error(pred_rgb, true_rgb, true_alpha) == 0.0
    pred_rgb[0, 1] = (130, 100, 70)
    assert quality.foreground_error(pred_rgb, true_rgb, true_alpha) == pytest.approx(60 / 6)


def test_shape_mismatch_is_rejected() -> None:
    with pytest.raises(ValueError, match="shapes differ"):
        quality.sad(np.zeros((4, 4)), np.zeros((4, 5)))
