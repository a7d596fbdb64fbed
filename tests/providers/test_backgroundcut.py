"""BackgroundCut v3 adapter: uploads, keys, the matting call and a download without our key."""

from __future__ import annotations

import logging
import re

import httpx
import pytest
import structlog
from pytest_httpx import HTTPXMock

from providers.backgroundcut import BackgroundCutProvider
from providers.backgroundcut_config import BackgroundCutConfig
from providers.base import ProviderRequest
from providers.errors import (
    ProviderAuthError,
    ProviderProtocolError,
    ProviderUnavailable,
)
from providers.images import sniff_format
from tests.imaging import decode, encode
from tests.providers.provider_kit import (
    BACKGROUNDCUT_KEY,
    cutout_png,
    json_body,
    mask_png,
    multipart_parts,
    provider_request,
    trimap_png,
)

API = "https://api.backgroundcut.co/v3"
UPLOAD, PROCESS = f"{API}/file-ops/upload/", f"{API}/tools/ai/matting/process/"
PUBLIC = f"{API}/file-ops/get-public-url/"
CDN = "https://storage.example.org/bucket/result.png?X-Sig=abc"
FOLDER = re.compile(r"^bg-gateway/req-1-[0-9a-f]{32}$")


def make(
    client: httpx.AsyncClient, config: BackgroundCutConfig | None = None
) -> BackgroundCutProvider:
    return BackgroundCutProvider(
        "backgroundcut", config or BackgroundCutConfig(api_key=BACKGROUNDCUT_KEY), client
    )


def answer_flow(
    httpx_mock: HTTPXMock, output_key: str = "bg-gateway/out/result.png",
    result: bytes | None = None,
) -> None:
    """Vendor answers for two uploads, matting, public URL and the download."""
    for _ in range(2):
        httpx_mock.add_response(url=UPLOAD, json={})
    httpx_mock.add_response(url=PROCESS, json={"output_key": output_key})
    httpx_mock.add_response(url=PUBLIC, json={"url": CDN})
    httpx_mock.add_response(url=CDN, content=result or cutout_png(240, 160))


