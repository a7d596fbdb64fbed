"""A frame with a known rectangular subject, for the geometry steps' tests."""

from __future__ import annotations

import numpy as np

from gateway.postprocess.frame import Frame

SUBJECT_RGB = (200, 40, 40)


def box_frame(width: int = 200, height: int = 100,
              box: tuple[int, int, int, int] = (20, 30, 60, 80)) -> Frame:
    """Opaque red subject on (x0, y0, x1, y1), transparent elsewhere (grey under it)."""
    rgb = np.full((height, width, 3), 128, np.uint8)
    alpha = np.zeros((height, width), np.uint8)
    x0, y0, x1, y1 = box
    rgb[y0:y1, x0:x1] = SUBJECT_RGB
    alpha[y0:y1, x0:x1] = 255
    return Frame(rgb=rgb, alpha=alpha)


def opaque_box(alpha: np.ndarray, threshold: int = 127) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of alpha > threshold."""
    rows = np.flatnonzero((alpha > threshold).any(axis=1))
    cols = np.flatnonzero((alpha > threshold).any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
