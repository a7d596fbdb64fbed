"""Model families: the pre- and post-processing each kind of salient-object model expects.

These follow the rembg reference implementation (v2.0.77) step for step, so a model file gives
the same matte here as there:

    RGB -> resize to size x size (LANCZOS, aspect not kept) -> / the image's own maximum
        -> (x - mean) / std per channel -> CHW float32, batch 1 -> first input
    first output [:, 0] -> sigmoid (birefnet) -> min-max to 0..1 -> x 255, truncated to uint8
        -> resize back to the input size (LANCZOS)
"""

from __future__ import annotations

from typing import Literal

import msgspec
import numpy as np
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Family(msgspec.Struct, frozen=True):
    """How one family of models wants its input and what its output means."""

    name: str
    size: int
    """Square input side in pixels."""
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    activation: Literal["none", "sigmoid"] = "none"
    """Applied to the raw output before min-max scaling (BiRefNet outputs logits)."""
    clip: bool = False
    """Clip to 0..1 after min-max (u2net does; a no-op up to rounding)."""


FAMILIES: dict[str, Family] = {
    f.name: f for f in (
        Family("u2net", 320, IMAGENET_MEAN, IMAGENET_STD, clip=True),
        Family("isnet", 1024, (0.5, 0.5, 0.5), (1.0, 1.0, 1.0)),
        Family("isnet-anime", 1024, IMAGENET_MEAN, (1.0, 1.0, 1.0)),
        Family("birefnet", 1024, IMAGENET_MEAN, IMAGENET_STD, activation="sigmoid"),
        Family("bria", 1024, IMAGENET_MEAN, IMAGENET_STD),
    )
}


def family(name: str) -> Family:
    """The family called `name`; ValueError names the known ones otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        known = ", ".join(FAMILIES)
        raise ValueError(f"unknown model family {name!r} (known: {known})") from None


def preprocess(rgb: np.ndarray, spec: Family) -> np.ndarray:
    """Model input (1x3xSxS float32) from an HxWx3 uint8 RGB image."""
    resized = Image.fromarray(np.ascontiguousarray(rgb[..., :3])).resize(
        (spec.size, spec.size), Image.Resampling.LANCZOS)
    pixels = np.asarray(resized, dtype=np.float64)
    # The reference divides by the image's own maximum, not by 255: a dark photo is stretched.
    pixels = pixels / max(float(pixels.max()), 1e-6)
    pixels = (pixels - np.asarray(spec.mean)) / np.asarray(spec.std)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)[None], dtype=np.float32)


def postprocess(output: np.ndarray, spec: Family, width: int, height: int) -> np.ndarray:
    """Matte (uint8 `height` x `width`, 255 = foreground) from the model's first output."""
    raw = np.asarray(output, dtype=np.float32)
    # Channel 0 of the batch's first item; 3-D outputs (no channel axis) are taken as they are.
    pred = raw[0, 0] if raw.ndim == 4 else raw[0] if raw.ndim == 3 else raw
    if spec.activation == "sigmoid":
        pred = 1.0 / (1.0 + np.exp(-pred))
    low, high = float(pred.min()), float(pred.max())
    # The reference divides by zero on a flat prediction; it carries no subject.
    scaled = np.zeros_like(pred) if high - low <= 1e-12 else (pred - low) / (high - low)
    if spec.clip:
        scaled = np.clip(scaled, 0.0, 1.0)
    mask = Image.fromarray((scaled * 255).astype(np.uint8), mode="L")
    if mask.size != (width, height):
        mask = mask.resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(mask)
