"""`LocalProvider`: the offline engine behind the Provider protocol (answers with a mask)."""

from __future__ import annotations

import io
import os
import time
from functools import partial

import numpy as np
import structlog
from PIL import Image

from providers.base import Capabilities, ProviderRequest, ProviderResult
from providers.errors import ProviderRejected, ProviderTimeout
from providers.images import encode_png, open_rgb
from providers.local.choice import EngineChoice, choose_engine
from providers.local.config import LocalConfig
from providers.local.engine import MatteEngine
from providers.local.gate import InferenceGate
from providers.local.matting import clamp_to_trimap, has_both_sides, matte_from_trimap
from providers.local.raster import downscale_rgb, upscale_matte
from providers.local.refine import refine_matte

_DECODE_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


class LocalProvider:
    """Computes mattes on this machine, in worker threads, without network.

    The engine is chosen once (`choice.choose_engine`): an ONNX model, or the classic engine
    when there is none. The classic engine's matte comes back at the working resolution (long
    side `config.work_long_side`; post-processing upscales it). An ONNX model's matte comes back
    at the image's full resolution, its edge band refined against the photo when
    `config.refine`. With a trimap the matte is full resolution, the unknown band solved by
    closed-form matting. At most `max_concurrency` computations run at once; see `gate`.
    """

    def __init__(self, name: str, config: LocalConfig,
                 engine: tuple[MatteEngine, EngineChoice] | None = None) -> None:
        self.name = name
        self.config = config
        self.capabilities = Capabilities(
            output="mask", native=frozenset({"trimap"}),
            cost=config.cost, rate_limit=config.rate_limit,
        )
        self.engine, self.choice = engine or choose_engine(name, config)
        # A fresh logger, not a module-level one: a cached logger would ignore later
        # reconfiguration (log format set after import, tests capturing the start-up line).
        structlog.get_logger("providers.local").info(
            "local_engine", provider=name, engine=self.choice.engine, model=self.choice.model,
            reason=self.choice.reason)
        # CPU-bound work: more threads than cores only adds memory, not throughput; a model's
        # activations are large, so by default it runs one inference at a time.
        neural = self.choice.engine != "classic"
        concurrency = config.max_concurrency or (1 if neural else max(1, os.cpu_count() or 1))
        self.gate = InferenceGate(name, concurrency, config.max_queue)

    def details(self) -> dict[str, str | bool | None]:
        """Engine, model, family and licence, for GET /v1/providers."""
        choice = self.choice
        return {"engine": choice.engine, "model": choice.model, "family": choice.family,
                "licence": choice.licence, "commercial_use": choice.commercial,
                "reason": choice.reason}

    async def remove_background(self, request: ProviderRequest) -> ProviderResult:
        """Matte of `request.image` as an 8-bit grayscale PNG (255 = foreground)."""
        started = time.monotonic()
        self._check_deadline(request.deadline)
        png, resolution = await self.gate.run(partial(self._compute, request), request.deadline)
        return ProviderResult(
            data=png, media_type="image/png", kind="mask", provider=self.name,
            latency_s=time.monotonic() - started, cost=self.config.cost,
            metadata={"engine": self.choice.engine, "resolution": resolution,
                      **({"model": self.choice.model} if self.choice.model else {})},
        )

    async def aclose(self) -> None:
        """Nothing to release: sessions are shared per process, threads belong to the loop."""

    def _compute(self, request: ProviderRequest) -> tuple[bytes, str]:
        """Decode, matte and encode (runs in a worker thread); returns (PNG, resolution used)."""
        rgb = np.asarray(self._decode(request.image))
        self._check_deadline(request.deadline)
        if request.trimap is None:
            matte, resolution = self._matte(rgb)
        else:
            matte = self._matte_with_trimap(rgb, self._decode_trimap(request.trimap, rgb.shape))
            resolution = "full"
        self._check_deadline(request.deadline)
        return encode_png(Image.fromarray(matte)), resolution

    def _matte(self, rgb: np.ndarray) -> tuple[np.ndarray, str]:
        """The engine's matte and its resolution (`working` or `full`)."""
        if self.choice.model_side is None:
            return self.engine.matte(downscale_rgb(rgb, self.config.work_long_side)), "working"
        # The model resizes the full image itself, as the reference does; its matte comes
        # back at full size, where the edge band is refined against the photo.
        matte = self.engine.matte(rgb)
        if self.config.refine:
            matte = refine_matte(rgb, matte, self.choice.model_side)
        return matte, "full"

    def _matte_with_trimap(self, rgb: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        """Full-resolution matte: the trimap's band solved, or the coarse matte clamped to it."""
        if has_both_sides(trimap):
            return matte_from_trimap(rgb, trimap, self.config.matting_max_pixels)
        # Closed-form matting needs known foreground and background; without both the
        # trimap only constrains the engine's own matte.
        coarse, _ = self._matte(rgb)
        return clamp_to_trimap(upscale_matte(coarse, rgb.shape[1], rgb.shape[0]), trimap)

    def _decode(self, data: bytes) -> Image.Image:
        """The request image as RGB, or ProviderRejected."""
        try:
            return open_rgb(data)
        except _DECODE_ERRORS as exc:
            raise ProviderRejected("image cannot be decoded", provider=self.name) from exc

    def _decode_trimap(self, data: bytes, shape: tuple[int, ...]) -> np.ndarray:
        """The trimap as uint8 HxW matching the image, or ProviderRejected."""
        try:
            with Image.open(io.BytesIO(data)) as image:
                trimap = np.asarray(image.convert("L"))
        except _DECODE_ERRORS as exc:
            raise ProviderRejected("trimap cannot be decoded", provider=self.name) from exc
        if trimap.shape != shape[:2]:
            raise ProviderRejected("trimap size differs from the image's", provider=self.name)
        return trimap

    def _check_deadline(self, deadline: float) -> None:
        """ProviderTimeout when `deadline` (time.monotonic) has passed."""
        if time.monotonic() >= deadline:
            raise ProviderTimeout("local engine deadline spent", provider=self.name)
