"""Keying against a fitted backdrop: which pixels are product body, which are thin strands.

Background is backdrop-coloured and reachable from the image edge. Reachability ignores thin
structures (hair, fur, threads narrower than a few pixels): the backdrop seen between strands
is background, while a backdrop-coloured label enclosed by the product's body stays product.
Thin structures rarely cover a whole pixel, so their alpha is their contrast against the
backdrop relative to the contrast of the body they grow from.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from providers.local.border import circular_runs, perimeter

#: Darker-than-backdrop lightness counts this much: soft shadows are darker, not another hue.
_SHADOW_WEIGHT = 0.5
#: Contrast (Delta E) of the body around a strand is averaged over this many strand widths.
_BODY_REACH = 8
#: Working-copy reduction for that wide average (it is smooth, so a coarse grid suffices).
_BLUR_REDUCTION = 4
#: Edge stretches between product stretches shorter than this share of the frame are closed.
_ENCLOSED_EDGE_SHARE = 0.25


class KeyedMask(NamedTuple):
    """The keyed foreground, split by thickness."""

    body: np.ndarray
    """HxW bool: thick product parts, with anything they enclose."""
    thin: np.ndarray
    """HxW bool: foreground narrower than the thin width, reachable from the edge."""


def key_distance(lab: np.ndarray, backdrop_lab: np.ndarray) -> np.ndarray:
    """Per-pixel Lab distance to the backdrop model, darker lightness (shadows) down-weighted."""
    diff = lab - backdrop_lab
    lightness = diff[..., 0]
    lightness = np.where(lightness < 0, lightness * _SHADOW_WEIGHT, lightness)
    return np.sqrt(lightness**2 + diff[..., 1] ** 2 + diff[..., 2] ** 2)


def drop_specks(mask: np.ndarray, min_area: int, min_share: float = 0.0) -> np.ndarray:
    """`mask` without components under `min_area` px or under `min_share` of the largest one."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), 8)
    if count <= 1:
        return mask.copy()
    areas = stats[:, cv2.CC_STAT_AREA]
    keep = areas >= max(min_area, min_share * areas[1:].max())
    keep[0] = False
    return keep[labels]


def edge_connected(mask: np.ndarray, seeds: np.ndarray | None = None) -> np.ndarray:
    """The parts of `mask` connected (4-neighbourhood) to the image edge (to `seeds` on it)."""
    _, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=4)
    ring_y, ring_x = perimeter(*mask.shape)
    edge_labels = labels[ring_y, ring_x]
    if seeds is not None:
        edge_labels = edge_labels[seeds[ring_y, ring_x]]
    edge_labels = np.unique(edge_labels)
    edge_labels = edge_labels[edge_labels > 0]
    return np.isin(labels, edge_labels)


def open_edge(core: np.ndarray) -> np.ndarray:
    """HxW bool: the frame's edge pixels through which the backdrop may enter the picture.

    A stretch of edge between two stretches of product, short against the whole frame, is the
    product's own backdrop-coloured part cut off by the frame (a white label on a bottle
    standing on the bottom edge): like a label inside the product, it is no way in.
    """
    ring_y, ring_x = perimeter(*core.shape)
    outside = ~core[ring_y, ring_x]
    runs = circular_runs(outside)
    seeds = np.zeros(core.shape, bool)
    if not runs:
        return seeds
    longest = max(length for _, length in runs)
    limit = _ENCLOSED_EDGE_SHARE * outside.size
    for start, length in runs:
        if length == longest or length >= limit:
            index = (start + np.arange(length)) % outside.size
            seeds[ring_y[index], ring_x[index]] = True
    return seeds


def key_foreground(distance: np.ndarray, threshold: float, thin_width: int) -> KeyedMask:
    """Foreground: all but the backdrop-coloured pixels reachable from the edge past thin parts."""
    candidate = (distance >= threshold).astype(np.uint8)
    if thin_width > 1:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (thin_width, thin_width))
        core = cv2.morphologyEx(candidate, cv2.MORPH_OPEN, kernel).astype(bool)
    else:
        core = candidate.astype(bool)
    reachable = edge_connected(~core, open_edge(core))
    hard = drop_specks(~(reachable & ~candidate.astype(bool)), max(16, distance.size // 2000))
    return KeyedMask(body=hard & ~reachable, thin=hard & reachable)


def _wide_mean(values: np.ndarray, weight: np.ndarray,
               sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Weighted Gaussian mean of `values` over `weight`, and the weight mass, on a coarse grid."""
    height, width = values.shape
    small = (max(1, width // _BLUR_REDUCTION), max(1, height // _BLUR_REDUCTION))
    w = cv2.resize(weight.astype(np.float32), small, interpolation=cv2.INTER_AREA)
    v = cv2.resize(values * weight, small, interpolation=cv2.INTER_AREA)
    coarse_sigma = max(0.5, sigma / _BLUR_REDUCTION)
    w = cv2.GaussianBlur(w, (0, 0), coarse_sigma)
    v = cv2.GaussianBlur(v, (0, 0), coarse_sigma)
    mean = cv2.resize(v / np.maximum(w, 1e-6), (width, height), interpolation=cv2.INTER_LINEAR)
    mass = cv2.resize(w, (width, height), interpolation=cv2.INTER_LINEAR)
    return mean, mass


def thin_alpha(distance: np.ndarray, keyed: KeyedMask, threshold: float, thin_width: int,
               ramp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(zone, alpha): the strands and their fringe, and their alpha (float32 0..1) there."""
    fringe = cv2.dilate(keyed.thin.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    zone = fringe & ~keyed.body & (distance >= 0.5 * threshold)
    alpha = np.zeros(distance.shape, np.float32)
    rows, cols = np.flatnonzero(zone.any(axis=1)), np.flatnonzero(zone.any(axis=0))
    if rows.size == 0:
        return zone, alpha
    sigma = float(_BODY_REACH * thin_width)
    pad = round(3 * sigma)
    box = (slice(max(0, rows[0] - pad), rows[-1] + 1 + pad),
           slice(max(0, cols[0] - pad), cols[-1] + 1 + pad))
    body_contrast, mass = _wide_mean(distance[box].astype(np.float32), keyed.body[box], sigma)
    # Without a body nearby (a lone thread, a wire product) fall back to the soft key.
    known = (mass > 0.02) & (body_contrast > 2 * threshold)
    ratio = distance[box] / np.maximum(body_contrast, 1e-6)
    alpha[box] = np.where(known, np.clip(ratio, 0.0, 1.0), ramp[box])
    return zone, alpha
