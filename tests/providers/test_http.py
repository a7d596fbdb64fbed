"""The shared vendor HTTP layer: retry hints, sanitised codes, the one log line, credit headers."""

from __future__ import annotations

import logging
import time

import httpx
import pytest
import structlog
from pytest_httpx import HTTPXMock

from providers._http import (
    CreditHeaders,
    ErrorMap,
    VendorHTTP,
    header_number,
    retry_after_seconds,
    safe_code,
    with_defaults,
)
from providers.errors import (
    ProviderAuthError,
    ProviderOutOfCredits,
    ProviderProtocolError,
    ProviderRejected,
)

URL = "https://vendor.example/v1/cut"
KEY = "vnd-SECRET-0a1b2c3d4e"


def headers(**values: str) -> httpx.Headers:
    return httpx.Headers({name.replace("_", "-"): value for name, value in values.items()})


def test_retry_after_prefers_retry_after_then_rate_limit_reset_on_429_only() -> None:
    assert retry_after_seconds(headers(retry_after="7", x_ratelimit_reset="99"), 429) == 7.0
    epoch = str(int(time.time()) + 60)
    assert retry_after_seconds(headers(x_ratelimit_reset=epoch), 429) == pytest.approx(60, abs=3)
    assert retry_after_seconds(headers(x_ratelimit_reset="12"), 429) == 12.0
    assert retry_after_seconds(headers(x_ratelimit_reset=epoch), 500) is None
    assert retry_after_seconds(headers(retry_after="soon"), 429) is None


def test_codes_are_plain_words_or_nothing() -> None:
    assert safe_code("Unknown_Foreground") == "unknown_foreground"
    assert safe_code(KEY) is None
    assert safe_code("a1") is None and safe_code(7) is None and safe_code("x" * 41) is None


def test_header_numbers() -> None:
    assert header_number(headers(x_credits="0.25"), "x-credits") == 0.25
    assert header_number(headers(x_credits="nan"), "x-credits") is None
    assert header_number(headers(x_credits="lots"), "x-credits") is None
    assert header_number(headers(), "x-credits") is None


def refine(status: int, code: str | None) -> type[ProviderRejected] | None:
    return ProviderRejected if code == "bad_image" else None


def vendor(client: httpx.AsyncClient, key: str | None = KEY) -> VendorHTTP:
    errors = ErrorMap(table=with_defaults({403: ProviderOutOfCredits}),
                      code=lambda status, body: httpx.Response(status, content=body).json()
                      .get("code"),
                      refine=refine)
    return VendorHTTP("vnd", client, errors, 10.0, key,
                      CreditHeaders(charged="x-charged", remaining="x-left"))


async def test_overrides_refinements_and_defaults(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    for status, code in ((403, "expired"), (400, "bad_image"), (400, "bad_param"),
                         (401, None), (418, None)):
        httpx_mock.add_response(url=URL, status_code=status, json={"code": code})
    raised = []
    for _ in range(5):
        with pytest.raises(Exception) as caught:
            await vendor(client).call(httpx.Request("POST", URL), "/v1/cut")
        raised.append(type(caught.value))

    assert raised == [ProviderOutOfCredits, ProviderRejected, ProviderProtocolError,
                      ProviderAuthError, ProviderProtocolError]


async def test_one_log_line_without_key_or_vendor_message(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    httpx_mock.add_response(url=URL, status_code=400,
                            json={"code": KEY, "message": f"your key {KEY} is wrong"})
    caplog.set_level(logging.DEBUG)

    with structlog.testing.capture_logs() as events, pytest.raises(ProviderProtocolError):
        await vendor(client).call(httpx.Request("POST", URL, headers={"x-api-key": KEY}), "cut")

    assert [e["event"] for e in events] == ["provider.http_error"]
    assert events[0]["status"] == 400 and events[0]["provider"] == "vnd"
    assert KEY not in repr(events) and KEY not in caplog.text and "wrong" not in repr(events)


async def test_missing_key_and_credit_headers(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=URL, headers={"x-charged": "0.5", "x-left": "12"})
    with pytest.raises(ProviderAuthError):
        await vendor(client, key=None).call(httpx.Request("POST", URL), "cut")
    http = vendor(client)

    response = await http.call(httpx.Request("POST", URL), "cut")

    assert http.credits(response).charged == 0.5
    assert http.remaining_credits == 12.0
    assert len(httpx_mock.get_requests()) == 1


async def test_a_zero_balance_is_out_of_credits_once_without_a_call(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=URL, headers={"x-charged": "1", "x-left": "0"})
    httpx_mock.add_response(url=URL, headers={"x-charged": "1", "x-left": "5"})
    http = vendor(client)
    await http.call(httpx.Request("POST", URL), "cut")

    with pytest.raises(ProviderOutOfCredits):
        await http.call(httpx.Request("POST", URL), "cut")
    await http.call(httpx.Request("POST", URL), "cut")  # topped up meanwhile: asks again

    assert len(httpx_mock.get_requests()) == 2
    assert http.remaining_credits == 5.0
