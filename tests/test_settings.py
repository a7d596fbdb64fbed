"""Configuration: TOML into typed settings, ${ENV} interpolation, messages naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import SettingsError, load_settings, parse_settings
from providers.withoutbg_config import WithoutBGConfig

ROOT = Path(__file__).resolve().parent.parent


def test_default_config_enables_local_and_disables_vendors_without_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("WITHOUTBG_API_KEY", "BACKGROUNDERASE_API_KEY", "BACKGROUNDCUT_API_KEY",
                 "REMOVEBG_API_KEY", "PHOTOROOM_API_KEY", "CLIPDROP_API_KEY", "REMBG_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(ROOT / "config" / "gateway.toml")
    assert list(settings.enabled_providers()) == ["local"]
    assert set(settings.disabled) == {"withoutbg", "backgrounderase", "backgroundcut",
                                      "removebg", "photoroom", "clipdrop", "rembg"}
    assert settings.disabled["rembg"] == "no base_url (providers.rembg.base_url is unset)"
    assert "WITHOUTBG" not in settings.disabled["withoutbg"]  # names the key path, not a value
    assert "providers.withoutbg.api_key" in settings.disabled["withoutbg"]


def test_env_key_switches_a_vendor_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WITHOUTBG_API_KEY", "k-123")
    settings = load_settings(ROOT / "config" / "gateway.toml")
    config = settings.enabled_providers()["withoutbg"]
    assert isinstance(config, WithoutBGConfig) and config.api_key == "k-123"


def test_sandbox_config_loads() -> None:
    settings = load_settings(ROOT / "config" / "sandbox.toml")
    assert {"local", "withoutbg", "backgrounderase", "backgroundcut"} <= set(
        settings.enabled_providers()
    )


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"server": {"prot": 1}}, "server"),
        ({"server": {"port": "eighty"}}, "server.port"),
        ({"server": {"port": 0}}, "server.port"),
        ({"routing": {"policy": "random"}}, "routing.policy"),
        ({"routing": {"max_attempts": 0}}, "routing.max_attempts"),
        ({"providers": {"w": {"type": "withoutbg", "api_key": "k", "apikey": "x"}}},
         "providers.w"),
        ({"providers": {"w": {"type": "nosuchvendor"}}}, "providers.w"),
        ({"providers": {"w": {"api_key": "k"}}}, "providers.w.type"),
        ({"providers": {"w": {"type": "withoutbg", "api_key": "k", "rate_limit": "lots"}}},
         "providers.w.rate_limit"),
        ({"providers": {"w": {"type": "withoutbg", "enabled": True,
                              "api_key": "${BGW_TEST_UNSET_VAR}"}}}, "providers.w.api_key"),
        ({"providers": {"local": {"type": "local", "enabled": False}}}, "providers"),
        ({"server": {"workers": 2}}, "server.workers"),
        ({"auth": {"required": True}}, "auth.required"),
    ],
    ids=["unknown-section-key", "wrong-type", "port-range", "bad-policy", "zero-attempts",
         "unknown-provider-key", "unknown-type", "missing-type", "bad-rate", "enabled-no-key",
         "nothing-enabled", "workers-need-redis", "auth-without-clients"],
)
def test_bad_config_names_the_key(data: dict, key: str) -> None:
    data.setdefault("providers", {"local": {"type": "local"}})
    with pytest.raises(SettingsError) as caught:
        parse_settings(data)
    assert f"`{key}" in str(caught.value)


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[server\nport = 1")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(broken)


def test_config_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "g.toml"
    path.write_text('[server]\nport = 9999\n[providers.local]\ntype = "local"\n')
    monkeypatch.setenv("BG_GATEWAY_CONFIG", str(path))
    assert load_settings().server.port == 9999
