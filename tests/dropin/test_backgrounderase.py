"""BackgroundErase-v2-compatible route: the flags page's requests, answers and errors."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from providers.errors import ProviderProtocolError, ProviderRateLimited, ProviderTimeout
from tests.dropin.conftest import (
    assert_centre_cutout,
    assert_gateway_headers,
    dropin_app,
    dropin_settings,
    noisy_png,
    opened,
    photo,
)
from tests.fakes import FakeProvider

KEY = {"x-api-key": "client-key"}


async def test_basic_multipart(client: AsyncTestClient) -> None:
    """`-F image_file=@image.jpg` -> the raw PNG cutout."""
    response = await client.post(
        "/v2", headers=KEY, files={"image_file": ("image.jpg", photo(64, 48), "image/jpeg")}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert_gateway_headers(response.headers)
    assert_centre_cutout(opened(response.content), 64, 48)


async def test_png_alpha_crop_hd_despill(client: AsyncTestClient) -> None:
    """The page's second example: PNG, rgba, hd, crop, despill -> the subject's box, with alpha."""
    response = await client.post(
        "/v2", headers=KEY, files={"image_file": ("image.jpg", photo(64, 48), "image/jpeg")},
        data={"format": "png", "channels": "rgba", "size": "hd", "crop": "true",
              "despill": "true"},
    )
    assert response.status_code == 200
    image = opened(response.content)
    assert image.mode == "RGBA"
    assert image.size == (32, 24)  # the fake's centre box, tight-cropped
    assert image.getchannel("A").getextrema() == (255, 255)
    assert {"crop", "despill"} <= set(response.headers["x-emulated"].split(","))


async def test_webp_on_blue(client: AsyncTestClient) -> None:
    """The page's third example: WebP flattened on blue."""
    response = await client.post(
        "/v2", headers=KEY, files={"image_file": ("image.jpg", photo(64, 48), "image/jpeg")},
        data={"format": "webp", "channels": "rgba", "size": "medium", "bg_color": "blue",
              "despill": "true"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/webp"
    image = opened(response.content).convert("RGBA")
    assert image.size == (64, 48)
    red, green, blue, alpha = image.getpixel((1, 1))
    assert alpha == 255 and blue > 200 and red < 40 and green < 40


@pytest.mark.parametrize("spelling", ["true", "TRUE", "1", "yes", "Yes"])
async def test_keys_case_insensitive_and_boolean_spellings(
    client: AsyncTestClient, spelling: str
) -> None:
    """`CROP=Yes`, `Format=JPG`: keys any case, booleans true/1/yes."""
    response = await client.post(
        "/v2", files={"image_file": ("image.png", photo(64, 48, "PNG"), "image/png")},
        data={"CROP": spelling, "Format": "JPG", "BG_COLOR": "fff"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert opened(response.content).size == (32, 24)


async def test_false_spellings_do_not_crop(client: AsyncTestClient) -> None:
    """`crop=no` / `0` leave the full frame."""
    for spelling in ("no", "0", "false"):
        response = await client.post(
            "/v2", files={"image_file": ("i.jpg", photo(64, 48), "image/jpeg")},
            data={"crop": spelling},
        )
        assert opened(response.content).size == (64, 48)


async def test_alpha_channel_is_always_a_png_mask(client: AsyncTestClient) -> None:
    """`channels=alpha` answers a single-channel PNG even when `format=webp`."""
    response = await client.post(
        "/v2", files={"image_file": ("i.jpg", photo(40, 40), "image/jpeg")},
        data={"channels": "alpha", "format": "webp"},
    )
    assert response.headers["content-type"] == "image/png"
    mask = opened(response.content)
    assert mask.mode == "L"
    assert_centre_cutout(mask, 40, 40)


async def test_multipart_base64_field_and_unknown_fields(client: AsyncTestClient) -> None:
    """`image_file_b64` as a text field (data-URL prefix); unknown keys are ignored."""
    encoded = "data:image/jpeg;base64," + base64.b64encode(photo(48, 32)).decode("ascii")
    response = await client.post(
        "/v2", files={"placeholder": ("x.txt", b"-", "text/plain")},
        data={"image_file_b64": encoded, "shadow": "drop", "quality": "best"},
    )
    assert response.status_code == 200
    assert_centre_cutout(opened(response.content), 48, 32)


async def test_json_legacy_image_answers_mask_json(client: AsyncTestClient) -> None:
    """JSON `image` (legacy) forces channels=alpha: a base64 PNG mask plus width and height."""
    encoded = base64.b64encode(photo(50, 30)).decode("ascii")
    response = await client.post("/v2", headers=KEY,
                                 json={"image": encoded, "channels": "rgba", "format": "jpg"})
    assert response.status_code == 200
    assert_gateway_headers(response.headers)
    body = response.json()
    assert body["channels"] == "alpha" and body["format"] == "png"
    assert body["media_type"] == "image/png"
    assert (body["width"], body["height"]) == (50, 30)
    mask = opened(base64.b64decode(body["image_base64"]))
    assert mask.mode == "L"
    assert_centre_cutout(mask, 50, 30)


async def test_json_image_base64_with_flags(client: AsyncTestClient) -> None:
    """JSON `image_base64` + flags (JSON booleans too) -> the full image payload as asked."""
    encoded = "data:image/png;base64," + base64.b64encode(photo(64, 48, "PNG")).decode("ascii")
    response = await client.post(
        "/v2", json={"IMAGE_BASE64": encoded, "format": "jpg", "crop": True, "size": "preview"},
    )
    body = response.json()
    assert body["format"] == "jpg" and body["media_type"] == "image/jpeg"
    assert body["channels"] == "rgba"
    image = opened(base64.b64decode(body["image_base64"]))
    assert image.format == "JPEG" and image.size == (32, 24) == (body["width"], body["height"])


async def test_health_endpoints(client: AsyncTestClient) -> None:
    """`/v2/health` and the unified `/health` both answer {"status": "ok"}."""
    for path in ("/v2/health", "/health"):
        response = await client.get(path)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


def _error(response: object) -> tuple[str, str]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and set(body["error"]) == {"message", "code"}
    return body["error"]["code"], body["error"]["message"]


@pytest.mark.parametrize(
    ("request_args", "status", "code"),
    [
        ({"files": {"other": ("a.jpg", b"x", "image/jpeg")}}, 400, "missing_image"),
        ({"json": {"image_base64": "@@not base64@@"}}, 400, "invalid_base64"),
        ({"content": b"[1, 2]", "headers": {"Content-Type": "application/json"}}, 400,
         "invalid_request"),
        ({"content": b"--xx\r\nbroken",
          "headers": {"Content-Type": "multipart/form-data; boundary=xx"}}, 400,
         "invalid_request"),
        ({"files": {"image_file": ("a.jpg", photo(), "image/jpeg")}, "data": {"format": "gif"}},
         400, "invalid_option"),
        ({"files": {"image_file": ("a.jpg", photo(), "image/jpeg")}, "data": {"crop": "maybe"}},
         400, "invalid_option"),
        ({"data": {"image_file": "plain text, not a file"}}, 400, "invalid_option"),
        ({"files": {"image_file": ("a.txt", b"just text", "text/plain")}}, 415,
         "unsupported_format"),
        ({"files": {"image_file": ("a.jpg", photo()[:120], "image/jpeg")}}, 422, "invalid_image"),
        ({"json": {"image_url": "http://127.0.0.1:9/image.jpg"}}, 400, "invalid_image_url"),
    ],
)
async def test_client_errors_in_backgrounderase_shape(
    client: AsyncTestClient, fake: FakeProvider, request_args: dict, status: int, code: str
) -> None:
    """Structured `{"error": {"message", "code"}}` for every client fault; no vendor call."""
    response = await client.post("/v2", **request_args)
    assert response.status_code == status
    assert _error(response)[0] == code
    assert response.headers["x-request-id"]
    assert fake.calls == []


async def test_oversized_image_is_413(tmp_path: Path) -> None:
    """Over `max_upload_bytes` -> 413 payload_too_large."""
    app = dropin_app(dropin_settings(tmp_path, {"server": {"max_upload_bytes": 4096}}),
                     {"fake": FakeProvider("fake")})
    async with AsyncTestClient(app=app) as client:
        response = await client.post(
            "/v2", files={"image_file": ("a.png", noisy_png(64, 64), "image/png")}
        )
    assert response.status_code == 413
    assert _error(response)[0] == "payload_too_large"


@pytest.mark.parametrize(
    ("step", "status", "code"),
    [
        (ProviderProtocolError("vendor secret text", "fake"), 502, "provider_error"),
        (ProviderRateLimited("busy", "fake", retry_after=30), 503, "no_provider_available"),
        ([ProviderTimeout("slow", "fake")] * 3, 504, "timeout"),
    ],
)
async def test_upstream_errors(
    tmp_path: Path, step: Exception | list[Exception], status: int, code: str
) -> None:
    """Provider failures after routing: 5xx, structured, vendor text withheld."""
    script = step if isinstance(step, list) else [step]
    app = dropin_app(dropin_settings(tmp_path), {"fake": FakeProvider("fake", script=script)})
    async with AsyncTestClient(app=app) as client:
        response = await client.post(
            "/v2", files={"image_file": ("a.jpg", photo(), "image/jpeg")}
        )
    assert (response.status_code, _error(response)[0]) == (status, code)
    assert "vendor secret text" not in response.text
    if status == 503:
        assert int(response.headers["retry-after"]) >= 1
