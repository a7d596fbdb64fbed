"""The matte-engine seam: `MatteEngine` protocol, name -> factory table, `compute_matte`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

from providers.local.classic import ClassicEngine
from providers.local.raster import downscale_rgb, upscale_matte


@runtime_checkable
class MatteEngine(Protocol):
    """Computes a coarse matte: HxWx3 uint8 RGB in, HxW uint8 matte (255 = foreground) out."""

    name: str

    def matte(self, rgb: np.ndarray) -> np.ndarray:
        """Return the matte of `rgb`, the same height and width."""
        ...


EngineFactory = Callable[[int], MatteEngine]
"""Builds an engine from the long side of its working copy."""

#: Engine name -> factory of the engines that need no model file. ONNX models are built from
#: their file by `choice.choose_engine`.
ENGINES: dict[str, EngineFactory] = {
    "classic": ClassicEngine,
}
DEFAULT_ENGINE = "classic"


def make_engine(name: str = DEFAULT_ENGINE, work_long_side: int = 1024) -> MatteEngine:
    """Build the engine registered under `name`; ValueError names the known ones otherwise."""
    try:
        factory = ENGINES[name]
    except KeyError:
        known = ", ".join(sorted(ENGINES))
        raise ValueError(f"unknown local engine {name!r} (known: {known})") from None
    return factory(work_long_side)


def compute_matte(image: Image.Image, long_side: int = 1024) -> Image.Image:
    """Matte ("L", 255 = foreground) of `image` at its own size, computed on a downscaled copy."""
    rgb = np.asarray(image.convert("RGB"))
    small = downscale_rgb(rgb, long_side)
    matte = make_engine(DEFAULT_ENGINE, long_side).matte(small)
    return Image.fromarray(upscale_matte(matte, image.width, image.height))
