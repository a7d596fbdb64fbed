"""Redis lost while running: requests keep being served; /ready says degraded, not down."""

from __future__ import annotations

import subprocess
from pathlib import Path

from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.keys import hash_client_key
from tests.api.conftest import gateway_settings
from tests.api.test_bad_input import JPEG
from tests.conftest import start_redis_server
from tests.fakes import FakeProvider

URL = "/v1/remove-background"
KEY = "bgw_shop-secret-key-0123456789"


async def test_requests_survive_losing_redis(
    tmp_path: Path, own_redis: tuple[int, list[subprocess.Popen[bytes]]]
) -> None:
    port, started = own_redis
    proc = await start_redis_server(port, started)
    settings = gateway_settings(tmp_path, {
        "state": {"backend": "redis", "redis_url": f"redis://127.0.0.1:{port}/0"},
        # A client with a rate limit and a quota: both live in the state backend.
        "clients": {"shop": {"key_sha256": hash_client_key(KEY), "rate_limit": "100/minute",
                             "monthly_quota": 100}},
    })
    fake = FakeProvider("fake")
    headers = {"X-API-Key": KEY}
    async with AsyncTestClient(app=create_app(settings, providers={"fake": fake})) as client:
        first = await client.post(URL, files={"image_file": ("a.jpg", JPEG)}, headers=headers)
        assert first.status_code == 200
        proc.terminate()
        proc.wait(timeout=5)
        for _ in range(3):
            answer = await client.post(URL, files={"image_file": ("a.jpg", JPEG)},
                                       headers=headers)
            assert answer.status_code == 200, answer.text
            assert answer.headers["ratelimit-limit"] == "100"
        ready = await client.get("/ready")
        assert ready.status_code == 200
        assert ready.json()["degraded"] is True
        assert ready.json()["state"]["reachable"] is False
        # Redis back (same port, empty): /ready's probe ends the outage, requests go on.
        await start_redis_server(port, started)
        ready = await client.get("/ready")
        assert ready.json()["degraded"] is False and ready.json()["redis"] == {"state": True}
        answer = await client.post(URL, files={"image_file": ("a.jpg", JPEG)}, headers=headers)
        assert answer.status_code == 200, answer.text
    assert len(fake.calls) == 5
