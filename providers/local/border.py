"""The backdrop model: a smooth colour surface fitted robustly to the image border.

Products often touch the frame (a bottle cut off at the bottom, a shoe against one side), so
the fit must not need the whole border: it is restarted with each side left out, and the start
that explains the most border wins. The border counts as a backdrop when most of it fits and
no side is entirely something else (a table under a wall fails that: its whole bottom side does).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

#: Border samples within this Lab distance of the model count as explained by it.
INLIER_DELTA_E = 10.0
#: A border this well explained is a backdrop whatever its sides look like.
_FULL_INLIER_SHARE = 0.9
#: Below full share, this much of the border must fit (the rest is product touching the edge) ...
_MIN_INLIER_SHARE = 0.55
#: ... and every side must show this much backdrop: a side that is wholly another colour is
#: another surface (a table, a wall), not a product cut off by the frame.
_MIN_SIDE_SHARE = 0.2
#: More separate foreign stretches along the edge than this is a busy scene, not a product.
_MAX_RUNS = 3
#: A foreign stretch this much made of the colours found at its two ends is a seam.
_STEP_SHARE = 0.7
#: Maximum robust spread (Delta E) of the explained samples for a backdrop.
_MAX_BORDER_NOISE = 3.0
_MAX_SAMPLES = 8_000
_IRLS_ROUNDS = 6
#: A start explaining this much of the border needs no other start.
_GOOD_ENOUGH_SHARE = 0.99
#: Adjacent (bottom, left), (bottom, right), (top, left), (top, right) side indices.
_CORNERS = ((1, 2), (1, 3), (0, 2), (0, 3))


class BorderFit(NamedTuple):
    """A smooth model of the backdrop fitted to the image border."""

    lab: np.ndarray
    """HxWx3 float32 backdrop colour in Lab (L 0..100)."""
    rgb: np.ndarray
    """HxWx3 float32 backdrop colour in RGB (0..255)."""
    inlier_share: float
    """Share of border samples within `INLIER_DELTA_E` of the model."""
    noise: float
    """Robust spread (Delta E) of the explained border samples."""
    side_shares: tuple[float, float, float, float]
    """Explained share of the top, bottom, left and right sides."""
    runs: int
    """Separate stretches of the frame's edge the model does not explain (products touching it)."""
    steps: bool
    """True when some unexplained stretch is where two flat surfaces meet (a table, a wall)."""

    @property
    def is_backdrop(self) -> bool:
        """True when the border is a plain or smoothly graded backdrop that keying can use."""
        if self.noise > _MAX_BORDER_NOISE:
            return False
        if self.inlier_share >= _FULL_INLIER_SHARE:
            return True
        return (self.inlier_share >= _MIN_INLIER_SHARE
                and min(self.side_shares) >= _MIN_SIDE_SHARE and self.runs <= _MAX_RUNS
                and not self.steps)


def basis(xs: np.ndarray, ys: np.ndarray, width: int, height: int) -> np.ndarray:
    """Quadratic basis (1, x, y, xy, x^2, y^2) on coordinates normalised to [-1, 1]."""
    x = xs.astype(np.float32) * (2.0 / max(1, width - 1)) - 1.0
    y = ys.astype(np.float32) * (2.0 / max(1, height - 1)) - 1.0
    return np.stack([np.ones_like(x), x, y, x * y, x * x, y * y], axis=-1)


def _surface(coef: np.ndarray, height: int, width: int) -> np.ndarray:
    """HxWxC values of the quadratic model `coef` (6xC) at every pixel, built row by column."""
    x = basis(np.arange(width), np.zeros(width), width, height)[:, 1]
    y = basis(np.zeros(height), np.arange(height), width, height)[:, 2]
    c0, c1, c2, c3, c4, c5 = coef
    # f = (c0 + c2 y + c5 y^2) + (c1 + c3 y) x + c4 x^2: three broadcast terms, no HxWx6 basis.
    row_base = c0 + np.outer(y, c2) + np.outer(y * y, c5)
    row_slope = c1 + np.outer(y, c3)
    return (row_base[:, None, :] + row_slope[:, None, :] * x[None, :, None]
            + np.outer(x * x, c4)[None, :, :]).astype(np.float32)


