"""The image a pipeline step takes and returns."""

from __future__ import annotations

import msgspec
import numpy as np


class Frame(msgspec.Struct, frozen=True):
    """Straight-alpha RGBA as two uint8 arrays: `rgb` HxWx3 and `alpha` HxW (255 = opaque).

    The pipeline owns the buffers, so a step may update them in place and return a frame over
    the same (or sliced) arrays instead of copying a full-size image.
    """

    rgb: np.ndarray
    alpha: np.ndarray

    @property
    def width(self) -> int:
        """Width in pixels."""
        return int(self.alpha.shape[1])

    @property
    def height(self) -> int:
        """Height in pixels."""
        return int(self.alpha.shape[0])
