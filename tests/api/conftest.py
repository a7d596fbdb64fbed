"""An in-process gateway with scripted providers, for route tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.settings import CacheSettings, LedgerSettings, Settings, parse_settings
from providers.base import Provider
from tests.fakes import FakeProvider

AppFactory = Callable[..., AsyncTestClient]


def gateway_settings(tmp_path: Path, extra: dict | None = None) -> Settings:
    """Settings with one `fake` provider config, a private ledger and no cache."""
    data = {
        "providers": {"fake": {"type": "local"}},
        "ledger": {"path": str(tmp_path / "usage.sqlite3")},
        "cache": {"enabled": False},
        **(extra or {}),
    }
    return parse_settings(data)


@pytest.fixture
def fake() -> FakeProvider:
    """A provider answering a centre-box cutout."""
    return FakeProvider("fake")


@pytest.fixture
async def client(tmp_path: Path, fake: FakeProvider) -> AsyncIterator[AsyncTestClient]:
    """A test client over the real app with the `fake` provider."""
    app = create_app(gateway_settings(tmp_path), providers={"fake": fake})
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


def with_overrides(settings: Settings, **sections: object) -> Settings:
    """Replace whole sections of `settings` (e.g. cache=CacheSettings(...))."""
    return msgspec.structs.replace(settings, **sections)


__all__ = ["CacheSettings", "LedgerSettings", "Provider", "gateway_settings", "with_overrides"]
