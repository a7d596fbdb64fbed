"""Configuration of the local provider."""

from __future__ import annotations

from typing import Literal

from providers.base import ProviderConfig
from providers.local.families import FAMILIES
from providers.local.models import CATALOGUE


class LocalConfig(ProviderConfig, frozen=True, tag="local", tag_field="type"):
    """`type = "local"`: the offline engine (no key, no network)."""

    priority: int = 100
    engine: Literal["auto", "onnx", "classic"] = "auto"
    """`auto`: the ONNX model when its file is present and loads, else classic (no weights)."""
    model: str | None = None
    """A catalogue name looked up in the model directory; `auto` without one takes the first
    catalogue model present."""
    model_path: str | None = None
    """Any compatible ONNX file instead of a catalogue model (needs `model_family`)."""
    model_family: str | None = None
    """Pre/post-processing of `model_path`: u2net, isnet, isnet-anime, birefnet or bria."""
    model_dir: str | None = None
    """Where catalogue models live; else $BG_GATEWAY_MODEL_DIR, else ~/.cache/bg-gateway/models."""
    max_concurrency: int = 0
    """Computations at once in this process (more wait in a queue); 0: one for an ONNX model,
    one per core for the classic engine."""
    max_queue: int = 32
    """Requests allowed to wait; one more is refused as `busy` (the router tries the next)."""
    intra_op_threads: int = 0
    """ONNX Runtime threads per inference; 0 lets ONNX Runtime choose (one per core)."""
    refine: bool = True
    """Refine the model's matte at full resolution in the band around the edge."""
    work_long_side: int = 1024
    """Long side of the working copy the classic engine computes its matte on."""
    matting_max_pixels: int = 250_000
    """Cap on the pixels of the trimap band solved by closed-form matting (bounds memory)."""

    def __post_init__(self) -> None:
        """Checks that need no file system: names, pairs of keys, ranges."""
        if self.model is not None and self.model_path is not None:
            raise ValueError("set `model` (a catalogue name) or `model_path`, not both")
        if self.model is not None and self.model not in CATALOGUE:
            raise ValueError(f"unknown model {self.model!r}; `bg-gateway models list` shows "
                             f"the catalogue ({', '.join(CATALOGUE)})")
        if self.model_path is not None and self.model_family is None:
            raise ValueError(f"`model_path` needs `model_family` ({', '.join(FAMILIES)})")
        if self.model_family is not None and self.model_family not in FAMILIES:
            raise ValueError(f"unknown model_family {self.model_family!r} "
                             f"(known: {', '.join(FAMILIES)})")
        if self.engine == "onnx" and self.model is None and self.model_path is None:
            raise ValueError("engine = \"onnx\" needs `model` or `model_path`")
        if min(self.max_concurrency, self.max_queue, self.intra_op_threads) < 0:
            raise ValueError("max_concurrency, max_queue and intra_op_threads must be >= 0")
