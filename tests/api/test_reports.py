"""Usage, credits, metrics and providers routes over the in-process app."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.keys import new_client_key
from tests.api.conftest import gateway_settings
from tests.api.test_bad_input import JPEG
from tests.fakes import FakeProvider

URL = "/v1/remove-background"


def client_settings(tmp_path: Path, keys: dict[str, str]) -> dict:
    """Config sections for clients with these plain keys (hashed as in production)."""
    from gateway.keys import hash_client_key

    return {"auth": {"required": True},
            "clients": {name: {"key_sha256": hash_client_key(key)} for name, key in keys.items()}}


async def test_usage_counts_served_images_by_client(tmp_path: Path) -> None:
    alice, _ = new_client_key("alice")
    bob, _ = new_client_key("bob")
    settings = gateway_settings(tmp_path, client_settings(tmp_path, {"alice": alice, "bob": bob}))
    app = create_app(settings, providers={"fake": FakeProvider("fake", cost=0.5)})
    async with AsyncTestClient(app=app) as client:
        for key in (alice, alice, bob):
            response = await client.post(URL, files={"image_file": ("a.jpg", JPEG)},
                                         headers={"x-api-key": key})
            assert response.status_code == 200, response.text
        failed = await client.post(URL, files={"image_file": ("a.jpg", b"junk")},
                                   headers={"authorization": f"Bearer {alice}"})
        assert failed.status_code == 415
        usage = (await client.get("/v1/usage", headers={"x-api-key": alice})).json()["usage"]
        assert usage == [{"client": "alice", "provider": "fake", "images": 2, "cost": 1.0,
                          "cache_hits": 0}]
        other = await client.get("/v1/usage?client=bob", headers={"x-api-key": alice})
        assert other.status_code == 400
        assert (await client.get("/v1/usage")).status_code == 401
        assert (await client.get("/v1/providers")).status_code == 401
        assert (await client.get("/health")).status_code == 200


async def test_usage_time_range_and_bad_instant(tmp_path: Path) -> None:
    app = create_app(gateway_settings(tmp_path), providers={"fake": FakeProvider("fake")})
    async with AsyncTestClient(app=app) as client:
        assert (await client.post(URL, files={"image_file": ("a.jpg", JPEG)})).status_code == 200
        everything = (await client.get("/v1/usage?from=2020-01-01")).json()["usage"]
        assert everything[0]["images"] == 1
        future = (await client.get("/v1/usage?from=2999-01-01T00:00:00Z")).json()["usage"]
        assert future == []
        bad = await client.get("/v1/usage?from=yesterday")
        assert bad.status_code == 400 and bad.json()["code"] == "invalid_option"


async def test_metrics_count_requests_attempts_and_spend(tmp_path: Path) -> None:
    app = create_app(gateway_settings(tmp_path), providers={"fake": FakeProvider("fake", cost=2.0)})
    async with AsyncTestClient(app=app) as client:
        await client.post(URL, files={"image_file": ("a.jpg", JPEG)}, data={"format": "jpg"})
        text = (await client.get("/metrics")).text
    assert 'bg_gateway_requests_total{client="anonymous",route="/v1/remove-background",' \
           'status="200"} 1.0' in text
    assert 'bg_gateway_spend_total{provider="fake"} 2.0' in text
    assert 'bg_gateway_emulated_steps_total{step="format"} 1.0' in text
    assert ('bg_gateway_circuit_state{bg_gateway_circuit_state="closed",provider="fake"} 1.0'
            in text)


async def test_credits_without_credit_endpoints_is_empty(tmp_path: Path) -> None:
    app = create_app(gateway_settings(tmp_path), providers={"fake": FakeProvider("fake")})
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/v1/credits")).json() == {"credits": {}}


class HealthyFake(FakeProvider):
    """A fake whose vendor reports its health."""

    def __init__(self, name: str, healthy: bool) -> None:
        super().__init__(name)
        self.healthy = healthy

    async def health(self) -> bool:
        """The scripted health answer."""
        return self.healthy


async def test_providers_report_vendor_health(tmp_path: Path) -> None:
    settings = gateway_settings(tmp_path, {"providers": {
        "up": {"type": "local"}, "down": {"type": "local"}, "plain": {"type": "local"},
    }})
    providers = {"up": HealthyFake("up", True), "down": HealthyFake("down", False),
                 "plain": FakeProvider("plain")}
    async with AsyncTestClient(app=create_app(settings, providers=providers)) as client:
        listed = (await client.get("/v1/providers")).json()["providers"]
    assert {p["name"]: p["health"] for p in listed} == {"up": True, "down": False, "plain": None}