async def test_flow_uploads_two_equal_size_jpegs_then_processes_and_downloads(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    answer_flow(httpx_mock)

    result = await make(client).remove_background(provider_request(trimap=True))

    sent = httpx_mock.get_requests()
    assert [(r.method, str(r.url)) for r in sent] == [
        ("POST", UPLOAD), ("POST", UPLOAD), ("POST", PROCESS), ("POST", PUBLIC), ("GET", CDN),
    ]
    for vendor_call in sent[:4]:
        assert vendor_call.headers["Authorization"] == f"Token {BACKGROUNDCUT_KEY}"
    source_parts, trimap_parts = multipart_parts(sent[0]), multipart_parts(sent[1])
    source_key, trimap_key = source_parts["key"].data.decode(), trimap_parts["key"].data.decode()
    folder = source_key.rsplit("/", 1)[0]
    assert FOLDER.match(folder)
    assert (source_key, trimap_key) == (f"{folder}/source.jpg", f"{folder}/trimap.jpg")
    source, trimap = decode(source_parts["file"].data), decode(trimap_parts["file"].data)
    assert sniff_format(source_parts["file"].data) == sniff_format(trimap_parts["file"].data)
    assert sniff_format(source_parts["file"].data) == "jpeg"
    assert (source.mode, trimap.mode) == ("RGB", "L")
    assert source.size == trimap.size == (240, 160)
    assert trimap.getpixel((120, 80)) > 245 and trimap.getpixel((2, 2)) < 10
    assert abs(trimap.getpixel((60, 80)) - 128) < 12  # the unknown band survives JPEG
    assert json_body(sent[2]) == {
        "input_key": source_key, "trimap_key": trimap_key, "output_key": f"{folder}/result.png",
        "output_type": "rgba", "output_compression": 95,
    }
    assert json_body(sent[3]) == {"key": "bg-gateway/out/result.png"}
    assert result.kind == "cutout" and result.media_type == "image/png"
    assert not result.final


async def test_download_carries_no_authorization_and_no_key(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    answer_flow(httpx_mock)

    await make(client).remove_background(provider_request(trimap=True))

    download = httpx_mock.get_request(url=CDN)
    assert "authorization" not in download.headers
    assert all(BACKGROUNDCUT_KEY not in value for value in download.headers.values())


async def test_upright_rgb_jpeg_is_uploaded_unchanged(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    answer_flow(httpx_mock)
    request = provider_request(fmt="jpeg", trimap=True)

    await make(client).remove_background(request)

    assert multipart_parts(httpx_mock.get_requests()[0])["file"].data == request.image


async def test_keys_are_unique_per_request_and_request_ids_are_made_safe(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    answer_flow(httpx_mock)
    answer_flow(httpx_mock)
    provider = make(client)

    await provider.remove_background(provider_request(trimap=True, request_id="../a/b c"))
    await provider.remove_background(provider_request(trimap=True, request_id="../a/b c"))

    uploads = httpx_mock.get_requests(url=UPLOAD)
    keys = [multipart_parts(upload)["key"].data.decode() for upload in uploads]
    assert keys[0] != keys[2]
    for key in keys:
        assert ".." not in key
        assert re.fullmatch(r"bg-gateway/___a_b_c-[0-9a-f]{32}/(source|trimap)\.jpg", key)


async def test_mask_output_uses_a_jpeg_key_and_returns_a_mask(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    mask_jpeg = encode(decode(mask_png(240, 160)), "JPEG", quality=95)
    answer_flow(httpx_mock, output_key="bg-gateway/out/result.jpg", result=mask_jpeg)
    provider = make(client, BackgroundCutConfig(api_key=BACKGROUNDCUT_KEY, output_type="mask"))

    result = await provider.remove_background(provider_request(trimap=True))

    process = json_body(httpx_mock.get_request(url=PROCESS))
    assert str(process["output_key"]).endswith("/result.jpg")
    assert process["output_type"] == "mask"
    assert provider.capabilities.output == "mask"
    assert result.kind == "mask" and result.media_type == "image/jpeg"


async def test_missing_trimap_fails_before_any_call(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    with pytest.raises(ProviderProtocolError, match="trimap"):
        await make(client).remove_background(provider_request())

    assert httpx_mock.get_requests() == []


async def test_trimap_of_another_size_fails_before_any_call(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    good = provider_request(trimap=True)
    request = ProviderRequest(
        image=good.image, image_format="png", width=240, height=160, request_id="r",
        deadline=good.deadline, trimap=trimap_png(239, 160),
    )

    with pytest.raises(ProviderProtocolError, match="trimap"):
        await make(client).remove_background(request)

    assert httpx_mock.get_requests() == []


async def test_upload_refused_for_auth_stops_the_flow(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=UPLOAD, status_code=401, json={"detail": "Invalid token."})

    with pytest.raises(ProviderAuthError):
        await make(client).remove_background(provider_request(trimap=True))

    assert len(httpx_mock.get_requests()) == 1


@pytest.mark.parametrize(
    "body",
    [{"status": "done"}, {"output_key": ""}, "<html>gateway</html>"],
    ids=["no_key", "empty_key", "not_json"],
)
async def test_process_answer_without_output_key_is_a_protocol_error(
    body: object, httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    for _ in range(2):
        httpx_mock.add_response(url=UPLOAD, json={})
    if isinstance(body, str):
        httpx_mock.add_response(url=PROCESS, text=body)
    else:
        httpx_mock.add_response(url=PROCESS, json=body)

    with pytest.raises(ProviderProtocolError):
        await make(client).remove_background(provider_request(trimap=True))


@pytest.mark.parametrize("url", ["ftp://files.example.org/x.png", "/relative/x.png", 42])
async def test_public_url_must_be_absolute_http(
    url: object, httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    for _ in range(2):
        httpx_mock.add_response(url=UPLOAD, json={})
    httpx_mock.add_response(url=PROCESS, json={"output_key": "k/result.png"})
    httpx_mock.add_response(url=PUBLIC, json={"url": url})

    with pytest.raises(ProviderProtocolError):
        await make(client).remove_background(provider_request(trimap=True))

    assert len(httpx_mock.get_requests()) == 4


@pytest.mark.parametrize(
    ("status", "error"), [(403, ProviderProtocolError), (404, ProviderProtocolError),
                          (503, ProviderUnavailable)],
)
async def test_download_errors_are_not_auth_errors(
    status: int, error: type[Exception], httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    for _ in range(2):
        httpx_mock.add_response(url=UPLOAD, json={})
    httpx_mock.add_response(url=PROCESS, json={"output_key": "k/result.png"})
    httpx_mock.add_response(url=PUBLIC, json={"url": CDN})
    httpx_mock.add_response(url=CDN, status_code=status, text="<Error>AccessDenied</Error>")

    with pytest.raises(error):
        await make(client).remove_background(provider_request(trimap=True))


def test_capabilities_are_truthful(client: httpx.AsyncClient) -> None:
    capabilities = make(client).capabilities

    assert capabilities.requires_trimap
    assert capabilities.native == {"trimap"}
    assert capabilities.output == "cutout"
    assert {"jpeg", "png", "webp"} <= capabilities.input_formats


async def test_key_appears_in_no_log_line_or_error(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(2):
        httpx_mock.add_response(url=UPLOAD, json={})
    httpx_mock.add_response(
        url=PROCESS, status_code=400, json={"detail": f"bad Token {BACKGROUNDCUT_KEY}"}
    )
    caplog.set_level(logging.DEBUG)

    with structlog.testing.capture_logs() as events, pytest.raises(ProviderProtocolError) as raised:
        await make(client).remove_background(provider_request(trimap=True))

    assert "process answered HTTP 400" in str(raised.value)
    assert BACKGROUNDCUT_KEY not in str(raised.value)
    assert events and BACKGROUNDCUT_KEY not in repr(events)
    assert BACKGROUNDCUT_KEY not in caplog.text
