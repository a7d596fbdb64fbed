"""Live calls to the real vendors; skipped unless their API keys are in the environment."""

from __future__ import annotations

import os
import time

import httpx
import pytest

from providers.backgroundcut import BackgroundCutProvider
from providers.backgroundcut_config import BackgroundCutConfig
from providers.backgrounderase import BackgroundEraseProvider
from providers.backgrounderase_config import BackgroundEraseConfig
from providers.base import OutputOptions, ProviderRequest
from providers.withoutbg import WithoutBGProvider
from providers.withoutbg_config import WithoutBGConfig
from tests.imaging import decode
from tests.providers.provider_kit import provider_request

pytestmark = pytest.mark.live


def _key(variable: str) -> str:
    key = os.environ.get(variable)
    if not key:
        pytest.skip(f"{variable} is not set")
    return key


def _request(trimap: bool = False, options: OutputOptions | None = None) -> ProviderRequest:
    request = provider_request(256, 170, fmt="jpeg", options=options, trimap=trimap)
    return ProviderRequest(
        image=request.image, image_format=request.image_format, width=request.width,
        height=request.height, request_id=f"live-{int(time.time())}",
        deadline=time.monotonic() + 90, options=request.options, trimap=request.trimap,
    )


async def test_withoutbg_returns_a_proxy_matte_and_reports_credits() -> None:
    config = WithoutBGConfig(api_key=_key("WITHOUTBG_API_KEY"))
    async with httpx.AsyncClient() as client:
        provider = WithoutBGProvider("withoutbg", config, client)
        credits = await provider.credits()
        result = await provider.remove_background(_request())

    assert credits is None or credits >= 0
    matte = decode(result.data).convert("L")
    assert result.kind == "mask"
    assert matte.width / matte.height == pytest.approx(256 / 170, rel=0.02)
    assert matte.getpixel((0, 0)) < 64
    assert matte.getpixel((matte.width // 2, matte.height // 2)) > 192


async def test_backgrounderase_passes_through_a_cropped_png() -> None:
    config = BackgroundEraseConfig(api_key=_key("BACKGROUNDERASE_API_KEY"))
    async with httpx.AsyncClient() as client:
        provider = BackgroundEraseProvider("backgrounderase", config, client)
        healthy = await provider.health()
        result = await provider.remove_background(_request(options=OutputOptions(crop=True)))

    image = decode(result.data)
    assert healthy
    assert result.final and result.media_type == "image/png"
    assert image.mode == "RGBA"
    assert image.width < 256 and image.height < 170


async def test_backgroundcut_mattes_with_the_trimap() -> None:
    key = _key("BACKGROUNDCUT_API_KEY")
    config = BackgroundCutConfig(api_key=key, key_prefix="bg-gateway-live")
    async with httpx.AsyncClient() as client:
        provider = BackgroundCutProvider("backgroundcut", config, client)
        result = await provider.remove_background(_request(trimap=True))

    image = decode(result.data).convert("RGBA")
    assert image.size == (256, 170)
    assert image.getpixel((0, 0))[3] < 16
    assert image.getpixel((128, 85))[3] > 240
