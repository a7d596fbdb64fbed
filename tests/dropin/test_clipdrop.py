"""Clipdrop drop-in (`POST /remove-background/v1`): the notes' examples, Accept, errors, headers.

Notes: ../shared/vendor-docs/clipdrop-remove-background.md. The fake answers a centre-box cutout.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from litestar.testing import AsyncTestClient
from PIL import Image

from providers.errors import ProviderUnavailable
from tests.dropin.conftest import (
    CLIENT_KEY,
    assert_centre_cutout,
    assert_gateway_headers,
    client_auth,
    dropin_app,
    dropin_settings,
    opened,
    photo,
)
from tests.fakes import FakeProvider

URL = "/remove-background/v1"
KEY = {"x-api-key": CLIENT_KEY}


def upload(data: bytes, name: str = "photo.jpg", kind: str = "image/jpeg") -> dict:
    """The `image_file` part."""
    return {"image_file": (name, data, kind)}


def erased_png(width: int = 80, height: int = 60) -> bytes:
    """An RGBA PNG whose background was already partly erased (left quarter transparent)."""
    rgba = np.full((height, width, 4), 200, np.uint8)
    rgba[:, : width // 4, 3] = 0
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG")
    return buffer.getvalue()


def error(response, status: int) -> str:
    """Clipdrop's `{"error": "<message>"}` with `status`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["error"] and isinstance(body["error"], str) and body["error"]
    return str(body["error"])


@pytest.fixture
async def metered(tmp_path: Path) -> AsyncIterator[tuple[AsyncTestClient, FakeProvider]]:
    """Client auth on, alice has 10 images a month; the provider costs 1 per image."""
    fake = FakeProvider("fake", cost=1.0)
    settings = dropin_settings(tmp_path, client_auth(monthly_quota=10))
    async with AsyncTestClient(app=dropin_app(settings, {"fake": fake})) as client:
        yield client, fake


async def test_example_1_jpeg_no_accept(metered) -> None:
    """Example 1: a 1200x800 JPEG, no Accept -> PNG of 1200x800, consumed 1, remaining n-1."""
    client, _ = metered
    response = await client.post(URL, headers=KEY, files=upload(photo(1200, 800)))
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert_centre_cutout(opened(response.content), 1200, 800)
    assert response.headers["x-credits-consumed"] == "1"
    assert response.headers["x-remaining-credits"] == "9"
    assert_gateway_headers(response.headers)


async def test_example_2_webp_discard_alpha(metered) -> None:
    """Example 2: Accept image/webp + discard_alpha_layer on an erased RGBA PNG -> fresh WebP."""
    client, fake = metered
    response = await client.post(
        URL, headers={**KEY, "Accept": "image/webp"},
        files=upload(erased_png(), "cut.png", "image/png"),
        data={"transparency_handling": "discard_alpha_layer"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/webp"
    assert_centre_cutout(opened(response.content).convert("RGBA"), 80, 60)
    assert len(fake.calls) == 1
    sent = Image.open(io.BytesIO(fake.calls[0].image))
    assert "A" not in sent.getbands()  # the alpha was dropped before the removal
    refused = await client.post(URL, headers={**KEY, "Accept": "text/html"},
                                files=upload(erased_png(), "cut.png", "image/png"),
                                data={"transparency_handling": "discard_alpha_layer"})
    error(refused, 406)


async def test_return_input_if_non_opaque_is_the_default(metered) -> None:
    """An upload that is already cut out comes back as is; no provider, nothing consumed."""
    client, fake = metered
    original = erased_png()
    response = await client.post(URL, headers=KEY, files=upload(original, "cut.png", "image/png"))
    assert response.status_code == 200
    assert response.content == original
    assert response.headers["x-credits-consumed"] == "0"
    assert response.headers["x-foreground-left"] == "20"  # the opaque three quarters
    assert fake.calls == []
    as_jpeg = await client.post(URL, headers={**KEY, "Accept": "image/jpg"},
                                files=upload(original, "cut.png", "image/png"))
    assert as_jpeg.headers["content-type"] == "image/jpeg"
    assert opened(as_jpeg.content).getpixel((0, 0)) == (255, 255, 255)


@pytest.mark.parametrize(("accept", "media"), [
    ("image/png", "image/png"), ("image/webp", "image/webp"), ("image/jpg", "image/jpeg"),
    ("image/jpeg", "image/jpeg"), ("*/*", "image/png"), ("text/html, image/webp;q=0.9",
                                                          "image/webp"),
])
async def test_accept_picks_the_format(client: AsyncTestClient, accept: str, media: str) -> None:
    """The output format follows Accept; JPEG flattens on white; the size is the input's."""
    response = await client.post(URL, headers={"Accept": accept}, files=upload(photo(64, 48)))
    assert response.status_code == 200
    assert response.headers["content-type"] == media
    image = opened(response.content)
    assert image.size == (64, 48)
    if media == "image/jpeg":
        assert min(image.convert("RGB").getpixel((0, 0))) > 240


@pytest.mark.parametrize("args", [
    {},
    {"files": upload(b"plain text", "a.txt", "text/plain")},
    {"files": upload(photo()), "data": {"transparency_handling": "keep"}},
    {"data": {"image_file": "not a file"}},
])
async def test_400s(client: AsyncTestClient, fake: FakeProvider, args: dict) -> None:
    """Missing, invalid or unknown input -> 400 `{"error"}`, no vendor call."""
    error(await client.post(URL, **args), 400)
    assert fake.calls == []


async def test_too_large_is_400(tmp_path: Path) -> None:
    """An image over the gateway's limits -> 400 (Clipdrop: resolution too big is a 400)."""
    settings = dropin_settings(tmp_path, {"server": {"max_megapixels": 0.001}})
    async with AsyncTestClient(app=dropin_app(settings, {"fake": FakeProvider("fake")})) as client:
        error(await client.post(URL, files=upload(photo(64, 48))), 400)


async def test_key_quota_rate_and_server_errors(tmp_path: Path) -> None:
    """401 without a key, 403 with a wrong one, 402 quota spent, 429 + Retry-After, 5xx."""
    settings = dropin_settings(tmp_path, client_auth(monthly_quota=1))
    async with AsyncTestClient(app=dropin_app(settings, {"fake": FakeProvider("fake")})) as client:
        assert error(await client.post(URL, files=upload(photo())), 401) == "No api key provided"
        error(await client.post(URL, files=upload(photo()), headers={"x-api-key": "no"}), 403)
        assert (await client.post(URL, files=upload(photo()), headers=KEY)).status_code == 200
        error(await client.post(URL, files=upload(photo()), headers=KEY), 402)
    settings = dropin_settings(tmp_path / "r", client_auth(rate_limit="1/minute"))
    async with AsyncTestClient(app=dropin_app(settings, {"fake": FakeProvider("fake")})) as client:
        await client.post(URL, files=upload(photo()), headers=KEY)
        limited = await client.post(URL, files=upload(photo()), headers=KEY)
    error(limited, 429)
    assert int(limited.headers["retry-after"]) >= 1
    down = FakeProvider("fake", script=[ProviderUnavailable("down", "fake") for _ in range(5)])
    async with AsyncTestClient(app=dropin_app(dropin_settings(tmp_path / "d"),
                                              {"fake": down})) as client:
        failed = await client.post(URL, files=upload(photo()))
    assert failed.status_code >= 500
    error(failed, failed.status_code)
