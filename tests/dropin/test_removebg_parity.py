"""remove.bg drop-in parity: the notes' example requests, every documented field, error and header.

Notes: ../shared/vendor-docs/removebg-v1.md. The fake provider answers a centre-box cutout (the
subject is the middle half of the image), so every geometry is known.
"""

from __future__ import annotations

import base64
import io
import time
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest
from litestar import Litestar, Response, get
from litestar.testing import AsyncTestClient
from PIL import Image

from providers.base import ProviderResult
from providers.errors import ProviderUnavailable
from tests.dropin.conftest import (
    CLIENT_KEY,
    client_auth,
    dropin_app,
    dropin_settings,
    opened,
    photo,
)
from tests.fakes import FakeProvider
from tests.servers import serve_in_thread

URL = "/v1.0/removebg"
KEY = {"X-Api-Key": CLIENT_KEY}
JPEG = photo(64, 48)


def upload(data: bytes = JPEG) -> dict[str, tuple[str, bytes, str]]:
    """A multipart `image_file` part."""
    return {"image_file": ("file.jpg", data, "image/jpeg")}


def png(width: int, height: int, rgba: tuple[int, int, int, int]) -> bytes:
    """A PNG of one colour."""
    buffer = io.BytesIO()
    Image.new("RGBA", (width, height), rgba).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def files_server() -> Iterator[str]:
    """A loopback server with /car.jpg and /bg.png (and 404 elsewhere)."""

    @get("/car.jpg")
    async def car() -> Response[bytes]:
        return Response(photo(120, 80), media_type="image/jpeg")

    @get("/bg.png")
    async def bg() -> Response[bytes]:
        return Response(png(10, 10, (0, 0, 255, 255)), media_type="image/png")

    with serve_in_thread(Litestar([car, bg])) as base:
        yield base


@pytest.fixture
async def open_client(tmp_path: Path, fake: FakeProvider) -> AsyncIterator[AsyncTestClient]:
    """The drop-in app that may fetch loopback URLs (the test file server)."""
    settings = dropin_settings(tmp_path, {"fetch": {"allow_private": True}})
    async with AsyncTestClient(app=dropin_app(settings, {"fake": fake})) as client:
        yield client


def error(response) -> dict[str, str]:
    """The one remove.bg error of an answer (and its content type)."""
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert list(body) == ["errors"] and len(body["errors"]) == 1
    assert body["errors"][0]["title"]
    return body["errors"][0]


def foreground(headers) -> tuple[int, int, int, int]:
    """X-Foreground-Top/Left/Width/Height."""
    return tuple(int(headers[f"x-foreground-{n}"]) for n in ("top", "left", "width", "height"))  # type: ignore[return-value]


async def test_example_1_multipart_size_auto(client: AsyncTestClient) -> None:
    """Example 1: `image_file` + `size=auto` -> PNG with the credit, size and box headers."""
    response = await client.post(URL, headers=KEY, files=upload(), data={"size": "auto"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-credits-charged"] == "2"  # the gateway's own cost (the fake's)
    assert (response.headers["x-width"], response.headers["x-height"]) == ("64", "48")
    assert foreground(response.headers) == (12, 16, 32, 24)
    assert "x-type" not in response.headers  # type=auto: the gateway detects no class
    assert response.headers["access-control-allow-origin"] == "*"


async def test_example_2_json_url_zip_car(open_client: AsyncTestClient, files_server: str,
                                          fake: FakeProvider) -> None:
    """Example 2: JSON `image_url`, preview, zip, type=car, Accept JSON -> result_b64 is a ZIP."""
    body = {"image_url": f"{files_server}/car.jpg", "size": "preview", "format": "zip",
            "type": "car"}
    response = await open_client.post(URL, json=body, headers={"Accept": "application/json"})
    assert response.status_code == 200, response.text
    assert response.headers["x-type"] == "car"
    data = response.json()["data"]
    assert set(data) == {"result_b64", "foreground_top", "foreground_left", "foreground_width",
                         "foreground_height"}
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(data["result_b64"]))) as archive:
        assert sorted(archive.namelist()) == ["alpha.png", "color.jpg"]
        matte = opened(archive.read("alpha.png"))
        color = opened(archive.read("color.jpg"))
    assert matte.mode == "L" and color.mode == "RGB" and color.size == matte.size == (120, 80)
    assert (data["foreground_left"], data["foreground_top"]) == (30, 20)
    assert fake.calls[0].width == 120


