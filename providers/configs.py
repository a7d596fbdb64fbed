"""The union of every provider type's config, tagged by `type`."""

from __future__ import annotations

from providers.backgroundcut_config import BackgroundCutConfig
from providers.backgrounderase_config import BackgroundEraseConfig
from providers.local.config import LocalConfig
from providers.withoutbg_config import WithoutBGConfig

AnyProviderConfig = LocalConfig | WithoutBGConfig | BackgroundEraseConfig | BackgroundCutConfig
KEYED_CONFIGS = (WithoutBGConfig, BackgroundEraseConfig, BackgroundCutConfig)
