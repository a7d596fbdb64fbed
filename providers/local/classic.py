"""The classic engine: border keying in Lab, GrabCut fallback, soft edge refinement (no weights).

    working copy (long side <= work_long_side)
      -> fit a smooth model of the border colour (Lab and RGB) robustly (border.py); a product
         cut off by the frame is allowed as long as the rest of the border is backdrop
      -> border a backdrop?  yes: key on distance to the model (keying.py); background is what
                                  the open parts of the frame reach past thin strands; strands
                                  get alpha from their contrast against the body's
                             no:  GrabCut on a downscaled copy, border = background
      -> refine a narrow band around the body's outline: alpha = projection of each pixel on
         the line between the local background and foreground colours
"""

from __future__ import annotations

import cv2
import numpy as np

from providers.local.border import BorderFit, border_strip, fit_border
from providers.local.keying import (
    KeyedMask,
    drop_specks,
    edge_connected,
    key_distance,
    key_foreground,
    thin_alpha,
)
from providers.local.raster import downscale_rgb, upscale_matte

__all__ = [
    "BorderFit", "ClassicEngine", "KeyedMask", "border_strip", "edge_connected", "fit_border",
    "key_distance", "key_foreground",
]

#: Smallest key threshold (Delta E): below this JPEG noise and shading would leak in.
_MIN_KEY = 9.0
#: Foreground/background colours closer than this (RGB units) cannot separate alpha.
_MIN_CONTRAST = 14.0
_GRABCUT_LONG_SIDE = 400
#: Foreground narrower than long side / this (times two) is a strand, not body.
_THIN_DIVISOR = 512
_GRABCUT_ITERATIONS = 5
#: GrabCut's colour models need this many candidate foreground pixels to start.
_MIN_GRABCUT_SAMPLES = 64
#: Width (share of the longer side) of the ring GrabCut starts as "probably background".
_GRABCUT_RING = 0.15
#: GrabCut parts smaller than this share of the largest part are clutter, not product.
_MIN_PART_SHARE = 0.25