@pytest.mark.parametrize(("level", "kind", "expected"), [
    ("1", "graphic", "other"), ("2", "graphic", "graphics"), ("latest", "transportation",
                                                              "transportation"),
    ("1", "person", "person"), ("none", "car", None), ("1", "spaceship", None),
])
async def test_type_and_type_level(client: AsyncTestClient, level: str, kind: str,
                                   expected: str | None) -> None:
    """X-Type reports the requested type's class at `type_level`; unknown types act as auto."""
    response = await client.post(URL, files=upload(), data={"type": kind, "type_level": level})
    assert response.status_code == 200
    assert response.headers.get("x-type") == expected


async def test_geometry_fields(client: AsyncTestClient) -> None:
    """roi, scale + position, crop with 2 equal margins, shadow and bg_image_file in one place."""
    clipped = await client.post(URL, files=upload(), data={"roi": "0% 0% 50% 100%"})
    assert not np.asarray(opened(clipped.content).getchannel("A"))[:, 32:].any()
    placed = await client.post(URL, files=upload(), data={"scale": "50%", "position": "0% 0%"})
    assert foreground(placed.headers) == (0, 0, 32, 24)
    cropped = await client.post(URL, files=upload(),
                                data={"crop": "true", "crop_margin": "4px 4px"})
    assert opened(cropped.content).size == (40, 32)
    shadowed = await client.post(URL, files=upload(),
                                 data={"add_shadow": "true", "semitransparency": "false"})
    assert "shadow" in shadowed.headers["x-emulated"]
    assert np.asarray(opened(shadowed.content).getchannel("A"))[37, 32] > 0
    none = await client.post(URL, files=upload(),
                             data={"type": "car", "shadow_type[car]": "none",
                                   "shadow_type": "drop"})
    assert "shadow" not in none.headers["x-emulated"]
    composed = await client.post(
        URL, files={**upload(), "bg_image_file": ("bg.png", png(8, 8, (0, 255, 0, 255)),
                                                  "image/png")})
    assert composed.headers["content-type"] == "image/jpeg"  # format auto: nothing transparent
    assert opened(composed.content).convert("RGB").getpixel((0, 0))[1] > 230


async def test_json_booleans_and_numbers(client: AsyncTestClient) -> None:
    """JSON bodies may send booleans and numbers (`crop: true`, `shadow_opacity: 80`)."""
    body = {"image_file_b64": base64.b64encode(JPEG).decode(), "crop": True,
            "shadow_type": "drop", "shadow_opacity": 80, "format": "png"}
    response = await client.post(URL, json=body)
    assert response.status_code == 200
    assert opened(response.content).size[0] < 64


async def test_bg_image_url(open_client: AsyncTestClient, files_server: str) -> None:
    """`bg_image_url` is fetched through the SSRF-safe fetcher and covers the canvas."""
    response = await open_client.post(URL, files=upload(),
                                      data={"bg_image_url": f"{files_server}/bg.png"})
    assert response.status_code == 200
    assert opened(response.content).convert("RGB").getpixel((0, 0))[2] > 230
    missing = await open_client.post(URL, files=upload(),
                                     data={"bg_image_url": f"{files_server}/none.png"})
    assert (missing.status_code, error(missing)["code"]) == (400, "failed_bg_download")


@pytest.mark.parametrize(("args", "code"), [
    ({"data": {"size": "auto"}}, "missing_source"),
    ({"files": upload(), "data": {"image_url": "https://example.com/a.jpg"}}, "multiple_sources"),
    ({"files": upload(), "data": {"size": "huge"}}, "invalid_size"),
    ({"files": upload(), "data": {"format": "gif"}}, "invalid_format"),
    ({"files": upload(), "data": {"channels": "rgb"}}, "invalid_channels"),
    ({"files": upload(), "data": {"roi": "0 0 10"}}, "invalid_roi"),
    ({"files": upload(), "data": {"roi": "0px 0px 500px 10px"}}, "roi_exceeds_bounds"),
    ({"files": upload(), "data": {"roi": "10px 0px 10px 10px"}}, "roi_region_empty"),
    ({"files": upload(), "data": {"roi": "10px 0% 5% 10%"}}, "roi_region_empty"),
    ({"files": upload(), "data": {"scale": "5%"}}, "invalid_scale"),
    ({"files": upload(), "data": {"position": "left"}}, "invalid_position"),
    ({"files": upload(), "data": {"crop": "true", "crop_margin": "1px 2px 3px"}},
     "invalid_crop_margin"),
    ({"files": upload(), "data": {"crop": "true", "crop_margin": "600px"}},
     "invalid_crop_margin"),
    ({"files": upload(), "data": {"bg_color": "nocolour"}}, "invalid_bg_color"),
    ({"files": upload(), "data": {"semitransparency": "maybe"}}, "invalid_semitransparency"),
    ({"files": upload(), "data": {"type_level": "3"}}, "invalid_type_level"),
    ({"files": upload(), "data": {"shadow_type": "long"}}, "invalid_shadow_type"),
    ({"files": upload(), "data": {"shadow_opacity": "101"}}, "invalid_shadow_opacity"),
    ({"files": upload(), "data": {"bg_color": "red", "bg_image_url": "https://e.com/b.png"}},
     "multiple_bg_sources"),
    ({"files": {**upload(), "bg_image_file": ("b.png", b"not an image", "image/png")}},
     "invalid_bg_image_file"),
    ({"files": upload(b"plain text"), "data": {}}, "invalid_file_type"),
    ({"data": {"image_url": "http://10.0.0.1/a.jpg"}}, "invalid_image_url"),
])
async def test_documented_400s(client: AsyncTestClient, fake: FakeProvider, args: dict,
                               code: str) -> None:
    """Every client fault: 400, remove.bg's error envelope and code, no vendor call."""
    response = await client.post(URL, **args)
    assert response.status_code == 400, response.text
    assert error(response)["code"] == code
    assert fake.calls == []


