"""The registry: one factory per config type, vendors built on the shared client."""

from __future__ import annotations

import sys
import types
import typing

import httpx
import pytest

from providers.backgroundcut import BackgroundCutProvider
from providers.backgroundcut_config import BackgroundCutConfig
from providers.backgrounderase import BackgroundEraseProvider
from providers.backgrounderase_config import BackgroundEraseConfig
from providers.base import Capabilities, Provider, ProviderConfig
from providers.clipdrop import ClipdropProvider
from providers.clipdrop_config import ClipdropConfig
from providers.configs import AnyProviderConfig, missing_setting
from providers.local.config import LocalConfig
from providers.photoroom import PhotoroomProvider
from providers.photoroom_config import PhotoroomConfig
from providers.registry import CAPABILITIES, FACTORIES, build_provider, capabilities_of
from providers.rembg import RembgProvider
from providers.rembg_config import RembgConfig
from providers.removebg import RemoveBgProvider
from providers.removebg_config import RemoveBgConfig
from providers.withoutbg import WithoutBGProvider
from providers.withoutbg_config import WithoutBGConfig


@pytest.mark.parametrize(
    ("config", "adapter"),
    [
        (WithoutBGConfig(api_key="k"), WithoutBGProvider),
        (BackgroundEraseConfig(api_key="k"), BackgroundEraseProvider),
        (BackgroundCutConfig(api_key="k"), BackgroundCutProvider),
        (RemoveBgConfig(api_key="k"), RemoveBgProvider),
        (PhotoroomConfig(api_key="k"), PhotoroomProvider),
        (ClipdropConfig(api_key="k"), ClipdropProvider),
        (RembgConfig(base_url="http://rembg:7000"), RembgProvider),
    ],
    ids=["withoutbg", "backgrounderase", "backgroundcut", "removebg", "photoroom", "clipdrop",
         "rembg"],
)
async def test_vendor_configs_build_their_adapter(
    config: AnyProviderConfig, adapter: type, client: httpx.AsyncClient
) -> None:
    provider = build_provider("second-account", config, client)

    assert type(provider) is adapter
    assert isinstance(provider, Provider)
    assert provider.name == "second-account"
    assert provider.capabilities.cost == config.cost


def test_every_config_type_has_a_factory() -> None:
    assert set(typing.get_args(AnyProviderConfig)) == set(FACTORIES)


def test_capabilities_without_building_the_adapter() -> None:
    assert set(CAPABILITIES) == set(FACTORIES) - {LocalConfig}
    described = capabilities_of(ClipdropConfig(cost=2.0))
    assert described is not None and described.native == {"format"} and described.cost == 2.0
    assert capabilities_of(RembgConfig(only_mask=True)).output == "mask"  # type: ignore[union-attr]
    assert capabilities_of(LocalConfig()) is None


def test_what_each_provider_needs_to_be_enabled() -> None:
    assert missing_setting(RemoveBgConfig()) == "api_key"
    assert missing_setting(ClipdropConfig(api_key="k")) is None
    assert missing_setting(RembgConfig()) == "base_url"
    assert missing_setting(RembgConfig(base_url="http://rembg:7000")) is None
    assert missing_setting(LocalConfig()) is None


class _StubLocal:
    """Stands in for the local engine, which is built elsewhere."""

    capabilities = Capabilities(output="mask")

    def __init__(self, name: str, config: LocalConfig) -> None:
        self.name = name
        self.config = config


async def test_local_config_builds_the_local_provider_without_the_client(
    monkeypatch: pytest.MonkeyPatch, client: httpx.AsyncClient
) -> None:
    stub = types.ModuleType("providers.local.provider")
    stub.LocalProvider = _StubLocal  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "providers.local.provider", stub)
    config = LocalConfig()

    provider = build_provider("local", config, client)

    assert isinstance(provider, _StubLocal)
    assert (provider.name, provider.config) == ("local", config)


def test_unknown_config_type_is_refused(client: httpx.AsyncClient) -> None:
    with pytest.raises(TypeError, match="ProviderConfig"):
        build_provider("x", ProviderConfig(), client)  # type: ignore[arg-type]
