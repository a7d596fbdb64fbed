"""Configuration of the local provider."""

from __future__ import annotations

from typing import Literal

from providers.base import ProviderConfig


class LocalConfig(ProviderConfig, frozen=True, tag="local", tag_field="type"):
    """`type = "local"`: the offline engine (no key, no network)."""

    priority: int = 100
    engine: Literal["classic"] = "classic"
    """Which local engine computes the matte; `classic` needs no model weights."""
    work_long_side: int = 1024
    """Long side of the working copy the coarse matte is computed on."""
    matting_max_pixels: int = 250_000
    """Cap on the pixels of the trimap band solved by closed-form matting (bounds memory)."""
