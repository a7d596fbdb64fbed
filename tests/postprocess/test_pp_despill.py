"""Despill: blur-fusion foreground estimation recovers the foreground colour in the edge band."""

from __future__ import annotations

import numpy as np

from gateway.postprocess.despill import despill
from gateway.postprocess.frame import Frame
from tests.postprocess.pp_images import alpha8, composite_rgb, soft_disc

SIZE = 192


def _scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A textured foreground over saturated green with a wide fractional-alpha edge."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    foreground = np.stack([
        200 + 40 * np.sin(xx / 9), 90 + 50 * np.cos(yy / 13), 60 + 30 * np.sin((xx + yy) / 17),
    ], axis=2)
    background = np.zeros_like(foreground)
    background[:, :, 1] = 255.0
    alpha = soft_disc(SIZE, SIZE, radius=55, edge=30)
    return composite_rgb(alpha, foreground, background), alpha8(alpha), foreground


def _band_error(rgb: np.ndarray, alpha: np.ndarray, foreground: np.ndarray) -> float:
    band = (alpha > 0) & (alpha < 255)
    return float(np.abs(rgb[band].astype(float) - foreground[band]).mean())


def test_despill_recovers_the_foreground_colour_in_the_band() -> None:
    rgb, alpha, foreground = _scene()
    before = _band_error(rgb, alpha, foreground)
    frame = despill(Frame(rgb=rgb.copy(), alpha=alpha.copy()))
    after = _band_error(frame.rgb, alpha, foreground)
    assert before > 40
    assert after < 0.35 * before
    band = (alpha > 0) & (alpha < 255)
    true_green = foreground[band][:, 1].mean()
    spill_before = rgb[band][:, 1].astype(float).mean() - true_green
    spill_after = frame.rgb[band][:, 1].astype(float).mean() - true_green
    assert spill_after < 0.4 * spill_before


def test_despill_leaves_opaque_and_transparent_pixels_alone() -> None:
    rgb, alpha, _ = _scene()
    frame = despill(Frame(rgb=rgb.copy(), alpha=alpha.copy()))
    fixed = (alpha == 0) | (alpha == 255)
    assert (frame.rgb[fixed] == rgb[fixed]).all()
    assert (frame.alpha == alpha).all()


def test_tiled_despill_equals_the_whole_image_result() -> None:
    rgb, alpha, _ = _scene()
    whole = despill(Frame(rgb=rgb.copy(), alpha=alpha.copy()), tile=4096)
    tiled = despill(Frame(rgb=rgb.copy(), alpha=alpha.copy()), tile=40)
    assert int(np.abs(whole.rgb.astype(int) - tiled.rgb).max()) <= 1


def test_despill_without_a_band_is_a_no_op() -> None:
    rgb = np.full((32, 32, 3), 77, np.uint8)
    alpha = np.zeros((32, 32), np.uint8)
    alpha[8:24, 8:24] = 255
    frame = despill(Frame(rgb=rgb.copy(), alpha=alpha))
    assert (frame.rgb == rgb).all()
