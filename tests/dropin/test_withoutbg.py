"""withoutBG-compatible routes: the documents' requests, answers and error shapes."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from gateway.api.dropin_withoutbg import UNLIMITED_CREDITS
from providers.errors import ProviderProtocolError, ProviderRateLimited
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

KEY = {"X-API-Key": CLIENT_KEY}


@pytest.mark.parametrize("field", ["file", "image"])
async def test_binary_cutout_from_multipart(client: AsyncTestClient, field: str) -> None:
    """`curl -F file=@input.jpg` (binary page) and `-F image=@…` (reference page) give a PNG."""
    response = await client.post(
        "/v1.0/image-without-background", headers=KEY,
        files={field: ("input.jpg", photo(64, 48), "image/jpeg")},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert_gateway_headers(response.headers)
    image = opened(response.content)
    assert image.format == "PNG" and image.mode == "RGBA"
    assert_centre_cutout(image, 64, 48)


async def test_binary_alpha_is_grayscale_png(client: AsyncTestClient) -> None:
    """`/v1.0/alpha-channel` answers a single-channel PNG matte at the input size."""
    response = await client.post(
        "/v1.0/alpha-channel", files={"file": ("input.png", photo(40, 60, "PNG"), "image/png")}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert_gateway_headers(response.headers)
    matte = opened(response.content)
    assert matte.mode == "L"
    assert_centre_cutout(matte, 40, 60)


async def test_base64_cutout_answers_documented_and_sdk_keys(client: AsyncTestClient) -> None:
    """`{"image": b64}` -> `{"image": …}` plus `img_without_background_base64`, the same PNG."""
    encoded = base64.b64encode(photo(32, 32)).decode("ascii")
    response = await client.post(
        "/v1.0/image-without-background-base64", json={"image": encoded},
        headers={**KEY, "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert_gateway_headers(response.headers)
    body = response.json()
    assert body["image"] == body["img_without_background_base64"]
    assert_centre_cutout(opened(base64.b64decode(body["image"])), 32, 32)


async def test_base64_alpha_accepts_image_base64_and_data_url(client: AsyncTestClient) -> None:
    """`image_base64` (data-URL prefix allowed) -> `alpha_channel` and `alpha_base64`."""
    encoded = "data:image/jpeg;base64," + base64.b64encode(photo(48, 32)).decode("ascii")
    response = await client.post("/v1.0/alpha-channel-base64", json={"image_base64": encoded})
    assert response.status_code == 200
    body = response.json()
    assert body["alpha_channel"] == body["alpha_base64"]
    matte = opened(base64.b64decode(body["alpha_channel"]))
    assert matte.mode == "L"
    assert_centre_cutout(matte, 48, 32)


async def test_unknown_fields_are_ignored(client: AsyncTestClient) -> None:
    """Vendor clients send extras; they must not be rejected."""
    response = await client.post(
        "/v1.0/image-without-background", data={"format": "tiff", "whatever": "1"},
        files={"file": ("input.jpg", photo(), "image/jpeg")},
    )
    assert response.status_code == 200
    assert opened(response.content).format == "PNG"


def _detail(response: object) -> str:
    body = msgspec.json.decode(response.content)  # type: ignore[attr-defined]
    assert set(body) == {"detail"}
    return str(body["detail"])


@pytest.mark.parametrize(
    ("path", "request_args", "status", "detail"),
    [
        ("/v1.0/image-without-background", {"files": {"other": ("a.jpg", b"x", "image/jpeg")}},
         422, "Validation Error"),
        ("/v1.0/alpha-channel", {"data": {"file": "not a file"}}, 422, "Validation Error"),
        ("/v1.0/alpha-channel-base64", {"json": {}}, 422, "Validation Error"),
        ("/v1.0/alpha-channel-base64", {"json": {"image": "%%%not base64"}}, 422,
         "Validation Error"),
        ("/v1.0/image-without-background-base64",
         {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
         422, "Validation Error"),
        ("/v1.0/image-without-background", {"files": {"file": ("a.txt", b"hello", "text/plain")}},
         415, "Unsupported Media Type. Supported formats are: JPEG, PNG, WebP, TIFF, BMP, GIF."),
        ("/v1.0/image-without-background",
         {"files": {"file": ("a.jpg", photo()[:200], "image/jpeg")}}, 422, "Validation Error"),
    ],
)
async def test_client_errors_in_withoutbg_shape(
    client: AsyncTestClient, fake: FakeProvider, path: str, request_args: dict, status: int,
    detail: str,
) -> None:
    """Missing/plain-text field, bad base64, bad JSON, wrong type, corrupt image."""
    response = await client.post(path, **request_args)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-request-id"]
    assert _detail(response) == detail
    assert fake.calls == []  # client faults never cost a vendor call


async def test_file_over_upload_limit_is_413(tmp_path: Path) -> None:
    """An image over `max_upload_bytes` -> 413 with withoutBG's message and our limit."""
    settings = dropin_settings(tmp_path, {"server": {"max_upload_bytes": 2048}})
    app = dropin_app(settings, {"fake": FakeProvider("fake")})
    big = noisy_png(64, 64)
    async with AsyncTestClient(app=app) as client:
        response = await client.post(
            "/v1.0/image-without-background", files={"file": ("a.png", big, "image/png")}
        )
        too_big_body = await client.post(
            "/v1.0/image-without-background-base64",
            content=b'{"image": "' + b"A" * (1024 * 1024 + 8192) + b'"}',
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 413
    assert _detail(response) == "File size too large. Maximum file size is 0.0 MB"
    # Over the framework's body limit (3 x upload limit + 1 MiB): same shape, not problem+json.
    assert too_big_body.status_code == 413
    assert too_big_body.headers["content-type"].startswith("application/json")
    assert _detail(too_big_body).startswith("File size too large")


async def test_upstream_failures_are_5xx_with_retry_after(tmp_path: Path) -> None:
    """Every candidate rate limited -> 503 + Retry-After; unusable answer -> 502."""
    limited = FakeProvider("fake", script=[ProviderRateLimited("busy", "fake", retry_after=7)])
    app = dropin_app(dropin_settings(tmp_path), {"fake": limited})
    async with AsyncTestClient(app=app) as client:
        response = await client.post(
            "/v1.0/alpha-channel", files={"file": ("a.jpg", photo(), "image/jpeg")}
        )
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["x-attempts"].startswith("fake=rate_limited")
    assert _detail(response).startswith("Service Unavailable")

    broken = FakeProvider("fake", script=[ProviderProtocolError("bad body", "fake")])
    app = dropin_app(dropin_settings(tmp_path / "b"), {"fake": broken})
    async with AsyncTestClient(app=app) as client:
        response = await client.post(
            "/v1.0/image-without-background", files={"file": ("a.jpg", photo(), "image/jpeg")}
        )
    assert response.status_code == 502
    assert "bad body" not in response.text  # vendor messages never reach the client
    assert _detail(response).startswith("Bad Gateway")


async def test_client_key_errors_and_rate_limit(tmp_path: Path) -> None:
    """Gateway client auth in withoutBG's statuses: 401, then 429 with Retry-After."""
    settings = dropin_settings(tmp_path, client_auth(rate_limit="1/minute"))
    fake = FakeProvider("fake")
    app = dropin_app(settings, {"fake": fake})
    files = {"file": ("a.jpg", photo(), "image/jpeg")}
    async with AsyncTestClient(app=app) as client:
        missing = await client.post("/v1.0/image-without-background", files=files)
        wrong = await client.post("/v1.0/image-without-background", files=files,
                                  headers={"X-API-Key": "nope"})
        ok = await client.post("/v1.0/image-without-background", files=files, headers=KEY)
        limited = await client.post("/v1.0/image-without-background", files=files,
                                    headers={"Authorization": f"Bearer {CLIENT_KEY}"})
    assert (missing.status_code, _detail(missing)) == (401, "Invalid API Key")
    assert (wrong.status_code, _detail(wrong)) == (401, "Invalid API Key")
    assert ok.status_code == 200 and ok.headers["ratelimit-limit"] == "1"
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert _detail(limited) == "Rate limit exceeded"
    # The gateway key is ours: nothing of it reaches a provider request.
    assert len(fake.calls) == 1
    assert CLIENT_KEY.encode() not in msgspec.json.encode(fake.calls[0])


async def test_spent_quota_is_402(tmp_path: Path) -> None:
    """A client over its monthly quota gets withoutBG's insufficient-credit answer."""
    settings = dropin_settings(tmp_path, client_auth(monthly_quota=1))
    app = dropin_app(settings, {"fake": FakeProvider("fake")})
    files = {"file": ("a.jpg", photo(), "image/jpeg")}
    async with AsyncTestClient(app=app) as client:
        ok = await client.post("/v1.0/alpha-channel", files=files, headers=KEY)
        spent = await client.post("/v1.0/alpha-channel", files=files, headers=KEY)
    assert ok.status_code == 200
    assert spent.status_code == 402
    assert _detail(spent) == "Insufficient credit. Please top up API credits."


class CreditsProvider(FakeProvider):
    """A fake vendor with a credits endpoint."""

    def __init__(self, name: str, remaining: float | None) -> None:
        super().__init__(name)
        self.remaining = remaining

    async def credits(self) -> float | None:
        """The scripted balance."""
        return self.remaining


async def test_available_credit_without_vendor_reports(client: AsyncTestClient) -> None:
    """No provider reports credits -> a large number and no expiry."""
    response = await client.get("/available-credit", headers=KEY)
    assert response.status_code == 200
    assert response.json() == {"available_credits": UNLIMITED_CREDITS, "expiration_date": None}


async def test_available_credit_sums_vendor_reports(tmp_path: Path) -> None:
    """The sum of what vendors report (a vendor answering None is left out)."""
    providers = {
        "a": CreditsProvider("a", 40), "b": CreditsProvider("b", 2.5),
        "c": CreditsProvider("c", None), "fake": FakeProvider("fake"),
    }
    app = dropin_app(dropin_settings(tmp_path), providers)
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/available-credit")
    assert response.json() == {"available_credits": 42, "expiration_date": None}


async def test_available_credit_reports_client_quota(tmp_path: Path) -> None:
    """A client with a monthly quota sees what is left, expiring at the month's end."""
    settings = dropin_settings(tmp_path, client_auth(monthly_quota=3))
    app = dropin_app(settings, {"fake": FakeProvider("fake")})
    async with AsyncTestClient(app=app) as client:
        before = (await client.get("/available-credit", headers=KEY)).json()
        await client.post("/v1.0/alpha-channel", headers=KEY,
                          files={"file": ("a.jpg", photo(), "image/jpeg")})
        after = (await client.get("/available-credit", headers=KEY)).json()
        refused = await client.get("/available-credit")
    assert before["available_credits"] == 3 and after["available_credits"] == 2
    assert re.fullmatch(r"\d{4}-\d{2}-01T00:00:00Z", after["expiration_date"])
    assert refused.status_code == 401 and _detail(refused) == "Invalid API Key"
