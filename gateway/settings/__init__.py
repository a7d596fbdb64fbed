"""Typed configuration: the section structs (`sections`) and the TOML loader (`loader`)."""

from gateway.settings.loader import DEFAULT_CONFIG, load_settings, parse_settings
from gateway.settings.sections import (
    AuthSettings,
    CacheSettings,
    ClientSettings,
    ExperimentSettings,
    FetchSettings,
    JobsSettings,
    LedgerSettings,
    RoutingSettings,
    ServerSettings,
    Settings,
    SettingsError,
    StateSettings,
)

__all__ = [
    "DEFAULT_CONFIG",
    "AuthSettings",
    "CacheSettings",
    "ClientSettings",
    "ExperimentSettings",
    "FetchSettings",
    "JobsSettings",
    "LedgerSettings",
    "RoutingSettings",
    "ServerSettings",
    "Settings",
    "SettingsError",
    "StateSettings",
    "load_settings",
    "parse_settings",
]
