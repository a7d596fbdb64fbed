"""Alpha-matte quality metrics as defined by Rhemann et al. 2009 (alphamatting.com).

Every metric takes the predicted and the true matte (float in [0, 1] or uint8 in [0, 255]) and an
optional boolean `mask` of the pixels to score, usually the trimap's unknown region
(`unknown_region(trimap)`). SAD, gradient and connectivity errors are sums divided by 1000, as is
customary in the matting literature; MSE and the mean absolute difference are means over the mask.
"""

from __future__ import annotations

import itertools
import math

import cv2
import msgspec
import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float32]
BoolArray = NDArray[np.bool_]

GRADIENT_SIGMA = 1.4
CONNECTIVITY_STEP = 0.1
#: Distances below this do not count as a connectivity defect (Rhemann et al. 2009).
CONNECTIVITY_THETA = 0.15
#: Half an 8-bit level: alphas closer than this to 0 or 1 count as fully transparent/opaque.
_HALF_LEVEL = 0.5 / 255


class MatteScores(msgspec.Struct, frozen=True):
    """Every matte metric for one prediction (SAD, gradient, connectivity are /1000)."""

    sad: float
    mse: float
    gradient: float
    connectivity: float
    iou: float
    mad: float
    partial_share_pred: float
    partial_share_true: float


def as_alpha(alpha: np.ndarray) -> FloatArray:
    """A 2-D float32 matte in [0, 1] from a uint8 (0-255) or float (0-1) array."""
    array = np.asarray(alpha)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim != 2:
        raise ValueError(f"a matte must be 2-D, got shape {array.shape}")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535.0
    return np.clip(array.astype(np.float32), 0.0, 1.0)


def unknown_region(trimap: np.ndarray) -> BoolArray:
    """Pixels of an 8-bit trimap that are neither background (0) nor foreground (255)."""
    array = np.asarray(trimap)
    return (array > 0) & (array < 255)


def _pair(
    pred: np.ndarray, true: np.ndarray, mask: np.ndarray | None
) -> tuple[FloatArray, FloatArray, BoolArray]:
    p, t = as_alpha(pred), as_alpha(true)
    if p.shape != t.shape:
        raise ValueError(f"matte shapes differ: {p.shape} vs {t.shape}")
    if mask is None:
        return p, t, np.ones(p.shape, dtype=bool)
    m = np.asarray(mask, dtype=bool)
    if m.shape != p.shape:
        raise ValueError(f"mask shape {m.shape} differs from matte shape {p.shape}")
    return p, t, m


