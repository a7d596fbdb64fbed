"""Gateway client keys, per-client rate limits and monthly quotas.

Config keeps only `key_sha256`; a presented key (`X-API-Key` or `Authorization: Bearer`) is
hashed and compared in constant time against every client. The presented key is never logged,
stored or put in an error message.

Rate-limit windows and quota counters live in the shared state backend (`gateway.state`), which
serves from per-process state while Redis is lost: a lost Redis never turns a request into an error.
"""

from __future__ import annotations

import hmac
import math
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Protocol

import msgspec
import structlog
from limits import RateLimitItem, parse
from limits.util import WindowStats

from gateway.errors import QuotaExceeded, RateLimited, Unauthorized
from gateway.keys import hash_client_key
from gateway.settings import AuthSettings, ClientSettings

_MONTH_SLACK_S = 2 * 86400.0
log = structlog.get_logger("gateway.auth")
#: Who the request being handled comes from, for its log line: a client name, `anonymous`,
#: `invalid_key` or `missing_key` (set by `ClientAuth.identify`, read by the request middleware).
current_client: ContextVar[str] = ContextVar("current_client", default="anonymous")


class Client(msgspec.Struct, frozen=True):
    """An identified gateway client."""

    name: str
    settings: ClientSettings


class QuotaCounter(Protocol):
    """Shared counters for quotas (the lead adapts the state backend to this)."""

    async def incr(self, key: str, amount: float, ttl_s: float) -> float:
        """Add `amount` to `key` (created with a `ttl_s` lifetime) and return the new value."""
        ...

    async def get(self, key: str) -> float:
        """Current value of `key`, 0 when absent or expired."""
        ...


class MemoryQuotaCounter:
    """In-process QuotaCounter (one instance, tests)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._values: dict[str, tuple[float, float]] = {}

    async def incr(self, key: str, amount: float, ttl_s: float) -> float:
        """Add `amount`; the expiry is set when the key is created."""
        now = self._clock()
        value, expires = self._values.get(key, (0.0, 0.0))
        if expires <= now:
            value, expires = 0.0, now + ttl_s
        self._values[key] = (value + amount, expires)
        return value + amount

    async def get(self, key: str) -> float:
        """Current value, 0 when absent or expired."""
        value, expires = self._values.get(key, (0.0, 0.0))
        return value if expires > self._clock() else 0.0


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The client key from `X-API-Key` (any case) or `Authorization: Bearer`, else None."""
    api_key: str | None = None
    bearer: str | None = None
    for name, value in headers.items():
        lowered = name.lower()
        if lowered == "x-api-key" and api_key is None:
            api_key = value.strip()
        elif lowered == "authorization" and bearer is None:
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() == "bearer":
                bearer = token.strip()
    return api_key if api_key is not None else bearer


class RateWindows(Protocol):
    """Moving-window rate limits (the state backend is one)."""

    async def rate_hit(self, limit: RateLimitItem, key: str) -> bool:
        """Consume one unit of `limit` for `key`; False when none is left."""
        ...

    async def rate_window(self, limit: RateLimitItem, key: str) -> WindowStats:
        """Remaining units of `limit` for `key` and when the window resets (epoch seconds)."""
        ...


