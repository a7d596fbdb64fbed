"""remove.bg adapter: fields, headers and encodings on the wire; credits; refinements."""

from __future__ import annotations

import io
import time

import httpx
import pytest
from PIL import Image
from pytest_httpx import HTTPXMock

from providers.base import (
    Length,
    Margin,
    OutputOptions,
    ProviderRequest,
    Roi,
    SupportsCredits,
    SupportsHealth,
)
from providers.errors import ProviderRateLimited
from providers.removebg import RemoveBgProvider, expressible
from providers.removebg_config import RemoveBgConfig
from tests.imaging import decode, encode
from tests.providers.provider_kit import (
    REMOVEBG_KEY,
    cutout_png,
    mask_png,
    multipart_parts,
    provider_request,
    subject,
)

URL = "https://api.remove.bg/v1.0/removebg"
ACCOUNT_URL = "https://api.remove.bg/v1.0/account"


def make(client: httpx.AsyncClient, **fields: str) -> RemoveBgProvider:
    return RemoveBgProvider("removebg", RemoveBgConfig(api_key=REMOVEBG_KEY, **fields), client)


def form(httpx_mock: HTTPXMock) -> dict[str, str]:
    """The text fields of the captured multipart request."""
    parts = multipart_parts(httpx_mock.get_request())
    return {name: part.data.decode() for name, part in parts.items() if name != "image_file"}


async def test_default_request_names_size_and_format_never_the_vendor_defaults(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=URL, content=cutout_png(240, 160),
                            headers={"X-Credits-Charged": "1", "X-Type": "product"})
    request = provider_request()

    result = await make(client).remove_background(request)

    sent = httpx_mock.get_request()
    assert sent.method == "POST"
    assert sent.headers["x-api-key"] == REMOVEBG_KEY
    assert "authorization" not in sent.headers
    part = multipart_parts(sent)["image_file"]
    assert part.data == request.image
    assert (part.filename, part.content_type) == ("image.png", "image/png")
    assert form(httpx_mock) == {
        "size": "full", "format": "png", "channels": "rgba", "crop": "false", "type": "auto",
    }
    assert result.final and result.kind == "cutout" and result.cost == 1.0
    assert result.metadata["type"] == "product"


async def test_options_travel_as_vendor_fields_and_cost_follows_credits_charged(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    jpeg = encode(subject(120, 80))
    httpx_mock.add_response(url=URL, content=jpeg, headers={"X-Credits-Charged": "0.25"})
    options = OutputOptions(format="jpg", size="preview", crop=True, bg_color=(16, 32, 48, 255))

    result = await make(client, subject_type="product", cost=2.0).remove_background(
        provider_request(options=options)
    )

    assert form(httpx_mock) == {
        "size": "preview", "format": "jpg", "channels": "rgba", "crop": "true",
        "bg_color": "102030", "type": "product",
    }
    assert result.final and result.media_type == "image/jpeg"
    assert result.cost == 0.5
    assert result.metadata["credits_charged"] == "0.25"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (OutputOptions(format="jpg"), {"bg_color": "ffffff"}),
        (OutputOptions(bg_color=(255, 0, 0, 128)), {"bg_color": "ff000080"}),
    ],
    ids=["jpg-on-white", "translucent-bg"],
)
async def test_background_colour_encoding(
    options: OutputOptions, expected: dict[str, str], httpx_mock: HTTPXMock,
    client: httpx.AsyncClient,
) -> None:
    httpx_mock.add_response(url=URL, content=cutout_png(240, 160))

    await make(client).remove_background(provider_request(options=options))

    assert expected.items() <= form(httpx_mock).items()


async def test_a_margin_is_sent_bare_and_left_to_post_processing(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=URL, content=cutout_png(240, 160))
    options = OutputOptions(crop=True, crop_margin=Margin(5, "%"), size="preview")

    result = await make(client).remove_background(provider_request(options=options))

    assert form(httpx_mock) == {"size": "full", "format": "png", "channels": "rgba",
                                "type": "auto"}
    assert not result.final
    assert result.cost == 1.0


async def test_alpha_channel_is_a_mask(httpx_mock: HTTPXMock, client: httpx.AsyncClient) -> None:
    httpx_mock.add_response(url=URL, content=mask_png(240, 160))

    result = await make(client).remove_background(
        provider_request(options=OutputOptions(channels="alpha"))
    )

    assert form(httpx_mock)["channels"] == "alpha"
    assert "bg_color" not in form(httpx_mock)
    assert result.kind == "mask" and result.final


