"""Resizing helpers shared by the local engines and the provider."""

from __future__ import annotations

import cv2
import numpy as np

from providers.images import proxy_size


def downscale_rgb(rgb: np.ndarray, long_side: int) -> np.ndarray:
    """`rgb` shrunk (area filter) so its longer side is at most `long_side`; never upscaled."""
    height, width = rgb.shape[:2]
    size = proxy_size(width, height, long_side)
    if size == (width, height):
        return rgb
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def upscale_matte(matte: np.ndarray, width: int, height: int) -> np.ndarray:
    """`matte` (uint8) resized bicubically to `width` x `height`, clipped to 0..255."""
    if matte.shape[:2] == (height, width):
        return matte
    resized = cv2.resize(matte.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(resized + 0.5, 0, 255).astype(np.uint8)
