"""One contract suite over every vendor adapter: success, documented errors, transport failures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from providers.backgroundcut import BackgroundCutProvider
from providers.backgroundcut_config import BackgroundCutConfig
from providers.backgrounderase import BackgroundEraseProvider
from providers.backgrounderase_config import BackgroundEraseConfig
from providers.base import Provider, ProviderRequest
from providers.clipdrop import ClipdropProvider
from providers.clipdrop_config import ClipdropConfig
from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderOutOfCredits,
    ProviderProtocolError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
)
from providers.photoroom import PhotoroomProvider
from providers.photoroom_config import PhotoroomConfig
from providers.rembg import RembgProvider
from providers.rembg_config import RembgConfig
from providers.removebg import RemoveBgProvider
from providers.removebg_config import RemoveBgConfig
from providers.withoutbg import WithoutBGProvider
from providers.withoutbg_config import WithoutBGConfig
from tests.imaging import decode
from tests.providers.provider_kit import (
    BACKGROUNDCUT_KEY,
    BACKGROUNDERASE_KEY,
    CLIPDROP_KEY,
    PHOTOROOM_KEY,
    REMOVEBG_KEY,
    WITHOUTBG_KEY,
    cutout_png,
    mask_png,
    provider_request,
)


@dataclass(frozen=True)
class ErrorCase:
    """A vendor answer with an error status and what the adapter must raise."""

    status: int
    error: type[ProviderError]
    fallback: bool
    body: Any = None
    retry_after: str | None = None
    expected_retry_after: float | None = None


@dataclass(frozen=True)
class Adapter:
    """How to drive one adapter through the contract scenarios."""

    id: str
    key: str
    make: Callable[[httpx.AsyncClient, str | None], Provider]
    request: Callable[[], ProviderRequest]
    main_url: str
    prelude: Callable[[HTTPXMock], None]
    answer_ok: Callable[[HTTPXMock], None]
    answer_malformed: Callable[[HTTPXMock], None]
    errors: tuple[ErrorCase, ...]
    cost: float = 1.0
    keyed: bool = True


WBG_URL = "https://api.withoutbg.com/v1.0/alpha-channel"
BGE_URL = "https://api.backgrounderase.com/v2"
BGC_API = "https://api.backgroundcut.co/v3"
BGC_UPLOAD, BGC_PROCESS = f"{BGC_API}/file-ops/upload/", f"{BGC_API}/tools/ai/matting/process/"
BGC_PUBLIC = f"{BGC_API}/file-ops/get-public-url/"
CDN_URL = "https://cdn.example.net/spaces/result.png?sig=abc"
RBG_URL = "https://api.remove.bg/v1.0/removebg"
PRM_URL = "https://sdk.photoroom.com/v1/segment"
CDP_URL = "https://clipdrop-api.co/remove-background/v1"
REMBG_BASE = "http://rembg.internal:7000"
REMBG_URL = f"{REMBG_BASE}/api/remove"
REMBG_NO_KEY = "rembg-has-no-key"
ZIP_BODY = b"PK\x03\x04" + b"\x00" * 64


def _image_ok(url: str, headers: dict[str, str]) -> Callable[[HTTPXMock], None]:
    """A 200 RGBA PNG cutout of the request's size from `url`, with `headers`."""

    def answer(httpx_mock: HTTPXMock) -> None:
        httpx_mock.add_response(url=url, content=cutout_png(240, 160),
                                headers={"content-type": "image/png", **headers})

    return answer


def _malformed(url: str, content: bytes) -> Callable[[HTTPXMock], None]:
    """A 200 whose body is not an image."""

    def answer(httpx_mock: HTTPXMock) -> None:
        httpx_mock.add_response(url=url, content=content)

    return answer


def _rbg_error(code: str | None, title: str) -> dict[str, Any]:
    """remove.bg's error envelope."""
    error = {"title": title, **({"code": code} if code else {})}
    return {"errors": [error]}


def _nothing(httpx_mock: HTTPXMock) -> None:
    """No calls before the main one."""