class ClientAuth:
    """Identifies clients by key and enforces their rate limit, quota and provider allow-list."""

    def __init__(
        self,
        auth: AuthSettings,
        clients: Mapping[str, ClientSettings],
        windows: RateWindows,
        counters: QuotaCounter,
        *,
        key_prefix: str = "bg-gateway:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if auth.required and not clients:
            raise ValueError("config key `auth.required`: true but no [clients.NAME] is configured")
        if clients and not auth.required:
            log.warning(
                "auth_not_required", clients=len(clients),
                detail="requests without a client key are served anonymously, outside every "
                "client's rate limit and quota; set [auth] required = true to refuse them",
            )
        self._auth = auth
        self._clients = {name: Client(name, settings) for name, settings in clients.items()}
        self._digests = [
            (name, settings.key_sha256.lower().encode("ascii"))
            for name, settings in clients.items()
        ]
        self._rates: dict[str, RateLimitItem] = {
            name: parse(settings.rate_limit)
            for name, settings in clients.items()
            if settings.rate_limit
        }
        self._windows = windows
        self._counters = counters
        self._prefix = key_prefix
        self._clock = clock

    def identify(self, headers: Mapping[str, str]) -> Client | None:
        """The client whose key is presented; None for anonymous; Unauthorized when refused."""
        if not self._clients:
            return None
        key = presented_key(headers)
        if key is None:
            if self._auth.required:
                current_client.set("missing_key")
                raise Unauthorized(
                    "a client key is required: send X-API-Key or Authorization: Bearer"
                )
            return None
        digest = hash_client_key(key).encode("ascii")
        found: str | None = None
        for name, expected in self._digests:
            # Compare against every client, no early exit: timing says nothing about the key.
            if hmac.compare_digest(digest, expected) and found is None:
                found = name
        if found is None:
            current_client.set("invalid_key")
            raise Unauthorized("the client key is not valid")
        current_client.set(found)
        return self._clients[found]

    async def admit(self, client: Client | None) -> dict[str, str]:
        """Check quota and rate limit; return the RateLimit-* headers for the answer."""
        if client is None:
            return {}
        await self._check_quota(client)
        item = self._rates.get(client.name)
        if item is None:
            return {}
        window = f"client:{client.name}"
        accepted = await self._windows.rate_hit(item, window)
        stats = await self._windows.rate_window(item, window)
        reset = max(0, math.ceil(stats.reset_time - time.time()))
        headers = {
            "RateLimit-Limit": str(item.amount),
            "RateLimit-Remaining": str(max(0, stats.remaining)),
            "RateLimit-Reset": str(reset),
            "RateLimit-Policy": f"{item.amount};w={item.get_expiry()}",
        }
        if not accepted:
            retry_after = max(1, reset)
            raise RateLimited(
                f"client {client.name!r} is over its rate limit of {client.settings.rate_limit}",
                retry_after=retry_after,
                headers={**headers, "Retry-After": str(retry_after)},
            )
        return headers

    async def charge(self, client: Client | None) -> None:
        """Count one served image against the client's monthly quota (after success only)."""
        if client is None or client.settings.monthly_quota is None:
            return
        month, seconds_left = self._month()
        await self._counters.incr(
            self._quota_key(client, month), 1, seconds_left + _MONTH_SLACK_S
        )

    async def used_this_month(self, client: Client) -> int:
        """Images charged to `client` this calendar month (UTC)."""
        month, _ = self._month()
        return int(await self._counters.get(self._quota_key(client, month)))

    def allowed(self, client: Client | None, provider_name: str) -> bool:
        """May `client` use `provider_name`? Anonymous clients and clients without a list may."""
        if client is None or client.settings.allowed_providers is None:
            return True
        return provider_name in client.settings.allowed_providers

    async def _check_quota(self, client: Client) -> None:
        quota = client.settings.monthly_quota
        if quota is None:
            return
        month, seconds_left = self._month()
        used = await self._counters.get(self._quota_key(client, month))
        if used >= quota:
            retry_after = max(1, math.ceil(seconds_left))
            raise QuotaExceeded(
                f"client {client.name!r} has used its monthly quota of {quota} images",
                retry_after=retry_after,
                headers={"Retry-After": str(retry_after)},
            )

    def _quota_key(self, client: Client, month: str) -> str:
        return f"{self._prefix}quota:{client.name}:{month}"

    def _month(self) -> tuple[str, float]:
        """Current calendar month (UTC) as `YYYY-MM` and the seconds until it ends."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
        next_month = datetime(year, month, 1, tzinfo=UTC)
        return f"{now.year:04d}-{now.month:02d}", (next_month - now).total_seconds()
