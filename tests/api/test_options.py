"""Every option through the real HTTP API with the real local engine (small images)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from litestar.testing import AsyncTestClient
from PIL import Image

from gateway.app import create_app
from providers.local.config import LocalConfig
from providers.local.provider import LocalProvider
from tests.api.conftest import gateway_settings
from tests.synthetic import on_plain, trimap_from_alpha

URL = "/v1/remove-background"


@pytest.fixture(scope="module")
def product() -> tuple[bytes, np.ndarray]:
    """A 256 px product photo on a plain backdrop, as JPEG, with its true alpha."""
    image, alpha = on_plain(seed=3, size=256)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue(), alpha


@pytest.fixture
async def local_client(tmp_path: Path):
    """The app with only the real local provider."""
    provider = LocalProvider("local", LocalConfig())
    app = create_app(gateway_settings(tmp_path), providers={"local": provider})
    async with AsyncTestClient(app=app, timeout=120) as test_client:
        yield test_client


def opened(response) -> Image.Image:
    """Decode an answer."""
    assert response.status_code == 200, response.text
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


async def post(client: AsyncTestClient, image: bytes, **data: str):
    """POST the image with options as form fields."""
    return await client.post(URL, files={"image_file": ("p.jpg", image)}, data=data)


async def test_default_png_cutout_and_headers(local_client, product) -> None:
    data, alpha = product
    response = await post(local_client, data)
    image = opened(response)
    assert response.headers["content-type"] == "image/png"
    assert image.mode == "RGBA" and image.size == (alpha.shape[1], alpha.shape[0])
    matte = np.asarray(image)[..., 3]
    assert matte[0, 0] == 0 and matte[-1, -1] == 0
    assert ((matte > 128) == (alpha > 0.5)).mean() > 0.97
    headers = response.headers
    assert headers["x-provider"] == "local" and headers["x-attempts"] == "local=ok"
    assert headers["x-emulated"] == "" and headers["x-cost"] == "0"
    assert (headers["x-width"], headers["x-height"]) == (str(image.width), str(image.height))
    timing = headers["server-timing"]
    for part in ("provider;dur=", "postprocess;dur=", "overhead;dur=", "total;dur="):
        assert part in timing


async def test_format_jpg_flattens_on_white(local_client, product) -> None:
    response = await post(local_client, product[0], format="jpg")
    image = opened(response)
    assert image.format == "JPEG" and image.mode == "RGB"
    assert min(image.getpixel((0, 0))) > 240
    assert response.headers["x-emulated"] == "format"


async def test_webp_crop_white_is_the_readme_example(local_client, product) -> None:
    response = await post(local_client, product[0], format="webp", crop="true", bg_color="white")
    image = opened(response)
    assert image.format == "WEBP"
    width, height = Image.open(io.BytesIO(product[0])).size
    assert image.width < width and image.height < height
    assert set(response.headers["x-emulated"].split(",")) == {"format", "crop", "bg_color"}


async def test_channels_alpha_is_single_channel(local_client, product) -> None:
    image = opened(await post(local_client, product[0], channels="alpha"))
    assert image.mode == "L"
    matte = np.asarray(image)
    assert matte[0, 0] == 0 and matte[matte.shape[0] // 2, matte.shape[1] // 2] == 255


async def test_size_preview_caps_pixels_and_keeps_aspect(local_client) -> None:
    big, _ = on_plain(seed=5, size=768)
    wide = big.resize((1200, 600))
    buffer = io.BytesIO()
    wide.save(buffer, format="JPEG")
    image = opened(await post(local_client, buffer.getvalue(), size="preview"))
    assert image.width * image.height <= 250_000
    assert abs(image.width / image.height - 2.0) < 0.02


async def test_size_never_upscales(local_client, product) -> None:
    image = opened(await post(local_client, product[0], size="hd"))
    assert image.size == Image.open(io.BytesIO(product[0])).size


async def test_crop_margin_grows_the_crop(local_client, product) -> None:
    tight = opened(await post(local_client, product[0], crop="true"))
    loose = opened(await post(local_client, product[0], crop="true", crop_margin="10px"))
    full_width = Image.open(io.BytesIO(product[0])).width
    assert loose.width >= min(tight.width + 10, full_width)
    assert loose.width > tight.width


async def test_bg_color_with_alpha(local_client, product) -> None:
    image = opened(await post(local_client, product[0], bg_color="#ff000080"))
    assert image.mode == "RGBA"
    r, g, b, a = image.getpixel((0, 0))
    assert (r, g, b) == (255, 0, 0) and 120 <= a <= 136


async def test_despill_is_reported(local_client, product) -> None:
    response = await post(local_client, product[0], despill="yes")
    opened(response)
    assert response.headers["x-emulated"] == "despill"


async def test_trimap_is_native_for_local_and_clamps(local_client, product) -> None:
    data, alpha = product
    trimap = trimap_from_alpha(alpha, band=6)
    buffer = io.BytesIO()
    Image.fromarray(trimap).save(buffer, format="PNG")
    response = await local_client.post(
        URL, files={"image_file": ("p.jpg", data), "trimap_file": ("t.png", buffer.getvalue())}
    )
    matte = np.asarray(opened(response))[..., 3]
    assert response.headers["x-emulated"] == ""
    assert (matte[trimap == 0] == 0).all() and (matte[trimap == 255] == 255).all()


async def test_json_in_json_out(local_client, product) -> None:
    response = await local_client.post(
        URL, json={"image_base64": base64.b64encode(product[0]).decode(), "Format": "WEBP"},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["media_type"] == "image/webp" and body["provider"] == "local"
    assert body["attempts"][0]["provider"] == "local" and body["attempts"][0]["outcome"] == "ok"
    assert body["emulated"] == ["format"] and body["request_id"] == response.headers["x-request-id"]
    image = Image.open(io.BytesIO(base64.b64decode(body["image_base64"])))
    assert image.size == (body["width"], body["height"])


async def test_request_id_is_echoed(local_client, product) -> None:
    response = await local_client.post(URL, files={"image_file": ("p.jpg", product[0])},
                                       headers={"x-request-id": "order-42"})
    assert response.headers["x-request-id"] == "order-42"


async def test_providers_health_ready_schema(local_client) -> None:
    providers = (await local_client.get("/v1/providers")).json()["providers"]
    assert providers[0]["name"] == "local" and providers[0]["circuit"] == "closed"
    assert (await local_client.get("/health")).json() == {"status": "ok"}
    ready = await local_client.get("/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    schema = (await local_client.get("/schema/openapi.json")).json()
    assert "/v1/remove-background" in schema["paths"]
