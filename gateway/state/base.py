"""The StateBackend protocol: the shared state routing needs, in memory or in Redis.

Every operation is atomic on its own (one Lua script or one atomic command in Redis), so several
gateway instances sharing one Redis never lose an update to a read-modify-write race.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import msgspec
from limits import RateLimitItem
from limits.aio.storage import Storage
from limits.util import WindowStats


class StateUnavailable(RuntimeError):
    """The configured state backend cannot be reached (raised at start-up)."""


class Cooldown(msgspec.Struct, frozen=True):
    """A provider taken out of selection for a while."""

    remaining_s: float
    reason: str
    """`rate_limited`, `unavailable`, `out_of_credits`, `circuit_open`, …"""


class SpendAdd(msgspec.Struct, frozen=True):
    """An amount to add to a provider's spend in a budget period."""

    period: str
    amount: float
    ttl_s: float


class HealthReads(msgspec.Struct, frozen=True):
    """Cooldowns, open circuits and latencies of some providers, read in one go."""

    cooldowns: dict[str, Cooldown]
    open_circuits: set[str]
    latencies: dict[str, float]


@runtime_checkable
class StateBackend(Protocol):
    """Cooldowns, circuit breaker, latency, spend, counters and rate-limit windows."""

    @property
    def limits_storage(self) -> Storage:
        """The `limits` async storage the rate-limit windows live in."""
        ...

    async def ping(self) -> bool:
        """True when the backend answers (Redis reachable; memory always)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...

    async def set_cooldown(self, name: str, seconds: float, reason: str) -> None:
        """Cool `name` down for `seconds`; never shortens a longer cooldown already set."""
        ...

    async def get_cooldowns(self, names: Sequence[str]) -> dict[str, Cooldown]:
        """Active cooldowns among `names` (names without one are absent)."""
        ...

    async def read_health(self, names: Sequence[str]) -> HealthReads:
        """`get_cooldowns`, `get_open_circuits` and `get_latencies` of `names` together."""
        ...

    async def record_served(
        self, name: str, sample_ms: float, alpha: float, spend: SpendAdd | None
    ) -> None:
        """`update_latency`, plus `add_spend` when `spend` is given, together."""
        ...

    async def add_failure(self, name: str, window_s: float) -> int:
        """Record one failure; return how many happened within the last `window_s`."""
        ...

    async def reset_failures(self, name: str) -> None:
        """Forget the recorded failures of `name`."""
        ...

    async def open_circuit(self, name: str, cooldown_s: float) -> None:
        """Open the circuit: cooldown for `cooldown_s`, then half-open until closed."""
        ...

    async def get_open_circuits(self, names: Sequence[str]) -> set[str]:
        """Names whose circuit is open or half-open (not closed)."""
        ...

    async def claim_trial(self, name: str, ttl_s: float) -> bool:
        """Claim the single half-open trial request; True for exactly one claimer per TTL."""
        ...

    async def release_trial(self, name: str) -> None:
        """Give the trial claim back unused (e.g. the rate limit refused the call)."""
        ...

    async def close_circuit(self, name: str) -> None:
        """Close the circuit, release the trial claim and forget the failures."""
        ...

    async def update_latency(self, name: str, sample_ms: float, alpha: float) -> float:
        """Fold one latency sample into the EWMA of `name`; return the new average."""
        ...

    async def get_latencies(self, names: Sequence[str]) -> dict[str, float]:
        """Latency EWMAs in ms among `names` (untried names are absent)."""
        ...

    async def add_spend(self, name: str, period: str, amount: float, ttl_s: float) -> float:
        """Add `amount` to the spend of `name` in `period`; return the new total."""
        ...

    async def get_spend(self, name: str, period: str) -> float:
        """Spend of `name` in `period` (0 when nothing was spent)."""
        ...

    async def incr(self, key: str, amount: int = 1, ttl_s: float | None = None) -> int:
        """Add to a generic counter (expiring `ttl_s` after its first increment); return it."""
        ...

    async def get_counter(self, key: str) -> int:
        """A generic counter's value (0 when unset)."""
        ...

    async def rate_hit(self, limit: RateLimitItem, key: str) -> bool:
        """Consume one unit of `limit` for `key` (moving window); False when none is left."""
        ...

    async def rate_window(self, limit: RateLimitItem, key: str) -> WindowStats:
        """Remaining units of `limit` for `key` and when the window resets (epoch seconds)."""
        ...
