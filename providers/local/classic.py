"""The classic engine: border keying in Lab, GrabCut fallback, soft edge refinement (no weights).

    working copy (long side <= work_long_side)
      -> fit a quadratic model of the border colour (Lab and RGB) across the image
      -> border explained by the model?  yes: key on distance to the model, keep only the
                                               background connected to the image edge
                                         no:  GrabCut on a downscaled copy, border = background
      -> refine a narrow band around the outline: alpha = projection of each pixel on the
         line between the local background and foreground colours
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from providers.local.raster import downscale_rgb, upscale_matte

#: Border samples within this Lab distance of the model count as explained by it.
_INLIER_DELTA_E = 10.0
#: Minimum share of explained border samples for the border to count as a backdrop.
_MIN_INLIER_SHARE = 0.9
#: Maximum robust spread (Delta E) of the explained samples for a backdrop.
_MAX_BORDER_NOISE = 3.0
#: Smallest key threshold (Delta E): below this JPEG noise and shading would leak in.
_MIN_KEY = 9.0
#: Darker-than-backdrop lightness counts this much: soft shadows are darker, not another hue.
_SHADOW_WEIGHT = 0.5
#: Foreground/background colours closer than this (RGB units) cannot separate alpha.
_MIN_CONTRAST = 14.0
_GRABCUT_LONG_SIDE = 400
_GRABCUT_ITERATIONS = 5
#: GrabCut's colour models need this many candidate foreground pixels to start.
_MIN_GRABCUT_SAMPLES = 64
#: Width (share of the longer side) of the ring GrabCut starts as "probably background".
_GRABCUT_RING = 0.15
#: GrabCut parts smaller than this share of the largest part are clutter, not product.
_MIN_PART_SHARE = 0.25
_MAX_SAMPLES = 20_000


class BorderFit(NamedTuple):
    """A smooth model of the backdrop fitted to the image border."""

    lab: np.ndarray
    """HxWx3 float32 backdrop colour in Lab (L 0..100)."""
    rgb: np.ndarray
    """HxWx3 float32 backdrop colour in RGB (0..255)."""
    inlier_share: float
    """Share of border samples within `_INLIER_DELTA_E` of the model."""
    noise: float
    """Robust spread (Delta E) of the explained border samples."""

    @property
    def is_backdrop(self) -> bool:
        """True when the border is a plain or smoothly graded backdrop that keying can use."""
        return self.inlier_share >= _MIN_INLIER_SHARE and self.noise <= _MAX_BORDER_NOISE


def _basis(xs: np.ndarray, ys: np.ndarray, width: int, height: int) -> np.ndarray:
    """Quadratic basis (1, x, y, xy, x^2, y^2) on coordinates normalised to [-1, 1]."""
    x = xs.astype(np.float32) * (2.0 / max(1, width - 1)) - 1.0
    y = ys.astype(np.float32) * (2.0 / max(1, height - 1)) - 1.0
    return np.stack([np.ones_like(x), x, y, x * y, x * x, y * y], axis=-1)


def border_strip(height: int, width: int, share: float = 0.02) -> np.ndarray:
    """Boolean HxW mask of the image border strip (`share` of the longer side, at least 2 px)."""
    strip = max(2, round(share * max(height, width)))
    mask = np.zeros((height, width), bool)
    mask[:strip], mask[-strip:], mask[:, :strip], mask[:, -strip:] = True, True, True, True
    return mask


def fit_border(lab: np.ndarray, rgb: np.ndarray) -> BorderFit:
    """Fit the backdrop colour robustly (iteratively reweighted least squares) to the border."""
    height, width = lab.shape[:2]
    ys, xs = np.nonzero(border_strip(height, width))
    step = max(1, len(xs) // _MAX_SAMPLES)
    ys, xs = ys[::step], xs[::step]
    design = _basis(xs, ys, width, height).astype(np.float64)
    values = np.concatenate([lab[ys, xs], rgb[ys, xs]], axis=1).astype(np.float64)
    keep = np.ones(len(xs), bool)
    coef = np.zeros((design.shape[1], values.shape[1]))
    residual = np.zeros(len(xs))
    for _ in range(5):
        kept = design[keep]
        # Normal equations: a 6x6 solve, far cheaper than a full least-squares factorisation.
        coef = np.linalg.solve(kept.T @ kept + 1e-9 * np.eye(kept.shape[1]), kept.T @ values[keep])
        residual = np.linalg.norm((design @ coef - values)[:, :3], axis=1)
        spread = 1.4826 * float(np.median(residual[keep]))
        new_keep = residual < max(2.5 * spread, 4.0)
        if new_keep.sum() < design.shape[1] * 4 or np.array_equal(new_keep, keep):
            break
        keep = new_keep
    explained = residual < _INLIER_DELTA_E
    noise = 1.4826 * float(np.median(residual[explained])) if explained.any() else np.inf
    yy, xx = np.mgrid[0:height, 0:width]
    surface = _basis(xx, yy, width, height) @ coef.astype(np.float32)
    return BorderFit(surface[..., :3], surface[..., 3:], float(explained.mean()), noise)


def key_distance(lab: np.ndarray, backdrop_lab: np.ndarray) -> np.ndarray:
    """Per-pixel Lab distance to the backdrop model, darker lightness (shadows) down-weighted."""
    diff = lab - backdrop_lab
    lightness = diff[..., 0]
    lightness = np.where(lightness < 0, lightness * _SHADOW_WEIGHT, lightness)
    return np.sqrt(lightness**2 + diff[..., 1] ** 2 + diff[..., 2] ** 2)


def _drop_specks(mask: np.ndarray, min_area: int, min_share: float = 0.0) -> np.ndarray:
    """`mask` without components under `min_area` px or under `min_share` of the largest one."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), 8)
    if count <= 1:
        return mask.copy()
    areas = stats[:, cv2.CC_STAT_AREA]
    keep = areas >= max(min_area, min_share * areas[1:].max())
    keep[0] = False
    return keep[labels]


def edge_connected(mask: np.ndarray) -> np.ndarray:
    """The parts of `mask` connected (4-neighbourhood) to the image edge."""
    _, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=4)
    edge_labels = np.unique(np.concatenate(
        [labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    edge_labels = edge_labels[edge_labels > 0]
    return np.isin(labels, edge_labels)


def key_foreground(distance: np.ndarray, threshold: float) -> np.ndarray:
    """Foreground: everything but the backdrop-coloured pixels connected to the image edge."""
    background = edge_connected(distance < threshold)
    min_area = max(16, distance.size // 2000)
    return _drop_specks(~background, min_area)


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
    cv2.grabCut(np.ascontiguousarray(small), mask, None, bgd_model, fgd_model,
                _GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    foreground = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    foreground = _drop_specks(foreground, max(16, foreground.size // 500), _MIN_PART_SHARE)
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
            hard = key_foreground(distance, threshold)
            # Soft key: 0 at half the threshold, 1 at one and a half times it.
            ramp = np.clip(distance / threshold - 0.5, 0.0, 1.0)
            return refine_edges(rgb, hard, radius, fit.rgb, ramp)
        hard = grabcut_foreground(rgb)
        scale = max(1, round(long_side / _GRABCUT_LONG_SIDE))
        return refine_edges(rgb, hard, radius + scale)