def _wbg_ok(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=WBG_URL, content=mask_png(128, 85),
                            headers={"content-type": "image/png"})


def _wbg_malformed(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=WBG_URL, json={"detail": "ok"})


def _bge_ok(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=BGE_URL, content=cutout_png(240, 160),
                            headers={"content-type": "image/png"})


def _bge_malformed(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=BGE_URL, html="<html>maintenance</html>")


def _bgc_uploads(httpx_mock: HTTPXMock) -> None:
    for _ in range(2):
        httpx_mock.add_response(url=BGC_UPLOAD, method="POST", json={"status": "ok"})


def _bgc_until_download(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=BGC_PROCESS, json={"output_key": "bg-gateway/r/result.png"})
    httpx_mock.add_response(url=BGC_PUBLIC, json={"url": CDN_URL})


def _bgc_ok(httpx_mock: HTTPXMock) -> None:
    _bgc_until_download(httpx_mock)
    httpx_mock.add_response(url=CDN_URL, content=cutout_png(240, 160))


def _bgc_malformed(httpx_mock: HTTPXMock) -> None:
    _bgc_until_download(httpx_mock)
    httpx_mock.add_response(url=CDN_URL, text="<Error><Code>Nope</Code></Error>")


ADAPTERS = (
    Adapter(
        id="withoutbg",
        key=WITHOUTBG_KEY,
        make=lambda client, key: WithoutBGProvider(
            "withoutbg", WithoutBGConfig(api_key=key, proxy_long_side=128), client
        ),
        request=provider_request,
        main_url=WBG_URL,
        prelude=_nothing,
        answer_ok=_wbg_ok,
        answer_malformed=_wbg_malformed,
        errors=(
            ErrorCase(401, ProviderAuthError, True, {"detail": f"Invalid API Key {WITHOUTBG_KEY}"}),
            ErrorCase(402, ProviderOutOfCredits, True, {"detail": "Insufficient credit."}),
            ErrorCase(403, ProviderOutOfCredits, True, {"error": "Credits Expired."}),
            ErrorCase(413, ProviderProtocolError, True, {"detail": "File size too large."}),
            ErrorCase(415, ProviderProtocolError, True, {"error": "Unsupported Media Type."}),
            ErrorCase(422, ProviderRejected, False, {"detail": "Validation Error"}),
            ErrorCase(422, ProviderProtocolError, True,
                      {"detail": [{"loc": ["body", "file"], "msg": "Field required"}]}),
            ErrorCase(429, ProviderRateLimited, True, {"detail": "Rate limit exceeded"}, "7", 7.0),
            ErrorCase(500, ProviderUnavailable, True, {"detail": "Internal Server Error."}),
            ErrorCase(503, ProviderUnavailable, True, "upstream down", "30", 30.0),
        ),
    ),
    Adapter(
        id="backgrounderase",
        key=BACKGROUNDERASE_KEY,
        make=lambda client, key: BackgroundEraseProvider(
            "backgrounderase", BackgroundEraseConfig(api_key=key), client
        ),
        request=provider_request,
        main_url=BGE_URL,
        prelude=_nothing,
        answer_ok=_bge_ok,
        answer_malformed=_bge_malformed,
        errors=(
            ErrorCase(400, ProviderProtocolError, True,
                      {"message": "malformed base64", "code": "invalid_base64"}),
            ErrorCase(400, ProviderOutOfCredits, True,
                      {"message": "no credits", "code": "insufficient_credits"}),
            ErrorCase(401, ProviderAuthError, True,
                      {"message": f"bad key {BACKGROUNDERASE_KEY}", "code": "unauthorized"}),
            ErrorCase(402, ProviderOutOfCredits, True, {"message": "pay", "code": "payment"}),
            ErrorCase(403, ProviderAuthError, True,
                      {"error": {"message": "no", "code": "forbidden"}}),
            ErrorCase(413, ProviderProtocolError, True,
                      {"message": "big", "code": "payload_too_large"}),
            ErrorCase(422, ProviderRejected, False,
                      {"error": {"message": "cannot read", "code": "unsupported_format"}}),
            ErrorCase(429, ProviderRateLimited, True, {"message": "slow down"}, "2", 2.0),
            ErrorCase(500, ProviderUnavailable, True, {"message": "oops", "code": "internal"}),
            ErrorCase(503, ProviderUnavailable, True, None),
        ),
    ),
    Adapter(
        id="backgroundcut",
        key=BACKGROUNDCUT_KEY,
        make=lambda client, key: BackgroundCutProvider(
            "backgroundcut", BackgroundCutConfig(api_key=key), client
        ),
        request=lambda: provider_request(trimap=True),
        main_url=BGC_PROCESS,
        prelude=_bgc_uploads,
        answer_ok=_bgc_ok,
        answer_malformed=_bgc_malformed,
        errors=(
            ErrorCase(400, ProviderProtocolError, True, {"detail": "trimap size mismatch"}),
            ErrorCase(401, ProviderAuthError, True, {"detail": f"Token {BACKGROUNDCUT_KEY} bad"}),
            ErrorCase(402, ProviderOutOfCredits, True, {"detail": "Insufficient credits"}),
            ErrorCase(404, ProviderProtocolError, True, {"detail": "File not found"}),
            ErrorCase(429, ProviderRateLimited, True, None, "5", 5.0),
            ErrorCase(500, ProviderUnavailable, True, {"detail": "error"}),
            ErrorCase(502, ProviderUnavailable, True, None),
            ErrorCase(504, ProviderTimeout, True, {"detail": "Processing timed out"}),
        ),
    ),
)
NEW_ADAPTERS = (
    Adapter(
        id="removebg",
        key=REMOVEBG_KEY,
        make=lambda client, key: RemoveBgProvider(
            "removebg", RemoveBgConfig(api_key=key), client
        ),
        request=provider_request,
        main_url=RBG_URL,
        prelude=_nothing,
        answer_ok=_image_ok(RBG_URL, {"X-Credits-Charged": "1", "X-Type": "product"}),
        answer_malformed=_malformed(RBG_URL, ZIP_BODY),
        errors=(
            ErrorCase(400, ProviderRejected, False, _rbg_error(
                "unknown_foreground", "Could not identify foreground in image.")),
            ErrorCase(400, ProviderRejected, False, _rbg_error(
                "failed_to_read_image", "Failed to read image")),
            ErrorCase(400, ProviderProtocolError, True, _rbg_error("invalid_size", "bad size")),
            ErrorCase(400, ProviderProtocolError, True, _rbg_error(None, "Failed to download")),
            ErrorCase(402, ProviderOutOfCredits, True,
                      _rbg_error("insufficient_credits", "Insufficient credits")),
            ErrorCase(403, ProviderAuthError, True,
                      _rbg_error("auth_failed", f"API Key invalid: {REMOVEBG_KEY}")),
            ErrorCase(403, ProviderAuthError, True,
                      _rbg_error("ip_address_unauthorized", "IP not allowed")),
            ErrorCase(429, ProviderRateLimited, True,
                      _rbg_error("rate_limit_exceeded", "Rate limit exceeded"), "3", 3.0),
            ErrorCase(500, ProviderUnavailable, True, _rbg_error("unknown_error", "oops")),
            ErrorCase(503, ProviderUnavailable, True, "bad gateway"),
        ),
    ),
    Adapter(
        id="photoroom",
        key=PHOTOROOM_KEY,
        make=lambda client, key: PhotoroomProvider(
            "photoroom", PhotoroomConfig(api_key=key), client
        ),
        request=provider_request,
        main_url=PRM_URL,
        prelude=_nothing,
        answer_ok=_image_ok(PRM_URL, {"x-uncertainty-score": "0.12"}),
        answer_malformed=_malformed(PRM_URL, b'{"base64img": "not an image"}'),
        errors=(
            ErrorCase(400, ProviderProtocolError, True, {
                "detail": "Please provide an image.", "status_code": 400, "type": "missing_image"}),
            ErrorCase(400, ProviderRejected, False, {
                "detail": "Could not process", "status_code": 400, "type": "unreadable_image"}),
            ErrorCase(402, ProviderOutOfCredits, True, {
                "error": {"detail": "API credits exhausted."}}),
            ErrorCase(403, ProviderAuthError, True, None),
            ErrorCase(429, ProviderRateLimited, True, None, "4", 4.0),
            ErrorCase(429, ProviderRateLimited, True, None),
            ErrorCase(500, ProviderUnavailable, True, {"error": {"message": "Unexpected"}}),
        ),
    ),
    Adapter(
        id="clipdrop",
        key=CLIPDROP_KEY,
        make=lambda client, key: ClipdropProvider(
            "clipdrop", ClipdropConfig(api_key=key), client
        ),
        request=provider_request,
        main_url=CDP_URL,
        prelude=_nothing,
        answer_ok=_image_ok(CDP_URL, {"x-credits-consumed": "1", "x-remaining-credits": "99"}),
        answer_malformed=_malformed(CDP_URL, b"<html>maintenance</html>"),
        errors=(
            ErrorCase(400, ProviderRejected, False, {"error": "image resolution too big"}),
            ErrorCase(401, ProviderAuthError, True, {"error": "No api key provided"}),
            ErrorCase(402, ProviderOutOfCredits, True, {"error": "No remaining credits"}),
            ErrorCase(403, ProviderAuthError, True, {"error": f"Invalid key {CLIPDROP_KEY}"}),
            ErrorCase(406, ProviderProtocolError, True, {"error": "Not acceptable"}),
            ErrorCase(429, ProviderRateLimited, True, {"error": "Too many requests"}, "9", 9.0),
            ErrorCase(500, ProviderUnavailable, True, {"error": "Server error"}),
        ),
    ),
    Adapter(
        id="rembg",
        key=REMBG_NO_KEY,
        make=lambda client, key: RembgProvider(
            "rembg", RembgConfig(base_url=REMBG_BASE), client
        ),
        request=provider_request,
        main_url=REMBG_URL,
        prelude=_nothing,
        answer_ok=_image_ok(REMBG_URL, {}),
        answer_malformed=_malformed(REMBG_URL, b"Internal Server Error"),
        errors=(
            ErrorCase(422, ProviderProtocolError, True, {"detail": [
                {"type": "missing", "loc": ["body", "file"], "msg": "Field required"}]}),
            ErrorCase(429, ProviderRateLimited, True, None, "2", 2.0),
            ErrorCase(500, ProviderUnavailable, True, "Internal Server Error"),
            ErrorCase(502, ProviderUnavailable, True, None),
        ),
        cost=0.0,
        keyed=False,
    ),
)
ADAPTERS = ADAPTERS + NEW_ADAPTERS
ERROR_PARAMS = [
    pytest.param(adapter, case, id=f"{adapter.id}-{case.status}-{case.error.__name__}")
    for adapter in ADAPTERS
    for case in adapter.errors
]
BY_ADAPTER = pytest.mark.parametrize("adapter", ADAPTERS, ids=[a.id for a in ADAPTERS])


