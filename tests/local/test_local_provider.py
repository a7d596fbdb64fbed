"""`LocalProvider` end to end: request bytes in, grayscale PNG mask out."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from providers.base import Provider, ProviderRequest
from providers.errors import ProviderRejected, ProviderTimeout
from providers.images import encode_png
from providers.local.config import LocalConfig
from providers.local.provider import LocalProvider
from tests.local.tiny_models import build
from tests.synthetic import iou, on_plain, trimap_from_alpha


def _request(image: bytes, trimap: bytes | None = None, deadline_in: float = 60.0,
             size: tuple[int, int] = (0, 0)) -> ProviderRequest:
    return ProviderRequest(
        image=image, image_format="png", width=size[0], height=size[1], request_id="req-1",
        deadline=time.monotonic() + deadline_in, trimap=trimap,
    )


def _decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.fixture(params=["classic", "onnx"])
def provider(request: pytest.FixtureRequest, tmp_path: Path) -> LocalProvider:
    """The classic engine, and the ONNX engine on a tiny saliency model (isnet interface)."""
    neural = request.param == "onnx"
    if neural:
        build(tmp_path / "isnet-general-use.onnx", "isnet", "saliency")
    config = LocalConfig(work_long_side=256, cost=0.0, rate_limit="50/second",
                         engine=request.param, model_dir=str(tmp_path),
                         model="isnet-general-use" if neural else None)
    return LocalProvider("local", config)


def _min_iou(provider: LocalProvider) -> float:
    """The classic engine keys the plain backdrop well; the tiny test model is only a crude
    darkness detector (it misses the products' light labels), so it is held to less."""
    return 0.95 if provider.choice.engine == "classic" else 0.85


def test_capabilities_and_protocol(provider: LocalProvider) -> None:
    assert isinstance(provider, Provider)
    caps = provider.capabilities
    assert caps.output == "mask"
    assert caps.native == frozenset({"trimap"})
    assert caps.rate_limit == "50/second" and caps.cost == 0.0


async def test_mask_comes_back_as_grayscale_png(provider: LocalProvider) -> None:
    image, alpha = on_plain(6, 384)
    result = await provider.remove_background(_request(encode_png(image), size=image.size))
    assert result.kind == "mask" and result.media_type == "image/png"
    assert result.provider == "local" and result.latency_s > 0
    mask = _decode(result.data)
    assert mask.mode == "L"
    if provider.choice.engine == "classic":
        # Working resolution: long side 256, aspect kept.
        assert max(mask.size) == 256 and result.metadata["resolution"] == "working"
    else:
        # A model's matte comes back at full resolution, its edge refined there.
        assert mask.size == image.size and result.metadata["resolution"] == "full"
        assert result.metadata["model"] == "isnet-general-use"
    assert abs(mask.width / mask.height - image.width / image.height) < 0.02
    upscaled = np.asarray(mask.resize(image.size, Image.Resampling.BICUBIC))
    assert iou(upscaled, alpha) >= _min_iou(provider)


async def test_trimap_request_returns_a_full_resolution_clamped_matte(
    provider: LocalProvider,
) -> None:
    image, alpha = on_plain(8, 320)
    trimap = trimap_from_alpha(alpha, band=6)
    request = _request(encode_png(image), encode_png(Image.fromarray(trimap)), size=image.size)
    result = await provider.remove_background(request)
    mask = np.asarray(_decode(result.data))
    assert mask.shape == trimap.shape
    assert np.all(mask[trimap == 0] == 0) and np.all(mask[trimap == 255] == 255)
    assert iou(mask, alpha) >= 0.97
    assert result.metadata["resolution"] == "full"


async def test_one_sided_trimap_only_clamps_the_engine_matte(provider: LocalProvider) -> None:
    image, alpha = on_plain(9, 256)
    trimap = np.full(alpha.shape, 128, np.uint8)
    trimap[:8] = 0
    request = _request(encode_png(image), encode_png(Image.fromarray(trimap)), size=image.size)
    mask = np.asarray(_decode((await provider.remove_background(request)).data))
    assert mask.shape == alpha.shape
    assert np.all(mask[:8] == 0)
    assert iou(mask, alpha) >= _min_iou(provider)


async def test_spent_deadline_times_out(provider: LocalProvider) -> None:
    image, _ = on_plain(1, 128)
    with pytest.raises(ProviderTimeout):
        await provider.remove_background(_request(encode_png(image), deadline_in=-1.0))


async def test_garbage_bytes_are_rejected_without_fallback(provider: LocalProvider) -> None:
    with pytest.raises(ProviderRejected) as caught:
        await provider.remove_background(_request(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64))
    assert caught.value.fallback is False
    assert caught.value.provider == "local"


async def test_trimap_of_another_size_is_rejected(provider: LocalProvider) -> None:
    image, _ = on_plain(2, 128)
    trimap = encode_png(Image.new("L", (image.width + 3, image.height), 128))
    with pytest.raises(ProviderRejected, match="trimap"):
        await provider.remove_background(_request(encode_png(image), trimap))


async def test_jpeg_input_and_aclose(provider: LocalProvider) -> None:
    image, alpha = on_plain(3, 300)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    result = await provider.remove_background(_request(buffer.getvalue(), size=image.size))
    mask = _decode(result.data).resize(image.size, Image.Resampling.BICUBIC)
    assert iou(np.asarray(mask), alpha) >= _min_iou(provider)
    await provider.aclose()
