"""Typed configuration: TOML -> msgspec Structs, `${ENV}` interpolation, start-up validation."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import msgspec

from gateway.settings.sections import ExperimentSettings, Settings, SettingsError
from providers.configs import AnyProviderConfig, missing_setting

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent.parent / "config" / "gateway.toml"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _interpolate(value: Any, path: str, missing: list[str]) -> Any:
    """Replace `${VAR}` in every string; record the paths whose variable is unset."""
    if isinstance(value, dict):
        return {k: _interpolate(v, f"{path}.{k}" if path else k, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, f"{path}[{i}]", missing) for i, v in enumerate(value)]
    if isinstance(value, str):
        def replace(match: re.Match[str]) -> str:
            found = os.environ.get(match.group(1))
            if not found:
                missing.append(path)
                return ""
            return found

        return _ENV_REF.sub(replace, value)
    return value


def _convert(value: Any, type_: Any, path: str) -> Any:
    try:
        return msgspec.convert(value, type_)
    except msgspec.ValidationError as exc:
        message = str(exc)
        where = re.search(r"at `\$(.*)`$", message)
        suffix = where.group(1).lstrip(".") if where else ""
        message = re.sub(r" - at `\$.*`$", "", message)
        key = ".".join(p for p in (path, suffix) if p)
        raise SettingsError(f"config key `{key}`: {message}") from None


def parse_settings(data: dict[str, Any]) -> Settings:
    """Validate a decoded TOML document into Settings (raises SettingsError naming the key)."""
    missing: list[str] = []
    data = _interpolate(data, "", missing)
    raw_providers = data.pop("providers", {}) or {}
    if not isinstance(raw_providers, dict):
        raise SettingsError("config key `providers`: expected a table")
    providers: dict[str, AnyProviderConfig] = {}
    disabled: dict[str, str] = {}
    for name, raw in raw_providers.items():
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
            raise SettingsError(f"config key `providers.{name}`: names are lowercase a-z 0-9 _ -")
        if not isinstance(raw, dict) or "type" not in raw:
            raise SettingsError(f"config key `providers.{name}.type`: required")
        config = _convert(raw, AnyProviderConfig, f"providers.{name}")
        unset = [p for p in missing if p.startswith(f"providers.{name}.")]
        if config.enabled is False:
            disabled[name] = "enabled = false"
        elif (field := missing_setting(config)) is not None:
            what = "API key" if field == "api_key" else field
            if config.enabled:
                where = unset[0] if unset else f"providers.{name}.{field}"
                raise SettingsError(f"config key `{where}`: provider is enabled but has no {what}")
            disabled[name] = f"no {what} ({unset[0] if unset else field} is unset)"
        providers[name] = config
    settings = _convert(data, Settings, "")
    settings = msgspec.structs.replace(settings, providers=providers, disabled=disabled)
    _check(settings)
    return settings


def _check(settings: Settings) -> None:
    """Cross-field checks msgspec types cannot express."""
    from limits import parse

    checks = [
        (settings.server.max_upload_bytes > 0, "server.max_upload_bytes", "must be > 0"),
        (settings.server.max_megapixels > 0, "server.max_megapixels", "must be > 0"),
        (0 < settings.server.port < 65536, "server.port", "must be 1-65535"),
        (settings.server.workers >= 1, "server.workers", "must be >= 1"),
        (settings.server.workers == 1 or settings.state.backend == "redis", "server.workers",
         "more than one worker needs [state] backend = \"redis\" (rate limits, cooldowns)"),
        (settings.routing.max_attempts >= 1, "routing.max_attempts", "must be >= 1"),
        (settings.routing.request_timeout_s > 0, "routing.request_timeout_s", "must be > 0"),
        (0 <= settings.routing.exploration < 1, "routing.exploration", "must be in [0, 1)"),
    ]
    for ok, key, why in checks:
        if not ok:
            raise SettingsError(f"config key `{key}`: {why}")
    for name, config in settings.providers.items():
        if config.rate_limit:
            try:
                parse(config.rate_limit)
            except ValueError:
                raise SettingsError(
                    f"config key `providers.{name}.rate_limit`: not a rate like '7/minute'"
                ) from None
        if config.timeout_s <= 0:
            raise SettingsError(f"config key `providers.{name}.timeout_s`: must be > 0")
    if settings.auth.required and not settings.clients:
        raise SettingsError("config key `auth.required`: true but no [clients.NAME] is configured")
    for name, client in settings.clients.items():
        unknown = set(client.allowed_providers or ()) - set(settings.providers)
        if unknown:
            raise SettingsError(
                f"config key `clients.{name}.allowed_providers`: unknown {sorted(unknown)}"
            )
    for problem in experiment_problems(settings.experiments, settings.providers):
        raise SettingsError(problem)
    if not settings.enabled_providers():
        raise SettingsError("config key `providers`: no provider is enabled")


def load_settings(path: str | Path | None = None) -> Settings:
    """Load from `path`, else `BG_GATEWAY_CONFIG`, else the packaged `config/gateway.toml`."""
    chosen = Path(path or os.environ.get("BG_GATEWAY_CONFIG") or DEFAULT_CONFIG)
    try:
        data = tomllib.loads(chosen.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"config file {chosen} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {chosen} is not valid TOML: {exc}") from None
    return parse_settings(data)


def experiment_problems(
    experiments: Mapping[str, ExperimentSettings], providers: Collection[str]
) -> list[str]:
    """Start-up checks: one `config key …: why` message per problem (empty when valid)."""
    problems = []
    for name, experiment in experiments.items():
        where = f"config key `experiments.{name}"
        if not experiment.variants:
            problems.append(f"{where}.variants`: name at least one provider")
        for provider, weight in experiment.variants.items():
            if provider not in providers:
                problems.append(f"{where}.variants`: unknown provider {provider!r}")
            if not weight > 0:
                problems.append(f"{where}.variants.{provider}`: the weight must be > 0")
        for provider in experiment.mirror:
            if provider not in providers:
                problems.append(f"{where}.mirror`: unknown provider {provider!r}")
            if provider in experiment.variants:
                problems.append(f"{where}.mirror`: {provider!r} is also a variant")
        if not 0.0 <= experiment.mirror_share <= 1.0:
            problems.append(f"{where}.mirror_share`: must be in [0, 1]")
    return problems
