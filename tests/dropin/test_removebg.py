"""remove.bg-compatible route: options mapping, headers, JSON answer and error shape."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from litestar.testing import AsyncTestClient
from PIL import Image

from gateway.api.removebg_fields import auto_format, removebg_request
from gateway.errors import InvalidOption
from gateway.postprocess.foreground import foreground_of
from providers.base import OutputOptions
from tests.dropin.conftest import (
    CLIENT_KEY,
    assert_centre_cutout,
    assert_gateway_headers,
    client_auth,
    dropin_app,
    dropin_settings,
    noisy_png,
    opened,
    photo,
)
from tests.fakes import FakeProvider

KEY = {"X-Api-Key": CLIENT_KEY}


def removebg_options(fields: dict[str, object]) -> OutputOptions:
    """The options a request with `fields` runs with (format auto resolved, no bg image)."""
    asked = removebg_request(fields, None)
    return auto_format(asked.options, False) if asked.format_auto else asked.options


def foreground_box(data: bytes, channels: str) -> tuple[int, int, int, int]:
    """(top, left, width, height) of an encoded answer."""
    return foreground_of(data, "image/png", channels == "alpha")


async def test_sample_request_answers_png_with_headers(client: AsyncTestClient) -> None:
    """remove.bg's sample (`image_file`, `size=auto`) -> PNG + X-Width/Height/Credits-Charged."""
    response = await client.post(
        "/v1.0/removebg", headers=KEY,
        files={"image_file": ("file.jpg", photo(64, 48), "image/jpeg")}, data={"size": "auto"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert_gateway_headers(response.headers)
    assert (response.headers["x-width"], response.headers["x-height"]) == ("64", "48")
    assert float(response.headers["x-credits-charged"]) == 2.0  # the fake's cost
    assert_centre_cutout(opened(response.content), 64, 48)


async def test_hex_bg_color_without_hash_and_auto_format(client: AsyncTestClient) -> None:
    """`bg_color=81d4fa` leaves no transparency: format auto -> JPG on that colour."""
    response = await client.post(
        "/v1.0/removebg", files={"image_file": ("f.jpg", photo(64, 48), "image/jpeg")},
        data={"bg_color": "81d4fa", "type": "product", "semitransparency": "true"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    red, green, blue = opened(response.content).convert("RGB").getpixel((1, 1))
    assert abs(red - 0x81) <= 6 and abs(green - 0xD4) <= 6 and abs(blue - 0xFA) <= 6


async def test_json_answer_with_foreground_box(client: AsyncTestClient) -> None:
    """`Accept: application/json` -> data.result_b64 and the alpha > 10 bounding box."""
    response = await client.post(
        "/v1.0/removebg", headers={**KEY, "Accept": "application/json"},
        files={"image_file": ("f.png", photo(64, 48, "PNG"), "image/png")},
        data={"size": "full"},
    )
    assert response.status_code == 200
    assert response.headers["x-credits-charged"] == "2"
    data = response.json()["data"]
    assert_centre_cutout(opened(base64.b64decode(data["result_b64"])), 64, 48)
    box = (data["foreground_top"], data["foreground_left"], data["foreground_width"],
           data["foreground_height"])
    assert box == (12, 16, 32, 24)  # the fake's centre box


async def test_crop_with_margin_and_alpha_channels(client: AsyncTestClient) -> None:
    """`crop=true`, `crop_margin=4px`, `channels=alpha`: a cropped mask with 4 px of border."""
    response = await client.post(
        "/v1.0/removebg", headers={"Accept": "application/json"},
        files={"image_file": ("f.jpg", photo(64, 48), "image/jpeg")},
        data={"crop": "true", "crop_margin": "4px", "channels": "alpha", "format": "png"},
    )
    data = response.json()["data"]
    mask = opened(base64.b64decode(data["result_b64"]))
    assert mask.mode == "L" and mask.size == (40, 32)
    box = (data["foreground_top"], data["foreground_left"], data["foreground_width"],
           data["foreground_height"])
    assert box == (4, 4, 32, 24)


@pytest.mark.parametrize("encoding", ["json", "form"])
async def test_image_file_b64_in_json_and_urlencoded(
    client: AsyncTestClient, encoding: str
) -> None:
    """`image_file_b64` in a JSON body or an urlencoded form; `format=webp`."""
    fields = {"image_file_b64": base64.b64encode(photo(32, 32)).decode("ascii"),
              "format": "webp", "size": "regular"}
    args = {"json": fields} if encoding == "json" else {"data": fields}
    response = await client.post("/v1.0/removebg", **args)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/webp"
    assert_centre_cutout(opened(response.content).convert("RGBA"), 32, 32)


@pytest.mark.parametrize(
    ("size", "expected"),
    [("preview", "preview"), ("small", "preview"), ("regular", "preview"), ("medium", "medium"),
     ("hd", "hd"), ("full", "full"), ("4k", "full"), ("50MP", "full"), ("auto", "full"),
     (None, "preview")],
)
def test_size_mapping(size: str | None, expected: str) -> None:
    """remove.bg sizes -> the gateway's caps; remove.bg's default is `preview`."""
    fields: dict[str, object] = {} if size is None else {"size": size}
    assert removebg_options(fields).size == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [({}, "png"), ({"bg_color": "red"}, "jpg"), ({"bg_color": "ff000080"}, "png"),
     ({"bg_color": "red", "channels": "alpha"}, "png"), ({"format": "JPG"}, "jpg"),
     ({"format": "webp", "bg_color": "red"}, "webp")],
)
def test_format_auto(fields: dict[str, object], expected: str) -> None:
    """auto = png while the answer can be transparent, else jpg; explicit formats win."""
    assert removebg_options(fields).format == expected


@pytest.mark.parametrize("fields", [{"format": "tar"}, {"size": "8k"},
                                    {"crop": "true", "crop_margin": "-3px"},
                                    {"bg_color": "not-a-colour"}, {"crop": "perhaps"}])
def test_bad_options(fields: dict[str, object]) -> None:
    """Unsupported values are refused, naming the option."""
    with pytest.raises(InvalidOption):
        removebg_options(fields)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_foreground_box_threshold_and_edge_cases() -> None:
    """Box of alpha > 10: faint pixels do not count; no alpha -> whole frame; none -> zeros."""
    alpha = np.zeros((30, 40), np.uint8)
    alpha[5:9, 10:20] = 200
    alpha[0, 0] = 10  # at the threshold: background
    rgba = np.dstack([np.full((30, 40, 3), 50, np.uint8), alpha])
    assert foreground_box(_png(Image.fromarray(rgba)), "rgba") == (5, 10, 10, 4)
    assert foreground_box(_png(Image.fromarray(alpha)), "alpha") == (5, 10, 10, 4)
    assert foreground_box(photo(20, 10), "rgba") == (0, 0, 20, 10)
    empty = np.zeros((8, 8), np.uint8)
    assert foreground_box(_png(Image.fromarray(empty)), "alpha") == (0, 0, 0, 0)


def _errors(response: object) -> dict[str, str]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"errors"} and len(body["errors"]) == 1
    error = body["errors"][0]
    assert {"title", "code"} <= set(error)
    return error


@pytest.mark.parametrize(
    ("request_args", "code"),
    [
        ({"data": {"size": "auto"}}, "missing_source"),
        ({"files": {"image_file": ("f.jpg", photo(), "image/jpeg")}, "data": {"format": "tar"}},
         "invalid_format"),
        ({"json": {"image_file_b64": "!!!"}}, "invalid_base64"),
        ({"files": {"image_file": ("f.gif", b"GIF89a-but-not-really", "image/gif")}},
         "invalid_image"),
        ({"files": {"image_file": ("f.txt", b"plain", "text/plain")}}, "invalid_file_type"),
        ({"data": {"image_url": "http://169.254.169.254/latest"}}, "invalid_image_url"),
    ],
)
async def test_client_errors_in_removebg_shape(
    client: AsyncTestClient, fake: FakeProvider, request_args: dict, code: str
) -> None:
    """Every client fault is a 400 with `{"errors": [{"title", "code"}]}` and no vendor call."""
    response = await client.post("/v1.0/removebg", **request_args)
    assert response.status_code == 400
    assert _errors(response)["code"] == code
    assert fake.calls == []


async def test_auth_quota_rate_and_size_errors(tmp_path: Path) -> None:
    """403 auth_failed, 400 file_too_large, 402 insufficient_credits, 429 with Retry-After."""
    extra = {**client_auth(rate_limit="2/minute", monthly_quota=1),
             "server": {"max_upload_bytes": 4096}}
    app = dropin_app(dropin_settings(tmp_path, extra), {"fake": FakeProvider("fake")})
    small = {"image_file": ("f.jpg", photo(32, 32), "image/jpeg")}
    async with AsyncTestClient(app=app) as client:
        denied = await client.post("/v1.0/removebg", files=small, headers={"X-Api-Key": "x"})
        too_big = await client.post(
            "/v1.0/removebg", headers=KEY,
            files={"image_file": ("f.png", noisy_png(64, 64), "image/png")},
        )
        ok = await client.post("/v1.0/removebg", files=small, headers=KEY)
        spent = await client.post("/v1.0/removebg", files=small, headers=KEY)
    assert (denied.status_code, _errors(denied)["code"]) == (403, "auth_failed")
    assert (too_big.status_code, _errors(too_big)["code"]) == (400, "file_too_large")
    assert ok.status_code == 200
    assert (spent.status_code, _errors(spent)["code"]) == (402, "insufficient_credits")

    app = dropin_app(dropin_settings(tmp_path / "r", client_auth(rate_limit="1/minute")),
                     {"fake": FakeProvider("fake")})
    async with AsyncTestClient(app=app) as client:
        await client.post("/v1.0/removebg", files=small, headers=KEY)
        limited = await client.post("/v1.0/removebg", files=small, headers=KEY)
    assert (limited.status_code, _errors(limited)["code"]) == (429, "rate_limit_exceeded")
    assert int(limited.headers["retry-after"]) >= 1
