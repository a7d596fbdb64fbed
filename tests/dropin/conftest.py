"""A real gateway app with the drop-in routers mounted, scripted providers and small images."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from PIL import Image

from gateway.api.dropin_backgrounderase import BACKGROUNDERASE_ROUTES
from gateway.api.dropin_removebg import REMOVEBG_ROUTES
from gateway.api.dropin_withoutbg import WITHOUTBG_ROUTES
from gateway.app import create_app
from gateway.keys import hash_client_key
from gateway.settings import Settings, parse_settings
from providers.base import Provider
from tests.fakes import FakeProvider

DROPIN_ROUTERS = (WITHOUTBG_ROUTES, BACKGROUNDERASE_ROUTES, REMOVEBG_ROUTES)
#: A path served by each router: how `mount` tells whether create_app already registered it.
ROUTER_PATHS = ("/v1.0/image-without-background", "/v2", "/v1.0/removebg")
CLIENT_KEY = "gw-test-client-key-0123456789"


def dropin_settings(tmp_path: Path, extra: Mapping[str, Any] | None = None) -> Settings:
    """Settings with one provider config, a private ledger and no result cache."""
    data: dict[str, Any] = {
        "providers": {"fake": {"type": "local"}},
        "ledger": {"path": str(tmp_path / "usage.sqlite3")},
        "cache": {"enabled": False},
        **(extra or {}),
    }
    return parse_settings(data)


def client_auth(rate_limit: str | None = None, monthly_quota: int | None = None) -> dict[str, Any]:
    """Settings fragment: client auth required, one client `alice` with CLIENT_KEY."""
    alice: dict[str, Any] = {"key_sha256": hash_client_key(CLIENT_KEY)}
    if rate_limit:
        alice["rate_limit"] = rate_limit
    if monthly_quota is not None:
        alice["monthly_quota"] = monthly_quota
    return {"auth": {"required": True}, "clients": {"alice": alice}}


def mount(app: Litestar) -> Litestar:
    """Register the drop-in routers create_app does not register (yet)."""
    served = {route.path for route in app.routes}
    for router, path in zip(DROPIN_ROUTERS, ROUTER_PATHS, strict=True):
        if path not in served:
            app.register(router)
    return app


def dropin_app(settings: Settings, providers: Mapping[str, Provider] | None) -> Litestar:
    """create_app plus the drop-in routers (`providers=None`: build the configured ones)."""
    return mount(create_app(settings, providers=providers))


@pytest.fixture
def fake() -> FakeProvider:
    """A provider answering a centre-box cutout at 2 credits per image."""
    return FakeProvider("fake", cost=2.0)


@pytest.fixture
async def client(tmp_path: Path, fake: FakeProvider) -> AsyncIterator[AsyncTestClient]:
    """A test client over the real app with the drop-in routers and the `fake` provider."""
    app = dropin_app(dropin_settings(tmp_path), {"fake": fake})
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


def photo(width: int = 64, height: int = 48, fmt: str = "JPEG") -> bytes:
    """A small real image: a colour gradient, encoded as `fmt`."""
    xs = np.linspace(0, 255, width, dtype=np.uint8)
    ys = np.linspace(0, 255, height, dtype=np.uint8)
    rgb = np.dstack([
        np.tile(xs, (height, 1)), np.tile(ys[:, None], (1, width)),
        np.full((height, width), 120, np.uint8),
    ])
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format=fmt)
    return buffer.getvalue()


def opened(data: bytes) -> Image.Image:
    """Decode an answer fully."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def assert_centre_cutout(image: Image.Image, width: int, height: int) -> None:
    """The fake's centre box: transparent corners, opaque centre, input size."""
    assert image.size == (width, height)
    alpha = image.getchannel("A") if image.mode == "RGBA" else image.convert("L")
    assert alpha.getpixel((0, 0)) == 0
    assert alpha.getpixel((width - 1, height - 1)) == 0
    assert alpha.getpixel((width // 2, height // 2)) == 255


def assert_gateway_headers(headers: Mapping[str, str], provider: str = "fake") -> None:
    """Every drop-in answer keeps the gateway's tracing headers."""
    assert headers["x-request-id"]
    assert headers["x-provider"] == provider
    assert headers["x-attempts"] == f"{provider}=ok"


def noisy_png(width: int, height: int, seed: int = 0) -> bytes:
    """A PNG that does not compress (random pixels): for byte-limit tests."""
    rgb = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()
