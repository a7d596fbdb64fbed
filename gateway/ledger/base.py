"""The usage ledger's records and protocol: one durable record per served image.

Backends: `SqliteLedger` (single node, `gateway.ledger.sqlite`) and `RedisLedger` (several
instances, `gateway.ledger.redis`); `open_ledger` (`gateway.ledger.opener`) builds the configured
one. Time ranges are half-open: `start <= timestamp < end`; None means unbounded.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import msgspec


class UsageRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One served image."""

    request_id: str
    client: str
    provider: str
    cost: float
    emulated: tuple[str, ...] = ()
    cache_hit: bool = False
    timestamp: float
    """Unix time (seconds) the answer was served."""


class UsageRow(msgspec.Struct, frozen=True, kw_only=True):
    """Usage of one client with one provider over a time range."""

    client: str
    provider: str
    images: int
    cost: float
    cache_hits: int


@runtime_checkable
class UsageLedger(Protocol):
    """Durable store of usage records."""

    async def record(self, rec: UsageRecord) -> None:
        """Store one record (idempotent per request id where the backend can tell)."""
        ...

    async def summarize(
        self, client: str | None, start: float | None, end: float | None
    ) -> list[UsageRow]:
        """Sum records in `[start, end)` by client and provider, sorted by both."""
        ...

    async def aclose(self) -> None:
        """Release the connection."""
        ...

    @property
    def partial(self) -> bool:
        """True while summaries may miss records (Redis lost: other instances' are out of sight)."""
        ...