async def test_transparent_bg_color_is_no_background(client: AsyncTestClient) -> None:
    """A fully transparent `bg_color` does not conflict with a background image."""
    response = await client.post(
        URL, files={**upload(), "bg_image_file": ("b.png", png(4, 4, (9, 9, 9, 255)), "image/png")},
        data={"bg_color": "00000000"})
    assert response.status_code == 200


async def test_unknown_foreground_and_server_errors(tmp_path: Path) -> None:
    """An empty matte -> 400 unknown_foreground; every provider down -> 5xx in the envelope."""
    empty = ProviderResult(data=png(64, 48, (0, 0, 0, 0)), media_type="image/png",
                           kind="cutout", provider="fake")
    down = [ProviderUnavailable("down", "fake") for _ in range(5)]
    fake = FakeProvider("fake", script=[empty, *down])
    async with AsyncTestClient(app=dropin_app(dropin_settings(tmp_path), {"fake": fake})) as client:
        nothing = await client.post(URL, files=upload())
        down = await client.post(URL, files=upload())
    assert (nothing.status_code, error(nothing)["code"]) == (400, "unknown_foreground")
    assert error(nothing)["title"].startswith("Could not identify foreground in image.")
    assert down.status_code >= 500 and error(down)["code"]


async def test_rate_limit_headers_and_429(tmp_path: Path) -> None:
    """X-RateLimit-Limit/Remaining/Reset (Unix seconds) on answers; 429 with Retry-After."""
    settings = dropin_settings(tmp_path, client_auth(rate_limit="2/minute"))
    async with AsyncTestClient(app=dropin_app(settings, {"fake": FakeProvider("fake")})) as client:
        first = await client.post(URL, headers=KEY, files=upload())
        await client.post(URL, headers=KEY, files=upload())
        limited = await client.post(URL, headers=KEY, files=upload())
    assert first.headers["x-ratelimit-limit"] == "2"
    assert first.headers["x-ratelimit-remaining"] == "1"
    assert 0 <= int(first.headers["x-ratelimit-reset"]) - time.time() <= 61
    assert (limited.status_code, error(limited)["code"]) == (429, "rate_limit_exceeded")
    assert int(limited.headers["retry-after"]) >= 1


async def test_account_from_the_client_quota(tmp_path: Path) -> None:
    """GET /v1.0/account: remove.bg's shape; credits = the client's images left this month."""
    settings = dropin_settings(tmp_path, client_auth(monthly_quota=5))
    async with AsyncTestClient(app=dropin_app(settings, {"fake": FakeProvider("fake")})) as client:
        before = await client.get("/v1.0/account", headers=KEY)
        await client.post(URL, headers=KEY, files=upload())
        after = await client.get("/v1.0/account", headers=KEY)
        denied = await client.get("/v1.0/account", headers={"X-Api-Key": "wrong"})
    assert before.status_code == 200
    assert before.json() == {"data": {"attributes": {
        "credits": {"total": 5.0, "subscription": 5.0, "payg": 0, "enterprise": 0},
        "api": {"free_calls": 0, "sizes": "all"}}}}
    assert after.json()["data"]["attributes"]["credits"]["total"] == 4.0
    assert (denied.status_code, error(denied)["code"]) == (403, "auth_failed")


async def test_account_without_quota(client: AsyncTestClient) -> None:
    """No quota and no vendor balance: a large total, same shape."""
    body = (await client.get("/v1.0/account")).json()
    assert body["data"]["attributes"]["credits"]["total"] >= 1_000_000
