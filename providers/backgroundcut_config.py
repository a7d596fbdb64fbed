"""Configuration of the BackgroundCut v3 adapter."""

from __future__ import annotations

from providers.base import ProviderConfig


class BackgroundCutConfig(ProviderConfig, frozen=True, tag="backgroundcut", tag_field="type"):
    """`type = "backgroundcut"` (Authorization: Token; trimap matting via uploaded keys)."""

    api_key: str | None = None
    base_url: str = "https://api.backgroundcut.co"
    cost: float = 1.0
    priority: int = 30
    key_prefix: str = "bg-gateway"
    """Folder in the vendor's space under which per-request keys are created."""
    output_compression: int = 95
