"""Configuration of the BackgroundErase v2 adapter."""

from __future__ import annotations

from providers.base import ProviderConfig


class BackgroundEraseConfig(ProviderConfig, frozen=True, tag="backgrounderase", tag_field="type"):
    """`type = "backgrounderase"` (x-api-key; POST /v2; format/channels/size/crop/bg/despill)."""

    api_key: str | None = None
    base_url: str = "https://api.backgrounderase.com"
    cost: float = 1.0
    priority: int = 20
