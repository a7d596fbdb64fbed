"""Photoroom adapter: fields and headers on the wire, preview cost, account credits and health."""

from __future__ import annotations

import httpx
from pytest_httpx import HTTPXMock

from providers.base import Margin, OutputOptions, SupportsCredits, SupportsHealth
from providers.photoroom import PhotoroomProvider
from providers.photoroom_config import PhotoroomConfig
from tests.imaging import encode
from tests.providers.provider_kit import (
    PHOTOROOM_KEY,
    cutout_png,
    multipart_parts,
    provider_request,
    subject,
)

URL = "https://sdk.photoroom.com/v1/segment"
ACCOUNT_URL = "https://image-api.photoroom.com/v1/account"


def make(client: httpx.AsyncClient) -> PhotoroomProvider:
    return PhotoroomProvider("photoroom", PhotoroomConfig(api_key=PHOTOROOM_KEY), client)


def form(httpx_mock: HTTPXMock) -> dict[str, str]:
    """The text fields of the captured multipart request."""
    parts = multipart_parts(httpx_mock.get_request())
    return {name: part.data.decode() for name, part in parts.items() if name != "image_file"}


async def test_default_request_on_the_wire(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=URL, content=cutout_png(240, 160),
                            headers={"x-uncertainty-score": "-1"})
    request = provider_request(fmt="jpeg")

    result = await make(client).remove_background(request)

    sent = httpx_mock.get_request()
    assert sent.method == "POST" and sent.headers["x-api-key"] == PHOTOROOM_KEY
    part = multipart_parts(sent)["image_file"]
    assert (part.data, part.filename, part.content_type) == (
        request.image, "image.jpg", "image/jpeg")
    assert form(httpx_mock) == {"format": "png", "channels": "rgba", "size": "full",
                                "crop": "false", "despill": "false"}
    assert result.final and result.cost == 1.0
    assert result.metadata["uncertainty"] == "-1"


async def test_preview_jpeg_on_colour_costs_a_quarter(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=URL, content=encode(subject(60, 40)))
    options = OutputOptions(format="jpg", size="preview", crop=True, despill=True,
                            bg_color=(255, 0, 255, 255))

    result = await make(client).remove_background(provider_request(options=options))

    assert form(httpx_mock) == {"format": "jpg", "channels": "rgba", "size": "preview",
                                "crop": "true", "despill": "true", "bg_color": "#FF00FF"}
    assert result.final and result.media_type == "image/jpeg"
    assert result.cost == 0.25


async def test_sandbox_key_costs_nothing(httpx_mock: HTTPXMock, client: httpx.AsyncClient) -> None:
    httpx_mock.add_response(url=URL, content=cutout_png(240, 160))
    provider = PhotoroomProvider("photoroom", PhotoroomConfig(api_key="sandbox_abc"), client)

    result = await provider.remove_background(provider_request())

    assert result.cost == 0.0


async def test_jpeg_without_colour_asks_for_white(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=URL, content=encode(subject(240, 160)))

    await make(client).remove_background(provider_request(options=OutputOptions(format="jpg")))

    assert form(httpx_mock)["bg_color"] == "#FFFFFF"


async def test_margin_or_translucent_colour_goes_bare(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    for _ in range(2):
        httpx_mock.add_response(url=URL, content=cutout_png(240, 160))
    provider = make(client)

    margin = await provider.remove_background(provider_request(
        options=OutputOptions(crop=True, crop_margin=Margin(10, "px"))))
    translucent = await provider.remove_background(provider_request(
        options=OutputOptions(bg_color=(0, 0, 0, 100))))

    for sent in httpx_mock.get_requests():
        assert set(multipart_parts(sent)) == {"image_file"}
    assert not margin.final and not translucent.final


async def test_credits_and_health_use_the_account_host(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=ACCOUNT_URL, json={"credits": {"available": 87,
                                                               "subscription": 100}})
    httpx_mock.add_response(url=ACCOUNT_URL, status_code=403)
    provider = make(client)

    assert isinstance(provider, SupportsCredits) and isinstance(provider, SupportsHealth)
    assert await provider.credits() == 87.0
    assert await provider.health() is False
    assert httpx_mock.get_requests()[0].headers["x-api-key"] == PHOTOROOM_KEY
