"""Everything one running gateway owns: providers, router, state, HTTP client, the removal flow."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
import structlog
from litestar import Litestar, Request

from gateway.auth import Client, ClientAuth
from gateway.cache import ResultCache, open_cache
from gateway.compare.experiments import Experiments
from gateway.fetch import fetch_image
from gateway.ledger import UsageLedger, open_ledger
from gateway.metrics import GatewayMetrics
from gateway.router import Router
from gateway.service import RemovalCall, RemovalService, Served
from gateway.settings import Settings
from gateway.state import StateBackend, open_state
from gateway.state.guard import probe_all, share_outage_log
from providers.base import Provider, SupportsCredits, SupportsHealth
from providers.errors import ProviderError
from providers.registry import build_provider
from providers.transport import VendorTransport

log = structlog.get_logger("gateway")


class Runtime:
    """Built at start-up (lifespan), closed at shutdown."""

    def __init__(self, settings: Settings, providers: Mapping[str, Provider] | None = None) -> None:
        self.settings = settings
        self._injected = providers
        self.providers: dict[str, Provider] = {}
        self.client: httpx.AsyncClient | None = None
        self.state: StateBackend | None = None
        self._router: Router | None = None
        self._service: RemovalService | None = None
        self._experiments: Experiments | None = None
        self._auth: ClientAuth | None = None
        self._ledger: UsageLedger | None = None
        self.cache: ResultCache | None = None
        self.metrics = GatewayMetrics()
        self._credits: tuple[float, dict[str, float | None]] | None = None
        self._health: tuple[float, dict[str, bool | None]] | None = None

    @property
    def router(self) -> Router:
        """The router (available once started)."""
        assert self._router is not None, "runtime not started"
        return self._router

    @property
    def service(self) -> RemovalService:
        """The removal service (available once started)."""
        assert self._service is not None, "runtime not started"
        return self._service

    @property
    def experiments(self) -> Experiments:
        """Live experiments and their mirror traffic (available once started)."""
        assert self._experiments is not None, "runtime not started"
        return self._experiments

    async def remove(self, call: RemovalCall, experiment: str | None = None) -> Served:
        """The removal flow for `call`, inside `experiment` when one is named.

        The one entry point for "validate and remove one image with these options for this
        client": routes, drop-ins and background workers call it (see `gateway.service`).
        """
        if experiment is not None:
            return await self.experiments.run(experiment, call)
        return await self.service.remove_one(call)

    @property
    def auth(self) -> ClientAuth:
        """Client authentication and limits (available once started)."""
        assert self._auth is not None, "runtime not started"
        return self._auth

    @property
    def ledger(self) -> UsageLedger:
        """The usage ledger (available once started)."""
        assert self._ledger is not None, "runtime not started"
        return self._ledger

    async def authenticate(
        self, headers: Mapping[str, str]
    ) -> tuple[Client | None, dict[str, str]]:
        """Identify the client and admit it (rate limit, quota); returns the RateLimit headers."""
        client = self.auth.identify(headers)
        return client, await self.auth.admit(client)

    async def start(self) -> None:
        """Open state (fails loudly when unreachable), build providers and the router."""
        settings = self.settings
        for name, why in settings.disabled.items():
            log.info("provider_disabled", provider=name, reason=why)
        self.state = await open_state(settings.state)
        self.client = httpx.AsyncClient(
            # Every pooled connection stays alive (reopening them under load costs more).
            transport=VendorTransport(max_connections=200),
            follow_redirects=False,
        )
        if self._injected is not None:
            self.providers = dict(self._injected)
        else:
            self.providers = {
                name: build_provider(name, config, self.client)
                for name, config in settings.enabled_providers().items()
            }
        # Every configured provider, disabled ones too: /v1/providers lists them as configured.
        configs = dict(settings.providers)
        self._router = Router(
            self.providers, configs, settings.routing, self.state, disabled=settings.disabled
        )
        self._auth = ClientAuth(settings.auth, settings.clients, self.state,
                                StateQuotaCounter(self.state), key_prefix=settings.state.key_prefix)
        self._ledger = open_ledger(settings.ledger)
        self.cache = open_cache(settings.cache) if settings.cache.enabled else None
        share_outage_log(self.state, self.cache, self._ledger)
        self._service = RemovalService(
            settings, self._router, ledger=self._ledger, auth=self._auth, metrics=self.metrics,
            cache=self.cache,
        )
        self._experiments = Experiments(settings, self._service, self.state, self.providers)
        log.info("gateway_started", providers=sorted(self.providers),
                 state=settings.state.backend, policy=settings.routing.policy)

    async def stop(self) -> None:
        """Let mirror calls finish, then close providers, the HTTP client and the state backend."""
        if self._experiments is not None:
            await self._experiments.drain(self.settings.server.shutdown_grace_s)
        for provider in self.providers.values():
            await provider.aclose()
        if self.client is not None:
            await self.client.aclose()
        if self._ledger is not None:
            await self._ledger.aclose()
        if self.cache is not None:
            await self.cache.aclose()
        if self.state is not None:
            await self.state.aclose()

    @asynccontextmanager
    async def lifespan(self, _app: Litestar) -> AsyncIterator[None]:
        """Litestar lifespan hook."""
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def fetch_url(self, url: str) -> bytes:
        """Download `image_url` safely (SSRF guards live in gateway.fetch)."""
        return await fetch_image(url, self.settings.fetch, self.settings.server.max_upload_bytes)

    async def credits(self) -> dict[str, float | None]:
        """Credits per provider that has a credits endpoint, cached for 60 s."""
        now = time.monotonic()
        if self._credits is None or now - self._credits[0] > 60:
            report: dict[str, float | None] = {}
            for name, provider in self.providers.items():
                if isinstance(provider, SupportsCredits):
                    try:
                        report[name] = await provider.credits()
                    except ProviderError as exc:
                        log.warning("credits_failed", provider=name, reason=exc.reason)
                        report[name] = None
            self._credits = (now, report)
        return self._credits[1]

    async def vendor_health(self) -> dict[str, bool | None]:
        """Health per provider with a health endpoint (2 s each, in parallel), cached for 30 s."""
        now = time.monotonic()
        if self._health is None or now - self._health[0] > 30:
            checked = {n: p for n, p in self.providers.items() if isinstance(p, SupportsHealth)}

            async def check(provider: SupportsHealth) -> bool | None:
                try:
                    return await asyncio.wait_for(provider.health(), timeout=2.0)
                except (TimeoutError, ProviderError):
                    return False

            results = await asyncio.gather(*(check(p) for p in checked.values()))
            self._health = (now, dict(zip(checked, results, strict=True)))
        return self._health[1]

    async def readiness(self) -> dict[str, Any]:
        """`/ready` report: config, providers, state backend.

        Redis lost while running leaves the gateway ready but `degraded` (it serves on
        per-process state): pulling every instance out of a load balancer would be worse.
        """
        started = self.state is not None
        # {state|cache|ledger: reachable} for those on Redis; a probe also ends an outage.
        redis = await probe_all(self.state, self.cache, self._ledger) if started else {}
        state_ok = started and redis.get("state", True)
        return {
            "ready": started and bool(self.providers),
            "degraded": started and not all(redis.values()),
            "config": "loaded",
            "providers": sorted(self.providers),
            "state": {"backend": self.settings.state.backend, "reachable": state_ok},
            "redis": redis,
        }


def runtime_of(request: Request) -> Runtime:
    """The Runtime stored on the app."""
    runtime: Runtime = request.app.state.runtime
    return runtime


class StateQuotaCounter:
    """Adapts the shared state backend's counters to the client-quota protocol."""

    def __init__(self, state: StateBackend) -> None:
        self._state = state

    async def incr(self, key: str, amount: float, ttl_s: float) -> float:
        """Add `amount` (whole images) to `key`, expiring after `ttl_s`."""
        return float(await self._state.incr(key, int(amount), ttl_s))

    async def get(self, key: str) -> float:
        """Current value of `key`."""
        return float(await self._state.get_counter(key))