def sad(pred: np.ndarray, true: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Sum of absolute differences over the mask, divided by 1000."""
    p, t, m = _pair(pred, true, mask)
    return float(np.abs(p - t)[m].sum(dtype=np.float64) / 1000.0)


def mse(pred: np.ndarray, true: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean squared error over the mask (0 when the mask is empty)."""
    p, t, m = _pair(pred, true, mask)
    if not m.any():
        return 0.0
    return float(np.square(p - t)[m].mean(dtype=np.float64))


def mad(pred: np.ndarray, true: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean absolute difference over the mask (0 when the mask is empty)."""
    p, t, m = _pair(pred, true, mask)
    if not m.any():
        return 0.0
    return float(np.abs(p - t)[m].mean(dtype=np.float64))


def _gaussian_derivative_kernels(sigma: float) -> tuple[FloatArray, FloatArray]:
    """The x and y first-derivative-of-Gaussian kernels of the reference `gaussgradient.m`."""
    epsilon = 1e-2
    half = math.ceil(sigma * math.sqrt(-2.0 * math.log(math.sqrt(2.0 * math.pi) * sigma * epsilon)))
    grid = np.arange(-half, half + 1, dtype=np.float64)
    gauss = np.exp(-(grid**2) / (2.0 * sigma**2)) / (sigma * math.sqrt(2.0 * math.pi))
    dgauss = -grid * gauss / sigma**2
    kx = np.outer(gauss, dgauss)  # rows vary with y (smoothing), columns with x (derivative)
    kx /= math.sqrt(float(np.sum(kx * kx)))
    return kx.astype(np.float32), kx.T.copy().astype(np.float32)


def gradient_magnitude(alpha: np.ndarray, sigma: float = GRADIENT_SIGMA) -> FloatArray:
    """Magnitude of the Gaussian-smoothed gradient of a matte (replicated borders)."""
    a = as_alpha(alpha)
    kx, ky = _gaussian_derivative_kernels(sigma)
    gx = cv2.filter2D(a, cv2.CV_32F, kx, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.filter2D(a, cv2.CV_32F, ky, borderType=cv2.BORDER_REPLICATE)
    return np.sqrt(gx * gx + gy * gy)


def gradient_error(
    pred: np.ndarray, true: np.ndarray, mask: np.ndarray | None = None,
    sigma: float = GRADIENT_SIGMA,
) -> float:
    """Sum of squared differences of gradient magnitudes over the mask, divided by 1000."""
    p, t, m = _pair(pred, true, mask)
    diff = gradient_magnitude(p, sigma) - gradient_magnitude(t, sigma)
    return float(np.square(diff)[m].sum(dtype=np.float64) / 1000.0)


def _largest_component(binary: np.ndarray) -> BoolArray:
    """The largest 4-connected component of a boolean image (empty if there is none)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        binary.astype(np.uint8), connectivity=4
    )
    if count <= 1:
        return np.zeros(binary.shape, dtype=bool)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return labels == largest


def _connectivity_phi(alpha: FloatArray, level: FloatArray) -> FloatArray:
    d = alpha - level
    return 1.0 - d * (d >= CONNECTIVITY_THETA)


def connectivity_error(
    pred: np.ndarray, true: np.ndarray, mask: np.ndarray | None = None,
    step: float = CONNECTIVITY_STEP,
) -> float:
    """Connectivity error: sum |phi_pred - phi_true| over the mask, divided by 1000."""
    p, t, m = _pair(pred, true, mask)
    steps = np.linspace(0.0, 1.0, round(1.0 / step) + 1)
    # l(x): the highest threshold at which x still belongs to the common largest component.
    level = np.full(p.shape, -1.0, dtype=np.float32)
    for previous, threshold in itertools.pairwise(steps):
        omega = _largest_component((p >= threshold) & (t >= threshold))
        level[(level == -1.0) & ~omega] = previous
    level[level == -1.0] = 1.0
    diff = np.abs(_connectivity_phi(p, level) - _connectivity_phi(t, level))
    return float(diff[m].sum(dtype=np.float64) / 1000.0)


def iou(pred: np.ndarray, true: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Intersection over union of alpha > 0.5 (1.0 when both are empty)."""
    p, t, m = _pair(pred, true, mask)
    ps, ts = (p > 0.5) & m, (t > 0.5) & m
    union = int(np.count_nonzero(ps | ts))
    if union == 0:
        return 1.0
    return int(np.count_nonzero(ps & ts)) / union


def partial_share(alpha: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Share of (masked) pixels that are partially transparent: 0 < alpha < 1 at 8-bit precision."""
    a = as_alpha(alpha)
    m = np.ones(a.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    total = int(np.count_nonzero(m))
    if total == 0:
        return 0.0
    partial = (a > _HALF_LEVEL) & (a < 1.0 - _HALF_LEVEL) & m
    return int(np.count_nonzero(partial)) / total


def foreground_error(
    pred_rgb: np.ndarray, true_rgb: np.ndarray, true_alpha: np.ndarray,
    mask: np.ndarray | None = None,
) -> float:
    """Mean absolute RGB difference (8-bit levels) where the true alpha > 0 (and in the mask)."""
    pred = np.asarray(pred_rgb)
    true = np.asarray(true_rgb)
    if pred.shape != true.shape or pred.ndim != 3 or pred.shape[2] < 3:
        raise ValueError(f"colour shapes must match and be HxWx3: {pred.shape} vs {true.shape}")
    a = as_alpha(true_alpha)
    if a.shape != pred.shape[:2]:
        raise ValueError(f"alpha shape {a.shape} differs from colour shape {pred.shape[:2]}")
    scored = a > _HALF_LEVEL
    if mask is not None:
        scored &= np.asarray(mask, dtype=bool)
    if not scored.any():
        return 0.0
    p = _as_levels(pred[:, :, :3])[scored]
    t = _as_levels(true[:, :, :3])[scored]
    return float(np.abs(p - t).mean(dtype=np.float64))


def _as_levels(rgb: np.ndarray) -> FloatArray:
    """Colour in 8-bit levels as float32 (float input is taken as 0-1)."""
    if rgb.dtype == np.uint8:
        return rgb.astype(np.float32)
    return np.clip(rgb.astype(np.float32), 0.0, 1.0) * 255.0


def score(pred: np.ndarray, true: np.ndarray, mask: np.ndarray | None = None) -> MatteScores:
    """All matte metrics of `pred` against `true` over `mask`."""
    p, t, m = _pair(pred, true, mask)
    return MatteScores(
        sad=sad(p, t, m),
        mse=mse(p, t, m),
        gradient=gradient_error(p, t, m),
        connectivity=connectivity_error(p, t, m),
        iou=iou(p, t, m),
        mad=mad(p, t, m),
        partial_share_pred=partial_share(p, m),
        partial_share_true=partial_share(t, m),
    )
