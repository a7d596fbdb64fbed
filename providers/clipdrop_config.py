"""Configuration of the Clipdrop remove-background adapter."""

from __future__ import annotations

from typing import Literal

from providers.base import ProviderConfig


class ClipdropConfig(ProviderConfig, frozen=True, tag="clipdrop", tag_field="type"):
    """`type = "clipdrop"` (x-api-key; POST /remove-background/v1; 30 MB, 25 MP)."""

    api_key: str | None = None
    base_url: str = "https://clipdrop-api.co"
    cost: float = 1.0
    """Price of one credit (one image)."""
    priority: int = 60
    transparency_handling: Literal["discard_alpha_layer", "return_input_if_non_opaque"] = (
        "discard_alpha_layer"
    )
    """`discard_alpha_layer`: segment an RGBA upload afresh, as every other provider does."""