def border_strip(height: int, width: int, share: float = 0.02) -> np.ndarray:
    """Boolean HxW mask of the image border strip (`share` of the longer side, at least 2 px)."""
    strip = max(2, round(share * max(height, width)))
    mask = np.zeros((height, width), bool)
    mask[:strip], mask[-strip:], mask[:, :strip], mask[:, -strip:] = True, True, True, True
    return mask


def _sides(ys: np.ndarray, xs: np.ndarray, height: int, width: int) -> np.ndarray:
    """4xN membership of border samples in the top, bottom, left and right sides."""
    strip = max(2, round(0.02 * max(height, width)))
    return np.stack([ys < strip, ys >= height - strip, xs < strip, xs >= width - strip])


def _irls(design: np.ndarray, values: np.ndarray,
          keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Iteratively reweighted (trimmed) least squares from the start set `keep`."""
    coef = np.zeros((design.shape[1], values.shape[1]))
    residual = np.full(len(design), np.inf)
    if keep.sum() < design.shape[1]:
        keep = np.ones(len(design), bool)
    for _ in range(_IRLS_ROUNDS):
        kept = design[keep]
        # Normal equations: a 6x6 solve, far cheaper than a full least-squares factorisation.
        coef = np.linalg.solve(kept.T @ kept + 1e-9 * np.eye(kept.shape[1]), kept.T @ values[keep])
        residual = np.linalg.norm(design @ coef[:, :3] - values[:, :3], axis=1)
        spread = 1.4826 * float(np.median(residual[keep]))
        new_keep = residual < max(2.5 * spread, 4.0)
        if new_keep.sum() < design.shape[1] * 4 or np.array_equal(new_keep, keep):
            break
        keep = new_keep
    return coef, residual


Fit = tuple[float, np.ndarray, np.ndarray]
"""(explained share, coefficients, per-sample residual) of one robust fit."""


def _best_fit(design: np.ndarray, values: np.ndarray, starts: list[np.ndarray],
              best: Fit | None = None) -> Fit:
    """The fit explaining most of the border among IRLS runs from each start set."""
    for start in starts:
        if best is not None and best[0] >= _GOOD_ENOUGH_SHARE:
            break
        coef, residual = _irls(design, values, start)
        share = float((residual < INLIER_DELTA_E).mean())
        if best is None or share > best[0] + 1e-3:
            best = (share, coef, residual)
    assert best is not None
    return best


def _robust_fit(design: np.ndarray, values: np.ndarray,
                sides: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The best of several robust fits: from the whole border, then without poorly fitting sides."""
    median = np.median(values[:, :3], axis=0)
    near_median = np.linalg.norm(values[:, :3] - median, axis=1) < INLIER_DELTA_E
    best = _best_fit(design, values, [np.ones(design.shape[0], bool), near_median])
    # A product standing on the bottom edge (or in a corner) drags a fit started from every
    # sample towards its colours; leaving the sides it touches out of the start avoids that.
    weak = [bool((best[2][side] >= INLIER_DELTA_E).mean() > 0.05) for side in sides]
    starts = [~side for side, poor in zip(sides, weak, strict=True) if poor]
    starts += [~(sides[a] | sides[b]) for a, b in _CORNERS if weak[a] and weak[b]]
    _, coef, residual = _best_fit(design, values, starts, best)
    return coef, residual


def perimeter(height: int, width: int, inset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(ys, xs) of the ring `inset` pixels inside the frame, in order around it."""
    inset = inset if min(height, width) > 4 * inset else 0
    top, bottom, left, right = inset, height - 1 - inset, inset, width - 1 - inset
    xs_top = np.arange(left, right + 1)
    ys_right = np.arange(top + 1, bottom + 1)
    xs_bottom = np.arange(right - 1, left - 1, -1)
    ys_left = np.arange(bottom - 1, top, -1)
    ys = np.concatenate([np.full(xs_top.size, top), ys_right, np.full(xs_bottom.size, bottom),
                         ys_left])
    xs = np.concatenate([xs_top, np.full(ys_right.size, right), xs_bottom,
                         np.full(ys_left.size, left)])
    return ys, xs


def circular_runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of the runs of True in `flags`, read as a ring."""
    size = flags.size
    if size == 0 or not flags.any():
        return []
    if flags.all():
        return [(0, size)]
    runs = []
    for before in np.flatnonzero(~flags & np.roll(flags, -1)):
        ahead = np.roll(flags, -(before + 1))
        runs.append(((int(before) + 1) % size, int(np.argmin(ahead))))
    return runs


def foreign_runs(explained: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of the runs of unexplained samples around the circular perimeter."""
    size = explained.size
    if size == 0:
        return []
    # Noise and a stray hair make one- or two-pixel runs; they are not surfaces.
    window = max(1, size // 200) | 1
    padded = np.concatenate([explained[-window:], explained, explained[:window]])
    clean = np.convolve(padded.astype(np.float32), np.ones(window) / window,
                        mode="same")[window:-window] >= 0.5
    return [run for run in circular_runs(~clean) if run[1] >= max(2, size // 100)]


def _is_step(ring_lab: np.ndarray, start: int, length: int) -> bool:
    """True when a foreign run is where two surfaces meet, not a product cut off by the frame.

    Between a wall and a table the run's pixels match the colour on one side of it or the
    other; a product's colours match neither, and a backdrop has the same colour on both sides.
    """
    size = len(ring_lab)
    reach = max(2, length // 4)
    before = np.median(ring_lab[(start - reach + np.arange(reach)) % size], axis=0)
    after = np.median(ring_lab[(start + length + np.arange(reach)) % size], axis=0)
    if np.linalg.norm(before - after) < 2 * INLIER_DELTA_E:
        return False
    run = ring_lab[(start + np.arange(length)) % size]
    nearest = np.minimum(np.linalg.norm(run - before, axis=1), np.linalg.norm(run - after, axis=1))
    return bool(np.mean(nearest < INLIER_DELTA_E) >= _STEP_SHARE)


def fit_border(lab: np.ndarray, rgb: np.ndarray) -> BorderFit:
    """Fit the backdrop colour robustly to the border, tolerating a product cut off by the frame."""
    height, width = lab.shape[:2]
    ys, xs = np.nonzero(border_strip(height, width))
    step = max(1, len(xs) // _MAX_SAMPLES)
    ys, xs = ys[::step], xs[::step]
    design = basis(xs, ys, width, height).astype(np.float64)
    values = np.concatenate([lab[ys, xs], rgb[ys, xs]], axis=1).astype(np.float64)
    sides = _sides(ys, xs, height, width)
    coef, residual = _robust_fit(design, values, sides)
    share = (residual < INLIER_DELTA_E).mean()
    # A plane is a special quadratic: it cannot explain more than the quadratic did.
    if _MIN_INLIER_SHARE <= share < _FULL_INLIER_SHARE:
        # Part of the border is something else. Only a plane (flat or linear gradient) may
        # explain the rest: a quadratic bends enough to bridge a wall and a table.
        plane, plane_residual = _robust_fit(design[:, :3], values, sides)
        coef = np.concatenate([plane, np.zeros((3, plane.shape[1]))])
        residual = plane_residual
    explained = residual < INLIER_DELTA_E
    noise = 1.4826 * float(np.median(residual[explained])) if explained.any() else np.inf
    shares = [float(explained[side].mean()) if side.any() else 0.0 for side in sides]
    ring_y, ring_x = perimeter(height, width, inset=1)
    ring_model = basis(ring_x, ring_y, width, height) @ coef[:, :3].astype(np.float32)
    ring_explained = np.linalg.norm(lab[ring_y, ring_x] - ring_model, axis=1) < INLIER_DELTA_E
    runs = foreign_runs(ring_explained)
    steps = any(_is_step(lab[ring_y, ring_x], start, length) for start, length in runs)
    surface = _surface(coef.astype(np.float32), height, width)
    return BorderFit(surface[..., :3], surface[..., 3:], float(explained.mean()), noise,
                     (shares[0], shares[1], shares[2], shares[3]), len(runs), steps)
