"""Provider type -> adapter factory: the only module that names concrete vendors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from providers.backgroundcut import BackgroundCutProvider
from providers.backgroundcut_config import BackgroundCutConfig
from providers.backgrounderase import BackgroundEraseProvider
from providers.backgrounderase_config import BackgroundEraseConfig
from providers.base import Provider, ProviderConfig
from providers.clipdrop import ClipdropProvider
from providers.clipdrop_config import ClipdropConfig
from providers.configs import AnyProviderConfig
from providers.local.config import LocalConfig
from providers.photoroom import PhotoroomProvider
from providers.photoroom_config import PhotoroomConfig
from providers.rembg import RembgProvider
from providers.rembg_config import RembgConfig
from providers.removebg import RemoveBgProvider
from providers.removebg_config import RemoveBgConfig
from providers.withoutbg import WithoutBGProvider
from providers.withoutbg_config import WithoutBGConfig

#: Builds one provider from its configured name, its config and the app's shared HTTP client.
ProviderFactory = Callable[[str, Any, httpx.AsyncClient], Provider]


def _local(name: str, config: LocalConfig, client: httpx.AsyncClient) -> Provider:
    """The offline engine (no HTTP client); imported lazily because it pulls in numpy/opencv."""
    from providers.local.provider import LocalProvider

    return LocalProvider(name, config)


FACTORIES: dict[type[ProviderConfig], ProviderFactory] = {
    LocalConfig: _local,
    WithoutBGConfig: WithoutBGProvider,
    BackgroundEraseConfig: BackgroundEraseProvider,
    BackgroundCutConfig: BackgroundCutProvider,
    RemoveBgConfig: RemoveBgProvider,
    PhotoroomConfig: PhotoroomProvider,
    ClipdropConfig: ClipdropProvider,
    RembgConfig: RembgProvider,
}


def build_provider(name: str, config: AnyProviderConfig, client: httpx.AsyncClient) -> Provider:
    """The provider `config` describes, named `name`, sharing `client` (owned by the caller)."""
    factory = FACTORIES.get(type(config))
    if factory is None:
        raise TypeError(f"no provider factory for config type {type(config).__name__}")
    return factory(name, config, client)
