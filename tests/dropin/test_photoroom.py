"""Photoroom drop-in (`POST /v1/segment`): the notes' examples, fields, headers and error shapes.

Notes: ../shared/vendor-docs/photoroom-v1-segment.md. The fake answers a centre-box cutout.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from gateway.api.dropin_photoroom import uncertainty
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

URL = "/v1/segment"
KEY = {"x-api-key": CLIENT_KEY}
JPEG = photo(96, 64)


def upload(data: bytes = JPEG) -> dict[str, tuple[str, bytes, str]]:
    """The `image_file` part as the samples send it (filename and MIME type)."""
    return {"image_file": ("photo.jpg", data, "image/jpeg")}


def three_fields(response, status: int, kind: str) -> str:
    """Photoroom's `{"detail", "status_code", "type"}` error; returns the detail."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "status_code", "type"}
    assert (body["status_code"], body["type"]) == (status, kind)
    return str(body["detail"])


async def test_example_1_image_file_only(client: AsyncTestClient) -> None:
    """Example 1: `x-api-key` + `image_file` only -> transparent PNG, same size, a score."""
    response = await client.post(URL, headers=KEY, files=upload())
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert_centre_cutout(opened(response.content), 96, 64)
    assert_gateway_headers(response.headers)
    assert 0.0 <= float(response.headers["x-uncertainty-score"]) <= 1.0


async def test_example_2_preview_jpg_white_crop(client: AsyncTestClient) -> None:
    """Example 2: size=preview, format=jpg, bg_color=#FFFFFF, crop=true -> a trimmed JPEG."""
    response = await client.post(URL, headers=KEY, files=upload(photo(1000, 800)),
                                 data={"size": "preview", "format": "jpg",
                                       "bg_color": "#FFFFFF", "crop": "true"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    image = opened(response.content)
    assert image.mode == "RGB"
    assert image.width * image.height <= 250_000 and image.width < 1000 * 0.6
    assert abs(image.width / image.height - 500 / 400) < 0.05  # the centre box's aspect
    assert float(response.headers["x-uncertainty-score"]) == -1  # no alpha to measure


@pytest.mark.parametrize(("fields", "mode"), [
    ({"channels": "alpha"}, "L"), ({"format": "webp"}, "RGBA"), ({"bg_color": "red"}, "RGB"),
    ({"despill": "true", "size": "medium", "bg_color": "FF00FF"}, "RGB"),
    ({"format": "jpg"}, "RGB"),
])
async def test_fields(client: AsyncTestClient, fields: dict[str, str], mode: str) -> None:
    """Every documented field; `format=jpg` without bg_color flattens on white."""
    response = await client.post(URL, files=upload(), data=fields)
    assert response.status_code == 200, response.text
    image = opened(response.content)
    assert image.mode == mode and image.size == (96, 64)
    if fields == {"format": "jpg"}:
        assert min(image.getpixel((0, 0))) > 240


async def test_json_answer(client: AsyncTestClient) -> None:
    """`Accept: application/json` -> `{"base64img": …}`."""
    response = await client.post(URL, files=upload(), headers={"Accept": "application/json"})
    body = response.json()
    assert list(body) == ["base64img"]
    assert_centre_cutout(opened(base64.b64decode(body["base64img"])), 96, 64)


@pytest.mark.parametrize(("args", "kind"), [
    ({}, "missing_image"),
    ({"json": {"image_file": base64.b64encode(JPEG).decode()}}, "missing_image"),
    ({"files": upload(), "data": {"format": "gif"}}, "invalid_option"),
    ({"files": upload(), "data": {"size": "huge"}}, "invalid_option"),
    ({"files": upload(), "data": {"crop": "sometimes"}}, "invalid_option"),
    ({"files": upload(), "data": {"bg_color": "#GGG"}}, "invalid_option"),
    ({"files": upload(b"not an image")}, "unsupported_media_type"),
])
async def test_400s(client: AsyncTestClient, fake: FakeProvider, args: dict, kind: str) -> None:
    """Bad input -> 400 in the three-field shape (the spec's example verbatim), no vendor call."""
    detail = three_fields(await client.post(URL, **args), 400, kind)
    if kind == "missing_image":
        assert detail == "Please provide an image."
    assert fake.calls == []


async def test_key_quota_rate_and_server_errors(tmp_path: Path) -> None:
    """403 on a wrong/missing key, 402 when the quota is spent, 429 + Retry-After, 5xx shape."""
    settings = dropin_settings(tmp_path, client_auth(monthly_quota=1))
    async with AsyncTestClient(app=dropin_app(settings, {"fake": FakeProvider("fake")})) as client:
        three_fields(await client.post(URL, files=upload(), headers={"x-api-key": "no"}),
                     403, "unauthorized")
        three_fields(await client.post(URL, files=upload()), 403, "unauthorized")
        assert (await client.post(URL, files=upload(), headers={"X-API-Key": CLIENT_KEY})
                ).status_code == 200
        three_fields(await client.post(URL, files=upload(), headers=KEY), 402,
                     "insufficient_credits")
    settings = dropin_settings(tmp_path / "r", client_auth(rate_limit="1/minute"))
    async with AsyncTestClient(app=dropin_app(settings, {"fake": FakeProvider("fake")})) as client:
        await client.post(URL, files=upload(), headers=KEY)
        limited = await client.post(URL, files=upload(), headers=KEY)
    three_fields(limited, 429, "rate_limit_exceeded")
    assert int(limited.headers["retry-after"]) >= 1
    down = FakeProvider("fake", script=[ProviderUnavailable("down", "fake") for _ in range(5)])
    app = dropin_app(dropin_settings(tmp_path / "d"), {"fake": down})
    async with AsyncTestClient(app=app) as client:
        failed = await client.post(URL, files=upload())
    assert failed.status_code >= 500
    assert set(failed.json()) == {"error"} and failed.json()["error"]["message"]


def test_uncertainty_score() -> None:
    """Share of the subject's pixels with undecided alpha."""
    import io

    import numpy as np
    from PIL import Image

    alpha = np.zeros((10, 10), np.uint8)
    alpha[:, :5] = 255
    alpha[:, 5:7] = 128
    buffer = io.BytesIO()
    Image.fromarray(alpha).save(buffer, format="PNG")
    assert uncertainty(buffer.getvalue(), True) == pytest.approx(20 / 70, abs=1e-4)
