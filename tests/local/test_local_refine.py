"""Edge refinement: only the soft band changes, strips join without seams, and edges improve."""

from __future__ import annotations

import cv2
import numpy as np

from providers.local.raster import upscale_matte
from providers.local.refine import edge_band, guided_filter, refine_matte, refine_radius
from tests.synthetic import on_colour, on_plain


def _degraded(alpha: np.ndarray, side: int) -> np.ndarray:
    """Truth shrunk to `side` px, blurred one pixel, quantised, and bicubically upscaled back."""
    height, width = alpha.shape
    scale = side / max(height, width)
    small = cv2.resize(alpha, (round(width * scale), round(height * scale)),
                       interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), 1.0)
    return upscale_matte(np.clip(small * 255 + 0.5, 0, 255).astype(np.uint8), width, height)


def test_guided_filter_keeps_a_constant_and_follows_a_colour_edge() -> None:
    guide = np.zeros((40, 40, 3), np.float32)
    guide[:, 20:] = 1.0
    flat = guided_filter(guide, np.full((40, 40), 0.3, np.float32), 4)
    assert np.allclose(flat, 0.3, atol=1e-4)
    blurry = np.clip((np.arange(40, dtype=np.float32) - 14) / 12, 0, 1)[None].repeat(40, 0)
    sharp = guided_filter(guide, blurry, 4, eps=1e-4)
    # The soft ramp (1/12 per column) steepens where the guide steps, at column 20.
    assert sharp[20, 20] - sharp[20, 19] > 3 * (blurry[20, 20] - blurry[20, 19])
    assert sharp[20, 16] < blurry[20, 16] and sharp[20, 23] > blurry[20, 23]


def test_refinement_beats_bicubic_in_the_edge_band() -> None:
    image, alpha = on_colour(5, 768)
    rgb = np.asarray(image)
    coarse = _degraded(alpha, 160)
    refined = refine_matte(rgb, coarse, 160)
    truth = alpha * 255
    # Over the whole image: alpha leaked away from the true edge counts against refinement.
    sad_bicubic = np.abs(coarse.astype(np.float32) - truth).sum()
    sad_refined = np.abs(refined.astype(np.float32) - truth).sum()
    assert sad_refined < 0.85 * sad_bicubic
    # Only the soft band moved.
    band = edge_band(coarse, round(768 / 160 / 4))
    assert np.array_equal(refined[~band], coarse[~band])
    assert refine_radius(768, 160) == 14


def test_tiles_join_without_seams() -> None:
    image, alpha = on_plain(2, 768)  # 3 x 3 tiles of 256 px
    rgb = np.asarray(image)
    coarse = _degraded(alpha, 128)
    tiled = refine_matte(rgb, coarse, 128)
    # The same filter over the whole image at once, replacing the same band.
    radius = refine_radius(768, 128)
    whole = guided_filter(rgb.astype(np.float32) / 255, coarse.astype(np.float32) / 255, radius)
    band = edge_band(coarse, round(768 / 128 / 4))
    expected = np.where(band, np.clip(whole * 255 + 0.5, 0, 255).astype(np.uint8), coarse)
    assert np.abs(tiled.astype(int) - expected).max() <= 1
    assert not np.array_equal(tiled, coarse)


def test_nothing_to_do_at_or_below_the_model_side() -> None:
    image, alpha = on_plain(1, 256)
    matte = (alpha * 255).astype(np.uint8)
    assert refine_matte(np.asarray(image), matte, 320) is matte
    hard = np.zeros((600, 600), np.uint8)
    hard[100:500, 100:500] = 255
    assert np.array_equal(refine_matte(np.zeros((600, 600, 3), np.uint8), hard, 320), hard)