def grabcut_foreground(rgb: np.ndarray) -> np.ndarray:
    """Foreground by GrabCut on a downscaled copy, the border strip forced to background."""
    small = downscale_rgb(rgb, _GRABCUT_LONG_SIDE)
    height, width = small.shape[:2]
    mask = np.full((height, width), cv2.GC_PR_FGD, np.uint8)
    # Products sit away from the frame: a "probably background" ring seeds the background
    # model with more than the thin border, which helps most on busy scenes.
    mask[border_strip(height, width, _GRABCUT_RING)] = cv2.GC_PR_BGD
    mask[border_strip(height, width)] = cv2.GC_BGD
    if (mask == cv2.GC_PR_FGD).sum() < _MIN_GRABCUT_SAMPLES:
        return np.zeros(rgb.shape[:2], bool)  # too small to hold a product inside the border
    bgd_model = np.zeros((1, 65), np.float64)
    fgd_model = np.zeros((1, 65), np.float64)
    # GrabCut seeds its colour models from OpenCV's thread RNG: fix it, or the same image
    # gets a different matte depending on what ran before on this thread.
    cv2.setRNGSeed(0)
    cv2.grabCut(np.ascontiguousarray(small), mask, None, bgd_model, fgd_model,
                _GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    foreground = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    foreground = drop_specks(foreground, max(16, foreground.size // 500), _MIN_PART_SHARE)
    coarse = upscale_matte(foreground.astype(np.uint8) * 255, rgb.shape[1], rgb.shape[0])
    return coarse > 127


def _normalized_blur(image: np.ndarray, weight: np.ndarray,
                     sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Weighted Gaussian average of `image` over `weight` > 0, and the local weight mass."""
    w = weight.astype(np.float32)
    numerator = cv2.GaussianBlur(image * w[..., None], (0, 0), sigma)
    mass = cv2.GaussianBlur(w, (0, 0), sigma)
    return numerator / np.maximum(mass, 1e-6)[..., None], mass


def _band_alpha(image: np.ndarray, inner: np.ndarray, outer: np.ndarray, fallback: np.ndarray,
                radius: int, backdrop_rgb: np.ndarray | None) -> np.ndarray:
    """Alpha (float32 0..1) from projecting each pixel on its local background->foreground line."""
    sigma = 2.0 * radius
    fg_colour, fg_mass = _normalized_blur(image, inner, sigma)
    if backdrop_rgb is None:
        bg_colour, bg_mass = _normalized_blur(image, ~outer, sigma)
    else:
        bg_colour, bg_mass = backdrop_rgb, np.ones(fallback.shape, np.float32)
    line = fg_colour - bg_colour
    length_sq = np.sum(line * line, axis=-1)
    projection = np.sum((image - bg_colour) * line, axis=-1) / np.maximum(length_sq, 1e-6)
    usable = (length_sq > _MIN_CONTRAST**2) & (fg_mass > 1e-3) & (bg_mass > 1e-3)
    return np.where(usable, np.clip(projection, 0.0, 1.0), fallback)


def refine_edges(rgb: np.ndarray, hard: np.ndarray, radius: int,
                 backdrop_rgb: np.ndarray | None = None,
                 ramp: np.ndarray | None = None) -> np.ndarray:
    """Soft matte: `hard` inside and out, colour-line projection in a band of `radius` px.

    Where the local foreground and background colours are too close to project on, the band
    takes `ramp` (a soft key, 0..1) or, without one, a feathered `hard`.
    """
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    hard_u8 = hard.astype(np.uint8)
    inner = cv2.erode(hard_u8, kernel).astype(bool)
    outer = cv2.dilate(hard_u8, kernel).astype(bool)
    band = outer & ~inner
    matte = hard_u8 * np.uint8(255)
    rows, cols = np.flatnonzero(band.any(axis=1)), np.flatnonzero(band.any(axis=0))
    if rows.size == 0:
        return matte
    # Only the band's box (plus the blur's reach) is filtered: the product rarely fills the frame.
    pad = 6 * radius + 1
    box = (slice(max(0, rows[0] - pad), rows[-1] + 1 + pad),
           slice(max(0, cols[0] - pad), cols[-1] + 1 + pad))
    if ramp is None:
        fallback = cv2.GaussianBlur(hard[box].astype(np.float32), (0, 0), max(0.5, radius / 2))
    else:
        fallback = ramp[box]
    alpha = _band_alpha(rgb[box].astype(np.float32), inner[box], outer[box], fallback, radius,
                        None if backdrop_rgb is None else backdrop_rgb[box])
    soft = (alpha * 255 + 0.5).astype(np.uint8)
    matte[box] = np.where(band[box], soft, matte[box])
    return matte


class ClassicEngine:
    """Border keying with a GrabCut fallback; runs anywhere OpenCV does, no model weights."""

    name = "classic"

    def __init__(self, work_long_side: int = 1024) -> None:
        self.work_long_side = work_long_side

    def matte(self, rgb: np.ndarray) -> np.ndarray:
        """Matte (uint8 HxW, 255 = foreground) of `rgb` (uint8 HxWx3), the same size."""
        height, width = rgb.shape[:2]
        work = downscale_rgb(np.ascontiguousarray(rgb[..., :3]), self.work_long_side)
        matte = self._matte_work(work)
        return upscale_matte(matte, width, height)

    def _matte_work(self, rgb: np.ndarray) -> np.ndarray:
        """Matte of a working-size copy."""
        long_side = max(rgb.shape[:2])
        radius = max(2, round(long_side / 350))
        lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
        fit = fit_border(lab, rgb.astype(np.float32))
        if fit.is_backdrop:
            threshold = max(_MIN_KEY, 4.0 * fit.noise)
            distance = key_distance(lab, fit.lab)
            thin_width = 2 * max(1, round(long_side / _THIN_DIVISOR)) + 1
            keyed = key_foreground(distance, threshold, thin_width)
            # Soft key: 0 at half the threshold, 1 at one and a half times it.
            ramp = np.clip(distance / threshold - 0.5, 0.0, 1.0)
            matte = refine_edges(rgb, keyed.body, radius, fit.rgb, ramp)
            zone, alpha = thin_alpha(distance, keyed, threshold, thin_width, ramp)
            matte[zone] = (alpha[zone] * 255 + 0.5).astype(np.uint8)
            return matte
        hard = grabcut_foreground(rgb)
        scale = max(1, round(long_side / _GRABCUT_LONG_SIDE))
        return refine_edges(rgb, hard, radius + scale)
