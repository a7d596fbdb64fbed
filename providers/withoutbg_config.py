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
    upload_limit_bytes: int = 10 * 1024 * 1024
    """Largest upload sent to the vendor (its documented 10 MB; lower it for sandboxes/tests)."""

    def __post_init__(self) -> None:
        """Reject knobs outside what the vendor documents (proxy JPEG quality >= 90)."""
        if not 90 <= self.proxy_quality <= 100:
            raise ValueError("proxy_quality must be between 90 and 100")
        if self.proxy_long_side < 1 or self.upload_limit_bytes < 1:
            raise ValueError("proxy_long_side and upload_limit_bytes must be positive")
