"""withoutBG adapter: what goes on the wire, upload modes, credits, and no key in logs."""

from __future__ import annotations

import logging
import time

import httpx
import msgspec
import pytest
import structlog
from PIL import Image
from pytest_httpx import HTTPXMock

from providers.base import ProviderRequest, SupportsCredits
from providers.configs import AnyProviderConfig
from providers.errors import ProviderAuthError, ProviderProtocolError
from providers.images import sniff_format
from providers.withoutbg import WithoutBGProvider
from providers.withoutbg_config import WithoutBGConfig
from tests.imaging import decode, encode
from tests.providers.provider_kit import WITHOUTBG_KEY, mask_png, multipart_parts, subject

ALPHA_URL = "https://api.withoutbg.com/v1.0/alpha-channel"
CUTOUT_URL = "https://api.withoutbg.com/v1.0/image-without-background"
CREDITS_URL = "https://api.withoutbg.com/available-credit"


def make(client: httpx.AsyncClient, config: WithoutBGConfig | None = None) -> WithoutBGProvider:
    return WithoutBGProvider("withoutbg", config or WithoutBGConfig(api_key=WITHOUTBG_KEY), client)


def request_for(
    image: Image.Image, fmt: str = "PNG", exif: Image.Exif | None = None
) -> ProviderRequest:
    params = {"exif": exif.tobytes()} if exif is not None else {}
    return ProviderRequest(
        image=encode(image, fmt, **params), image_format=fmt.lower(), width=image.width,
        height=image.height, request_id="r1", deadline=time.monotonic() + 30,
    )


def uploaded(httpx_mock: HTTPXMock) -> Image.Image:
    """The decoded `file` part of the one captured request, after checking it is a JPEG."""
    parts = multipart_parts(httpx_mock.get_request())
    assert set(parts) == {"file"}
    assert parts["file"].content_type == "image/jpeg"
    assert sniff_format(parts["file"].data) == "jpeg"
    return decode(parts["file"].data)


async def test_default_flow_posts_a_lanczos_jpeg_proxy_to_alpha_channel(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=ALPHA_URL, content=mask_png(100, 67))
    config = WithoutBGConfig(api_key=WITHOUTBG_KEY, proxy_long_side=100)

    result = await make(client, config).remove_background(request_for(subject(240, 160)))

    sent = httpx_mock.get_request()
    assert sent.method == "POST"
    assert sent.headers["X-API-Key"] == WITHOUTBG_KEY
    assert "authorization" not in sent.headers
    proxy = uploaded(httpx_mock)
    assert proxy.mode == "RGB"
    assert proxy.size == (100, 67)
    red, green, _ = proxy.getpixel((50, 33))
    assert red > 150 and green < 90  # the subject, not a blank canvas
    assert result.kind == "mask" and result.media_type == "image/png" and not result.final
    assert result.metadata["upload_size"] == "100x67"


async def test_default_proxy_long_side_is_1024(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=ALPHA_URL, content=mask_png(1024, 32))

    await make(client).remove_background(request_for(subject(1300, 40)))

    assert uploaded(httpx_mock).size == (1024, 32)


async def test_small_images_are_not_upscaled(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=ALPHA_URL, content=mask_png(200, 120))

    await make(client).remove_background(request_for(subject(200, 120)))

    assert uploaded(httpx_mock).size == (200, 120)


async def test_original_upload_sends_the_bytes_unchanged(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=ALPHA_URL, content=mask_png(240, 160))
    request = request_for(subject(240, 160))
    config = WithoutBGConfig(api_key=WITHOUTBG_KEY, upload="original")

    result = await make(client, config).remove_background(request)

    part = multipart_parts(httpx_mock.get_request())["file"]
    assert part.data == request.image
    assert part.content_type == "image/png"
    assert result.metadata["reencoded"] == "false"


async def test_original_over_the_limit_is_reencoded_as_a_full_size_jpeg(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=ALPHA_URL, content=mask_png(256, 200))
    gradient = Image.linear_gradient("L").resize((256, 200)).convert("RGB")
    request = ProviderRequest(
        image=encode(gradient, "PNG", compress_level=0), image_format="png", width=256,
        height=200, request_id="r1", deadline=time.monotonic() + 30,
    )
    limit = 40_000
    assert len(request.image) > limit
    config = WithoutBGConfig(api_key=WITHOUTBG_KEY, upload="original", upload_limit_bytes=limit)

    result = await make(client, config).remove_background(request)

    assert uploaded(httpx_mock).size == (256, 200)
    assert int(result.metadata["upload_bytes"]) <= limit


