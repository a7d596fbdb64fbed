"""Configuration of the withoutBG adapter."""

from __future__ import annotations

from typing import Literal

from providers.base import ProviderConfig


class WithoutBGConfig(ProviderConfig, frozen=True, tag="withoutbg", tag_field="type"):
    """`type = "withoutbg"` (X-API-Key; 10 MB; 7 requests/minute)."""

    api_key: str | None = None
    base_url: str = "https://api.withoutbg.com"
    rate_limit: str | None = "7/minute"
    cost: float = 1.0
    priority: int = 10
    upload: Literal["proxy", "original"] = "proxy"
    """`proxy`: send a 1024 px JPEG and apply the matte locally (the documented master flow)."""
    endpoint: Literal["alpha", "cutout"] = "alpha"
    proxy_long_side: int = 1024
    proxy_quality: int = 92
