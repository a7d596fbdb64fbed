"""Everything one running gateway owns: providers, router, state, HTTP client, service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
import structlog
from litestar import Litestar, Request

from gateway.errors import InvalidOption
from gateway.router import Router
from gateway.service import RemovalService
from gateway.settings import Settings
from gateway.state import StateBackend, open_state
from providers.base import Provider
from providers.registry import build_provider

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

    async def start(self) -> None:
        """Open state (fails loudly when unreachable), build providers and the router."""
        settings = self.settings
        for name, why in settings.disabled.items():
            log.info("provider_disabled", provider=name, reason=why)
        self.state = await open_state(settings.state)
        self.client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            follow_redirects=False,
        )
        if self._injected is not None:
            self.providers = dict(self._injected)
        else:
            self.providers = {
                name: build_provider(name, config, self.client)
                for name, config in settings.enabled_providers().items()
            }
        configs = {name: settings.providers[name] for name in self.providers
                   if name in settings.providers}
        self._router = Router(
            self.providers, configs, settings.routing, self.state, disabled=settings.disabled
        )
        self._service = RemovalService(settings, self._router)
        log.info("gateway_started", providers=sorted(self.providers),
                 state=settings.state.backend, policy=settings.routing.policy)

    async def stop(self) -> None:
        """Close providers, the HTTP client and the state backend."""
        for provider in self.providers.values():
            await provider.aclose()
        if self.client is not None:
            await self.client.aclose()
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
        raise InvalidOption(f"`image_url` is not supported yet ({len(url)} characters ignored)")

    async def readiness(self) -> dict[str, Any]:
        """`/ready` report: config, providers, state backend."""
        state_ok = self.state is not None and await self.state.ping()
        ready = bool(self.providers) and state_ok
        return {
            "ready": ready,
            "config": "loaded",
            "providers": sorted(self.providers),
            "state": {"backend": self.settings.state.backend, "reachable": state_ok},
        }


def runtime_of(request: Request) -> Runtime:
    """The Runtime stored on the app."""
    runtime: Runtime = request.app.state.runtime
    return runtime