async def test_roi_scale_shadow_and_background_image_travel_as_vendor_fields(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=URL, content=cutout_png(240, 160))
    httpx_mock.add_response(url=URL, content=cutout_png(240, 160))
    background = encode(subject(30, 20), "PNG")
    roi = Roi(Length(10, "px"), Length(5, "%"), Length(90.5, "%"), Length(150, "px"))
    provider = make(client)

    await provider.remove_background(provider_request(options=OutputOptions(
        roi=roi, scale=80, shadow=True, shadow_opacity=35, bg_image=background)))
    await provider.remove_background(provider_request(options=OutputOptions(
        position=(0, 100))))

    first, second = httpx_mock.get_requests()
    sent = {k: v.data.decode() for k, v in multipart_parts(first).items()
            if k not in ("image_file", "bg_image_file")}
    assert {"roi": "10px 5% 90.5% 150px", "scale": "80%", "position": "original",
            "shadow_type": "drop", "shadow_opacity": "35"}.items() <= sent.items()
    assert "bg_color" not in sent
    part = multipart_parts(first)["bg_image_file"]
    assert (part.data, part.content_type) == (background, "image/png")
    assert multipart_parts(second)["position"].data == b"0% 100%"


def test_png_over_the_vendor_png_cap_is_not_expressible() -> None:
    assert expressible(OutputOptions(), 3000, 3000)
    assert not expressible(OutputOptions(), 4000, 3000)
    assert expressible(OutputOptions(format="webp"), 4000, 3000)
    assert not expressible(OutputOptions(crop=True, crop_margin=Margin(6, "px")), 100, 100)
    assert not expressible(OutputOptions(crop=True, scale=50), 100, 100)
    assert not expressible(OutputOptions(bg_image=b"x", bg_color=(0, 0, 0, 255)), 100, 100)


async def test_tiff_and_rotated_jpeg_are_reencoded_upright(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    for _ in range(2):
        httpx_mock.add_response(url=URL, content=cutout_png(240, 160))
    tiff = encode(subject(240, 160), "TIFF")
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = encode(subject(160, 240), "JPEG", exif=exif.tobytes())
    base = provider_request()

    for data, fmt in ((tiff, "tiff"), (rotated, "jpeg")):
        request = ProviderRequest(image=data, image_format=fmt, width=240, height=160,
                                  request_id="r", deadline=base.deadline)
        await make(client).remove_background(request)

    sent = [multipart_parts(r)["image_file"] for r in httpx_mock.get_requests()]
    assert [p.content_type for p in sent] == ["image/jpeg", "image/jpeg"]
    assert [decode(p.data).size for p in sent] == [(240, 160), (240, 160)]
    assert Image.open(io.BytesIO(sent[1].data)).getexif().get(0x0112, 1) == 1


async def test_rate_limit_reset_header_gives_retry_after(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    reset = int(time.time()) + 40
    httpx_mock.add_response(url=URL, status_code=429, headers={"X-RateLimit-Reset": str(reset)},
                            json={"errors": [{"title": "Rate limit exceeded"}]})

    with pytest.raises(ProviderRateLimited) as raised:
        await make(client).remove_background(provider_request())

    assert raised.value.retry_after == pytest.approx(40, abs=3)


async def test_credits_and_health_read_the_account(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    body = {"data": {"attributes": {"credits": {"total": 4943.5, "subscription": 4943.5,
                                                "payg": 0, "enterprise": 0},
                                    "api": {"free_calls": 0, "sizes": "all"}}}}
    httpx_mock.add_response(url=ACCOUNT_URL, json=body)
    httpx_mock.add_response(url=ACCOUNT_URL, json=body)
    httpx_mock.add_response(url=ACCOUNT_URL, status_code=403,
                            json={"errors": [{"title": "API Key invalid", "code": "auth_failed"}]})
    provider = make(client)

    assert isinstance(provider, SupportsCredits) and isinstance(provider, SupportsHealth)
    assert await provider.credits() == 4943.5
    assert await provider.health() is True
    assert await provider.health() is False
    assert all(r.headers["x-api-key"] == REMOVEBG_KEY for r in httpx_mock.get_requests())
    assert all(r.method == "GET" for r in httpx_mock.get_requests())
