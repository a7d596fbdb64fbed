"""Every `*Settings` struct: typed config sections (a leaf: imports nothing from `gateway`)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from limits import parse

from providers.configs import AnyProviderConfig

Sha256Hex = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F]{64}$")]


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Base of every config section: unknown keys are errors."""


class SettingsError(ValueError):
    """The configuration is invalid; the message names the key."""


class AuthSettings(_Section, frozen=True):
    """`[auth]`."""

    required: bool = False


class ClientSettings(_Section, frozen=True):
    """`[clients.NAME]`."""

    key_sha256: Sha256Hex
    rate_limit: str | None = None
    monthly_quota: Annotated[int, msgspec.Meta(ge=0)] | None = None
    allowed_providers: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        """Reject a rate limit `limits` cannot parse (msgspec reports it with the key path)."""
        if self.rate_limit is not None:
            try:
                parse(self.rate_limit)
            except ValueError:
                why = f"rate_limit {self.rate_limit!r} is not like '60/minute'"
                raise ValueError(why) from None


class CacheSettings(_Section, frozen=True):
    """`[cache]`: the result cache."""

    enabled: bool = True
    backend: Literal["memory", "file", "redis"] = "memory"
    ttl_s: int = 86400
    max_entry_bytes: int = 20_000_000
    path: str = ".cache/results"
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "bg-gateway:"


class FetchSettings(_Section, frozen=True):
    """`[fetch]`: how `image_url` is fetched."""

    allow_private: bool = False
    timeout_s: float = 10.0
    max_redirects: int = 5
    user_agent: str = "bg-gateway"


class LedgerSettings(_Section, frozen=True):
    """`[ledger]`: where usage records are kept."""

    backend: Literal["sqlite", "redis"] = "sqlite"
    path: str = ".cache/usage.sqlite3"
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "bg-gateway:"


class ConsoleSettings(_Section, frozen=True):
    """`[console]`: the web console served at `/` and `/console/`."""

    enabled: bool = True


class ExperimentSettings(_Section, frozen=True):
    """One experiment: a weighted split of live traffic between providers, plus mirrors."""

    variants: dict[str, float]
    """Provider name -> weight (e.g. `{withoutbg = 50, backgrounderase = 50}`)."""
    mirror: tuple[str, ...] = ()
    """Providers that get a copy of a sample of the traffic after the answer went out."""
    mirror_share: float = 0.1
    """Share of the experiment's successful requests copied to the mirror providers."""
    fallback: bool | None = None
    """May a failing variant fall back to another provider (None: the routing default)."""
    enabled: bool = True


class ServerSettings(_Section, frozen=True):
    """`[server]`."""

    host: str = "127.0.0.1"
    port: int = 8080
    max_upload_bytes: int = 10 * 1024 * 1024
    max_megapixels: float = 50.0
    log_format: Literal["auto", "json", "console"] = "auto"
    shutdown_grace_s: float = 30.0
    workers: int = 1
    """Worker processes; more than one needs `[state] backend = "redis"` (shared limits)."""
    pixel_budget_mp: float = 32.0
    """Megapixels of post-processing at once per process; more waits (0 = unbounded)."""


class RoutingSettings(_Section, frozen=True):
    """`[routing]`."""

    policy: Literal["priority", "cheapest", "fastest", "weighted"] = "priority"
    allow_policy_override: bool = False
    fallback: bool = True
    max_attempts: int = 3
    request_timeout_s: float = 90.0
    allowed_fails: int = 3
    fail_window_s: float = 60.0
    cooldown_s: float = 30.0
    max_cooldown_s: float = 600.0
    out_of_credits_cooldown_s: float = 3600.0
    exploration: float = 0.05
    latency_alpha: float = 0.2
    routing_key_field: str | None = None
    seed: int | None = None


class StateSettings(_Section, frozen=True):
    """`[state]`."""

    backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "bg-gateway:"


class JobsSettings(_Section, frozen=True):
    """`[jobs]`: batch jobs on the Redis queue (needs `[state] backend = "redis"`)."""

    queue_name: str = "jobs"
    """SAQ queue name, under `[state] key_prefix`."""
    workers_in_process: Annotated[int, msgspec.Meta(ge=0)] = 0
    """Queue workers `serve` runs inside the gateway process (0: only `bg-gateway worker`)."""
    worker_concurrency: Annotated[int, msgspec.Meta(ge=1)] = 8
    """Items one worker runs at once."""
    max_items: Annotated[int, msgspec.Meta(ge=1)] = 1000
    max_job_bytes: Annotated[int, msgspec.Meta(ge=1)] = 256 * 1024 * 1024
    result_store: Literal["file", "s3"] = "file"
    result_path: str = ".cache/jobs"
    result_ttl_s: Annotated[int, msgspec.Meta(ge=60)] = 86400
    s3_bucket: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_prefix: str = "bg-gateway/jobs/"
    item_attempts: Annotated[int, msgspec.Meta(ge=1)] = 3
    """Tries of an item on errors a retry may fix (provider errors, timeouts)."""
    retry_delay_s: Annotated[float, msgspec.Meta(ge=0)] = 1.0
    max_wait_s: Annotated[float, msgspec.Meta(ge=0)] = 600.0
    """How long an item may wait for rate-limit headroom in total before it fails."""
    heartbeat_s: Annotated[int, msgspec.Meta(ge=1)] = 30
    """A running item whose worker was silent this long is picked up again."""
    sweep_s: Annotated[int, msgspec.Meta(ge=1)] = 10
    """How often workers look for items of dead workers."""
    crash_retries: Annotated[int, msgspec.Meta(ge=1)] = 5
    """How often one item may be picked up again after its worker died."""
    webhook_secret: str | None = None
    webhook_attempts: Annotated[int, msgspec.Meta(ge=1)] = 8
    webhook_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    worker_metrics_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 0
    """`bg-gateway worker` serves its Prometheus metrics on this port (0: off)."""

    def __post_init__(self) -> None:
        """An S3 store needs its bucket (msgspec reports it with the key path)."""
        if self.result_store == "s3" and not self.s3_bucket:
            raise ValueError('result_store = "s3" needs s3_bucket')


class Settings(_Section, frozen=True):
    """The whole configuration."""

    server: ServerSettings = ServerSettings()
    routing: RoutingSettings = RoutingSettings()
    state: StateSettings = StateSettings()
    auth: AuthSettings = AuthSettings()
    clients: dict[str, ClientSettings] = msgspec.field(default_factory=dict)
    fetch: FetchSettings = FetchSettings()
    cache: CacheSettings = CacheSettings()
    ledger: LedgerSettings = LedgerSettings()
    jobs: JobsSettings = JobsSettings()
    console: ConsoleSettings = ConsoleSettings()
    providers: dict[str, AnyProviderConfig] = msgspec.field(default_factory=dict)
    experiments: dict[str, ExperimentSettings] = msgspec.field(default_factory=dict)
    disabled: dict[str, str] = msgspec.field(default_factory=dict)
    """Providers switched off at load time -> why (filled by the loader, not by TOML)."""

    def enabled_providers(self) -> dict[str, AnyProviderConfig]:
        """Providers to build, in config order."""
        return {n: c for n, c in self.providers.items() if n not in self.disabled}
