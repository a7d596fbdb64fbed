"""Trimap matting: closed-form matting (pymatting) on the unknown band, with bounded memory.

Only the bounding box of the unknown band (plus a margin of known pixels) is solved. When that
box holds more than `max_pixels` pixels it is area-downscaled to fit, solved, and the solution is
upscaled bicubically back into the box; the trimap's known pixels are clamped exactly at full
resolution either way. pymatting is imported lazily: its first import compiles with numba.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import cv2
import numpy as np

AlphaSolver = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(image float64 HxWx3 in [0, 1], trimap float64 HxW in {0, 0.5, 1}) -> alpha float HxW."""

#: Known pixels kept around the unknown band so the solver sees both sides of every edge.
DEFAULT_MARGIN = 16
#: Downscaled trimap pixels this close to 0 or 1 still count as known.
_KNOWN_TOLERANCE = 1e-3


class BandCrop(NamedTuple):
    """Where the unknown band is solved: a box of the full image and the size solved at."""

    top: int
    left: int
    bottom: int
    right: int
    solve_width: int
    solve_height: int

    @property
    def scaled(self) -> bool:
        """True when the box was downscaled to respect the pixel cap."""
        return (self.solve_width, self.solve_height) != (self.right - self.left,
                                                          self.bottom - self.top)


def unknown_mask(trimap: np.ndarray) -> np.ndarray:
    """Pixels the trimap leaves open (neither exactly 0 nor exactly 255)."""
    return (trimap != 0) & (trimap != 255)


def plan_crop(trimap: np.ndarray, max_pixels: int, margin: int = DEFAULT_MARGIN) -> BandCrop | None:
    """Box around the unknown band (plus `margin`) and its solve size; None if none is open."""
    rows = np.flatnonzero(unknown_mask(trimap).any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(unknown_mask(trimap).any(axis=0))
    height, width = trimap.shape
    top, bottom = max(0, int(rows[0]) - margin), min(height, int(rows[-1]) + 1 + margin)
    left, right = max(0, int(cols[0]) - margin), min(width, int(cols[-1]) + 1 + margin)
    box_w, box_h = right - left, bottom - top
    scale = min(1.0, math.sqrt(max_pixels / (box_w * box_h)))
    solve_w = max(1, min(box_w, math.floor(box_w * scale)))
    solve_h = max(1, min(box_h, math.floor(box_h * scale)))
    return BandCrop(top, left, bottom, right, solve_w, solve_h)


def clamp_to_trimap(matte: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """`matte` (uint8) with the trimap's known pixels forced to exactly 0 and 255."""
    clamped = matte.copy()
    clamped[trimap == 0] = 0
    clamped[trimap == 255] = 255
    return clamped


def _solver_trimap(trimap: np.ndarray) -> np.ndarray:
    """Trimap as the solver wants it: 0, 1 and 0.5 for anything in between."""
    values = trimap.astype(np.float64) / 255.0
    known_bg = values <= _KNOWN_TOLERANCE
    known_fg = values >= 1.0 - _KNOWN_TOLERANCE
    return np.where(known_bg, 0.0, np.where(known_fg, 1.0, 0.5))


def closed_form_solver(image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """pymatting's closed-form matting (Levin et al.), imported on first use."""
    from pymatting import estimate_alpha_cf

    # Resampled float images can exceed 1.0 by a rounding error; pymatting warns on that.
    return estimate_alpha_cf(np.clip(image, 0.0, 1.0), trimap)


def matte_from_trimap(rgb: np.ndarray, trimap: np.ndarray, max_pixels: int = 1_000_000,
                      solver: AlphaSolver | None = None,
                      margin: int = DEFAULT_MARGIN) -> np.ndarray:
    """Full-resolution matte (uint8) of `rgb` with the trimap's unknown band solved by `solver`."""
    if trimap.shape != rgb.shape[:2]:
        raise ValueError(f"trimap is {trimap.shape[::-1]}, image is {rgb.shape[1::-1]}")
    crop = plan_crop(trimap, max_pixels, margin)
    matte = np.where(trimap >= 128, 255, 0).astype(np.uint8)
    if crop is None:
        return clamp_to_trimap(matte, trimap)
    box_rgb = rgb[crop.top:crop.bottom, crop.left:crop.right]
    box_trimap = trimap[crop.top:crop.bottom, crop.left:crop.right]
    box_size = (crop.right - crop.left, crop.bottom - crop.top)
    solve_size = (crop.solve_width, crop.solve_height)
    image = box_rgb.astype(np.float64) / 255.0
    coarse_trimap = box_trimap.astype(np.float32)
    if crop.scaled:
        image = cv2.resize(image, solve_size, interpolation=cv2.INTER_AREA)
        coarse_trimap = cv2.resize(coarse_trimap, solve_size, interpolation=cv2.INTER_AREA)
    alpha = np.asarray((solver or closed_form_solver)(image, _solver_trimap(coarse_trimap)),
                       dtype=np.float32)
    if crop.scaled:
        alpha = cv2.resize(alpha, box_size, interpolation=cv2.INTER_CUBIC)
    matte[crop.top:crop.bottom, crop.left:crop.right] = np.clip(alpha * 255 + 0.5, 0, 255)
    return clamp_to_trimap(matte, trimap)


def has_both_sides(trimap: np.ndarray) -> bool:
    """True when the trimap marks some background and some foreground (the solver needs both)."""
    return bool((trimap == 0).any() and (trimap == 255).any())


def warm_up() -> None:
    """Import pymatting and solve a tiny trimap once, so numba compiles before the first request."""
    image = np.zeros((12, 12, 3), np.float64)
    image[:, 6:] = 1.0
    trimap = np.full((12, 12), 0.5)
    trimap[:, :3], trimap[:, 9:] = 0.0, 1.0
    closed_form_solver(image, trimap)
