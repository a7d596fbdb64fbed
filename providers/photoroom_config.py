"""Configuration of the Photoroom `/v1/segment` adapter."""

from __future__ import annotations

from providers.base import ProviderConfig


class PhotoroomConfig(ProviderConfig, frozen=True, tag="photoroom", tag_field="type"):
    """`type = "photoroom"` (x-api-key; POST /v1/segment; 500 images/minute)."""

    api_key: str | None = None
    base_url: str = "https://sdk.photoroom.com"
    account_url: str = "https://image-api.photoroom.com"
    """Host of `GET /v1/account` (credits and health)."""
    cost: float = 1.0
    """Price of one credit: a full-size image; `size=preview` costs 0.25 of it."""
    rate_limit: str | None = "500/minute"
    priority: int = 50
