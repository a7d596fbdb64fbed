"""Redis lost while running: requests keep being served; /ready says degraded, not down."""

from __future__ import annotations

import subprocess
from pathlib import Path

from litestar.testing import AsyncTestClient

from gateway.app import create_app
from tests.api.conftest import gateway_settings
from tests.api.test_bad_input import JPEG
from tests.conftest import start_redis_server
from tests.fakes import FakeProvider

URL = "/v1/remove-background"


async def test_requests_survive_losing_redis(
    tmp_path: Path, own_redis: tuple[int, list[subprocess.Popen[bytes]]]
) -> None:
    port, started = own_redis
    proc = await start_redis_server(port, started)
    settings = gateway_settings(tmp_path, {
        "state": {"backend": "redis", "redis_url": f"redis://127.0.0.1:{port}/0"},
    })
    fake = FakeProvider("fake")
    async with AsyncTestClient(app=create_app(settings, providers={"fake": fake})) as client:
        assert (await client.post(URL, files={"image_file": ("a.jpg", JPEG)})).status_code == 200
        proc.terminate()
        proc.wait(timeout=5)
        for _ in range(3):
            answer = await client.post(URL, files={"image_file": ("a.jpg", JPEG)})
            assert answer.status_code == 200, answer.text
        ready = await client.get("/ready")
        assert ready.status_code == 200
        assert ready.json()["degraded"] is True
        assert ready.json()["state"]["reachable"] is False
    assert len(fake.calls) == 4
