"""In-process state: one gateway instance, or the fallback while Redis is lost."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.util import WindowStats

from gateway.state.base import Cooldown, HealthReads, SpendAdd

#: How long a circuit stays flagged (open/half-open) when no trial ever closes it.
CIRCUIT_TTL_S = 24 * 3600.0


class _Expiring:
    """A value with an optional monotonic expiry."""

    __slots__ = ("until", "value")

    def __init__(self, value: float | str, until: float | None) -> None:
        self.value = value
        self.until = until

    def alive(self, now: float) -> bool:
        return self.until is None or now < self.until


class MemoryState:
    """StateBackend kept in this process (no awaits inside an operation, so each is atomic)."""

    def __init__(self) -> None:
        self._cooldowns: dict[str, tuple[float, str]] = {}
        self._failures: dict[str, deque[float]] = {}
        self._circuits: dict[str, float] = {}
        self._trials: dict[str, float] = {}
        self._latency: dict[str, float] = {}
        self._values: dict[str, _Expiring] = {}
        self._storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self._storage)

    @property
    def limits_storage(self) -> Storage:
        """The `limits` in-memory storage."""
        return self._storage

    async def ping(self) -> bool:
        """Always reachable."""
        return True

    async def aclose(self) -> None:
        """Nothing to release."""

    async def set_cooldown(self, name: str, seconds: float, reason: str) -> None:
        """Cool `name` down for `seconds` unless a longer cooldown is already set."""
        until = time.monotonic() + seconds
        current = self._cooldowns.get(name)
        if current is None or current[0] < until:
            self._cooldowns[name] = (until, reason)

    async def get_cooldowns(self, names: Sequence[str]) -> dict[str, Cooldown]:
        """Active cooldowns among `names`."""
        now = time.monotonic()
        found = {}
        for name in names:
            entry = self._cooldowns.get(name)
            if entry is not None and entry[0] > now:
                found[name] = Cooldown(remaining_s=entry[0] - now, reason=entry[1])
        return found

    async def read_health(self, names: Sequence[str]) -> HealthReads:
        """Cooldowns, open circuits and latencies of `names`."""
        return HealthReads(await self.get_cooldowns(names), await self.get_open_circuits(names),
                           await self.get_latencies(names))

    async def record_served(
        self, name: str, sample_ms: float, alpha: float, spend: SpendAdd | None
    ) -> None:
        """Latency EWMA, and spend when given."""
        await self.update_latency(name, sample_ms, alpha)
        if spend is not None:
            await self.add_spend(name, spend.period, spend.amount, spend.ttl_s)

    async def add_failure(self, name: str, window_s: float) -> int:
        """Record one failure; return the count within `window_s`."""
        now = time.monotonic()
        times = self._failures.setdefault(name, deque())
        times.append(now)
        while times and times[0] <= now - window_s:
            times.popleft()
        return len(times)

    async def reset_failures(self, name: str) -> None:
        """Forget the failures of `name`."""
        self._failures.pop(name, None)

    async def open_circuit(self, name: str, cooldown_s: float) -> None:
        """Flag the circuit open, drop any trial claim and cool the provider down."""
        self._circuits[name] = time.monotonic() + CIRCUIT_TTL_S
        self._trials.pop(name, None)
        await self.set_cooldown(name, cooldown_s, "circuit_open")

    async def get_open_circuits(self, names: Sequence[str]) -> set[str]:
        """Names whose circuit is not closed."""
        now = time.monotonic()
        return {n for n in names if self._circuits.get(n, 0.0) > now}

    async def claim_trial(self, name: str, ttl_s: float) -> bool:
        """Claim the half-open trial for `ttl_s`."""
        now = time.monotonic()
        if self._trials.get(name, 0.0) > now:
            return False
        self._trials[name] = now + ttl_s
        return True

    async def release_trial(self, name: str) -> None:
        """Give the trial claim back."""
        self._trials.pop(name, None)

    async def close_circuit(self, name: str) -> None:
        """Close the circuit and forget failures and the trial claim."""
        self._circuits.pop(name, None)
        self._trials.pop(name, None)
        self._failures.pop(name, None)

    async def update_latency(self, name: str, sample_ms: float, alpha: float) -> float:
        """Fold `sample_ms` into the EWMA."""
        old = self._latency.get(name)
        value = sample_ms if old is None else alpha * sample_ms + (1 - alpha) * old
        self._latency[name] = value
        return value

    async def get_latencies(self, names: Sequence[str]) -> dict[str, float]:
        """Latency EWMAs of the tried names."""
        return {n: self._latency[n] for n in names if n in self._latency}

    def _live(self, key: str) -> _Expiring | None:
        entry = self._values.get(key)
        if entry is not None and not entry.alive(time.monotonic()):
            del self._values[key]
            return None
        return entry

    def _add(self, key: str, amount: float, ttl_s: float | None) -> float:
        entry = self._live(key)
        if entry is None:
            until = None if ttl_s is None else time.monotonic() + ttl_s
            entry = self._values[key] = _Expiring(0.0, until)
        entry.value = float(entry.value) + amount
        return entry.value

    async def add_spend(self, name: str, period: str, amount: float, ttl_s: float) -> float:
        """Add to the spend of `name` in `period`."""
        return self._add(f"spend:{period}:{name}", amount, ttl_s)

    async def get_spend(self, name: str, period: str) -> float:
        """Spend of `name` in `period`."""
        entry = self._live(f"spend:{period}:{name}")
        return 0.0 if entry is None else float(entry.value)

    async def incr(self, key: str, amount: int = 1, ttl_s: float | None = None) -> int:
        """Add to a generic counter."""
        return int(self._add(f"counter:{key}", amount, ttl_s))

    async def get_counter(self, key: str) -> int:
        """A generic counter's value."""
        entry = self._live(f"counter:{key}")
        return 0 if entry is None else int(entry.value)

    async def rate_hit(self, limit: RateLimitItem, key: str) -> bool:
        """Consume one unit of `limit` for `key`."""
        return await self._limiter.hit(limit, key)

    async def rate_window(self, limit: RateLimitItem, key: str) -> WindowStats:
        """Remaining units of `limit` for `key`."""
        return await self._limiter.get_window_stats(limit, key)