async def test_original_that_cannot_fit_fails_before_any_call(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    config = WithoutBGConfig(api_key=WITHOUTBG_KEY, upload="original", upload_limit_bytes=500)

    with pytest.raises(ProviderProtocolError):
        await make(client, config).remove_background(request_for(subject(240, 160)))

    assert httpx_mock.get_requests() == []


async def test_original_with_exif_rotation_is_sent_upright(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=ALPHA_URL, content=mask_png(100, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    config = WithoutBGConfig(api_key=WITHOUTBG_KEY, upload="original")

    await make(client, config).remove_background(request_for(subject(200, 100), "JPEG", exif))

    assert uploaded(httpx_mock).size == (100, 200)


async def test_cutout_endpoint_returns_a_cutout(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    rgba = subject(128, 85).convert("RGBA")
    httpx_mock.add_response(url=CUTOUT_URL, content=encode(rgba, "PNG"))
    provider = make(client, WithoutBGConfig(api_key=WITHOUTBG_KEY, endpoint="cutout"))

    result = await provider.remove_background(request_for(subject(240, 160)))

    assert httpx_mock.get_request().url == CUTOUT_URL
    assert provider.capabilities.output == "cutout"
    assert result.kind == "cutout"


def test_capabilities_are_truthful(client: httpx.AsyncClient) -> None:
    proxy = make(client).capabilities
    original = make(client, WithoutBGConfig(api_key="k", upload="original")).capabilities

    assert proxy.native == frozenset()
    assert proxy.output == "mask"
    assert proxy.rate_limit == "7/minute"
    assert proxy.max_input_bytes is None
    assert original.max_input_bytes == 10 * 1024 * 1024
    assert {"jpeg", "png", "webp", "tiff", "bmp", "gif"} <= proxy.input_formats


def test_proxy_quality_below_90_is_refused_at_config_time() -> None:
    with pytest.raises(msgspec.ValidationError, match="proxy_quality"):
        msgspec.convert({"type": "withoutbg", "proxy_quality": 75}, AnyProviderConfig)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"available_credits": 1000, "expiration_date": "2024-12-31T23:59:59Z"}, 1000.0),
        ({"credit": 12.5}, 12.5),
        ({"expiration_date": "2024-12-31"}, None),
        ({"credit": True}, None),
    ],
)
async def test_credits_reads_either_field(
    body: dict[str, object], expected: float | None, httpx_mock: HTTPXMock,
    client: httpx.AsyncClient,
) -> None:
    httpx_mock.add_response(url=CREDITS_URL, method="GET", json=body)
    provider = make(client)

    assert isinstance(provider, SupportsCredits)
    assert await provider.credits() == expected
    assert httpx_mock.get_request().headers["X-API-Key"] == WITHOUTBG_KEY


async def test_credits_with_a_bad_key_is_an_auth_error(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=CREDITS_URL, status_code=401, json={"detail": "Invalid API Key"})

    with pytest.raises(ProviderAuthError):
        await make(client).credits()


async def test_key_appears_in_no_log_line_or_error(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    httpx_mock.add_response(
        url=ALPHA_URL, status_code=401, json={"detail": f"Invalid API Key: {WITHOUTBG_KEY}"}
    )
    httpx_mock.add_response(url=ALPHA_URL, content=mask_png(240, 160))
    provider = make(client)
    caplog.set_level(logging.DEBUG)

    with structlog.testing.capture_logs() as events:
        with pytest.raises(ProviderAuthError) as raised:
            await provider.remove_background(request_for(subject(240, 160)))
        await provider.remove_background(request_for(subject(240, 160)))

    assert WITHOUTBG_KEY not in str(raised.value)
    assert any(event["event"] == "provider.http_error" for event in events)
    assert WITHOUTBG_KEY not in repr(events)
    assert WITHOUTBG_KEY not in caplog.text
