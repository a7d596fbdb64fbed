"""Configuration of the self-hosted rembg server adapter (`rembg s`)."""

from __future__ import annotations

from providers.base import ProviderConfig

#: Session names of rembg v2.0.77 whose answer is one mask at the input's size without extras
#: (u2net_cloth_seg stacks several masks; the *_custom models need a `model_path` extra).
MODELS = frozenset({
    "birefnet-general", "birefnet-general-lite", "birefnet-portrait", "birefnet-dis",
    "birefnet-hrsod", "birefnet-cod", "birefnet-massive", "isnet-anime", "isnet-general-use",
    "sam", "silueta", "u2net_human_seg", "u2net", "u2netp", "bria-rmbg",
})


class RembgConfig(ProviderConfig, frozen=True, tag="rembg", tag_field="type"):
    """`type = "rembg"` (no key; enabled by `base_url`; always answers PNG)."""

    base_url: str = ""
    """Where `rembg s` listens, e.g. `http://rembg:7000`; empty: the provider is disabled."""
    cost: float = 0.0
    priority: int = 80
    timeout_s: float = 120.0
    model: str = "isnet-general-use"
    alpha_matting: bool = False
    """`a`: pymatting closed-form alpha from a trimap of the mask (slower, softer edges)."""
    alpha_matting_foreground_threshold: int = 240
    alpha_matting_background_threshold: int = 10
    alpha_matting_erode_size: int = 10
    post_process_mask: bool = False
    """`ppm`: a hard 0/255 mask (opening, blur, threshold)."""
    only_mask: bool = False
    """`om`: ask for the greyscale mask (smaller answer); the gateway applies it."""

    def __post_init__(self) -> None:
        """Reject values the server would refuse (422) or fail on (500)."""
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(sorted(MODELS))}")
        thresholds = (self.alpha_matting_foreground_threshold,
                      self.alpha_matting_background_threshold)
        if not all(0 <= value <= 255 for value in thresholds):
            raise ValueError("alpha matting thresholds must be between 0 and 255")
        if self.alpha_matting_erode_size < 0:
            raise ValueError("alpha_matting_erode_size must be >= 0")
