"""Provider type -> adapter factory: the only module that names concrete vendors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from providers import (
    backgroundcut,
    backgrounderase,
    clipdrop,
    photoroom,
    rembg,
    removebg,
    withoutbg,
)
from providers.backgroundcut_config import BackgroundCutConfig
from providers.backgrounderase_config import BackgroundEraseConfig
from providers.base import Capabilities, Provider, ProviderConfig
from providers.clipdrop_config import ClipdropConfig
from providers.configs import AnyProviderConfig
from providers.local.config import LocalConfig
from providers.photoroom_config import PhotoroomConfig
from providers.rembg_config import RembgConfig
from providers.removebg_config import RemoveBgConfig
from providers.withoutbg_config import WithoutBGConfig

#: Builds one provider from its configured name, its config and the app's shared HTTP client.
ProviderFactory = Callable[[str, Any, httpx.AsyncClient], Provider]


def _local(name: str, config: LocalConfig, client: httpx.AsyncClient) -> Provider:
    """The offline engine (no HTTP client); imported lazily because it pulls in numpy/opencv."""
    from providers.local.provider import LocalProvider

    return LocalProvider(name, config)


FACTORIES: dict[type[ProviderConfig], ProviderFactory] = {
    LocalConfig: _local,
    WithoutBGConfig: withoutbg.WithoutBGProvider,
    BackgroundEraseConfig: backgrounderase.BackgroundEraseProvider,
    BackgroundCutConfig: backgroundcut.BackgroundCutProvider,
    RemoveBgConfig: removebg.RemoveBgProvider,
    PhotoroomConfig: photoroom.PhotoroomProvider,
    ClipdropConfig: clipdrop.ClipdropProvider,
    RembgConfig: rembg.RembgProvider,
}


def build_provider(name: str, config: AnyProviderConfig, client: httpx.AsyncClient) -> Provider:
    """The provider `config` describes, named `name`, sharing `client` (owned by the caller)."""
    factory = FACTORIES.get(type(config))
    if factory is None:
        raise TypeError(f"no provider factory for config type {type(config).__name__}")
    return factory(name, config, client)


#: Capabilities of each vendor config type, computed without building the adapter.
CAPABILITIES: dict[type[ProviderConfig], Callable[[Any], Capabilities]] = {
    WithoutBGConfig: withoutbg.capabilities,
    BackgroundEraseConfig: backgrounderase.capabilities,
    BackgroundCutConfig: backgroundcut.capabilities,
    RemoveBgConfig: removebg.capabilities,
    PhotoroomConfig: photoroom.capabilities,
    ClipdropConfig: clipdrop.capabilities,
    RembgConfig: rembg.capabilities,
}


def capabilities_of(config: AnyProviderConfig) -> Capabilities | None:
    """What a configured vendor would offer, even while disabled (None for the local engine)."""
    describe = CAPABILITIES.get(type(config))
    return describe(config) if describe is not None else None
