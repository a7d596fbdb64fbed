"""Degrade, never fail: run a Redis call, or its per-process stand-in while Redis is lost.

Every Redis user (shared state, result cache, ledger) holds one `RedisGuard`. The first failure
switches that backend to the local stand-in; while lost, Redis is tried again at most every
`retry_interval_s` by one call at a time (that call pays for the probe, e.g. a connect timeout
when Redis's host is unreachable; every other call stays local); the first success runs the
backend's `on_recover` hook (e.g. the ledger writes the records it buffered meanwhile).

Backends on the same Redis share one `OutageLog` (`share_outage_log`): one outage is one
`redis_lost` line (when the first backend loses it) and one `redis_recovered` line (when the
last one has it back), however many backends noticed.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from redis.exceptions import RedisError

T = TypeVar("T")
log = structlog.get_logger("gateway.state")
#: What a lost Redis raises: redis-py's errors, or the socket's own.
REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError)


class OutageLog:
    """The `redis_lost` / `redis_recovered` lines of one Redis server, once per outage."""

    def __init__(self) -> None:
        """No outage yet."""
        self._lost: set[str] = set()
        self._noticed: list[str] = []
        """Every backend that lost Redis during this outage, first one first."""

    def lost(self, guard: RedisGuard, exc: BaseException) -> None:
        """`guard`'s backend lost Redis; the first one of an outage logs it."""
        if not self._lost:
            log.error("redis_lost", backend=guard.backend, url=guard.where,
                      error=type(exc).__name__, fallback="per-process")
        self._lost.add(guard.backend)
        if guard.backend not in self._noticed:
            self._noticed.append(guard.backend)

    def recovered(self, guard: RedisGuard) -> None:
        """`guard`'s backend has Redis back; the last one of an outage logs it."""
        self._lost.discard(guard.backend)
        if not self._lost and self._noticed:
            log.warning("redis_recovered", backend=self._noticed[0], backends=self._noticed,
                        url=guard.where)
            self._noticed = []


class RedisGuard:
    """Tracks whether one backend's Redis is lost; routes each call to Redis or its stand-in."""

    def __init__(
        self, backend: str, where: str, ping: Callable[[], Awaitable[object]],
        retry_interval_s: float = 2.0,
    ) -> None:
        """`backend` names the user in logs (`state`, `cache`, `ledger`); `where` a redacted URL."""
        self.backend = backend
        self.where = where
        self.retry_interval_s = retry_interval_s
        self._ping = ping
        self.outages = OutageLog()
        self.on_recover: Callable[[], Awaitable[None]] | None = None
        self._lost = False
        self._next_try = 0.0
        self._probing = False

    @property
    def lost(self) -> bool:
        """True while Redis is unreachable and the stand-in serves."""
        return self._lost

    def failed(self, exc: BaseException) -> None:
        """Record a failed Redis call (logged once per outage)."""
        if not self._lost:
            self._lost = True
            self.outages.lost(self, exc)
        self._next_try = time.monotonic() + self.retry_interval_s

    async def succeeded(self) -> None:
        """Record a successful Redis call (recovery logged once, then `on_recover`)."""
        if self._lost:
            self._lost = False
            self.outages.recovered(self)
            if self.on_recover is not None:
                await self.on_recover()

    async def run(
        self, remote: Callable[[], Awaitable[T]], local: Callable[[], Awaitable[T]]
    ) -> T:
        """`remote()` on Redis, or `local()` while Redis is lost (or when this call loses it)."""
        if not self._lost:
            try:
                result = await remote()
            except REDIS_ERRORS as exc:
                self.failed(exc)
                return await local()
            return result
        if self._probing or time.monotonic() < self._next_try:
            return await local()
        self._probing = True
        try:
            result = await remote()
        except REDIS_ERRORS as exc:
            self.failed(exc)
            return await local()
        finally:
            self._probing = False
        await self.succeeded()
        return result

    async def probe(self) -> bool:
        """Ping Redis now (readiness checks); a success ends an outage. True when reachable."""
        try:
            await self._ping()
        except REDIS_ERRORS as exc:
            if self._lost:
                self._next_try = time.monotonic() + self.retry_interval_s
            else:
                self.failed(exc)
            return False
        await self.succeeded()
        return True


async def probe_all(*users: object) -> dict[str, bool]:
    """{backend: reachable} for each of `users` that runs on Redis (has a `guard`)."""
    found: dict[str, bool] = {}
    for user in users:
        guard = getattr(user, "guard", None)
        if isinstance(guard, RedisGuard):
            found[guard.backend] = await guard.probe()
    return found


def share_outage_log(*users: object) -> None:
    """Give the guards of `users` that run on the same Redis one `OutageLog`."""
    shared: dict[str, OutageLog] = {}
    for user in users:
        guard = getattr(user, "guard", None)
        if isinstance(guard, RedisGuard):
            guard.outages = shared.setdefault(guard.where, guard.outages)
