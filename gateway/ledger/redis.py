"""Ledger shared by several instances through Redis, buffered in process while Redis is lost.

One sorted set per client, member = the JSON record, score = its timestamp, plus a set of client
names; both written in one MULTI/EXEC. A sorted set (rather than a stream) because summaries are
ranges over the record's *own* timestamp: stream ids are server arrival times and must increase,
which clock skew between instances breaks. Per-client sets keep `?client=` queries from scanning
other clients' records.

While Redis is lost (`gateway.state.guard`) records wait in a bounded in-process buffer, are
counted in summaries made meanwhile, and are written to Redis once it answers again (a record is
its own member, so writing one twice stores it once).
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Iterable

import msgspec
import redis.asyncio as aioredis
import structlog

from gateway.ledger.base import UsageRecord, UsageRow
from gateway.state.guard import REDIS_ERRORS, RedisGuard
from gateway.state.redis import redacted_url

log = structlog.get_logger("gateway.ledger")
#: Records kept while Redis is lost (~200 bytes each); the oldest are dropped beyond it.
BUFFER_LIMIT = 100_000


def _add(totals: dict[tuple[str, str], list[float]], rec: UsageRecord) -> None:
    slot = totals.setdefault((rec.client, rec.provider), [0, 0.0, 0])
    slot[0] += 1
    slot[1] += rec.cost
    slot[2] += int(rec.cache_hit)


class RedisLedger:
    """Ledger shared by every instance through Redis (atomic writes only)."""

    def __init__(
        self, client: aioredis.Redis, key_prefix: str = "bg-gateway:", page_size: int = 5000,
        where: str = "redis",
    ) -> None:
        """Use `client` (owned: closed by `aclose`) under `key_prefix`."""
        self._redis = client
        self._page_size = page_size
        self._clients_key = f"{key_prefix}usage-clients"
        self._prefix = f"{key_prefix}usage:"
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(UsageRecord)
        self._buffer: deque[UsageRecord] = deque(maxlen=BUFFER_LIMIT)
        self.guard = RedisGuard("ledger", where, client.ping)
        self.guard.on_recover = self._flush

    @classmethod
    def from_url(cls, url: str, key_prefix: str = "bg-gateway:") -> RedisLedger:
        """Connect lazily to the Redis at `url`."""
        client = aioredis.Redis.from_url(url, socket_connect_timeout=2.0, socket_timeout=5.0)
        return cls(client, key_prefix, where=redacted_url(url))

    async def _write(self, records: Iterable[UsageRecord]) -> None:
        """Add records to their clients' sorted sets (one MULTI/EXEC)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            for rec in records:
                pipe.zadd(self._prefix + rec.client, {self._encoder.encode(rec): rec.timestamp})
                pipe.sadd(self._clients_key, rec.client)
            await pipe.execute()

    async def _keep(self, rec: UsageRecord) -> None:
        if len(self._buffer) == self._buffer.maxlen:
            log.warning("ledger_buffer_full", dropped=self._buffer[0].request_id)
        self._buffer.append(rec)

    async def _flush(self) -> None:
        """Write the records buffered during an outage (kept when Redis fails again)."""
        pending = list(self._buffer)
        if not pending:
            return
        try:
            await self._write(pending)
        except REDIS_ERRORS as exc:
            self.guard.failed(exc)
            return
        for _ in pending:
            self._buffer.popleft()
        log.info("ledger_buffer_flushed", records=len(pending))

    async def record(self, rec: UsageRecord) -> None:
        """Add the record to Redis, or to the in-process buffer while Redis is lost."""
        await self.guard.run(lambda: self._write((rec,)), lambda: self._keep(rec))

    @property
    def partial(self) -> bool:
        """True while Redis is lost: summaries hold only this process's buffered records."""
        return self.guard.lost

    async def summarize(
        self, client: str | None, start: float | None, end: float | None
    ) -> list[UsageRow]:
        """Sum records in `[start, end)` by client and provider (buffered ones included)."""
        totals: dict[tuple[str, str], list[float]] = {}
        try:
            if self.guard.lost:
                await self._redis.ping()
                await self.guard.succeeded()  # writes the buffer before it is read below
            async for rec in self._stored(client, start, end):
                _add(totals, rec)
        except REDIS_ERRORS as exc:
            self.guard.failed(exc)
            totals = {}
        for rec in self._buffer:
            if (client is None or rec.client == client) and (
                start is None or rec.timestamp >= start
            ) and (end is None or rec.timestamp < end):
                _add(totals, rec)
        return [
            UsageRow(client=c, provider=p, images=int(n), cost=cost, cache_hits=int(hits))
            for (c, p), (n, cost, hits) in sorted(totals.items())
        ]

    async def _stored(
        self, client: str | None, start: float | None, end: float | None
    ) -> AsyncIterator[UsageRecord]:
        """Every stored record of `client` (or of every client) in the range."""
        if client is not None:
            clients = [client]
        else:
            raw = await self._redis.smembers(self._clients_key)
            clients = sorted(c.decode() if isinstance(c, bytes) else str(c) for c in raw)
        low = "-inf" if start is None else repr(float(start))
        high = "+inf" if end is None else f"({float(end)!r}"
        for name in clients:
            async for rec in self._scan(self._prefix + name, low, high):
                yield rec

    async def _scan(self, key: str, low: str, high: str) -> AsyncIterator[UsageRecord]:
        """Records of one sorted set in the score range, paged by score (not by offset)."""
        skip, previous = 0, None
        while True:
            batch = await self._redis.zrangebyscore(
                key, low, high, start=skip, num=self._page_size, withscores=True
            )
            for member, _ in batch:
                yield self._decoder.decode(member)
            if len(batch) < self._page_size:
                return
            # Resume at the last score; skip the members of it already read (equal scores).
            last = batch[-1][1]
            ties = sum(1 for _, score in batch if score == last)
            skip = skip + ties if last == previous else ties
            previous, low = last, repr(last)

    async def aclose(self) -> None:
        """Close the Redis connection pool."""
        await self._redis.aclose()
