"""The union of every provider type's config, tagged by `type`, and what each needs to run."""

from __future__ import annotations

from providers.backgroundcut_config import BackgroundCutConfig
from providers.backgrounderase_config import BackgroundEraseConfig
from providers.base import ProviderConfig
from providers.clipdrop_config import ClipdropConfig
from providers.local.config import LocalConfig
from providers.photoroom_config import PhotoroomConfig
from providers.rembg_config import RembgConfig
from providers.removebg_config import RemoveBgConfig
from providers.withoutbg_config import WithoutBGConfig

AnyProviderConfig = (
    LocalConfig | WithoutBGConfig | BackgroundEraseConfig | BackgroundCutConfig
    | RemoveBgConfig | PhotoroomConfig | ClipdropConfig | RembgConfig
)
KEYED_CONFIGS = (
    WithoutBGConfig, BackgroundEraseConfig, BackgroundCutConfig,
    RemoveBgConfig, PhotoroomConfig, ClipdropConfig,
)
#: Configs enabled by a server address instead of a key.
ADDRESSED_CONFIGS = (RembgConfig,)


def missing_setting(config: ProviderConfig) -> str | None:
    """The field this provider needs and lacks (`api_key`, `base_url`), else None."""
    if isinstance(config, KEYED_CONFIGS) and not config.api_key:
        return "api_key"
    if isinstance(config, ADDRESSED_CONFIGS) and not config.base_url:
        return "base_url"
    return None
