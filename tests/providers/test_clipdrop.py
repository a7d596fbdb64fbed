"""Clipdrop adapter: Accept-driven format, the form field, credit headers on the wire."""

from __future__ import annotations

import httpx
import pytest
from pytest_httpx import HTTPXMock

from providers.base import OutputOptions, ProviderRequest, SupportsCredits, SupportsHealth
from providers.clipdrop import ClipdropProvider
from providers.clipdrop_config import ClipdropConfig
from providers.errors import ProviderProtocolError
from tests.imaging import decode, encode
from tests.providers.provider_kit import (
    CLIPDROP_KEY,
    cutout_png,
    multipart_parts,
    provider_request,
    subject,
)

URL = "https://clipdrop-api.co/remove-background/v1"


def make(client: httpx.AsyncClient) -> ClipdropProvider:
    return ClipdropProvider("clipdrop", ClipdropConfig(api_key=CLIPDROP_KEY), client)


async def test_default_request_and_credit_headers(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=URL, content=cutout_png(240, 160),
                            headers={"x-credits-consumed": "1", "x-remaining-credits": "41"})
    provider = make(client)
    request = provider_request()

    assert await provider.credits() is None
    result = await provider.remove_background(request)

    sent = httpx_mock.get_request()
    assert sent.headers["x-api-key"] == CLIPDROP_KEY
    assert sent.headers["accept"] == "image/png"
    parts = multipart_parts(sent)
    assert parts["image_file"].data == request.image
    assert parts["image_file"].content_type == "image/png"
    assert parts["transparency_handling"].data == b"discard_alpha_layer"
    assert set(parts) == {"image_file", "transparency_handling"}
    assert result.final and result.cost == 1.0
    assert isinstance(provider, SupportsCredits) and not isinstance(provider, SupportsHealth)
    assert await provider.credits() == 41.0


@pytest.mark.parametrize(("fmt", "accept", "final"),
                         [("webp", "image/webp", True), ("jpg", "image/png", False)])
async def test_format_is_chosen_by_accept(
    fmt: str, accept: str, final: bool, httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    body = cutout_png(240, 160) if accept == "image/png" else encode(
        decode(cutout_png(240, 160)), "WEBP")
    httpx_mock.add_response(url=URL, content=body)

    result = await make(client).remove_background(
        provider_request(options=OutputOptions(format=fmt)))  # type: ignore[arg-type]

    assert httpx_mock.get_request().headers["accept"] == accept
    assert result.final is final


async def test_answer_in_another_format_than_asked_is_a_protocol_error(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=URL, content=cutout_png(240, 160))

    with pytest.raises(ProviderProtocolError):
        await make(client).remove_background(
            provider_request(options=OutputOptions(format="webp")))


async def test_bmp_is_reencoded_before_upload(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=URL, content=cutout_png(240, 160))
    base = provider_request()
    request = ProviderRequest(image=encode(subject(240, 160), "BMP"), image_format="bmp",
                              width=240, height=160, request_id="r", deadline=base.deadline)

    await make(client).remove_background(request)

    part = multipart_parts(httpx_mock.get_request())["image_file"]
    assert part.content_type == "image/jpeg"
    assert decode(part.data).size == (240, 160)
