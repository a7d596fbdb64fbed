"""rembg server adapter: form fields from config, no auth header, PNG only, health probe."""

from __future__ import annotations

import httpx
import msgspec
import pytest
from pytest_httpx import HTTPXMock

from providers.base import OutputOptions, SupportsCredits, SupportsHealth
from providers.rembg import RembgProvider
from providers.rembg_config import RembgConfig
from tests.providers.provider_kit import cutout_png, mask_png, multipart_parts, provider_request

BASE = "http://rembg.internal:7000"
URL = f"{BASE}/api/remove"


def form(httpx_mock: HTTPXMock) -> dict[str, str]:
    """The text fields of the captured multipart request."""
    parts = multipart_parts(httpx_mock.get_request())
    return {name: part.data.decode() for name, part in parts.items() if name != "file"}


async def test_default_request_on_the_wire(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=URL, content=cutout_png(240, 160))
    request = provider_request(options=OutputOptions(format="jpg", crop=True))

    result = await RembgProvider("rembg", RembgConfig(base_url=BASE), client).remove_background(
        request)

    sent = httpx_mock.get_request()
    assert sent.url == URL and sent.url.query == b""
    assert not {"x-api-key", "authorization"} & set(sent.headers)
    part = multipart_parts(sent)["file"]
    assert (part.data, part.content_type) == (request.image, "image/png")
    assert form(httpx_mock) == {"model": "isnet-general-use", "a": "false", "om": "false",
                                "ppm": "false"}
    assert result.kind == "cutout" and not result.final and result.cost == 0.0


async def test_alpha_matting_and_mask_flags_come_from_config(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=URL, content=mask_png(240, 160))
    config = RembgConfig(base_url=BASE, model="u2netp", alpha_matting=True,
                         alpha_matting_foreground_threshold=230,
                         alpha_matting_background_threshold=20, alpha_matting_erode_size=5,
                         post_process_mask=True, only_mask=True)
    provider = RembgProvider("rembg", config, client)

    result = await provider.remove_background(provider_request())

    assert form(httpx_mock) == {"model": "u2netp", "a": "true", "af": "230", "ab": "20",
                                "ae": "5", "om": "true", "ppm": "true"}
    assert provider.capabilities.output == "mask" == result.kind
    assert provider.capabilities.native == frozenset()


@pytest.mark.parametrize("fields", [
    {"model": "u2net_cloth_seg"}, {"model": "u2net_custom"},
    {"alpha_matting_foreground_threshold": 256}, {"alpha_matting_erode_size": -1},
])
def test_config_refuses_what_the_server_would_fail_on(fields: dict[str, object]) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"type": "rembg", "base_url": BASE, **fields}, RembgConfig)


async def test_health_probes_openapi_and_there_are_no_credits(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=f"{BASE}/openapi.json", json={"openapi": "3.1.0"})
    httpx_mock.add_response(url=f"{BASE}/openapi.json", status_code=502)
    provider = RembgProvider("rembg", RembgConfig(base_url=BASE), client)

    assert isinstance(provider, SupportsHealth) and not isinstance(provider, SupportsCredits)
    assert await provider.health() is True
    assert await provider.health() is False
