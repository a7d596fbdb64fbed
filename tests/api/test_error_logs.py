"""Error answers are logged with their error code and the client that got them."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import AsyncTestClient
from structlog.testing import capture_logs

from gateway.app import create_app
from gateway.keys import hash_client_key
from tests.api.conftest import gateway_settings
from tests.api.test_bad_input import JPEG
from tests.fakes import FakeProvider

KEY = "bgw_alice-secret-key-0123456789"
URL = "/v1/remove-background"


async def test_4xx_log_lines_carry_the_error_code_and_the_client(tmp_path: Path) -> None:
    settings = gateway_settings(tmp_path, {
        "clients": {"alice": {"key_sha256": hash_client_key(KEY), "rate_limit": "2/minute"}},
    })
    app = create_app(settings, providers={"fake": FakeProvider("fake")})
    async with AsyncTestClient(app=app) as client:
        with capture_logs() as logs:
            bad_option = await client.post(URL, files={"image_file": ("a.jpg", JPEG)},
                                           data={"format": "gif"}, headers={"X-API-Key": KEY})
            wrong_key = await client.post(URL, files={"image_file": ("a.jpg", JPEG)},
                                          headers={"X-API-Key": KEY + "x"})
            served = await client.post(URL, files={"image_file": ("a.jpg", JPEG)},
                                       headers={"X-API-Key": KEY})
            limited = await client.post(URL, files={"image_file": ("a.jpg", JPEG)},
                                        headers={"X-API-Key": KEY})
    assert [a.status_code for a in (bad_option, wrong_key, served, limited)] == [
        400, 401, 200, 429]
    lines = [(e["status"], e.get("error"), e.get("client")) for e in logs
             if e["event"] == "request"]
    assert lines == [
        (400, "invalid_option", "alice"),
        (401, "unauthorized", "invalid_key"),
        (200, None, "alice"),
        (429, "rate_limited", "alice"),
    ]
    assert all(KEY not in repr(e) for e in logs)
