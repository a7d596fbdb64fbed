"""Configuration of the remove.bg v1.0 adapter."""

from __future__ import annotations

from typing import Literal

from providers.base import ProviderConfig

SubjectType = Literal[
    "auto", "person", "product", "car", "animal", "graphic", "transportation",
]


class RemoveBgConfig(ProviderConfig, frozen=True, tag="removebg", tag_field="type"):
    """`type = "removebg"` (X-Api-Key; POST /v1.0/removebg; 22 MB, 50 MP in, 25 MP out)."""

    api_key: str | None = None
    base_url: str = "https://api.remove.bg"
    cost: float = 1.0
    """Price of one credit: a full-size image; `size=preview` is charged 0.25 of it."""
    rate_limit: str | None = "500/minute"
    """The vendor counts megapixel units (ceil(MP) per call), so this is an upper bound."""
    priority: int = 40
    subject_type: SubjectType = "auto"
    """Sent as the vendor's `type` field (foreground kind)."""