def assert_key_absent(exc: BaseException, key: str) -> None:
    """The key appears in no message of `exc` nor of its causes."""
    seen: BaseException | None = exc
    while seen is not None:
        assert key not in str(seen)
        assert key not in repr(seen)
        seen = seen.__cause__ or seen.__context__


@BY_ADAPTER
async def test_success_returns_a_decodable_result_of_the_declared_kind(
    adapter: Adapter, httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    provider = adapter.make(client, adapter.key)
    adapter.prelude(httpx_mock)
    adapter.answer_ok(httpx_mock)

    result = await provider.remove_background(adapter.request())

    assert isinstance(provider, Provider)
    assert result.provider == adapter.id
    assert result.kind == provider.capabilities.output
    assert result.media_type == "image/png"
    assert result.latency_s >= 0
    assert result.cost == adapter.cost
    image = decode(result.data)
    if result.kind == "mask":
        assert image.mode == "L"
        assert image.getpixel((0, 0)) == 0
    else:
        assert image.mode == "RGBA"
        assert image.getpixel((0, 0))[3] == 0
        assert image.getpixel((image.width // 2, image.height // 2))[3] == 255
    assert all(adapter.key not in value for value in result.metadata.values())


@pytest.mark.parametrize(("adapter", "case"), ERROR_PARAMS)
async def test_error_status_maps_to_the_documented_provider_error(
    adapter: Adapter, case: ErrorCase, httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    adapter.prelude(httpx_mock)
    headers = {"Retry-After": case.retry_after} if case.retry_after else {}
    if isinstance(case.body, str) or case.body is None:
        httpx_mock.add_response(
            url=adapter.main_url, status_code=case.status, text=case.body or "", headers=headers
        )
    else:
        httpx_mock.add_response(
            url=adapter.main_url, status_code=case.status, json=case.body, headers=headers
        )

    with pytest.raises(ProviderError) as raised:
        await adapter.make(client, adapter.key).remove_background(adapter.request())

    assert type(raised.value) is case.error
    assert raised.value.fallback is case.fallback
    assert raised.value.retry_after == case.expected_retry_after
    assert raised.value.status == case.status
    assert raised.value.provider == adapter.id
    assert_key_absent(raised.value, adapter.key)


@BY_ADAPTER
async def test_transport_timeout_is_a_provider_timeout(
    adapter: Adapter, httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    adapter.prelude(httpx_mock)
    httpx_mock.add_exception(httpx.ReadTimeout("read timed out"), url=adapter.main_url)

    with pytest.raises(ProviderTimeout) as raised:
        await adapter.make(client, adapter.key).remove_background(adapter.request())

    assert raised.value.fallback is True
    assert raised.value.retry_after is None
    assert_key_absent(raised.value, adapter.key)


@BY_ADAPTER
async def test_connection_error_is_unavailable(
    adapter: Adapter, httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    adapter.prelude(httpx_mock)
    httpx_mock.add_exception(httpx.ConnectError("connection refused"), url=adapter.main_url)

    with pytest.raises(ProviderUnavailable) as raised:
        await adapter.make(client, adapter.key).remove_background(adapter.request())

    assert raised.value.fallback is True
    assert_key_absent(raised.value, adapter.key)


@BY_ADAPTER
async def test_non_image_200_body_is_a_protocol_error(
    adapter: Adapter, httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    adapter.prelude(httpx_mock)
    adapter.answer_malformed(httpx_mock)

    with pytest.raises(ProviderProtocolError) as raised:
        await adapter.make(client, adapter.key).remove_background(adapter.request())

    assert raised.value.fallback is True


@BY_ADAPTER
async def test_spent_deadline_times_out_without_calling_the_vendor(
    adapter: Adapter, httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    request = adapter.request()
    expired = ProviderRequest(
        image=request.image, image_format=request.image_format, width=request.width,
        height=request.height, request_id=request.request_id, deadline=request.deadline - 3600,
        trimap=request.trimap,
    )

    with pytest.raises(ProviderTimeout) as raised:
        await adapter.make(client, adapter.key).remove_background(expired)

    assert raised.value.provider == adapter.id
    assert httpx_mock.get_requests() == []


@pytest.mark.parametrize(
    "adapter", [a for a in ADAPTERS if a.keyed], ids=[a.id for a in ADAPTERS if a.keyed]
)
async def test_missing_key_is_an_auth_error_without_a_call(
    adapter: Adapter, httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    with pytest.raises(ProviderAuthError):
        await adapter.make(client, None).remove_background(adapter.request())

    assert httpx_mock.get_requests() == []


@BY_ADAPTER
async def test_aclose_leaves_the_shared_client_open(
    adapter: Adapter, client: httpx.AsyncClient
) -> None:
    await adapter.make(client, adapter.key).aclose()

    assert not client.is_closed
