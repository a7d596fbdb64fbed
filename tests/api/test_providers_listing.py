"""`GET /v1/providers` shows a disabled provider as configured, not with defaults."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import AsyncTestClient

from gateway.app import create_app
from tests.api.conftest import gateway_settings
from tests.fakes import FakeProvider


async def test_disabled_provider_keeps_its_configured_type_priority_and_cost(
    tmp_path: Path,
) -> None:
    settings = gateway_settings(tmp_path, {"providers": {
        "fake": {"type": "local"},
        "wbg": {"type": "withoutbg", "priority": 7, "cost": 2.5, "rate_limit": "5/minute"},
    }})
    assert "wbg" in settings.disabled
    app = create_app(settings, providers={"fake": FakeProvider("fake")})
    async with AsyncTestClient(app=app) as client:
        answer = await client.get("/v1/providers")
    assert answer.status_code == 200, answer.text
    listed = {p["name"]: p for p in answer.json()["providers"]}
    wbg = listed["wbg"]
    assert wbg["enabled"] is False and wbg["disabled_reason"]
    assert (wbg["type"], wbg["priority"], wbg["cost"], wbg["rate_limit"]) == (
        "withoutbg", 7, 2.5, "5/minute")
    assert wbg["capabilities"] is not None
    assert listed["fake"]["enabled"] is True
