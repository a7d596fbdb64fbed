"""BackgroundErase v2 adapter: flags on the wire, pass-through results, health, error codes."""

from __future__ import annotations

import logging

import httpx
import pytest
import structlog
from pytest_httpx import HTTPXMock

from providers.backgrounderase import BackgroundEraseProvider
from providers.backgrounderase_config import BackgroundEraseConfig
from providers.base import Margin, OutputOptions, SupportsHealth
from providers.errors import ProviderProtocolError, ProviderRejected
from tests.imaging import decode, encode
from tests.providers.provider_kit import (
    BACKGROUNDERASE_KEY,
    cutout_png,
    mask_png,
    multipart_parts,
    provider_request,
    subject,
)

URL = "https://api.backgrounderase.com/v2"
HEALTH_URL = "https://api.backgrounderase.com/v2/health"


def make(client: httpx.AsyncClient) -> BackgroundEraseProvider:
    return BackgroundEraseProvider(
        "backgrounderase", BackgroundEraseConfig(api_key=BACKGROUNDERASE_KEY), client
    )


def fields(httpx_mock: HTTPXMock) -> dict[str, str]:
    """The non-file form fields of the captured request."""
    parts = multipart_parts(httpx_mock.get_request())
    return {name: part.data.decode() for name, part in parts.items() if name != "image_file"}


async def test_flags_and_original_bytes_go_on_the_wire(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    webp = encode(decode(cutout_png(240, 160)), "WEBP")
    httpx_mock.add_response(url=URL, content=webp, headers={"content-type": "image/webp"})
    options = OutputOptions(
        format="webp", size="hd", crop=True, bg_color=(255, 128, 0, 255), despill=True
    )
    request = provider_request(options=options)

    result = await make(client).remove_background(request)

    sent = httpx_mock.get_request()
    assert sent.method == "POST" and sent.url == URL
    assert sent.headers["x-api-key"] == BACKGROUNDERASE_KEY
    image_part = multipart_parts(sent)["image_file"]
    assert image_part.data == request.image
    assert image_part.content_type == "image/png"
    assert fields(httpx_mock) == {
        "format": "webp", "channels": "rgba", "size": "hd", "crop": "true",
        "despill": "true", "bg_color": "#ff8000",
    }
    assert result.final is True
    assert result.media_type == "image/webp"
    assert result.kind == "cutout"


async def test_default_options_send_explicit_defaults_without_bg_color(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=URL, content=cutout_png(240, 160))

    result = await make(client).remove_background(provider_request())

    assert fields(httpx_mock) == {
        "format": "png", "channels": "rgba", "size": "full", "crop": "false", "despill": "false",
    }
    assert result.final is True


async def test_alpha_channels_return_a_final_mask(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=URL, content=mask_png(240, 160))

    result = await make(client).remove_background(
        provider_request(options=OutputOptions(channels="alpha"))
    )

    assert fields(httpx_mock)["channels"] == "alpha"
    assert result.kind == "mask" and result.final is True
    assert decode(result.data).mode == "L"


async def test_body_in_another_format_than_requested_is_not_final(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=URL, content=cutout_png(240, 160))

    result = await make(client).remove_background(
        provider_request(options=OutputOptions(format="jpg"))
    )

    assert result.media_type == "image/png"
    assert result.final is False


@pytest.mark.parametrize(
    "options",
    [
        OutputOptions(crop=True, crop_margin=Margin(12, "px")),
        OutputOptions(bg_color=(0, 0, 255, 128)),
    ],
    ids=["crop_margin", "translucent_bg"],
)
async def test_inexpressible_options_send_no_flags_and_are_not_final(
    options: OutputOptions, httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=URL, content=cutout_png(240, 160))

    result = await make(client).remove_background(provider_request(options=options))

    assert fields(httpx_mock) == {}
    assert result.final is False and result.kind == "cutout"


def test_capabilities_are_truthful(client: httpx.AsyncClient) -> None:
    capabilities = make(client).capabilities

    assert capabilities.native == {"format", "channels", "size", "crop", "bg_color", "despill"}
    assert "crop_margin" not in capabilities.native
    assert capabilities.output == "cutout"
    assert not capabilities.requires_trimap


@pytest.mark.parametrize(
    ("status", "expected"), [(200, True), (204, True), (503, False), (404, False)]
)
async def test_health_reads_the_status(
    status: int, expected: bool, httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=HEALTH_URL, method="GET", status_code=status)
    provider = make(client)

    assert isinstance(provider, SupportsHealth)
    assert await provider.health() is expected


async def test_health_is_false_when_unreachable(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_exception(httpx.ConnectError("refused"), url=HEALTH_URL)

    assert await make(client).health() is False


async def test_error_message_keeps_a_clean_code_but_never_the_vendor_message(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    body = {"error": {"message": "cannot decode s3cr3t-path", "code": "Unsupported_Format"}}
    httpx_mock.add_response(url=URL, status_code=422, json=body)

    with pytest.raises(ProviderRejected) as raised:
        await make(client).remove_background(provider_request())

    assert "unsupported_format" in str(raised.value)
    assert "s3cr3t" not in str(raised.value)


async def test_key_shaped_code_is_dropped(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    httpx_mock.add_response(
        url=URL, status_code=400, json={"message": "bad", "code": BACKGROUNDERASE_KEY}
    )
    caplog.set_level(logging.DEBUG)

    with structlog.testing.capture_logs() as events, pytest.raises(ProviderProtocolError) as raised:
        await make(client).remove_background(provider_request())

    assert BACKGROUNDERASE_KEY not in str(raised.value)
    assert events and BACKGROUNDERASE_KEY not in repr(events)
    assert BACKGROUNDERASE_KEY not in caplog.text


async def test_image_part_keeps_the_sniffed_media_type(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=URL, content=cutout_png(200, 100))

    await make(client).remove_background(provider_request(200, 100, fmt="jpeg"))

    part = multipart_parts(httpx_mock.get_request())["image_file"]
    assert part.content_type == "image/jpeg"
    assert decode(part.data).size == subject(200, 100).size
