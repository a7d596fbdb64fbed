"""Configuration of the BackgroundCut v3 adapter."""

from __future__ import annotations

from typing import Literal

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
    output_type: Literal["rgba", "mask"] = "rgba"
    """`rgba`: a PNG cutout; `mask`: a grayscale JPEG matte."""
    source_quality: int = 95
    """JPEG quality of the source upload when the original is not already a plain RGB JPEG."""
    trimap_quality: int = 100
    """JPEG quality of the trimap upload: high, so the 0/128/255 zones survive compression."""

    def __post_init__(self) -> None:
        """Reject qualities outside the vendor's 1-100 range."""
        for quality in (self.output_compression, self.source_quality, self.trimap_quality):
            if not 1 <= quality <= 100:
                raise ValueError("JPEG qualities must be between 1 and 100")
