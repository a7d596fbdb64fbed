"""`LocalProvider`: the offline engine behind the Provider protocol (answers with a mask)."""

from __future__ import annotations

import io
import os
import time

import anyio
import anyio.to_thread
import numpy as np
from PIL import Image

from providers.base import Capabilities, ProviderRequest, ProviderResult
from providers.errors import ProviderRejected, ProviderTimeout
from providers.images import encode_png, open_rgb
from providers.local.config import LocalConfig
from providers.local.engine import MatteEngine, make_engine
from providers.local.matting import clamp_to_trimap, has_both_sides, matte_from_trimap
from providers.local.raster import downscale_rgb, upscale_matte

_DECODE_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


class LocalProvider:
    """Computes mattes on this machine, in worker threads, without network or model weights.

    Without a trimap the matte comes back at the working resolution (long side
    `config.work_long_side`); post-processing upscales it. With a trimap it comes back at the
    image's full resolution, the unknown band solved by closed-form matting (downscaled first
    when the band's box exceeds `config.matting_max_pixels`).
    """

    def __init__(self, name: str, config: LocalConfig) -> None:
        self.name = name
        self.config = config
        self.capabilities = Capabilities(
            output="mask", native=frozenset({"trimap"}),
            cost=config.cost, rate_limit=config.rate_limit,
        )
        self.engine: MatteEngine = make_engine(config.engine, config.work_long_side)
        # CPU-bound work: more threads than cores only adds memory, not throughput.
        self._limiter = anyio.CapacityLimiter(max(1, os.cpu_count() or 1))

    async def remove_background(self, request: ProviderRequest) -> ProviderResult:
        """Matte of `request.image` as an 8-bit grayscale PNG (255 = foreground)."""
        started = time.monotonic()
        self._check_deadline(request.deadline)
        png, resolution = await anyio.to_thread.run_sync(
            self._compute, request, abandon_on_cancel=True, limiter=self._limiter,
        )
        return ProviderResult(
            data=png, media_type="image/png", kind="mask", provider=self.name,
            latency_s=time.monotonic() - started, cost=self.config.cost,
            metadata={"engine": self.engine.name, "resolution": resolution},
        )

    async def aclose(self) -> None:
        """Nothing to release: no connections, threads belong to anyio's pool."""

    def _compute(self, request: ProviderRequest) -> tuple[bytes, str]:
        """Decode, matte and encode (runs in a worker thread); returns (PNG, resolution used)."""
        rgb = np.asarray(self._decode(request.image))
        self._check_deadline(request.deadline)
        if request.trimap is None:
            matte = self.engine.matte(downscale_rgb(rgb, self.config.work_long_side))
            resolution = "working"
        else:
            matte = self._matte_with_trimap(rgb, self._decode_trimap(request.trimap, rgb.shape))
            resolution = "full"
        self._check_deadline(request.deadline)
        return encode_png(Image.fromarray(matte)), resolution

    def _matte_with_trimap(self, rgb: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        """Full-resolution matte: the trimap's band solved, or the coarse matte clamped to it."""
        if has_both_sides(trimap):
            return matte_from_trimap(rgb, trimap, self.config.matting_max_pixels)
        # Closed-form matting needs known foreground and background; without both the
        # trimap only constrains the engine's own matte.
        coarse = self.engine.matte(downscale_rgb(rgb, self.config.work_long_side))
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
